"""One export builds what its SDTM and ADaM datasets (and the CSV analysis files) share once:
the QS/RS records ADQS traces back to and the analysis datasets ADSL and ADQS come from."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from remit.interop import adam, export_trial
from remit.interop.sdtm import findings


def test_an_export_builds_the_shared_records_once(
    trial_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: Counter[str] = Counter()

    def counted(name: str, build: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            built[name] += 1
            return build(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        findings,
        "build_findings_about_scales",
        counted("findings", findings.build_findings_about_scales),
    )
    monkeypatch.setattr(adam, "build_adqs", counted("adqs", adam.build_adqs))
    monkeypatch.setattr(adam, "build_adsl", counted("adsl", adam.build_adsl))
    export_trial(trial_engine, tmp_path, formats=["csv", "sdtm", "adam"])
    assert built == {"findings": 1, "adqs": 1, "adsl": 1}  # QS only: no RS in this export
    assert (tmp_path / "adam" / "adqs.xpt").exists()
    assert (tmp_path / "csv" / "analysis_adqs.csv").exists()
