"""CivicClerk OData API spider (protocol and quirks: shared/reference/platforms.md section 5.1).

Requests: ``/v1/Events`` filtered to the window (and the registry's categories), following
``@odata.nextLink`` verbatim; then ``/v1/Meetings/{agendaId}`` for each event with a published
agenda, with the portal as Origin and Referer (optional: the API answers 404 for agendas it
does not show). The item tree gives agenda items, their attachments and the clerk's recorded
motions, whose yes/no/abstain name lists become votes.

Times: ``startDateTime`` and ``publishOn`` end in "Z" but are the local wall time. Tulsa
County's board meets Mondays at 9:30 AM and is listed at "09:30:00Z"; South Fulton's portal
prints "Agenda Posted on April 9, 2026 12:22 PM" for a ``publishOn`` of "12:22:47.71Z"; other
implementers strip the Z for the same reason. ``times_are_utc`` in the registry reverses this
for a tenant that sends real UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from typing import Any, Literal
from urllib.parse import quote, urlencode, urljoin, urlsplit

import scrapy
from scrapy.http import Response

from tracker.items import (
    DocumentKind,
    DocumentRef,
    MeetingListing,
    ScrapedAgenda,
    ScrapedAgendaItem,
    ScrapedMeeting,
    ScrapedVote,
    ScrapedVoteEvent,
)
from tracker.models import MeetingStatus, VoteSource
from tracker.parsing import clean_text
from tracker.registry import CivicClerkConfig
from tracker.spider import BAD_BODY, CrawlPlan, TrackerSpider
from tracker.votes import VoteNormalizer

CANCELLED_RE = re.compile(r"\bcancel", re.IGNORECASE)
TAG_RE = re.compile(r"<[^>]+>")
PLACEHOLDER = "select meeting files"  # an empty agenda shell (platforms.md 5.1)
FILE_KINDS: dict[str, DocumentKind] = {
    "agenda": "agenda",
    "agenda packet": "packet",
    "minutes": "minutes",
}
PASS_FAIL: dict[int, Literal["passed", "failed"]] = {1: "passed", 0: "failed"}


@dataclass
class _Agenda:
    """What a walk over one meeting's item tree found."""

    url: str
    meeting: ScrapedMeeting
    items: list[ScrapedAgendaItem] = field(default_factory=list)
    events: list[ScrapedVoteEvent] = field(default_factory=list)
    complete: bool = True


