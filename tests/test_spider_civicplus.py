"""The CivicPlus AgendaCenter spider on recorded pages: the search results of Las Cruces NM,
Alameda County Water District CA (newer markup) and Nash County NC (from a vcrpy cassette), and
Kingsburg CA's /AgendaCenter index (same row markup).

Clock frozen in the plan just after each recording (its newest "Posted" stamp, or the
cassette's Date header); one assertion per field; a replay through the real CLI at the end.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import ROOT, query, row_counts, run_tracker
from recordings import HTML, Recorded, cassette_interactions, write_warc
from scrapy import Request
from spider_helpers import html_response, make_spider, of_type, problems

from spiders.civicplus import CivicPlusSpider
from tracker.items import MeetingListing, ScrapedBody, ScrapedMeeting
from tracker.models import MeetingStatus

FIXTURES = ROOT / "tests" / "fixtures" / "civicplus"
LAS_CRUCES = FIXTURES / "las-cruces" / "civplus_agenda_search_results_page.html"
LAS_CRUCES_SITE = "https://nm-lascruces.civicplus.com"
LAS_CRUCES_URL = (
    f"{LAS_CRUCES_SITE}/AgendaCenter/Search/?term=&CIDs=all&startDate=11/08/2020"
    "&endDate=12/15/2020&dateRange=&dateSelector="
)  # the page's og:url
LAS_CRUCES_NOW = datetime(2020, 12, 11, 12, 0, tzinfo=UTC)
LAS_CRUCES_WINDOW = (datetime(2020, 11, 8, tzinfo=UTC), datetime(2020, 12, 16, tzinfo=UTC))
MOUNTAIN = ZoneInfo("America/Denver")
PACIFIC = ZoneInfo("America/Los_Angeles")
EASTERN = ZoneInfo("America/New_York")
CANCELLED = {"792", "798", "806", "807", "817", "819", "822"}
# Every row's agenda id and date, from its "_MMDDYYYY-ID" anchor.
ANCHORS = {
    agenda_id: datetime.strptime(stamp, "%m%d%Y").date()
    for stamp, agenda_id in re.findall(r'name="_(\d{8})-(\d+)"', LAS_CRUCES.read_text("utf-8"))
}


def parse(
    slug: str, body: bytes, url: str, now: datetime, window: tuple[datetime, datetime]
) -> tuple[CivicPlusSpider, list[Any]]:
    spider = make_spider(CivicPlusSpider, slug, now=now, window=window)
    spider.listing_pending = {url}
    return spider, list(spider.parse_search(html_response(url, body, kind="search")))


@pytest.fixture(scope="module")
def las_cruces() -> list[Any]:
    return parse(
        "las-cruces", LAS_CRUCES.read_bytes(), LAS_CRUCES_URL, LAS_CRUCES_NOW, LAS_CRUCES_WINDOW
    )[1]


@pytest.fixture(scope="module")
def meetings(las_cruces: list[Any]) -> dict[str, ScrapedMeeting]:
    return {m.platform_id: m for m in of_type(las_cruces, ScrapedMeeting)}


@pytest.fixture(scope="module")
def kingsburg() -> dict[str, ScrapedMeeting]:
    body = (FIXTURES / "kingsburg" / "fre_kingsburg_city_council.html").read_bytes()
    _, out = parse(
        "kingsburg",
        body,
        "https://www.cityofkingsburg-ca.gov/AgendaCenter",
        datetime(2022, 8, 22, 18, 0, tzinfo=UTC),
        (datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC)),
    )
    return {m.platform_id: m for m in of_type(out, ScrapedMeeting)}


@pytest.fixture(scope="module")
def alameda() -> dict[str, ScrapedMeeting]:
    body = (FIXTURES / "alameda-county-water-district" / "civplus_alameda_water.html").read_bytes()
    _, out = parse(
        "alameda-county-water-district",
        body,
        "https://www.acwd.org/AgendaCenter/Search/?term=&CIDs=all&startDate=09/01/2024"
        "&endDate=09/30/2024&dateRange=&dateSelector=",
        datetime(2024, 9, 1, tzinfo=UTC),
        (datetime(2024, 9, 1, tzinfo=UTC), datetime(2024, 10, 1, tzinfo=UTC)),
    )
    return {m.platform_id: m for m in of_type(out, ScrapedMeeting)}


@pytest.fixture(scope="module")
def nash() -> dict[str, ScrapedMeeting]:
    search = cassette_interactions(FIXTURES / "nash-county" / "test_scrape_defaults.yaml")[0]
    _, out = parse(
        "nash-county",
        search.body,
        search.uri,
        datetime(2022, 6, 9, 23, 4, 8, tzinfo=UTC),  # the cassette's Date header
        (datetime(2020, 5, 3, tzinfo=UTC), datetime(2020, 5, 7, tzinfo=UTC)),
    )
    return {m.platform_id: m for m in of_type(out, ScrapedMeeting)}


def test_one_search_per_calendar_year_of_the_window() -> None:
    spider = make_spider(
        CivicPlusSpider,
        "las-cruces",
        now=LAS_CRUCES_NOW,
        window=(datetime(2020, 12, 1, 12, tzinfo=UTC), datetime(2021, 1, 15, 12, tzinfo=UTC)),
    )

    async def collect() -> list[Request]:
        return [r async for r in spider.start()]

    assert [r.url.split("startDate=")[1] for r in asyncio.run(collect())] == [
        "12/01/2020&endDate=12/31/2020&dateRange=&dateSelector=",
        "01/01/2021&endDate=01/15/2021&dateRange=&dateSelector=",
    ]


def test_meeting_count(meetings: dict[str, ScrapedMeeting]) -> None:
    assert len(meetings) == 28


@pytest.mark.parametrize(("agenda_id", "day"), sorted(ANCHORS.items()))
def test_start_is_local_midnight_of_the_anchor_date(
    meetings: dict[str, ScrapedMeeting], agenda_id: str, day: date
) -> None:
    assert meetings[agenda_id].start == datetime.combine(day, time(0, 0), tzinfo=MOUNTAIN)


@pytest.mark.parametrize("agenda_id", sorted(CANCELLED))
def test_cancelled_from_the_title(meetings: dict[str, ScrapedMeeting], agenda_id: str) -> None:
    assert meetings[agenda_id].status == MeetingStatus.CANCELLED


def test_other_meetings_are_not_cancelled(meetings: dict[str, ScrapedMeeting]) -> None:
    assert {i for i, m in meetings.items() if m.status == MeetingStatus.CANCELLED} == CANCELLED


def test_status_held_and_scheduled(meetings: dict[str, ScrapedMeeting]) -> None:
    assert (meetings["791"].status, meetings["827"].status) == (
        MeetingStatus.HELD,
        MeetingStatus.SCHEDULED,
    )


def test_title(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["817"].title == "DRC Meeting on December 2, 2020 - CANCELLED"


def test_start(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["827"].start.isoformat() == "2020-12-14T00:00:00-07:00"


def test_documents(meetings: dict[str, ScrapedMeeting]) -> None:
    assert [(d.kind, d.url.removeprefix(LAS_CRUCES_SITE)) for d in meetings["791"].documents] == [
        ("agenda", "/AgendaCenter/ViewFile/Agenda/_11122020-791"),
        ("packet", "/AgendaCenter/ViewFile/Agenda/_11122020-791?packet=true"),
        ("minutes", "/AgendaCenter/ViewFile/Minutes/_11122020-791"),
    ]


def test_agenda_and_minutes_urls(meetings: dict[str, ScrapedMeeting]) -> None:
    assert (meetings["791"].agenda_url, meetings["791"].minutes_url) == (
        f"{LAS_CRUCES_SITE}/AgendaCenter/ViewFile/Agenda/_11122020-791",
        f"{LAS_CRUCES_SITE}/AgendaCenter/ViewFile/Minutes/_11122020-791",
    )


def test_agenda_posted_time_is_local(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["791"].agenda_published_at == datetime(2020, 11, 2, 16, 29, tzinfo=MOUNTAIN)


def test_media_link_is_the_video(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["791"].video_url == (
        "https://publicrecords.las-cruces.org/WebLink/Browse.aspx?id=2049915&dbid=0&repo=Live"
    )


def test_webinar_link_is_the_virtual_link(meetings: dict[str, ScrapedMeeting]) -> None:
    assert (meetings["821"].virtual_link, meetings["821"].video_url) == (
        "https://zoom.us/webinar/register/WN_v-bEPKU7QWi8jBIeEvPBtQ",
        None,
    )


def test_body(meetings: dict[str, ScrapedMeeting]) -> None:
    assert (meetings["791"].body_platform_id, meetings["791"].body_name) == (
        "9",
        "Board of Commissioners for Las Cruces Utilities",
    )


def test_bodies(las_cruces: list[Any]) -> None:
    bodies = of_type(las_cruces, ScrapedBody)
    assert (len(bodies), bodies[0].platform_id, bodies[0].name, bodies[0].kind) == (
        20,
        "7",
        "Airport Advisory Board",
        "commission",
    )


def test_listing(las_cruces: list[Any]) -> None:
    [listing] = of_type(las_cruces, MeetingListing)
    assert (listing.window_start, listing.window_end, len(listing.meeting_platform_ids)) == (
        *LAS_CRUCES_WINDOW,
        28,
    )


def test_a_page_that_is_not_agenda_center_is_a_problem() -> None:
    spider, out = parse(
        "las-cruces",
        # An error page of the site: its navigation links to the AgendaCenter, no listing.
        b'<html><body><a href="/AgendaCenter">Agendas</a><h1>Page Not Found</h1></body></html>',
        LAS_CRUCES_URL,
        LAS_CRUCES_NOW,
        LAS_CRUCES_WINDOW,
    )
    assert (out, problems(spider)) == ([], {"bad_page/search": 1})


def test_broken_row_fails_alone_and_the_listing_is_not_complete() -> None:
    html = LAS_CRUCES.read_bytes().replace(b"_11122020-791", b"_notadate-791")
    spider, out = parse("las-cruces", html, LAS_CRUCES_URL, LAS_CRUCES_NOW, LAS_CRUCES_WINDOW)
    assert (len(of_type(out, ScrapedMeeting)), of_type(out, MeetingListing), problems(spider)) == (
        27,
        [],
        {"bad_record/row": 1},
    )


def test_category_filter(meetings: dict[str, ScrapedMeeting]) -> None:
    entry = make_spider(
        CivicPlusSpider, "las-cruces", now=LAS_CRUCES_NOW, window=LAS_CRUCES_WINDOW
    ).entry
    assert entry.civicplus is not None
    only_drc = entry.model_copy(
        update={"civicplus": entry.civicplus.model_copy(update={"category_ids": (13,)})}
    )
    spider = make_spider(CivicPlusSpider, only_drc, now=LAS_CRUCES_NOW, window=LAS_CRUCES_WINDOW)
    out = list(spider.parse_search(html_response(LAS_CRUCES_URL, LAS_CRUCES.read_bytes())))
    assert sorted(m.platform_id for m in of_type(out, ScrapedMeeting)) == ["798", "817"]


def test_alameda_newer_markup(alameda: dict[str, ScrapedMeeting]) -> None:
    assert sorted(alameda) == ["1447", "1448"]


def test_alameda_generic_title_is_the_body(alameda: dict[str, ScrapedMeeting]) -> None:
    assert alameda["1448"].title == "Operations and Water Quality Committee"


def test_alameda_start(alameda: dict[str, ScrapedMeeting]) -> None:
    assert alameda["1447"].start == datetime(2024, 9, 4, tzinfo=PACIFIC)


def test_alameda_previous_versions_are_not_documents(alameda: dict[str, ScrapedMeeting]) -> None:
    assert [d.url for d in alameda["1448"].documents] == [
        "https://www.acwd.org/AgendaCenter/ViewFile/Agenda/_09032024-1448"
    ]


def test_alameda_body(alameda: dict[str, ScrapedMeeting]) -> None:
    assert alameda["1447"].body_platform_id == "3"


def test_kingsburg_index_count(kingsburg: dict[str, ScrapedMeeting]) -> None:
    assert len(kingsburg) == 61


def test_kingsburg_cancellation_notice(kingsburg: dict[str, ScrapedMeeting]) -> None:
    assert (kingsburg["718"].title, kingsburg["718"].status) == (
        "Meeting Cancellation",
        MeetingStatus.CANCELLED,
    )


def test_kingsburg_title(kingsburg: dict[str, ScrapedMeeting]) -> None:
    assert kingsburg["708"].title == (
        "City Council Regular Meeting Agenda- Please note it is on a Tuesday."
    )


def test_kingsburg_minutes(kingsburg: dict[str, ScrapedMeeting]) -> None:
    assert kingsburg["708"].minutes_url == (
        "https://www.cityofkingsburg-ca.gov/AgendaCenter/ViewFile/Minutes/_05312022-708"
    )


def test_kingsburg_upcoming(kingsburg: dict[str, ScrapedMeeting]) -> None:
    assert kingsburg["727"].status == MeetingStatus.SCHEDULED


def test_nash_count(nash: dict[str, ScrapedMeeting]) -> None:
    assert sorted(nash) == ["381", "382"]


def test_nash_title(nash: dict[str, ScrapedMeeting]) -> None:
    assert nash["382"].title == "May 5, 2020 Recessed Meeting/Budget Work Session Agenda"


def test_nash_start(nash: dict[str, ScrapedMeeting]) -> None:
    assert nash["381"].start == datetime.combine(date(2020, 5, 4), time(0, 0), tzinfo=EASTERN)


def test_nash_minutes_and_status(nash: dict[str, ScrapedMeeting]) -> None:
    assert (nash["381"].minutes_url, nash["381"].status) == (
        "http://nc-nashcounty.civicplus.com/AgendaCenter/ViewFile/Minutes/_05042020-381",
        MeetingStatus.HELD,
    )


def test_nash_posted(nash: dict[str, ScrapedMeeting]) -> None:
    assert nash["382"].agenda_published_at == datetime(2020, 5, 5, 10, 17, tzinfo=EASTERN)


# -- replay through the real CLI --------------------------------------------------------------


def las_cruces_warc(tmp_path: Path) -> Path:
    return write_warc(
        tmp_path / "las-cruces.warc.gz",
        [Recorded(LAS_CRUCES_URL, LAS_CRUCES.read_bytes(), HTML)],
        date="2020-12-10T22:14:00Z",  # the newest "Posted" stamp: a lower bound of retrieval
        description="Las Cruces NM AgendaCenter search results (biglocalnews/civic-scraper "
        "tests/fixtures/civplus_agenda_search_results_page.html) at the page's og:url",
    )


def crawl(database_url: str, warc: Path) -> None:
    run_tracker(
        "crawl",
        "las-cruces",
        "--replay",
        warc,
        "--full",
        "--from",
        "2020-11-08",
        "--to",
        "2020-12-16",
        database_url=database_url,
    )


def test_replay_twice_stores_the_recording_once(database_url: str, tmp_path: Path) -> None:
    warc = las_cruces_warc(tmp_path)
    crawl(database_url, warc)
    before = row_counts(database_url)
    changes = query(database_url, "SELECT kind FROM change ORDER BY id")
    stored = {
        r.platform_id: r
        for r in query(database_url, "SELECT platform_id, title, status, start FROM meeting")
    }
    assert (before["meeting"], before["body"]) == (28, 20)
    assert [r.status for r in query(database_url, "SELECT status FROM crawl_run")] == ["ok"]
    assert {i for i, r in stored.items() if r.status == "cancelled"} == CANCELLED
    assert str(stored["827"].start).startswith("2020-12-14 07:00:00")  # midnight MST in UTC

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
