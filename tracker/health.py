"""Crawl health: per jurisdiction, what worked, what broke, and when the service runs next.

Everything is derived from the CrawlRun rows (and, for the next run, from the scheduler's job
table when a service keeps one in this database); nothing is stored for it.

Broken spiders: the most common failure in this field is a spider that keeps "succeeding"
after a site changed its layout, fetching pages and finding nothing. A finished crawl (ok or
partial) that stored no items is flagged broken when the crawls of the same kind before it
(full with full, incremental with incremental: an incremental crawl of a quiet week finds
little) found a median of at least ``broken_min_items``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlmodel import col

from tracker.models import CrawlRun, CrawlStatus, Jurisdiction
from tracker.registry import Entry

# The table APScheduler's SQLAlchemyJobStore keeps in the tracker's database (tracker.service).
JOB_TABLE = "apscheduler_jobs"
# How many earlier crawls of the same kind a zero-item crawl is compared with.
BROKEN_HISTORY = 5
# Runs read per jurisdiction: enough for the failure streak and the comparison above.
RUNS_READ = 30


@dataclass(frozen=True)
class RunInfo:
    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    mode: str
    requests: int
    items: int
    errors: int
    message: str | None

    @classmethod
    def of(cls, run: CrawlRun) -> RunInfo:
        assert run.id is not None
        return cls(
            id=run.id,
            started_at=run.started_at,
            finished_at=run.finished_at,
            status=run.status,
            mode=run.mode,
            requests=run.requests,
            items=run.items,
            errors=run.errors,
            message=run.message,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "mode": self.mode,
            "requests": self.requests,
            "items": self.items,
            "errors": self.errors,
            "message": self.message,
        }


@dataclass(frozen=True)
class Health:
    slug: str
    last_run: RunInfo | None
    last_success: RunInfo | None  # the newest ok or partial crawl
    last_failure: RunInfo | None  # the newest failed crawl
    consecutive_failures: int  # failed crawls since the last success (running ones skipped)
    broken: str | None  # why the spider looks broken, or None
    running: bool
    next_run: datetime | None  # from the service's job store, when there is one

    @property
    def state(self) -> str:
        """never | broken | failing | ok (one word for tables and alerts)."""
        if self.broken:
            return "broken"
        if self.consecutive_failures:
            return "failing"
        if self.last_success is None:
            return "never" if self.last_failure is None else "failing"
        return "ok"

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "running": self.running,
            "last_success": self.last_success.as_dict() if self.last_success else None,
            "last_failure": self.last_failure.as_dict() if self.last_failure else None,
            "items_found": self.last_success.items if self.last_success else None,
            "consecutive_failures": self.consecutive_failures,
            "broken": self.broken is not None,
            "broken_reason": self.broken,
            "next_run": self.next_run.isoformat() if self.next_run else None,
        }


_DONE = (CrawlStatus.OK, CrawlStatus.PARTIAL)


def broken_reason(runs: Sequence[RunInfo], min_items: int) -> str | None:
    """Why the newest finished crawl looks broken (``runs`` newest first), or None."""
    finished = [r for r in runs if r.status in _DONE]
    if not finished or finished[0].items > 0:
        return None
    latest = finished[0]
    before = [r.items for r in finished[1:] if r.mode == latest.mode][:BROKEN_HISTORY]
    if not before:
        return None
    typical = statistics.median(before)
    if typical < max(min_items, 1):
        return None
    return (
        f"the {latest.mode} crawl of {latest.started_at:%Y-%m-%d %H:%M} UTC found no items "
        f"({latest.requests} requests); the {len(before)} before it found a median of "
        f"{typical:g}: the site may have changed"
    )


def health_of(
    slug: str, runs: Sequence[RunInfo], *, min_items: int, next_run: datetime | None = None
) -> Health:
    """The health figures of one jurisdiction from its crawls, newest first."""
    failures = 0
    for run in runs:
        if run.status == CrawlStatus.RUNNING:
            continue
        if run.status != CrawlStatus.FAILED:
            break
        failures += 1
    return Health(
        slug=slug,
        last_run=runs[0] if runs else None,
        last_success=next((r for r in runs if r.status in _DONE), None),
        last_failure=next((r for r in runs if r.status == CrawlStatus.FAILED), None),
        consecutive_failures=failures,
        broken=broken_reason(runs, min_items),
        running=any(r.status == CrawlStatus.RUNNING for r in runs[:1]),
        next_run=next_run,
    )


def recent_runs(
    engine: Engine, slugs: Iterable[str] | None = None, *, limit: int = RUNS_READ
) -> dict[str, list[RunInfo]]:
    """The newest ``limit`` crawls of each jurisdiction (or of ``slugs``), newest first."""
    number = (
        sa.func.row_number()
        .over(partition_by=col(CrawlRun.jurisdiction_id), order_by=col(CrawlRun.id).desc())
        .label("n")
    )
    ranked = sa.select(col(CrawlRun.id), number).subquery()
    query = (
        sa.select(CrawlRun, col(Jurisdiction.slug))
        .join(ranked, ranked.c.id == col(CrawlRun.id))
        .join(Jurisdiction, col(Jurisdiction.id) == col(CrawlRun.jurisdiction_id))
        .where(ranked.c.n <= limit)
        .order_by(col(Jurisdiction.slug), col(CrawlRun.id).desc())
    )
    wanted = None if slugs is None else list(slugs)
    if wanted is not None:
        query = query.where(col(Jurisdiction.slug).in_(wanted))
    out: dict[str, list[RunInfo]] = {s: [] for s in wanted or ()}
    with Session(engine) as session:
        for run, slug in session.execute(query):
            out.setdefault(slug, []).append(RunInfo.of(run))
    return out


def next_runs(engine: Engine) -> dict[str, datetime]:
    """Job id -> next run time, from the service's job table (empty when there is none)."""
    if not sa.inspect(engine).has_table(JOB_TABLE):
        return {}
    table = sa.table(JOB_TABLE, sa.column("id"), sa.column("next_run_time"))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.id, table.c.next_run_time)).all()
    return {
        str(job_id): datetime.fromtimestamp(float(when), UTC)
        for job_id, when in rows
        if when is not None
    }