def strip_html(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return clean_text(unescape(TAG_RE.sub(" ", value)))


class CivicClerkSpider(TrackerSpider):
    platform = "civicclerk"

    def __init__(self, plan: CrawlPlan, **kwargs: Any) -> None:
        super().__init__(plan, **kwargs)
        config = plan.entry.civicclerk
        assert isinstance(config, CivicClerkConfig)
        self.config = config
        self.api = config.base_url if config.base_url.endswith("/v1") else f"{config.base_url}/v1"
        host = urlsplit(self.api).hostname or ""
        self.portal = (config.portal_url or f"https://{host.replace('.api.', '.portal.')}").rstrip(
            "/"
        )
        self.bodies = {b.casefold() for b in config.bodies}
        self.normalizer = VoteNormalizer(explicit=plan.entry.votes)
        self.seen: set[str] = set()
        self.listing_complete = True

    # -- times -----------------------------------------------------------------------------
    def parse_time(self, value: Any) -> datetime | None:
        if not isinstance(value, str) or not value.strip() or value[:4] in ("0001", "1900"):
            return None  # CivicClerk's placeholders for "no date"
        text = value.strip().removesuffix("Z")
        if "." in text:
            head, frac = text.split(".", 1)
            text = f"{head}.{frac[:6].ljust(6, '0')}"
        wall = datetime.fromisoformat(text)
        if self.config.times_are_utc:
            return wall.replace(tzinfo=UTC).astimezone(self.entry.zone)
        return wall.replace(tzinfo=self.entry.zone)

    def literal(self, moment: datetime) -> str:
        """A window bound as the API compares it (see the module docstring on "Z")."""
        zone = UTC if self.config.times_are_utc else self.entry.zone
        return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%SZ")

    # -- requests --------------------------------------------------------------------------
    def events_url(self) -> str:
        terms = [
            f"startDateTime ge {self.literal(self.plan.window_start)}",
            f"startDateTime lt {self.literal(self.plan.window_end)}",
        ]
        if self.config.category_ids:
            terms.append(f"categoryId in ({','.join(map(str, self.config.category_ids))})")
        query = urlencode(
            {"$filter": " and ".join(terms), "$orderby": "startDateTime asc"},
            quote_via=quote,
            safe="$',():",
        )
        return f"{self.api}/Events?{query}"

    def events_request(self, url: str) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_events,
            errback=self.on_error,
            headers={"Accept": "application/json"},
            meta={"kind": "events"},
        )

    async def start(self) -> Any:
        yield self.events_request(self.events_url())

    def after_error(self, request: scrapy.Request) -> Any:
        if request.meta.get("kind") == "events":
            self.listing_complete = False
        return None

    # -- events ----------------------------------------------------------------------------
    def parse_events(self, response: Response) -> Iterator[Any]:
        data = self.load_json(response, dict)
        rows = data.get("value") if data is not BAD_BODY else None
        if not isinstance(rows, list):
            if data is not BAD_BODY:
                self.problem("bad_json/events", response.url, "no 'value' list")
            self.listing_complete = False
            return
        for row in rows:
            try:
                meeting = self.meeting_from(row)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.listing_complete = False
                self.problem("bad_record/event", response.url, f"{type(exc).__name__}: {exc}")
                continue
            if meeting is None or meeting.platform_id in self.seen:
                continue
            self.seen.add(meeting.platform_id)
            yield from self.body_of(meeting)
            yield meeting
            request = self.items_request(row, meeting)
            if request is not None:
                yield request
        next_link = data.get("@odata.nextLink")
        if isinstance(next_link, str) and next_link:
            yield self.events_request(urljoin(response.url, next_link))
        elif self.listing_complete:
            yield MeetingListing(
                platform=self.platform,
                window_start=self.plan.window_start,
                window_end=self.plan.window_end,
                meeting_platform_ids=frozenset(self.seen),
            )

    def meeting_from(self, row: Mapping[str, Any]) -> ScrapedMeeting | None:
        if row.get("isDeleted") is True:
            return None
        if row.get("isPublished") not in (None, "Published"):
            return None  # drafts the portal does not show
        body_name = clean_text(row.get("categoryName")) or clean_text(row.get("eventCategoryName"))
        if self.bodies and (body_name or "").casefold() not in self.bodies:
            return None
        event_id = str(row["id"])
        title = clean_text(row.get("eventName")) or clean_text(row.get("agendaName"))
        start = self.parse_time(row.get("startDateTime"))
        documents: list[DocumentRef] = []
        urls: dict[str, str] = {}
        published: dict[str, datetime] = {}
        for file in row.get("publishedFiles") or []:
            if not isinstance(file, dict) or file.get("fileId") is None:
                continue
            type_name = clean_text(file.get("type")) or "File"
            kind = FILE_KINDS.get(type_name.casefold(), "attachment")
            url = (
                f"{self.api}/Meetings/GetMeetingFileStream(fileId={file['fileId']},plainText=false)"
            )
            name = clean_text(file.get("name"))
            documents.append(
                DocumentRef(
                    url=url,
                    kind=kind,
                    name=type_name if not name or name == type_name else f"{type_name}: {name}",
                )
            )
            urls.setdefault(kind, url)
            stamp = self.parse_time(file.get("publishOn"))
            if stamp is not None and (kind not in published or stamp > published[kind]):
                published[kind] = stamp
        text = " ".join(
            filter(None, [title, clean_text(row.get("eventDescription")), row.get("agendaName")])
        )
        if CANCELLED_RE.search(text):
            status = MeetingStatus.CANCELLED
        elif "minutes" in urls or (start is not None and start < self.plan.now):
            status = MeetingStatus.HELD
        else:
            status = MeetingStatus.SCHEDULED
        category = row.get("categoryId") or row.get("eventCategoryId")
        version = "|".join(
            [str(row.get("startDateTime") or ""), title or "", str(row.get("agendaId") or "")]
            + [
                f"{f.get('fileId')}@{f.get('publishOn')}"
                for f in row.get("publishedFiles") or []
                if isinstance(f, dict)
            ]
        )
        return ScrapedMeeting(
            platform=self.platform,
            platform_id=event_id,
            # An unnamed category would be stored as "Body 26" and never renamed.
            body_platform_id=str(category) if category and body_name else None,
            body_name=body_name,
            title=title,
            start=start,
            location=self.location(row.get("eventLocation")),
            status=status,
            agenda_url=urls.get("agenda"),
            minutes_url=urls.get("minutes"),
            video_url=self.video(row),
            agenda_published_at=published.get("agenda"),
            minutes_published_at=published.get("minutes"),
            source_url=f"{self.portal}/event/{event_id}/files",
            platform_version=version,
            documents=tuple(documents),
        )

    @staticmethod
    def location(value: Any) -> str | None:
        if not isinstance(value, dict):
            return None
        lines: list[str] = []
        for key in ("name", "address1", "address2"):
            line = clean_text(value.get(key))
            if line and line not in lines:
                lines.append(line)
        state_zip = " ".join(filter(None, [clean_text(value.get(k)) for k in ("state", "zipCode")]))
        last = ", ".join(filter(None, [clean_text(value.get("city")), state_zip]))
        if last:
            lines.append(last)
        return "\n".join(lines) or None

    @staticmethod
    def video(row: Mapping[str, Any]) -> str | None:
        youtube = clean_text(row.get("youtubeVideoId"))
        if youtube:
            return f"https://www.youtube.com/watch?v={youtube}"
        return clean_text(row.get("externalMediaUrl")) or clean_text(row.get("mediaStreamPath"))

    # -- agenda items and votes ------------------------------------------------------------
    def items_request(
        self, row: Mapping[str, Any], meeting: ScrapedMeeting
    ) -> scrapy.Request | None:
        agenda_id = row.get("agendaId")
        if not agenda_id or not (meeting.agenda_url or meeting.minutes_url):
            return None  # items are public once an agenda or minutes is published
        if self.plan.may_skip(meeting.platform_id, meeting.platform_version, meeting.start):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("tracker/skipped/unchanged_event")
            return None
        return scrapy.Request(
            f"{self.api}/Meetings/{agenda_id}",
            callback=self.parse_items,
            errback=self.on_error,
            # The API checks these as a CORS origin (platforms.md 5.1).
            headers={
                "Accept": "application/json",
                "Origin": self.portal,
                "Referer": f"{self.portal}/",
            },
            meta={"kind": "meeting_items", "optional": True, "meeting": meeting},
        )

    def parse_items(self, response: Response) -> Iterator[Any]:
        meeting: ScrapedMeeting = response.meta["meeting"]
        data = self.load_json(response, dict)
        if data is BAD_BODY:
            return
        nodes = data.get("items")
        if not isinstance(nodes, list):
            self.problem("bad_json/meeting_items", response.url, "no 'items' list")
            return
        agenda = _Agenda(response.url, meeting)
        self.walk(nodes, agenda, consent=False)
        if not agenda.items or any(PLACEHOLDER in i.title.casefold() for i in agenda.items):
            return  # an empty shell says nothing about which items exist
        yield ScrapedAgenda(
            meeting_platform=self.platform,
            meeting_platform_id=meeting.platform_id,
            items=tuple(agenda.items),
            complete=agenda.complete,
            meeting_version=meeting.platform_version if agenda.complete else None,
        )
        yield from agenda.events

    def walk(self, nodes: list[Any], agenda: _Agenda, *, consent: bool) -> None:
        """Depth first, in published order; sections give structure (and consent), leaves
        are the items."""
        for node in nodes:
            try:
                name = strip_html(node.get("agendaObjectItemName"))
                section = bool(node.get("isSection"))
                motions = [m for m in node.get("minutesItemVotes") or [] if isinstance(m, dict)]
                if name and not section:
                    sequence = len(agenda.items) + 1
                    item = self.item_from(node, name, sequence, agenda.meeting, motions, consent)
                    agenda.items.append(item)
                    agenda.events.extend(self.vote_events(item, motions, agenda))
                children = node.get("childItems") or []
                if not isinstance(children, list):
                    raise TypeError("childItems is not a list")
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                agenda.complete = False
                self.problem("bad_record/meeting_item", agenda.url, f"{type(exc).__name__}: {exc}")
                continue
            inner_consent = consent or (section and "consent" in (name or "").casefold())
            self.walk(children, agenda, consent=inner_consent)

    def item_from(
        self,
        node: Mapping[str, Any],
        name: str,
        sequence: int,
        meeting: ScrapedMeeting,
        motions: Sequence[Mapping[str, Any]],
        consent: bool,
    ) -> ScrapedAgendaItem:
        documents: dict[str, DocumentRef] = {}
        for att in node.get("attachmentsList") or []:
            if not isinstance(att, dict) or att.get("isPublished") is False or att.get("isDeleted"):
                continue
            path = clean_text(att.get("pdfVersionFullPath")) or clean_text(att.get("mediaFullPath"))
            if path:
                link = urljoin(f"{self.api}/", path)
                documents.setdefault(
                    link,
                    DocumentRef(url=link, kind="attachment", name=clean_text(att.get("fileName"))),
                )
        last = motions[-1] if motions else {}
        number = clean_text(str(node.get("agendaObjectItemOutlineNumber") or "")) or clean_text(
            str(node.get("agendaObjectItemNumber") or "")
        )
        pass_fail = last.get("passFail")
        result = PASS_FAIL.get(pass_fail) if isinstance(pass_fail, int) else None
        return ScrapedAgendaItem(
            platform_id=str(node["id"]),
            title=name,
            sequence=sequence,
            number=number,
            action_text=clean_text(last.get("motionName")),
            result=result,
            consent=consent,
            mover=clean_text(last.get("initiatedBy")),
            seconder=clean_text(last.get("secondedBy")),
            source_url=meeting.source_url,
            documents=tuple(documents.values()),
        )

    def vote_events(
        self, item: ScrapedAgendaItem, motions: Sequence[Mapping[str, Any]], agenda: _Agenda
    ) -> Iterator[ScrapedVoteEvent]:
        for ordinal, motion in enumerate(motions, 1):
            votes: list[ScrapedVote] = []
            # yesVotes, noVotes, abstainVotes; any other "...Votes" list the same way.
            for key, names in motion.items():
                if not key.endswith("Votes") or not isinstance(names, list):
                    continue
                raw = key.removesuffix("Votes").capitalize()
                value = self.normalizer.normalize(raw)
                if value is None:
                    self.problem(
                        "unknown_vote_value", agenda.url, f"{key!r} is not a known vote list"
                    )
                for name in names:
                    person = clean_text(name if isinstance(name, str) else None)
                    if person:
                        votes.append(
                            ScrapedVote(
                                person_platform_id=None, name=person, raw_value=raw, value=value
                            )
                        )
            if not votes:
                continue  # a motion recorded without a roll call
            pass_fail = motion.get("passFail")
            yield ScrapedVoteEvent(
                meeting_platform=self.platform,
                meeting_platform_id=agenda.meeting.platform_id,
                item_platform_id=item.platform_id,
                platform_id=str(motion.get("id") or f"{item.platform_id}:{ordinal}"),
                source=VoteSource.API,
                motion=clean_text(motion.get("motionName")),
                result=PASS_FAIL.get(pass_fail) if isinstance(pass_fail, int) else None,
                source_url=agenda.url,
                votes=tuple(votes),
            )
