"""Crawling the real Seattle recording over HTTP replay, on SQLite and PostgreSQL.

Each test runs ``ice-tracker crawl`` in its own process against the recorded WARC, as a user
would, and then reads the database directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEATTLE_WARC, SEATTLE_WINDOW, query, row_counts, run_tracker
from warcs import Page, edit_url, rewrite_warc, with_body

DATA_TABLES = (
    "jurisdiction",
    "body",
    "person",
    "meeting",
    "matter",
    "agenda_item",
    "vote_event",
    "vote",
    "document",
    "document_link",
    "change",
)


def crawl(
    database_url: str, *archives: Path, check: bool = True, extra: tuple[str, ...] = ()
) -> str:
    args: list[str | Path] = ["crawl", "seattle", *SEATTLE_WINDOW, *extra]
    for archive in archives:
        args += ["--replay", archive]
    result = run_tracker(*args, database_url=database_url, check=check)
    return result.stdout + result.stderr


def last_run(database_url: str) -> dict[str, object]:
    row = query(
        database_url,
        "SELECT status, requests, items, errors, problems, message "
        "FROM crawl_run ORDER BY id DESC LIMIT 1",
    )[0]
    problems = row.problems if isinstance(row.problems, dict) else json.loads(row.problems)
    return {
        "status": row.status,
        "requests": row.requests,
        "items": row.items,
        "errors": row.errors,
        "problems": problems,
        "message": row.message,
    }


def changes(database_url: str) -> list[str]:
    return [r.kind for r in query(database_url, "SELECT kind FROM change ORDER BY id")]


def test_stores_exactly_the_recording(database_url: str) -> None:
    crawl(database_url, SEATTLE_WARC)
    counts = row_counts(database_url)
    assert counts["meeting"] == 3
    assert counts["agenda_item"] == 37  # 10 + 18 + 9 event items, all with titles
    assert counts["vote_event"] == 4
    assert counts["vote"] == 32
    assert counts["person"] == 8
    assert last_run(database_url)["status"] == "ok"

    meetings = {
        r.platform_id: r
        for r in query(database_url, "SELECT platform_id, title, start, status FROM meeting")
    }
    assert set(meetings) == {"4048", "4049", "4050"}
    assert meetings["4049"].title == "City Council"

    votes = query(
        database_url,
        """
        SELECT p.name, v.raw_value, v.value, m.file_number, a.result
        FROM vote v JOIN person p ON p.id = v.person_id
        JOIN vote_event e ON e.id = v.vote_event_id
        JOIN agenda_item a ON a.id = e.agenda_item_id
        LEFT JOIN matter m ON m.id = a.matter_id
        WHERE a.platform_id = '65911' ORDER BY p.name""",
    )
    assert len(votes) == 8
    assert {v.file_number for v in votes} == {"CB 119583"}
    assert {(v.raw_value, v.value) for v in votes} == {("In Favor", "yes")}
    assert {v.result for v in votes} == {"passed"}
    names = [v.name for v in votes]
    assert "M. Lorena González" in names  # published as "M. Lorena González " (trailing space)
    assert all(name == name.strip() and "  " not in name for name in names)
    assert names == sorted(
        [
            "Sally Bagshaw",
            "M. Lorena González",
            "Bruce Harrell",
            "Lisa Herbold",
            "Debora Juarez",
            "Mike O'Brien",
            "Abel Pacheco",
            "Kshama Sawant",
        ]
    )


def test_meeting_times_are_local_and_stored_in_utc(sqlite_url: str) -> None:
    crawl(sqlite_url, SEATTLE_WARC)
    rows = {
        r.platform_id: r
        for r in query(sqlite_url, "SELECT platform_id, start, timezone FROM meeting")
    }
    # "2:00 PM" on 2019-07-29 in Seattle (PDT, UTC-7) is 21:00 UTC.
    assert str(rows["4049"].start).startswith("2019-07-29 21:00:00")
    assert rows["4049"].timezone == "America/Los_Angeles"


def test_second_crawl_adds_no_rows_and_no_changes(database_url: str) -> None:
    crawl(database_url, SEATTLE_WARC)
    before = row_counts(database_url)
    log_before = changes(database_url)
    crawl(database_url, SEATTLE_WARC)
    after = row_counts(database_url)
    assert {t: after[t] for t in DATA_TABLES} == {t: before[t] for t in DATA_TABLES}
    assert changes(database_url) == log_before
    assert after["crawl_run"] == before["crawl_run"] + 1  # the run itself is recorded


def test_incremental_second_crawl_is_idempotent_too(sqlite_url: str) -> None:
    crawl(sqlite_url, SEATTLE_WARC)
    before = row_counts(sqlite_url)
    # Without --full the tracker plans an incremental crawl after a recent full sweep.
    run_tracker("crawl", "seattle", "--replay", SEATTLE_WARC, database_url=sqlite_url)
    modes = [r.mode for r in query(sqlite_url, "SELECT mode FROM crawl_run ORDER BY id")]
    assert modes == ["full", "incremental"]
    after = row_counts(sqlite_url)
    assert {t: after[t] for t in DATA_TABLES} == {t: before[t] for t in DATA_TABLES}


def _moved(page: Page) -> Page:
    events = json.loads(page.body)
    for event in events:
        if event["EventId"] == 4049:
            event["EventTime"] = "3:30 PM"
    return with_body(page, json.dumps(events).encode())


def _drop_item(item_id: int):
    def change(page: Page) -> Page:
        items = [i for i in json.loads(page.body) if i["EventItemId"] != item_id]
        return with_body(page, json.dumps(items).encode())

    return change


def test_moved_meeting_is_one_rescheduled_change(database_url: str, tmp_path: Path) -> None:
    crawl(database_url, SEATTLE_WARC)
    before = changes(database_url)
    later = rewrite_warc(
        SEATTLE_WARC, tmp_path / "later.warc.gz", edit_url("/seattle/events?", _moved)
    )
    crawl(database_url, later)
    new = changes(database_url)[len(before) :]
    assert new == ["meeting_rescheduled"]
    details = query(database_url, "SELECT details FROM change WHERE kind = 'meeting_rescheduled'")
    payload = details[0].details
    payload = payload if isinstance(payload, dict) else json.loads(payload)
    assert payload["old_start"].startswith("2019-07-29T21:00")
    assert payload["new_start"].startswith("2019-07-29T22:30")
    status = query(database_url, "SELECT status FROM meeting WHERE platform_id = '4049'")
    assert status[0].status == "held"  # a past meeting; upcoming ones become "rescheduled"


def test_dropped_item_is_one_removed_change(database_url: str, tmp_path: Path) -> None:
    crawl(database_url, SEATTLE_WARC)
    before = changes(database_url)
    later = rewrite_warc(
        SEATTLE_WARC,
        tmp_path / "later.warc.gz",
        edit_url("/events/4050/eventitems", _drop_item(65928)),
    )
    crawl(database_url, later)
    assert changes(database_url)[len(before) :] == ["item_removed"]
    row = query(database_url, "SELECT removed_at FROM agenda_item WHERE platform_id = '65928'")
    assert row[0].removed_at is not None  # marked, never deleted
    # It comes back when the next listing has it again.
    crawl(database_url, SEATTLE_WARC)
    assert changes(database_url)[-1] == "item_added"
    row = query(database_url, "SELECT removed_at FROM agenda_item WHERE platform_id = '65928'")
    assert row[0].removed_at is None


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(
            lambda p: with_body(p, b'[{"EventItemId": 65924, "EventItemTi'), id="truncated"
        ),
        pytest.param(
            lambda p: with_body(p, b'{"Message": "An error has occurred."}', 500), id="http-500"
        ),
        pytest.param(lambda p: None, id="missing"),
    ],
)
def test_failed_listing_removes_nothing(database_url: str, tmp_path: Path, broken) -> None:
    crawl(database_url, SEATTLE_WARC)
    before_counts = row_counts(database_url)
    before = changes(database_url)
    later = rewrite_warc(
        SEATTLE_WARC, tmp_path / "broken.warc.gz", edit_url("/events/4050/eventitems", broken)
    )
    crawl(database_url, later)
    assert changes(database_url)[len(before) :] == []
    assert row_counts(database_url)["agenda_item"] == before_counts["agenda_item"]
    removed = query(
        database_url, "SELECT count(*) AS n FROM agenda_item WHERE removed_at IS NOT NULL"
    )
    assert removed[0].n == 0


def test_bad_input_gives_a_partial_run_and_loses_nothing(database_url: str, tmp_path: Path) -> None:
    crawl(database_url, SEATTLE_WARC)
    before = row_counts(database_url)

    def unknown_vote(page: Page) -> Page:
        votes = json.loads(page.body)
        votes[0]["VoteValueName"] = "Out of Chamber"  # in no map: reported, not guessed
        return with_body(page, json.dumps(votes).encode())

    edits = {
        "/events/4048/eventitems": lambda p: with_body(p, b"<html>Service Unavailable</html>"),
        "/events/4050/eventitems": lambda p: with_body(p, b'{"Message": "error"}', 500),
        "/eventitems/65936/votes": unknown_vote,
    }

    def edit(page: Page) -> Page | None:
        for fragment, change in edits.items():
            if fragment in page.url:
                return change(page)
        return page

    broken = rewrite_warc(SEATTLE_WARC, tmp_path / "bad.warc.gz", edit)
    output = crawl(database_url, broken)
    assert "seattle: partial" in output
    run = last_run(database_url)
    assert run["status"] == "partial"
    problems = run["problems"]
    assert isinstance(problems, dict)
    assert problems["bad_json/eventitems"] == 1
    assert problems["http_500/eventitems"] == 1
    assert problems["unknown_vote_value"] == 1
    assert run["errors"] == 3
    after = row_counts(database_url)
    for table in DATA_TABLES:
        assert after[table] >= before[table], table
    raw = query(
        database_url,
        """
        SELECT v.raw_value, v.value FROM vote v JOIN vote_event e ON e.id = v.vote_event_id
        JOIN agenda_item a ON a.id = e.agenda_item_id WHERE a.platform_id = '65936'
        AND v.raw_value = 'Out of Chamber'""",
    )
    assert [(r.raw_value, r.value) for r in raw] == [("Out of Chamber", None)]
    assert changes(database_url).count("vote_revised") == 1


def test_votes_500_cast_quirk_means_no_votes(sqlite_url: str, tmp_path: Path) -> None:
    body = (
        b'{"Message":"An error has occurred.","ExceptionMessage":"The cast to value type '
        b"'System.Int32' failed because the materialized value is null.\"}"
    )
    quirky = rewrite_warc(
        SEATTLE_WARC,
        tmp_path / "quirk.warc.gz",
        edit_url("/eventitems/65911/votes", lambda p: with_body(p, body, 500)),
    )
    crawl(sqlite_url, quirky)
    run = last_run(sqlite_url)
    assert run["status"] == "ok"
    assert row_counts(sqlite_url)["vote_event"] == 3
    # Known to be final: asked once, not retried.
    assert run["requests"] == last_requests_of_clean_crawl(tmp_path)


def last_requests_of_clean_crawl(tmp_path: Path) -> int:
    url = f"sqlite:///{tmp_path / 'clean.db'}"
    crawl(url, SEATTLE_WARC)
    requests = last_run(url)["requests"]
    assert isinstance(requests, int)
    return requests


def test_registry_file_defines_a_jurisdiction_without_code(sqlite_url: str, tmp_path: Path) -> None:
    registry = tmp_path / "mine.toml"
    registry.write_text(
        """
