"""Issue 13 part 4: a built report or export holds what its builder may see, and a user bound
to another site never reads it (before: one shared folder; after a study-wide statistician built
them, site-bound users saw the other site's participants in 4/4 report views and 2/2 export
downloads). Also: the signature page of another site's record is refused (it showed the signer).
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.support.presets import two_site_protocol
from tests.support.trial import PASSWORD, stage, trial_file
from tests.support.web import csrf_of, page_login

from remit.web import WebSettings, create_app


@pytest.fixture(scope="module")
def two_site_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("two") / "two.db"
    made = trial_file(
        path,
        protocol=two_site_protocol(),
        sites=None,
        staff={  # the study-wide staff (first of each role) enter the two sites' data
            "ivar": [("investigator", None)],
            "tor": [("therapist", None)],
            "rita": [("independent_rater", None)],
            "mona": [("monitor", None)],
            "kari": [("investigator", "OST")],
            "olav": [("investigator", "OUS")],
            "siri": [("statistician", None)],
            "dina": [("data_manager", "OUS")],
        },
        participants=[stage("dosed", site="OST"), stage("dosed", site="OUS")],
    )
    assert made.participants == ("OSL-001", "OSL-002")  # OSL-001 at OST, OSL-002 at OUS
    return path


@pytest.fixture
def client_of(two_site_db: Path, tmp_path: Path) -> Callable[[str], TestClient]:
    app = create_app(str(two_site_db), settings=WebSettings(work_dir=tmp_path / "work"))

    def login(username: str) -> TestClient:
        client = TestClient(app, follow_redirects=True)
        assert page_login(client, username).status_code == 200
        return client

    return login


def _export(client: TestClient) -> tuple[str, bytes]:
    page = client.get("/exports")
    done = client.post("/exports", data={"csrf_token": csrf_of(page.text), "format_csv": "1"})
    assert done.status_code == 200, done.text
    name = re.findall(r'href="/exports/(export-[^"]+\.zip)"', done.text)[0]
    download = client.get(f"/exports/{name}")
    assert download.status_code == 200
    return name, download.content


def _participants_in(archive: bytes) -> set[str]:
    found: set[str] = set()
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        for member in z.namelist():
            found |= set(re.findall(r"OSL-00\d", z.read(member).decode("utf-8", "replace")))
    return found


def test_a_site_user_never_sees_what_a_study_wide_user_built(
    client_of: Callable[[str], TestClient], tmp_path: Path
) -> None:
    siri = client_of("siri")
    built = siri.post("/report", data={"csrf_token": csrf_of(siri.get("/report").text)})
    assert built.status_code == 200, built.text
    assert siri.get("/report/view").status_code == 200
    siri_export, archive = _export(siri)
    assert _participants_in(archive) == {"OSL-001", "OSL-002"}

    olav = client_of("olav")
    assert "has not been built yet" in olav.get("/report").text
    assert olav.get("/report/view").status_code == 404
    dina = client_of("dina")
    assert siri_export not in dina.get("/exports").text
    assert dina.get(f"/exports/{siri_export}").status_code == 404

    # their own builds hold their own site only
    rebuilt = olav.post("/report", data={"csrf_token": csrf_of(olav.get("/report").text)})
    assert rebuilt.status_code == 200, rebuilt.text
    olav_view = olav.get("/report/view").text
    siri_view = siri.get("/report/view").text
    assert olav_view != siri_view  # siri's (both sites) was not overwritten by olav's
    assert "OSL-001" not in olav_view
    dina_export, dina_archive = _export(dina)
    assert _participants_in(dina_archive) == {"OSL-002"}
    listed = siri.get("/exports").text
    assert siri_export in listed
    assert dina_export not in listed  # each scope lists its own folder only
    # each scope's folder is readable by the server's user only
    for folder in (tmp_path / "work").iterdir():
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_the_signature_page_of_another_sites_record_is_refused(
    client_of: Callable[[str], TestClient],
) -> None:
    kari = client_of("kari")
    olav = client_of("olav")
    token = kari.post("/api/v1/auth/login", json={"username": "kari", "password": PASSWORD})
    listed = kari.get(
        "/api/v1/participants/OSL-001/assessments",
        headers={"Authorization": f"Bearer {token.json()['token']}"},
    ).json()
    ids = [a["id"] for a in listed]
    assert ids, "OSL-001 has stored forms"
    own = kari.get(f"/sign/assessment/{ids[0]}")
    assert own.status_code == 200
    signed = kari.post(
        f"/sign/assessment/{ids[0]}",
        data={"csrf_token": csrf_of(own.text), "password": PASSWORD, "meaning": "approved"},
    )
    assert signed.status_code == 200, signed.text
    assert "kari" in kari.get(f"/sign/assessment/{ids[0]}").text
    other = olav.get(f"/sign/assessment/{ids[0]}")
    assert other.status_code == 403
    token_page = olav.get("/participants/OSL-002")
    for password in (PASSWORD, "not the password"):
        tried = olav.post(
            f"/sign/assessment/{ids[0]}",
            data={"csrf_token": csrf_of(token_page.text), "password": password,
                  "meaning": "approved"},
        )  # fmt: skip
        assert tried.status_code == 403, (password, tried.status_code)
        assert "kari" not in tried.text
    for shown in (other.text,):
        assert "kari" not in shown  # the signer of another site's record is not shown