def crawl_job_ids(slug: str) -> tuple[str, str]:
    """The service's job ids for one jurisdiction: its regular crawl and its nightly sweep."""
    return f"crawl:{slug}", f"sweep:{slug}"


def next_crawl(jobs: Mapping[str, datetime], slug: str) -> datetime | None:
    times = [jobs[j] for j in crawl_job_ids(slug) if j in jobs]
    return min(times) if times else None


def jurisdiction_health(
    engine: Engine, *, min_items: int, slugs: Iterable[str] | None = None
) -> dict[str, Health]:
    """Health of every jurisdiction that has crawls (or of ``slugs``), by slug."""
    runs = recent_runs(engine, slugs)
    jobs = next_runs(engine)
    return {
        slug: health_of(slug, rows, min_items=min_items, next_run=next_crawl(jobs, slug))
        for slug, rows in runs.items()
    }


def _at(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "never"


def health_lines(h: Health) -> list[str]:
    """The health of one jurisdiction as ``ice-tracker status`` shows it."""
    success, failure = h.last_success, h.last_failure
    state = h.state.upper() if h.state in ("broken", "failing") else h.state
    lines = [
        f"health: {state}"
        + (" (crawling now)" if h.running else "")
        + f"; last success {_at(success.started_at if success else None)}"
        + (f" ({success.items} items)" if success else "")
        + f"; last failure {_at(failure.started_at if failure else None)}"
        + f"; {h.consecutive_failures} failed in a row"
        + (f"; next run {_at(h.next_run)}" if h.next_run else "")
    ]
    if failure is not None and failure.message and h.consecutive_failures:
        lines.append(f"why it failed: {failure.message}")
    if h.broken:
        lines.append(f"broken? {h.broken}")
    return lines


# -- operator alerts ---------------------------------------------------------------------------


def alert_kind(before: Health, after: Health, threshold: int) -> str | None:
    """broken | failing | recovered, when this crawl changed the place's health; else None."""
    threshold = max(threshold, 1)
    if after.broken and not before.broken:
        return "broken"
    if after.consecutive_failures >= threshold > before.consecutive_failures:
        return "failing"
    was_bad = before.broken is not None or before.consecutive_failures >= threshold
    if was_bad and after.state == "ok":
        return "recovered"
    return None


def alert_text(entry: Entry, health: Health, kind: str) -> tuple[str, str]:
    """Subject and body of an operator alert: crawl facts only, never a subscriber."""
    headline = {
        "broken": "the spider found nothing (it may be broken)",
        "failing": f"{health.consecutive_failures} crawls in a row failed",
        "recovered": "crawls work again",
    }[kind]
    run = health.last_run
    assert run is not None
    lines = [
        f"{entry.name}, {entry.state} ({entry.slug}): {headline}.",
        "",
        f"Platform: {entry.platform}",
        f"Last crawl: {run.started_at:%Y-%m-%d %H:%M} UTC, {run.status} ({run.mode}), "
        f"{run.requests} requests, {run.items} items, {run.errors} problems",
    ]
    if run.message:
        lines.append(f"Reason: {run.message}")
    if health.broken:
        lines.append(f"Why it looks broken: {health.broken}")
    success = health.last_success
    lines.append(
        "Last success: "
        + (
            f"{success.started_at:%Y-%m-%d %H:%M} UTC, {success.items} items"
            if success
            else "never"
        )
    )
    lines.append(f"Failed crawls in a row: {health.consecutive_failures}")
    lines += ["", "`ice-tracker status` shows every place; the service's log has the crawl output."]
    return f"[ice-tracker] {entry.slug}: {headline}", "\n".join(lines) + "\n"
