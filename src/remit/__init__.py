"""Remit: run a psychiatric clinical trial from protocol to published result.

The package is layered (see ``docs/architecture.md``): ``errors`` at the core, then
``stats`` and ``scales``, ``protocol``, ``safety`` / ``analysis`` / ``store``, ``services``,
``simulate`` / ``reports`` / ``interop`` and, at the edge, ``web`` and ``cli``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("remit")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
