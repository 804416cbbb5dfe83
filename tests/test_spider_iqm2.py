"""The IQM2 spider on recorded pages: Riverside County's calendar (list view of 2023, recorded
about 2023-01-12: agendas are posted up to the 18th, videos up to the 12th) and a Creve Coeur
agenda outline (Detail_Meeting, Police and Safety Committee, 2019-03-12); and a replayed crawl
of the Riverside calendar through the CLI.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, query, row_counts, run_tracker
from exchanges import Exchange, write_exchanges
from scrapy import Request
from spider_helpers import html_response, make_spider, of_type, problems

from spiders.iqm2 import Iqm2Spider
from tracker.items import (
    MeetingListing,
    ScrapedAgenda,
    ScrapedAgendaItem,
    ScrapedBody,
    ScrapedMeeting,
    ScrapedVoteEvent,
)
from tracker.models import MeetingStatus, VoteSource, VoteValue

FIXTURES = ROOT / "tests" / "fixtures" / "iqm2"
CALENDAR = FIXTURES / "riverside-county" / "riverside_county.html"
OUTLINE = FIXTURES / "creve-coeur" / "cc_police_safety.html"
RIVERSIDE = "https://riversidecountyca.iqm2.com"
CREVE_COEUR = "https://crevecoeurcitymo.iqm2.com"
NOW = datetime(2023, 1, 13, 12, 0, tzinfo=UTC)
YEAR_2023 = (datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
LISTING = f"{RIVERSIDE}/Citizens/Calendar.aspx?From=12/31/2022&To=12/31/2023&View=List"


def calendar(body: bytes | None = None) -> tuple[Iqm2Spider, list[Any]]:
    spider = make_spider(Iqm2Spider, "riverside-county", now=NOW, window=YEAR_2023)
    page = html_response(LISTING, body if body is not None else CALENDAR.read_bytes())
    return spider, list(spider.parse_calendar(page))


@pytest.fixture(scope="module")
def items() -> list[Any]:
    return calendar()[1]


@pytest.fixture(scope="module")
def meetings(items: list[Any]) -> dict[str, ScrapedMeeting]:
    return {m.platform_id: m for m in of_type(items, ScrapedMeeting)}


def test_listing_request_asks_for_the_window_in_list_view() -> None:
    spider = make_spider(Iqm2Spider, "riverside-county", now=NOW, window=YEAR_2023)

    async def first() -> Request:
        async for request in spider.start():
            return request
        raise AssertionError("no request")

    request = asyncio.run(first())
    # 2023-01-01 00:00 UTC is still 2022-12-31 in Riverside.
    assert request.url == LISTING


def test_count(meetings: dict[str, ScrapedMeeting]) -> None:
    assert len(meetings) == 87  # "Displaying 87 meetings from 1/1/2023 to 12/31/2023"


# (id, title, local start, body id, location, status) for the first rows and the last.
EXPECTED = [
    (
        "2826",
        "Riverside County Planning Commission - Regular Meeting",
        "2023-01-04T09:00:00-08:00",
        "1023",
        "1st Floor Board Chambers\n4080 Lemon Street, 1st. Floor - Board Chambers, "
        "Riverside, CA 92501",
        MeetingStatus.HELD,
    ),
    (
        "2773",
        "Board of Supervisors - Regular Meeting",
        "2023-01-10T09:30:00-08:00",
        "1000",
        "COUNTY ADMINISTRATIVE CENTER\n4080 Lemon Street, 1st. Floor - Board Chambers, "
        "Riverside, CA 92501",
        MeetingStatus.HELD,
    ),
    (
        "2827",
        "Riverside County Director's Hearing - Regular Meeting",
        "2023-01-09T13:30:00-08:00",
        "1211",
        "12th Floor Conference Room A\n4080 Lemon Street, 12th Floor Conference Room A, "
        "Riverside, CA 92501",
        MeetingStatus.HELD,
    ),
    (
        "2851",
        "Riverside County Planning Commission - Regular Meeting",
        "2023-12-20T09:00:00-08:00",
        "1023",
        "1st Floor Board Chambers\n4080 Lemon Street, 1st. Floor - Board Chambers, "
        "Riverside, CA 92501",
        MeetingStatus.SCHEDULED,
    ),
]


Row = tuple[str, str, str, str, str, MeetingStatus]
ROWS = pytest.mark.parametrize("row", EXPECTED, ids=[r[0] for r in EXPECTED])


@ROWS
def test_title(meetings: dict[str, ScrapedMeeting], row: Row) -> None:
    assert meetings[row[0]].title == row[1]


@ROWS
def test_start(meetings: dict[str, ScrapedMeeting], row: Row) -> None:
    start = meetings[row[0]].start
    assert start is not None
    assert start.isoformat() == row[2]


@ROWS
def test_body(meetings: dict[str, ScrapedMeeting], row: Row) -> None:
    assert meetings[row[0]].body_platform_id == row[3]


@ROWS
def test_location(meetings: dict[str, ScrapedMeeting], row: Row) -> None:
    assert meetings[row[0]].location == row[4]


@ROWS
def test_status(meetings: dict[str, ScrapedMeeting], row: Row) -> None:
    assert meetings[row[0]].status == row[5]


@ROWS
def test_source(meetings: dict[str, ScrapedMeeting], row: Row) -> None:
    assert meetings[row[0]].source_url == f"{RIVERSIDE}/Citizens/Detail_Meeting.aspx?ID={row[0]}"


def test_documents(meetings: dict[str, ScrapedMeeting]) -> None:
    meeting = meetings["2826"]
    assert [(d.kind, d.name, d.url) for d in meeting.documents] == [
        ("agenda", "Agenda", f"{RIVERSIDE}/Citizens/FileOpen.aspx?Type=14&ID=2776&Inline=True")
    ]
    assert meeting.agenda_url == meeting.documents[0].url
    assert meeting.minutes_url is None  # the Minutes link is a hidden placeholder
    assert meeting.video_url == (
        f"{RIVERSIDE}/Citizens/SplitView.aspx?Mode=Video&MeetingID=2826&Format=Agenda"
    )


def test_meetings_without_posted_documents(meetings: dict[str, ScrapedMeeting]) -> None:
    later = meetings["2851"]
    assert (later.documents, later.agenda_url, later.video_url) == ((), None, None)


def test_bodies_are_the_meeting_groups(items: list[Any]) -> None:
    bodies = {b.platform_id: b.name for b in of_type(items, ScrapedBody)}
    assert bodies["1000"] == "Board of Supervisors"
    assert bodies["1088"] == "(RCA) Western Riverside County Regional Conservation Authority"
    assert len(bodies) == 8


def test_every_meeting_asks_for_its_outline(items: list[Any]) -> None:
    details = [r for r in items if isinstance(r, Request)]
    assert len(details) == 87
    assert details[0].url == f"{RIVERSIDE}/Citizens/Detail_Meeting.aspx?ID=2826"
    assert all(r.meta["optional"] for r in details)


def test_whole_listing_is_declared(items: list[Any]) -> None:
    [listing] = of_type(items, MeetingListing)
    assert len(listing.meeting_platform_ids) == 87
    # The page's own range (local days of 2023) within the plan's window.
    assert listing.window_start.isoformat() == "2023-01-01T00:00:00-08:00"
    assert listing.window_end == YEAR_2023[1]


def test_a_short_listing_is_not_declared() -> None:
    page = CALENDAR.read_bytes().replace(b"Displaying 87 meetings", b"Displaying 88 meetings")
    _, items = calendar(page)
    assert len(of_type(items, ScrapedMeeting)) == 87
    assert of_type(items, MeetingListing) == []


def test_cancelled_is_what_the_platform_says() -> None:
    page = CALENDAR.read_bytes()
    # The row's summary says "Status: Cancelled" (IQM2's wording for a cancelled meeting).
    page = page.replace(b"Status:&#09;Scheduled", b"Status:&#09;Cancelled", 2)
    _, items = calendar(page)
    found = {m.platform_id: m.status for m in of_type(items, ScrapedMeeting)}
    assert found["2826"] == MeetingStatus.CANCELLED
    assert found["2877"] == MeetingStatus.HELD


def test_cancelled_marker_in_the_row() -> None:
    marker = b'<div class="RowTop"><span class="MeetingCancelled">Cancelled</span>'
    page = CALENDAR.read_bytes().replace(b'<div class="RowTop">', marker, 1)
    _, items = calendar(page)
    assert of_type(items, ScrapedMeeting)[0].status == MeetingStatus.CANCELLED


# -- the agenda outline ---------------------------------------------------------------------
OUTLINE_NOW = datetime(2019, 3, 20, tzinfo=UTC)
CREVE_MEETING = ScrapedMeeting(
    platform="iqm2",
    platform_id="5147",
    title="Police and Safety Committee - Committee Meeting",
    start=datetime(2019, 3, 12, 22, 30, tzinfo=UTC),
)


@pytest.fixture(scope="module")
def outline() -> list[Any]:
    spider = make_spider(
        Iqm2Spider,
        "creve-coeur",
        now=OUTLINE_NOW,
        window=(datetime(2019, 3, 1, tzinfo=UTC), datetime(2019, 4, 1, tzinfo=UTC)),
    )
    page = html_response(
        f"{CREVE_COEUR}/Citizens/Detail_Meeting.aspx?ID=5147",
        OUTLINE.read_bytes(),
        meeting=CREVE_MEETING,
    )
    return list(spider.parse_meeting(page))


@pytest.fixture(scope="module")
def agenda(outline: list[Any]) -> ScrapedAgenda:
    [only] = of_type(outline, ScrapedAgenda)
    return only


def test_outline_is_one_complete_agenda(agenda: ScrapedAgenda) -> None:
    assert (agenda.meeting_platform_id, agenda.complete) == ("5147", True)
    assert len(agenda.items) == 28


@pytest.mark.parametrize(
    ("position", "item_id", "number", "title"),
    [
        (0, "5147:1", "1", "Call to Order"),
        (2, "5147:2.1", None, "December 11th, 2018"),
        (4, "5147:3.1", None, "Update on New Police Station"),
        (7, "5147:4.1", None, "Strategic Plan-PD Role"),
        (
            24,
            "5147:6.12",
            None,
            "Halloween Party: Trunk or Treat, Tuesday, October 29th, 2019, 4:00-6:00 p.m.",
        ),
        (27, "5147:8", "8", "Adjourn"),
    ],
)
def test_outline_items(
    agenda: ScrapedAgenda, position: int, item_id: str, number: str | None, title: str
) -> None:
    item: ScrapedAgendaItem = agenda.items[position]
    assert (item.platform_id, item.number, item.title, item.sequence) == (
        item_id,
        number,
        title,
        position + 1,
    )


def test_outline_without_files_asks_for_no_votes(outline: list[Any]) -> None:
    assert [r for r in outline if isinstance(r, Request)] == []
    assert all(i.matter_platform_id is None for i in of_type(outline, ScrapedAgenda)[0].items)


# -- votes: Detail_LegiFile history ----------------------------------------------------------
# No Detail_LegiFile page has been recorded anywhere we can reach; this one is written from the
# structure CouncilDataProject's Atlanta scraper reads (cdp_scrapers/instances/atlanta.py:
# div#ContentPlaceHolder1_divHistory > div > table > tr pairs of a header with td.Date and the
# meeting link, then a nested table of td.Role rows: "AYES:", "NAYS:", "AWAY:", ...). The
# names are placeholders: no real member's vote is made up here.
LEGIFILE = b"""<html><body><div id="ContentPlaceHolder1_divHistory"><div><table>
<tr><td class="Date"><a href="Detail_Meeting.aspx?ID=3587">Apr 18, 2022 1:00 PM</a></td>
    <td class="Board">City Council</td><td>Regular Meeting</td></tr>
