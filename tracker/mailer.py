"""Delivery: finished e-mails from the outbox to an SMTP server or to .eml files.

The mailer never decides what to send: tracker/digest.py writes each digest, finished, into the
outbox (a Delivery row) and the mailer delivers the rows that are due, oldest first.

Exactly once: a digest enters the outbox in the same transaction that advances its
subscription's high-water mark, and the outbox's unique key (subscriber, change range) refuses
a second copy, so a digest is queued once whatever crashes. A sender claims a row (a lease in
``next_attempt_at``) before it talks to the server and records the acceptance right after
the server's 250; a process that dies before the acceptance leaves the row queued, and the next
run sends it. The one window left, a crash between the server's 250 and that record, sends it
again with the same Message-ID (deterministic), which receivers use to drop duplicates; the
files transport writes to a file named after the Message-ID, so it is exactly once.

Failures: 4xx replies and connection problems are retried with exponential backoff
(``send_backoff_seconds``, doubling, at most 6 hours, ``send_max_attempts`` tries); a 5xx reply
to the recipient (or a 5.1.x one to the data) is a hard bounce and marks the subscriber
bounced; other 5xx replies fail the message, which stays in the outbox with the reason.

    SendError                   one message could not be delivered
    ├── TransientError          try again later (4xx, connection lost)
    │   └── ConnectionProblem   the server cannot be reached at all: stop this run
    ├── PermanentError          this message will never go (5xx other than the recipient)
    │   └── ServerConfigError   the server refuses us (login, sender): stop this run
    └── HardBounce              the recipient address does not exist (5xx)
"""

from __future__ import annotations

