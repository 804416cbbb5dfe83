"""Granicus ViewPublisher spider (protocol and quirks: shared/reference/platforms.md section 7).

Requests: ``ViewPublisher.php?view_id=`` for each registry view. A view is one HTML page that
lists its upcoming events and archived clips, each row a meeting: name, date text, and links to
``AgendaViewer.php``, ``MinutesViewer.php``, packets and the media player (sometimes only in
an ``onclick="window.open('...')"``).

Ids: a row is keyed on its ``event_id`` (upcoming events) or else its ``clip_id`` (archived
recordings); rows with neither cannot be kept apart from a renamed meeting and are skipped.
Times: the date cell is text ("April 2, 2025 - 5:03 PM", "03 / 31 / 2026", day names, two-digit
years), sometimes prefixed by a hidden 10-digit Unix timestamp of the day, used only when the
text cannot be read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import urljoin

import scrapy
from dateutil import parser as dateparser
from parsel import Selector
from scrapy.http import Response, TextResponse

from tracker.items import DocumentKind, DocumentRef, ScrapedMeeting
from tracker.models import MeetingStatus
from tracker.parsing import VIRTUAL_HOSTS, clean_text
from tracker.registry import GranicusConfig
from tracker.spider import CrawlPlan, TrackerSpider

CANCELLED_RE = re.compile(r"\bcancel", re.IGNORECASE)
STAMP_RE = re.compile(r"^\s*(\d{10})(?=\D|$)")
TIME_RE = re.compile(r"\d{1,2}:\d{2}|\b\d{1,2}\s*[ap]\.?m\b", re.IGNORECASE)
ID_RE = re.compile(r"[?&](event_id|clip_id)=(\d+)")
OPEN_RE = re.compile(r"window\.open\(\s*'([^']+)'")
ROW_XPATH = (
    "//tr[td[contains(concat(' ', normalize-space(@class), ' '), ' listItem ') "
    "or contains(concat(' ', normalize-space(@class), ' '), ' listedItem ')]]"
)
MEDIA = ("MediaPlayer.php", "/player/clip/", "ASX.php", ".mp3", ".mp4")


def parse_when(text: str, zone: Any) -> tuple[datetime | None, str | None]:
    """The start from a date cell, and the cell's text when no time could be read from it."""
    cleaned = " ".join(text.replace("\xa0", " ").split())
    stamp = STAMP_RE.match(cleaned)
    if stamp:
        cleaned = cleaned[stamp.end() :].strip()
    cleaned = re.sub(r"\s*/\s*", "/", cleaned).replace(" - ", " ")
    try:
        # The year-1 default exposes text without a year, which dateutil would otherwise
        # complete from today's date.
        parsed = dateparser.parse(cleaned, fuzzy=True, default=datetime(1, 1, 1))
    except (ValueError, OverflowError):
        parsed = None
    if parsed is not None and parsed.year == 1:
        parsed = None
    if parsed is None and stamp:
        day = datetime.fromtimestamp(int(stamp.group(1)), UTC).astimezone(zone).date()
        return datetime.combine(day, time(0, 0), tzinfo=zone), cleaned or None
    if parsed is None:
        return None, cleaned or None
    if TIME_RE.search(cleaned):
        return parsed.replace(tzinfo=zone), None
    return datetime.combine(parsed.date(), time(0, 0), tzinfo=zone), None


def link_kind(url: str, text: str) -> DocumentKind | None:
    """What a row's link is ("video" for the player), or None (captions, RSS, ...)."""
    label = text.casefold()
    if "TranscriptViewer" in url or "captions" in label or "rss" in label:
        return None
    if any(m in url for m in MEDIA) or label in ("video", "audio") or "listen" in label:
        return "video"
    if "MinutesViewer.php" in url or "minutes" in label:
        return "minutes"
    if "packet" in label:
        return "packet"
    if "AgendaViewer.php" in url or "agenda" in label:
        return "agenda"
    return "attachment"


