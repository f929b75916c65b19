"""docs/web.md shows the access matrix and the route guards as the code has them."""

from __future__ import annotations

import re
from pathlib import Path

from remit.web.access_doc import access_markdown, routes_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "web.md"


def _section(text: str, name: str) -> str:
    found = re.search(rf"<!-- {name}: [^>]*-->\n(.*?)\n<!-- /{name} -->", text, re.S)
    assert found, f"docs/web.md has no {name} section"
    return found.group(1)


def test_docs_show_the_current_access_matrix_and_routes() -> None:
    text = DOC.read_text("utf-8")
    assert _section(text, "access-matrix") == access_markdown(), (
        "regenerate the matrix in docs/web.md from remit.web.access_doc.access_markdown()"
    )
    assert _section(text, "routes") == routes_markdown(), (
        "regenerate the routes in docs/web.md from remit.web.access_doc.routes_markdown()"
    )
