"""kill -9 in the middle of building digests and in the middle of sending them, with real
processes, a real SQLite database and a real SMTP server on 127.0.0.1: after a restart every
subscriber has exactly one digest in the outbox and in their mailbox (the one window SMTP
leaves open, a kill between the server's 250 and our record of it, repeats that one message
with the same Message-ID, which receivers drop).

TRACKER_LONG_RELIABILITY=1 repeats each crash at more points."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from conftest import ROOT, query, run_tracker
from test_digest_fixtures import (
    Recorder,
    SmtpServer,
    active_subscriber,
    council,
    ice_meeting,
    running_smtp_server,
)

from tracker.db import open_database
from tracker.models import VoteValue
from tracker.store import Store

LONG = os.environ.get("TRACKER_LONG_RELIABILITY") == "1"
BASE = "https://tracker.example.org"


class SlowRecorder(Recorder):
    """A mail server that takes its time over each message, so a sender can be killed while
    it is in the middle of its work."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(0.03)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from running_smtp_server(SlowRecorder())


def seed(url: str, subscribers: int) -> list[str]:
    store = Store(open_database(url))
    addresses = [f"reader{n}@example.org" for n in range(subscribers)]
    for n, address in enumerate(addresses):
        language = "es" if n % 3 == 0 else "en"
        # different filters make different digests, so building is real work per subscriber
        keywords = [f"palabra{n}"] if n % 2 else []
        active_subscriber(
            store, address, language=language, jurisdictions=["seattle"], keywords=keywords
        )
    seattle = council(store)
    seattle.members()
    ice_meeting(seattle, hours=50)
    seattle.vote("100", "1", {"1": VoteValue.YES, "2": VoteValue.NO, "3": VoteValue.YES})
    return addresses


def start_digest(url: str, smtp: SmtpServer, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, **smtp.env(), "TRACKER_PUBLIC_BASE_URL": BASE}
    command = [sys.executable, "-m", "tracker", "--database-url", url, "digest", *args]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def kill_when(process: subprocess.Popen[bytes], ready: Callable[[], bool]) -> bool:
    """SIGKILL the process as soon as ``ready()``; False when it finished first."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if ready():
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return True
        time.sleep(0.002)
    process.kill()
    raise AssertionError("the digest run neither finished nor reached the kill point")


def queued(url: str) -> int:
    try:
        return int(query(url, "SELECT count(*) FROM delivery")[0][0])
    except Exception:  # the writer holds the database at this instant; ask again
        return 0


def expire_leases(url: str) -> None:
    """What time does to a dead sender's claims: they run out."""
    store = Store(open_database(url))
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE delivery SET next_attempt_at = '2000-01-01 00:00:00' WHERE status = 'queued'"
        )


def send(url: str, smtp: SmtpServer) -> str:
    env = {**smtp.env(), "TRACKER_PUBLIC_BASE_URL": BASE}
    return run_tracker("digest", "--send", database_url=url, env=env).stdout


def assert_one_each(url: str, addresses: list[str], smtp: SmtpServer, kills: int) -> None:
    rows = query(url, "SELECT subscriber_id, status FROM delivery")
    assert len(rows) == len(addresses)  # one digest each in the outbox, none twice
    assert {status for _, status in rows} == {"sent"}
    per_address: Counter[str] = Counter()
    ids: dict[str, set[str]] = {}
    for received in smtp.recorder.messages:
        (address,) = received.rcpt_tos
        per_address[address] += 1
        ids.setdefault(address, set()).add(str(received.message["Message-ID"]))
    assert set(per_address) == set(addresses)  # nobody lost
    assert all(len(found) == 1 for found in ids.values())  # never two different digests
    repeats = sum(per_address.values()) - len(addresses)
    assert repeats <= kills  # at most the one message in flight at each kill


@pytest.mark.parametrize("fraction", [0.2, 0.6] + ([0.05, 0.4, 0.8, 0.95] if LONG else []))
def test_kill_9_while_building_digests(tmp_path: Path, smtp: SmtpServer, fraction: float) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    addresses = seed(url, 150)
    target = max(1, int(len(addresses) * fraction))
    process = start_digest(url, smtp)  # build and queue only
    killed = kill_when(process, lambda: queued(url) >= target)
    assert killed, "the build finished before the kill point"
    before = queued(url)
    assert 0 < before < len(addresses)
    assert smtp.recorder.messages == []
    out = send(url, smtp)  # restarted: builds the rest, then sends everything
    assert f"queued {len(addresses) - before} digest(s)" in out
    assert_one_each(url, addresses, smtp, kills=0)
    assert "sent 0;" in send(url, smtp)  # and a further run has nothing left to do


@pytest.mark.parametrize("fraction", [0.1, 0.5] + ([0.02, 0.3, 0.7, 0.9] if LONG else []))
def test_kill_9_while_sending(tmp_path: Path, smtp: SmtpServer, fraction: float) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    addresses = seed(url, 60)
    run_tracker("digest", database_url=url, env={"TRACKER_PUBLIC_BASE_URL": BASE})
    assert queued(url) == len(addresses)
    target = max(1, int(len(addresses) * fraction))
    process = start_digest(url, smtp, "--send")
    killed = kill_when(process, lambda: len(smtp.recorder.messages) >= target)
    assert killed, "the sending finished before the kill point"
    delivered = len(smtp.recorder.messages)
    assert 0 < delivered < len(addresses)
    send(url, smtp)  # restarted: sends what was left, leaving the dead sender's claim alone
    expire_leases(url)  # ...until that claim runs out
    send(url, smtp)
    assert_one_each(url, addresses, smtp, kills=1)
