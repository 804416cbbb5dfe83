"""IQM2 / Granicus Meeting & Agenda Management spider (shared/reference/platforms.md section 8).

Requests: ``/Citizens/Calendar.aspx?From=M/D/YYYY&To=M/D/YYYY&View=List``, the list view of
every meeting group for the window (one page, ``div.MeetingRow`` per meeting; it says
"Displaying N meetings from A to B", which is how we know it loaded whole); then, for each
meeting, ``Detail_Meeting.aspx?ID=`` (the agenda outline, ``table#MeetingDetail``); then, for
each outline item of a past meeting that links a legislative file, ``Detail_LegiFile.aspx?ID=``
whose history lists the votes per meeting as "AYES: a, b" / "NAYS: c" rows (read as
CouncilDataProject's Atlanta scraper reads them; no Detail_LegiFile page has been recorded for
our tests, so that parser is checked only against a page written from that description).

Ids: meetings are the ``Detail_Meeting`` ID; an outline item is ``{meeting}:{file id}`` when it
links a legislative file, else ``{meeting}:{outline position}`` ("3" or "3.2": IQM2 gives
outline rows no ids of their own). Cancellations come from the platform: the row's
``MeetingCancelled`` marker or "Status: Cancelled" in its summary.

Not parsed: attachment text (declared as documents), speaker sign-ups, the RSS feed (the
calendar already says everything the feed does).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import scrapy
from parsel import Selector
from scrapy.http import Response

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
from tracker.parsing import clean_text
from tracker.registry import Iqm2Config
from tracker.spider import CrawlPlan, TrackerSpider
from tracker.votes import VoteNormalizer

SUMMARY_RE = re.compile(
    r"Displaying\s+(\d+)\s+meetings?\s+from\s+(\d{1,2}/\d{1,2}/\d{4})\s+to\s+(\d{1,2}/\d{1,2}/\d{4})",
    re.IGNORECASE,
)
DOC_KINDS: dict[str, DocumentKind] = {
    "agenda": "agenda",
    "agenda packet": "packet",
    "minutes": "minutes",
    "minutes packet": "packet",
}
# History rows that describe the action rather than a member's vote.
NON_VOTE_ROLES = {"result", "mover", "seconder", "second", "motion", "action", "moved by"}
PASSED_RE = re.compile(r"\b(?:adopted|approved|passed|accepted|carried|favorable)\b", re.I)
FAILED_RE = re.compile(r"\b(?:failed|denied|rejected|defeated)\b", re.I)


def query_id(url: str | None, name: str = "ID") -> str | None:
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values and values[0].isdigit() else None


def result_of(text: str | None) -> Literal["passed", "failed"] | None:
    if not text:
        return None
    if FAILED_RE.search(text):
        return "failed"
    return "passed" if PASSED_RE.search(text) else None


class Iqm2Spider(TrackerSpider):
    platform = "iqm2"

    def __init__(self, plan: CrawlPlan, **kwargs: Any) -> None:
        super().__init__(plan, **kwargs)
        config = plan.entry.iqm2
        assert isinstance(config, Iqm2Config)
        self.config = config
        self.normalizer = VoteNormalizer(explicit=plan.entry.votes)

    # -- listing ---------------------------------------------------------------------------
    async def start(self) -> Any:
        zone = self.entry.zone
        first = self.plan.window_start.astimezone(zone).date()
        last = (self.plan.window_end - timedelta(microseconds=1)).astimezone(zone).date()
        url = (
            f"{self.config.base_url}/Citizens/Calendar.aspx?From={first.month}/{first.day}/"
            f"{first.year}&To={last.month}/{last.day}/{last.year}&View=List"
        )
        yield scrapy.Request(
            url, callback=self.parse_calendar, errback=self.on_error, meta={"kind": "calendar"}
        )

    def parse_calendar(self, response: Response) -> Iterator[Any]:
        groups = {
            clean_text(text_of(o)): o.attrib.get("value", "")
            for o in response.css(
                "select.MeetingGroupDropdown option, #ContentPlaceholder1_DepartmentID option"
            )
        }
        rows = response.css("div.MeetingRow")
        complete = True
        seen: set[str] = set()
        for row in rows:
            try:
                meeting = self.meeting_from(row, response, groups)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                complete = False
                self.problem("bad_record/meeting", response.url, f"{type(exc).__name__}: {exc}")
                continue
            start = meeting.start
            if start is not None and not self.plan.window_start <= start < self.plan.window_end:
                continue
            if self.config.bodies and meeting.body_name not in self.config.bodies:
                continue
            if meeting.platform_id in seen:
                continue
            seen.add(meeting.platform_id)
            yield from self.body_of(meeting)
            yield meeting
            yield scrapy.Request(
                response.urljoin(f"/Citizens/Detail_Meeting.aspx?ID={meeting.platform_id}"),
                callback=self.parse_meeting,
                errback=self.on_error,
                meta={"kind": "meeting", "optional": True, "meeting": meeting},
            )
        listing = self.listing_window(response, len(rows))
        if complete and listing is not None and not self.config.bodies:
            yield MeetingListing(
                platform=self.platform,
                window_start=listing[0],
                window_end=listing[1],
                meeting_platform_ids=frozenset(seen),
            )

    def listing_window(self, response: Response, rows: int) -> tuple[datetime, datetime] | None:
        """The part of the plan's window that the page says it lists whole, if it does."""
        summary = SUMMARY_RE.search(
            text_of(response.css("#ContentPlaceholder1_lblFilterSummary")) or ""
        )
        if self.plan.mode != "full" or summary is None or int(summary.group(1)) != rows:
            return None
        if "all meeting groups" not in summary.string.lower():
            return None
        zone = self.entry.zone
        first = datetime.strptime(summary.group(2), "%m/%d/%Y").date()
        last = datetime.strptime(summary.group(3), "%m/%d/%Y").date()
        start = max(self.plan.window_start, datetime.combine(first, time(0), tzinfo=zone))
        end = min(
            self.plan.window_end,
            datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone),
        )
        return (start, end) if start < end else None

    def meeting_from(
        self, row: Selector, response: Response, groups: dict[str | None, str]
    ) -> ScrapedMeeting:
        link = row.css("div.RowLink a")
        href = link.attrib["href"]
        meeting_id = query_id(href)
        if meeting_id is None:
            raise ValueError(f"no meeting ID in {href!r}")
        when = " ".join((text_of(link) or "").split())
        start, time_text = self.start_from(when)
        summary = dict(self.summary_fields(link.attrib.get("title", "")))
        board = summary.get("board")
        details = text_of(row.css(".RowDetails"))
        title = details or " - ".join(filter(None, [board, summary.get("type")])) or None
        said = " ".join(
            filter(None, [summary.get("status"), text_of(row.css(".MeetingCancelled")), details])
        )
        documents: list[DocumentRef] = []
        video = None
        for a in row.css(".MeetingLinks a"):
            label = (text_of(a) or "").lower()
            if "HiddenDocumentLink" in (a.attrib.get("class") or ""):
                continue
            target = onclick_url(a.attrib.get("onclick")) or a.attrib.get("href") or ""
            if not target or target.startswith(("#", "javascript")):
                continue
            url = response.urljoin(target)
            if label == "video":
                video = url
            elif label in DOC_KINDS:
                documents.append(DocumentRef(url=url, kind=DOC_KINDS[label], name=text_of(a)))
        return ScrapedMeeting(
            platform=self.platform,
            platform_id=meeting_id,
            body_platform_id=(groups.get(board) or board) if board else None,
            body_name=board,
            title=title,
            start=start,
            time_text=time_text,
            location=summary.get("location"),
            status=meeting_status(said, start, self.plan.now),
            agenda_url=next((d.url for d in documents if d.kind == "agenda"), None),
            minutes_url=next((d.url for d in documents if d.kind == "minutes"), None),
            video_url=video,
            source_url=response.urljoin(href),
            documents=tuple(documents),
        )

    def start_from(self, when: str) -> tuple[datetime | None, str | None]:
        """ "Jan 4, 2023 9:00 AM": the date is the first three words."""
        words = when.split()
        if len(words) < 3:
            raise ValueError(f"unreadable meeting date {when!r}")
        return local_datetime(
            " ".join(words[:3]), " ".join(words[3:]) or None, ("%b %d, %Y",), self.entry.zone
        )

    @staticmethod
    def summary_fields(tooltip: str) -> Iterator[tuple[str, str]]:
        """The row's tooltip: "DAY, DATE TIME", "Board:\\tX", "Type:\\tY", "Status:\\tZ",
        then the location lines, each indented with a tab."""
        location: list[str] = []
        for line in re.split(r"[\r\n]+", tooltip):
            key, sep, value = line.partition(":\t")
            if sep and key.strip().lower() in ("board", "type", "status"):
                yield key.strip().lower(), " ".join(value.split())
            elif line.startswith("\t") and line.strip():
                location.append(" ".join(line.split()))
        if location:
            yield "location", "\n".join(location)

    # -- agenda outline --------------------------------------------------------------------
    def parse_meeting(self, response: Response) -> Iterator[Any]:
        meeting: ScrapedMeeting = response.meta["meeting"]
        table = response.css("table#MeetingDetail")
        if not table:
            return  # no outline published yet: nothing to list, nothing to remove
        items: list[ScrapedAgendaItem] = []
        files: dict[str, str] = {}  # item platform id -> legislative file id
        parents: list[tuple[str, str | None]] = []  # (outline position, section title)
        children = 0
        complete = True
        for row in table.xpath("./tr | ./tbody/tr"):
            cells = row.xpath("./td")
            num_at = next(
                (i for i, td in enumerate(cells) if "Num" in (td.attrib.get("class") or "")), None
            )
            title_cell = row.css("td.Title")
            title = text_of(title_cell)
            if num_at is None or not title:
                if cells and not title:
                    continue  # spacer rows
                complete = False
                self.problem("bad_record/outline", response.url, "an outline row without a title")
                continue
            number = (text_of(cells[num_at]) or "").rstrip(". ") or None
            if num_at == 0:
                position = number or str(len(parents) + 1)
                parents.append((position, title))
                children = 0
                section = None
            else:
                children += 1
                position = f"{parents[-1][0] if parents else '0'}.{children}"
                section = parents[-1][1] if parents else None
            file_link = title_cell.css("a[href*='Detail_LegiFile']")
            file_id = query_id(file_link.attrib.get("href")) if file_link else None
            item_id = f"{meeting.platform_id}:{file_id or position}"
            result_text = text_of(row.css(".ItemVoteResult"))
            attachments = tuple(
                DocumentRef(
                    url=response.urljoin(a.attrib["href"]), kind="attachment", name=text_of(a)
                )
                for a in title_cell.css("a[href*='FileOpen.aspx']")
            )
            items.append(
                ScrapedAgendaItem(
                    platform_id=item_id,
                    title=title,
                    matter_platform_id=file_id,
                    sequence=len(items) + 1,
                    number=number,
                    action=result_text,
                    result=result_of(result_text),
                    consent=bool(section and re.search(r"\bconsent\b", section, re.I)),
                    source_url=response.url,
                    documents=attachments,
                )
            )
            if file_id:
                files[item_id] = file_id
        for item in items:
            if item.matter_platform_id:
                yield ScrapedMatter(
                    platform_id=item.matter_platform_id,
                    title=item.title,
                    source_url=response.urljoin(
                        f"/Citizens/Detail_LegiFile.aspx?ID={item.matter_platform_id}"
                    ),
                    partial=True,
                )
        yield ScrapedAgenda(
            meeting_platform=self.platform,
            meeting_platform_id=meeting.platform_id,
            items=tuple(items),
            complete=complete,
        )
        if meeting.start is not None and meeting.start > self.plan.now:
            return  # nobody has voted on a meeting that has not happened
        for item in items:
            if item.platform_id in files:
                yield scrapy.Request(
                    response.urljoin(
                        f"/Citizens/Detail_LegiFile.aspx?ID={files[item.platform_id]}"
                    ),
                    callback=self.parse_legifile,
                    errback=self.on_error,
                    meta={"kind": "legifile", "optional": True, "meeting": meeting, "item": item},
                )

    # -- votes -----------------------------------------------------------------------------
    def parse_legifile(self, response: Response) -> Iterator[Any]:
        meeting: ScrapedMeeting = response.meta["meeting"]
        item: ScrapedAgendaItem = response.meta["item"]
        history = response.css("#ContentPlaceHolder1_divHistory, #ContentPlaceholder1_divHistory")
        for n, block in enumerate(history.xpath(".//table[.//td[contains(@class, 'Role')]]")):
            if block.xpath(".//table[.//td[contains(@class, 'Role')]]"):
                continue  # an outer table; its innermost vote table comes on its own
            header = block.xpath("ancestor::tr[1]/preceding-sibling::tr[1]")
            if not self.same_meeting(header, meeting):
                continue
            pairs: list[tuple[str, str, str | None]] = []
            motion = text_of(block.css(".Result"))
            for row in block.xpath(".//tr[td[contains(@class, 'Role')]]"):
                role = (text_of(row.css("td.Role")) or "").rstrip(": ").strip()
                names = text_of(row.xpath("./td[not(contains(@class, 'Role'))][1]")) or ""
                if role.lower() in NON_VOTE_ROLES:
                    motion = motion or names
                    continue
                pairs.extend((name, role, None) for name in names.split(",") if name.strip())
            votes = html_votes(pairs, self.normalizer, self.unknown_vote(response.url))
            if not votes:
                continue
            yield ScrapedVoteEvent(
                meeting_platform=self.platform,
                meeting_platform_id=meeting.platform_id,
                item_platform_id=item.platform_id,
                platform_id=f"legifile:{query_id(response.url)}:{meeting.platform_id}:{n}",
                source=VoteSource.HTML,
                motion=motion,
                action=motion,
                result=result_of(motion),
                source_url=response.url,
                votes=tuple(votes),
            )

    def same_meeting(self, header: Any, meeting: ScrapedMeeting) -> bool:
        """Is this history entry the one for ``meeting``? By its meeting link, else its date."""
        for href in header.css("a::attr(href)").getall():
            linked = query_id(href, "MeetingID") or (
                query_id(href) if "Detail_Meeting" in href else None
            )
            if linked:
                return linked == meeting.platform_id
        when = text_of(header.css(".Date")) or ""
        if meeting.start is None:
            return False
        start = meeting.start.astimezone(self.entry.zone)
        return when.startswith(f"{start:%b} {start.day}, {start.year}")

    def unknown_vote(self, url: str) -> Any:
        def report(raw: str) -> None:
            self.problem(
                "unknown_vote_value",
                url,
                f"{raw!r} is not in the registry's votes table; stored raw, not normalized",
            )

        return report
