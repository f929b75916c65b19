"""Reading scale definitions: shipped ones by code, files of one's own, licensed wording.

A file is read in three steps: TOML, its shape (:mod:`remit.scales.schema`, pydantic) and its
consistency (:mod:`remit.scales.build`). Every problem found is reported at once with a code
(``S001`` …, listed in ``docs/scales.md``) and the line it is on.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import tomllib
from collections.abc import Hashable, Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from remit.errors import NotFoundError, Problem, ScaleDefinitionError, ScaleError
from remit.scales.build import build_definition
from remit.scales.model import ScaleDefinition, total_parts
from remit.scales.schema import read_scale_file

#: The environment variable naming the user scale directories (``os.pathsep``-separated).
SCALES_PATH_ENV = "REMIT_SCALES_PATH"

__all__ = [
    "SCALES_PATH_ENV",
    "apply_wording",
    "builtin_scales",
    "check_scale",
    "check_scale_text",
    "list_scales",
    "load_scale",
    "load_scale_file",
    "load_wording",
    "parse_scale",
    "scale_source",
    "total_parts",
    "trial_scales",
    "use_trial_scales",
    "user_scale_dirs",
]


def check_scale_text(text: str, source: str = "<string>") -> list[Problem]:
    """Every problem of scale definition text (empty when it is sound).

    Examples
    --------
    >>> [p.code for p in check_scale_text('code = "x"\\n')]
    ['S003', 'S003', 'S003', 'S003', 'S003', 'S003']
    """
    return _parse(text, source)[1]


def _parse(text: str, source: str) -> tuple[ScaleDefinition | None, list[Problem]]:
    model, _, problems = read_scale_file(text)
    if model is None:
        return None, problems
    return build_definition(model, text)


def check_scale(source: str | Path) -> list[Problem]:
    """Every problem of a scale file, or of a shipped or user scale given by its code.

    Raises
    ------
    NotFoundError
        If ``source`` is neither a file nor a known scale.

    Examples
    --------
    >>> check_scale("madrs")
    []
    """
    path = Path(source)
    if path.is_file():
        return check_scale_text(path.read_text(encoding="utf-8"), path.name)
    files = _all_definitions()
    code = str(source).strip().lower()
    if code in files:
        return check_scale_text(files[code].read_text(encoding="utf-8"), f"{code}.toml")
    raise NotFoundError(
        f"{str(source)!r} is neither a scale file nor a known scale",
        expected="a path to a .toml file or one of " + ", ".join(sorted(files)),
        hint="run `remit scales list`",
    )


def parse_scale(text: str, source: str = "<string>") -> ScaleDefinition:
    """Build a :class:`ScaleDefinition` from TOML text and check it.

    Parameters
    ----------
    text
        The TOML definition (format in ``docs/scales.md``).
    source
        Name used in error messages (a file name).

    Raises
    ------
    ScaleDefinitionError
        If the TOML is invalid or the definition is not self-consistent; ``error.problems``
        lists every problem found, each with its code and line.

    Examples
    --------
    >>> d = parse_scale('''
    ... code = "tiny"
    ... name = "Tiny scale"
    ... description = "Two items"
    ... respondent = "self"
    ... recall = "today"
    ... licence_note = "example"
    ... total_range = [0, 2]
    ... [total]
    ... [[items]]
    ... code = "a"
    ... label = "A"
    ... kind = "boolean"
    ... [[items]]
    ... code = "b"
    ... label = "B"
    ... kind = "boolean"
    ... ''')
    >>> [it.ref for it in d.items], d.short_name
    (['1', '2'], 'TINY')
    """
    definition, problems = _parse(text, source)
    if problems or definition is None:
        raise ScaleDefinitionError(source, problems)
    return definition


def _definitions() -> Mapping[str, Any]:
    return _shipped()


@functools.cache
def _shipped() -> Mapping[str, Any]:
    # the package's files do not change while it runs: listed once (load_scale is a hot path)
    folder = resources.files("remit.scales") / "definitions"
    return MappingProxyType(
        {
            entry.name.removesuffix(".toml"): entry
            for entry in folder.iterdir()
            if entry.name.endswith(".toml")
        }
    )


def user_scale_dirs() -> list[Path]:
    """The user scale directories named by ``REMIT_SCALES_PATH`` (``os.pathsep``-separated),
    in order; empty entries are ignored.

    Raises
    ------
    NotFoundError
        If a named directory does not exist (a typo would otherwise hide every scale in it).

    Examples
    --------
    >>> all(d.is_dir() for d in user_scale_dirs())
    True
    """
    raw = os.environ.get(SCALES_PATH_ENV, "")
    if not raw:  # the usual case (read on every scale loaded): no directory named
        return []
    dirs = []
    for part in raw.split(os.pathsep):
        if not part.strip():
            continue
        d = Path(part.strip()).expanduser()
        if not d.is_dir():
            raise NotFoundError(
                f"{SCALES_PATH_ENV} names {part!r}, which is not a directory",
                expected=f"directories of scale TOML files separated by {os.pathsep!r}",
                hint=f"create the directory or remove it from {SCALES_PATH_ENV}",
            )
        dirs.append(d)
    return dirs


def _user_definitions() -> dict[str, Path]:
    """``{code: file}`` of the user scale directories; a clash is refused."""
    dirs = user_scale_dirs()
    if not dirs:
        return {}
    # a directory's listing changes only with its modification time
    return dict(_scan(tuple((str(d), d.stat().st_mtime_ns) for d in dirs)))


@functools.lru_cache(maxsize=16)
def _scan(dirs: tuple[tuple[str, int], ...]) -> Mapping[str, Path]:
    builtin = _definitions()
    out: dict[str, Path] = {}
    for name, _ in dirs:
        for path in sorted(Path(name).glob("*.toml")):
            code = path.name.removesuffix(".toml").lower()
            if code in builtin:
                raise ScaleError(
                    f"user scale {str(path)!r} has the code {code!r} of a built-in scale",
                    expected="a code no shipped scale uses (" + ", ".join(sorted(builtin)) + ")",
                    hint="rename the file and its `code` (e.g. re-import the REDCap form under "
                    f"another form name), or take it out of {SCALES_PATH_ENV}",
                )
            if code in out:
                raise ScaleError(
                    f"scale {code!r} is defined twice in {SCALES_PATH_ENV}: "
                    f"{str(out[code])!r} and {str(path)!r}",
                    expected="each scale code once across the user scale directories",
                    hint="remove one of the files or one directory from the path",
                )
            out[code] = path
    return MappingProxyType(out)


class _Kept:
    """A definition kept in a trial database, read like a file (``read_text``)."""

    def __init__(self, text: str, label: str) -> None:
        self.text, self.label = text, label

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.text


#: The scales of the trial database this process works on (code → definition), installed by
#: :func:`use_trial_scales` each time a service opens that database.
#: Replaced whole, never changed in place: a web server's threads read it while another
#: request installs the scales again, and must never see it half filled.
_TRIAL: Mapping[str, _Kept] = MappingProxyType({})
#: What the installer said the installed scales are (:func:`use_trial_scales` ``key``); set
#: after ``_TRIAL``, so a reader that sees a key sees its scales.
_TRIAL_KEY: Hashable | None = None


def use_trial_scales(texts: Mapping[str, tuple[str, str]], *, key: Hashable | None = None) -> None:
    """Make the scale definitions kept in a trial database known, replacing those installed
    before: ``texts`` maps code → (TOML text, label such as ``"trial database, revision 2"``).

    The services call this whenever they open a trial database (a process works on one trial
    database at a time), so :func:`load_scale`, :func:`list_scales` and the protocol checks see
    its scales without ``REMIT_SCALES_PATH``. A code that is also a shipped scale or a file of
    ``REMIT_SCALES_PATH`` is refused when the scales are listed or loaded (never silently
    shadowed).

    ``key`` names what was installed (the services: the database and its newest scale id) so
    that an installer can skip reading them again while :func:`trial_scales_key` still returns
    it; installing without a key (as a test does to play a new process) forgets it.

    Examples
    --------
    >>> use_trial_scales({})
    >>> trial_scales()
    {}
    """
    global _TRIAL, _TRIAL_KEY
    _TRIAL = MappingProxyType(
        {code.lower(): _Kept(text, label) for code, (text, label) in texts.items()}
    )
    _TRIAL_KEY = key


def trial_scales_key() -> Hashable | None:
    """The ``key`` the scales installed last were installed with (:func:`use_trial_scales`)."""
    return _TRIAL_KEY


def trial_scales() -> dict[str, str]:
    """Code → label of the scales kept in the trial database (see :func:`use_trial_scales`)."""
    return {code: kept.label for code, kept in sorted(_TRIAL.items())}


def _trial_definitions() -> dict[str, _Kept]:
    """The trial database's scales; a code clashing with a shipped or user scale is refused."""
    kept = _TRIAL  # one snapshot for the whole check
    if not kept:
        return {}
    builtin, users = _definitions(), _user_definitions()
    for code in sorted(kept):
        if code in builtin or code in users:
            where = "a built-in scale" if code in builtin else f"{users[code]} ({SCALES_PATH_ENV})"
            raise ScaleError(
                f"scale {code!r} is kept in the trial database and is also {where}",
                expected="each scale code once: shipped, in REMIT_SCALES_PATH or in the trial "
                "database",
                hint=f"take the file out of {SCALES_PATH_ENV} (the trial database's definition "
                "is the one its forms were scored with)",
            )
    return dict(kept)


