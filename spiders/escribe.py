"""eSCRIBE spider (protocol and quirks: shared/reference/platforms.md section 9).

One request: ``POST /MeetingsCalendarView.aspx/GetCalendarMeetings`` with a JSON body
``{"calendarStartDate", "calendarEndDate"}`` answers ``{"d": [meeting, ...]}`` for the window.
Each meeting has a GUID ``ID`` (its platform id), ``MeetingName``/``MeetingType``, a
``StartDate`` as ``/Date(ms)/`` (UTC epoch milliseconds) or ``YYYY/MM/DD HH:MM:SS`` (local wall
time), a ``Location`` and ``Description`` (HTML), and ``MeetingDocumentLink`` entries (agenda,
cover page, post-meeting agenda, minutes, video; PDF and HTML).

Not parsed here: the agenda items of ``Meeting.aspx?Id=...&Agenda=...`` (declared as an agenda
document, so the documents pipeline keeps its text) and minutes outcomes ("Approved 9-0"),
which are minutes text. eSCRIBE publishes no per-member votes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

from scrapy.http import JsonRequest, Response

from spiders.pages import meeting_status
from tracker.items import DocumentKind, DocumentRef, MeetingListing, ScrapedMeeting
from tracker.parsing import clean_text, virtual_link
from tracker.registry import EscribeConfig
from tracker.spider import BAD_BODY, CrawlPlan, TrackerSpider

LISTING_PATH = "/MeetingsCalendarView.aspx/GetCalendarMeetings"
EPOCH_RE = re.compile(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/")
TAG_RE = re.compile(r"<br\s*/?>|</p>", re.IGNORECASE)
TAG_RE_ANY = re.compile(r"<[^>]+>")
# MeetingDocumentLink Type -> document kind; Video links become the meeting's video_url.
DOC_KINDS: dict[str, DocumentKind] = {
    "agenda": "agenda",
    "agendacover": "agenda",
    "postagenda": "agenda",
    "merged": "packet",
    "agendapackage": "packet",
    "minutes": "minutes",
    "postminutes": "minutes",
}


def html_text(value: Any) -> str | None:
    """Text of a short HTML field: line breaks kept, tags dropped, entities decoded."""
    if not isinstance(value, str):
        return None
    return clean_text(html.unescape(TAG_RE_ANY.sub("", TAG_RE.sub("\n", value))))


def parse_start(value: Any, zone: Any) -> datetime | None:
    """Both StartDate forms: "/Date(ms)/" is an instant, "YYYY/MM/DD HH:MM:SS" local time."""
    if not isinstance(value, str) or not value.strip():
        return None
    epoch = EPOCH_RE.fullmatch(value.strip())
    if epoch:
        return datetime.fromtimestamp(int(epoch.group(1)) / 1000, tz=UTC).astimezone(zone)
    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    raise ValueError(f"unreadable StartDate {value!r}")


class EscribeSpider(TrackerSpider):
    platform = "escribe"

    def __init__(self, plan: CrawlPlan, **kwargs: Any) -> None:
        super().__init__(plan, **kwargs)
        config = plan.entry.escribe
        assert isinstance(config, EscribeConfig)
        self.config = config
        self.site = config.base_url + "/"

    async def start(self) -> Any:
        yield self.listing_request()

    def listing_request(self) -> JsonRequest:
        zone = self.entry.zone
        first = self.plan.window_start.astimezone(zone).date()
        # One day past the window's last day, whether the platform's end date is inclusive
        # or not: the listing then covers the whole window.
        last = self.plan.window_end.astimezone(zone).date() + timedelta(days=1)
        return JsonRequest(
            self.config.base_url + LISTING_PATH,
            data={
                "calendarStartDate": f"{first:%Y-%m-%d}T00:00:00",
                "calendarEndDate": f"{last:%Y-%m-%d}T00:00:00",
            },
            headers={"X-Requested-With": "XMLHttpRequest"},
            callback=self.parse_listing,
            errback=self.on_error,
            meta={"kind": "listing"},
        )

    def parse_listing(self, response: Response) -> Iterator[Any]:
        data = self.load_json(response, dict)
        if data is BAD_BODY or not isinstance(data.get("d"), list):
            if data is not BAD_BODY:
                self.problem("bad_json/listing", response.url, 'no "d" list in the answer')
            return
        complete = True
        seen: set[str] = set()
        for row in data["d"]:
            try:
                meeting = self.meeting_from(row)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                complete = False
                self.problem("bad_record/meeting", response.url, f"{type(exc).__name__}: {exc}")
                continue
            if meeting is None or meeting.platform_id in seen:
                continue
            seen.add(meeting.platform_id)
            yield from self.body_of(meeting)
            yield meeting
        if complete and self.plan.mode == "full" and not self.config.bodies:
            yield MeetingListing(
                platform=self.platform,
                window_start=self.plan.window_start,
                window_end=self.plan.window_end,
                meeting_platform_ids=frozenset(seen),
            )

    def meeting_from(self, row: Mapping[str, Any]) -> ScrapedMeeting | None:
        meeting_id = clean_text(row["ID"])
        if not meeting_id:
            raise ValueError("a meeting without an ID")
        body = clean_text(row.get("MeetingType")) or clean_text(row.get("MeetingName"))
        if self.config.bodies and body not in self.config.bodies:
            return None
        start = parse_start(row.get("StartDate"), self.entry.zone)
        if start is not None and not self.plan.window_start <= start < self.plan.window_end:
            return None  # the listing asks for whole days around the window
        title = clean_text(row.get("MeetingName")) or body
        description = html_text(row.get("Description"))
        documents: dict[str, DocumentRef] = {}
        preferred: dict[str, tuple[int, str]] = {}  # kind -> (rank, url): the PDF agenda first
        video = None
        for link in row.get("MeetingDocumentLink") or []:
            url = clean_text(link.get("Url"))
            if not url or url.startswith("<"):
                continue
            url = urljoin(self.site, url)
            doc_type = str(link.get("Type") or "").replace(" ", "").lower()
            is_pdf = str(link.get("Format") or "").lower() == ".pdf"
            if doc_type == "video" or str(link.get("Format") or "").lower() == "video":
                video = video or url
                continue
            kind = DOC_KINDS.get(doc_type, "attachment")
            documents.setdefault(url, DocumentRef(url=url, kind=kind, name=link.get("Title")))
            rank = (0 if doc_type in ("agenda", "minutes") else 2) + (0 if is_pdf else 1)
            if kind not in preferred or rank < preferred[kind][0]:
                preferred[kind] = (rank, url)
        said = " ".join(filter(None, [title, description]))
        return ScrapedMeeting(
            platform=self.platform,
            platform_id=meeting_id,
            body_platform_id=body,
            body_name=body,
            title=title,
            start=start,
            location=description or clean_text(row.get("Location")),
            virtual_link=virtual_link(description),
            status=meeting_status(said, start, self.plan.now),
            agenda_url=preferred["agenda"][1] if "agenda" in preferred else None,
            minutes_url=preferred["minutes"][1] if "minutes" in preferred else None,
            video_url=video,
            source_url=urljoin(self.site, clean_text(row.get("Url")) or ""),
            documents=tuple(documents.values()),
        )
