"""Interface text in the participants' languages: gettext catalogues (Babel).

The catalogues are the ``.po`` sources in ``locale/<lang>/LC_MESSAGES/remit.po``: they are
compiled in memory the first time a language is asked for (:func:`translations`), so a fresh
``pip install -e .`` (or a wheel, which ships the ``.po`` files) needs no build step. English
is the source language: its catalogue is empty and the messages are the text itself.

Only Remit's own interface text is translated here. The item texts of a scale come from its
definition; where a definition has no Norwegian text, pages show the English text and mark it
(translations of licensed instruments are never made up here).

Examples
--------
>>> translations("nb").gettext("Submit")
'Send inn'
>>> translations("en").gettext("Submit")
'Submit'
>>> sorted(LANGUAGES)
['en', 'nb']
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from remit.errors import InputError

#: The interface languages and their names in their own language.
LANGUAGES: dict[str, str] = {"nb": "Norsk bokmål", "en": "English"}
#: The gettext domain of the catalogues.
DOMAIN = "remit"
_LOCALE = Path(__file__).parent / "locale"


def check_language(language: str) -> str:
    """``language`` if it is an interface language, else :class:`InputError`."""
    if language not in LANGUAGES:
        raise InputError(
            f"language {language!r} is not an interface language of Remit",
            expected="one of " + ", ".join(sorted(LANGUAGES)),
            hint="nb for Norwegian (bokmål), en for English",
        )
    return language


def catalogue_path(language: str) -> Path:
    """The ``.po`` source of ``language``'s catalogue."""
    return _LOCALE / check_language(language) / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    """The compiled catalogue of ``language`` (compiled from its ``.po`` once per process)."""
    path = catalogue_path(language)
    with path.open("rb") as source:
        catalogue = read_po(source, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)