def _all_definitions() -> dict[str, Any]:
    return {**_definitions(), **_user_definitions(), **_trial_definitions()}


def builtin_scales() -> list[str]:
    """Codes of the scales shipped with Remit, sorted.

    Examples
    --------
    >>> builtin_scales()[:3]
    ['bdi2', 'cssrs', 'gad7']
    """
    return sorted(_definitions())


def list_scales() -> list[str]:
    """Codes of the shipped scales, the user scales (``REMIT_SCALES_PATH``) and those kept in
    the trial database (:func:`use_trial_scales`), sorted.

    Examples
    --------
    >>> list_scales()[:3]
    ['bdi2', 'cssrs', 'gad7']
    """
    return sorted(_all_definitions())


def scale_source(code: str) -> str:
    """``"built-in"`` for a shipped scale, else the path of the user scale file.

    Examples
    --------
    >>> scale_source("madrs")
    'built-in'
    """
    key = code.strip().lower()
    if key in _definitions():
        return "built-in"
    users = _user_definitions()
    if key in users:
        return str(users[key])
    kept = _trial_definitions()
    if key in kept:
        return kept[key].label
    raise NotFoundError(
        f"scale {code!r} is not known",
        expected="one of " + ", ".join(list_scales()),
        hint="run `remit scales list`",
    )


