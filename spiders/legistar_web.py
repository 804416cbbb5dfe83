"""Legistar InSite spider, for sites whose Web API is closed (shared/reference/platforms.md 2).

Requests: ``GET Calendar.aspx`` (the site's default view, often "This Month"), then for each
year of the window an ASP.NET postback to the same URL selecting that year
(``__EVENTTARGET=ctl00$ContentPlaceHolder1$lstYears``, the year in
``ctl00_ContentPlaceHolder1_lstYears_ClientState`` and the page's ``__VIEWSTATE`` /
``__EVENTVALIDATION``), and a further postback per grid page (``a.rgCurrentPage + a``). Each
meeting row leads to ``MeetingDetail.aspx`` (the agenda items grid); each item of a past
meeting with an "Action details" link leads to ``HistoryDetail.aspx``, whose vote grid
("Person Name", "Vote") and roll call grid ("Person Name", "Attendance") become vote events.
The detail and history grids are read as python-legistar-scraper reads them; no such page has
been recorded for our tests, so those parsers are checked only against pages written from it.

Ids: meetings are the Legistar EventId (``ID=`` of the meeting or iCal link, the same number
the Web API uses); agenda items are ``{meeting}:{matter id}`` (``{meeting}:#{row}`` for items
without a legislative file: InSite shows no item ids); people are their PersonDetail ``ID``.
Only the year listings that load whole, every page, make a ``MeetingListing``; the default
page alone never does (its range is whatever the site chose). A year that cannot be selected
(404) is unavailable, not a failure: the default page's meetings still count.

Not parsed: ``View.ashx`` agendas and minutes (documents), LegislationDetail full text,
People.aspx (members are the voters the vote grids name).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import scrapy
from parsel import Selector
from scrapy.http import FormRequest, Response

from spiders.pages import html_votes, local_datetime, meeting_status, onclick_url, text_of
from tracker.items import (
    DocumentKind,
    DocumentRef,
    MeetingListing,
    ScrapedAgenda,
    ScrapedAgendaItem,
    ScrapedMatter,
    ScrapedMeeting,
    ScrapedVoteEvent,
)
from tracker.models import VoteSource
from tracker.registry import LegistarWebConfig
from tracker.spider import CrawlPlan, TrackerSpider
from tracker.votes import VoteNormalizer

CALENDAR_GRID = "table#ctl00_ContentPlaceHolder1_gridCalendar_ctl00"
ITEMS_GRID = "table#ctl00_ContentPlaceHolder1_gridMain_ctl00"
VOTE_GRID = "table#ctl00_ContentPlaceHolder1_gridVote_ctl00"
ROLL_CALL_GRID = "table#ctl00_ContentPlaceHolder1_gridRollCall_ctl00"
YEARS_TARGET = "ctl00$ContentPlaceHolder1$lstYears"
MAX_PAGES = 100  # of a year's calendar; a site that keeps answering "next" is broken
POSTBACK_RE = re.compile(r"__doPostBack\('([^']+)'")
BOILERPLATE_TOPIC = re.compile(r"please see meeting details", re.IGNORECASE)
DOC_KINDS: dict[str, DocumentKind] = {
    "agenda": "agenda",
    "minutes": "minutes",
    "summary": "minutes",
    "notice": "attachment",
    "agenda packet": "packet",
}
RESULTS: dict[str, Literal["passed", "failed"]] = {
    "pass": "passed",
    "passed": "passed",
    "adopted": "passed",
    "approved": "passed",
    "fail": "failed",
    "failed": "failed",
}


def param(url: str | None, name: str = "ID") -> str | None:
    if not url:
        return None
    for key, values in parse_qs(urlsplit(url).query).items():
        if key.lower() == name.lower() and values:
            return values[0]
    return None


def link_address(cell: Selector) -> str | None:
    """A cell's link: an href, or the first quoted argument of its onclick handler."""
    for a in cell.css("a"):
        handler = onclick_url(a.attrib.get("onclick"))
        href = a.attrib.get("href")
        if handler:
            return handler
        if href and not href.startswith(("#", "javascript")):
            return href
    return None