import binascii
import contextlib
import logging
import os
import re
import secrets
import smtplib
import ssl
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Row, Table, bindparam, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tracker.exceptions import (
    ConfigError,
    ConnectionProblem,
    HardBounce,
    PermanentError,
    ServerConfigError,
    TransientError,
)
from tracker.models import Delivery, Subscriber
from tracker.settings import Settings

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=15)
MAX_BACKOFF = timedelta(hours=6)
CRLF = b"\r\n"


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- composing ---------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def domain_of(mail_from: str) -> str:
    address = parseaddr(mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


@lru_cache(maxsize=4096)  # subjects, senders and list ids repeat across a run
def _header(name: str, value: str) -> bytes:
    if "\r" in value or "\n" in value:
        raise ValueError(f"a line break in the {name} header")
    if value.isascii() and len(name) + len(value) < 900:
        return f"{name}: {value}".encode("ascii")
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode("ascii")


@lru_cache(maxsize=64)
def _address_header(name: str, value: str) -> bytes:
    display, address = parseaddr(value)
    if not display:
        return _header(name, address)
    if display.isascii():
        quoted = (
            display
            if re.fullmatch(r"[\w .-]*", display)
            else '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
        )
        return _header(name, f"{quoted} <{address}>")
    encoded = Header(display, "utf-8").encode()
    return f"{name}: {encoded} <{address}>".encode("ascii")


def _body(data: str) -> bytes:
    """Quoted-printable (binascii's, in C): lines of at most 76 characters whatever the HTML
    looks like, readable where it is ASCII, and smaller than base64 for mostly-ASCII text."""
    text = data.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(text, quotetabs=False, istext=True).replace(b"\n", CRLF)


SOFT_BREAK = b"=" + CRLF


@dataclass(frozen=True)
class EncodedBody:
    """A body encoded once, with holes for what differs per recipient (their link tokens).

    The pieces between the holes are encoded on their own, and each filled value stands
    between two quoted-printable soft line breaks, so every line stays within 76 characters.
    """

    pieces: tuple[bytes, ...]
    holes: tuple[str, ...]

    @classmethod
    def encode(cls, text: str, holes: Sequence[str] = ()) -> EncodedBody:
        if not holes:
            return cls((_body(text),), ())
        pieces: list[bytes] = []
        names: list[str] = []
        position = 0
        for found in re.finditer("|".join(re.escape(h) for h in holes), text):
            pieces.append(_body(text[position : found.start()]))
            names.append(found.group())
            position = found.end()
        pieces.append(_body(text[position:]))
        return cls(tuple(pieces), tuple(names))

    def fill(self, values: Mapping[str, str] | None = None) -> bytes:
        out = [self.pieces[0]]
        for name, piece in zip(self.holes, self.pieces[1:], strict=True):
            out += [SOFT_BREAK, _body((values or {})[name]), SOFT_BREAK, piece]
        return b"".join(out)


def compose(
    *,
    sender: str,
    recipient: str,
    subject: str,
    message_id: str,
    date: datetime,
    language: str,
    text: str | bytes,
    html: str | bytes | None,
    list_unsubscribe: str | None = None,
    list_id: str | None = None,
) -> bytes:
    """A complete RFC 5322 message: multipart/alternative, text first, then HTML.

    ``text`` and ``html`` are the bodies, or bytes already encoded (:class:`EncodedBody`).
    Built directly (the bodies quoted-printable, headers checked for line breaks and RFC
    2047-encoded when not ASCII) because the stdlib's EmailMessage costs milliseconds a
    message, and a run composes one per subscriber.
    """
    boundary = "=_" + secrets.token_hex(12)
    lines = [
        _address_header("From", sender),
        _header("To", recipient),
        _header("Subject", subject),
        _header("Date", format_datetime(date.astimezone(UTC), usegmt=True)),
        _header("Message-ID", message_id),
        b"MIME-Version: 1.0",
        _header("Content-Language", language),
        b"Auto-Submitted: auto-generated",
        b"X-Auto-Response-Suppress: OOF, AutoReply",
    ]
    if list_id:
        lines.append(_header("List-Id", list_id))
    if list_unsubscribe:
        lines.append(_header("List-Unsubscribe", f"<{list_unsubscribe}>"))
        lines.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    text_part = [
        b'Content-Type: text/plain; charset="utf-8"',
        b"Content-Transfer-Encoding: quoted-printable",
        b"",
        text if isinstance(text, bytes) else _body(text),
    ]
    if html is None:
        return CRLF.join(lines + text_part)
    b = boundary.encode("ascii")
    lines += [
        b'Content-Type: multipart/alternative; boundary="' + b + b'"',
        b"",
        b"--" + b,
        *text_part,
        b"--" + b,
        b'Content-Type: text/html; charset="utf-8"',
        b"Content-Transfer-Encoding: quoted-printable",
        b"",
        html if isinstance(html, bytes) else _body(html),
        b"--" + b + b"--",
        b"",
    ]
    return CRLF.join(lines)


# -- transports ----------------------------------------------------------------------------------


class Transport(Protocol):
    def send(self, sender: str, recipient: str, message: bytes, message_id: str) -> None: ...

    def close(self) -> None: ...


class FilesTransport:
    """Each message an .eml file named after its Message-ID: sending twice writes one file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, sender: str, recipient: str, message: bytes, message_id: str) -> None:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", message_id.strip("<>"))[:150] + ".eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = self.folder / (name + ".partial")
            partial.write_bytes(message)
            os.replace(partial, self.folder / name)
        except OSError as exc:
            raise ConnectionProblem(f"cannot write to {self.folder}: {exc.strerror}") from None

    def close(self) -> None:
        pass


def _code(exc: smtplib.SMTPResponseException) -> tuple[int, str]:
    message = exc.smtp_error
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return exc.smtp_code, " ".join(text.split())


class SmtpTransport:
    """One SMTP connection reused for every message of a run; reconnects when dropped."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "starttls",
        user: str = "",
        password: str = "",
        timeout: float = 30.0,
    ) -> None:
        if security not in ("starttls", "ssl", "none"):
            raise ConfigError(f"smtp_security must be starttls, ssl or none, not {security!r}")
        self.host, self.port, self.security = host, port, security
        self.user, self.password, self.timeout = user, password, timeout
        self._smtp: smtplib.SMTP | None = None
        self.connections = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpTransport:
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout,
        )

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        try:
            if self.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    smtp.starttls(context=context)
            if self.user:
                smtp.login(self.user, self.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise ServerConfigError(f"the SMTP server refused the login: {_code(exc)[1]}") from None
        except smtplib.SMTPNotSupportedError:
            raise ServerConfigError(
                f"{self.host}:{self.port} does not offer STARTTLS (smtp_security)"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ConnectionProblem(
                f"cannot reach the SMTP server {self.host}:{self.port}: {exc}"
            ) from None
        self.connections += 1
        return smtp

    def send(self, sender: str, recipient: str, message: bytes, message_id: str) -> None:
        envelope_from = parseaddr(sender)[1]
        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                self._smtp.sendmail(envelope_from, [recipient], message)
                return
            except smtplib.SMTPServerDisconnected:
                self._smtp = None  # idle connections get dropped: reconnect once
                if attempt == 2:
                    raise ConnectionProblem("the SMTP server closed the connection") from None
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()))
                reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
                if code >= 500:
                    raise HardBounce(f"{code} {' '.join(reply.split())}") from None
                raise TransientError(f"{code} {' '.join(reply.split())}") from None
            except smtplib.SMTPSenderRefused as exc:
                code, reply = _code(exc)
                if code >= 500:
                    raise ServerConfigError(f"sender refused: {code} {reply}") from None
                raise TransientError(f"{code} {reply}") from None
            except smtplib.SMTPDataError as exc:
                code, reply = _code(exc)
                if code >= 500:
                    if re.match(r"5\.1\.\d", reply):
                        raise HardBounce(f"{code} {reply}") from None
                    raise PermanentError(f"{code} {reply}") from None
                raise TransientError(f"{code} {reply}") from None
            except (TimeoutError, smtplib.SMTPException, OSError) as exc:
                self.close()
                raise ConnectionProblem(f"SMTP failure: {exc}") from None

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._smtp = None