class GranicusSpider(TrackerSpider):
    platform = "granicus"

    def __init__(self, plan: CrawlPlan, **kwargs: Any) -> None:
        super().__init__(plan, **kwargs)
        config = plan.entry.granicus
        assert isinstance(config, GranicusConfig)
        self.config = config
        self.site = config.base_url
        self.bodies = {b.casefold() for b in config.bodies}

    async def start(self) -> Any:
        requests = [
            self.listing_page(
                scrapy.Request(
                    f"{self.site}/ViewPublisher.php?view_id={view_id}",
                    callback=self.parse_view,
                    errback=self.on_error,
                    meta={"kind": "view"},
                )
            )
            for view_id in self.config.view_ids
        ]
        if not requests:
            self.problem("config", self.site, "no view_ids in the registry entry")
        for request in requests:
            yield request

    def after_error(self, request: scrapy.Request) -> Any:
        self.listing_arrived(request, whole=False)
        return None

    def parse_view(self, response: Response) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            self.listing_arrived(response, whole=False)
            self.problem("bad_page/view", response.url, "not an HTML page")
            return
        rows = response.xpath(ROW_XPATH)
        if not rows and not response.xpath("//table[contains(@class, 'listingTable')]"):
            self.listing_arrived(response, whole=False)
            self.problem("bad_page/view", response.url, "no ViewPublisher listing on the page")
            return
        self.listing_arrived(response)
        for row in rows:
            try:
                meeting = self.meeting_from(row, response)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.listing_complete = False
                self.problem("bad_record/row", response.url, f"{type(exc).__name__}: {exc}")
                continue
            if meeting is None or meeting.platform_id in self.listed_ids:
                continue  # an event is often listed both as upcoming and in the archive
            self.listed_ids.add(meeting.platform_id)
            yield meeting
        yield from self.listing_done()

    def links(self, row: Selector, response: TextResponse) -> Iterator[tuple[str, str]]:
        for anchor in row.xpath(".//a"):
            href = anchor.attrib.get("href", "")
            opened = OPEN_RE.search(anchor.attrib.get("onclick", ""))
            if opened:
                href = opened.group(1)
            if not href or href.startswith(("javascript:", "#", "mailto:")):
                continue
            url = f"https:{href}" if href.startswith("//") else urljoin(response.url, href)
            yield url, clean_text(" ".join(anchor.xpath(".//text()").getall())) or ""

    def meeting_from(self, row: Selector, response: TextResponse) -> ScrapedMeeting | None:
        cells = row.xpath("./td")
        name_cell = row.xpath("./td[@headers='Name' or @scope='row']") or cells[:1]
        date_cell = row.xpath("./td[starts-with(@headers, 'Date')]") or cells[1:2]
        title = clean_text(" ".join(name_cell.xpath(".//text()").getall()))
        if not title:
            return None  # spacer and header rows
        if self.bodies and not any(b in title.casefold() for b in self.bodies):
            return None
        links = list(self.links(row, response))
        ids = {kind: value for url, _ in links for kind, value in ID_RE.findall(url)}
        if "event_id" in ids:
            platform_id = f"event:{ids['event_id']}"
        elif "clip_id" in ids:
            platform_id = f"clip:{ids['clip_id']}"
        else:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("tracker/skipped/row_without_id")
            return None
        zone = self.entry.zone
        start, time_text = parse_when(" ".join(date_cell.xpath(".//text()").getall()), zone)
        documents: dict[str, DocumentRef] = {}
        first: dict[str, str] = {}
        for url, text in links:
            kind = link_kind(url, text)
            if kind is None:
                continue
            first.setdefault(kind, url)
            if kind != "video" and url not in documents:
                documents[url] = DocumentRef(url=url, kind=kind, name=text or kind.title())
        video = first.get("video")
        virtual = video if video and any(h in video for h in VIRTUAL_HOSTS) else None
        if CANCELLED_RE.search(title):
            status = MeetingStatus.CANCELLED
        elif "minutes" in first or (start is not None and start < self.plan.now):
            status = MeetingStatus.HELD
        else:
            status = MeetingStatus.SCHEDULED
        return ScrapedMeeting(
            platform=self.platform,
            platform_id=platform_id,
            title=title,
            start=start,
            time_text=time_text,
            virtual_link=virtual,
            status=status,
            agenda_url=first.get("agenda"),
            minutes_url=first.get("minutes"),
            video_url=None if virtual else video,
            source_url=response.url,
            platform_version="|".join([title, str(start), *sorted(documents)]),
            documents=tuple(documents.values()),
        )