@functools.lru_cache(maxsize=64)
def _load_builtin(code: str) -> ScaleDefinition:
    files = _definitions()
    return _checked(code, files[code].read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=64)
def _load_user(code: str, path: str, mtime_ns: int, size: int) -> ScaleDefinition:
    # keyed by the file's path, time and size: an edited or replaced file is read again
    return _checked(code, Path(path).read_text(encoding="utf-8"), path)


@functools.lru_cache(maxsize=64)
def _load_kept(code: str, text: str) -> ScaleDefinition:
    # keyed by the text: a new revision in the database is read again
    return _checked(code, text, f"{code} (trial database)")


def _checked(code: str, text: str, source: str | None = None) -> ScaleDefinition:
    definition = parse_scale(text, source or f"{code}.toml")
    if definition.code != code:
        raise ScaleError(
            f"{source or code + '.toml'} declares code {definition.code!r}",
            expected=f"{code!r} (a scale file is named after its code)",
            hint="rename the file or change its `code`",
        )
    return definition


def _load_known(code: str) -> ScaleDefinition:
    if code in _definitions():
        # a user file of the same name is refused even when the built-in one is asked for
        _user_definitions()
        return _load_builtin(code)
    users = _user_definitions()
    if code in users:
        stat = users[code].stat()
        return _load_user(code, str(users[code]), stat.st_mtime_ns, stat.st_size)
    kept = _trial_definitions()
    if code in kept:
        return _load_kept(code, kept[code].text)
    raise NotFoundError(
        f"scale {code!r} is not known",
        expected="one of " + ", ".join(list_scales()),
        hint="run `remit scales list`; a scale of your own goes in a directory named by "
        f"{SCALES_PATH_ENV}",
    )


