"""The service in-process, on SQLite and PostgreSQL, with a real SQLAlchemy job store.

The clock is injected (``Service(clock=...)``) and crawls go through a runner that records the
run as ``ice-tracker crawl`` would, without a process; tests/test_service_processes.py runs the
real thing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import ROOT, query
from sqlmodel import Session, SQLModel, select

from tracker.db import include_object, open_database
from tracker.health import next_runs
from tracker.models import CrawlStatus, Subscriber
from tracker.registry import Registry, load_registry
from tracker.service import (
    CrawlOutcome,
    CrawlRunner,
    Service,
    ServiceError,
    acquire,
    scheduler_lock,
    utcnow,
)
from tracker.settings import Settings, load_settings
from tracker.store import Store

LA = ZoneInfo("America/Los_Angeles")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakeRunner(CrawlRunner):
    """Records each crawl as ``ice-tracker crawl`` would, in this process.

    ``outcomes`` is consumed in order: ("ok", items), ("failed", message), or ("die", reason),
    a process that dies leaving its run "running"; when it is empty, ("ok", 40).
    """

    def __init__(self, settings: Settings, outcomes: list[tuple[str, object]] | None = None):
        super().__init__(settings)
        self.outcomes = list(outcomes or [])
        self.calls: list[tuple[str, bool]] = []
        self.store = Store(open_database(settings.resolved_database_url))

    def run(self, slug: str, *, full: bool = False) -> CrawlOutcome:
        self.calls.append((slug, full))
        kind, value = self.outcomes.pop(0) if self.outcomes else ("ok", 40)
        jid = self.store.ensure_jurisdiction(load_registry().get(slug))
        now = datetime.now(UTC)
        run_id = self.store.start_run(
            jid,
            spider="legistar",
            mode="full" if full else "incremental",
            since=None,
            window=(now, now),
            replay=None,
            archive=None,
        )
        if kind == "die":
            return CrawlOutcome(slug, -9, 0.1, str(value))
        self.store.finish_run(
            run_id,
            status=CrawlStatus.OK if kind == "ok" else CrawlStatus.FAILED,
            requests=20,
            items=int(value) if kind == "ok" else 0,  # type: ignore[call-overload]
            problems={} if kind == "ok" else {"http/500": 1},
            message=None if kind == "ok" else str(value),
        )
        return CrawlOutcome(slug, 0 if kind == "ok" else 1, 0.1, None)


def settings_for(url: str, tmp_path: Path, **overrides: object) -> Settings:
    return load_settings({"database_url": url, "data_dir": str(tmp_path / "data"), **overrides})


def service(
    settings: Settings,
    clock: Callable[[], datetime],
    runner: CrawlRunner | None = None,
    slugs: tuple[str, ...] = ("seattle",),
    registry: Registry | None = None,
) -> Service:
    registry = registry or load_registry()
    return Service(
        settings,
        [registry.get(s) for s in slugs],
        registry,
        clock=clock,
        runner=runner or FakeRunner(settings),
    )


def ran(results: list[object] | None, prefix: str = "") -> list[str]:
    assert results is not None
    return sorted(r.job_id for r in results if r.job_id.startswith(prefix))  # type: ignore[attr-defined]


START = datetime(2025, 3, 8, 13, 7, tzinfo=UTC)  # 05:07 in Seattle, the day before DST


def test_a_new_place_is_crawled_at_once_and_then_on_its_grid(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path, crawl_jitter_seconds=0)
    runner = FakeRunner(settings)
    svc = service(settings, Clock(START), runner, slugs=("seattle", "boston"))
    assert ran(svc.run_once(threading.Event()), "crawl") == ["crawl:boston", "crawl:seattle"]
    assert sorted(runner.calls) == [("boston", False), ("seattle", False)]
    jobs = next_runs(svc.engine)
    assert START < jobs["crawl:seattle"] <= START + timedelta(hours=6)
    assert jobs["sweep:seattle"].astimezone(LA).hour == 3
    assert jobs["digest:daily:America/Los_Angeles"] == datetime(2025, 3, 8, 15, tzinfo=UTC)


def test_runs_missed_during_downtime_run_once(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(database_url, tmp_path, crawl_jitter_seconds=0)
    clock = Clock(START)
    service(settings, clock).run_once(threading.Event())
    # 30 hours down: five crawls, a nightly sweep, two daily digests and 120 immediate digest
    # runs were missed.
    clock.now = START + timedelta(hours=30)
    runner = FakeRunner(settings)
    results = service(settings, clock, runner).run_once(threading.Event())
    assert runner.calls.count(("seattle", False)) == 1
    assert ran(results, "crawl:") == ["crawl:seattle"]
    assert ran(results, "digest:immediate") == ["digest:immediate"]
    assert ran(results, "send") == ["send"]
    assert ran(results, "digest:daily:America/Los_Angeles") == [
        "digest:daily:America/Los_Angeles"
    ]  # 07:00 PDT, 5 hours ago: within its grace
    # The sweep (03:xx PDT, 10:xx UTC) is 8 hours late: past its grace, skipped.
    [sweep] = [r for r in results or [] if r.job_id == "sweep:seattle"]
    assert sweep.outcome == "missed: too late to run"
    jobs = next_runs(open_database(database_url))
    assert all(when > clock.now for when in jobs.values())


def test_digests_fire_at_seven_local_across_daylight_saving(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    clock = Clock(datetime(2025, 3, 8, 6, tzinfo=UTC))
    service(settings, clock).run_once(threading.Event())
    seattle = "digest:daily:America/Los_Angeles"
    moments = [
        (datetime(2025, 3, 8, 14, 59, tzinfo=UTC), False),  # 06:59 PST
        (datetime(2025, 3, 8, 15, 0, 30, tzinfo=UTC), True),  # 07:00 PST
        (datetime(2025, 3, 9, 13, 59, tzinfo=UTC), False),  # 06:59 PDT
        (datetime(2025, 3, 9, 14, 0, 30, tzinfo=UTC), True),  # 07:00 PDT: an hour earlier in UTC
        (datetime(2025, 3, 9, 15, 0, 30, tzinfo=UTC), False),  # not twice
    ]
    for moment, expected in moments:
        clock.now = moment
        results = service(settings, clock).run_once(threading.Event())
        assert (seattle in ran(results)) is expected, moment


def test_the_scheduler_coalesces_missed_runs(database_url: str, tmp_path: Path) -> None:
    """APScheduler itself, on the job store: a job 20 hours overdue runs once on start."""
    now = datetime.now(UTC)
    # The nightly sweep is set two hours ahead, so that it is not one of the missed runs.
    sweep_hour = (now.astimezone(LA) + timedelta(hours=2)).hour
    settings = settings_for(database_url, tmp_path, sweep_hour=sweep_hour)
    before = service(settings, Clock(now - timedelta(hours=20)))
    with before._started(threading.Event(), wait=False):
        pass  # jobs stored as of 20 hours ago: the crawl due then, and never run
    owed = next_runs(before.engine)["crawl:seattle"]
    assert abs(owed - (now - timedelta(hours=20))) < timedelta(milliseconds=1)

    runner = FakeRunner(settings)
    live = service(settings, utcnow, runner)
    stop = threading.Event()
    thread = threading.Thread(target=live.serve, args=(stop,), kwargs={"check_seconds": 0.1})
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not runner.calls and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # time enough for a second, wrong, run
    finally:
        stop.set()
        thread.join(30)
    assert runner.calls == [("seattle", False)]
    assert next_runs(live.engine)["crawl:seattle"] > now


def test_restarts_keep_jobs_and_drop_places_no_longer_served(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    clock = Clock(START)
    first = service(settings, clock, slugs=("seattle", "boston"))
    with first._started(threading.Event(), wait=False):
        pass
    stored = next_runs(first.engine)
    assert {"crawl:boston", "sweep:boston", "crawl:seattle", "send"} <= set(stored)

    clock.now = START + timedelta(hours=1)
    with service(settings, clock, slugs=("seattle",))._started(threading.Event(), wait=False):
        pass
    again = next_runs(first.engine)
    assert "crawl:boston" not in again
    assert "sweep:boston" not in again
    assert again["crawl:seattle"] == stored["crawl:seattle"]  # still owed from START
    assert again["sweep:seattle"] == stored["sweep:seattle"]

    # A changed setting replaces the job...
    daily = "digest:daily:America/Los_Angeles"
    assert stored[daily] == datetime(2025, 3, 8, 15, tzinfo=UTC)  # 07:00 PST
    with service(settings_for(database_url, tmp_path, digest_hour=9), clock)._started(
        threading.Event(), wait=False
    ):
        pass
    assert next_runs(first.engine)[daily] == datetime(2025, 3, 8, 17, tzinfo=UTC)  # 09:00 PST
    # ...and keeps a run it missed while the service was down.
    clock.now = START + timedelta(hours=10)
    with service(settings_for(database_url, tmp_path, digest_hour=10), clock)._started(
        threading.Event(), wait=False
    ):
        pass
    assert next_runs(first.engine)[daily] == datetime(2025, 3, 8, 17, tzinfo=UTC)


def test_an_ice_meeting_brings_the_next_crawl_forward(database_url: str, tmp_path: Path) -> None:
    from tracker.models import AgendaItem, Jurisdiction, Meeting

    settings = settings_for(database_url, tmp_path, crawl_jitter_seconds=0)
    clock = Clock(START)
    svc = service(settings, clock)
    svc.run_once(threading.Event())
    regular = next_runs(svc.engine)["crawl:seattle"]
    with Session(svc.engine) as session, session.begin():
        jid = session.exec(select(Jurisdiction.id).where(Jurisdiction.slug == "seattle")).one()
        meeting = Meeting(
            jurisdiction_id=jid,
            platform="legistar",
            platform_id="9001",
            start=START + timedelta(hours=30),
            timezone="America/Los_Angeles",
        )
        session.add(meeting)
        session.flush()
        session.add(
            AgendaItem(meeting_id=meeting.id, platform_id="1", title="287(g)", relevant=True)
        )
    clock.now = START + timedelta(minutes=30)
    runner = FakeRunner(settings)
    busy = service(settings, clock, runner)
    with busy._started(threading.Event(), wait=False):
        busy.crawl("seattle")  # re-reads the meetings after the crawl
        soon = next_runs(busy.engine)["crawl:seattle"]
    assert soon <= min(regular, clock.now + timedelta(hours=1))


def test_a_crawl_left_running_is_recorded_interrupted_and_crawled_again(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    clock = Clock(START)
    service(settings, clock).run_once(threading.Event())
    store = Store(open_database(database_url))
    jid = store.ensure_jurisdiction(load_registry().get("seattle"))
    store.start_run(
        jid,
        spider="legistar",
        mode="full",
        since=None,
        window=(START, START),
        replay=None,
        archive=None,
    )  # a crawl whose service was killed
    clock.now = START + timedelta(minutes=10)  # the next crawl is hours away
    runner = FakeRunner(settings)
    service(settings, clock, runner).run_once(threading.Event())
    assert runner.calls == [("seattle", False)]
    rows = query(database_url, "SELECT status, message FROM crawl_run ORDER BY id")
    assert [r.status for r in rows] == ["ok", "failed", "ok"]
    assert rows[1].message.startswith("interrupted: the service stopped during this crawl")


def test_a_crawl_process_that_dies_is_recorded_failed(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(database_url, tmp_path)
    runner = FakeRunner(settings, [("die", "the crawl process died of SIGSEGV")])
    svc = service(settings, Clock(START), runner)
    svc.crawl("seattle")
    [row] = query(database_url, "SELECT status, message, finished_at FROM crawl_run")
    assert row.status == "failed"
    assert row.message == "the crawl process died of SIGSEGV"
    assert row.finished_at is not None


CRASH = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import UTC, datetime
    from tracker.db import open_database
    from tracker.registry import load_registry
    from tracker.store import Store
    store = Store(open_database(os.environ["TRACKER_DATABASE_URL"]))
    jid = store.ensure_jurisdiction(load_registry().get(sys.argv[1]))
    now = datetime.now(UTC)
    store.start_run(jid, spider="legistar", mode="full", since=None, window=(now, now),
                    replay=None, archive=None)
    print("fetched 3 pages", flush=True)
    os.kill(os.getpid(), signal.SIGSEGV)
    """
)


