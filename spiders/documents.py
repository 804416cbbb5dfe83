"""Councils that post agendas and minutes as files on ordinary pages.

Everything site-specific is in the registry entry's [documents] table: listing pages, the
links that lead to a meeting, to its agenda and to its minutes, the date pattern and the body.
A meeting's agenda (PDF, HTML or DOCX) becomes its numbered agenda items; its minutes give each
item's action and, through tracker.rollcall, the votes, with the registry's roster so that
"carried unanimously" names every member (marked inferred).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from bs4 import BeautifulSoup
from scrapy.http import Response

from tracker.agenda_text import NumberedItem, minutes_action, split_items
from tracker.extract import extract_text
from tracker.items import (
    DocumentRef,
    ScrapedAgenda,
    ScrapedAgendaItem,
    ScrapedDocument,
    ScrapedMeeting,
    ScrapedVote,
    ScrapedVoteEvent,
)
from tracker.models import MeetingStatus, VoteSource, VoteValue
from tracker.people import registry_id
from tracker.registry import DocumentsConfig
from tracker.rollcall import parse_rollcall
from tracker.spider import CrawlPlan, TrackerSpider

MONTHS = {
    month: number
    for number, month in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}
DATE_PATTERNS = (
    r"(?P<month>\d{1,2})[./-](?P<day>\d{1,2})[./-](?P<year>\d{4}|\d{2})\b",
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})",
    r"(?i)(?P<month>january|february|march|april|may|june|july|august|september|october"
    r"|november|december)\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})",
)
TIME_RE = re.compile(r"(?i)\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s*m\b\.?")


def find_date(text: str, pattern: str | None) -> date | None:
    for candidate in ((pattern,) if pattern else ()) + DATE_PATTERNS:
        for match in re.finditer(candidate, text):
            parts = match.groupdict()
            month = parts["month"].lower()
            try:
                year = int(parts["year"])
                return date(
                    year + 2000 if year < 100 else year,
                    MONTHS.get(month) or int(month),
                    int(parts["day"]),
                )
            except (KeyError, ValueError):
                continue
    return None


def find_time(text: str) -> time | None:
    match = TIME_RE.search(text)
    if not match:
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3).lower()
    if not 1 <= hour <= 12 or minute > 59:
        return None
    return time(hour % 12 + (12 if half == "p" else 0), minute)


class DocumentsSpider(TrackerSpider):
    platform = "documents"

    def __init__(self, plan: CrawlPlan, **kwargs: Any) -> None:
        super().__init__(plan, **kwargs)
        config = plan.entry.documents
        assert isinstance(config, DocumentsConfig)
        self.config = config
        self.body_id = registry_id(config.body)
        self.seen_meetings: set[str] = set()

    async def start(self) -> Any:
        for url in self.config.listing_urls:
            yield scrapy.Request(
                url,
                callback=self.parse_listing,
                errback=self.on_error,
                meta={"kind": "listing", "page": 1},
            )

    # -- listings --------------------------------------------------------------------------
    def parse_listing(self, response: Response) -> Iterator[Any]:
        links = self.links(response)
        if self.config.meeting_link:
            for _text, url in links:
                if re.search(self.config.meeting_link, url) and url not in self.seen_meetings:
                    self.seen_meetings.add(url)
                    yield scrapy.Request(
                        url,
                        callback=self.parse_meeting_page,
                        errback=self.on_error,
                        meta={"kind": "meeting"},
                    )
        else:
            yield from self.meeting_from_links(response.url, response.url, links)
        page = response.meta["page"]
        if page < self.config.max_listing_pages:
            for text, url in links:
                if re.search(self.config.next_link, text):
                    yield scrapy.Request(
                        url,
                        callback=self.parse_listing,
                        errback=self.on_error,
                        meta={"kind": "listing", "page": page + 1},
                    )
                    break

    def parse_meeting_page(self, response: Response) -> Iterator[Any]:
        soup = BeautifulSoup(response.text, "lxml")
        heading = soup.find("h1") or soup.find("title")
        title = " ".join(heading.get_text(" ").split()) if heading else ""
        yield from self.meeting_from_links(
            response.url, title, self.links(response), page_text=soup.get_text(" ")
        )

    def links(self, response: Response) -> list[tuple[str, str]]:
        soup = BeautifulSoup(response.text, "lxml")
        found = []
        for anchor in soup.find_all("a", href=True):
            href = str(anchor["href"]).strip()
            if href.startswith(("mailto:", "javascript:", "#")):
                continue
            found.append((" ".join(anchor.get_text(" ").split()), urljoin(response.url, href)))
        return found

    def meeting_from_links(
        self, page_url: str, title: str, links: list[tuple[str, str]], page_text: str = ""
    ) -> Iterator[Any]:
        config = self.config
        agenda = next((u for t, u in links if re.search(config.agenda_link, f"{t} {u}")), None)
        minutes = next((u for t, u in links if re.search(config.minutes_link, f"{t} {u}")), None)
        day = find_date(title, config.date_pattern) or find_date(page_url, config.date_pattern)
        if day is None and agenda:
            day = find_date(agenda, config.date_pattern)
        if day is None:
            self.problem("no_date/meeting", page_url, f"no meeting date in {title!r}")
            return
        at = find_time(page_text) or (
            find_time(config.default_time) if config.default_time else None
        )
        start = datetime.combine(day, at or time(0, 0), tzinfo=self.entry.zone)
        cancelled = bool(re.search(config.cancelled_pattern, title))
        status = (
            MeetingStatus.CANCELLED
            if cancelled
            else MeetingStatus.HELD
            if start < self.plan.now
            else MeetingStatus.SCHEDULED
        )
        # Fetched and parsed here, not by the documents middleware.
        documents = [
            DocumentRef(url=u, kind=k, name=f"{k.title()}: {title}", fetch=False)
            for u, k in ((agenda, "agenda"), (minutes, "minutes"))
            if u
        ]
        meeting = ScrapedMeeting(
            platform=self.platform,
            platform_id=urlsplit(page_url).path.rstrip("/") or page_url,
            body_platform_id=self.body_id,
            body_name=config.body,
            title=title or config.body,
            start=start,
            time_text=None if at else config.default_time,
            location=config.location,
            status=status,
            agenda_url=agenda,
            minutes_url=minutes,
            source_url=page_url,
            documents=tuple(documents),
        )
        yield meeting
        if agenda:
            yield scrapy.Request(
                agenda,
                callback=self.parse_agenda,
                errback=self.on_error,
                meta={"kind": "agenda", "meeting": meeting, "minutes": minutes},
            )

    # -- agenda and minutes ----------------------------------------------------------------
    def read(self, response: Response, kind: str) -> tuple[ScrapedDocument, str]:
        """The fetched file as a document item (so it is versioned and searchable) and its
        text for parsing here."""
        raw_type = response.headers.get(b"Content-Type")
        declared = raw_type.decode("latin-1") if raw_type else None
        ref: DocumentRef = next(d for d in response.meta["meeting"].documents if d.kind == kind)
        document = ScrapedDocument(
            url=response.url,
            kind=ref.kind,
            name=ref.name,
            status=response.status,
            body=response.body,
            declared_type=declared,
            retrieved_at=datetime.now(UTC),
            warc_record=response.meta.get("warc_record"),
        )
        extraction = extract_text(response.body, declared, response.url, ocr=False)
        if extraction.error:
            self.problem(f"unreadable/{kind}", response.url, extraction.error)
        return document, extraction.text

    def parse_agenda(self, response: Response) -> Iterator[Any]:
        meeting: ScrapedMeeting = response.meta["meeting"]
        document, text = self.read(response, "agenda")
        yield document
        numbered = split_items(text, self.config.item_pattern)
        if not numbered:
            self.problem("no_items/agenda", response.url, "no numbered items in the agenda")
            return
        minutes = response.meta.get("minutes")
        if minutes:
            yield scrapy.Request(
                minutes,
                callback=self.parse_minutes,
                errback=self.minutes_failed,
                meta={
                    "kind": "minutes",
                    "meeting": meeting,
                    "numbered": numbered,
                    "agenda_url": response.url,
                },
            )
        else:
            yield self.agenda(meeting, numbered, response.url, {})

    def minutes_failed(self, failure: Any) -> Iterator[Any]:
        self.on_error(failure)
        meta = failure.request.meta
        yield self.agenda(meta["meeting"], meta["numbered"], meta["agenda_url"], {})

    def parse_minutes(self, response: Response) -> Iterator[Any]:
        meeting: ScrapedMeeting = response.meta["meeting"]
        numbered: list[NumberedItem] = response.meta["numbered"]
        document, text = self.read(response, "minutes")
        yield document
        sections = {item.number: item.text for item in split_items(text, self.config.item_pattern)}
        actions = {number: minutes_action(section) for number, section in sections.items()}
        yield self.agenda(meeting, numbered, response.meta["agenda_url"], actions)
        roster = self.roster(meeting.start.date() if meeting.start else None)
        for item in numbered:
            section = sections.get(item.number)
            if not section:
                continue
            rollcall = parse_rollcall(section, roster or None)
            if not rollcall.votes:
                continue
            votes = tuple(
                ScrapedVote(
                    person_platform_id=None,
                    name=v.name,
                    raw_value=v.value,
                    value=VoteValue(v.value),
                    inferred=v.inferred,
                )
                for v in rollcall.votes
            )
            yield ScrapedVoteEvent(
                meeting_platform=self.platform,
                meeting_platform_id=meeting.platform_id,
                item_platform_id=self.item_id(meeting, item),
                platform_id=f"minutes:{item.number}",
                source=VoteSource.MINUTES,
                motion=_motion(section),
                action=actions.get(item.number),
                result=rollcall.result if rollcall.result in ("passed", "failed") else None,
                tally=_tally(votes),
                source_url=response.url,
                votes=votes,
            )

    def agenda(
        self,
        meeting: ScrapedMeeting,
        numbered: list[NumberedItem],
        agenda_url: str,
        actions: dict[str, str | None],
    ) -> ScrapedAgenda:
        items = tuple(
            ScrapedAgendaItem(
                platform_id=self.item_id(meeting, item),
                title=item.title,
                number=item.number,
                sequence=index,
                consent=item.consent,
                action=actions.get(item.number),
                source_url=agenda_url,
            )
            for index, item in enumerate(numbered, start=1)
        )
        return ScrapedAgenda(
            meeting_platform=self.platform,
            meeting_platform_id=meeting.platform_id,
            items=items,
            complete=True,
        )

    @staticmethod
    def item_id(meeting: ScrapedMeeting, item: NumberedItem) -> str:
        return f"{meeting.platform_id}#{item.number}"

    def roster(self, on: date | None) -> list[str]:
        for body in self.entry.bodies:
            if body.name == self.config.body:
                return [
                    m.name
                    for m in body.members
                    if on is None
                    or ((m.start is None or m.start <= on) and (m.end is None or m.end >= on))
                ]
        return []


def _tally(votes: tuple[ScrapedVote, ...]) -> str:
    yes = sum(v.value == VoteValue.YES for v in votes)
    return f"{yes}-{sum(v.value == VoteValue.NO for v in votes)}"


def _motion(section: str) -> str | None:
    """The sentence of the minutes that states the motion."""
    for sentence in re.split(r"(?<=[.;)])\s+(?=[A-Z])", " ".join(section.split())):
        if re.search(r"(?i)\b(?:motion|moved)\b", sentence):
            return sentence[:500]
    return None
