"""The NovusAgenda spider on Dinuba's recorded agendapublic page (meetingsgeneral.aspx,
"6 Month Span" 2022-07-01..2023-01-01, recorded about 2022-10-01: the 9/27 meeting has its
agenda but no minutes yet), and a replayed crawl of it through the CLI.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, query, row_counts, run_tracker
from exchanges import Exchange, write_exchanges
from spider_helpers import html_response, make_spider, of_type

from spiders.novusagenda import NovusAgendaSpider
from tracker.items import MeetingListing, ScrapedAgenda, ScrapedBody, ScrapedMeeting
from tracker.models import MeetingStatus
from tracker.registry import load_registry

RECORDING = ROOT / "tests" / "fixtures" / "novusagenda" / "dinuba" / "fre_dinuba_city_council.html"
SITE = "https://dinuba.novusagenda.com/agendapublic"
LISTING = f"{SITE}/meetingsgeneral.aspx?MeetingType=1&Date=6ms"
NOW = datetime(2022, 10, 1, tzinfo=UTC)
WINDOW = (datetime(2022, 7, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC))


def parse(body: bytes | None = None, **config: Any) -> list[Any]:
    entry = load_registry().get("dinuba")
    if config:
        assert entry.novusagenda is not None
        entry = entry.model_copy(
            update={"novusagenda": entry.novusagenda.model_copy(update=config)}
        )
    spider = make_spider(NovusAgendaSpider, entry, now=NOW, window=WINDOW)
    page = html_response(LISTING, body if body is not None else RECORDING.read_bytes())
    return list(spider.parse_listing(page))


@pytest.fixture(scope="module")
def items() -> list[Any]:
    return parse()


@pytest.fixture(scope="module")
def meetings(items: list[Any]) -> dict[str, ScrapedMeeting]:
    return {m.platform_id: m for m in of_type(items, ScrapedMeeting)}


def test_listing_request() -> None:
    import asyncio

    spider = make_spider(NovusAgendaSpider, "dinuba", now=NOW, window=WINDOW)

    async def requests() -> list[Any]:
        return [r async for r in spider.start()]

    assert [r.url for r in asyncio.run(requests())] == [LISTING]


def test_count(meetings: dict[str, ScrapedMeeting]) -> None:
    assert sorted(meetings) == ["352", "353", "354", "365"]


@pytest.mark.parametrize(
    ("meeting_id", "day"),
    [("365", "2022-09-27"), ("354", "2022-09-13"), ("353", "2022-08-09"), ("352", "2022-07-12")],
)
def test_start_is_the_local_day(
    meetings: dict[str, ScrapedMeeting], meeting_id: str, day: str
) -> None:
    start = meetings[meeting_id].start
    assert start is not None
    # The listing gives no time; without a default_time the start is the day's local midnight.
    assert start.isoformat() == f"{day}T00:00:00-07:00"


@pytest.mark.parametrize("meeting_id", ["352", "353", "354", "365"])
def test_title_and_body(meetings: dict[str, ScrapedMeeting], meeting_id: str) -> None:
    meeting = meetings[meeting_id]
    assert (meeting.title, meeting.body_platform_id) == ("Council Meeting", "1")


@pytest.mark.parametrize("meeting_id", ["352", "353", "354", "365"])
def test_status(meetings: dict[str, ScrapedMeeting], meeting_id: str) -> None:
    assert meetings[meeting_id].status == MeetingStatus.HELD


def test_location(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["365"].location == "405 E El Monte Way, Dinuba CA 93618"


def test_documents_of_a_meeting_with_minutes(meetings: dict[str, ScrapedMeeting]) -> None:
    assert [(d.kind, d.name, d.url.removeprefix(SITE)) for d in meetings["353"].documents] == [
        (
            "agenda",
            "Online Agenda",
            "/MeetingView.aspx?MeetingID=353&MinutesMeetingID=298&doctype=Agenda",
        ),
        ("agenda", "Download Agenda", "/DisplayAgendaPDF.ashx?MeetingID=353"),
        ("minutes", "Legal Minutes", "/DisplayAgendaPDF.ashx?MinutesMeetingID=298"),
    ]
    assert meetings["353"].minutes_url == f"{SITE}/DisplayAgendaPDF.ashx?MinutesMeetingID=298"


def test_no_minutes_yet(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["365"].minutes_url is None
    assert meetings["365"].agenda_url == (
        f"{SITE}/MeetingView.aspx?MeetingID=365&MinutesMeetingID=302&doctype=Agenda"
    )


def test_body(items: list[Any]) -> None:
    assert [(b.platform_id, b.name, b.kind) for b in of_type(items, ScrapedBody)] == [
        ("1", "Council Meeting", "council")
    ]


def test_listing_covers_the_pages_range(items: list[Any]) -> None:
    [listing] = of_type(items, MeetingListing)
    assert listing.meeting_platform_ids == {"352", "353", "354", "365"}
    assert listing.window_start.isoformat() == "2022-07-01T00:00:00-07:00"
    assert listing.window_end == WINDOW[1]


def test_items_of_the_first_grid_page_are_an_incomplete_agenda(items: list[Any]) -> None:
    agendas = {a.meeting_platform_id: a for a in of_type(items, ScrapedAgenda)}
    assert {k: (len(a.items), a.complete) for k, a in agendas.items()} == {
        "365": (8, False),
        "354": (7, False),  # more of its items are on the grid's later pages
    }


def test_agenda_item_fields(items: list[Any]) -> None:
    [agenda] = [a for a in of_type(items, ScrapedAgenda) if a.meeting_platform_id == "365"]
    first = agenda.items[0]
    assert first.platform_id == "2537"
    assert first.title == (
        "Resolution No. 2022-50 Authorizing the Investment of Reserve Funds in the Tulare "
        "County Treasury Pool (KS)"
    )
    assert first.consent is False
    assert [i.platform_id for i in agenda.items if i.consent] == ["2572", "2575", "2576", "2580"]
    assert [(d.kind, d.url) for d in first.documents] == [
        ("attachment", f"{SITE}/Coversheet.aspx?ItemID=2537&MeetingID=365")
    ]


def test_default_time_from_the_registry() -> None:
    meetings = {m.platform_id: m for m in of_type(parse(default_time="6:00 PM"), ScrapedMeeting)}
    start = meetings["365"].start
    assert start is not None
    assert start.isoformat() == "2022-09-27T18:00:00-07:00"


def test_meeting_without_any_link_is_skipped_and_the_listing_not_declared() -> None:
    page = RECORDING.read_bytes().replace(b"MeetingID=352", b"Nothing=352")
    found = parse(page)
    assert sorted(m.platform_id for m in of_type(found, ScrapedMeeting)) == ["353", "354", "365"]
    assert of_type(found, MeetingListing) == []


# -- replayed crawl through the CLI --------------------------------------------------------
def archive(tmp_path: Path) -> Path:
    return write_exchanges(
        tmp_path / "dinuba.warc.gz",
        [Exchange(LISTING, RECORDING.read_bytes())],
        fetched_at=NOW,
        description="City-Bureau/city-scrapers-fresno tests/files/fre_dinuba_city_council.html, "
        "fetched by that project from the same URL",
    )


def crawl(database_url: str, replay: Path) -> str:
    result = run_tracker(
        "crawl",
        "dinuba",
        "--replay",
        replay,
        "--full",
        "--from",
        "2022-07-01",
        "--to",
        "2023-01-01",
        database_url=database_url,
    )
    return result.stdout + result.stderr


def test_replayed_crawl_stores_meetings_and_items_and_is_idempotent(
    database_url: str, tmp_path: Path
) -> None:
    replay = archive(tmp_path)
    assert "dinuba: ok" in crawl(database_url, replay)
    rows = query(database_url, "SELECT platform_id, title, status FROM meeting ORDER BY start")
    assert [(r.platform_id, r.title, r.status) for r in rows] == [
        ("352", "Council Meeting", "held"),
        ("353", "Council Meeting", "held"),
        ("354", "Council Meeting", "held"),
        ("365", "Council Meeting", "held"),
    ]
    assert row_counts(database_url)["agenda_item"] == 15
    before = row_counts(database_url)
    changes = [r.kind for r in query(database_url, "SELECT kind FROM change ORDER BY id")]
    crawl(database_url, replay)
    after = row_counts(database_url)
    assert {t: n for t, n in after.items() if t != "crawl_run"} == {
        t: n for t, n in before.items() if t != "crawl_run"
    }
    assert [r.kind for r in query(database_url, "SELECT kind FROM change ORDER BY id")] == changes
    assert [r.status for r in query(database_url, "SELECT status FROM crawl_run")] == ["ok", "ok"]


def test_default_time_must_be_a_time() -> None:
    from pydantic import ValidationError

    from tracker.registry import NovusAgendaConfig

    with pytest.raises(ValidationError, match="not a time"):
        NovusAgendaConfig(base_url=SITE, default_time="evening")
    assert NovusAgendaConfig(base_url=SITE, default_time="6:30 PM").default_time == "6:30 PM"