def test_a_real_crawl_process_crash_is_recorded(sqlite_url: str, tmp_path: Path) -> None:
    settings = settings_for(sqlite_url, tmp_path)
    runner = CrawlRunner(settings, command=lambda slug, full: [sys.executable, "-c", CRASH, slug])
    svc = service(settings, Clock(START), runner)
    svc.crawl("seattle")
    [row] = query(sqlite_url, "SELECT status, message FROM crawl_run")
    assert row.status == "failed"
    assert row.message == "the crawl process died of SIGSEGV after: fetched 3 pages"


def test_a_crawl_that_cannot_start_is_recorded(sqlite_url: str, tmp_path: Path) -> None:
    settings = settings_for(sqlite_url, tmp_path)
    fail = "import sys; print('ice-tracker: error: no spider for it'); sys.exit(1)"
    runner = CrawlRunner(settings, command=lambda slug, full: [sys.executable, "-c", fail])
    service(settings, Clock(START), runner).crawl("seattle")
    [row] = query(sqlite_url, "SELECT status, message FROM crawl_run")
    assert row.status == "failed"
    assert (
        row.message == "the crawl process exited with code 1: ice-tracker: error: no spider for it"
    )


def test_the_operator_is_alerted_once_per_change(database_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    settings = settings_for(
        database_url,
        tmp_path,
        operator_email="ops@example.org",
        mail_transport="files",
        outbox_dir=str(outbox),
    )
    engine = open_database(database_url)
    with Session(engine) as session, session.begin():
        session.add(Subscriber(email="reader@example.com", status="active"))
    runner = FakeRunner(
        settings,
        [
            ("ok", 60),
            ("failed", "HTTP 503 on /events"),
            ("failed", "HTTP 503 on /events"),  # the second failure: alert
            ("failed", "HTTP 503 on /events"),  # no second alert
            ("ok", 70),  # recovered: alert
            ("ok", 0),  # found nothing where it found 60 and 70: alert
        ],
    )
    svc = service(settings, Clock(START), runner)
    for _ in range(6):
        svc.crawl("seattle")
    messages = sorted(outbox.glob("*.eml"))
    texts = [m.read_text(encoding="utf-8") for m in messages]
    subjects = sorted(
        line.removeprefix("Subject: ")
        for text in texts
        for line in text.splitlines()
        if line.startswith("Subject: ")
    )
    assert subjects == [
        "[ice-tracker] seattle: 2 crawls in a row failed",
        "[ice-tracker] seattle: crawls work again",
        "[ice-tracker] seattle: the spider found nothing (it may be broken)",
    ]
    for text in texts:
        assert "To: ops@example.org" in text
        assert "reader@example.com" not in text


def test_the_job_table_stays_out_of_the_schema_comparison(
    database_url: str, tmp_path: Path
) -> None:
    svc = service(settings_for(database_url, tmp_path), Clock(START))
    with svc._started(threading.Event(), wait=False):
        pass
    assert next_runs(svc.engine)  # the job table exists
    with svc.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_object}
        )
        assert compare_metadata(context, SQLModel.metadata) == []


