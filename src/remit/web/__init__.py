"""The web app: server-rendered pages for people and a JSON API (``/api/v1``) for programs.

Build it with :func:`create_app` (``remit serve`` does); every page and API route validates
its input, calls one service of :mod:`remit.services` and renders the result. See
``docs/web.md``.
"""

from remit.web.app import create_app
from remit.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
