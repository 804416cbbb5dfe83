"""The CivicClerk spider on the recorded /v1/Events answers of South Fulton GA and Tulsa County OK.

Clock frozen in the plan at the recordings' dates (the City Bureau tests froze 2026-04-16 and
2025-12-02); one assertion per field; a replay through the real CLI at the end.
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

from spiders.civicclerk import CivicClerkSpider
from tracker.items import (
    MeetingListing,
    ScrapedAgenda,
    ScrapedBody,
    ScrapedMeeting,
    ScrapedVoteEvent,
)
from tracker.models import MeetingStatus, VoteValue
from tracker.registry import load_registry

FIXTURES = ROOT / "tests" / "fixtures" / "civicclerk"
FULTON = json.loads(
    (FIXTURES / "south-fulton" / "atl_south_fulton_city_council_meetings.json").read_text("utf-8")
)
TULSA = json.loads((FIXTURES / "tulsa-county" / "tulok_bocc.json").read_text("utf-8"))
FULTON_API = "https://southfultonga.api.civicclerk.com/v1"
FULTON_PORTAL = "https://southfultonga.portal.civicclerk.com"
FULTON_NOW = datetime(2026, 4, 16, 16, 0, tzinfo=UTC)
FULTON_WINDOW = (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC))
TULSA_NOW = datetime(2025, 12, 2, 18, 0, tzinfo=UTC)
TULSA_WINDOW = (datetime(2025, 7, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
EASTERN = ZoneInfo("America/New_York")
CENTRAL = ZoneInfo("America/Chicago")


def fulton() -> CivicClerkSpider:
    return make_spider(CivicClerkSpider, "south-fulton", now=FULTON_NOW, window=FULTON_WINDOW)


def tulsa() -> CivicClerkSpider:
    return make_spider(CivicClerkSpider, "tulsa-county", now=TULSA_NOW, window=TULSA_WINDOW)


def events(spider: CivicClerkSpider, body: Any) -> list[Any]:
    return list(spider.parse_events(json_response(spider.events_url(), body, kind="events")))


@pytest.fixture(scope="module")
def fulton_out() -> list[Any]:
    return events(fulton(), FULTON)


@pytest.fixture(scope="module")
def meetings(fulton_out: list[Any]) -> dict[str, ScrapedMeeting]:
    return {m.platform_id: m for m in of_type(fulton_out, ScrapedMeeting)}


@pytest.fixture(scope="module")
def tulsa_meetings() -> dict[str, ScrapedMeeting]:
    return {m.platform_id: m for m in of_type(events(tulsa(), TULSA), ScrapedMeeting)}


def test_events_url_filters_the_window_in_local_wall_time() -> None:
    assert fulton().events_url() == (
        f"{FULTON_API}/Events?$filter=startDateTime%20ge%202026-03-31T20:00:00Z%20and%20"
        "startDateTime%20lt%202026-07-31T20:00:00Z%20and%20categoryId%20in%20(26)"
        "&$orderby=startDateTime%20asc"
    )


def test_events_url_in_utc_when_the_tenant_sends_utc() -> None:
    entry = load_registry().get("south-fulton")
    assert entry.civicclerk is not None
    utc_entry = entry.model_copy(
        update={"civicclerk": entry.civicclerk.model_copy(update={"times_are_utc": True})}
    )
    spider = make_spider(CivicClerkSpider, utc_entry, now=FULTON_NOW, window=FULTON_WINDOW)
    assert "startDateTime%20ge%202026-04-01T00:00:00Z" in spider.events_url()


def test_first_request_is_the_events_listing() -> None:
    spider = fulton()

    async def collect() -> list[Request]:
        return [r async for r in spider.start()]

    assert [r.url for r in asyncio.run(collect())] == [spider.events_url()]


def test_meeting_count(meetings: dict[str, ScrapedMeeting]) -> None:
    assert len(meetings) == 16


@pytest.mark.parametrize("row", FULTON["value"], ids=lambda r: str(r["id"]))
def test_start_is_the_wall_time_behind_the_z(
    meetings: dict[str, ScrapedMeeting], row: dict[str, Any]
) -> None:
    wall = datetime.fromisoformat(row["startDateTime"].removesuffix("Z"))
    assert meetings[str(row["id"])].start == wall.replace(tzinfo=EASTERN)


@pytest.mark.parametrize("row", FULTON["value"], ids=lambda r: str(r["id"]))
def test_title(meetings: dict[str, ScrapedMeeting], row: dict[str, Any]) -> None:
    assert meetings[str(row["id"])].title == row["eventName"]


def test_start_of_a_regular_meeting(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["1747"].start.isoformat() == "2026-04-28T19:00:00-04:00"


def test_status_held(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["1744"].status == MeetingStatus.HELD


def test_status_scheduled(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["1745"].status == MeetingStatus.SCHEDULED


def test_status_cancelled_from_the_event_name() -> None:
    row = dict(FULTON["value"][1], eventName="City Council Work Session - CANCELLED")
    [meeting] = of_type(events(fulton(), {"value": [row]}), ScrapedMeeting)
    assert meeting.status == MeetingStatus.CANCELLED


def test_documents(meetings: dict[str, ScrapedMeeting]) -> None:
    assert [(d.kind, d.name, d.url) for d in meetings["1744"].documents] == [
        (
            "agenda",
            "Agenda: Zoning Public Hearing Agenda 4.15.2026",
            f"{FULTON_API}/Meetings/GetMeetingFileStream(fileId=2261,plainText=false)",
        ),
        (
            "packet",
            "Agenda Packet: Zoning Public Hearing Packet 4.15.2026",
            f"{FULTON_API}/Meetings/GetMeetingFileStream(fileId=2262,plainText=false)",
        ),
    ]


def test_agenda_url(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["1744"].agenda_url == (
        f"{FULTON_API}/Meetings/GetMeetingFileStream(fileId=2261,plainText=false)"
    )


def test_no_documents_before_publication(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["1745"].documents == ()


def test_agenda_published_at_matches_the_portal_text(meetings: dict[str, ScrapedMeeting]) -> None:
    # "Agenda Posted on April 9, 2026 12:22 PM" for publishOn "2026-04-09T12:22:47.71Z".
    assert meetings["1744"].agenda_published_at == datetime(
        2026, 4, 9, 12, 22, 47, 710000, tzinfo=EASTERN
    )


def test_location_without_the_repeated_line(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["1745"].location == "5440 Fulton Industrial Blvd\nSouth Fulton, Georgia 30336"


def test_body(meetings: dict[str, ScrapedMeeting]) -> None:
    assert (meetings["1744"].body_platform_id, meetings["1744"].body_name) == ("26", "City Council")


def test_body_is_emitted_once(fulton_out: list[Any]) -> None:
    assert [(b.platform_id, b.name, b.kind) for b in of_type(fulton_out, ScrapedBody)] == [
        ("26", "City Council", "council")
    ]


def test_video_url(meetings: dict[str, ScrapedMeeting]) -> None:
    assert (
        meetings["1744"].video_url == "https://cpmedia.azureedge.net/southfultonga/8c9fc82fc5.mp4"
    )


def test_source_url(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["1744"].source_url == f"{FULTON_PORTAL}/event/1744/files"


def test_items_asked_for_published_agendas_only(fulton_out: list[Any]) -> None:
    [request] = of_type(fulton_out, Request)
    assert (request.url, request.headers.get("Origin"), request.meta["optional"]) == (
        f"{FULTON_API}/Meetings/778",
        FULTON_PORTAL.encode(),
        True,
    )


def test_listing_is_complete(fulton_out: list[Any]) -> None:
    [listing] = of_type(fulton_out, MeetingListing)
    assert len(listing.meeting_platform_ids) == 16


def test_next_link_is_followed_before_the_listing_is_complete() -> None:
    page = dict(FULTON, **{"@odata.nextLink": f"{FULTON_API}/Events?$skip=16"})
    out = events(fulton(), page)
    assert of_type(out, MeetingListing) == []
    assert [r.url for r in of_type(out, Request)][-1] == f"{FULTON_API}/Events?$skip=16"


def test_malformed_listing_is_a_problem() -> None:
    spider = fulton()
    assert events(spider, b"<html>error</html>") == []
    assert problems(spider) == {"bad_json/events": 1}


def test_tulsa_count(tulsa_meetings: dict[str, ScrapedMeeting]) -> None:
    assert sorted(tulsa_meetings) == ["2182", "2312", "2400"]


def test_tulsa_start_is_the_9_30_board_meeting(tulsa_meetings: dict[str, ScrapedMeeting]) -> None:
    assert tulsa_meetings["2182"].start == datetime(2025, 12, 8, 9, 30, tzinfo=CENTRAL)


def test_tulsa_minutes(tulsa_meetings: dict[str, ScrapedMeeting]) -> None:
    assert tulsa_meetings["2312"].minutes_url == (
        "https://tulsacook.api.civicclerk.com/v1/Meetings/GetMeetingFileStream"
        "(fileId=9039,plainText=false)"
    )


def test_tulsa_other_file_is_an_attachment(tulsa_meetings: dict[str, ScrapedMeeting]) -> None:
    assert [d.kind for d in tulsa_meetings["2182"].documents] == ["agenda", "packet", "attachment"]


def test_tulsa_status(tulsa_meetings: dict[str, ScrapedMeeting]) -> None:
    assert [tulsa_meetings[i].status for i in ("2312", "2182", "2400")] == [
        MeetingStatus.HELD,
        MeetingStatus.SCHEDULED,
        MeetingStatus.SCHEDULED,
    ]


def test_tulsa_location(tulsa_meetings: dict[str, ScrapedMeeting]) -> None:
    assert tulsa_meetings["2182"].location == "Room 132\n218 W 6th ST\nTulsa, OK 74119"


def test_tulsa_unnamed_category_is_no_body(tulsa_meetings: dict[str, ScrapedMeeting]) -> None:
    assert tulsa_meetings["2182"].body_platform_id is None


def test_tulsa_filter_asks_for_the_registry_categories() -> None:
    assert "categoryId%20in%20(26,40)" in tulsa().events_url()


# -- agenda items and votes -------------------------------------------------------------------
# No /v1/Meetings/{agendaId} answer is among the recordings; this tree is built from the field
# names and shapes in platforms.md 5.1 (section nodes with childItems, leaves with
# attachmentsList and minutesItemVotes name lists), around South Fulton's event 1744.


def node(item_id: int, name: str, *, section: bool = False, **fields: Any) -> dict[str, Any]:
    return {
        "id": item_id,
        "agendaObjectItemName": name,
        "isSection": 1 if section else 0,
        "agendaObjectItemOutlineNumber": fields.pop("number", ""),
        "childItems": fields.pop("children", []),
        "attachmentsList": fields.pop("attachments", []),
        "minutesItemVotes": fields.pop("votes", []),
        **fields,
    }


TREE = {
    "id": 778,
    "items": [
        node(1, "<p>CALL TO ORDER</p>", section=True),
        node(
            2,
            "CONSENT AGENDA",
            section=True,
            children=[
                node(
                    3,
                    "<p>Approval of the &quot;Minutes&quot; of March 24</p>",
                    number="A.",
                    votes=[
                        {
                            "motionName": "Approve",
                            "passFail": 1,
                            "initiatedBy": "Carmalitha Gumbs",
                            "secondedBy": "Helen Zenobia Willis",
                            "yesVotes": ["Carmalitha Gumbs", "Helen Zenobia Willis"],
                            "noVotes": ["Linda Becquer Pritchett"],
                            "abstainVotes": [],
                        }
                    ],
                )
            ],
        ),
        node(
            4,
            "Resolution on a 287(g) agreement",
            number="B.",
            attachments=[
                {"fileName": "Staff Report", "pdfVersionFullPath": "https://x.example/a.pdf"},
                {
                    "fileName": "Draft",
                    "pdfVersionFullPath": "https://x.example/b.pdf",
                    "isPublished": False,
                },
            ],
            votes=[{"motionName": "Table", "passFail": 0, "yesVotes": [], "noVotes": []}],
        ),
    ],
}


def items(tree: Any) -> tuple[CivicClerkSpider, list[Any]]:
    spider = fulton()
    meeting = of_type(events(spider, FULTON), ScrapedMeeting)[0]
    url = f"{FULTON_API}/Meetings/778"
    return spider, list(spider.parse_items(json_response(url, tree, meeting=meeting)))


def test_items_are_the_leaves_in_published_order() -> None:
    [agenda] = of_type(items(TREE)[1], ScrapedAgenda)
    assert [(i.platform_id, i.sequence, i.number, i.title) for i in agenda.items] == [
        ("3", 1, "A.", 'Approval of the "Minutes" of March 24'),
        ("4", 2, "B.", "Resolution on a 287(g) agreement"),
    ]


def test_items_under_a_consent_section_are_consent() -> None:
    [agenda] = of_type(items(TREE)[1], ScrapedAgenda)
    assert [i.consent for i in agenda.items] == [True, False]


def test_item_attachments_published_only() -> None:
    [agenda] = of_type(items(TREE)[1], ScrapedAgenda)
    assert [(d.kind, d.name) for d in agenda.items[1].documents] == [("attachment", "Staff Report")]


def test_item_result_mover_and_seconder() -> None:
    [agenda] = of_type(items(TREE)[1], ScrapedAgenda)
    first = agenda.items[0]
    assert (first.result, first.mover, first.seconder, first.action_text) == (
        "passed",
        "Carmalitha Gumbs",
        "Helen Zenobia Willis",
        "Approve",
    )


def test_agenda_is_complete_with_the_meeting_version() -> None:
    [agenda] = of_type(items(TREE)[1], ScrapedAgenda)
    assert (agenda.complete, agenda.meeting_platform_id, bool(agenda.meeting_version)) == (
        True,
        "1744",
        True,
    )


def test_votes_by_name() -> None:
    [event] = of_type(items(TREE)[1], ScrapedVoteEvent)
    assert [(v.person_platform_id, v.name, v.raw_value, v.value) for v in event.votes] == [
        (None, "Carmalitha Gumbs", "Yes", VoteValue.YES),
        (None, "Helen Zenobia Willis", "Yes", VoteValue.YES),
        (None, "Linda Becquer Pritchett", "No", VoteValue.NO),
    ]


def test_vote_event_fields() -> None:
    [event] = of_type(items(TREE)[1], ScrapedVoteEvent)
    assert (event.item_platform_id, event.platform_id, event.motion, event.result) == (
        "3",
        "3:1",
        "Approve",
        "passed",
    )


def test_motion_without_names_is_no_vote_event() -> None:
    events_ = of_type(items(TREE)[1], ScrapedVoteEvent)
    assert [e.item_platform_id for e in events_] == ["3"]


def test_placeholder_agenda_is_no_listing() -> None:
    shell = {"id": 778, "items": [node(1, "Select MEETING FILES to view meeting materials")]}
    assert items(shell)[1] == []


def test_broken_item_fails_alone_and_the_agenda_is_incomplete() -> None:
    tree = {"id": 778, "items": [{"agendaObjectItemName": "no id"}, *TREE["items"]]}
    spider, out = items(tree)
    [agenda] = of_type(out, ScrapedAgenda)
    assert (len(agenda.items), agenda.complete, problems(spider)) == (
        2,
        False,
        {"bad_record/meeting_item": 1},
    )


# -- replay through the real CLI --------------------------------------------------------------


def fulton_warc(tmp_path: Path) -> Path:
    recorded_url = (
        f"{FULTON_API}/Events?$filter=startDateTime+ge+2026-04-16+and+startDateTime+le+2027-04-16"
        "+and+categoryId+in+(26)"
    )
    body = (FIXTURES / "south-fulton" / "atl_south_fulton_city_council_meetings.json").read_bytes()
    return write_warc(
        tmp_path / "south-fulton.warc.gz",
        [Recorded(recorded_url, body, JSON)],
        date="2026-04-16T00:00:00Z",  # the day the recording's test froze its clock
        description="South Fulton GA CivicClerk /v1/Events (City-Bureau/city-scrapers-atl "
        "tests/files/atl_south_fulton_city_council_meetings.json), at the URL its test gives",
    )


def crawl(database_url: str, warc: Path) -> None:
    run_tracker(
        "crawl",
        "south-fulton",
        "--replay",
        warc,
        "--full",
        "--from",
        "2026-04-01",
        "--to",
        "2026-08-01",
        database_url=database_url,
    )


def test_replay_twice_stores_the_recording_once(database_url: str, tmp_path: Path) -> None:
    warc = fulton_warc(tmp_path)
    crawl(database_url, warc)
    before = row_counts(database_url)
    changes = query(database_url, "SELECT kind FROM change ORDER BY id")
    stored = {
        r.platform_id: r
        for r in query(database_url, "SELECT platform_id, title, start, location FROM meeting")
    }
    assert (before["meeting"], before["body"]) == (16, 1)
    assert [r.status for r in query(database_url, "SELECT status FROM crawl_run")] == ["ok"]
    assert str(stored["1747"].start).startswith("2026-04-28 23:00:00")  # 7 PM EDT in UTC
    assert stored["1744"].title == "Alcohol License and Zoning Public Hearings"

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
