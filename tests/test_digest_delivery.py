"""``ice-tracker digest`` end to end, in real processes, into a real SMTP server on 127.0.0.1:
what arrives, that it arrives once, and that a crash in the middle loses and repeats nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import SEATTLE_WARC, SEATTLE_WINDOW, query, run_tracker
from sqlmodel import Session, select
from test_digest_fixtures import (
    ICE_TITLE,
    SmtpServer,
    active_subscriber,
    council,
    ice_meeting,
    running_smtp_server,
    settings_now,
)

from tracker.db import open_database
from tracker.digest import write_demo_digests
from tracker.models import Subscriber, VoteValue
from tracker.store import Store
from tracker.tokens import Tokens


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    yield from running_smtp_server()


BASE = "https://tracker.example.org"
CRASHED = 75  # the exit status of the fault hook


@pytest.fixture
def store(sqlite_url: str) -> Store:
    return Store(open_database(sqlite_url))


def seed(store: Store, *subscribers: tuple[str, str]) -> dict[str, int]:
    ids = {
        address: active_subscriber(store, address, language=language, jurisdictions=["seattle"])
        for address, language in subscribers
    }
    seattle = council(store)
    seattle.members()
    ice_meeting(seattle, hours=50)
    seattle.vote("100", "1", {"1": VoteValue.YES, "2": VoteValue.NO, "3": VoteValue.YES})
    return ids


def digest(url: str, server: SmtpServer, *args: str, check: bool = True, **env: str) -> str:
    result = run_tracker(
        "digest",
        *args,
        database_url=url,
        check=check,
        env={**server.env(), "TRACKER_PUBLIC_BASE_URL": BASE, **env},
    )
    if not check:
        return str(result.returncode)
    return result.stdout


def token_in(url: str, kind: str) -> str:
    found = re.fullmatch(rf"{re.escape(BASE)}/{kind}/([A-Za-z0-9_.-]+)", url)
    assert found, url
    return found.group(1)


def check_message(message: EmailMessage, subscriber_id: int, address: str) -> None:
    tokens = Tokens.from_settings(settings_now())
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["To"] == address
    assert re.fullmatch(r"<[0-9a-f]{32}\.digest@localhost>", message["Message-ID"])
    assert message["Date"].datetime is not None
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = re.fullmatch(r"<(.+)>", message["List-Unsubscribe"])
    assert header
    claims = tokens.check_unsubscribe(token_in(header.group(1), "unsubscribe"))
    assert claims.subscriber_id == subscriber_id
    assert claims.fits(address)
    for part in message.iter_parts():
        body = str(part.get_content())  # type: ignore[attr-defined]
        links = set(re.findall(rf"{re.escape(BASE)}/(?:unsubscribe|preferences)/[\w.-]+", body))
        assert len(links) == 2
        for link in links:
            if "/preferences/" in link:
                found = tokens.check_preferences(token_in(link, "preferences"))
            else:
                found = tokens.check_unsubscribe(token_in(link, "unsubscribe"))
            assert found.subscriber_id == subscriber_id
            assert found.fits(address)


def test_send_twice_sends_once_in_both_languages(
    store: Store, sqlite_url: str, smtp_server: SmtpServer
) -> None:
    ids = seed(store, ("ana@example.org", "en"), ("beto@example.org", "es"))
    out = digest(sqlite_url, smtp_server, "--send")
    assert "queued 2 digest(s)" in out
    assert "sent 2;" in out
    assert "ana@example.org" not in out
    assert "a***@e***.org (en, weekly)" in out
    recorder = smtp_server.recorder
    [en] = recorder.to("ana@example.org")
    [es] = recorder.to("beto@example.org")
    check_message(en, ids["ana@example.org"], "ana@example.org")
    check_message(es, ids["beto@example.org"], "beto@example.org")
    assert en["Content-Language"] == "en"
    assert es["Content-Language"] == "es"
    assert "1 ICE item on the agenda (+1 more)" in en["Subject"]
    assert "1 asunto de ICE en la agenda (+1 más)" in es["Subject"]
    assert ICE_TITLE in str(en.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert "Votaciones sobre asuntos de ICE" in str(es.get_body(("html",)).get_content())  # type: ignore[union-attr]

    out = digest(sqlite_url, smtp_server, "--send")
    assert "queued 0 digest(s)" in out
    assert "sent 0;" in out
    assert len(recorder.messages) == 2

    # the one-click link from the e-mail stops the next digest
    link = re.fullmatch(r"<(.+)>", en["List-Unsubscribe"])
    assert link
    run_tracker("unsubscribe", "--token", link.group(1), database_url=sqlite_url)
    seattle = council(store)
    ice_meeting(seattle, "101", hours=60)
    out = digest(sqlite_url, smtp_server, "--send")
    assert "sent 1;" in out
    assert len(recorder.to("ana@example.org")) == 1
    assert len(recorder.to("beto@example.org")) == 2


def test_crash_after_the_outbox_commit_delivers_each_digest_once(
    store: Store, sqlite_url: str, smtp_server: SmtpServer
) -> None:
    addresses = [("a@example.org", "en"), ("b@example.org", "es"), ("c@example.org", "en")]
    seed(store, *addresses)
    status = digest(
        sqlite_url, smtp_server, "--send", check=False, TRACKER_FAULT_EXIT_AFTER="queue"
    )
    assert status == str(CRASHED)
    assert smtp_server.recorder.messages == []
    assert [tuple(r) for r in query(sqlite_url, "SELECT status FROM delivery")] == [("queued",)]
    out = digest(sqlite_url, smtp_server, "--send")  # restarted
    assert "queued 2 digest(s)" in out
    assert "sent 3;" in out
    received = [r.rcpt_tos[0] for r in smtp_server.recorder.messages]
    assert sorted(received) == [a for a, _ in addresses]
    out = digest(sqlite_url, smtp_server, "--send")
    assert "sent 0;" in out
    assert len(smtp_server.recorder.messages) == 3


def test_crash_after_the_server_accepted_resends_with_the_same_message_id(
    store: Store, sqlite_url: str, smtp_server: SmtpServer
) -> None:
    """The one window the mailer cannot close (SMTP has no two-phase commit): the receiver
    gets a second copy with the same Message-ID, which is what it deduplicates on."""
    seed(store, ("a@example.org", "en"))
    status = digest(
        sqlite_url, smtp_server, "--send", check=False, TRACKER_FAULT_EXIT_AFTER="accept"
    )
    assert status == str(CRASHED)
    assert len(smtp_server.recorder.messages) == 1
    # the dead sender's lease on the row holds it back for a while (so two live senders never
    # send one row twice)...
    assert "sent 0;" in digest(sqlite_url, smtp_server, "--send")
    # ...and once the lease has run out, the next run sends it
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE delivery SET next_attempt_at = '2000-01-01 00:00:00'"))
    assert "sent 1;" in digest(sqlite_url, smtp_server, "--send")
    first, second = (r.message for r in smtp_server.recorder.messages)
    assert first["Message-ID"] == second["Message-ID"]
    assert [tuple(r) for r in query(sqlite_url, "SELECT status FROM delivery")] == [("sent",)]


def test_dry_run_changes_nothing(store: Store, sqlite_url: str, smtp_server: SmtpServer) -> None:
    seed(store, ("ana@example.org", "en"))
    preview = Path(settings_now().resolved_data_dir) / "preview"
    out = digest(sqlite_url, smtp_server, "--dry-run", "--preview", str(preview))
    assert "would queue 1 digest(s)" in out
    assert [p.suffix for p in preview.iterdir()] == [".eml"]
    assert query(sqlite_url, "SELECT count(*) FROM delivery")[0][0] == 0
    assert "queued 1 digest(s)" in digest(sqlite_url, smtp_server)  # still due
    assert smtp_server.recorder.messages == []  # queued, not sent: --send was not given


def test_demo_digests(store: Store, tmp_path: Path) -> None:
    seed(store, ("reader@example.org", "en"))
    files = write_demo_digests(store.engine, tmp_path)
    assert len(files) == 2
    assert all(f.parent == tmp_path / "digests" for f in files)
    languages = sorted(
        re.search(rb"Content-Language: (\w+)", f.read_bytes()).group(1)  # type: ignore[union-attr]
        for f in files
    )
    assert languages == [b"en", b"es"]
    with Session(store.engine) as session:
        demo = session.exec(select(Subscriber).where(Subscriber.email == "demo-es@example.org"))
        assert demo.one().status == "active"
    assert write_demo_digests(store.engine, tmp_path) == files  # nothing new: nothing more


def test_demo_digests_say_nothing_for_the_seattle_recording(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    run_tracker("crawl", "seattle", "--replay", SEATTLE_WARC, *SEATTLE_WINDOW, database_url=url)
    said: list[str] = []
    files = write_demo_digests(open_database(url), tmp_path, say=said.append)
    assert files == []
    assert list((tmp_path / "digests").glob("*.eml")) == []
    readme = (tmp_path / "digests" / "README.txt").read_text(encoding="utf-8")
    assert "No digest was written" in readme
    assert "an empty digest is never sent" in readme
    assert any("No digest was written" in line for line in said)
