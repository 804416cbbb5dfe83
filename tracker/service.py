"""The tracker as a service: APScheduler jobs that crawl, queue digests and send them.

``python schedule.py`` and ``ice-tracker run`` start it; ``ice-tracker run --once`` runs every
job that is due once and exits (for cron).

Jobs (ids are stable; the job store keeps them between restarts):

- ``crawl:SLUG`` every ``crawl_interval_hours`` of the registry entry (default 6), on a grid
  anchored per place so that places spread over the interval, up to ``crawl_jitter_seconds``
  late; in the ``crawl_urgent_hours`` (72) before a known meeting with an ICE item, every
  ``crawl_urgent_interval_hours`` (1) instead (:class:`CrawlTrigger`; the meetings are re-read
  after every crawl). A new place is crawled at once.
- ``sweep:SLUG`` a full sweep every night at ``sweep_hour`` (3) in the place's own timezone,
  at a minute of the hour that depends on the slug.
- ``digest:immediate`` every ``immediate_digest_minutes`` (15): immediate digests, and daily
  or weekly ones sent early because a meeting is near (tracker/digest.py decides).
- ``digest:daily:TZ`` and ``digest:weekly:TZ`` at ``digest_hour`` (7) local time in TZ, weekly
  on ``digest_weekday``, for the subscribers whose local time is TZ. A subscriber's local time
  is the timezone of the first place their subscription follows (the organizer's own city
  comes first when they sign up); someone who follows every place gets ``digest_timezone``.
  There is one job per timezone of the registry plus ``digest_timezone``, so every subscriber
  has exactly one.
- ``send`` every ``send_interval_minutes`` (5), and at once after a digest job queued something.

Every job has ``max_instances=1``: two crawls of one place at once would double the load on
the council's site and each would record the other as interrupted; two queueing or sending
runs would only race for the same rows. Every job has ``coalesce=True``: after downtime, the
runs a job missed are one run, not N (an incremental crawl reaches back to its last success
anyway, digests cover everything after their high-water mark, the sender sends all that is
due). ``misfire_grace_time`` says how late a missed run may still start: crawls, the
immediate digest and the sender always run (None: late is better than never); a daily digest
up to 12 hours late and a weekly one up to 2 days late, beyond which the next one carries the
changes (nobody wants yesterday's 7 a.m. digest at 2 a.m.); a nightly sweep up to 3 hours late,
so a sweep does not land on a council's site in office hours (the regular crawl still runs, and
a crawl is full whenever the last full one is older than ``full_sweep_hours``).

Each crawl runs in its own process (``python -m tracker.service crawl SLUG``, which is
``ice-tracker crawl`` that dies with the service: Scrapy's reactor cannot restart, and a hung
or crashed crawl must not take the service down). A crawl still running after
``crawl_time_limit_seconds`` is killed, and a crawl process that dies without recording its
result has its CrawlRun marked failed with the reason. A crawl of a place that is already being
crawled is skipped (the sweep waits for it instead).

One scheduler at a time: a PostgreSQL advisory lock (keyed on the database and schema), or an
``flock`` on a lock file beside the SQLite database (``tracker.db.scheduler.lock``). A second
``run`` exits with a message naming the holder, or with ``--wait`` waits for it to stop. The
lock is released by the operating system when the holder dies, however it dies.

Restarts: the job store lives in the tracker's database (APScheduler's SQLAlchemyJobStore,
table ``apscheduler_jobs``, left out of our migrations). At start the jobs are reconciled with
the registry and settings (unchanged jobs keep their next run time, so a run missed during
downtime still happens), and crawls left ``running`` by a service that died are marked failed
(interrupted) and crawled again at once. SIGTERM and SIGINT stop the scheduler, give running
crawls ``shutdown_grace_seconds`` to record their result, then kill them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures import ThreadPoolExecutor as Pool
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker.db import make_engine, open_database
from tracker.exceptions import ConfigError, ServiceError, TrackerError
from tracker.health import JOB_TABLE, Health, alert_kind, alert_text, health_of, recent_runs
from tracker.models import AgendaItem, CrawlRun, CrawlStatus, Jurisdiction, Meeting, MeetingStatus
from tracker.registry import Entry, Registry
from tracker.settings import Settings

logger = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Grids (crawl intervals, the immediate digest, the sender) are anchored here, so that a job's
# times do not depend on when the service happened to start.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
DAILY_GRACE = 12 * 3600
WEEKLY_GRACE = 2 * 24 * 3600
SWEEP_GRACE = 3 * 3600
LOCK_POLL_SECONDS = 1.0
# The crawl subprocess reads the service's pid here and dies with it (see _die_with_parent).
PARENT_ENV = "ICE_TRACKER_SERVICE_PID"
ROOT = Path(__file__).resolve().parent.parent


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- one scheduler at a time -------------------------------------------------------------------


class SchedulerLock(Protocol):
    where: str

    def try_acquire(self) -> bool: ...

    def holder(self) -> str: ...

    def check(self) -> None: ...

    def release(self) -> None: ...


def _whoami() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()} since {utcnow():%Y-%m-%d %H:%M:%S} UTC"


class FileLock:
    """An ``flock`` on a file beside the SQLite database; the kernel drops it when we die."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = f"the lock file {path}"
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{_whoami()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip() or "unknown"
        except OSError:
            return "unknown"

    def check(self) -> None:
        pass

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class PostgresLock:
    """A session-level advisory lock on a connection kept open for the service's lifetime."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.where = "a PostgreSQL advisory lock"
        self._conn: sa.Connection | None = None
        self.key = 0

    def _connect(self) -> sa.Connection:
        if self._conn is None:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            database, schema = conn.execute(
                sa.text("SELECT current_database(), current_schema()")
            ).one()
            digest = hashlib.blake2b(f"ice-tracker scheduler {database}.{schema}".encode())
            self.key = int.from_bytes(digest.digest()[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF
            self.where = f"PostgreSQL advisory lock {self.key} ({database}.{schema})"
            conn.execute(
                sa.text("SELECT set_config('application_name', :name, false)"),
                {"name": f"ice-tracker scheduler {_whoami()}"[:63]},
            )
            self._conn = conn
        return self._conn

    def try_acquire(self) -> bool:
        conn = self._connect()
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
        return bool(got)

    def holder(self) -> str:
        conn = self._connect()
        row = conn.execute(
            sa.text(
                "SELECT a.pid, a.application_name, a.client_addr FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.classid::bigint = :hi AND l.objid::bigint = :lo "
                "AND l.objsubid = 1"
            ),
            {"hi": self.key >> 32, "lo": self.key & 0xFFFF_FFFF},
        ).first()
        if row is None:
            return "unknown"
        where = row.client_addr or "local"
        return f"{row.application_name or 'a client'} (backend {row.pid}, {where})"

    def check(self) -> None:
        try:
            self._connect().execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise ServiceError(
                f"lost the database connection that holds the scheduler lock: {exc}"
            ) from None

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                self._conn.close()
            self._conn = None
        self.engine.dispose()


class NoLock:
    """An in-memory SQLite database: no other process can reach it anyway."""

    where = "nothing (in-memory database)"

    def try_acquire(self) -> bool:
        return True

    def holder(self) -> str:
        return "nobody"

    def check(self) -> None:
        pass

    def release(self) -> None:
        pass


def scheduler_lock(database_url: str) -> SchedulerLock:
    url = sa.make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return PostgresLock(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return NoLock()
        path = Path(url.database).expanduser()
        return FileLock(path.with_name(path.name + ".scheduler.lock"))
    raise ConfigError(f"no scheduler lock for {url.get_backend_name()!r} databases")


def acquire(lock: SchedulerLock, *, wait: bool, stop: threading.Event) -> bool:
    """Take the lock; False when ``stop`` was set while waiting for it."""
    if lock.try_acquire():
        return True
    if not wait:
        raise ServiceError(
            f"another scheduler is running ({lock.holder()}; it holds {lock.where}): "
            "stop it first, or use --wait to take over when it stops"
        )
    logger.info("waiting for the scheduler running as %s to stop", lock.holder())
    while not stop.wait(LOCK_POLL_SECONDS):
        if lock.try_acquire():
            return True
    return False


# -- triggers ----------------------------------------------------------------------------------


def crawl_anchor(slug: str, every: timedelta) -> datetime:
    """Where a place's crawl grid starts: spread over the interval by the slug, stable."""
    seconds = max(int(every.total_seconds()), 1)
    return EPOCH + timedelta(seconds=zlib.crc32(slug.encode()) % seconds)


class CrawlTrigger(BaseTrigger):
    """Every ``every`` on a grid from ``anchor``; every ``urgent_every`` within
    ``urgent_hours`` before each of ``meetings`` (UTC start times of meetings with ICE items).

    Fire times sit on grids, never on the previous (jittered) fire time, so the jitter does not
    make a job drift; elapsed time is what counts, so a daylight-saving change moves nothing.
    """

    def __init__(
        self,
        every: timedelta,
        *,
        anchor: datetime,
        meetings: Sequence[datetime] = (),
        urgent_hours: float = 72,
        urgent_every: timedelta = timedelta(hours=1),
        jitter: int = 0,
    ) -> None:
        if every <= timedelta(0) or urgent_every <= timedelta(0):
            raise ConfigError("crawl intervals must be positive")
        self.every = every
        self.anchor = anchor
        self.meetings = tuple(sorted(m.astimezone(UTC) for m in meetings))
        self.urgent = timedelta(hours=urgent_hours)
        self.urgent_every = urgent_every
        # Less than a step: the next grid point after a jittered time is the one that follows.
        self.jitter = int(min(jitter, every.total_seconds() / 4, urgent_every.total_seconds() / 4))

    def _grid(self, after: datetime, step: timedelta, strict: bool) -> datetime:
        point = self.anchor + ((after - self.anchor) // step) * step
        while point < after or (strict and point == after):
            point += step
        return point

    def next_time(self, previous: datetime | None, now: datetime) -> datetime:
        """The next fire time before jitter: after ``previous``, else at or after ``now``."""
        after = previous if previous is not None else now
        strict = previous is not None
        best = self._grid(after, self.every, strict)
        for meeting in self.meetings:
            start = meeting - self.urgent
            if meeting < after or start >= best:
                continue
            point = self._grid(max(after, start), self.urgent_every, strict and start <= after)
            if point <= meeting:
                best = min(best, point)
        return best

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        return self._apply_jitter(self.next_time(previous_fire_time, now), self.jitter, now)

    def __str__(self) -> str:
        return f"every {self.every.total_seconds() / 3600:g}h" + (
            f", {len(self.meetings)} ICE meeting(s) ahead" if self.meetings else ""
        )

    def __repr__(self) -> str:
        return f"<CrawlTrigger ({self})>"


class LocalTimeTrigger(CronTrigger):
    """A cron trigger in a local timezone that fires at most once per local day.

    APScheduler's CronTrigger fires twice when a daylight-saving change repeats its hour (1:30
    a.m. on the first Sunday of November in the US); a digest or a sweep should not. A time
    that does not exist (2:30 a.m. on the second Sunday of March) fires an hour later.
    """

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        nxt = super().get_next_fire_time(previous_fire_time, now)
        if nxt is not None and previous_fire_time is not None:
            zone = self.timezone
            if nxt.astimezone(zone).date() == previous_fire_time.astimezone(zone).date():
                nxt = super().get_next_fire_time(nxt, nxt)
        return nxt


def daily_trigger(hour: int, minute: int, timezone: str, weekday: str | None = None) -> CronTrigger:
    return LocalTimeTrigger(
        day_of_week=weekday or "*", hour=hour, minute=minute, timezone=ZoneInfo(timezone)
    )


def subscriber_timezone(follows: Sequence[str], registry: Registry, default: str) -> str:
    """A subscriber's local time: the timezone of the first place they follow that we know."""
    for slug in follows:
        entry = registry.entries.get(slug)
        if entry is not None:
            return entry.timezone
    return default


def ice_meetings(engine: Engine, slug: str, start: datetime, end: datetime) -> list[datetime]:
    """Start times of the place's meetings in [start, end) that have an ICE item."""
    query = (
        select(Meeting.start)
        .join(Jurisdiction, col(Jurisdiction.id) == col(Meeting.jurisdiction_id))
        .join(AgendaItem, col(AgendaItem.meeting_id) == col(Meeting.id))
        .where(
            Jurisdiction.slug == slug,
            col(Meeting.start) >= start,
            col(Meeting.start) < end,
            col(Meeting.removed_at).is_(None),
            Meeting.status != MeetingStatus.CANCELLED,
            col(AgendaItem.relevant).is_(True),
            col(AgendaItem.removed_at).is_(None),
        )
        .distinct()
    )
    with Session(engine) as session:
        return sorted(s for s in session.exec(query) if s is not None)


# -- crawls in their own processes -------------------------------------------------------------


@dataclass(frozen=True)
class CrawlOutcome:
    slug: str
    returncode: int | None
    seconds: float
    failure: str | None  # why the process failed outside the crawl's own record
    output: tuple[str, ...] = ()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class CrawlRunner:
    """Runs one ``ice-tracker crawl`` in a child process with a time limit.

    ``command`` (slug, full) -> argv is the seam tests use to run something else; by default it
    is ``python -m tracker.service crawl SLUG`` with the service's registry files and
    ``crawl_extra_args``. The database and data folder reach the child through its environment,
    so a password in the URL never shows in the process list.
    """

    def __init__(
        self,
        settings: Settings,
        registry_files: Sequence[Path] = (),
        *,
        command: Callable[[str, bool], list[str]] | None = None,
    ) -> None:
        self.settings = settings
        self.registry_files = tuple(registry_files)
        self.command = command or self.default_command
        self.stopping = threading.Event()
        self._procs: dict[int, subprocess.Popen[str]] = {}
        self._lock = threading.Lock()

    def default_command(self, slug: str, full: bool) -> list[str]:
        argv = [sys.executable, "-m", "tracker.service", "crawl", slug, "--no-progress"]
        for path in self.registry_files:
            argv += ["--registry", str(path)]
        if full:
            argv.append("--full")
        return argv + shlex.split(self.settings.crawl_extra_args)

    def environment(self) -> dict[str, str]:
        settings = self.settings
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        return {
            **os.environ,
            "TRACKER_DATABASE_URL": settings.resolved_database_url,
            "TRACKER_DATA_DIR": str(settings.resolved_data_dir),
            "PYTHONPATH": path,
            "PYTHONUNBUFFERED": "1",
            PARENT_ENV: str(os.getpid()),
        }

    def run(self, slug: str, *, full: bool = False) -> CrawlOutcome:
        limit = self.settings.crawl_time_limit_seconds
        started = time.monotonic()
        output: deque[str] = deque(maxlen=40)
        proc = subprocess.Popen(
            self.command(slug, full),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=self.environment(),
            start_new_session=True,  # its own process group: killed as one, spared our Ctrl-C
        )
        with self._lock:
            self._procs[proc.pid] = proc
            late = self.stopping.is_set()
        if late:  # stop_all ran while this one was starting
            _kill_group(proc, signal.SIGTERM)

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip()
                output.append(line)
                logger.info("crawl %s: %s", slug, line)

        reader = threading.Thread(target=read, name=f"crawl-{slug}-output", daemon=True)
        reader.start()
        killed = None
        try:
            proc.wait(timeout=limit if limit > 0 else None)
        except subprocess.TimeoutExpired:
            # A hung crawl seldom answers SIGTERM (a blocked reactor): kill it outright.
            _kill_group(proc, signal.SIGKILL)
            proc.wait()
            killed = f"killed after {limit} s (crawl_time_limit_seconds): hung or too long"
        finally:
            with self._lock:
                self._procs.pop(proc.pid, None)
        reader.join(timeout=5)
        lines = tuple(output)
        return CrawlOutcome(
            slug,
            proc.returncode,
            time.monotonic() - started,
            killed or self._failure(proc.returncode, lines),
            lines,
        )

    def _failure(self, code: int | None, output: Sequence[str]) -> str | None:
        if self.stopping.is_set() and code != 0:
            return "interrupted: the service shut down during the crawl"
        last = next((line for line in reversed(output) if line.strip()), "")[:300]
        if code is not None and code < 0:
            return f"the crawl process died of {_signal_name(-code)}" + (
                f" after: {last}" if last else ""
            )
        if code:
            return f"the crawl process exited with code {code}" + (f": {last}" if last else "")
        return None

    def stop_all(self, grace: float) -> None:
        """Ask every running crawl to stop (SIGTERM: Scrapy records the run), then kill."""
        with self._lock:
            self.stopping.set()
            procs = list(self._procs.values())
        for proc in procs:
            _kill_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                _kill_group(proc, signal.SIGKILL)


def _kill_group(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


# -- the service -------------------------------------------------------------------------------


class Scheduler(BackgroundScheduler):
    """APScheduler's background scheduler, minus one pass too many.

    On shutdown APScheduler 3.11 wakes its thread once more and processes the due jobs of a
    scheduler already marked stopped: every job due at that moment has its next run time
    advanced while its executor refuses it, so a run owed is silently lost. Here a scheduler
    that is not running processes nothing.
    """

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None
        wait_seconds: float | None = super()._process_jobs()
        return wait_seconds


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: str
    args: tuple[Any, ...]
    trigger: BaseTrigger
    name: str  # describes every parameter: a stored job whose name differs is replaced
    executor: str = "default"
    misfire_grace_time: int | None = None
    first_run: datetime | None = None  # when a new job first runs (default: its trigger)


@dataclass(frozen=True)
class JobResult:
    job_id: str
    scheduled: datetime
    outcome: str
    error: bool = False


@dataclass
class Counters:
    results: list[JobResult] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, result: JobResult) -> None:
        with self.lock:
            self.results.append(result)


_CURRENT: Service | None = None


def current() -> Service:
    if _CURRENT is None:
        raise ServiceError("no service is running in this process")
    return _CURRENT


class Service:
    """The scheduler, its jobs and what they do. ``clock`` is the seam tests turn."""

    def __init__(
        self,
        settings: Settings,
        entries: Sequence[Entry],
        registry: Registry,
        registry_files: Sequence[Path] = (),
        *,
        clock: Callable[[], datetime] = utcnow,
        runner: CrawlRunner | None = None,
    ) -> None:
        check_settings(settings)
        self.settings = settings
        self.entries = {e.slug: e for e in entries}
        self.registry = registry
        self.clock = clock
        # scrapyd dispatch (issue #11): with scrapyd nodes configured, crawls run there as
        # scrapyd jobs (tracker/scrapyd.py) instead of as local processes.
        if runner is None and settings.scrapyd_nodes:
            from tracker.scrapyd import ScrapydRunner

            runner = ScrapydRunner(settings, registry_files)
        self.runner = runner or CrawlRunner(settings, registry_files)
        self.engine = open_database(settings.resolved_database_url)
        self.scheduler: Scheduler | None = None
        self.lock: SchedulerLock | None = None
        self.history = Counters()
        self._busy = {slug: threading.Lock() for slug in self.entries}
        self.stopping = threading.Event()
        self._running = 0
        self._idle = threading.Condition()

    # -- jobs ----------------------------------------------------------------------------------

    def crawl_trigger(self, entry: Entry, now: datetime) -> CrawlTrigger:
        settings = self.settings
        every = timedelta(hours=entry.crawl_interval_hours)
        horizon = every + timedelta(hours=settings.crawl_urgent_hours) + timedelta(days=1)
        return CrawlTrigger(
            every,
            anchor=crawl_anchor(entry.slug, every),
            meetings=ice_meetings(self.engine, entry.slug, now, now + horizon),
            urgent_hours=settings.crawl_urgent_hours,
            urgent_every=timedelta(hours=settings.crawl_urgent_interval_hours),
            jitter=settings.crawl_jitter_seconds,
        )

    def digest_timezones(self) -> list[str]:
        zones = {entry.timezone for entry in self.registry}
        zones.add(self.settings.digest_timezone)
        return sorted(zones)

    def job_specs(self, now: datetime) -> list[JobSpec]:
        s = self.settings
        specs: list[JobSpec] = []
        for slug, entry in sorted(self.entries.items()):
            trigger = self.crawl_trigger(entry, now)
            specs.append(
                JobSpec(
                    id=f"crawl:{slug}",
                    func="tracker.service:crawl_job",
                    args=(slug,),
                    trigger=trigger,
                    name=(
                        f"crawl {slug} every {entry.crawl_interval_hours:g}h, every "
                        f"{s.crawl_urgent_interval_hours:g}h in the {s.crawl_urgent_hours}h "
                        f"before an ICE meeting (jitter {trigger.jitter}s)"
                    ),
                    executor="crawls",
                    first_run=now,
                )
            )
            minute = zlib.crc32(slug.encode()) % 60
            specs.append(
                JobSpec(
                    id=f"sweep:{slug}",
                    func="tracker.service:sweep_job",
                    args=(slug,),
                    trigger=daily_trigger(s.sweep_hour, minute, entry.timezone),
                    name=f"full sweep of {slug} at {s.sweep_hour:02}:{minute:02} {entry.timezone}",
                    executor="crawls",
                    misfire_grace_time=SWEEP_GRACE,
                )
            )
        specs.append(
            JobSpec(
                id="digest:immediate",
                func="tracker.service:digest_job",
                args=("immediate", None),
                trigger=IntervalTrigger(minutes=s.immediate_digest_minutes, start_date=EPOCH),
                name=f"immediate digests every {s.immediate_digest_minutes} min",
            )
        )
        for zone in self.digest_timezones():
            specs.append(
                JobSpec(
                    id=f"digest:daily:{zone}",
                    func="tracker.service:digest_job",
                    args=("daily", zone),
                    trigger=daily_trigger(s.digest_hour, 0, zone),
                    name=f"daily digests at {s.digest_hour:02}:00 {zone}",
                    misfire_grace_time=DAILY_GRACE,
                )
            )
            specs.append(
                JobSpec(
                    id=f"digest:weekly:{zone}",
                    func="tracker.service:digest_job",
                    args=("weekly", zone),
                    trigger=daily_trigger(s.digest_hour, 0, zone, s.digest_weekday),
                    name=f"weekly digests {s.digest_weekday} {s.digest_hour:02}:00 {zone}",
                    misfire_grace_time=WEEKLY_GRACE,
                )
            )
        specs.append(
            JobSpec(
                id="send",
                func="tracker.service:send_job",
                args=(),
                trigger=IntervalTrigger(minutes=s.send_interval_minutes, start_date=EPOCH),
                name=f"send the outbox every {s.send_interval_minutes} min",
            )
        )
        return specs

    def open_scheduler(self) -> Scheduler:
        """A paused scheduler on the job store in the tracker's database."""
        store = SQLAlchemyJobStore(
            engine=make_engine(self.settings.resolved_database_url), tablename=JOB_TABLE
        )
        scheduler = Scheduler(
            jobstores={"default": store},
            executors={
                "default": ThreadPoolExecutor(2),
                "crawls": ThreadPoolExecutor(max(self.settings.crawl_workers, 1)),
            },
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        scheduler.start(paused=True)
        self.scheduler = scheduler
        return scheduler

    def reconcile(self, now: datetime) -> None:
        """Make the stored jobs the ones the registry and settings call for.

        An unchanged job keeps its next run time (a run missed while the service was down is
        still owed); a changed one is replaced, keeping a run it missed; jobs of places no
        longer served are removed.
        """
        scheduler = self._scheduler()
        existing = {job.id: job for job in scheduler.get_jobs()}
        for spec in self.job_specs(now):
            old = existing.pop(spec.id, None)
            if old is not None and _same(old, spec):
                if isinstance(spec.trigger, CrawlTrigger):
                    self._retrigger(spec.id, spec.trigger, now, old.next_run_time)
                continue
            first = spec.first_run or spec.trigger.get_next_fire_time(None, now)
            if old is not None and old.next_run_time is not None and old.next_run_time <= now:
                first = old.next_run_time  # missed while the service was down: still owed
            scheduler.add_job(
                spec.func,
                trigger=spec.trigger,
                args=spec.args,
                id=spec.id,
                name=spec.name,
                executor=spec.executor,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=spec.misfire_grace_time,
                next_run_time=first,
                replace_existing=True,
            )
        for job_id in existing:
            scheduler.remove_job(job_id)

    def _retrigger(
        self, job_id: str, trigger: CrawlTrigger, now: datetime, current_next: datetime | None
    ) -> None:
        """Give a crawl job the meetings just read; bring its next run forward if they ask."""
        changes: dict[str, Any] = {"trigger": trigger}
        soonest = trigger.get_next_fire_time(None, now)
        if current_next is None or (soonest is not None and soonest < current_next):
            changes["next_run_time"] = soonest
        self._scheduler().modify_job(job_id, **changes)

    def wake(self, job_id: str) -> None:
        """Run a job as soon as possible (it keeps its trigger)."""
        if self.stopping.is_set():
            return
        if self.scheduler is not None and self.scheduler.get_job(job_id) is not None:
            self.scheduler.modify_job(job_id, next_run_time=self.clock())

    def _scheduler(self) -> Scheduler:
        if self.scheduler is None:
            raise ServiceError("the scheduler is not open")
        return self.scheduler

    # -- what the jobs do ----------------------------------------------------------------------

    def crawl(self, slug: str, *, full: bool = False) -> str:
        entry = self.entries.get(slug)
        if entry is None:
            return f"{slug} is not served by this service"
        busy = self._busy[slug]
        if full:
            while not busy.acquire(timeout=LOCK_POLL_SECONDS):
                if self.stopping.is_set() or self.runner.stopping.is_set():
                    return "not started: the service is stopping"
        elif not busy.acquire(blocking=False):
            logger.info("crawl of %s skipped: a crawl of it is still running", slug)
            return "skipped: a crawl of this place is still running"
        try:
            before = self.health(slug)
            last_id = self._last_run_id(slug)
            logger.info("crawl of %s started%s", slug, " (full sweep)" if full else "")
            outcome = self.runner.run(slug, full=full)
            if outcome.failure:
                self._record_failure(entry, last_id, outcome.failure, full=full)
            after = self.health(slug)
            self._alert(entry, before, after)
            stopping = self.stopping.is_set() or self.scheduler is None
            job = None if stopping else self._scheduler().get_job(f"crawl:{slug}")
            if job is not None:
                now = self.clock()
                self._retrigger(job.id, self.crawl_trigger(entry, now), now, job.next_run_time)
            run = after.last_run
            summary = (
                f"{run.status} ({run.mode}) - {run.requests} requests, {run.items} items, "
                f"{run.errors} problems" + (f" - {run.message}" if run.message else "")
                if run is not None
                else "no run recorded"
            )
            logger.info("crawl of %s: %s (%.0f s)", slug, summary, outcome.seconds)
            return summary
        finally:
            busy.release()

    def health(self, slug: str) -> Health:
        runs = recent_runs(self.engine, [slug]).get(slug, [])
        return health_of(slug, runs, min_items=self.settings.broken_min_items)

    def _jurisdiction_id(self, session: Session, slug: str) -> int | None:
        return session.exec(select(Jurisdiction.id).where(Jurisdiction.slug == slug)).first()

    def _last_run_id(self, slug: str) -> int:
        with Session(self.engine) as session:
            jid = self._jurisdiction_id(session, slug)
            if jid is None:
                return 0
            last = session.exec(
                select(sa.func.max(CrawlRun.id)).where(CrawlRun.jurisdiction_id == jid)
            ).one()
            return int(last or 0)

    def _record_failure(self, entry: Entry, after_id: int, reason: str, *, full: bool) -> None:
        """The crawl process failed: its unfinished runs are failed with ``reason``; if it
        recorded none at all, a failed run says why."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            jid = self._jurisdiction_id(session, entry.slug)
            runs = (
                list(
                    session.exec(
                        select(CrawlRun).where(
                            CrawlRun.jurisdiction_id == jid, col(CrawlRun.id) > after_id
                        )
                    )
                )
                if jid is not None
                else []
            )
            for run in runs:
                if run.status == CrawlStatus.RUNNING:
                    run.status = CrawlStatus.FAILED
                    run.finished_at = now
                    run.message = reason
        if runs:
            return
        from tracker.store import Store

        store = Store(self.engine)
        jid = store.ensure_jurisdiction(entry)
        run_id = store.start_run(
            jid,
            spider=entry.platform,
            mode="full" if full else "incremental",
            since=None,
            window=(now, now),
            replay=None,
            archive=None,
        )
        store.finish_run(
            run_id, status=CrawlStatus.FAILED, requests=0, items=0, problems={}, message=reason
        )

    def recover_interrupted(self, now: datetime) -> list[str]:
        """Crawls left running by a service that died: failed, and crawled again at once."""
        with Session(self.engine) as session, session.begin():
            rows = session.exec(
                select(CrawlRun, Jurisdiction.slug)
                .join(Jurisdiction, col(Jurisdiction.id) == col(CrawlRun.jurisdiction_id))
                .where(CrawlRun.status == CrawlStatus.RUNNING)
            ).all()
            for run, _slug in rows:
                run.status = CrawlStatus.FAILED
                run.finished_at = now
                run.message = (
                    "interrupted: the service stopped during this crawl; crawled again at restart"
                )
        slugs = sorted({slug for _run, slug in rows})
        for slug in slugs:
            logger.warning("the crawl of %s was interrupted when the service stopped", slug)
        return slugs

    def subscribers_in(self, frequency: str, zone: str) -> list[int]:
        """Active subscribers with ``frequency`` digests whose local time is ``zone``."""
        from tracker.models import Subscriber, Subscription
        from tracker.subscribers import ACTIVE

        query = (
            select(Subscription.subscriber_id, Subscription.jurisdictions)
            .join(Subscriber, col(Subscriber.id) == col(Subscription.subscriber_id))
            .where(Subscriber.status == ACTIVE, Subscription.frequency == frequency)
        )
        default = self.settings.digest_timezone
        with Session(self.engine) as session:
            return sorted(
                {
                    sid
                    for sid, follows in session.exec(query)
                    if subscriber_timezone(follows or [], self.registry, default) == zone
                }
            )

    def digest(self, frequency: str, zone: str | None) -> str:
        from tracker.digest import queue_digests

        only = None
        if zone is not None:
            only = self.subscribers_in(frequency, zone)
            if not only:
                return f"no {frequency} subscribers in {zone}"
        report = queue_digests(
            self.engine,
            self.settings,
            frequency=frequency,
            registry=self.registry,
            now=self.clock(),
            only=only,
        )
        if report.queued:
            self.wake("send")
        return (
            f"queued {report.queued} digest(s); {report.empty} with nothing new, "
            f"{report.not_due} not due"
        )

    def send(self) -> str:
        from tracker.mailer import send_queued

        report = send_queued(self.engine, self.settings, clock=self.clock)
        if report.stopped:
            logger.warning("sending stopped: %s", report.stopped)
        return (
            f"sent {report.sent}; {report.retry} to retry, {report.failed} failed, "
            f"{report.bounced} bounced"
        )

    def _alert(self, entry: Entry, before: Health, after: Health) -> None:
        operator = self.settings.operator_email
        if not operator:
            return
        kind = alert_kind(before, after, self.settings.alert_after_failures)
        if kind is None or after.last_run is None:
            return
        from tracker.mailer import compose, domain_of, send_now

        subject, text = alert_text(entry, after, kind)
        domain = domain_of(self.settings.mail_from)
        message_id = f"<alert.{entry.slug}.{kind}.{after.last_run.id}@{domain}>"
        message = compose(
            sender=self.settings.mail_from,
            recipient=operator,
            subject=subject,
            message_id=message_id,
            date=self.clock(),
            language="en",
            text=text,
            html=None,
        )
        try:
            send_now(self.settings, operator, message, message_id)
        except TrackerError as exc:
            logger.warning("cannot send the operator alert about %s: %s", entry.slug, exc)
        else:
            logger.info("alerted the operator: %s", subject)

    # -- running -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _started(self, stop: threading.Event, *, wait: bool) -> Iterator[bool]:
        global _CURRENT
        lock = scheduler_lock(self.settings.resolved_database_url)
        if not acquire(lock, wait=wait, stop=stop):
            yield False
            return
        try:
            self.open_scheduler()
            _CURRENT = self
            now = self.clock()
            interrupted = self.recover_interrupted(now)
            self.reconcile(now)
            for slug in interrupted:
                self.wake(f"crawl:{slug}")
            self.lock = lock
            yield True
        finally:
            try:
                self.stop()
            finally:
                _CURRENT = None
                self.lock = None
                lock.release()

    def serve(
        self, stop: threading.Event, *, wait: bool = False, check_seconds: float = 30.0
    ) -> None:
        """Run until ``stop`` is set (the CLI sets it on SIGTERM and SIGINT)."""
        with self._started(stop, wait=wait) as started:
            if not started:
                return
            scheduler = self._scheduler()
            scheduler.resume()
            jobs = scheduler.get_jobs()
            logger.info(
                "scheduler started: %d jobs for %d place(s); next: %s",
                len(jobs),
                len(self.entries),
                ", ".join(
                    f"{j.id} {j.next_run_time:%Y-%m-%d %H:%M} UTC"
                    for j in jobs[:3]
                    if j.next_run_time is not None
                ),
            )
            while not stop.wait(check_seconds):
                assert self.lock is not None
                self.lock.check()
            logger.info("stopping: waiting for running jobs")

    def perform(self, work: Callable[..., str], *args: Any, **kwargs: Any) -> str:
        """Run one job's work, counted, unless the service is stopping."""
        with self._idle:
            if self.stopping.is_set():
                return "not started: the service is stopping"
            self._running += 1
        try:
            return work(*args, **kwargs)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def stop(self) -> None:
        """Stop taking jobs, stop the running crawls, wait for the jobs, shut down.

        The jobs must be finished before APScheduler's shutdown, which holds the job store's
        lock while it waits for them, and a job that touches the job store would wait forever.
        """
        self.stopping.set()
        scheduler = self.scheduler
        if scheduler is None:
            return
        with contextlib.suppress(Exception):
            scheduler.pause()
        grace = self.settings.shutdown_grace_seconds
        self.runner.stop_all(grace)
        with self._idle:
            if not self._idle.wait_for(lambda: self._running == 0, timeout=grace + 60):
                logger.warning("stopping with %d job(s) still running", self._running)
        with contextlib.suppress(Exception):
            scheduler.shutdown(wait=True)
        self.scheduler = None

    def run_once(self, stop: threading.Event, *, wait: bool = False) -> list[JobResult] | None:
        """Run every job that is due now once (missed runs coalesced), then return.

        Crawls first (at most ``crawl_workers`` at once), then digests, then the sender, so
        what the crawls found goes out in the same run. None: stopped while waiting for the lock.
        """
        with self._started(stop, wait=wait) as started:
            if not started:
                return None
            for prefixes in (("crawl:", "sweep:"), ("digest:",), ("send",)):
                if stop.is_set():
                    break
                due = self._take_due(prefixes, self.clock())
                workers = max(self.settings.crawl_workers, 1) if prefixes[0] == "crawl:" else 1
                self._run_all(due, workers, stop)
            return list(self.history.results)

    def _take_due(self, prefixes: tuple[str, ...], now: datetime) -> list[tuple[Job, datetime]]:
        """The jobs due at ``now``, each advanced past now as the scheduler would advance it."""
        scheduler = self._scheduler()
        due = []
        for job in scheduler.get_jobs():
            if not job.id.startswith(prefixes) or job.next_run_time is None:
                continue
            times: list[datetime] = []
            nxt: datetime | None = job.next_run_time
            while nxt is not None and nxt <= now:
                times.append(nxt)
                nxt = job.trigger.get_next_fire_time(nxt, now)
            if not times:
                continue
            if nxt is None:
                scheduler.remove_job(job.id)
            else:
                scheduler.modify_job(job.id, next_run_time=nxt)
            scheduled = times[-1]  # coalesced
            grace = job.misfire_grace_time
            if grace is not None and (now - scheduled).total_seconds() > grace:
                self.history.add(JobResult(job.id, scheduled, "missed: too late to run"))
                continue
            due.append((job, scheduled))
        return due

    def _run_all(
        self, due: Sequence[tuple[Job, datetime]], workers: int, stop: threading.Event
    ) -> None:
        if not due:
            return
        with Pool(max_workers=workers, thread_name_prefix="once") as pool:
            pending: set[Future[None]] = {
                pool.submit(self._run_job, job, scheduled) for job, scheduled in due
            }
            while pending:
                _done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                if stop.is_set():
                    self.runner.stop_all(self.settings.shutdown_grace_seconds)
                    for future in pending:
                        future.cancel()

    def _run_job(self, job: Job, scheduled: datetime) -> None:
        try:
            outcome = job.func(*job.args, **job.kwargs)
        except Exception as exc:
            logger.exception("job %s failed", job.id)
            self.history.add(JobResult(job.id, scheduled, f"error: {exc}", error=True))
        else:
            self.history.add(JobResult(job.id, scheduled, str(outcome)))


def _same(job: Job, spec: JobSpec) -> bool:
    return (
        job.name == spec.name
        and job.func_ref == spec.func
        and tuple(job.args) == spec.args
        and job.executor == spec.executor
        and job.misfire_grace_time == spec.misfire_grace_time
        and type(job.trigger) is type(spec.trigger)
    )


def check_settings(settings: Settings) -> None:
    for name in ("sweep_hour", "digest_hour"):
        if not 0 <= getattr(settings, name) <= 23:
            raise ConfigError(f"{name} must be an hour from 0 to 23")
    if settings.digest_weekday not in WEEKDAYS:
        raise ConfigError(f"digest_weekday must be one of {', '.join(WEEKDAYS)}")
    try:
        ZoneInfo(settings.digest_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"digest_timezone: unknown IANA timezone {settings.digest_timezone!r}"
        ) from None
    for name in (
        "immediate_digest_minutes",
        "send_interval_minutes",
        "crawl_urgent_interval_hours",
        "crawl_workers",
    ):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{name} must be positive")
    try:
        shlex.split(settings.crawl_extra_args)
    except ValueError as exc:
        raise ConfigError(f"crawl_extra_args: {exc}") from None


# -- job functions (stored by reference in the job store) --------------------------------------


def crawl_job(slug: str) -> str:
    service = current()
    return service.perform(service.crawl, slug)


def sweep_job(slug: str) -> str:
    service = current()
    return service.perform(service.crawl, slug, full=True)


def digest_job(frequency: str, zone: str | None) -> str:
    service = current()
    return service.perform(service.digest, frequency, zone)


def send_job() -> str:
    service = current()
    return service.perform(service.send)


# -- the crawl child ---------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Linux: the kernel kills this process when the service dies, even by SIGKILL, so that
    no orphaned crawl goes on writing after a restart has begun to crawl the same place."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != int(parent):  # the service died before prctl took effect
        os._exit(1)


def child_main(argv: Sequence[str]) -> None:
    _die_with_parent()
    from tracker.cli import main

    main(list(argv), prog_name="ice-tracker")


if __name__ == "__main__":
    child_main(sys.argv[1:])
