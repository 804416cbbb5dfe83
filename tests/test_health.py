"""Crawl health from the CrawlRun rows: failure streaks, a spider that went quiet, the next run
from the job store, what `ice-tracker status` shows, and when the operator is alerted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import run_tracker

from tracker.db import open_database
from tracker.health import (
    Health,
    RunInfo,
    alert_kind,
    alert_text,
    broken_reason,
    health_of,
    jurisdiction_health,
)
from tracker.registry import load_registry
from tracker.store import Store

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


def run(n: int, status: str = "ok", items: int = 50, mode: str = "full", **kw: object) -> RunInfo:
    values: dict[str, object] = {
        "id": n,
        "started_at": T0 + timedelta(hours=6 * n),
        "finished_at": T0 + timedelta(hours=6 * n, minutes=5),
        "status": status,
        "mode": mode,
        "requests": 40,
        "items": items,
        "errors": 0,
        "message": None,
    }
    values.update(kw)
    return RunInfo(**values)  # type: ignore[arg-type]


def newest_first(*runs: RunInfo) -> list[RunInfo]:
    return sorted(runs, key=lambda r: r.id, reverse=True)


def test_zero_items_where_there_used_to_be_many_is_broken() -> None:
    runs = newest_first(run(1, items=80), run(2, items=95), run(3, items=90), run(4, items=0))
    reason = broken_reason(runs, min_items=10)
    assert reason is not None
    assert "found no items" in reason
    assert "median of 90" in reason


@pytest.mark.parametrize(
    "runs",
    [
        # a quiet incremental crawl after full ones: different kinds are not compared
        [run(1, items=80), run(2, items=0, mode="incremental")],
        # it never found many
        [run(1, items=3), run(2, items=2), run(3, items=0)],
        # nothing to compare with
        [run(1, items=0)],
        # the newest finished crawl found items
        [run(1, items=80), run(2, items=0), run(3, items=12)],
        # failed crawls are failures, not a quiet spider
        [run(1, items=80), run(2, status="failed", items=0)],
    ],
)
def test_not_broken(runs: list[RunInfo]) -> None:
    assert broken_reason(newest_first(*runs), min_items=10) is None


def test_failure_streak_skips_a_running_crawl() -> None:
    runs = newest_first(
        run(1),
        run(2, status="failed", message="HTTP 500"),
        run(3, status="failed", message="killed after 10800 s"),
        run(4, status="running"),
    )
    health = health_of("seattle", runs, min_items=10)
    assert health.consecutive_failures == 2
    assert health.running
    assert health.state == "failing"
    assert health.last_success is not None
    assert health.last_success.id == 1
    assert health.last_failure is not None
    assert health.last_failure.message == ("killed after 10800 s")


def test_states() -> None:
    assert health_of("x", [], min_items=10).state == "never"
    assert health_of("x", [run(1, status="failed")], min_items=10).state == "failing"
    assert health_of("x", [run(1)], min_items=10).state == "ok"


def h(*runs: RunInfo) -> Health:
    return health_of("seattle", newest_first(*runs), min_items=10)


def test_alerts_fire_on_changes_only() -> None:
    ok = h(run(1))
    one = h(run(1), run(2, status="failed"))
    two = h(run(1), run(2, status="failed"), run(3, status="failed"))
    three = h(run(1), run(2, status="failed"), run(3, status="failed"), run(4, status="failed"))
    back = h(run(1), run(2, status="failed"), run(3, status="failed"), run(4))
    assert alert_kind(ok, one, threshold=2) is None
    assert alert_kind(one, two, threshold=2) == "failing"
    assert alert_kind(two, three, threshold=2) is None  # told once
    assert alert_kind(three, back, threshold=2) == "recovered"
    assert alert_kind(one, h(run(1), run(2, status="failed"), run(3)), threshold=2) is None
    quiet = h(run(1, items=80), run(2, items=90), run(3, items=0))
    assert alert_kind(h(run(1, items=80), run(2, items=90)), quiet, threshold=2) == "broken"
    assert (
        alert_kind(
            quiet,
            h(run(1, items=80), run(2, items=90), run(3, items=0), run(4, items=0)),
            threshold=2,
        )
        is None
    )


def test_alert_text_has_the_facts() -> None:
    entry = load_registry().get("seattle")
    health = h(
        run(1),
        run(2, status="failed", message="HTTP 503 on /events"),
        run(3, status="failed", message="HTTP 503 on /events"),
    )
    subject, text = alert_text(entry, health, "failing")
    assert subject == "[ice-tracker] seattle: 2 crawls in a row failed"
    assert "Reason: HTTP 503 on /events" in text
    assert "Last success: 2025-03-01 18:00 UTC, 50 items" in text


def record(store: Store, slug: str, status: str, items: int, mode: str = "full") -> None:
    jid = store.ensure_jurisdiction(load_registry().get(slug))
    run_id = store.start_run(
        jid, spider="legistar", mode=mode, since=None, window=(T0, T0), replay=None, archive=None
    )
    if status != "running":
        store.finish_run(
            run_id,
            status=status,  # type: ignore[arg-type]
            requests=30,
            items=items,
            problems={} if status == "ok" else {"http/500": 1},
            message=None if status == "ok" else "HTTP 500 on the events listing",
        )


def test_health_from_the_database(database_url: str) -> None:
    store = Store(open_database(database_url))
    for items in (70, 80, 75, 0):
        record(store, "seattle", "ok", items)
    record(store, "boston", "ok", 12)
    record(store, "boston", "failed", 0)
    record(store, "boston", "failed", 0)
    health = jurisdiction_health(store.engine, min_items=10)
    assert health["seattle"].state == "broken"
    assert health["seattle"].last_success is not None
    assert health["seattle"].last_success.items == 0
    assert health["boston"].consecutive_failures == 2
    assert health["boston"].last_failure is not None
    assert health["boston"].last_failure.message == "HTTP 500 on the events listing"
    assert health["boston"].next_run is None  # no service has run on this database


def test_status_shows_health(sqlite_url: str) -> None:
    store = Store(open_database(sqlite_url))
    for items in (70, 80, 75, 0):
        record(store, "seattle", "ok", items)
    record(store, "boston", "ok", 12)
    record(store, "boston", "failed", 0)
    out = run_tracker("status", database_url=sqlite_url).stdout
    assert "health: BROKEN" in out
    assert "broken? the full crawl of" in out
    assert "health: FAILING" in out
    assert "why it failed: HTTP 500 on the events listing" in out
    data = {
        row["jurisdiction"]: row
        for row in json.loads(run_tracker("status", "--json", database_url=sqlite_url).stdout)
    }
    assert data["seattle"]["health"]["broken"] is True
    assert data["seattle"]["health"]["items_found"] == 0
    assert data["boston"]["health"]["consecutive_failures"] == 1
    assert data["boston"]["health"]["last_success"]["items"] == 12
    assert data["boston"]["last_crawl"]["status"] == "failed"  # the old keys stay
