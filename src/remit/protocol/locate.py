"""Line numbers of key paths in protocol files: the shared TOML locator of :mod:`remit.tomlpos`."""

from remit.tomlpos import PathPart, find_line, format_path, line_index

__all__ = ["PathPart", "find_line", "format_path", "line_index"]