def transport_from_settings(settings: Settings) -> Transport:
    if settings.mail_transport == "files":
        return FilesTransport(settings.resolved_outbox_dir)
    if settings.mail_transport == "smtp":
        return SmtpTransport.from_settings(settings)
    raise ConfigError(f"mail_transport must be files or smtp, not {settings.mail_transport!r}")


# -- sending the outbox ------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    bounced: int = 0
    cancelled: int = 0
    stopped: str | None = None  # why the run stopped early


def backoff(settings: Settings, attempts: int) -> timedelta:
    seconds = settings.send_backoff_seconds * 2 ** max(attempts - 1, 0)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


DELIVERY: Table = Delivery.__table__  # type: ignore[attr-defined]
SUBSCRIBER: Table = Subscriber.__table__  # type: ignore[attr-defined]
_DUE = or_(DELIVERY.c.next_attempt_at.is_(None), DELIVERY.c.next_attempt_at <= bindparam("now"))
# A claim is a lease: the row is this sender's until it runs out (another sender skips it).
_CLAIM = (
    update(DELIVERY)
    .where(DELIVERY.c.id == bindparam("did"), DELIVERY.c.status == "queued", _DUE)
    .values(next_attempt_at=bindparam("lease"), attempts=DELIVERY.c.attempts + 1)
)


def _claim(conn: Connection, delivery_id: int, now: datetime) -> bool:
    with conn.begin():
        claimed = conn.execute(_CLAIM, {"did": delivery_id, "now": now, "lease": now + LEASE})
        return claimed.rowcount == 1


def _finish(conn: Connection, delivery_id: int, **values: object) -> None:
    with conn.begin():
        conn.execute(update(DELIVERY).where(DELIVERY.c.id == delivery_id).values(**values))


def _due_batch(conn: Connection, now: datetime, only: Collection[int] | None) -> list[Row[Any]]:
    query = (
        select(
            DELIVERY.c.id,
            DELIVERY.c.subscriber_id,
            DELIVERY.c.message_id,
            DELIVERY.c.message,
            DELIVERY.c.attempts,
            SUBSCRIBER.c.email,
            SUBSCRIBER.c.status.label("subscriber_status"),
        )
        .join(SUBSCRIBER, SUBSCRIBER.c.id == DELIVERY.c.subscriber_id)
        .where(DELIVERY.c.status == "queued", _DUE)
        .order_by(DELIVERY.c.id)
        .limit(200)
    )
    if only is not None:
        query = query.where(DELIVERY.c.subscriber_id.in_(list(only)))
    with conn.begin():
        return list(conn.execute(query, {"now": now}))