def load_scale(code: str, *, wording: Path | str | None = None) -> ScaleDefinition:
    """Load a scale definition by code, optionally with licensed wording overlaid.

    The shipped scales come first; then the user scale directories named by
    ``REMIT_SCALES_PATH`` (``<code>.toml`` files, e.g. written by ``remit import
    redcap-dictionary``), then the scales kept in the trial database
    (:func:`use_trial_scales`). A user or kept scale with another's code is refused.

    Parameters
    ----------
    code
        Lower-case scale code, e.g. ``"madrs"`` (see :func:`list_scales`).
    wording
        A local TOML or CSV file with item wording keyed by item code (see
        :func:`load_wording`).

    Raises
    ------
    NotFoundError
        If no shipped or user scale has that code (the message lists the known codes).
    ScaleError
        If a user scale directory holds a file with a built-in scale's code, or two files of
        one code.

    Examples
    --------
    >>> load_scale("gad7").total_range
    (0.0, 21.0)
    """
    if not isinstance(code, str):
        raise NotFoundError(f"scale code {code!r} is not a string", expected="e.g. 'madrs'")
    definition = _load_known(code.strip().lower())
    if wording is not None:
        definition = apply_wording(definition, load_wording(wording))
    return definition


def load_scale_file(path: Path | str) -> ScaleDefinition:
    """Load a scale definition from a TOML file of one's own.

    Raises
    ------
    NotFoundError
        If the file does not exist.
    ScaleError
        If it is not a sound definition.

    Examples
    --------
    >>> from importlib import resources
    >>> path = resources.files("remit.scales") / "definitions" / "isi.toml"
    >>> load_scale_file(str(path)).code
    'isi'
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"scale file {str(p)!r} does not exist", expected="a TOML file")
    return parse_scale(p.read_text(encoding="utf-8"), p.name)


def load_wording(path: Path | str) -> dict[str, str]:
    """Read a local wording file: item code → the licensed wording of that item.

    TOML: a table ``[items]`` (or top-level keys) of ``code = "wording"``. CSV: columns ``item``
    and ``wording`` with a header row.

    Examples
    --------
    >>> import tempfile, os
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    >>> _ = f.write("item,wording\\napparent_sadness,Licensed text here\\n"); f.close()
    >>> load_wording(f.name)
    {'apparent_sadness': 'Licensed text here'}
    >>> os.unlink(f.name)
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(
            f"wording file {str(p)!r} does not exist", expected="a TOML or CSV file"
        )
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        if not rows or "item" not in rows[0] or "wording" not in rows[0]:
            raise ScaleError(
                f"wording file {p.name} lacks the columns item, wording",
                expected="a CSV header `item,wording`",
            )
        return {row["item"].strip(): row["wording"] for row in rows}
    if p.suffix.lower() != ".toml":
        raise ScaleError(
            f"wording file {p.name} is neither .toml nor .csv", expected=".toml or .csv"
        )
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScaleError(f"wording file {p.name} is not valid TOML: {error}") from None
    table = raw.get("items", raw)
    out: dict[str, str] = {}
    for key, value in table.items():
        if not isinstance(value, str):
            raise ScaleError(
                f"wording file {p.name}: {key!r} is {value!r}", expected='item_code = "wording"'
            )
        out[str(key)] = value
    return out


def apply_wording(definition: ScaleDefinition, wording: Mapping[str, str]) -> ScaleDefinition:
    """A copy of ``definition`` whose items carry the given wording (keyed by item code).

    Raises
    ------
    ScaleError
        If the wording names an item the scale does not have.

    Examples
    --------
    >>> d = apply_wording(load_scale("madrs"), {"suicidal_thoughts": "Text"})
    >>> d.item("10").wording
    'Text'
    """
    known = {it.code for items in definition.version_items.values() for it in items}
    unknown = sorted(set(wording) - known)
    if unknown:
        raise ScaleError(
            f"wording names item(s) {', '.join(unknown)} that {definition.code} does not have",
            expected="item codes, e.g. " + ", ".join(sorted(known)[:3]),
            hint=f"run `remit scales show {definition.code}`",
        )
    version_items = {
        v: tuple(replace(it, wording=wording.get(it.code, it.wording)) for it in items)
        for v, items in definition.version_items.items()
    }
    return replace(
        definition,
        items=version_items[definition.versions[0]],
        version_items=MappingProxyType(version_items),
    )