<tr><td colspan="3"><table>
  <tr><td class="Role">RESULT:</td><td class="Result">ADOPTED [12 TO 1]</td></tr>
  <tr><td class="Role">MOVER:</td><td>Member Ames, Post 1 At-Large</td></tr>
  <tr><td class="Role">AYES:</td>
      <td>Member Ames, Member Baker, Member Cruz</td></tr>
  <tr><td class="Role">NAYS:</td><td>Member Diaz</td></tr>
  <tr><td class="Role">AWAY:</td><td>Member Evans</td></tr>
</table></td></tr>
<tr><td class="Date"><a href="Detail_Meeting.aspx?ID=3500">Apr 4, 2022 1:00 PM</a></td>
    <td class="Board">Committee</td><td>Regular Meeting</td></tr>
<tr><td colspan="3"><table>
  <tr><td class="Role">RESULT:</td><td class="Result">FAVORABLE</td></tr>
  <tr><td class="Role">AYES:</td><td>Member Ford</td></tr>
</table></td></tr>
</table></div></div></body></html>"""


def test_legifile_history_gives_the_meetings_votes() -> None:
    spider = make_spider(
        Iqm2Spider,
        "creve-coeur",
        now=datetime(2022, 5, 1, tzinfo=UTC),
        window=(datetime(2022, 4, 1, tzinfo=UTC), datetime(2022, 5, 1, tzinfo=UTC)),
    )
    meeting = ScrapedMeeting(
        platform="iqm2", platform_id="3587", start=datetime(2022, 4, 18, 17, tzinfo=UTC)
    )
    item = ScrapedAgendaItem(
        platform_id="3587:22077", title="22-R-3404", matter_platform_id="22077"
    )
    page = html_response(
        f"{CREVE_COEUR}/Citizens/Detail_LegiFile.aspx?ID=22077",
        LEGIFILE,
        meeting=meeting,
        item=item,
    )
    [event] = of_type(spider.parse_legifile(page), ScrapedVoteEvent)
    assert event.source == VoteSource.HTML
    assert (event.item_platform_id, event.result, event.motion) == (
        "3587:22077",
        "passed",
        "ADOPTED [12 TO 1]",
    )
    assert [(v.name, v.raw_value, v.value) for v in event.votes] == [
        ("Member Ames", "AYES", VoteValue.YES),
        ("Member Baker", "AYES", VoteValue.YES),
        ("Member Cruz", "AYES", VoteValue.YES),
        ("Member Diaz", "NAYS", VoteValue.NO),
        ("Member Evans", "AWAY", None),  # in no map: kept raw and reported
    ]
    assert problems(spider) == {"unknown_vote_value": 1}


# -- replayed crawl through the CLI --------------------------------------------------------
def archive(tmp_path: Path) -> Path:
    # The recording is the list view of 1/1/2023-12/31/2023 (the page says so); the spider
    # asks for 12/31/2022-12/31/2023 (the CLI window starts at midnight UTC), which the replay
    # answers with the one recorded calendar of that path, query ignored.
    return write_exchanges(
        tmp_path / "riverside.warc.gz",
        [
            Exchange(
                f"{RIVERSIDE}/Citizens/Calendar.aspx?From=1/1/2023&To=12/31/2023&View=List",
                CALENDAR.read_bytes(),
            )
        ],
        fetched_at=NOW,
        description="washabstract/city-scrapers-ca tests/files/riverside_county.html",
    )


def crawl(database_url: str, replay: Path) -> str:
    result = run_tracker(
        "crawl",
        "riverside-county",
        "--replay",
        replay,
        "--full",
        "--from",
        "2023-01-01",
        "--to",
        "2024-01-01",
        database_url=database_url,
    )
    return result.stdout + result.stderr


def test_replayed_crawl_stores_the_calendar_and_is_idempotent(
    database_url: str, tmp_path: Path
) -> None:
    replay = archive(tmp_path)
    assert "riverside-county: ok" in crawl(database_url, replay)
    rows = {
        r.platform_id: r
        for r in query(database_url, "SELECT platform_id, title, start, status FROM meeting")
    }
    assert len(rows) == 87
    assert rows["2773"].title == "Board of Supervisors - Regular Meeting"
    assert str(rows["2773"].start).startswith("2023-01-10 17:30:00")  # 9:30 PST in UTC
    assert {r.status for r in rows.values()} == {"held"}  # all past by now, none cancelled
    bodies = query(database_url, "SELECT platform_id, name FROM body WHERE platform_id = '1000'")
    assert [(b.platform_id, b.name) for b in bodies] == [("1000", "Board of Supervisors")]
    before = row_counts(database_url)
    changes = [r.kind for r in query(database_url, "SELECT kind FROM change ORDER BY id")]
    assert changes.count("meeting_added") == 87
    crawl(database_url, replay)
    after = row_counts(database_url)
    assert {t: n for t, n in after.items() if t != "crawl_run"} == {
        t: n for t, n in before.items() if t != "crawl_run"
    }
    assert [r.kind for r in query(database_url, "SELECT kind FROM change ORDER BY id")] == changes
    assert [r.status for r in query(database_url, "SELECT status FROM crawl_run")] == ["ok", "ok"]
