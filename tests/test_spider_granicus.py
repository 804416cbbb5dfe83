"""The Granicus ViewPublisher spider on real ViewPublisher rows (Tulsa's TGOV view 4, two
archive rows kept in codefortulsa/tgov-scraper's tests), and date cells in the shapes
platforms.md section 7 quotes from real sites.

None of the shared Granicus recordings is a ViewPublisher page (granicus/san-diego holds an
OnBase Agenda Online page and a sandiego.gov calendar), so the Tulsa rows are the recording here,
under a registry entry given in the test as a user's own registry file would.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import ROOT, query, row_counts, run_tracker
from recordings import HTML, Recorded, write_warc
from scrapy import Request
from spider_helpers import html_response, make_spider, of_type, problems

from spiders.granicus import GranicusSpider, link_kind, parse_when
from tracker.items import MeetingListing, ScrapedMeeting
from tracker.models import MeetingStatus
from tracker.registry import Entry, parse_registry

RECORDING = ROOT / "tests" / "fixtures" / "granicus" / "tulsa" / "tgov_viewpublisher_excerpt.html"
SITE = "https://tulsa-ok.granicus.com"
VIEW = f"{SITE}/ViewPublisher.php?view_id=4"
NOW = datetime(2025, 4, 10, 12, 0, tzinfo=UTC)
WINDOW = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC))
CENTRAL = ZoneInfo("America/Chicago")
PACIFIC = ZoneInfo("America/Los_Angeles")
REGISTRY = """
[[jurisdiction]]
slug = "tulsa-tgov"
name = "Tulsa"
state = "OK"
kind = "city"
timezone = "America/Chicago"
platform = "granicus"

