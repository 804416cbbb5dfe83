"""The Legistar InSite spider on recorded Calendar.aspx pages (New York City, "This Month" of
January 2019, recorded about 2019-01-09: minutes and video are up for the 7th only; and
Philadelphia, April 2025), its postbacks, and a replayed crawl of the New York page.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from conftest import ROOT, query, row_counts, run_tracker
from exchanges import Exchange, write_exchanges
from scrapy import Request
from scrapy.http import FormRequest
from spider_helpers import html_response, make_spider, of_type, problems

from spiders.legistar_web import LegistarWebSpider
from tracker.items import (
    MeetingListing,
    ScrapedAgenda,
    ScrapedBody,
    ScrapedMatter,
    ScrapedMeeting,
    ScrapedVoteEvent,
)
from tracker.models import MeetingStatus, VoteSource, VoteValue
from tracker.registry import Entry

FIXTURES = ROOT / "tests" / "fixtures" / "legistar-web"
NYC_PAGE = FIXTURES / "new-york-city" / "events.html"
PHILLY_PAGE = FIXTURES / "philadelphia" / "phipa_city_council.html"
NYC = "https://legistar.council.nyc.gov"
OLD_NYC = "https://nyc.legistar.com"  # where the page was recorded; its links point there
NOW = datetime(2019, 1, 9, 12, 0, tzinfo=UTC)
# January 2019 in New York (05:00 UTC is local midnight): one year to select.
JANUARY = (datetime(2019, 1, 1, 5, tzinfo=UTC), datetime(2019, 2, 1, 5, tzinfo=UTC))


def spider_for(entry: Entry | str = "new-york-city", **kwargs: Any) -> LegistarWebSpider:
    return make_spider(
        LegistarWebSpider,
        entry,
        now=kwargs.get("now", NOW),
        window=kwargs.get("window", JANUARY),
    )


def calendar(body: bytes, spider: LegistarWebSpider | None = None, **meta: Any) -> list[Any]:
    spider = spider or spider_for()
    return list(spider.parse_calendar(html_response(f"{NYC}/Calendar.aspx", body, **meta)))


@pytest.fixture(scope="module")
def items() -> list[Any]:
    return calendar(NYC_PAGE.read_bytes())


@pytest.fixture(scope="module")
def meetings(items: list[Any]) -> dict[str, ScrapedMeeting]:
    return {m.platform_id: m for m in of_type(items, ScrapedMeeting)}


def test_first_request_is_the_calendar() -> None:
    spider = spider_for()

    async def requests() -> list[Any]:
        return [r async for r in spider.start()]

    [request] = asyncio.run(requests())
    assert (request.method, request.url) == ("GET", f"{NYC}/Calendar.aspx")


def test_count(meetings: dict[str, ScrapedMeeting]) -> None:
    assert len(meetings) == 40


# (EventId, title, local start, location, status)
EXPECTED = [
    (
        "670695",
        "Subcommittee on Landmarks, Public Siting and Maritime Uses",
        "2019-01-31T12:00:00-05:00",
        "250 Broadway - Committee Rm, 16th Fl.",
        MeetingStatus.SCHEDULED,
    ),
    (
        "669540",
        "Committee on Governmental Operations (Online list of required reports.)",
        "2019-01-07T10:00:00-05:00",
        "250 Broadway - Committee Rm, 16th Fl.",
        MeetingStatus.HELD,
    ),
    (
        # NYC's topic "Multiple meeting items, please see Meeting Details..." is left out.
        "668208",
        "Committee on Housing and Buildings",
        "2019-01-10T00:00:00-05:00",
        "Council Chambers - City Hall",
        MeetingStatus.CANCELLED,  # the time column says "Deferred"
    ),
]
Row = tuple[str, str, str, str, MeetingStatus]
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
def test_location(meetings: dict[str, ScrapedMeeting], row: Row) -> None:
    assert meetings[row[0]].location == row[3]


@ROWS
def test_status(meetings: dict[str, ScrapedMeeting], row: Row) -> None:
    assert meetings[row[0]].status == row[4]


def test_deferred_time_is_kept_as_published(meetings: dict[str, ScrapedMeeting]) -> None:
    assert [m.platform_id for m in meetings.values() if m.time_text] == ["662893", "668208"]
    assert meetings["668208"].time_text == "Deferred"


def test_body(items: list[Any], meetings: dict[str, ScrapedMeeting]) -> None:
    bodies = {b.platform_id: b for b in of_type(items, ScrapedBody)}
    assert len(bodies) == 27
    assert bodies["Committee on Finance"].kind == "committee"
    assert meetings["669540"].body_name == "Committee on Governmental Operations"


def test_documents_and_video(meetings: dict[str, ScrapedMeeting]) -> None:
    held = meetings["669540"]
    assert [(d.kind, d.url) for d in held.documents] == [
        ("agenda", f"{OLD_NYC}/View.ashx?M=A&ID=669540&GUID=775AB6E6-9CDC-4B60-8040-C116BCFD8C02"),
        ("minutes", f"{OLD_NYC}/View.ashx?M=M&ID=669540&GUID=775AB6E6-9CDC-4B60-8040-C116BCFD8C02"),
    ]
    assert held.minutes_url == held.documents[1].url
    assert held.video_url is not None
    assert held.video_url.startswith(f"{NYC}/Video.aspx?Mode=Auto&URL=")


def test_no_minutes_link_when_not_available(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["670695"].minutes_url is None
    assert meetings["670695"].video_url is None


def test_source_is_the_meeting_detail_page(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["670695"].source_url == (
        f"{OLD_NYC}/MeetingDetail.aspx?ID=670695&GUID=3943FD0A-37DD-4C1C-918B-C68552F9F329"
        "&Options=info&Search="
    )


def test_detail_pages_are_asked_for(items: list[Any]) -> None:
    details = [r for r in items if isinstance(r, Request) and not isinstance(r, FormRequest)]
    assert len(details) == 40
    assert all("MeetingDetail.aspx" in r.url and r.meta["optional"] for r in details)


def test_year_is_selected_by_postback(items: list[Any]) -> None:
    [post] = [r for r in items if isinstance(r, FormRequest)]
    assert (post.method, post.url, post.meta["year"], post.meta["optional"]) == (
        "POST",
        f"{NYC}/Calendar.aspx",
        2019,
        True,
    )
    form = parse_qs(post.body.decode(), keep_blank_values=True)
    assert form["__EVENTTARGET"] == ["ctl00$ContentPlaceHolder1$lstYears"]
    assert form["ctl00_ContentPlaceHolder1_lstYears_ClientState"] == ['{"value":"2019"}']
    assert len(form["__VIEWSTATE"][0]) == 184748  # the page's own view state, sent back
    assert form["__EVENTVALIDATION"][0]


def test_the_default_page_is_no_listing(items: list[Any]) -> None:
    assert of_type(items, MeetingListing) == []


# -- year pages and paging (the recorded page, edited to be a year page) --------------------
NEXT = (
    b'<a class="rgCurrentPage" href="javascript:__doPostBack(\'ctl00$ContentPlaceHolder1'
    b"$gridCalendar$ctl00$ctl02$ctl00$ctl01','')\"><span>1</span></a><a href=\"javascript:"
    b"__doPostBack('ctl00$ContentPlaceHolder1$gridCalendar$ctl00$ctl02$ctl00$ctl03','')\">"
    b"<span>2</span></a>"
)


def year_page(*, pager: bool) -> bytes:
    page = NYC_PAGE.read_bytes().replace(b'value="This Month"', b'value="2019"')
    if pager:
        page = page.replace(b"</table>", NEXT + b"</table>", 1)
    return page


def test_year_pages_are_followed_then_declared_complete() -> None:
    spider = spider_for()
    first = calendar(year_page(pager=True), spider, year=2019, page=1)
    [next_page] = [r for r in first if isinstance(r, FormRequest)]
    form = parse_qs(next_page.body.decode(), keep_blank_values=True)
    assert form["__EVENTTARGET"] == [
        "ctl00$ContentPlaceHolder1$gridCalendar$ctl00$ctl02$ctl00$ctl03"
    ]
    assert next_page.meta["page"] == 2
    assert of_type(first, MeetingListing) == []
    last = calendar(year_page(pager=False), spider, year=2019, page=2)
    [listing] = of_type(last, MeetingListing)
    assert len(listing.meeting_platform_ids) == 40
    assert (listing.window_start, listing.window_end) == JANUARY


def test_a_year_the_site_ignored_is_a_problem_and_no_listing() -> None:
    spider = spider_for()
    found = calendar(NYC_PAGE.read_bytes(), spider, year=2019, page=1)  # says "This Month"
    assert problems(spider) == {"year_ignored/calendar": 1}
    assert of_type(found, MeetingListing) == []
    assert of_type(found, ScrapedMeeting) == []


def test_error_page_is_a_problem() -> None:
    spider = spider_for()
    page = html_response(f"{NYC}/Error.aspx", b"<html>error</html>", year=2019, page=1)
    assert list(spider.parse_calendar(page)) == []
    assert problems(spider) == {"error_page/calendar": 1}


# -- Philadelphia ---------------------------------------------------------------------------
def test_philadelphia_calendar() -> None:
    entry = Entry.model_validate(
        {
            "slug": "philadelphia-web",
            "name": "Philadelphia",
            "state": "PA",
            "kind": "city",
            "timezone": "America/New_York",
            "platform": "legistar_web",
            "legistar_web": {"base_url": "https://phila.legistar.com"},
        }
    )
    april = (datetime(2025, 4, 1, 4, tzinfo=UTC), datetime(2025, 5, 1, 4, tzinfo=UTC))
    spider = spider_for(entry, now=datetime(2025, 4, 9, tzinfo=UTC), window=april)
    page = html_response("https://phila.legistar.com/Calendar.aspx", PHILLY_PAGE.read_bytes())
    found = list(spider.parse_calendar(page))
    meetings = {m.platform_id: m for m in of_type(found, ScrapedMeeting)}
    assert len(meetings) == 20
    oversight = meetings["1294156"]
    assert oversight.title == "Committee on Legislative Oversight"
    assert oversight.start is not None
    assert oversight.start.isoformat() == "2025-04-14T13:00:00-04:00"
    assert oversight.location == (
        "The Museum of the American Revolution, 101 S. 3rd Street, Philadelphia, PA 19106"
    )
    assert oversight.agenda_url == (
        "https://phila.legistar.com/View.ashx?M=A&ID=1294156&GUID=F8EDBE48-AB22-4EE5-8DE2-13694F74E5CC"
    )
    # "Not viewable by the public": no detail page; the calendar is the source.
    hidden = meetings["1290914"]
    assert hidden.source_url == "https://phila.legistar.com/Calendar.aspx"
    details = [r.url for r in found if isinstance(r, Request) and not isinstance(r, FormRequest)]
    assert len(details) == 11


# -- MeetingDetail and HistoryDetail ---------------------------------------------------------
# No MeetingDetail or HistoryDetail page has been recorded anywhere we can reach. These two are
# written from the grids python-legistar-scraper reads (events.py agenda(), bills.py
# extractVotes(), events.py extractRollCall(); platforms.md 2.2 and 2.4): gridMain with File #,
# Agenda #, Title, Action, Result and an "Action details" radopen link; gridVote with
# "Person Name" and "Vote"; gridRollCall with "Person Name" and "Attendance". The names are
# placeholders: no real member's vote is made up here.
MEETING_DETAIL = b"""<html><body>
<table class="rgMasterTable" id="ctl00_ContentPlaceHolder1_gridMain_ctl00"><thead><tr>
<th class="rgHeader">File #</th><th class="rgHeader">Ver.</th><th class="rgHeader">Agenda #</th>
<th class="rgHeader">Name</th><th class="rgHeader">Type</th><th class="rgHeader">Title</th>
<th class="rgHeader">Action</th><th class="rgHeader">Result</th>
<th class="rgHeader">Action Details</th><th class="rgHeader">Video</th></tr></thead><tbody>
<tr class="rgRow"><td>
<a href="LegislationDetail.aspx?ID=3331803&amp;GUID=AB&amp;Options=&amp;Search="
>Int 0001-2019</a></td><td>*</td><td>1</td><td></td><td>Introduction</td>
<td>A Local Law in relation to sharing information with federal immigration authorities</td>
<td>Approved by Council</td><td>Pass</td>
<td><a onclick="radopen('HistoryDetail.aspx?ID=15371234&amp;GUID=CD&amp;Options=&amp;Search=',
'Action Details')" href="#">Action details</a></td><td>Not available</td></tr>
<tr class="rgAltRow"><td></td><td></td><td></td><td></td><td></td><td>Roll Call</td>
<td></td><td></td><td>Not available</td><td></td></tr>
</tbody></table></body></html>"""

HISTORY_DETAIL = b"""<html><body>
<table class="rgMasterTable" id="ctl00_ContentPlaceHolder1_gridVote_ctl00"><thead><tr>
<th class="rgHeader">Person Name</th><th class="rgHeader">Vote</th></tr></thead><tbody>
<tr class="rgRow"><td><a href="PersonDetail.aspx?ID=7001&amp;GUID=X">Member One</a></td>
<td>Affirmative</td></tr>
<tr class="rgAltRow"><td><a href="PersonDetail.aspx?ID=7002&amp;GUID=Y">Member Two</a></td>
<td>Negative</td></tr>
<tr class="rgRow"><td><a href="PersonDetail.aspx?ID=7003&amp;GUID=Z">Member Three</a></td>
<td>Jury Duty</td></tr>
<tr class="rgAltRow"><td><a href="PersonDetail.aspx?ID=7004&amp;GUID=W">Member Four</a></td>
<td>Out of Chamber</td></tr>
</tbody></table>
<table class="rgMasterTable" id="ctl00_ContentPlaceHolder1_gridRollCall_ctl00"><thead><tr>
<th class="rgHeader">Person Name</th><th class="rgHeader">Attendance</th></tr></thead><tbody>
<tr class="rgRow"><td><a href="PersonDetail.aspx?ID=7001&amp;GUID=X">Member One</a></td>
<td>Present</td></tr>
<tr class="rgAltRow"><td><a href="PersonDetail.aspx?ID=7002&amp;GUID=Y">Member Two</a></td>
<td>Absent</td></tr>
</tbody></table></body></html>"""

HELD = ScrapedMeeting(
    platform="legistar_web",
    platform_id="669540",
    start=datetime(2019, 1, 7, 15, tzinfo=UTC),
)


@pytest.fixture(scope="module")
def detail() -> list[Any]:
    spider = spider_for()
    page = html_response(
        f"{NYC}/MeetingDetail.aspx?ID=669540&GUID=775AB6E6", MEETING_DETAIL, meeting=HELD
    )
    return list(spider.parse_meeting(page))


def test_meeting_detail_items(detail: list[Any]) -> None:
    [agenda] = of_type(detail, ScrapedAgenda)
    assert agenda.complete
    assert [(i.platform_id, i.number, i.matter_platform_id, i.result) for i in agenda.items] == [
        ("669540:3331803", "1", "3331803", "passed"),
        ("669540:#2", None, None, None),
    ]
    assert agenda.items[0].title == (
        "A Local Law in relation to sharing information with federal immigration authorities"
    )
    assert agenda.items[0].action == "Approved by Council"


def test_meeting_detail_matter(detail: list[Any]) -> None:
    [matter] = of_type(detail, ScrapedMatter)
    assert (matter.platform_id, matter.file_number, matter.type, matter.partial) == (
        "3331803",
        "Int 0001-2019",
        "Introduction",
        True,
    )


def test_meeting_detail_asks_for_the_action_history(detail: list[Any]) -> None:
    [history] = [r for r in detail if isinstance(r, Request)]
    assert history.url == f"{NYC}/HistoryDetail.aspx?ID=15371234&GUID=CD&Options=&Search="
    assert history.meta["optional"]


def test_history_votes_and_roll_call() -> None:
    spider = spider_for()
    [agenda] = of_type(
        spider.parse_meeting(
            html_response(f"{NYC}/MeetingDetail.aspx?ID=669540", MEETING_DETAIL, meeting=HELD)
        ),
        ScrapedAgenda,
    )
    page = html_response(
        f"{NYC}/HistoryDetail.aspx?ID=15371234&GUID=CD",
        HISTORY_DETAIL,
        meeting=HELD,
        item=agenda.items[0],
    )
    votes, roll_call = of_type(spider.parse_history(page), ScrapedVoteEvent)
    assert (votes.platform_id, votes.source, votes.result, votes.item_platform_id) == (
        "votes:15371234",
        VoteSource.HTML,
        "passed",
        "669540:3331803",
    )
    assert [(v.person_platform_id, v.name, v.raw_value, v.value) for v in votes.votes] == [
        ("7001", "Member One", "Affirmative", VoteValue.YES),
        ("7002", "Member Two", "Negative", VoteValue.NO),
        ("7003", "Member Three", "Jury Duty", VoteValue.EXCUSED),  # the registry's votes table
        ("7004", "Member Four", "Out of Chamber", None),  # in no map: raw kept, reported
    ]
    assert problems(spider) == {"unknown_vote_value": 1}
    assert roll_call.platform_id == "rollcalls:15371234"
    assert [(v.name, v.value) for v in roll_call.votes] == [
        ("Member One", VoteValue.PRESENT),
        ("Member Two", VoteValue.ABSENT),
    ]


def test_future_meeting_asks_for_no_votes() -> None:
    spider = spider_for()
    future = HELD.model_copy(update={"start": datetime(2019, 1, 31, 17, tzinfo=UTC)})
    page = html_response(f"{NYC}/MeetingDetail.aspx?ID=669540", MEETING_DETAIL, meeting=future)
    assert [r for r in spider.parse_meeting(page) if isinstance(r, Request)] == []


# -- replayed crawl through the CLI --------------------------------------------------------
def archive(tmp_path: Path) -> Path:
    # Recorded in 2019 at nyc.legistar.com, NYC's InSite host then (the page's form posts
    # there); the registry has today's host, legistar.council.nyc.gov.
    return write_exchanges(
        tmp_path / "nyc.warc.gz",
        [Exchange(f"{NYC}/Calendar.aspx", NYC_PAGE.read_bytes())],
        fetched_at=NOW,
        description="opencivicdata/python-legistar-scraper tests/fixtures/nyc/events.html",
    )


def crawl(database_url: str, replay: Path) -> str:
    result = run_tracker(
        "crawl",
        "new-york-city",
        "--replay",
        replay,
        "--full",
        "--from",
        "2019-01-01",
        "--to",
        "2019-02-01",
        database_url=database_url,
    )
    return result.stdout + result.stderr


def test_replayed_crawl_stores_the_calendar_and_is_idempotent(
    database_url: str, tmp_path: Path
) -> None:
    replay = archive(tmp_path)
    # The year postbacks and detail pages are not in the recording: unavailable, not failures.
    assert "new-york-city: ok" in crawl(database_url, replay)
    rows = {
        r.platform_id: r
        for r in query(database_url, "SELECT platform_id, title, start, status FROM meeting")
    }
    assert len(rows) == 40
    assert rows["668208"].status == "cancelled"
    assert str(rows["670695"].start).startswith("2019-01-31 17:00:00")  # noon EST in UTC
    before = row_counts(database_url)
    changes = [r.kind for r in query(database_url, "SELECT kind FROM change ORDER BY id")]
    assert changes.count("meeting_added") == 40
    crawl(database_url, replay)
    after = row_counts(database_url)
    assert {t: n for t, n in after.items() if t != "crawl_run"} == {
        t: n for t, n in before.items() if t != "crawl_run"
    }
    assert [r.kind for r in query(database_url, "SELECT kind FROM change ORDER BY id")] == changes
    assert [r.status for r in query(database_url, "SELECT status FROM crawl_run")] == ["ok", "ok"]
