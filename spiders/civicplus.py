"""CivicPlus AgendaCenter spider (protocol and quirks: shared/reference/platforms.md section 6).

Requests: ``/AgendaCenter/Search/`` once per calendar year of the window, each limited to the
window's days in that year (a search page groups rows by category and year, so one page per
year keeps every row on the page). Every row is a meeting: its agenda id and date from the
``_MMDDYYYY-ID`` anchor, the "Posted" stamp, the title, and links to the agenda, packet,
minutes and media.

AgendaCenter publishes no meeting time or place: a meeting starts at midnight local time on its
date, and its items live only in the agenda document (declared, never parsed here).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urljoin

import scrapy
from parsel import Selector
from scrapy.http import Response, TextResponse

from tracker.items import DocumentRef, ScrapedBody, ScrapedMeeting
from tracker.models import MeetingStatus
from tracker.parsing import VIRTUAL_HOSTS, body_kind, clean_text
from tracker.registry import CivicPlusConfig
from tracker.spider import CrawlPlan, TrackerSpider

ANCHOR_RE = re.compile(r"_(\d{8})-(\d+)")
CATEGORY_ID_RE = re.compile(r"^cat(\d+)$")
POSTED_RE = re.compile(r"Posted\s+([A-Z][a-z]{2,8}\.?\s+\d{1,2},\s+\d{4}\s+\d{1,2}:\d{2}\s*[AP]M)")
CANCELLED_RE = re.compile(r"\bcancel", re.IGNORECASE)
GENERIC_TITLES = {"", "agenda", "minutes"}
ROW_XPATH = ".//tr[contains(concat(' ', normalize-space(@class), ' '), ' catAgendaRow ')]"


def parse_posted(text: str) -> datetime:
    """ "Nov 2, 2020 4:29 PM" (months shown as three-letter abbreviations, "Sept" too)."""
    month, rest = text.replace(".", "").split(None, 1)
    return datetime.strptime(f"{month[:3]} {' '.join(rest.split())}", "%b %d, %Y %I:%M %p")


def text_of(selector: Selector | None) -> str:
    if selector is None:
        return ""
    return clean_text(" ".join(selector.xpath(".//text()").getall())) or ""


class CivicPlusSpider(TrackerSpider):
    platform = "civicplus"

    def __init__(self, plan: CrawlPlan, **kwargs: Any) -> None:
        super().__init__(plan, **kwargs)
        config = plan.entry.civicplus
        assert isinstance(config, CivicPlusConfig)
        self.config = config
        self.site = config.base_url
        self.categories = {str(c) for c in config.category_ids}
        self.bodies = {b.casefold() for b in config.bodies}
        self.seen_bodies: set[str] = set()

    # -- requests --------------------------------------------------------------------------
    def spans(self) -> Iterator[tuple[date, date]]:
        """The window's local days, one span per calendar year."""
        zone = self.entry.zone
        first = self.plan.window_start.astimezone(zone).date()
        last = (self.plan.window_end - timedelta(microseconds=1)).astimezone(zone).date()
        while first <= last:
            end = min(last, date(first.year, 12, 31))
            yield first, end
            first = end + timedelta(days=1)

    def search_url(self, first: date, last: date) -> str:
        return (
            f"{self.site}/AgendaCenter/Search/?term=&CIDs=all&startDate={first:%m/%d/%Y}"
            f"&endDate={last:%m/%d/%Y}&dateRange=&dateSelector="
        )

    async def start(self) -> Any:
        # Every page is counted before the first answer comes back.
        requests = [
            self.listing_page(
                scrapy.Request(
                    self.search_url(first, last),
                    callback=self.parse_search,
                    errback=self.on_error,
                    meta={"kind": "search"},
                )
            )
            for first, last in self.spans()
        ]
        for request in requests:
            yield request

    def after_error(self, request: scrapy.Request) -> Any:
        self.listing_arrived(request, whole=False)
        return None

    # -- listing ---------------------------------------------------------------------------
    def parse_search(self, response: Response) -> Iterator[Any]:
        if not isinstance(response, TextResponse) or not self.is_agenda_center(response):
            # A WAF challenge or an error page served with 200: nothing here is a listing.
            self.listing_arrived(response, whole=False)
            self.problem("bad_page/search", response.url, "not an AgendaCenter page")
            return
        self.listing_arrived(response)
        yield from self.parse_page(response)
        yield from self.listing_done()

    @staticmethod
    def is_agenda_center(response: TextResponse) -> bool:
        # The search form is on every AgendaCenter page, with results or without; site
        # navigation links to /AgendaCenter are on error pages too, so they prove nothing.
        return bool(response.xpath("//*[@id='searchButton'] | //table[@summary='List of Agendas']"))

    def parse_page(self, response: TextResponse) -> Iterator[Any]:
        """Meetings and bodies on a search page or the /AgendaCenter index (same markup)."""
        for category in response.xpath("//div[starts-with(@id, 'cat')]"):
            found = CATEGORY_ID_RE.match(category.attrib.get("id", ""))
            if not found:
                continue
            cat_id = found.group(1)
            heading = category.xpath("./h2 | ./h3")
            name = text_of(heading[0] if heading else None).lstrip("▼").strip()
            if self.categories and cat_id not in self.categories:
                continue
            if self.bodies and name.casefold() not in self.bodies:
                continue
            if cat_id not in self.seen_bodies and name:
                self.seen_bodies.add(cat_id)
                yield ScrapedBody(
                    platform_id=cat_id, name=name, kind=body_kind(None, name), partial=True
                )
            for row in category.xpath(ROW_XPATH):
                try:
                    meeting = self.meeting_from(row, cat_id, name, response)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    self.listing_complete = False
                    self.problem("bad_record/row", response.url, f"{type(exc).__name__}: {exc}")
                    continue
                if meeting.platform_id in self.listed_ids:
                    continue
                self.listed_ids.add(meeting.platform_id)
                yield meeting

    def meeting_from(
        self, row: Selector, cat_id: str, body: str, response: TextResponse
    ) -> ScrapedMeeting:
        anchor = ANCHOR_RE.search(" ".join(row.xpath(".//a/@name | .//a/@href").getall()))
        if anchor is None:
            raise ValueError("row without an _MMDDYYYY-ID anchor")
        stamp, agenda_id = anchor.groups()
        zone = self.entry.zone
        day = datetime.strptime(stamp, "%m%d%Y").date()
        heading = text_of(next(iter(row.xpath(".//h3 | .//h4")), None))
        posted = POSTED_RE.search(heading)
        published = parse_posted(posted.group(1)) if posted else None
        title = text_of(next(iter(row.xpath("./td[1]//p")), None))
        if title.casefold() in GENERIC_TITLES:
            title = body or title
        hrefs = [urljoin(response.url, h) for h in row.xpath(".//a/@href").getall()]
        agenda_url = f"{self.site}/AgendaCenter/ViewFile/Agenda/_{stamp}-{agenda_id}"
        packet = next((h for h in hrefs if "/ViewFile/Agenda/" in h and "packet=true" in h), None)
        minutes = next(
            (
                urljoin(response.url, h)
                for h in row.xpath("./td[@class='minutes']//a/@href").getall()
            ),
            None,
        )
        video = next(
            (
                urljoin(response.url, h)
                for h in row.xpath("./td[@class='videos']//a/@href").getall()
            ),
            None,
        )
        # The "Videos" column also carries webinar sign-up links for upcoming meetings.
        virtual = video if video and any(h in video for h in VIRTUAL_HOSTS) else None
        documents = [DocumentRef(url=agenda_url, kind="agenda", name=f"Agenda: {title}")]
        if packet:
            documents.append(DocumentRef(url=packet, kind="packet", name=f"Packet: {title}"))
        if minutes:
            documents.append(DocumentRef(url=minutes, kind="minutes", name=f"Minutes: {title}"))
        today = self.plan.now.astimezone(zone).date()
        if CANCELLED_RE.search(title):
            status = MeetingStatus.CANCELLED
        elif minutes or day < today:
            status = MeetingStatus.HELD
        else:
            status = MeetingStatus.SCHEDULED
        return ScrapedMeeting(
            platform=self.platform,
            platform_id=agenda_id,
            body_platform_id=cat_id,
            body_name=body or None,
            title=title or None,
            start=datetime.combine(day, time(0, 0), tzinfo=zone),
            time_text="",  # AgendaCenter publishes no meeting times: the date alone is known
            status=status,
            agenda_url=agenda_url,
            minutes_url=minutes,
            virtual_link=virtual,
            video_url=None if virtual else video,
            agenda_published_at=published.replace(tzinfo=zone) if published else None,
            source_url=f"{self.site}/AgendaCenter",
            platform_version="|".join(
                [posted.group(1) if posted else "", title, minutes or "", packet or ""]
            ),
            documents=tuple(documents),
        )
