"""ODM XML building blocks: namespace, elements, OIDs, value and time formats, root elements."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from lxml import etree  # type: ignore[import-untyped]

from remit.interop.dataset import is_missing
from remit.protocol import Protocol, VitalSignDef
from remit.scales import ItemDefinition, load_scale

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
_N = f"{{{ODM_NS}}}"

KIND_TYPES = {
    "integer": "integer",
    "number": "float",
    "boolean": "boolean",
    "choice": "text",
    "time": "text",
    "text": "text",
}


class PlainElement:
    """An element held as plain Python values (tag without namespace, attributes in order,
    text, children): what :func:`el` adds under a plain parent instead of an lxml element.
    The ODM stream builds each chunk this way and prints it itself
    (:mod:`remit.interop.odm.stream`), which costs a fraction of building and printing an
    lxml tree."""

    __slots__ = ("attrib", "children", "tag", "text")

    def __init__(self, tag: str, attrib: dict[str, str], text: Any = None) -> None:
        self.tag = tag
        self.attrib = attrib
        self.text = text
        self.children: list[PlainElement] = []


def el(parent: Any, tag: str, text: str | None = None, **attrs: Any) -> Any:
    """A child element in the ODM namespace (attributes that are None are left out): an lxml
    element, or a :class:`PlainElement` when ``parent`` is one."""
    attrib = {k: str(v) for k, v in attrs.items() if v is not None}
    if type(parent) is PlainElement:
        node = PlainElement(tag, attrib, text)
        parent.children.append(node)
        return node
    node = etree.SubElement(parent, _N + tag, attrib)
    if text is not None:
        node.text = text
    return node


def odm_time(value: Any) -> str:
    """An ODM ``datetime``: UTC with a ``Z``, microseconds kept when stored."""
    if type(value) is datetime:  # the audit trail's times: no pandas Timestamp needed
        if value.tzinfo is UTC and value.year >= 1000:  # as stored: no conversion
            return value.isoformat()[:-6] + "Z"  # without its "+00:00"
        when = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
        if when.year >= 1000:  # isoformat: strftime's text, the fraction only when stored
            return when.isoformat() + "Z"
        fraction = f".{when.microsecond:06d}" if when.microsecond else ""
        return when.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    ts = ts.tz_convert("UTC")
    fraction = f".{ts.microsecond:06d}" if ts.microsecond else ""  # keep what was stored
    return ts.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def vital_item_type(sign: VitalSignDef) -> str:
    """The ODM data type of a vital sign's item (named by its VSTESTCD)."""
    return "integer" if sign.integer else "float"


def odm_value(value: Any, data_type: str) -> str | None:
    """The ODM text of a value of an ODM data type (None when missing)."""
    if is_missing(value):
        return None
    if data_type == "boolean" or isinstance(value, bool):
        return "1" if bool(value) else "0"
    if data_type == "date":
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if data_type == "datetime":
        return odm_time(value)
    if data_type == "integer":
        return str(int(value))
    if data_type == "float" and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def all_items(scale: str) -> list[ItemDefinition]:
    """Every item of a scale across its versions (first occurrence of each code)."""
    definition = load_scale(scale)
    found: dict[str, ItemDefinition] = {}
    for version in definition.versions:
        for item in definition.items_for(version):
            found.setdefault(item.code, item)
    for item in definition.items:
        found.setdefault(item.code, item)
    return list(found.values())


def item_types(scale: str) -> dict[str, str]:
    """The ODM data type of every item of a scale, by item code."""
    return {i.code: KIND_TYPES[i.kind] for i in all_items(scale)}


def oid(*parts: str) -> str:
    """An OID from parts (``IT.MADRS.APPARENT_SADNESS``)."""
    return ".".join([p.upper().replace(" ", "_") for p in parts])


def clinical_data(root: Any, protocol: Protocol) -> Any:
    """The ``<ClinicalData>`` element of the protocol's study and metadata version."""
    return el(
        root,
        "ClinicalData",
        StudyOID=oid("ST", protocol.study.id),
        MetaDataVersionOID=oid("MDV", protocol.study.version),
    )


def odm_root(file_type: str, protocol: Protocol, created: datetime) -> Any:
    """The ``<ODM>`` root element of a file of ``file_type`` created at ``created``."""
    return etree.Element(
        _N + "ODM",
        nsmap={None: ODM_NS},
        FileType=file_type,
        FileOID=oid("ODM", protocol.study.id, file_type, created.strftime("%Y%m%dT%H%M%S")),
        CreationDateTime=odm_time(created),
        ODMVersion="1.3.2",
        Originator="Remit",
        SourceSystem="Remit",
        Granularity="All",
    )