def test_a_second_scheduler_is_refused(database_url: str) -> None:
    first = scheduler_lock(database_url)
    assert first.try_acquire()
    second = scheduler_lock(database_url)
    try:
        with pytest.raises(ServiceError, match=r"another scheduler is running \(.*pid \d+"):
            acquire(second, wait=False, stop=threading.Event())
        stop = threading.Event()
        stop.set()
        assert acquire(second, wait=True, stop=stop) is False  # stopped while waiting
        first.release()
        assert second.try_acquire()
    finally:
        second.release()
        first.release()


HOLD = textwrap.dedent(
    """
    import sys, threading, time
    from tracker.service import acquire, scheduler_lock
    lock = scheduler_lock(sys.argv[1])
    acquire(lock, wait=True, stop=threading.Event())
    with open(sys.argv[2], "a") as log:
        log.write(f"{time.time()} start\\n")
    time.sleep(0.4)
    with open(sys.argv[2], "a") as log:
        log.write(f"{time.time()} end\\n")
    lock.release()
    """
)


def test_processes_contending_for_the_lock_take_turns(database_url: str, tmp_path: Path) -> None:
    open_database(database_url)
    log = tmp_path / "turns.log"
    procs = [
        subprocess.Popen([sys.executable, "-c", HOLD, database_url, str(log)], cwd=ROOT)
        for _ in range(3)
    ]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    events = [line.split() for line in log.read_text().splitlines()]
    assert [kind for _, kind in events] == ["start", "end"] * 3  # never two at once
