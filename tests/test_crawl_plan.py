"""Planning crawls: full sweeps, incremental refreshes with a lookback, polite settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import SEATTLE_WARC, run_tracker
from warcs import Page, rewrite_warc

from tracker.crawl import CrawlOptions, plan_crawl, scrapy_settings
from tracker.db import open_database
from tracker.models import CrawlStatus
from tracker.registry import load_registry
from tracker.settings import load_settings
from tracker.store import Store

NOW = datetime(2030, 5, 1, 12, tzinfo=UTC)


@pytest.fixture
def store(sqlite_url: str) -> Store:
    return Store(open_database(sqlite_url))


def finished_run(
    store: Store,
    jurisdiction_id: int,
    mode: str,
    started: datetime,
    status: CrawlStatus = CrawlStatus.OK,
) -> None:
    run_id = store.start_run(
        jurisdiction_id,
        spider="legistar",
        mode=mode,
        since=None,
        window=(started, started),
        replay=None,
        archive=None,
    )
    store.finish_run(run_id, status=status, requests=1, items=1, problems={}, message=None)
    from sqlmodel import Session

    from tracker.models import CrawlRun

    with Session(store.engine) as session, session.begin():
        run = session.get(CrawlRun, run_id)
        assert run is not None
        run.started_at = started


def test_first_crawl_is_a_full_sweep_of_the_window(store: Store) -> None:
    entry = load_registry().get("seattle")
    jid = store.ensure_jurisdiction(entry)
    plan = plan_crawl(entry, store, jid, load_settings(), CrawlOptions(), NOW)
    assert plan.mode == "full"
    assert plan.window_start == NOW - timedelta(days=120)
    assert plan.window_end == NOW + timedelta(days=180)


def test_after_a_recent_sweep_crawls_are_incremental_with_lookback(store: Store) -> None:
    entry = load_registry().get("seattle")
    jid = store.ensure_jurisdiction(entry)
    finished_run(store, jid, "full", NOW - timedelta(days=2))
    finished_run(store, jid, "incremental", NOW - timedelta(hours=6))
    finished_run(store, jid, "incremental", NOW - timedelta(hours=1), CrawlStatus.FAILED)
    plan = plan_crawl(entry, store, jid, load_settings(), CrawlOptions(), NOW)
    assert plan.mode == "incremental"
    # From the last run that finished, not the failed one, minus 72 hours.
    assert plan.since == NOW - timedelta(hours=6) - timedelta(hours=72)


def test_a_stale_sweep_means_a_new_full_sweep(store: Store) -> None:
    entry = load_registry().get("seattle")
    jid = store.ensure_jurisdiction(entry)
    finished_run(store, jid, "full", NOW - timedelta(days=8))
    finished_run(store, jid, "incremental", NOW - timedelta(hours=6))
    assert plan_crawl(entry, store, jid, load_settings(), CrawlOptions(), NOW).mode == "full"
    assert (
        plan_crawl(entry, store, jid, load_settings(), CrawlOptions(full=True), NOW).mode == "full"
    )


def test_polite_defaults() -> None:
    settings = load_settings({"contact": "https://example.org/about"})
    values = scrapy_settings(settings, replay_address=None, warc=None, runs={}, progress=False)
    assert values["ROBOTSTXT_OBEY"] is True
    assert values["AUTOTHROTTLE_ENABLED"] is True
    assert values["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1
    assert values["DOWNLOAD_MAXSIZE"] == 50 * 1024 * 1024
    assert values["USER_AGENT"].startswith("ice-council-tracker/")
    assert values["USER_AGENT"].endswith("+https://example.org/about")


def test_robots_txt_is_obeyed(sqlite_url: str, tmp_path: Path) -> None:
    robots = Page(
        "https://webapi.legistar.com/robots.txt",
        200,
        [("Content-Type", "text/plain")],
        b"User-agent: *\nDisallow: /\n",
    )
    closed = rewrite_warc(SEATTLE_WARC, tmp_path / "closed.warc.gz", lambda p: p, [robots])
    result = run_tracker(
        "crawl",
        "seattle",
        "--replay",
        closed,
        "--full",
        "--from",
        "2019-07-01",
        "--to",
        "2019-09-01",
        database_url=sqlite_url,
        check=False,
    )
    assert "seattle: failed" in result.stdout
    assert result.returncode == 1  # nothing could be fetched: the run failed, said so
    from conftest import row_counts

    assert row_counts(sqlite_url)["meeting"] == 0


def test_long_crawls_report_progress(sqlite_url: str) -> None:
    result = run_tracker(
        "crawl",
        "seattle",
        "--replay",
        SEATTLE_WARC,
        "--full",
        "--progress",
        database_url=sqlite_url,
        env={"TRACKER_PROGRESS_SECONDS": "0.05"},
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("legistar:seattle")]
    assert lines
    assert "requests" in lines[-1]
    assert "problems" in lines[-1]
