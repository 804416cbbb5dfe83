"""PostgreSQL gaps: what the storage tests ran on SQLite only, and the pool settings.

The shared fixtures run most storage tests on both databases (``database_url``); the cases
here were SQLite-only and matter most at scale, where PostgreSQL is the database.
"""

from __future__ import annotations

import pytest
from conftest import SEATTLE_WARC, query, row_counts, run_tracker

from tracker.db import make_engine, open_database, pool_options
from tracker.settings import load_settings
from tracker.store import Store

DATA_TABLES = ("meeting", "agenda_item", "vote_event", "vote", "document", "change")


def test_pool_settings_reach_the_engine(postgres_url: str) -> None:
    settings = load_settings(
        {"db_pool_size": 3, "db_max_overflow": 2, "db_pool_recycle": 600, "db_pool_timeout": 7},
        env={},
    )
    engine = make_engine(postgres_url, pool=pool_options(settings))
    try:
        pool = engine.pool
        assert pool.size() == 3  # type: ignore[attr-defined]
        assert pool._max_overflow == 2  # type: ignore[attr-defined]
        assert pool._recycle == 600
        assert pool._timeout == 7  # type: ignore[attr-defined]
        assert pool._pre_ping
    finally:
        engine.dispose()


def test_pool_settings_come_from_the_environment(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_DB_POOL_SIZE", "2")
    monkeypatch.setenv("TRACKER_DB_POOL_RECYCLE", "-1")
    engine = open_database(postgres_url)
    try:
        assert engine.pool.size() == 2  # type: ignore[attr-defined]
        assert engine.pool._recycle == -1
        with engine.connect():  # the default migration worked through the same pool
            pass
    finally:
        engine.dispose()


def test_incremental_crawl_after_a_sweep_is_idempotent_on_postgres(postgres_url: str) -> None:
    """test_crawl_replay's incremental case ran on SQLite only."""
    run_tracker(
        "crawl", "seattle", "--full", "--from", "2019-07-01", "--to", "2019-09-01",
        "--replay", SEATTLE_WARC, database_url=postgres_url,
    )  # fmt: skip
    before = row_counts(postgres_url)
    run_tracker("crawl", "seattle", "--replay", SEATTLE_WARC, database_url=postgres_url)
    modes = [r.mode for r in query(postgres_url, "SELECT mode FROM crawl_run ORDER BY id")]
    assert modes == ["full", "incremental"]
    after = row_counts(postgres_url)
    assert {t: after[t] for t in DATA_TABLES} == {t: before[t] for t in DATA_TABLES}
    store = Store(open_database(postgres_url))
    try:
        [jid] = [r.id for r in query(postgres_url, "SELECT id FROM jurisdiction")]
        assert store.last_run(jid, mode="incremental") is not None
    finally:
        store.engine.dispose()
