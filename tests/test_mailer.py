"""Delivery through a real SMTP server on 127.0.0.1 (aiosmtpd): the message, connection
reuse, hard bounces, retries with backoff, and the files transport."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from sqlmodel import Session, select
from test_digest_fixtures import (
    SmtpServer,
    active_subscriber,
    council,
    ice_meeting,
    running_smtp_server,
    settings_now,
)

from tracker.db import open_database
from tracker.digest import queue_digests
from tracker.mailer import (
    ConnectionProblem,
    FilesTransport,
    SmtpTransport,
    backoff,
    compose,
    send_queued,
)
from tracker.models import Delivery, Subscriber
from tracker.settings import Settings
from tracker.store import Store


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    yield from running_smtp_server()


@pytest.fixture
def store(sqlite_url: str) -> Store:
    return Store(open_database(sqlite_url))


def smtp(server: SmtpServer) -> SmtpTransport:
    return SmtpTransport(server.host, server.port, security="none", timeout=5)


def queue(store: Store, *addresses: str, language: str = "en") -> None:
    for address in addresses:
        active_subscriber(store, address, language=language)
    seattle = council(store)
    seattle.members()
    ice_meeting(seattle)
    assert queue_digests(store.engine, settings_now()).queued == len(addresses)


def deliveries(store: Store) -> list[Delivery]:
    with Session(store.engine) as session:
        return list(session.exec(select(Delivery).order_by(Delivery.id)))  # type: ignore[arg-type]


def test_compose_builds_a_multipart_message() -> None:
    data = compose(
        sender="Rastreador ICE <alertas@tracker.example.org>",
        recipient="ana@example.org",
        subject="Reunión: 1 asunto de ICE · mañana",
        message_id="<abc.digest@tracker.example.org>",
        date=datetime(2031, 3, 4, 18, 0, tzinfo=UTC),
        language="es",
        text="Texto — ñ",
        html="<p>HTML — ñ</p>",
        list_unsubscribe="https://tracker.example.org/unsubscribe/TOKEN",
    )
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    message = email.message_from_bytes(data, policy=policy.default)
    assert message["Subject"] == "Reunión: 1 asunto de ICE · mañana"
    assert message["From"].addresses[0].display_name == "Rastreador ICE"
    assert message["Date"].datetime == datetime(2031, 3, 4, 18, 0, tzinfo=UTC)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message.get_body(("plain",)).get_content() == "Texto — ñ"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="line break"):
        compose(
            sender="a@b.org",
            recipient="c@d.org",
            subject="two\r\nBcc: e@f.org",
            message_id="<x@y>",
            date=datetime.now(UTC),
            language="en",
            text="t",
            html=None,
        )


def test_one_connection_for_the_whole_run(store: Store, smtp_server: SmtpServer) -> None:
    addresses = [f"person{i}@example.org" for i in range(5)]
    queue(store, *addresses)
    transport = smtp(smtp_server)
    report = send_queued(store.engine, settings_now(), transport=transport)
    assert report.sent == 5
    assert transport.connections == smtp_server.recorder.connections == 1
    assert sorted(r.rcpt_tos[0] for r in smtp_server.recorder.messages) == sorted(addresses)
    assert {r.mail_from for r in smtp_server.recorder.messages} == {"alerts@localhost"}
    assert all(d.status == "sent" and d.sent_at for d in deliveries(store))
    assert send_queued(store.engine, settings_now(), transport=transport).sent == 0


def test_hard_bounce_marks_the_subscriber(store: Store, smtp_server: SmtpServer) -> None:
    queue(store, "gone@example.org", "here@example.org")
    smtp_server.recorder.refuse_rcpt["gone@example.org"] = "550 5.1.1 No such user here"
    report = send_queued(store.engine, settings_now(), transport=smtp(smtp_server))
    assert (report.sent, report.bounced) == (1, 1)
    with Session(store.engine) as session:
        gone = session.exec(select(Subscriber).where(Subscriber.email == "gone@example.org")).one()
        assert gone.status == "bounced"
        assert gone.bounce_reason == "550 5.1.1 No such user here"
    statuses = {d.subscriber_id: d.status for d in deliveries(store)}
    assert sorted(statuses.values()) == ["bounced", "sent"]


def test_temporary_failure_is_retried_with_backoff(store: Store, smtp_server: SmtpServer) -> None:
    queue(store, "busy@example.org")
    smtp_server.recorder.refuse_rcpt["busy@example.org"] = "451 4.7.1 Try again later"
    settings = settings_now()
    start = datetime.now(UTC)
    report = send_queued(store.engine, settings, transport=smtp(smtp_server), clock=lambda: start)
    assert (report.sent, report.retry) == (0, 1)
    [row] = deliveries(store)
    assert row.status == "queued"
    assert row.attempts == 1
    assert "451" in (row.last_error or "")
    assert row.next_attempt_at == start + timedelta(seconds=60)
    # not due yet: nothing is tried
    soon = start + timedelta(seconds=30)
    assert (
        send_queued(store.engine, settings, transport=smtp(smtp_server), clock=lambda: soon).retry
        == 0
    )
    # due, and the server takes it now
    del smtp_server.recorder.refuse_rcpt["busy@example.org"]
    later = start + timedelta(seconds=61)
    report = send_queued(store.engine, settings, transport=smtp(smtp_server), clock=lambda: later)
    assert report.sent == 1
    assert [r.rcpt_tos for r in smtp_server.recorder.messages] == [["busy@example.org"]]


def test_backoff_doubles_and_gives_up(store: Store, smtp_server: SmtpServer) -> None:
    settings = Settings(send_backoff_seconds=10, send_max_attempts=3)
    assert [backoff(settings, n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert backoff(settings, 30) == timedelta(hours=6)
    queue(store, "busy@example.org")
    smtp_server.recorder.refuse_rcpt["busy@example.org"] = "452 4.2.2 Mailbox full"
    clock = datetime.now(UTC)
    for _ in range(3):
        send_queued(store.engine, settings, transport=smtp(smtp_server), clock=lambda at=clock: at)
        clock += timedelta(hours=7)
    [row] = deliveries(store)
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.message  # still in the outbox, with the reason
    assert "452" in (row.last_error or "")


def test_server_down_leaves_everything_queued(store: Store) -> None:
    from test_digest_fixtures import free_port

    queue(store, "a@example.org", "b@example.org")
    transport = SmtpTransport("127.0.0.1", free_port(), security="none", timeout=2)
    report = send_queued(store.engine, settings_now(), transport=transport)
    assert report.sent == 0
    assert report.retry == 1
    assert report.stopped
    assert "cannot reach the SMTP server" in report.stopped
    assert [d.status for d in deliveries(store)] == ["queued", "queued"]
    with pytest.raises(ConnectionProblem):
        transport.send("a@b.org", "c@d.org", b"x", "<x@y>")


def test_files_transport_writes_once_per_message(store: Store, tmp_path: Path) -> None:
    queue(store, "ana@example.org")
    [row] = deliveries(store)
    transport = FilesTransport(tmp_path / "outbox")
    assert row.message is not None
    transport.send("a@b.org", "ana@example.org", row.message, row.message_id)
    transport.send("a@b.org", "ana@example.org", row.message, row.message_id)
    [written] = list((tmp_path / "outbox").iterdir())
    assert written.read_bytes() == row.message
    assert written.suffix == ".eml"
