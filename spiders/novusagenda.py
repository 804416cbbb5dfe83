"""NovusAgenda spider (shared/reference/platforms.md section 11).

One request per configured meeting type: ``{base}/meetingsgeneral.aspx?MeetingType=N&Date=R``,
a Telerik RadGrid page whose "Meetings" grid lists the meetings of the date range ``R`` (the
page states the range in its From/To pickers) and whose "Items" grid lists agenda items of those
meetings, 15 to a page. Column order varies between sites, so cells are read by their header.

Ids: a meeting is its ``MeetingID`` (from the agenda links), an item its ``ItemID`` (from its
cover sheet link). Items come from the first page of the Items grid only, so a meeting's agenda
is declared incomplete (nothing is ever removed on its evidence) unless the grid has one page.
The listing gives dates without times; ``default_time`` in the registry supplies the usual hour.

Not parsed: ``MeetingView.aspx`` (the HTML agenda) and the PDFs, declared as documents for the
documents pipeline; later pages of the Items grid (postbacks); cover sheets. NovusAgenda
publishes no per-member votes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import scrapy
from parsel import Selector
from scrapy.http import Response

from spiders.pages import local_datetime, meeting_status, onclick_url, text_of
from tracker.items import (
    DocumentKind,
    DocumentRef,
    MeetingListing,
    ScrapedAgenda,
    ScrapedAgendaItem,
    ScrapedMeeting,
)
from tracker.parsing import clean_text
from tracker.registry import NovusAgendaConfig
from tracker.spider import CrawlPlan, TrackerSpider

DATE_RE = re.compile(r"^\d{1,2}/\d{1,2}/(?:\d{2}|\d{4})$")
PAGES_RE = re.compile(r"(\d+)\s+items?\s+in\s+(\d+)\s+pages?", re.IGNORECASE)
MEETINGS_GRID = "#SearchAgendasMeetings_radGridMeetings_ctl00"
ITEMS_GRID = "#SearchAgendasMeetings_radGridItems_ctl00"


def link_of(cell: Selector) -> str | None:
    for a in cell.css("a"):
        target = a.attrib.get("href")
        if not target or target.startswith(("#", "javascript")):
            target = onclick_url(a.attrib.get("onclick"))
        if target:
            return target
    return None


def param(url: str | None, name: str) -> str | None:
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


def doc_kind(header: str) -> DocumentKind | None:
    header = header.lower()
    if "minutes" in header:
        return "minutes"
    if "packet" in header:
        return "packet"
    return "agenda" if "agenda" in header else None


class NovusAgendaSpider(TrackerSpider):
    platform = "novusagenda"

    def __init__(self, plan: CrawlPlan, **kwargs: Any) -> None:
        super().__init__(plan, **kwargs)
        config = plan.entry.novusagenda
        assert isinstance(config, NovusAgendaConfig)
        self.config = config
        self.meetings_seen: set[str] = set()

    async def start(self) -> Any:
        for meeting_type in self.config.meeting_types or (None,):
            query: dict[str, Any] = {"Date": self.config.date_range}
            if meeting_type is not None:
                query = {"MeetingType": meeting_type, **query}
            yield scrapy.Request(
                f"{self.config.base_url}/meetingsgeneral.aspx?{urlencode(query)}",
                callback=self.parse_listing,
                errback=self.on_error,
                meta={"kind": "listing"},
            )

    def parse_listing(self, response: Response) -> Iterator[Any]:
        types = {
            text_of(o): o.attrib.get("value", "")
            for o in response.css("#SearchAgendasMeetings_ctl00 option")
            if o.attrib.get("value") not in (None, "", "-1")
        }
        grid = response.css(MEETINGS_GRID)
        if not grid:
            self.problem("bad_page/listing", response.url, "no meetings grid on the page")
            return
        complete = self.one_page(grid)
        seen: set[str] = set()
        meetings: dict[str, ScrapedMeeting] = {}
        for row in self.rows(grid):
            try:
                meeting = self.meeting_from(row, response, types)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                complete = False
                self.problem("bad_record/meeting", response.url, f"{type(exc).__name__}: {exc}")
                continue
            if meeting is None:
                complete = False  # a meeting with no id cannot be told apart: listing unusable
                continue
            start = meeting.start
            if start is not None and not self.plan.window_start <= start < self.plan.window_end:
                continue
            if self.config.bodies and meeting.body_name not in self.config.bodies:
                continue
            seen.add(meeting.platform_id)
            if meeting.platform_id in self.meetings_seen:
                continue
            self.meetings_seen.add(meeting.platform_id)
            meetings[meeting.platform_id] = meeting
            yield from self.body_of(meeting)
            yield meeting
        yield from self.agendas(response, meetings)
        window = self.listing_window(response)
        if complete and window is not None and self.plan.mode == "full":
            yield MeetingListing(
                platform=self.platform,
                window_start=window[0],
                window_end=window[1],
                meeting_platform_ids=frozenset(seen),
            )

    @staticmethod
    def rows(grid: Any) -> Iterator[dict[str, Selector]]:
        headers = [text_of(th) or "" for th in grid.css("thead th.rgHeader")]
        for row in grid.xpath(
            "./tbody/tr[contains(@class, 'rgRow') or contains(@class, 'rgAltRow')]"
        ):
            yield dict(zip(headers, row.xpath("./td"), strict=False))

    @staticmethod
    def one_page(grid: Any) -> bool:
        pages = PAGES_RE.search(text_of(grid.css(".rgInfoPart")) or "")
        return pages is None or int(pages.group(2)) <= 1

    def listing_window(self, response: Response) -> tuple[datetime, datetime] | None:
        """The part of the plan's window inside the range the page says it lists."""
        first = response.css("#SearchAgendasMeetings_radCalendarFrom::attr(value)").get()
        last = response.css("#SearchAgendasMeetings_radCalendarTo::attr(value)").get()
        if not first or not last:
            return None
        zone = self.entry.zone
        start = datetime.combine(datetime.strptime(first, "%Y-%m-%d").date(), time(0), tzinfo=zone)
        end = datetime.combine(
            datetime.strptime(last, "%Y-%m-%d").date() + timedelta(days=1), time(0), tzinfo=zone
        )
        start, end = max(start, self.plan.window_start), min(end, self.plan.window_end)
        return (start, end) if start < end else None

    def meeting_from(
        self, cells: dict[str, Selector], response: Response, types: dict[str | None, str]
    ) -> ScrapedMeeting | None:
        texts = {h: text_of(c) or "" for h, c in cells.items()}
        day = next(t for t in texts.values() if DATE_RE.match(t))
        body = next((t for h, t in texts.items() if "type" in h.lower()), None) or None
        location = next((t for h, t in texts.items() if "location" in h.lower()), None) or None
        documents: list[DocumentRef] = []
        meeting_id = None
        for header, cell in cells.items():
            target = link_of(cell)
            kind = doc_kind(header)
            if not target or kind is None:
                continue
            url = response.urljoin(target)
            meeting_id = meeting_id or param(url, "MeetingID")
            name = clean_text(header) or kind.title()
            documents.append(DocumentRef(url=url, kind=kind, name=name))
        if meeting_id is None:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("tracker/skipped/meeting_without_id")
            return None
        start, time_text = local_datetime(
            day, self.config.default_time, ("%m/%d/%y", "%m/%d/%Y"), self.entry.zone
        )
        return ScrapedMeeting(
            platform=self.platform,
            platform_id=meeting_id,
            body_platform_id=(types.get(body) or body) if body else None,
            body_name=body,
            title=body,
            start=start,
            time_text=time_text,
            location=location,
            status=meeting_status(" ".join(texts.values()), start, self.plan.now),
            agenda_url=next((d.url for d in documents if d.kind == "agenda"), None),
            minutes_url=next((d.url for d in documents if d.kind == "minutes"), None),
            source_url=response.url,
            documents=tuple(documents),
        )

    def agendas(self, response: Response, meetings: dict[str, ScrapedMeeting]) -> Iterator[Any]:
        """Agenda items of the listed meetings from the first page of the Items grid."""
        grid = response.css(ITEMS_GRID)
        if not grid:
            return
        complete = self.one_page(grid)
        items: dict[str, list[ScrapedAgendaItem]] = {}
        for cells in self.rows(grid):
            texts = {h.lower(): text_of(c) or "" for h, c in cells.items()}
            target = next((link_of(c) for c in cells.values() if link_of(c)), None)
            url = response.urljoin(target) if target else None
            item_id, meeting_id = param(url, "ItemID"), param(url, "MeetingID")
            title = texts.get("title")
            if not (item_id and meeting_id and title) or meeting_id not in meetings:
                continue
            category = texts.get("category")
            items.setdefault(meeting_id, []).append(
                ScrapedAgendaItem(
                    platform_id=item_id,
                    title=title,
                    consent=bool(category and "consent" in category.lower()),
                    source_url=url,
                    documents=(DocumentRef(url=url, kind="attachment", name="Cover sheet"),)
                    if url
                    else (),
                )
            )
        for meeting_id, listed in items.items():
            yield ScrapedAgenda(
                meeting_platform=self.platform,
                meeting_platform_id=meeting_id,
                items=tuple(listed),
                complete=complete,
            )