def send_queued(
    engine: Engine,
    settings: Settings,
    *,
    transport: Transport | None = None,
    limit: int | None = None,
    clock: Callable[[], datetime] = utcnow,
    only: Collection[int] | None = None,
) -> SendReport:
    """Deliver every due message in the outbox, oldest first (``only``: of these subscriber
    ids). Each is claimed before it is sent and recorded right after the server's reply."""
    from tracker.subscribers import ACTIVE, mark_bounced, mask_email

    transport = transport or transport_from_settings(settings)
    report = SendReport()
    done = 0
    try:
        with engine.connect() as conn:
            while limit is None or done < limit:
                batch = _due_batch(conn, clock(), only)
                if not batch:
                    break
                for row in batch:
                    if limit is not None and done >= limit:
                        break
                    if not _claim(conn, row.id, clock()):
                        continue  # another sender has it
                    done += 1
                    if row.subscriber_status != ACTIVE or not row.message:
                        _finish(conn, row.id, status="cancelled", next_attempt_at=None)
                        report.cancelled += 1
                        continue
                    stop = _send_one(
                        conn,
                        engine,
                        settings,
                        transport,
                        row,
                        report,
                        clock,
                        mark_bounced,
                        mask_email,
                    )
                    if stop:
                        return report
    finally:
        transport.close()
    return report


def _send_one(
    conn: Connection,
    engine: Engine,
    settings: Settings,
    transport: Transport,
    row: Row[Any],
    report: SendReport,
    clock: Callable[[], datetime],
    mark_bounced: Callable[..., None],
    mask_email: Callable[[str], str],
) -> bool:
    """Send one claimed row and record what happened; True when the run must stop."""
    try:
        transport.send(settings.mail_from, row.email, bytes(row.message), row.message_id)
    except HardBounce as exc:
        with Session(engine) as session, session.begin():
            delivery = session.get(Delivery, row.id)
            assert delivery is not None
            delivery.status, delivery.last_error, delivery.next_attempt_at = (
                "bounced",
                str(exc),
                None,
            )
            mark_bounced(session, row.subscriber_id, str(exc), clock())
        report.bounced += 1
    except PermanentError as exc:
        _finish(conn, row.id, status="failed", last_error=str(exc), next_attempt_at=None)
        report.failed += 1
        logger.warning("digest for %s failed: %s", mask_email(row.email), exc)
        if isinstance(exc, ServerConfigError):
            report.stopped = str(exc)
            return True
    except TransientError as exc:
        attempts = row.attempts + 1  # this try, counted when it was claimed
        if attempts >= settings.send_max_attempts:
            _finish(conn, row.id, status="failed", last_error=str(exc), next_attempt_at=None)
            report.failed += 1
        else:
            retry_at = clock() + backoff(settings, attempts)
            _finish(conn, row.id, last_error=str(exc), next_attempt_at=retry_at)
            report.retry += 1
        logger.warning("digest for %s: will retry: %s", mask_email(row.email), exc)
        if isinstance(exc, ConnectionProblem):
            report.stopped = str(exc)
            return True
    else:
        if settings.fault_exit_after == "accept":
            os._exit(75)  # the crash-window test's hook; see docs/settings.md
        _finish(conn, row.id, status="sent", sent_at=clock(), next_attempt_at=None, last_error=None)
        report.sent += 1
    return False


def send_now(settings: Settings, recipient: str, message: bytes, message_id: str) -> None:
    """Deliver one message outside the outbox (the confirmation of a sign-up), retrying a
    transient failure a few times."""
    transport = transport_from_settings(settings)
    try:
        for attempt in range(3):
            try:
                transport.send(settings.mail_from, recipient, message, message_id)
                return
            except TransientError:
                if attempt == 2:
                    raise
                time.sleep(0.5 * 2**attempt)
    finally:
        transport.close()
