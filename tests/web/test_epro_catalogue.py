"""The nb catalogue translates every message the participant pages and the reminder e-mail
use (an untranslated message would show in English on a Norwegian page), and the en catalogue
is the source language (no message translated to something else)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

import remit.services.epro
import remit.web
from remit.i18n import LANGUAGES, catalogue_path

WEB = Path(remit.web.__file__).parent
SOURCES = [
    *sorted((WEB / "templates").glob("epro_*.html")),
    WEB / "pages_epro.py",
    Path(remit.services.epro.__file__),
]
MESSAGE = re.compile(r"""(?:\b_|gettext)\(\s*"((?:[^"\\]|\\.)+)"\s*[,)]""")


def _used() -> set[str]:
    found: set[str] = set()
    for path in SOURCES:
        found.update(MESSAGE.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_message_has_a_norwegian_translation() -> None:
    used = _used()
    assert {"Submit", "Questionnaires", "Thank you", "This link has expired."} <= used
    with catalogue_path("nb").open("rb") as source:
        nb = read_po(source, locale="nb")
    missing = sorted(m for m in used if not (nb.get(m) and nb.get(m).string))
    assert missing == [], f"add these to the nb catalogue: {missing}"


def test_the_english_catalogue_is_the_source() -> None:
    for language in LANGUAGES:
        with catalogue_path(language).open("rb") as source:
            read_po(source, locale=language)  # parses
    with catalogue_path("en").open("rb") as source:
        en = read_po(source, locale="en")
    assert all(not m.string for m in en if m.id)
