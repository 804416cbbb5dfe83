"""When the service's jobs fire, computed with get_next_fire_time for given datetimes: crawl
grids, hourly crawls before ICE meetings, and local-time digests across daylight-saving
changes. No scheduler, no database, no waiting."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tracker.registry import load_registry
from tracker.service import CrawlTrigger, crawl_anchor, daily_trigger, subscriber_timezone

SIX = timedelta(hours=6)
ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)
LA = ZoneInfo("America/Los_Angeles")
NY = ZoneInfo("America/New_York")


def fires(trigger: object, now: datetime, count: int) -> list[datetime]:
    out: list[datetime] = []
    previous = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, now)  # type: ignore[attr-defined]
        assert previous is not None
        out.append(previous)
        now = previous
    return out


def until(trigger: CrawlTrigger, now: datetime, end: datetime) -> list[datetime]:
    out: list[datetime] = []
    previous = None
    while True:
        previous = trigger.get_next_fire_time(previous, now)
        assert previous is not None
        if previous > end:
            return out
        out.append(previous)
        now = previous


def test_crawls_follow_the_interval_grid() -> None:
    trigger = CrawlTrigger(SIX, anchor=ANCHOR)
    now = datetime(2025, 3, 8, 13, 7, tzinfo=UTC)
    times = fires(trigger, now, 6)
    assert times[0] == datetime(2025, 3, 8, 18, 0, tzinfo=UTC)
    assert all(b - a == SIX for a, b in itertools.pairwise(times))


def test_crawl_intervals_are_elapsed_time_across_a_daylight_saving_change() -> None:
    # Seattle springs forward at 2025-03-09 02:00 local: six hours stay six hours.
    trigger = CrawlTrigger(SIX, anchor=crawl_anchor("seattle", SIX))
    times = fires(trigger, datetime(2025, 3, 8, 12, 0, tzinfo=UTC), 8)
    assert all(b - a == SIX for a, b in itertools.pairwise(times))
    local_steps = {
        b.astimezone(LA).replace(tzinfo=None) - a.astimezone(LA).replace(tzinfo=None)
        for a, b in itertools.pairwise(times)
    }
    assert local_steps == {SIX, SIX + timedelta(hours=1)}  # the wall clock jumps, we do not


def test_jitter_never_makes_a_crawl_drift() -> None:
    trigger = CrawlTrigger(SIX, anchor=ANCHOR, jitter=600)
    times = fires(trigger, datetime(2025, 1, 1, 0, 30, tzinfo=UTC), 200)
    for k, when in enumerate(times, start=1):
        grid = datetime(2025, 1, 1, tzinfo=UTC) + k * SIX
        assert grid <= when <= grid + timedelta(seconds=600)


def test_jitter_is_capped_below_the_step() -> None:
    assert CrawlTrigger(SIX, anchor=ANCHOR, jitter=10**6).jitter == 900  # a quarter hour


def test_hourly_in_the_72_hours_before_an_ice_meeting() -> None:
    meeting = datetime(2025, 3, 12, 17, 0, tzinfo=UTC)
    trigger = CrawlTrigger(SIX, anchor=ANCHOR, meetings=[meeting], urgent_hours=72)
    start, end = datetime(2025, 3, 8, 13, 7, tzinfo=UTC), datetime(2025, 3, 13, 7, tzinfo=UTC)
    times = until(trigger, start, end)
    window = [t for t in times if meeting - timedelta(hours=72) <= t <= meeting]
    assert len(window) == 73  # 17:00 on the 9th to 17:00 on the 12th, every hour
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(window))
    before = [t for t in times if t < window[0]]
    after = [t for t in times if t > meeting]
    assert before == [
        datetime(2025, 3, 8, 18, tzinfo=UTC),
        datetime(2025, 3, 9, 0, tzinfo=UTC),
        datetime(2025, 3, 9, 6, tzinfo=UTC),
        datetime(2025, 3, 9, 12, tzinfo=UTC),
    ]
    assert after == [
        datetime(2025, 3, 12, 18, tzinfo=UTC),
        datetime(2025, 3, 13, 0, tzinfo=UTC),
        datetime(2025, 3, 13, 6, tzinfo=UTC),
    ]


def test_a_meeting_already_held_changes_nothing() -> None:
    held = datetime(2025, 3, 1, 17, 0, tzinfo=UTC)
    now = datetime(2025, 3, 8, 13, 7, tzinfo=UTC)
    plain = CrawlTrigger(SIX, anchor=ANCHOR)
    assert CrawlTrigger(SIX, anchor=ANCHOR, meetings=[held]).next_time(None, now) == (
        plain.next_time(None, now)
    )


def test_places_are_spread_over_the_interval() -> None:
    slugs = [entry.slug for entry in load_registry()]
    offsets = {crawl_anchor(slug, SIX) - ANCHOR for slug in slugs}
    assert len(offsets) > len(slugs) * 0.9
    assert all(timedelta(0) <= offset < SIX for offset in offsets)


@pytest.mark.parametrize(
    ("start", "expected_utc_hours"),
    [
        (datetime(2025, 3, 7, 12, tzinfo=UTC), [15, 15, 14, 14]),  # spring forward, 9 March
        (datetime(2025, 10, 31, 12, tzinfo=UTC), [14, 14, 15, 15]),  # fall back, 2 November
    ],
)
def test_daily_digests_at_seven_local_across_daylight_saving(
    start: datetime, expected_utc_hours: list[int]
) -> None:
    times = fires(daily_trigger(7, 0, "America/Los_Angeles"), start, 4)
    assert [t.astimezone(UTC).astimezone(LA).hour for t in times] == [7, 7, 7, 7]
    assert [t.astimezone(UTC).hour for t in times] == expected_utc_hours
    days = [t.astimezone(LA).date() for t in times]
    assert all((b - a).days == 1 for a, b in itertools.pairwise(days))


def test_weekly_digests_on_monday_at_seven_local_across_daylight_saving() -> None:
    times = fires(
        daily_trigger(7, 0, "America/New_York", "mon"), datetime(2025, 3, 1, tzinfo=UTC), 3
    )
    assert [t.astimezone(UTC).astimezone(NY).strftime("%a %H:%M") for t in times] == [
        "Mon 07:00"
    ] * 3
    assert [t.astimezone(UTC).hour for t in times] == [12, 11, 11]


def test_a_repeated_local_hour_fires_once() -> None:
    # 1:30 a.m. happens twice in New York on 2 November 2025; the job runs once that day.
    times = fires(daily_trigger(1, 30, "America/New_York"), datetime(2025, 11, 1, tzinfo=UTC), 3)
    assert [t.astimezone(UTC).astimezone(NY).date().isoformat() for t in times] == [
        "2025-11-01",
        "2025-11-02",
        "2025-11-03",
    ]


def test_a_skipped_local_hour_fires_an_hour_later() -> None:
    # 2:30 a.m. does not exist in New York on 9 March 2025: that day it runs at 3:30 EDT.
    times = fires(daily_trigger(2, 30, "America/New_York"), datetime(2025, 3, 8, tzinfo=UTC), 3)
    assert [t.astimezone(UTC).astimezone(NY).strftime("%d %H:%M") for t in times] == [
        "08 02:30",
        "09 03:30",
        "10 02:30",
    ]


def test_a_subscribers_local_time_is_their_first_place() -> None:
    registry = load_registry()
    assert subscriber_timezone(["seattle", "boston"], registry, "UTC") == "America/Los_Angeles"
    assert subscriber_timezone(["nowhere-at-all", "boston"], registry, "UTC") == (
        "America/New_York"
    )
    assert subscriber_timezone([], registry, "America/Chicago") == "America/Chicago"
