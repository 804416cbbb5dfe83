"""The PrimeGov spider on Clayton County's recorded ListArchivedMeetings answer.

Clock frozen just after the recording was made (its newest publishDate, 2026-04-18 16:41 UTC);
one assertion per field; a replay through the real CLI at the end.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import ROOT, query, row_counts, run_tracker
from recordings import JSON, Recorded, write_warc
from scrapy import Request
from spider_helpers import json_response, make_spider, of_type, problems

from spiders.primegov import PrimeGovSpider
from tracker.items import MeetingListing, ScrapedMeeting
from tracker.models import MeetingStatus

RECORDING = ROOT / "tests" / "fixtures" / "primegov" / "clayton-county"
ROWS = json.loads((RECORDING / "atl_clayton_co_boc_meetings.json").read_text(encoding="utf-8"))
SITE = "https://claytoncountyga.primegov.com"
ARCHIVED = f"{SITE}/api/v2/PublicPortal/ListArchivedMeetings?year=2026"
UPCOMING = f"{SITE}/api/v2/PublicPortal/ListUpcomingMeetings"
NOW = datetime(2026, 4, 18, 17, 0, tzinfo=UTC)
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
EASTERN = ZoneInfo("America/New_York")


def spider() -> PrimeGovSpider:
    return make_spider(PrimeGovSpider, "clayton-county-ga", now=NOW, window=WINDOW)


def parse(rows: Any, url: str = ARCHIVED, kind: str = "archived") -> tuple[PrimeGovSpider, list]:
    s = spider()
    s.listing_pending = {url}
    return s, list(s.parse_listing(json_response(url, rows, kind=kind)))


@pytest.fixture(scope="module")
def meetings() -> dict[str, ScrapedMeeting]:
    _, out = parse(ROWS)
    return {m.platform_id: m for m in of_type(out, ScrapedMeeting)}


def test_requests_each_archived_year_of_the_window_and_upcoming() -> None:
    s = make_spider(
        PrimeGovSpider,
        "clayton-county-ga",
        now=NOW,
        window=(datetime(2025, 11, 1, tzinfo=UTC), WINDOW[1]),
    )

    async def collect() -> list[Request]:
        return [r async for r in s.start()]

    urls = [r.url for r in asyncio.run(collect())]
    assert urls == [ARCHIVED.replace("2026", "2025"), ARCHIVED, UPCOMING]


def test_meeting_count(meetings: dict[str, ScrapedMeeting]) -> None:
    assert len(meetings) == 18


@pytest.mark.parametrize("row", ROWS, ids=lambda r: str(r["id"]))
def test_start_is_the_local_wall_time(meetings: dict[str, ScrapedMeeting], row: Any) -> None:
    expected = datetime.fromisoformat(row["dateTime"]).replace(tzinfo=EASTERN)
    assert meetings[str(row["id"])].start == expected


@pytest.mark.parametrize("row", ROWS, ids=lambda r: str(r["id"]))
def test_title_is_trimmed(meetings: dict[str, ScrapedMeeting], row: Any) -> None:
    assert meetings[str(row["id"])].title == row["title"].strip()


def test_start_in_winter_and_summer_time(meetings: dict[str, ScrapedMeeting]) -> None:
    assert [meetings[i].start.isoformat() for i in ("554", "646")] == [
        "2026-01-06T18:00:00-05:00",
        "2026-04-21T18:00:00-04:00",
    ]


def test_title_with_a_place(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["638"].title == "Special Called Meeting - Lake City Community Center"


def test_status_past_meetings_were_held(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["554"].status == MeetingStatus.HELD


def test_status_is_not_taken_from_meeting_state(meetings: dict[str, ScrapedMeeting]) -> None:
    # 695 is listed meetingState 3 ("completed") two days before it takes place.
    assert meetings["695"].status == MeetingStatus.SCHEDULED


def test_status_upcoming(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["646"].status == MeetingStatus.SCHEDULED


def test_status_cancelled_from_the_title() -> None:
    row = dict(ROWS[-1], title="Regular Business Meeting - CANCELLED")
    _, out = parse([row])
    assert of_type(out, ScrapedMeeting)[0].status == MeetingStatus.CANCELLED


def test_status_cancelled_from_a_template_name() -> None:
    notice = dict(ROWS[-1]["documentList"][0], templateName="Cancellation Notice", id=1)
    row = dict(ROWS[-1], documentList=[notice])
    _, out = parse([row])
    assert of_type(out, ScrapedMeeting)[0].status == MeetingStatus.CANCELLED


def test_documents_every_rendering_once(meetings: dict[str, ScrapedMeeting]) -> None:
    docs = [(d.kind, d.name, d.url.removeprefix(SITE)) for d in meetings["558"].documents]
    assert docs == [  # in published order
        ("agenda", "HTML Agenda", "/Portal/Meeting?meetingTemplateId=4437"),
        ("agenda", "Agenda", "/Public/CompiledDocument?meetingTemplateId=4437&compileOutputType=1"),
        ("minutes", "HTML Summary Minutes", "/Portal/Meeting?meetingTemplateId=4442"),
        (
            "minutes",
            "Summary Minutes",
            "/Public/CompiledDocument?meetingTemplateId=4442&compileOutputType=1",
        ),
        (
            "minutes",
            "Minutes",
            "/Public/CompiledDocument?meetingTemplateId=4438&compileOutputType=1",
        ),
        (
            "minutes",
            "Summary Minutes",
            "/Public/CompiledDocument?meetingTemplateId=4442&compileOutputType=2",
        ),
        ("minutes", "HTML Minutes", "/Portal/Meeting?meetingTemplateId=4438"),
    ]


def test_packet_document(meetings: dict[str, ScrapedMeeting]) -> None:
    assert [d.name for d in meetings["556"].documents if d.kind == "packet"] == [
        "Board Agenda Packet"
    ]


def test_agenda_url_prefers_the_compiled_file(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["558"].agenda_url == (
        f"{SITE}/Public/CompiledDocument?meetingTemplateId=4437&compileOutputType=1"
    )


def test_agenda_url_html_when_alone(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["613"].agenda_url == f"{SITE}/Portal/Meeting?meetingTemplateId=4801"


def test_minutes_url_prefers_full_minutes(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["554"].minutes_url == (
        f"{SITE}/Public/CompiledDocument?meetingTemplateId=4410&compileOutputType=1"
    )


def test_minutes_url_none_before_minutes(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["646"].minutes_url is None


def test_published_times_are_utc(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["554"].minutes_published_at == datetime(
        2026, 1, 29, 15, 54, 17, 830000, tzinfo=UTC
    )


def test_agenda_published_at(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["646"].agenda_published_at == datetime(
        2026, 4, 17, 17, 26, 39, 693000, tzinfo=UTC
    )


def test_video_url(meetings: dict[str, ScrapedMeeting]) -> None:
    assert (
        meetings["554"].video_url
        == "https://claytoncountyga.granicus.com/MediaPlayer.php?clip_id=34"
    )


def test_no_video(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["560"].video_url is None


def test_body_is_not_named_by_the_listing(meetings: dict[str, ScrapedMeeting]) -> None:
    # Rows carry committeeId 1 and no name for it; no body rather than "Body 1".
    assert meetings["554"].body_platform_id is None


def test_source_url(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["554"].source_url == f"{SITE}/public/portal"


def test_date_and_time_when_date_time_is_empty() -> None:
    row = dict(ROWS[0], dateTime="", date="09/06/2022", time="10:00 AM")
    _, out = parse([row])
    assert of_type(out, ScrapedMeeting)[0].start == datetime(2022, 9, 6, 10, 0, tzinfo=EASTERN)


def test_listing_without_upcoming_ends_now() -> None:
    _, out = parse(ROWS)
    [listing] = of_type(out, MeetingListing)
    assert (listing.window_start, listing.window_end, len(listing.meeting_platform_ids)) == (
        WINDOW[0],
        NOW,
        18,
    )


def test_listing_with_upcoming_covers_the_window() -> None:
    s = spider()
    s.listing_pending = {ARCHIVED, UPCOMING}
    first = list(s.parse_listing(json_response(ARCHIVED, ROWS, kind="archived")))
    assert of_type(first, MeetingListing) == []  # upcoming not answered yet
    later = list(s.parse_listing(json_response(UPCOMING, [ROWS[-1]], kind="upcoming")))
    [listing] = of_type(later, MeetingListing)
    assert listing.window_end == WINDOW[1]


def test_bad_record_fails_alone_and_the_listing_is_not_complete() -> None:
    s, out = parse([{"title": "no id"}, ROWS[0]])
    assert [m.platform_id for m in of_type(out, ScrapedMeeting)] == ["554"]
    assert of_type(out, MeetingListing) == []
    assert problems(s) == {"bad_record/meeting": 1}


def test_malformed_body_is_a_problem() -> None:
    s, out = parse(b"<html>Attention Required! | Cloudflare</html>")
    assert out == []
    assert problems(s) == {"bad_json/archived": 1}


# -- replay through the real CLI --------------------------------------------------------------


def clayton_warc(tmp_path: Path) -> Path:
    return write_warc(
        tmp_path / "clayton-county-ga.warc.gz",
        [Recorded(ARCHIVED, (RECORDING / "atl_clayton_co_boc_meetings.json").read_bytes(), JSON)],
        date="2026-04-18T16:41:11Z",  # the newest publishDate: a lower bound of retrieval
        description="Clayton County GA PrimeGov ListArchivedMeetings (City-Bureau/city-scrapers-atl"
        " tests/files/atl_clayton_co_boc_meetings.json)",
    )


def crawl(database_url: str, warc: Path) -> None:
    run_tracker(
        "crawl",
        "clayton-county-ga",
        "--replay",
        warc,
        "--full",
        "--from",
        "2026-01-01",
        "--to",
        "2026-05-01",
        database_url=database_url,
    )


def test_replay_twice_stores_the_recording_once(database_url: str, tmp_path: Path) -> None:
    warc = clayton_warc(tmp_path)
    crawl(database_url, warc)
    before = row_counts(database_url)
    changes = query(database_url, "SELECT kind FROM change ORDER BY id")
    runs = query(database_url, "SELECT status FROM crawl_run ORDER BY id")
    stored = {
        r.platform_id: r
        for r in query(database_url, "SELECT platform_id, title, start, status FROM meeting")
    }
    assert before["meeting"] == 18
    assert [r.status for r in runs] == ["ok"]
    assert stored["638"].title == "Special Called Meeting - Lake City Community Center"
    assert str(stored["554"].start).startswith("2026-01-06 23:00:00")  # 6 PM EST in UTC
    assert [c.kind for c in changes].count("meeting_added") == 18

    crawl(database_url, warc)
    after = row_counts(database_url)
    assert {t: n for t, n in after.items() if t != "crawl_run"} == {
        t: n for t, n in before.items() if t != "crawl_run"
    }
    assert query(database_url, "SELECT kind FROM change ORDER BY id") == changes
    assert [r.status for r in query(database_url, "SELECT status FROM crawl_run ORDER BY id")] == [
        "ok",
        "ok",
    ]
