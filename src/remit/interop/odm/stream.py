"""An ODM file built in parts: one tree (:func:`assemble`) or streamed to disk (:func:`write`).

A file is a *frame* (``<ODM>`` with the study metadata and an empty ``<ClinicalData>``) and a
sequence of :class:`Chunk` s: each builds one child of ``<ClinicalData>`` (a ``SubjectData``)
or of a container below it (an ``AuditRecord`` of ``<AuditRecords>``). :func:`assemble` puts
them all in the frame (the whole file as one lxml tree). :func:`write` builds each chunk in a
small scratch tree of the same depth and namespace, serialises it as the whole tree's pretty
printing would, and drops it: the chunks' text goes to a scratch file, so only one chunk is
ever held (the Oslo demo's snapshot tree alone was about 60 MB). A chunk is first built as
plain Python elements (:class:`~remit.interop.odm.base.PlainElement`) and printed here
(:func:`plain_text`, a fraction of the cost of an lxml tree); a chunk holding text that needs
more than the XML escapes (a control character, or text beside child elements) is built and
printed by lxml instead, so its bytes, and its refusal of text XML cannot hold, are lxml's.
``<AdminData>`` (before ``<ClinicalData>``) names the users and locations the chunks refer
to: the references are collected while the chunks are written, then the frame is written
around the scratch file.
The bytes are those of the tree writer (a test compares the two on a simulated trial).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lxml import etree  # type: ignore[import-untyped]

from remit.interop.odm.base import _N, ODM_NS, PlainElement, el


@dataclass(frozen=True)
class Chunk:
    """One part of ``<ClinicalData>``: ``build(parent)`` adds it under ``parent``, which is
    ``<ClinicalData>`` or, when ``container`` names one, that (attribute-less) container
    element below it; ``build`` adds one element there. ``build`` ``None``: the container
    exists (written even when empty)."""

    build: Callable[[Any], Any] | None
    container: str | None = None
    #: optional: ``text(depth, users, places)`` prints the chunk directly (at indentation
    #: ``depth``, adding its references to the two) as :func:`plain_text` would print what
    #: ``build`` adds, or gives ``None`` (nothing added) to leave it to ``build``
    text: Callable[[int, dict[str, None], dict[str, None]], bytes | None] | None = None


class AdminWriter(Protocol):
    """Adds ``<AdminData>`` to the frame ``root`` for the user and location OIDs the file's
    clinical data refer to (each list in the order of first reference)."""

    def __call__(self, root: Any, users: list[str], locations: list[str]) -> Any: ...


def assemble(clinical: Any, chunks: Iterable[Chunk]) -> None:
    """Build every chunk into ``clinical`` (the frame's ``<ClinicalData>``): the whole tree."""
    containers: dict[str, Any] = {}
    for chunk in chunks:
        parent = clinical
        if chunk.container is not None:
            parent = containers.get(chunk.container)
            if parent is None:
                parent = containers[chunk.container] = el(clinical, chunk.container)
        if chunk.build is not None:
            chunk.build(parent)


def references(node: Any, users: dict[str, None], locations: dict[str, None]) -> None:
    """Add the user and location OIDs ``node`` refers to, in document order, to the two."""
    for ref in node.iter(_N + "UserRef", _N + "LocationRef"):
        if ref.tag == _N + "UserRef":
            users.setdefault(ref.get("UserOID"))
        else:
            locations.setdefault(ref.get("LocationOID"))


def _pretty(root: Any) -> bytes:
    return bytes(etree.tostring(root, encoding="UTF-8", pretty_print=True, xml_declaration=True))


#: Text that prints as it is, inside or outside attributes (no escape needed).
_PLAIN = re.compile(
    "[^\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
#: Characters XML 1.0 allows but lxml escapes (``\t \n \r``) or cannot hold at all.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class _UnprintableError(Exception):
    """A chunk :func:`plain_text` leaves to lxml."""


def printable(value: Any, attribute: bool) -> str | None:
    """``value`` as :func:`plain_text` prints it in text or in an attribute; ``None`` when it
    leaves the chunk to lxml (not a ``str``, or a character the XML escapes do not cover)."""
    try:
        return _escaped(value, attribute)
    except _UnprintableError:
        return None


def _escaped(value: Any, attribute: bool) -> str:
    """``value`` as libxml2 prints it in text or in a (double-quoted) attribute."""
    if not isinstance(value, str) or type(value) is not str:
        raise _UnprintableError
    text: str = value
    if _PLAIN.search(text) is None:
        return text
    if _NOT_XML.search(text) is not None:
        raise _UnprintableError
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\r", "&#13;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return text


def plain_text(
    nodes: list[PlainElement], level: int, users: dict[str, None], places: dict[str, None]
) -> bytes | None:
    """The pretty-printed text of ``nodes`` at indentation ``level`` (two spaces each), as
    lxml prints them in a tree whose default namespace is ODM's; the user and location OIDs
    they refer to are added to the two. ``None`` (and nothing added) when a value needs
    lxml's own handling (see the module text)."""
    lines: list[str] = []
    refs: list[tuple[str, Any]] = []
    plain = _PLAIN.search
    # (node, depth) to print, or (None, end tag line) to close an element
    todo: list[tuple[PlainElement | None, Any]] = [(n, level) for n in reversed(nodes)]
    try:
        while todo:
            node, depth = todo.pop()
            if node is None:
                lines.append(depth)
                continue
            pad = "  " * depth
            tag = node.tag
            attrib = node.attrib
            if tag == "UserRef" or tag == "LocationRef":
                refs.append((tag, attrib.get(tag[:-3] + "OID")))
            start = pad + "<" + tag
            for name, value in attrib.items():
                if plain(value) is not None:
                    value = _escaped(value, True)
                start += f' {name}="{value}"'
            text = node.text
            if node.children:
                if text is not None:  # mixed content: lxml does not indent it
                    raise _UnprintableError
                lines.append(start + ">")
                todo.append((None, f"{pad}</{tag}>"))
                todo.extend((c, depth + 1) for c in reversed(node.children))
            elif text is not None:
                lines.append(f"{start}>{_escaped(text, False)}</{tag}>")
            else:
                lines.append(start + "/>")
    except _UnprintableError:
        return None
    for tag, ref in refs:
        (users if tag == "UserRef" else places).setdefault(ref)
    return ("\n".join(lines) + "\n").encode("utf-8")


class _Scratch:
    """A scratch tree ``<ODM><ClinicalData>[<container>]``: a chunk built in it and printed
    indents as it would in the whole file; the scratch lines are cut off the text."""

    def __init__(self, container: str | None) -> None:
        self.root = etree.Element(_N + "ODM", nsmap={None: ODM_NS})
        self.parent = el(self.root, "ClinicalData")
        if container is not None:
            self.parent = el(self.parent, container)
        self.depth = 3 if container is not None else 2  # lines of scratch above and below

    def text(
        self, build: Callable[[Any], Any], users: dict[str, None], places: dict[str, None]
    ) -> bytes:
        """The printed text of what ``build`` adds; its references added to the two."""
        plain = PlainElement("", {})
        build(plain)
        printed = plain_text(plain.children, self.depth, users, places)
        if printed is not None:
            return printed
        build(self.parent)
        references(self.parent, users, places)
        lines = etree.tostring(self.root, encoding="UTF-8", pretty_print=True).split(b"\n")
        for child in list(self.parent):  # dropped: the next chunk starts from an empty scratch
            self.parent.remove(child)
        # the scratch start tags, then the chunk, then the end tags and the final newline
        return b"\n".join(lines[self.depth : -self.depth - 1]) + b"\n"


def write(
    path: Path, root: Any, clinical: Any, chunks: Iterable[Chunk], admin: AdminWriter
) -> None:
    """Write the file ``root`` (the frame) and ``chunks`` make to ``path``, holding one chunk
    at a time; ``admin`` adds ``<AdminData>`` for the references found."""
    users: dict[str, None] = {}
    locations: dict[str, None] = {}
    scratch: dict[str | None, _Scratch] = {}
    open_container: str | None = None
    count = 0
    with tempfile.TemporaryFile(dir=path.parent) as body:

        def close(container: str | None, children: int) -> None:
            if container is not None:
                indent = b"    "
                if children:
                    body.write(indent + f"</{container}>\n".encode())
                else:  # an empty container prints as an empty element
                    body.seek(-len(indent) - len(container) - 3, 2)
                    body.truncate()
                    body.write(indent + f"<{container}/>\n".encode())

        in_container = 0
        for chunk in chunks:
            count += 1
            if chunk.container != open_container:
                close(open_container, in_container)
                open_container, in_container = chunk.container, 0
                if chunk.container is not None:
                    body.write(f"    <{chunk.container}>\n".encode())
            if chunk.build is None:
                continue
            work = scratch.get(chunk.container)
            if work is None:
                work = scratch[chunk.container] = _Scratch(chunk.container)
            if chunk.text is not None:
                printed = chunk.text(work.depth, users, locations)
                if printed is not None:
                    body.write(printed)
                    in_container += 1
                    continue
            body.write(work.text(chunk.build, users, locations))
            in_container += 1
        close(open_container, in_container)
        admin(root, list(users), list(locations))
        if not count:  # no clinical data: the frame is the whole file
            path.write_bytes(_pretty(root))
            return
        marker = etree.Comment("remit-odm-chunks")
        clinical.append(marker)
        head, tail = _pretty(root).split(b"    <!--remit-odm-chunks-->\n")
        clinical.remove(marker)
        body.seek(0)
        with path.open("wb") as out:
            out.write(head)
            shutil.copyfileobj(body, out)
            out.write(tail)
