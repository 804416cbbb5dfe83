"""PrimeGov public portal spider (protocol and quirks: shared/reference/platforms.md section 4).

Requests: ``ListArchivedMeetings?year=`` for each local year of the window up to today, and
``ListUpcomingMeetings`` (optional: a tenant without it, or a recording without it, answers
404). Each meeting row carries its compiled documents; agenda items live in the HTML agenda
document, which is a document, not a listing, so it is declared and not parsed here. Rows name
no body, so the registry's ``bodies`` keep the meetings whose title contains one of them.

Times: ``dateTime`` is the meeting's local wall time without a zone (some tenants leave it ""
and fill ``date``/``time`` instead). ``documentList[].publishDate`` is UTC: across the Clayton
County recording every stamp falls between 12:20 and 22:19, which is 8 AM to 5 PM in Georgia
only if read as UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time
from typing import Any

import scrapy
from scrapy.http import Response

from tracker.items import DocumentKind, DocumentRef, ScrapedMeeting
from tracker.models import MeetingStatus
from tracker.parsing import clean_text, parse_naive, parse_time
from tracker.registry import PrimeGovConfig
from tracker.spider import BAD_BODY, CrawlPlan, TrackerSpider

API = "/api/v2/PublicPortal"
CANCELLED_RE = re.compile(r"\bcancel", re.IGNORECASE)
HTML_OUTPUT = 3  # compileOutputType: 1 PDF, 3 HTML; other values are other renderings
DATE_FORMATS = ("%b %d, %Y", "%m/%d/%Y", "%B %d, %Y")


def parse_day(value: Any) -> date | None:
    text = clean_text(value)
    if not text:
        return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def document_kind(template: str) -> DocumentKind:
    name = template.lower()
    if "minutes" in name or "journal" in name:
        return "minutes"
    if "packet" in name:
        return "packet"
    if "agenda" in name:
        return "agenda"
    return "attachment"


class PrimeGovSpider(TrackerSpider):
    platform = "primegov"

    def __init__(self, plan: CrawlPlan, **kwargs: Any) -> None:
        super().__init__(plan, **kwargs)
        config = plan.entry.primegov
        assert isinstance(config, PrimeGovConfig)
        self.config = config
        self.site = config.base_url
        self.bodies = {b.casefold() for b in config.bodies}
        self.upcoming_loaded = False

    # -- requests --------------------------------------------------------------------------
    def request(self, path: str, kind: str, *, optional: bool = False) -> scrapy.Request:
        return self.listing_page(
            scrapy.Request(
                f"{self.site}{API}/{path}",
                callback=self.parse_listing,
                errback=self.on_error,
                headers={"Accept": "application/json"},
                meta={"kind": kind, "optional": optional},
            )
        )

    def years(self) -> range:
        zone = self.entry.zone
        first = self.plan.window_start.astimezone(zone).year
        last = min(self.plan.window_end, self.plan.now).astimezone(zone).year
        return range(first, max(first, last) + 1)

    async def start(self) -> Any:
        # Every listing request is made (and counted as pending) before the first answer.
        requests = [
            self.request(f"ListArchivedMeetings?year={year}", "archived") for year in self.years()
        ]
        requests.append(self.request("ListUpcomingMeetings", "upcoming", optional=True))
        for request in requests:
            yield request

    def after_error(self, request: scrapy.Request) -> Any:
        # The upcoming list is optional; without it the listing stops at now (finish_listing).
        self.listing_arrived(request, whole=request.meta.get("kind") != "archived")
        return self.finish_listing()

    # -- listing ---------------------------------------------------------------------------
    def parse_listing(self, response: Response) -> Iterator[Any]:
        kind = response.meta["kind"]
        data = self.load_json(response, list)
        self.listing_arrived(response, whole=data is not BAD_BODY or kind != "archived")
        if data is BAD_BODY:
            yield from self.finish_listing()
            return
        if kind == "upcoming":
            self.upcoming_loaded = True
        for row in data:
            try:
                meeting = self.meeting_from(row)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.listing_complete = False
                self.problem("bad_record/meeting", response.url, f"{type(exc).__name__}: {exc}")
                continue
            if meeting is None or meeting.platform_id in self.listed_ids:
                continue  # the same meeting is listed as upcoming and archived
            self.listed_ids.add(meeting.platform_id)
            yield meeting
        yield from self.finish_listing()

    def finish_listing(self) -> Iterator[Any]:
        # Archived years are complete up to now; later meetings may be listed only as
        # upcoming, so without that list nothing after now may be judged missing.
        end = None if self.upcoming_loaded else min(self.plan.window_end, self.plan.now)
        return self.listing_done(end)

    def start_of(self, row: Mapping[str, Any]) -> tuple[datetime | None, str | None]:
        zone = self.entry.zone
        local = parse_naive(row.get("dateTime"))
        if local is not None:
            return local.replace(tzinfo=zone), None
        day = parse_day(row.get("date"))
        time_text = clean_text(row.get("time"))
        at = parse_time(time_text)
        if day is None:
            return None, " ".join(filter(None, [clean_text(row.get("date")), time_text])) or None
        return datetime.combine(day, at or time(0, 0), tzinfo=zone), None if at else time_text

    def meeting_from(self, row: Mapping[str, Any]) -> ScrapedMeeting | None:
        title = clean_text(row.get("title"))
        if self.bodies and not any(b in (title or "").casefold() for b in self.bodies):
            return None
        start, time_text = self.start_of(row)
        rows = [d for d in row.get("documentList") or [] if isinstance(d, dict)]
        documents: dict[str, DocumentRef] = {}
        published: dict[str, list[datetime]] = {"agenda": [], "minutes": []}
        for doc in rows:
            template = clean_text(doc.get("templateName")) or "Document"
            url = self.document_url(doc["templateId"], doc.get("compileOutputType"))
            kind = document_kind(template)
            documents.setdefault(url, DocumentRef(url=url, kind=kind, name=template))
            stamp = parse_naive(doc.get("publishDate"))
            if kind in published and stamp is not None:
                published[kind].append(stamp.replace(tzinfo=UTC))
        templates = [d.name or "" for d in documents.values()]
        if any(CANCELLED_RE.search(t) for t in [title or "", *templates]):
            status = MeetingStatus.CANCELLED
        elif start is not None and start < self.plan.now:
            # meetingState is no guide: the recording has a "completed" (3) meeting two days
            # ahead and "scheduled" (1) ones weeks past. A past meeting nobody cancelled was held.
            status = MeetingStatus.HELD
        else:
            status = MeetingStatus.SCHEDULED
        video = clean_text(row.get("videoUrl"))
        if video and video.startswith("//"):
            video = f"https:{video}"
        version = "|".join(
            [str(row.get("dateTime") or ""), title or ""]
            + [f"{d.get('id')}@{d.get('publishDate')}" for d in rows]
        )
        return ScrapedMeeting(
            platform=self.platform,
            platform_id=str(row["id"]),
            title=title,
            start=start,
            time_text=time_text,
            virtual_link=clean_text(row.get("zoomMeetingLink")),
            status=status,
            agenda_url=self.of_record(documents.values(), "agenda"),
            minutes_url=self.of_record(documents.values(), "minutes"),
            video_url=video,
            agenda_published_at=max(published["agenda"], default=None),
            minutes_published_at=max(published["minutes"], default=None),
            source_url=f"{self.site}/public/portal",
            platform_version=version,
            documents=tuple(documents.values()),
        )

    def document_url(self, template_id: Any, output: Any) -> str:
        if output == HTML_OUTPUT:
            return f"{self.site}/Portal/Meeting?meetingTemplateId={template_id}"
        return (
            f"{self.site}/Public/CompiledDocument?meetingTemplateId={template_id}"
            f"&compileOutputType={output}"
        )

    def of_record(self, documents: Iterable[DocumentRef], kind: str) -> str | None:
        """The agenda or minutes of record: the plain template ("Minutes", not "Summary
        Minutes") before the others, a compiled file before its HTML rendering."""
        candidates = [d for d in documents if d.kind == kind]
        plain = {"agenda", "minutes", "journal"}
        candidates.sort(
            key=lambda d: (
                "/Portal/" in d.url,
                (d.name or "").casefold() not in plain,
            )
        )
        return candidates[0].url if candidates else None
