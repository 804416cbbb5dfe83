"""Property tests for every parser of untrusted text that other test files do not cover:
dates and times, published text, registry files, platform JSON and HTML, search queries.
HYPOTHESIS_PROFILE=long runs each with 10,000 cases."""

from __future__ import annotations

import contextlib
import functools
import json
from datetime import UTC, datetime, time

from conftest import property_settings
from hypothesis import given
from hypothesis import strategies as st
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.test import get_crawler

from spiders.documents import DocumentsSpider, find_date, find_time
from spiders.legistar_api import LegistarApiSpider
from tracker.agenda_text import minutes_action, split_items
from tracker.exceptions import RegistryError, SearchError
from tracker.items import ScrapedMeeting
from tracker.parsing import clean_text, parse_local_date, parse_time, parse_utc, virtual_link
from tracker.registry import load_registry, parse_registry
from tracker.search import fts5_query
from tracker.spider import CrawlPlan

NOW = datetime(2026, 1, 1, tzinfo=UTC)
junk = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | junk,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(junk, children, max_size=5),
    max_leaves=20,
)
legistar_keys = st.sampled_from(
    [
        "EventId",
        "EventDate",
        "EventTime",
        "EventBodyId",
        "EventBodyName",
        "EventLocation",
        "EventComment",
        "EventAgendaFile",
        "EventMinutesFile",
        "EventInSiteURL",
        "EventAgendaStatusName",
        "EventLastModifiedUtc",
        "EventItemId",
        "EventItemTitle",
        "EventItemAgendaSequence",
        "EventItemPassedFlag",
        "EventItemMatterId",
        "EventItemMatterAttachments",
        "VoteValueName",
        "VotePersonId",
        "VotePersonName",
    ]
)
legistar_rows = st.lists(st.dictionaries(legistar_keys, json_values, max_size=12), max_size=5)


@property_settings(300)
@given(junk)
def test_times_and_dates_never_raise(text: str) -> None:
    found = parse_time(text)
    assert found is None or isinstance(found, time)
    for parse in (parse_utc, parse_local_date):
        # Malformed timestamps are ValueErrors, which callers count as bad records.
        with contextlib.suppress(ValueError):
            parse(text)
    assert find_date(text, None) is None or find_date(text, None).year > 1900  # type: ignore[union-attr]
    assert find_time(text) is None or isinstance(find_time(text), time)


@property_settings(300)
@given(junk, junk)
def test_published_text_helpers_never_raise(a: str, b: str) -> None:
    cleaned = clean_text(a)
    assert cleaned is None or cleaned == cleaned.strip()
    link = virtual_link(a, b)
    assert link is None or link.startswith(("http://", "https://"))
    for item in split_items(a + "\n" + b):
        assert item.text.strip()
    action = minutes_action(a)
    assert action is None or action[0].isupper()


@property_settings(200)
@given(junk)
def test_registry_text_is_parsed_or_refused_with_a_registry_error(text: str) -> None:
    try:
        parse_registry(text, "mine.toml")
    except RegistryError as exc:
        message = str(exc)
    else:
        message = "mine.toml"
    assert message.startswith("mine.toml")  # the file is always named


@functools.cache
def _legistar() -> LegistarApiSpider:
    """One spider for every case (a crawler per case costs more than the callbacks)."""
    plan = CrawlPlan(
        entry=load_registry().get("seattle"), mode="full", now=NOW, window_start=NOW, window_end=NOW
    )
    crawler = get_crawler(LegistarApiSpider)
    spider = LegistarApiSpider.from_crawler(crawler, plan=plan)
    crawler.spider = spider
    assert crawler.stats is not None
    crawler.stats.open_spider()
    return spider


def _json(url: str, value: object, **meta: object) -> TextResponse:
    return TextResponse(
        url, body=json.dumps(value).encode(), encoding="utf-8", request=Request(url, meta=meta)
    )


@property_settings(200)
@given(legistar_rows)
def test_legistar_json_never_crashes_a_callback(rows: list[dict[str, object]]) -> None:
    spider = _legistar()
    api = "https://webapi.legistar.com/v1/seattle"
    meeting = ScrapedMeeting(platform="legistar", platform_id="1", start=NOW)
    list(spider.parse_events(_json(f"{api}/events", rows, skip=0)))
    list(spider.parse_event_items(_json(f"{api}/events/1/eventitems", rows, meeting=meeting)))
    list(spider.parse_bodies(_json(f"{api}/bodies", rows)))
    list(spider.parse_officerecords(_json(f"{api}/bodies/1/officerecords", rows, body_id="1")))


@property_settings(150)
@given(st.text(max_size=500), st.lists(st.tuples(junk, junk), max_size=8))
def test_document_pages_never_crash_the_listing_spider(
    text: str, links: list[tuple[str, str]]
) -> None:
    anchors = "".join(f'<a href="{href}">{label}</a>' for href, label in links)
    html = f"<html><body><h1>{text}</h1>{anchors}</body></html>".encode("utf-8", "replace")
    plan = CrawlPlan(
        entry=load_registry().get("birmingham-al"),
        mode="full",
        now=NOW,
        window_start=NOW,
        window_end=NOW,
    )
    crawler = get_crawler(DocumentsSpider)
    spider = DocumentsSpider.from_crawler(crawler, plan=plan)
    crawler.spider = spider
    assert crawler.stats is not None
    crawler.stats.open_spider()
    url = "https://www.birminghamalcitycouncil.org/meetings/x/"
    response = HtmlResponse(url, body=html, request=Request(url, meta={"page": 1}))
    list(spider.parse_meeting_page(response))
    list(spider.parse_listing(response))


@property_settings(300)
@given(junk)
def test_search_queries_are_always_safe_fts5(text: str) -> None:
    query = fts5_query(text)
    # Every term is a quoted string: no FTS5 operator from a user's words survives.
    assert query == "" or (query.startswith('"') and query.endswith('"'))


def test_search_with_hostile_queries_answers_or_refuses(sqlite_url: str) -> None:
    from tracker.db import open_database
    from tracker.search import search

    engine = open_database(sqlite_url)
    for text in [
        '"',
        "NEAR(a b",
        "a OR",
        "*",
        "a:b",
        "-",
        "'; DROP TABLE document; --",
        "\x00",
        "🦆 AND",
        "()",
    ]:
        with contextlib.suppress(SearchError):
            assert search(engine, text) == []