[jurisdiction.granicus]
base_url = "https://tulsa-ok.granicus.com"
view_ids = [4]
"""


def entry(**config: Any) -> Entry:
    [parsed] = parse_registry(REGISTRY, "test.toml")
    assert parsed.granicus is not None
    return parsed.model_copy(update={"granicus": parsed.granicus.model_copy(update=config)})


def parse(body: bytes, **config: Any) -> tuple[GranicusSpider, list[Any]]:
    spider = make_spider(GranicusSpider, entry(**config), now=NOW, window=WINDOW)
    spider.listing_pending = {VIEW}
    return spider, list(spider.parse_view(html_response(VIEW, body, kind="view")))


@pytest.fixture(scope="module")
def out() -> list[Any]:
    return parse(RECORDING.read_bytes())[1]


@pytest.fixture(scope="module")
def meetings(out: list[Any]) -> dict[str, ScrapedMeeting]:
    return {m.platform_id: m for m in of_type(out, ScrapedMeeting)}


def test_requests_each_registry_view() -> None:
    spider = make_spider(GranicusSpider, "san-diego", now=NOW, window=WINDOW)

    async def collect() -> list[Request]:
        return [r async for r in spider.start()]

    assert [r.url for r in asyncio.run(collect())] == [
        "https://sandiego.granicus.com/ViewPublisher.php?view_id=31"
    ]


def test_meetings_are_keyed_on_clip_ids(meetings: dict[str, ScrapedMeeting]) -> None:
    assert sorted(meetings) == ["clip:6474", "clip:6515"]


def test_title(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["clip:6474"].title == "Animal Welfare Commission"


def test_start_from_the_date_cell(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["clip:6515"].start == datetime(2025, 4, 2, 17, 3, tzinfo=CENTRAL)


def test_start_in_standard_time(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["clip:6474"].start.isoformat() == "2025-03-10T18:00:00-05:00"


def test_status(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["clip:6515"].status == MeetingStatus.HELD


def test_agenda_document(meetings: dict[str, ScrapedMeeting]) -> None:
    assert [(d.kind, d.name, d.url) for d in meetings["clip:6515"].documents] == [
        ("agenda", "Agenda", f"{SITE}/AgendaViewer.php?view_id=4&clip_id=6515")
    ]


def test_agenda_url(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["clip:6515"].agenda_url == f"{SITE}/AgendaViewer.php?view_id=4&clip_id=6515"


def test_video_from_the_onclick(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["clip:6474"].video_url == f"{SITE}/MediaPlayer.php?view_id=4&clip_id=6474"


def test_no_documents_without_links(meetings: dict[str, ScrapedMeeting]) -> None:
    assert (meetings["clip:6474"].documents, meetings["clip:6474"].agenda_url) == ((), None)


def test_source_url(meetings: dict[str, ScrapedMeeting]) -> None:
    assert meetings["clip:6474"].source_url == VIEW


def test_listing(out: list[Any]) -> None:
    [listing] = of_type(out, MeetingListing)
    assert listing.meeting_platform_ids == {"clip:6474", "clip:6515"}


def test_cancelled_from_the_name() -> None:
    body = RECORDING.read_bytes().replace(
        b"Animal Welfare Commission\n", b"Animal Welfare Commission - CANCELLED\n"
    )
    meetings = {m.platform_id: m for m in of_type(parse(body)[1], ScrapedMeeting)}
    assert meetings["clip:6474"].status == MeetingStatus.CANCELLED


def test_body_filter_on_the_name() -> None:
    _, out = parse(RECORDING.read_bytes(), bodies=("Animal Welfare",))
    assert [m.platform_id for m in of_type(out, ScrapedMeeting)] == ["clip:6474"]


def test_row_without_an_id_is_skipped_and_counted() -> None:
    body = RECORDING.read_bytes().replace(b"clip_id=6474", b"other=6474")
    spider, out = parse(body)
    assert spider.crawler.stats is not None
    assert (
        [m.platform_id for m in of_type(out, ScrapedMeeting)],
        spider.crawler.stats.get_value("tracker/skipped/row_without_id"),
    ) == (["clip:6515"], 1)


def test_a_page_without_a_listing_is_a_problem() -> None:
    spider, out = parse(b"<html><body>Service Unavailable</body></html>")
    assert (out, problems(spider)) == ([], {"bad_page/view": 1})


@pytest.mark.parametrize(
    ("text", "expected", "time_text"),
    [
        ("December 22, 2025 - 06:00 PM", datetime(2025, 12, 22, 18, 0, tzinfo=PACIFIC), None),
        ("1768204800Jan 12, 2026", datetime(2026, 1, 12, tzinfo=PACIFIC), None),
        ("03 / 31 / 2026", datetime(2026, 3, 31, tzinfo=PACIFIC), None),
        ("Tuesday, March 31, 2026 - 5:30 PM", datetime(2026, 3, 31, 17, 30, tzinfo=PACIFIC), None),
        ("April\xa0 2,\xa02025 - 5:03\xa0PM", datetime(2025, 4, 2, 17, 3, tzinfo=PACIFIC), None),
        ("1768204800TBD", datetime(2026, 1, 12, tzinfo=PACIFIC), "TBD"),
        ("To be announced", None, "To be announced"),
        ("Room 5 - 6:00 PM", None, "Room 5 6:00 PM"),
    ],
)
def test_date_cells(text: str, expected: datetime | None, time_text: str | None) -> None:
    assert parse_when(text, PACIFIC) == (expected, time_text)


@pytest.mark.parametrize(
    ("url", "text", "kind"),
    [
        ("https://x.granicus.com/AgendaViewer.php?view_id=1&event_id=9", "Agenda", "agenda"),
        ("https://x.granicus.com/MinutesViewer.php?view_id=1&clip_id=9&doc_id=3", "", "minutes"),
        ("https://d3n9y02raazwpg.cloudfront.net/x/abc.pdf", "Agenda Packet", "packet"),
        ("https://x.granicus.com/MediaPlayer.php?view_id=1&clip_id=9", "Video", "video"),
        ("https://archive-video.granicus.com/x/x_1.mp3", "Audio", "video"),
        ("https://x.granicus.com/TranscriptViewer.php?view_id=1&clip_id=9", "Captions", None),
        ("https://x.granicus.com/DocumentViewer.php?file=x_abc.pdf", "Staff Report", "attachment"),
    ],
)
def test_link_kinds(url: str, text: str, kind: str | None) -> None:
    assert link_kind(url, text) == kind


# -- replay through the real CLI --------------------------------------------------------------


def crawl(database_url: str, warc: Path, registry: Path) -> None:
    run_tracker(
        "crawl",
        "tulsa-tgov",
        "--registry",
        registry,
        "--replay",
        warc,
        "--full",
        "--from",
        "2025-03-01",
        "--to",
        "2025-05-01",
        database_url=database_url,
    )


def test_replay_twice_stores_the_recording_once(database_url: str, tmp_path: Path) -> None:
    registry = tmp_path / "mine.toml"
    registry.write_text(REGISTRY, encoding="utf-8")
    warc = write_warc(
        tmp_path / "tulsa-tgov.warc.gz",
        [Recorded(VIEW, RECORDING.read_bytes(), HTML)],
        date="2025-04-02T23:00:00Z",  # after the newest row's meeting: a lower bound
        description="Tulsa TGOV ViewPublisher rows (codefortulsa/tgov-scraper tests)",
    )
    crawl(database_url, warc, registry)
    before = row_counts(database_url)
    changes = query(database_url, "SELECT kind FROM change ORDER BY id")
    stored = {
        r.platform_id: r for r in query(database_url, "SELECT platform_id, start FROM meeting")
    }
    assert sorted(stored) == ["clip:6474", "clip:6515"]
    assert str(stored["clip:6515"].start).startswith("2025-04-02 22:03:00")  # 5:03 PM CDT
    assert [r.status for r in query(database_url, "SELECT status FROM crawl_run")] == ["ok"]

    crawl(database_url, warc, registry)
    after = row_counts(database_url)
    assert {t: n for t, n in after.items() if t != "crawl_run"} == {
        t: n for t, n in before.items() if t != "crawl_run"
    }
    assert query(database_url, "SELECT kind FROM change ORDER BY id") == changes
    assert [r.status for r in query(database_url, "SELECT status FROM crawl_run ORDER BY id")] == [
        "ok",
        "ok",
    ]
