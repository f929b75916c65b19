"""A local SMTP server for the notification tests (aiosmtpd on 127.0.0.1, a free port).

:func:`local_smtp` starts it and yields a :class:`LocalSmtp` whose ``messages`` are the e-mails
received (parsed, with the envelope recipients); :func:`closed_port` is a port nobody listens on
(SMTP down). Tests wait for mail with :func:`tests.support.waiting.wait_until`.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    """One e-mail as the server received it."""

    to: tuple[str, ...]
    mail: EmailMessage

    @property
    def subject(self) -> str:
        """The subject line."""
        return str(self.mail["Subject"])

    @property
    def body(self) -> str:
        """The plain-text body."""
        part = self.mail.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


@dataclass
class _Collector:
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        mail = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(Received(tuple(envelope.rcpt_tos), mail))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class LocalSmtp:
    """The running server: its URL and what it received."""

    host: str
    port: int
    collector: _Collector

    @property
    def url(self) -> str:
        """``smtp://127.0.0.1:<port>``."""
        return f"smtp://{self.host}:{self.port}"

    @property
    def messages(self) -> list[Received]:
        """The e-mails received so far (a copy)."""
        with self.collector.lock:
            return list(self.collector.messages)

    def to(self, address: str) -> list[Received]:
        """The e-mails received for ``address``."""
        return [m for m in self.messages if address in m.to]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def closed_port() -> int:
    """A port nobody listens on: connecting to it is refused (an SMTP server that is down)."""
    return free_port()


@contextmanager
def local_smtp() -> Iterator[LocalSmtp]:
    """Run an SMTP server on 127.0.0.1 until the block ends."""
    collector = _Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()  # returns once the server answers (aiosmtpd checks it itself)
    try:
        yield LocalSmtp("127.0.0.1", controller.port, collector)
    finally:
        controller.stop()
