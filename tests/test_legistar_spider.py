"""The Legistar spider on recorded responses, one assertion per field, clock frozen in the plan."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, time
from typing import Any

import pytest
from conftest import ROOT
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from spiders.legistar_api import LegistarApiSpider
from tracker.items import (
    MeetingListing,
    ScrapedAgenda,
    ScrapedMatter,
    ScrapedMeeting,
    ScrapedVoteEvent,
)
from tracker.models import MeetingStatus
from tracker.parsing import clean_text, parse_time, parse_utc, virtual_link
from tracker.registry import load_registry
from tracker.spider import PROBLEM_PREFIX, CrawlPlan

RECORDING = ROOT / "tests" / "fixtures" / "legistar-api" / "seattle"
NOW = datetime(2019, 8, 2, 12, 0, tzinfo=UTC)  # just after the recording was made
API = "https://webapi.legistar.com/v1/seattle"


def recorded(name: str) -> Any:
    return json.loads((RECORDING / name).read_text(encoding="utf-8"))


def make_spider(mode: str = "full", known: dict[str, str] | None = None) -> LegistarApiSpider:
    plan = CrawlPlan(
        entry=load_registry().get("seattle"),
        mode=mode,
        now=NOW,
        window_start=datetime(2019, 7, 1, tzinfo=UTC),
        window_end=datetime(2019, 9, 1, tzinfo=UTC),
        since=datetime(2019, 7, 30, tzinfo=UTC) if mode == "incremental" else None,
        known_versions=known or {},
    )
    crawler = get_crawler(LegistarApiSpider)
    spider = LegistarApiSpider.from_crawler(crawler, plan=plan)
    crawler.spider = spider
    assert crawler.stats is not None
    crawler.stats.open_spider()
    return spider


def response(url: str, body: Any, **meta: Any) -> TextResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return TextResponse(url, body=raw, encoding="utf-8", request=Request(url, meta=meta))


def problems(spider: LegistarApiSpider) -> dict[str, int]:
    assert spider.crawler.stats is not None
    return {
        k[len(PROBLEM_PREFIX) :]: v
        for k, v in spider.crawler.stats.get_stats().items()
        if k.startswith(PROBLEM_PREFIX)
    }


@pytest.fixture(scope="module")
def meetings() -> dict[str, ScrapedMeeting]:
    spider = make_spider()
    out = list(
        spider.parse_events(response(f"{API}/events", recorded("request_0_events.json"), skip=0))
    )
    return {m.platform_id: m for m in out if isinstance(m, ScrapedMeeting)}


def test_meeting_count(meetings: dict[str, ScrapedMeeting]) -> None:
    assert sorted(meetings) == ["4048", "4049", "4050"]


def test_meeting_title(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["4050"].title == (
        "Human Services, Equitable Development, and Renter Rights Committee (Special Meeting)"
    )


def test_meeting_start_is_local_time(meetings: dict[str, ScrapedMeeting]) -> None:
    start = meetings["4049"].start
    assert start is not None
    assert start.isoformat() == "2019-07-29T14:00:00-07:00"


def test_meeting_status(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["4050"].status == MeetingStatus.HELD  # minutes published


def test_meeting_location(meetings: dict[str, ScrapedMeeting]) -> None:
    assert (
        meetings["4049"].location == "Council Chamber, City Hall\n600 Fourth Avenue\n"
        "Seattle, WA 98104"
    )


def test_meeting_documents(meetings: dict[str, ScrapedMeeting]) -> None:
    kinds = [(d.kind, d.url.rsplit("/", 1)[1]) for d in meetings["4050"].documents]
    assert kinds == [
        (
            "agenda",
            "4050_A_Human_Services%2C_Equitable_Development%2C_and_Renter_Rights_"
            "Committee_19-07-29_Committee_Agenda.pdf",
        ),
        (
            "minutes",
            "4050_M_Human_Services%2C_Equitable_Development%2C_and_Renter_Rights_"
            "Committee_19-07-29_Committee_Minutes.pdf",
        ),
    ]


def test_meeting_published_times_are_utc(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["4048"].agenda_published_at == datetime(
        2019, 7, 26, 21, 32, 12, 683000, tzinfo=UTC
    )


def test_meeting_source_url(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["4048"].source_url == (
        "https://seattle.legistar.com/MeetingDetail.aspx?"
        "LEGID=4048&GID=393&G=FFE3B678-CEF6-4197-84AC-"
        "5204EA4CFC0C"
    )


def test_full_listing_is_declared_complete() -> None:
    spider = make_spider()
    out = list(
        spider.parse_events(response(f"{API}/events", recorded("request_0_events.json"), skip=0))
    )
    [listing] = [i for i in out if isinstance(i, MeetingListing)]
    assert listing.meeting_platform_ids == {"4048", "4049", "4050"}


def test_paging_past_the_cap_and_dedupe_by_id() -> None:
    spider = make_spider()
    base = recorded("request_0_events.json")[0]
    page = [dict(base, EventId=i) for i in range(1, 1001)]
    first = list(spider.parse_events(response(f"{API}/events", page, skip=0)))
    [next_page] = [r for r in first if isinstance(r, Request) and "/events?" in r.url]
    assert "$skip=1000" in next_page.url
    assert not any(isinstance(i, MeetingListing) for i in first)  # not complete yet
    # Rows shifted on the busy site: 999 and 1000 come again on the second page.
    second = list(
        spider.parse_events(
            response(next_page.url, [dict(base, EventId=i) for i in (999, 1000, 1001)], skip=1000)
        )
    )
    new = [m.platform_id for m in second if isinstance(m, ScrapedMeeting)]
    assert new == ["1001"]
    [listing] = [i for i in second if isinstance(i, MeetingListing)]
    assert len(listing.meeting_platform_ids) == 1001


def test_incremental_listing_asks_for_all_four_markers() -> None:
    spider = make_spider("incremental")
    text = spider.events_filter()
    for field in (
        "EventLastModifiedUtc",
        "EventAgendaLastPublishedUTC",
        "EventMinutesLastPublishedUTC",
        "EventDate",
    ):
        assert field in text
    assert "datetime'2019-07-30T00:00:00'" in text


def test_incremental_skips_unchanged_old_meetings() -> None:
    events = recorded("request_0_events.json")
    spider = make_spider()
    meeting = spider.meeting_from(events[0])
    assert meeting.platform_version
    later = datetime(2019, 10, 1, tzinfo=UTC)
    plan = CrawlPlan(
        entry=spider.entry,
        mode="incremental",
        now=later,
        window_start=later,
        window_end=later,
        since=later,
        known_versions={"4048": meeting.platform_version},
    )
    assert plan.may_skip("4048", meeting.platform_version, meeting.start)
    assert not plan.may_skip("4048", "other", meeting.start)
    recent = CrawlPlan(
        entry=spider.entry,
        mode="incremental",
        now=NOW,
        window_start=NOW,
        window_end=NOW,
        since=NOW,
        known_versions={"4048": meeting.platform_version},
    )
    assert not recent.may_skip("4048", meeting.platform_version, meeting.start)


def _start(spider: LegistarApiSpider) -> list[Request]:
    async def collect() -> list[Request]:
        return [r async for r in spider.start()]

    return asyncio.run(collect())


def test_full_sweep_asks_for_vote_types_then_bodies_and_listing() -> None:
    spider = make_spider("full")
    [first] = _start(spider)
    assert first.url == f"{API}/votetypes"
    then = list(spider.parse_votetypes(response(first.url, [], **first.meta)))
    assert [r.url.split("?")[0] for r in then] == [f"{API}/bodies", f"{API}/events"]
    events = recorded("request_0_events.json")
    asked = list(spider.parse_events(response(f"{API}/events", events, skip=0)))
    assert not [r for r in asked if isinstance(r, Request) and "votetypes" in r.url]


def test_quiet_refresh_is_the_listing_alone() -> None:
    """A refresh that finds nothing changed asks for the listing only (plus robots.txt)."""
    spider = make_spider("incremental")
    [only] = _start(spider)
    assert only.url.split("?")[0] == f"{API}/events"
    assert list(spider.parse_events(response(only.url, [], skip=0))) == []


def test_incremental_asks_for_vote_types_once_before_details() -> None:
    spider = make_spider("incremental")
    events = recorded("request_0_events.json")
    asked = [
        r
        for r in spider.parse_events(response(f"{API}/events", events, skip=0))
        if isinstance(r, Request)
    ]
    kinds = [r.meta["kind"] for r in asked]
    assert kinds.count("votetypes") == 1
    assert kinds.index("votetypes") < kinds.index("eventitems")
    [types] = [r for r in asked if r.meta["kind"] == "votetypes"]
    assert types.priority > max(r.priority for r in asked if r is not types)
    assert list(spider.parse_votetypes(response(types.url, [], **types.meta))) == []


@pytest.fixture(scope="module")
def council_items() -> list[Any]:
    spider = make_spider()
    meetings = {
        m.platform_id: m
        for m in spider.parse_events(
            response(f"{API}/events", recorded("request_0_events.json"), skip=0)
        )
        if isinstance(m, ScrapedMeeting)
    }
    return list(
        spider.parse_event_items(
            response(
                f"{API}/events/4049/eventitems",
                recorded("request_12_event_1_items.json"),
                meeting=meetings["4049"],
            )
        )
    )


def test_agenda_is_complete_with_every_titled_item(council_items: list[Any]) -> None:
    [agenda] = [i for i in council_items if isinstance(i, ScrapedAgenda)]
    assert agenda.complete
    assert len(agenda.items) == 18


def test_agenda_item_fields(council_items: list[Any]) -> None:
    [agenda] = [i for i in council_items if isinstance(i, ScrapedAgenda)]
    item = {i.platform_id: i for i in agenda.items}["65911"]
    assert item.title.startswith("AN ORDINANCE related to appropriations for the Office of Arts")
    assert item.number == "1."
    assert item.sequence == 14
    assert item.result == "passed"
    assert item.action == "passed"
    assert item.matter_platform_id == "8862"
    assert [d.name for d in item.documents] == [
        "Summary and Fiscal Note",
        "Summary Att 1 - Town Hall Agreement",
        "Central Staff Memo",
    ]


def test_matters_come_before_the_agenda(council_items: list[Any]) -> None:
    kinds = [type(i).__name__ for i in council_items if not isinstance(i, Request)]
    assert kinds.index("ScrapedAgenda") > max(
        n for n, k in enumerate(kinds) if k == "ScrapedMatter"
    )
    matters = {m.platform_id: m for m in council_items if isinstance(m, ScrapedMatter)}
    assert matters["8862"].file_number == "CB 119583"
    assert matters["8862"].partial


def test_votes_are_requested_for_items_acted_on(council_items: list[Any]) -> None:
    urls = [r.url for r in council_items if isinstance(r, Request)]
    assert f"{API}/eventitems/65911/votes" in urls
    assert f"{API}/eventitems/65902/rollcalls" in urls  # the ROLL CALL item is flagged
    assert f"{API}/eventitems/65905/votes" not in urls  # nothing was done on it


def test_votes_of_an_item(council_items: list[Any]) -> None:
    spider = make_spider()
    [agenda] = [i for i in council_items if isinstance(i, ScrapedAgenda)]
    item = {i.platform_id: i for i in agenda.items}["65911"]
    meeting = ScrapedMeeting(platform="legistar", platform_id="4049")
    out = list(
        spider.parse_votes(
            response(
                f"{API}/eventitems/65911/votes",
                recorded("request_23_event_1_item_10_votes.json"),
                meeting=meeting,
                item=item,
                source_kind="votes",
            )
        )
    )
    [event] = [i for i in out if isinstance(i, ScrapedVoteEvent)]
    assert event.platform_id == "votes:65911"
    assert event.result == "passed"
    assert len(event.votes) == 8
    assert {(v.raw_value, v.value) for v in event.votes} == {("In Favor", "yes")}
    assert "M. Lorena González" in [v.name for v in event.votes]
    people = [r.url for r in out if isinstance(r, Request)]
    assert len(people) == 8
    assert problems(spider) == {}


def test_unknown_vote_value_is_kept_raw_and_reported() -> None:
    spider = make_spider()
    votes = recorded("request_23_event_1_item_10_votes.json")
    votes[0]["VoteValueName"] = "Telepathic"
    item = make_spider().item_from(
        recorded("request_12_event_1_items.json")[10],
        ScrapedMeeting(platform="legistar", platform_id="4049"),
    )
    out = list(
        spider.parse_votes(
            response(
                f"{API}/eventitems/65911/votes",
                votes,
                meeting=ScrapedMeeting(platform="legistar", platform_id="4049"),
                item=item,
                source_kind="votes",
            )
        )
    )
    [event] = [i for i in out if isinstance(i, ScrapedVoteEvent)]
    odd = [v for v in event.votes if v.raw_value == "Telepathic"]
    assert [v.value for v in odd] == [None]
    assert problems(spider) == {"unknown_vote_value": 1}


def test_votetypes_teach_the_normalizer() -> None:
    spider = make_spider()
    rows = [
        {"VoteTypeName": "Sí", "VoteTypeResult": 1},
        {"VoteTypeName": "No Way", "VoteTypeResult": 2},
        {"VoteTypeName": "Telephonic", "VoteTypeResult": 0},
    ]
    list(spider.parse_votetypes(response(f"{API}/votetypes", rows)))
    assert spider.normalizer.normalize("sí") == "yes"
    assert spider.normalizer.normalize("NO WAY") == "no"
    assert spider.normalizer.normalize("Telephonic") is None  # result 0 and no known name


def test_malformed_listing_is_a_problem_not_a_crash() -> None:
    spider = make_spider()
    out = list(
        spider.parse_event_items(
            response(
                f"{API}/events/1/eventitems",
                b"<html>",
                meeting=ScrapedMeeting(platform="legistar", platform_id="1"),
            )
        )
    )
    assert out == []
    assert problems(spider) == {"bad_json/page": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9:30 AM", time(9, 30)),
        ("2:00 PM", time(14, 0)),
        ("6 p.m.", time(18, 0)),
        ("18:15", time(18, 15)),
        ("Upon adjournment", None),
        (None, None),
    ],
)
def test_parse_time(text: str | None, expected: time | None) -> None:
    assert parse_time(text) == expected


def test_parse_utc_accepts_every_fraction_width() -> None:
    assert parse_utc("2019-07-26T21:32:13.043") == datetime(
        2019, 7, 26, 21, 32, 13, 43000, tzinfo=UTC
    )
    assert parse_utc("2019-07-26T21:32:13.0433331") is not None
    assert parse_utc("2019-07-26T21:32:13") is not None
    assert parse_utc(None) is None


def test_clean_text_and_virtual_links() -> None:
    assert clean_text("  A\r\n\r\n  B  ") == "A\nB"
    assert (
        virtual_link("Join at https://zoom.us/j/123. Or in person", None) == "https://zoom.us/j/123"
    )
    assert virtual_link("See https://city.gov/agenda", None) is None


def test_token_is_sent_but_never_archived() -> None:
    from tracker.archive import redact_url

    entry = load_registry().get("seattle")
    assert entry.legistar is not None
    entry = entry.model_copy(
        update={"legistar": entry.legistar.model_copy(update={"token": "s3cret"})}
    )
    plan = CrawlPlan(entry=entry, mode="full", now=NOW, window_start=NOW, window_end=NOW)
    spider = LegistarApiSpider.from_crawler(get_crawler(LegistarApiSpider), plan=plan)
    url = spider.url("/events", {"$top": 5})
    assert url == f"{API}/events?$top=5&token=s3cret"
    assert redact_url(url) == f"{API}/events?$top=5"


LA_METRO = ROOT / "tests" / "fixtures" / "legistar-api" / "la-metro"


def la_metro(name: str) -> Any:
    return json.loads((LA_METRO / name).read_text(encoding="utf-8"))


def test_la_metro_event_fields() -> None:
    spider = make_spider()
    meeting = spider.meeting_from(la_metro("event.json"))
    assert meeting.platform_id == "2907"
    assert meeting.start is not None
    assert meeting.start.isoformat() == "2024-09-26T10:00:00-07:00"
    assert meeting.virtual_link == "https://boardagendas.metro.net"
    assert meeting.minutes_status == "Draft"
    assert (
        meeting.location == "One Gateway Plaza, Los Angeles, CA 90012,\n3rd Floor, Metro Board Room"
    )
    assert meeting.video_url == (
        "https://seattle.legistar.com/Video.aspx?Mode=Granicus&ID1=3231&Mode2=Video"
    )


def test_matter_details_sponsors_text_and_attachments() -> None:
    """A matter's chain of requests, on LA Metro's recorded matter and attachments."""
    spider = make_spider()
    out = list(
        spider.parse_event_items(
            response(
                f"{API}/events/1/eventitems",
                [
                    dict(
                        recorded("request_12_event_1_items.json")[10],
                        EventItemMatterId=10881,
                        EventItemMatterAttachments=[],
                    )
                ],
                meeting=ScrapedMeeting(
                    platform="legistar", platform_id="1", start=datetime(2030, 1, 1, tzinfo=UTC)
                ),
            )
        )
    )
    [first] = [r for r in out if isinstance(r, Request) and "/matters/" in r.url]
    assert first is not None
    assert first.url == f"{API}/matters/10881"
    state = first.meta["matter_state"]
    assert state.steps == ["sponsors", "versions", "attachments"]  # no item attachments

    def step(out: list[Any]) -> Request:
        [request] = [r for r in out if isinstance(r, Request)]
        return request

    matter_row = la_metro("matter_candidates.json")[0]
    nxt = step(list(spider.parse_matter(response(first.url, matter_row, **first.meta))))
    assert nxt.url == f"{API}/matters/10881/sponsors"
    sponsors = [
        {
            "MatterSponsorName": "Old Sponsor",
            "MatterSponsorMatterVersion": "0",
            "MatterSponsorSequence": 1,
        },
        {
            "MatterSponsorName": "Second",
            "MatterSponsorMatterVersion": "1",
            "MatterSponsorSequence": 2,
        },
        {
            "MatterSponsorName": "Primary",
            "MatterSponsorMatterVersion": "1",
            "MatterSponsorSequence": 1,
        },
    ]
    nxt = step(list(spider.parse_sponsors(response(nxt.url, sponsors, **nxt.meta))))
    assert nxt.url == f"{API}/matters/10881/versions"
    nxt = step(
        list(
            spider.parse_versions(
                response(
                    nxt.url, [{"Key": "77", "Value": "1"}, {"Key": "70", "Value": "0"}], **nxt.meta
                )
            )
        )
    )
    assert nxt.url == f"{API}/matters/10881/texts/77"  # the version the matter is at
    nxt = step(
        list(spider.parse_text(response(nxt.url, {"MatterTextPlain": " The text. "}, **nxt.meta)))
    )
    assert nxt.url == f"{API}/matters/10881/attachments"
    out = list(
        spider.parse_attachments(response(nxt.url, la_metro("minutes_candidates.json"), **nxt.meta))
    )
    [matter] = [m for m in out if isinstance(m, ScrapedMatter)]
    assert matter.file_number == "2024-1026"
    assert matter.type == "Minutes"
    assert matter.status == "Passed"
    assert matter.passed_date is not None
    assert matter.passed_date.isoformat() == "2024-10-31"
    assert matter.sponsors == ("Primary", "Second")
    assert matter.text == "The text."
    assert matter.documents[0].name == "Regular Board Meeting MINUTES - September 26, 2024"
    assert not matter.partial
