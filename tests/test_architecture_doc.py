"""docs/architecture.md names the file that declares each family and vocabulary: they exist."""

from __future__ import annotations

import re

from tests.support.paths import ROOT

DOC = ROOT / "docs" / "architecture.md"


def test_every_declaring_file_named_in_the_architecture_doc_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:src/)?remit/[\w/]+\.py|tests/[\w/]+\.py)", text))
    assert len(named) > 20, "the architecture doc should name the declaring files"
    missing = []
    for name in sorted(named):
        path = ROOT / name if name.startswith(("src/", "tests/")) else ROOT / "src" / name
        if not path.exists():
            missing.append(name)
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


def test_each_family_has_a_how_to_recipe() -> None:
    text = DOC.read_text(encoding="utf-8")
    for kind in (
        "a vital sign",
        "an endpoint kind",
        "an analysis kind",
        "an export format",
        "a report figure or table",
        "a safety rule on a scale",
    ):
        assert f"### … {kind}" in text, f"docs/architecture.md has no recipe for adding {kind}"