def grid_rows(table: Selector) -> Iterator[dict[str, Selector]]:
    """Rows of a Telerik RadGrid keyed by header text (or the header's input value or image
    alt text, which some columns use instead)."""
    keys = []
    for th in table.xpath("./thead/tr/th[contains(@class, 'rgHeader')]"):
        keys.append(
            text_of(th)
            or th.css("input::attr(value)").get()
            or th.css("img::attr(alt)").get()
            or ""
        )
    for row in table.xpath("./tbody/tr[contains(@class, 'rgRow') or contains(@class, 'rgAltRow')]"):
        yield dict(zip(keys, row.xpath("./td"), strict=False))


def secrets(response: Response) -> dict[str, str]:
    """The form fields a postback must send back (python-legistar-scraper's sessionSecrets)."""
    fields = {"__EVENTARGUMENT": ""}
    for name in ("__VIEWSTATE", "__VIEWSTATEGENERATOR", "__EVENTVALIDATION"):
        value = response.css(f"input[name='{name}']::attr(value)").get()
        if value is not None:
            fields[name] = value
    return fields


class LegistarWebSpider(TrackerSpider):
    platform = "legistar_web"

    def __init__(self, plan: CrawlPlan, **kwargs: Any) -> None:
        super().__init__(plan, **kwargs)
        config = plan.entry.legistar_web
        assert isinstance(config, LegistarWebConfig)
        self.config = config
        self.calendar = f"{config.base_url}/Calendar.aspx"
        self.normalizer = VoteNormalizer(explicit=plan.entry.votes)
        zone = plan.entry.zone
        first, last = plan.window_start.astimezone(zone), plan.window_end.astimezone(zone)
        self.years = list(range(first.year, last.year + 1))
        self.years_left = set(self.years)
        self.listing_ok = True
        self.listed: set[str] = set()  # meetings seen on the year listings
        self.meetings_seen: set[str] = set()

    # -- listing ---------------------------------------------------------------------------
    async def start(self) -> Any:
        yield scrapy.Request(
            self.calendar,
            callback=self.parse_calendar,
            errback=self.on_error,
            meta={"kind": "calendar"},
        )

    def postback(self, response: Response, fields: Mapping[str, str], **meta: Any) -> FormRequest:
        return FormRequest(
            self.calendar,
            formdata={**secrets(response), **fields},
            callback=self.parse_calendar,
            errback=self.on_error,
            dont_filter=True,
            meta=meta,
        )

    def parse_calendar(self, response: Response) -> Iterator[Any]:
        year: int | None = response.meta.get("year")
        ok = self.page_ok(response)
        if ok:
            selected = response.css("#ctl00_ContentPlaceHolder1_lstYears_Input::attr(value)").get()
            if year is not None and (selected or "").strip() != str(year):
                # Legistar intermittently ignores the selection (python-legistar-scraper).
                self.problem("year_ignored/calendar", response.url, f"asked {year}, got {selected}")
                ok = False
        if ok:
            yield from self.meetings(response, listed=year is not None)
        if year is None:
            for wanted in self.years:
                fields = {
                    "__EVENTTARGET": YEARS_TARGET,
                    "ctl00_ContentPlaceHolder1_lstYears_ClientState": json.dumps(
                        {"value": str(wanted)}, separators=(",", ":")
                    ),
                }
                yield self.postback(
                    response, fields, kind="calendar_year", optional=True, year=wanted, page=1
                )
            return
        if not ok:
            self.listing_ok = False
            return
        following = response.xpath("//a[contains(@class, 'rgCurrentPage')]/following-sibling::a[1]")
        target = POSTBACK_RE.search(following.attrib.get("href", "")) if following else None
        if target and response.meta["page"] >= MAX_PAGES:
            self.problem("too_many_pages/calendar", response.url, f"{year}: over {MAX_PAGES}")
            self.listing_ok = False
            return
        if target:
            page = response.meta["page"] + 1
            fields = {
                "__EVENTTARGET": target.group(1),
                "ctl00_ContentPlaceHolder1_lstYears_ClientState": json.dumps(
                    {"value": str(year)}, separators=(",", ":")
                ),
            }
            yield self.postback(response, fields, kind="calendar_page", year=year, page=page)
            return
        self.years_left.discard(year)
        if not self.years_left and self.listing_ok and self.plan.mode == "full":
            yield MeetingListing(
                platform=self.platform,
                window_start=self.plan.window_start,
                window_end=self.plan.window_end,
                meeting_platform_ids=frozenset(self.listed),
            )

    def page_ok(self, response: Response) -> bool:
        if urlsplit(response.url).path.lower().endswith("/error.aspx"):
            self.problem("error_page/calendar", response.url, "redirected to Error.aspx")
            return False
        if not response.css(CALENDAR_GRID):
            self.problem("bad_page/calendar", response.url, "no calendar grid on the page")
            return False
        return True

    def after_error(self, request: scrapy.Request) -> Any:
        if request.meta.get("kind", "").startswith("calendar_"):
            self.listing_ok = False
        return None

    def meetings(self, response: Response, *, listed: bool) -> Iterator[Any]:
        for cells in grid_rows(response.css(CALENDAR_GRID)[0]):
            try:
                meeting = self.meeting_from(cells, response)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                self.listing_ok = self.listing_ok and not listed
                self.problem("bad_record/meeting", response.url, f"{type(exc).__name__}: {exc}")
                continue
            start = meeting.start
            if start is not None and not self.plan.window_start <= start < self.plan.window_end:
                continue
            if self.config.bodies and meeting.body_name not in self.config.bodies:
                continue
            if listed:
                self.listed.add(meeting.platform_id)
            if meeting.platform_id in self.meetings_seen:
                continue  # rows shift between pages, and the default page repeats a year's
            self.meetings_seen.add(meeting.platform_id)
            yield from self.body_of(meeting)
            yield meeting
            if meeting.source_url and "MeetingDetail.aspx" in meeting.source_url:
                yield scrapy.Request(
                    meeting.source_url,
                    callback=self.parse_meeting,
                    errback=self.on_error,
                    meta={"kind": "meeting", "optional": True, "meeting": meeting},
                )

    def meeting_from(self, cells: Mapping[str, Selector], response: Response) -> ScrapedMeeting:
        texts = {k.lower(): text_of(v) or "" for k, v in cells.items()}
        links = {k.lower(): link_address(v) for k, v in cells.items()}
        detail = links.get("meeting details")
        ical = next((u for u in links.values() if u and "M=IC" in u), None)
        meeting_id = param(detail) or param(ical)
        if not meeting_id:
            raise ValueError("a meeting row without a meeting or iCalendar link")
        name = texts["name"]
        body_link = links.get("name")
        body_id = param(body_link) if body_link and "DepartmentDetail" in body_link else None
        time_text = texts.get("meeting time") or None
        start, unread = local_datetime(
            texts["meeting date"], time_text, ("%m/%d/%Y",), self.entry.zone
        )
        location = texts.get("meeting location") or None
        topic = next((t for k, t in texts.items() if "topic" in k), "")
        title = f"{name} ({topic})" if topic and not BOILERPLATE_TOPIC.search(topic) else name
        documents: list[DocumentRef] = []
        video = None
        for key, url in links.items():
            if not url:
                continue
            absolute = response.urljoin(url)
            if key in ("multimedia", "video"):
                video = absolute
            elif key in DOC_KINDS:
                documents.append(
                    DocumentRef(url=absolute, kind=DOC_KINDS[key], name=f"{key.title()}: {name}")
                )
        said = " ".join([time_text or "", name, location or ""])
        return ScrapedMeeting(
            platform=self.platform,
            platform_id=meeting_id,
            body_platform_id=body_id or name,
            body_name=name,
            title=title,
            start=start,
            time_text=unread,
            location=location,
            status=meeting_status(said, start, self.plan.now),
            agenda_url=next((d.url for d in documents if d.kind == "agenda"), None),
            minutes_url=next((d.url for d in documents if d.kind == "minutes"), None),
            video_url=video,
            # Meetings "not viewable by the public" have no detail page: the calendar says it.
            source_url=response.urljoin(detail) if detail else self.calendar,
            documents=tuple(documents),
        )

    # -- agenda items ----------------------------------------------------------------------
    def parse_meeting(self, response: Response) -> Iterator[Any]:
        meeting: ScrapedMeeting = response.meta["meeting"]
        grid = response.css(ITEMS_GRID)
        if not grid:
            return  # no agenda yet: nothing listed, nothing removed
        # A paged grid shows only its first page here: never enough to remove items.
        complete = not grid.css(".rgPager a.rgCurrentPage + a")
        items: list[ScrapedAgendaItem] = []
        history: dict[str, str] = {}
        for n, cells in enumerate(grid_rows(grid[0]), start=1):
            texts = {k.lower(): text_of(v) or "" for k, v in cells.items()}
            links = {k.lower(): link_address(v) for k, v in cells.items()}
            title = texts.get("title") or texts.get("name")
            if not title:
                continue
            matter_link = links.get("file #")
            matter_id = param(matter_link) if matter_link else None
            result = texts.get("result", "").lower()
            item = ScrapedAgendaItem(
                platform_id=f"{meeting.platform_id}:{matter_id or f'#{n}'}",
                title=title,
                matter_platform_id=matter_id,
                sequence=n,
                number=texts.get("agenda #") or None,
                action=texts.get("action") or None,
                result=RESULTS.get(result),
                source_url=response.url,
            )
            items.append(item)
            if matter_id:
                yield ScrapedMatter(
                    platform_id=matter_id,
                    file_number=texts.get("file #") or None,
                    title=title,
                    type=texts.get("type") or None,
                    source_url=response.urljoin(matter_link) if matter_link else None,
                    partial=True,
                )
            details = links.get("action details")
            if details and "HistoryDetail" in details:
                history[item.platform_id] = response.urljoin(details)
        yield ScrapedAgenda(
            meeting_platform=self.platform,
            meeting_platform_id=meeting.platform_id,
            items=tuple(items),
            complete=complete,
        )
        if meeting.start is not None and meeting.start > self.plan.now:
            return
        for item in items:
            if item.platform_id in history:
                yield scrapy.Request(
                    history[item.platform_id],
                    callback=self.parse_history,
                    errback=self.on_error,
                    meta={"kind": "history", "optional": True, "meeting": meeting, "item": item},
                )

    # -- votes -----------------------------------------------------------------------------
    def parse_history(self, response: Response) -> Iterator[Any]:
        meeting: ScrapedMeeting = response.meta["meeting"]
        item: ScrapedAgendaItem = response.meta["item"]
        history_id = param(response.url) or item.platform_id
        for grid, column, kind in (
            (VOTE_GRID, "vote", "votes"),
            (ROLL_CALL_GRID, "attendance", "rollcalls"),
        ):
            table = response.css(grid)
            if not table:
                continue
            rows = []
            for cells in grid_rows(table[0]):
                named = {k.lower(): v for k, v in cells.items()}
                person = named.get("person name")
                if person is None or column not in named:
                    continue
                person_link = link_address(person)
                rows.append(
                    (
                        text_of(person) or "",
                        text_of(named[column]) or "",
                        param(person_link) if person_link else None,
                    )
                )
            votes = html_votes(rows, self.normalizer, self.unknown_vote(response.url))
            if not votes:
                continue
            yield ScrapedVoteEvent(
                meeting_platform=self.platform,
                meeting_platform_id=meeting.platform_id,
                item_platform_id=item.platform_id,
                platform_id=f"{kind}:{history_id}",
                source=VoteSource.HTML,
                motion=item.action if kind == "votes" else "Roll call",
                action=item.action if kind == "votes" else None,
                result=item.result if kind == "votes" else None,
                source_url=response.url,
                votes=tuple(votes),
            )

    def unknown_vote(self, url: str) -> Any:
        def report(raw: str) -> None:
            self.problem(
                "unknown_vote_value",
                url,
                f"{raw!r} is not in the registry's votes table; stored raw, not normalized",
            )

        return report
