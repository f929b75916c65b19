"""Names of a package imported on their first use (PEP 562), for the packages whose modules
pull in heavy libraries (``remit.analysis``, ``remit.stats``): importing the package, or one
light module of it, then loads none of NumPy, SciPy, pandas or statsmodels.

Examples
--------
>>> namespace = {"__name__": "example"}
>>> getattr_, dir_ = lazy_attributes(namespace, {"dumps": "json"})
>>> getattr_("dumps")({"a": 1})
'{"a": 1}'
>>> "dumps" in namespace  # kept, so the next use is a plain attribute lookup
True
>>> dir_()
['__name__', 'dumps']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    namespace: dict[str, Any], where: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of a package whose public names ``where``
    maps to the module defining each: a name is imported from its module when first asked
    for and kept in ``namespace`` (the package's ``globals()``)."""
    package = namespace["__name__"]

    def attribute(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        found = getattr(importlib.import_module(module), name)
        namespace[name] = found
        return found

    def names() -> list[str]:
        return sorted({*namespace, *where})

    return attribute, names
