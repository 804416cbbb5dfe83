"""The eSCRIBE spider on the recorded Chula Vista listing, and a replayed crawl of it.

The recording (tests/fixtures/escribe/chula-vista/sandie_citychula.json) is the answer of
``POST MeetingsCalendarView.aspx/GetCalendarMeetings``: one Board of Ethics meeting on
2025-12-17. The clock is frozen in the CrawlPlan at the day the recording was used (2026-01-09).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, query, row_counts, run_tracker
from exchanges import JSON, Exchange, write_exchanges
from spider_helpers import json_response, make_spider, of_type, problems

from spiders.escribe import EscribeSpider, parse_start
from tracker.items import MeetingListing, ScrapedBody, ScrapedMeeting
from tracker.models import MeetingStatus

RECORDING = ROOT / "tests" / "fixtures" / "escribe" / "chula-vista" / "sandie_citychula.json"
SITE = "https://pub-chulavista.escribemeetings.com"
LISTING = f"{SITE}/MeetingsCalendarView.aspx/GetCalendarMeetings"
NOW = datetime(2026, 1, 9, tzinfo=UTC)
WINDOW = (datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
CLI_WINDOW = ["--full", "--from", "2025-12-01", "--to", "2026-01-01"]
MEETING = "3a6304b5-97b9-4bcc-aecd-72b8c188e73c"


def recorded() -> dict[str, Any]:
    data = json.loads(RECORDING.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def parse(data: dict[str, Any]) -> tuple[EscribeSpider, list[Any]]:
    spider = make_spider(EscribeSpider, "chula-vista", now=NOW, window=WINDOW)
    return spider, list(spider.parse_listing(json_response(LISTING, data)))


@pytest.fixture(scope="module")
def items() -> list[Any]:
    return parse(recorded())[1]


@pytest.fixture(scope="module")
def meeting(items: list[Any]) -> ScrapedMeeting:
    [only] = of_type(items, ScrapedMeeting)
    return only


def test_count(items: list[Any]) -> None:
    assert [m.platform_id for m in of_type(items, ScrapedMeeting)] == [MEETING]


def test_title(meeting: ScrapedMeeting) -> None:
    assert meeting.title == "Board of Ethics Regular Meeting"


def test_start_is_local_time(meeting: ScrapedMeeting) -> None:
    assert meeting.start is not None
    assert meeting.start.isoformat() == "2025-12-17T17:15:00-08:00"


def test_status(meeting: ScrapedMeeting) -> None:
    assert meeting.status == MeetingStatus.HELD  # past, and nothing says cancelled


def test_location(meeting: ScrapedMeeting) -> None:
    assert meeting.location == (
        "City Hall, Bldg. A, Executive Conference Room #103\n276 Fourth Avenue, Chula Vista, CA"
    )


def test_body(items: list[Any], meeting: ScrapedMeeting) -> None:
    [body] = of_type(items, ScrapedBody)
    assert (body.platform_id, body.name) == ("Board of Ethics Regular Meeting",) * 2
    assert meeting.body_platform_id == body.platform_id


def test_documents(meeting: ScrapedMeeting) -> None:
    assert [(d.kind, d.name, d.url.removeprefix(SITE)) for d in meeting.documents] == [
        ("agenda", "Agenda Cover Page (PDF)", "/FileStream.ashx?DocumentId=56974"),
        ("agenda", "Agenda (PDF)", "/FileStream.ashx?DocumentId=56975"),
        ("agenda", "Agenda (HTML)", f"/Meeting.aspx?Id={MEETING}&Agenda=Agenda&lang=English"),
        ("agenda", "Post Agenda (PDF)", "/FileStream.ashx?DocumentId=57161"),
        (
            "agenda",
            "Post Agenda (HTML)",
            f"/Meeting.aspx?Id={MEETING}&Agenda=PostAgenda&lang=English",
        ),
        (
            "attachment",
            "Board of Ethics Regular Meeting Agenda - Spanish",
            "/FileStream.ashx?DocumentId=56983",
        ),
    ]


def test_agenda_url_is_the_pdf_agenda(meeting: ScrapedMeeting) -> None:
    assert meeting.agenda_url == f"{SITE}/FileStream.ashx?DocumentId=56975"
    assert meeting.minutes_url is None


def test_source_url(meeting: ScrapedMeeting) -> None:
    assert meeting.source_url == f"{SITE}/MeetingsCalendarView.aspx/Meeting?Id={MEETING}"


def test_full_listing_is_declared(items: list[Any]) -> None:
    [listing] = of_type(items, MeetingListing)
    assert listing.meeting_platform_ids == {MEETING}
    assert (listing.window_start, listing.window_end) == WINDOW


@pytest.mark.parametrize(
    "value",
    [
        "2025/12/17 17:15:00",  # local wall time, as recorded
        "/Date(1766020500000)/",  # the same instant in epoch milliseconds
        "/Date(1766020500000-0800)/",  # with the offset suffix some hosts add
    ],
)
def test_both_start_date_forms(value: str) -> None:
    spider = make_spider(EscribeSpider, "chula-vista", now=NOW, window=WINDOW)
    start = parse_start(value, spider.entry.zone)
    assert start is not None
    assert start.isoformat() == "2025-12-17T17:15:00-08:00"


def test_cancelled_meeting_is_what_the_platform_says() -> None:
    data = recorded()
    data["d"][0]["MeetingName"] += " (Cancelled)"
    [meeting] = of_type(parse(data)[1], ScrapedMeeting)
    assert meeting.status == MeetingStatus.CANCELLED


def test_bad_record_fails_alone_and_keeps_the_listing_incomplete() -> None:
    data = recorded()
    data["d"].append({"ID": "x", "MeetingName": "Broken", "StartDate": "next Tuesday"})
    spider, items = parse(data)
    assert [m.platform_id for m in of_type(items, ScrapedMeeting)] == [MEETING]
    assert problems(spider) == {"bad_record/meeting": 1}
    assert of_type(items, MeetingListing) == []


def test_listing_request_is_a_json_post_covering_the_window() -> None:
    spider = make_spider(EscribeSpider, "chula-vista", now=NOW, window=WINDOW)
    request = spider.listing_request()
    assert (request.method, request.url) == ("POST", LISTING)
    assert json.loads(request.body) == LISTING_BODY
    assert request.headers["Content-Type"].startswith(b"application/json")


# -- replayed crawl through the CLI --------------------------------------------------------
# The body the spider sends for the CLI window (2025-12-01..2026-01-01 UTC is 2025-11-30 16:00
# to 2025-12-31 16:00 in Chula Vista: whole local days from 11-30 to 01-01 inclusive), written
# here by hand in another key order and spacing than the spider's: the replay matches JSON
# bodies by value.
LISTING_BODY = {
    "calendarStartDate": "2025-11-30T00:00:00",
    "calendarEndDate": "2026-01-01T00:00:00",
}


def archive(tmp_path: Path) -> Path:
    return write_exchanges(
        tmp_path / "chula-vista.warc.gz",
        [
            Exchange(
                LISTING,
                RECORDING.read_bytes(),
                content_type=JSON,
                method="POST",
                request_body=(
                    b'{"calendarEndDate": "2026-01-01T00:00:00",\n'
                    b' "calendarStartDate": "2025-11-30T00:00:00"}'
                ),
                request_content_type="application/json; charset=utf-8",
            ),
            # Another window's answer at the same URL: only the body tells them apart.
            Exchange(
                LISTING,
                b'{"d": []}',
                content_type=JSON,
                method="POST",
                request_body=b'{"calendarStartDate":"2020-01-01","calendarEndDate":"2020-02-01"}',
                request_content_type="application/json; charset=utf-8",
            ),
        ],
        fetched_at=NOW,
        description="City-Bureau/city-scrapers-san-diego tests/files/sandie_citychula.json "
        "as the answer to the listing POST of the test window",
    )


def crawl(database_url: str, replay: Path, *extra: str) -> str:
    result = run_tracker(
        "crawl", "chula-vista", "--replay", replay, *CLI_WINDOW, *extra, database_url=database_url
    )
    return result.stdout + result.stderr


def test_replayed_crawl_stores_the_meeting_and_is_idempotent(
    database_url: str, tmp_path: Path
) -> None:
    replay = archive(tmp_path)
    output = crawl(database_url, replay)
    assert "chula-vista: ok" in output
    rows = query(database_url, "SELECT platform_id, title, start, status, location FROM meeting")
    assert [(r.platform_id, r.title, r.status) for r in rows] == [
        (MEETING, "Board of Ethics Regular Meeting", "held")
    ]
    assert str(rows[0].start).startswith("2025-12-18 01:15:00")  # 17:15 PST, stored in UTC
    before = row_counts(database_url)
    changes = [r.kind for r in query(database_url, "SELECT kind FROM change ORDER BY id")]
    assert "meeting_added" in changes
    crawl(database_url, replay)
    after = row_counts(database_url)
    assert {t: n for t, n in after.items() if t != "crawl_run"} == {
        t: n for t, n in before.items() if t != "crawl_run"
    }
    assert [r.kind for r in query(database_url, "SELECT kind FROM change ORDER BY id")] == changes
    statuses = [r.status for r in query(database_url, "SELECT status FROM crawl_run")]
    assert statuses == ["ok", "ok"]


def test_archive_of_a_replayed_crawl_replays_the_same(tmp_path: Path) -> None:
    """A crawl's own archive keeps each POST body beside its answer, so it replays alike."""
    first = f"sqlite:///{tmp_path / 'first.db'}"
    second = f"sqlite:///{tmp_path / 'second.db'}"
    recorded_archive = tmp_path / "recorded.warc.gz"
    crawl(first, archive(tmp_path), "--archive", str(recorded_archive))
    crawl(second, recorded_archive)
    sql = "SELECT platform_id, title, start, status FROM meeting"
    assert query(second, sql) == query(first, sql)
    assert len(query(second, sql)) == 1
