"""How an alert reaches a person: the notification channels (a pluggable family).

A :class:`Sender` sends one :class:`OutgoingMessage` to one address and says how it went
(:class:`SendResult`); it never raises for a refused or unreachable server (that is a failed
attempt, logged and retried by :func:`remit.services.deliver_due`). Each channel is declared
once in :data:`CHANNELS`: its name (the ``channel`` of the delivery log), the user column
holding the address, the URL schemes that configure it and the factory building its sender
from the URL. The configuration (``--smtp-url``, ``REMIT_SMTP_URL``) is read at the edge (CLI)
and passed in here as text.

Examples
--------
>>> sender = sender_from_url("smtp://127.0.0.1:2525", sender_address="remit@trial.example")
>>> sender.channel, sender.describe()
('email', 'smtp://127.0.0.1:2525 (from remit@trial.example)')
>>> sorted(CHANNELS)
['email']
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from remit.errors import InputError
from remit.store import check_email


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to one address: no identifying data, only the study ID and the alert."""

    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class SendResult:
    """How one send went: ``ok``, or the error the server or network gave."""

    ok: bool
    error: str | None = None


class Sender(Protocol):
    """Sends messages over one channel (e-mail, SMS gateway, pager …)."""

    @property
    def channel(self) -> str:
        """The channel's name in :data:`CHANNELS` (and in the delivery log)."""
        ...

    def send(self, message: OutgoingMessage) -> SendResult:
        """Send ``message``; a refusal or an unreachable server is ``SendResult(False, …)``."""
        ...

    def describe(self) -> str:
        """Where messages go, without secrets (for logs and ``--help`` output)."""
        ...


@dataclass(frozen=True)
class Channel:
    """One notification channel: how a sender for it is configured and where addresses are."""

    name: str
    title: str
    #: The ``user_account`` column holding a person's address on this channel.
    address_column: str
    #: URL schemes that configure this channel (``smtp://host:port`` …).
    schemes: tuple[str, ...]
    #: ``build(url, sender_address)`` → a sender.
    build: Callable[[str, str], Sender]


@dataclass(frozen=True)
class SmtpSender:
    """E-mail through an SMTP server (stdlib :mod:`smtplib`).

    ``smtp://host:port`` sends in plain text (add ``?starttls=1`` to upgrade with STARTTLS),
    ``smtps://host:port`` over TLS from the start; ``user:password@`` in the URL logs in.
    """

    host: str
    port: int
    sender_address: str
    tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_s: float = 15.0
    channel: str = "email"

    def describe(self) -> str:
        """The server and sender address (never the password)."""
        scheme = "smtps" if self.tls else "smtp"
        extra = "?starttls=1" if self.starttls else ""
        return f"{scheme}://{self.host}:{self.port}{extra} (from {self.sender_address})"

    def send(self, message: OutgoingMessage) -> SendResult:
        """Send ``message`` in one SMTP session; errors become a failed result."""
        mail = EmailMessage()
        mail["From"] = self.sender_address
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = make_msgid(domain=self.sender_address.rpartition("@")[2] or None)
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.body)
        try:
            client: smtplib.SMTP
            if self.tls:
                client = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout_s,
                    context=ssl.create_default_context(),
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password or "")
                refused = client.send_message(mail)
        except (smtplib.SMTPException, OSError) as error:  # TimeoutError is an OSError
            return SendResult(False, f"{type(error).__name__}: {error}".strip()[:2000])
        if refused:
            return SendResult(False, f"recipient refused: {refused}")
        return SendResult(True)


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, ["0"])[-1].lower() in ("1", "true", "yes", "on")


def _smtp_from_url(url: str, sender_address: str) -> Sender:
    parts = urlsplit(url)
    if not parts.hostname:
        raise InputError(
            f"SMTP URL {url!r} has no host",
            expected="smtp://host:port, smtps://host:port or smtp://host:port?starttls=1",
        )
    tls = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if tls else 25)
    except ValueError:
        raise InputError(
            f"SMTP URL {url!r} has a bad port", expected="a port number 1–65535"
        ) from None
    query = parse_qs(parts.query)
    return SmtpSender(
        host=parts.hostname,
        port=port,
        sender_address=sender_address,
        tls=tls,
        starttls=_flag(query, "starttls"),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


#: Every notification channel, by name. The one place a channel is declared.
CHANNELS: dict[str, Channel] = {
    "email": Channel(
        name="email",
        title="E-mail (SMTP)",
        address_column="email",
        schemes=("smtp", "smtps"),
        build=_smtp_from_url,
    ),
}


def sender_from_url(url: str, *, sender_address: str) -> Sender:
    """The sender configured by ``url`` (its scheme chooses the channel of :data:`CHANNELS`),
    sending as ``sender_address``.

    >>> sender_from_url("ftp://x", sender_address="a@b.example")
    ... # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    remit.errors.InputError: notification URL 'ftp://x' has an unknown scheme
    """
    scheme = urlsplit(url.strip()).scheme.lower()
    known = {s: c for c in CHANNELS.values() for s in c.schemes}
    if scheme not in known:
        raise InputError(
            f"notification URL {url!r} has an unknown scheme",
            expected="one of " + ", ".join(f"{s}://…" for s in sorted(known)),
        )
    address = check_email(sender_address)
    if address is None:
        raise InputError(
            "no sender address given for the alert messages",
            expected="an address such as remit@trial.example (--smtp-from or REMIT_SMTP_FROM)",
        )
    return known[scheme].build(url.strip(), address)