[[jurisdiction]]
slug = "emerald-city"
name = "Emerald City"
state = "WA"
kind = "city"
timezone = "America/Los_Angeles"
platform = "legistar"

[jurisdiction.legistar]
client = "seattle"

[jurisdiction.votes]
"In Favor" = "yes"
""",
        encoding="utf-8",
    )
    run_tracker(
        "crawl",
        "emerald-city",
        "--registry",
        registry,
        "--replay",
        SEATTLE_WARC,
        *SEATTLE_WINDOW,
        database_url=sqlite_url,
    )
    rows = query(
        sqlite_url,
        "SELECT j.slug, count(v.id) AS votes FROM jurisdiction j "
        "JOIN meeting m ON m.jurisdiction_id = j.id "
        "JOIN agenda_item a ON a.meeting_id = m.id "
        "JOIN vote_event e ON e.agenda_item_id = a.id "
        "JOIN vote v ON v.vote_event_id = e.id GROUP BY j.slug",
    )
    assert [(r.slug, r.votes) for r in rows] == [("emerald-city", 32)]


def test_archive_written_during_a_crawl_replays_to_the_same_rows(tmp_path: Path) -> None:
    first = f"sqlite:///{tmp_path / 'first.db'}"
    second = f"sqlite:///{tmp_path / 'second.db'}"
    recorded = tmp_path / "recorded.warc.gz"
    crawl(first, SEATTLE_WARC, extra=("--archive", str(recorded)))
    assert recorded.stat().st_size > 0
    crawl(second, recorded)
    a, b = row_counts(first), row_counts(second)
    assert {t: a[t] for t in DATA_TABLES} == {t: b[t] for t in DATA_TABLES}
    names = (
        "SELECT p.name, v.raw_value FROM vote v JOIN person p ON p.id = v.person_id ORDER BY 1, 2"
    )
    assert query(first, names) == query(second, names)


def test_unknown_jurisdiction_is_one_clear_line(sqlite_url: str) -> None:
    result = run_tracker("crawl", "atlantis", database_url=sqlite_url, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "ice-tracker: error: no jurisdiction 'atlantis' in the registry; list them with "
        "`ice-tracker jurisdictions`"
    ]


def test_unreadable_archive_is_one_clear_line(sqlite_url: str, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.warc.gz"
    bogus.write_bytes(b"this is not a WARC file")
    result = run_tracker(
        "crawl", "seattle", "--replay", bogus, database_url=sqlite_url, check=False
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ice-tracker: error: ")
    assert "bogus.warc.gz" in lines[0]
