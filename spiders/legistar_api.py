"""Legistar Web API spider (protocol and quirks: shared/reference/platforms.md section 1).

Order of requests: /votetypes (optional) so votes can be normalized; then /bodies (optional) and
the events listing ($top/$skip pages of 1000, deduplicated by EventId); for each event its
items with notes and attachments; for each item of a past meeting its votes (and roll calls
where flagged); each voter's person record; each body's office records; each matter with its
sponsors, attachments and text (through /versions). An incremental crawl skips /bodies (the
events name their bodies) and asks for /votetypes only once it fetches a meeting's details, so a
refresh that finds nothing changed is the listing alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any, Literal
from urllib.parse import quote, urlencode

import scrapy
from scrapy.http import Response

from tracker.items import (
    DocumentRef,
    MeetingListing,
    ScrapedAgenda,
    ScrapedAgendaItem,
    ScrapedBody,
    ScrapedMatter,
    ScrapedMeeting,
    ScrapedMembership,
    ScrapedPerson,
    ScrapedVote,
    ScrapedVoteEvent,
)
from tracker.models import MeetingStatus, VoteSource
from tracker.parsing import (
    body_kind,
    clean_text,
    parse_local_date,
    parse_time,
    parse_utc,
    virtual_link,
)
from tracker.registry import LegistarConfig
from tracker.spider import BAD_BODY, CrawlPlan, TrackerSpider
from tracker.votes import VoteNormalizer

PAGE_SIZE = 1000  # the API never returns more rows than this
CANCELLED_RE = re.compile(r"\bcancel+(?:ed|ation)\b", re.IGNORECASE)
# The 500 Legistar answers for an item that has no votes (platforms.md 1.2).
NO_VOTES_500 = b"cast to value type"
PASSED_FLAG: dict[int, Literal["passed", "failed"]] = {1: "passed", 0: "failed"}


@dataclass
class _MatterState:
    """A matter's details gathered across its chain of requests."""

    matter_id: str
    steps: list[str]
    fields: dict[str, Any] = field(default_factory=dict)
    changed: bool = False


class LegistarApiSpider(TrackerSpider):
    platform = "legistar"

    def __init__(self, plan: CrawlPlan, **kwargs: Any) -> None:
        super().__init__(plan, **kwargs)
        config = plan.entry.legistar
        assert isinstance(config, LegistarConfig)
        self.config = config
        self.api = f"{config.base_url}/{config.client}"
        self.site = config.site_url or f"https://{config.client}.legistar.com"
        self.normalizer = VoteNormalizer(explicit=plan.entry.votes)
        self.seen_events: set[str] = set()
        self.seen_people: set[str] = set()
        self.seen_matters: set[str] = set()
        self.listing_complete = True
        self.votetypes_asked = False

    # -- URLs ------------------------------------------------------------------------------
    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        query = dict(params or {})
        if self.config.token:
            query["token"] = self.config.token
        encoded = urlencode(query, quote_via=quote, safe="$',():") if query else ""
        return f"{self.api}{path}" + (f"?{encoded}" if encoded else "")

    def request(
        self,
        path: str,
        callback: Any,
        kind: str,
        *,
        params: Mapping[str, Any] | None = None,
        optional: bool = False,
        **meta: Any,
    ) -> scrapy.Request:
        return scrapy.Request(
            self.url(path, params),
            callback=callback,
            errback=self.on_error,
            # Some clients answer XML unless asked for JSON (platforms.md 1.1).
            headers={"Accept": "application/json"},
            meta={"kind": kind, "optional": optional, **meta},
        )

    def events_filter(self) -> str:
        plan = self.plan
        if plan.mode == "incremental" and plan.since is not None:
            # Minutes are often published without touching EventLastModifiedUtc, so all four
            # markers are asked for; upcoming meetings are always refreshed.
            stamp = f"datetime'{plan.since.astimezone(UTC):%Y-%m-%dT%H:%M:%S}'"
            today = plan.now.astimezone(self.entry.zone).date()
            return " or ".join(
                [
                    f"EventLastModifiedUtc ge {stamp}",
                    f"EventAgendaLastPublishedUTC ge {stamp}",
                    f"EventMinutesLastPublishedUTC ge {stamp}",
                    f"EventDate ge datetime'{today:%Y-%m-%d}'",
                ]
            )
        zone = self.entry.zone
        start = plan.window_start.astimezone(zone).date()
        end = plan.window_end.astimezone(zone).date()
        return f"EventDate ge datetime'{start:%Y-%m-%d}' and EventDate lt datetime'{end:%Y-%m-%d}'"

    # -- start -----------------------------------------------------------------------------
    async def start(self) -> Any:
        if self.plan.mode == "full":
            self.votetypes_asked = True
            yield self.votetypes_request(then_list=True)
        else:
            # An incremental crawl that finds nothing changed asks only for the listing: the
            # vote types are asked for once a meeting's details are (votes_need_types), and
            # bodies come with the events; the full sweep refreshes both.
            for request in self.listing_requests():
                yield request

    def votetypes_request(self, *, then_list: bool) -> scrapy.Request:
        request = self.request(
            "/votetypes", self.parse_votetypes, "votetypes", optional=True, then_list=then_list
        )
        # ahead of everything queued, so the types are known before any vote is read
        return request.replace(priority=100)

    def votes_need_types(self) -> Iterator[scrapy.Request]:
        if not self.votetypes_asked:
            self.votetypes_asked = True
            yield self.votetypes_request(then_list=False)

    def parse_votetypes(self, response: Response) -> Iterator[Any]:
        data = self.load_json(response, list)
        if data is not BAD_BODY:
            self.normalizer.learn_legistar_votetypes(r for r in data if isinstance(r, dict))
        if response.meta.get("then_list"):
            yield from self.listing_requests()

    def listing_requests(self) -> Iterator[scrapy.Request]:
        if self.plan.mode == "full":
            yield self.request("/bodies", self.parse_bodies, "bodies", optional=True)
        yield self.events_page(0)

    def events_page(self, skip: int) -> scrapy.Request:
        params = {"$filter": self.events_filter(), "$orderby": "EventId", "$top": PAGE_SIZE}
        if skip:
            params["$skip"] = skip
        return self.request("/events", self.parse_events, "events", params=params, skip=skip)

    def after_error(self, request: scrapy.Request) -> Any:
        kind = request.meta.get("kind")
        if kind == "votetypes":
            return self.listing_requests() if request.meta.get("then_list") else None
        if kind == "events":
            self.listing_complete = False
        state = request.meta.get("matter_state")
        if state is not None:
            if request.meta.get("kind") == "matter":
                return None  # no public matter record: nothing more to ask about it
            return self.continue_matter(state)
        return None

    def failure_means_empty(self, response: Response) -> bool:
        kind = response.meta.get("kind")
        if kind in ("votes", "rollcalls"):
            return response.status == 404 or (
                response.status == 500 and NO_VOTES_500 in response.body.lower()
            )
        return False

    # -- bodies and people -----------------------------------------------------------------
    def parse_bodies(self, response: Response) -> Iterator[Any]:
        data = self.load_json(response, list)
        if data is BAD_BODY:
            return
        for row in data:
            if not isinstance(row, dict) or row.get("BodyId") is None:
                continue
            name = clean_text(row.get("BodyName")) or f"Body {row['BodyId']}"
            yield ScrapedBody(
                platform_id=str(row["BodyId"]),
                name=name,
                kind=body_kind(row.get("BodyTypeName"), name),
                active=bool(row.get("BodyActiveFlag", 1)),
            )

    def officerecords_request(self, body_id: str) -> scrapy.Request:
        since = self.plan.window_start.astimezone(UTC)
        params = {
            "$filter": f"OfficeRecordEndDate eq null or OfficeRecordEndDate ge "
            f"datetime'{since:%Y-%m-%d}'"
        }
        return self.request(
            f"/bodies/{body_id}/officerecords",
            self.parse_officerecords,
            "officerecords",
            params=params,
            optional=True,
            body_id=body_id,
        )

    def parse_officerecords(self, response: Response) -> Iterator[Any]:
        data = self.load_json(response, list)
        if data is BAD_BODY:
            return
        for row in data:
            if not isinstance(row, dict) or row.get("OfficeRecordPersonId") is None:
                continue
            person_id = str(row["OfficeRecordPersonId"])
            name = clean_text(row.get("OfficeRecordFullName")) or ""
            if name:
                yield ScrapedPerson(
                    platform_id=person_id,
                    name=name,
                    partial=True,
                    first_name=clean_text(row.get("OfficeRecordFirstName")),
                    last_name=clean_text(row.get("OfficeRecordLastName")),
                    email=clean_text(row.get("OfficeRecordEmail")),
                )
            yield ScrapedMembership(
                platform_id=str(row.get("OfficeRecordId")),
                person_platform_id=person_id,
                body_platform_id=str(row.get("OfficeRecordBodyId") or response.meta["body_id"]),
                role=clean_text(row.get("OfficeRecordTitle")),
                start_date=parse_local_date(row.get("OfficeRecordStartDate")),
                end_date=parse_local_date(row.get("OfficeRecordEndDate")),
                source_url=f"{self.site}/People.aspx",
            )

    def person_request(self, person_id: str) -> scrapy.Request:
        return self.request(f"/persons/{person_id}", self.parse_person, "person", optional=True)

    def parse_person(self, response: Response) -> Iterator[Any]:
        row = self.load_json(response, dict)
        if row is BAD_BODY or row.get("PersonId") is None:
            return
        name = clean_text(row.get("PersonFullName")) or " ".join(
            filter(
                None,
                [clean_text(row.get("PersonFirstName")), clean_text(row.get("PersonLastName"))],
            )
        )
        if not name:
            return
        yield ScrapedPerson(
            platform_id=str(row["PersonId"]),
            name=name,
            first_name=clean_text(row.get("PersonFirstName")),
            last_name=clean_text(row.get("PersonLastName")),
            email=clean_text(row.get("PersonEmail")),
            phone=clean_text(row.get("PersonPhone")),
            website=clean_text(row.get("PersonWWW")),
            source_url=response.url,
        )

    # -- events ----------------------------------------------------------------------------
    def parse_events(self, response: Response) -> Iterator[Any]:
        data = self.load_json(response, list)
        if data is BAD_BODY:
            self.listing_complete = False
            return
        for row in data:
            try:
                meeting = self.meeting_from(row)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.listing_complete = False
                self.problem("bad_record/event", response.url, f"{type(exc).__name__}: {exc}")
                continue
            if meeting.platform_id in self.seen_events:
                continue  # rows shift between pages on busy sites
            self.seen_events.add(meeting.platform_id)
            for body in self.body_of(meeting):
                yield body
                yield self.officerecords_request(body.platform_id)
            yield meeting
            if self.plan.may_skip(meeting.platform_id, meeting.platform_version, meeting.start):
                assert self.crawler.stats is not None
                self.crawler.stats.inc_value("tracker/skipped/unchanged_event")
                continue
            yield from self.votes_need_types()
            yield self.request(
                f"/events/{meeting.platform_id}/eventitems",
                self.parse_event_items,
                "eventitems",
                params={"AgendaNote": 1, "MinutesNote": 1, "Attachments": 1},
                meeting=meeting,
            )
        if len(data) >= PAGE_SIZE:
            yield self.events_page(response.meta["skip"] + PAGE_SIZE)
        elif self.plan.mode == "full" and self.listing_complete:
            yield MeetingListing(
                platform=self.platform,
                window_start=self.plan.window_start,
                window_end=self.plan.window_end,
                meeting_platform_ids=frozenset(self.seen_events),
            )

    def meeting_from(self, row: Mapping[str, Any]) -> ScrapedMeeting:
        zone = self.entry.zone
        day = parse_local_date(row["EventDate"])
        time_text = clean_text(row.get("EventTime"))
        at = parse_time(time_text)
        start = datetime.combine(day, at or time(0, 0), tzinfo=zone) if day else None
        body_name = clean_text(row.get("EventBodyName"))
        comment = clean_text(row.get("EventComment"))
        location = clean_text(row.get("EventLocation"))
        agenda_url = clean_text(row.get("EventAgendaFile"))
        minutes_url = clean_text(row.get("EventMinutesFile"))
        minutes_published = parse_utc(row.get("EventMinutesLastPublishedUTC"))
        status_text = " ".join(
            filter(
                None, [row.get("EventAgendaStatusName"), row.get("EventMinutesStatusName"), comment]
            )
        )
        if CANCELLED_RE.search(status_text):
            status = MeetingStatus.CANCELLED
        elif minutes_url or minutes_published or (start is not None and start < self.plan.now):
            # A past meeting nobody cancelled took place; minutes may come weeks later.
            status = MeetingStatus.HELD
        else:
            status = MeetingStatus.SCHEDULED
        video = clean_text(row.get("EventVideoPath"))
        if not video and row.get("EventMedia"):
            video = f"{self.site}/Video.aspx?Mode=Granicus&ID1={row['EventMedia']}&Mode2=Video"
        documents = [
            DocumentRef(url=u, kind=k, name=f"{k.title()}: {body_name or ''}".strip())
            for u, k in ((agenda_url, "agenda"), (minutes_url, "minutes"))
            if u
        ]
        version = "|".join(
            str(row.get(k) or "")
            for k in (
                "EventLastModifiedUtc",
                "EventAgendaLastPublishedUTC",
                "EventMinutesLastPublishedUTC",
                "EventRowVersion",
            )
        )
        return ScrapedMeeting(
            platform=self.platform,
            platform_id=str(row["EventId"]),
            body_platform_id=str(row["EventBodyId"]) if row.get("EventBodyId") else None,
            body_name=body_name,
            title=f"{body_name} ({comment})" if body_name and comment else body_name or comment,
            start=start,
            time_text=None if at else time_text,
            location=location,
            virtual_link=virtual_link(location, comment),
            status=status,
            agenda_status=clean_text(row.get("EventAgendaStatusName")),
            minutes_status=clean_text(row.get("EventMinutesStatusName")),
            agenda_url=agenda_url,
            minutes_url=minutes_url,
            video_url=video,
            agenda_published_at=parse_utc(row.get("EventAgendaLastPublishedUTC")),
            minutes_published_at=minutes_published,
            source_url=clean_text(row.get("EventInSiteURL")),
            platform_version=version,
            documents=tuple(documents),
        )

    # -- agenda items ----------------------------------------------------------------------
    def parse_event_items(self, response: Response) -> Iterator[Any]:
        meeting: ScrapedMeeting = response.meta["meeting"]
        data = self.load_json(response, list)
        if data is BAD_BODY:
            return  # no agenda item is marked removed on a listing we could not read
        items: list[ScrapedAgendaItem] = []
        rows: list[Mapping[str, Any]] = []
        complete = True
        for row in data:
            try:
                item = self.item_from(row, meeting)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                complete = False
                self.problem("bad_record/eventitem", response.url, f"{type(exc).__name__}: {exc}")
                continue
            if item is None:
                continue
            items.append(item)
            rows.append(row)
        for item, row in zip(items, rows, strict=True):
            if item.matter_platform_id:
                yield ScrapedMatter(
                    platform_id=item.matter_platform_id,
                    file_number=clean_text(row.get("EventItemMatterFile")),
                    title=item.title,
                    type=clean_text(row.get("EventItemMatterType")),
                    status=clean_text(row.get("EventItemMatterStatus")),
                    partial=True,
                    documents=item.documents,
                )
        yield ScrapedAgenda(
            meeting_platform=self.platform,
            meeting_platform_id=meeting.platform_id,
            items=tuple(items),
            complete=complete,
            meeting_version=meeting.platform_version if complete else None,
        )
        past = meeting.start is None or meeting.start <= self.plan.now
        for item, row in zip(items, rows, strict=True):
            if item.matter_platform_id and item.matter_platform_id not in self.seen_matters:
                self.seen_matters.add(item.matter_platform_id)
                steps = ["sponsors", "versions"] + ([] if item.documents else ["attachments"])
                state = _MatterState(item.matter_platform_id, steps)
                yield self.request(
                    f"/matters/{item.matter_platform_id}",
                    self.parse_matter,
                    "matter",
                    optional=True,
                    matter_state=state,
                )
            if not past:
                continue  # nobody has voted on a meeting that has not happened
            acted = any(
                row.get(k) not in (None, "", 0)
                for k in (
                    "EventItemPassedFlag",
                    "EventItemActionId",
                    "EventItemTally",
                    "EventItemRollCallFlag",
                    "EventItemMatterId",
                )
            )
            if acted:
                yield self.request(
                    f"/eventitems/{item.platform_id}/votes",
                    self.parse_votes,
                    "votes",
                    meeting=meeting,
                    item=item,
                    source_kind="votes",
                    final_if=NO_VOTES_500,
                )
            if row.get("EventItemRollCallFlag"):
                yield self.request(
                    f"/eventitems/{item.platform_id}/rollcalls",
                    self.parse_votes,
                    "rollcalls",
                    meeting=meeting,
                    item=item,
                    source_kind="rollcalls",
                    final_if=NO_VOTES_500,
                )

    def item_from(
        self, row: Mapping[str, Any], meeting: ScrapedMeeting
    ) -> ScrapedAgendaItem | None:
        title = clean_text(row.get("EventItemTitle"))
        if not title:
            return None  # separators and boilerplate rows
        passed = row.get("EventItemPassedFlag")
        documents: dict[str, DocumentRef] = {}
        for att in row.get("EventItemMatterAttachments") or []:
            link = clean_text(att.get("MatterAttachmentHyperlink"))
            if not link or att.get("MatterAttachmentShowOnInternetPage") is False:
                continue
            documents.setdefault(
                link,
                DocumentRef(
                    url=link, kind="attachment", name=clean_text(att.get("MatterAttachmentName"))
                ),
            )
        sequence = row.get("EventItemAgendaSequence")
        if sequence is None:
            sequence = row.get("EventItemMinutesSequence")
        matter_id = row.get("EventItemMatterId")
        return ScrapedAgendaItem(
            platform_id=str(row["EventItemId"]),
            title=title,
            matter_platform_id=str(matter_id) if matter_id else None,
            sequence=int(sequence) if sequence is not None else None,
            number=clean_text(row.get("EventItemAgendaNumber")),
            action=clean_text(row.get("EventItemActionName")),
            action_text=clean_text(row.get("EventItemActionText")),
            result=PASSED_FLAG.get(passed) if isinstance(passed, int) else None,
            consent=bool(row.get("EventItemConsent")),
            tally=clean_text(row.get("EventItemTally")),
            mover=clean_text(row.get("EventItemMover")),
            seconder=clean_text(row.get("EventItemSeconder")),
            agenda_note=row.get("EventItemAgendaNote") or None,
            minutes_note=row.get("EventItemMinutesNote") or None,
            source_url=meeting.source_url,
            documents=tuple(documents.values()),
        )

    # -- votes -----------------------------------------------------------------------------
    def parse_votes(self, response: Response) -> Iterator[Any]:
        meeting: ScrapedMeeting = response.meta["meeting"]
        item: ScrapedAgendaItem = response.meta["item"]
        source_kind: str = response.meta["source_kind"]
        data = self.load_json(response, list)
        if data is BAD_BODY or not data:
            return
        prefix = "Vote" if source_kind == "votes" else "RollCall"
        votes: list[ScrapedVote] = []
        for row in data:
            if not isinstance(row, dict):
                self.problem(f"bad_record/{source_kind}", response.url, "vote row is not an object")
                continue
            raw = clean_text(row.get(f"{prefix}ValueName")) or ""
            name = clean_text(row.get(f"{prefix}PersonName")) or ""
            person = row.get(f"{prefix}PersonId")
            if not name and person is None:
                self.problem(f"bad_record/{source_kind}", response.url, "vote without a voter")
                continue
            value = self.normalizer.normalize(raw)
            if value is None:
                self.problem(
                    "unknown_vote_value",
                    response.url,
                    f"{raw!r} is in neither the registry's votes table nor /votetypes; "
                    "stored raw, not normalized",
                )
            votes.append(
                ScrapedVote(
                    person_platform_id=str(person) if person is not None else None,
                    name=name or f"Person {person}",
                    raw_value=raw,
                    value=value,
                    platform_id=str(row.get(f"{prefix}Id")) if row.get(f"{prefix}Id") else None,
                )
            )
        if not votes:
            return
        yield ScrapedVoteEvent(
            meeting_platform=self.platform,
            meeting_platform_id=meeting.platform_id,
            item_platform_id=item.platform_id,
            platform_id=f"{source_kind}:{item.platform_id}",
            source=VoteSource.API,
            motion=item.action_text if source_kind == "votes" else "Roll call",
            action=item.action if source_kind == "votes" else None,
            result=item.result if source_kind == "votes" else None,
            tally=item.tally if source_kind == "votes" else None,
            source_url=response.url,
            votes=tuple(votes),
        )
        for vote in votes:
            pid = vote.person_platform_id
            if pid and pid not in self.seen_people:
                self.seen_people.add(pid)
                yield self.person_request(pid)

    # -- matters ---------------------------------------------------------------------------
    def parse_matter(self, response: Response) -> Iterator[Any]:
        state: _MatterState = response.meta["matter_state"]
        row = self.load_json(response, dict)
        if row is BAD_BODY:
            return
        state.changed = True
        state.fields.update(
            file_number=clean_text(row.get("MatterFile")),
            title=clean_text(row.get("MatterTitle")) or clean_text(row.get("MatterName")),
            type=clean_text(row.get("MatterTypeName")),
            status=clean_text(row.get("MatterStatusName")),
            intro_date=parse_local_date(row.get("MatterIntroDate")),
            passed_date=parse_local_date(row.get("MatterPassedDate")),
            version=str(row.get("MatterVersion") or ""),
        )
        yield from self.continue_matter(state)

    def continue_matter(self, state: _MatterState) -> Iterator[Any]:
        if not state.steps:
            if state.changed:
                fields = {k: v for k, v in state.fields.items() if k not in ("version",)}
                yield ScrapedMatter(
                    platform_id=state.matter_id,
                    source_url=f"{self.site}/gateway.aspx?m=l&id={state.matter_id}",
                    **fields,
                )
            return
        step = state.steps.pop(0)
        mid = state.matter_id
        if step == "sponsors":
            yield self.request(
                f"/matters/{mid}/sponsors",
                self.parse_sponsors,
                "sponsors",
                optional=True,
                matter_state=state,
            )
        elif step == "attachments":
            yield self.request(
                f"/matters/{mid}/attachments",
                self.parse_attachments,
                "attachments",
                optional=True,
                matter_state=state,
            )
        elif step == "versions":
            yield self.request(
                f"/matters/{mid}/versions",
                self.parse_versions,
                "versions",
                optional=True,
                matter_state=state,
            )
        elif step.startswith("text:"):
            yield self.request(
                f"/matters/{mid}/texts/{step[5:]}",
                self.parse_text,
                "text",
                optional=True,
                matter_state=state,
            )

    def parse_sponsors(self, response: Response) -> Iterator[Any]:
        state: _MatterState = response.meta["matter_state"]
        data = self.load_json(response, list)
        if data is not BAD_BODY:
            rows = [r for r in data if isinstance(r, dict) and r.get("MatterSponsorName")]
            # Only the newest version's sponsors count (platforms.md 1.4).
            newest = max((str(r.get("MatterSponsorMatterVersion") or "") for r in rows), default="")
            rows = [r for r in rows if str(r.get("MatterSponsorMatterVersion") or "") == newest]
            rows.sort(key=lambda r: r.get("MatterSponsorSequence") or 0)
            state.fields["sponsors"] = tuple(clean_text(r["MatterSponsorName"]) or "" for r in rows)
            state.changed = True
        yield from self.continue_matter(state)

    def parse_attachments(self, response: Response) -> Iterator[Any]:
        state: _MatterState = response.meta["matter_state"]
        data = self.load_json(response, list)
        if data is not BAD_BODY:
            docs: dict[str, DocumentRef] = {}
            for att in data:
                if not isinstance(att, dict):
                    continue
                link = clean_text(att.get("MatterAttachmentHyperlink"))
                if link and att.get("MatterAttachmentShowOnInternetPage") is not False:
                    docs.setdefault(
                        link,
                        DocumentRef(
                            url=link,
                            kind="attachment",
                            name=clean_text(att.get("MatterAttachmentName")),
                        ),
                    )
            state.fields["documents"] = tuple(docs.values())
            state.changed = True
        yield from self.continue_matter(state)

    def parse_versions(self, response: Response) -> Iterator[Any]:
        state: _MatterState = response.meta["matter_state"]
        data = self.load_json(response, list)
        if data is not BAD_BODY:
            versions = [
                (str(v.get("Value")), str(v.get("Key")))
                for v in data
                if isinstance(v, dict) and v.get("Key") is not None
            ]
            wanted = state.fields.get("version") or ""
            chosen = next((key for value, key in versions if value == wanted), None)
            if chosen is None and versions:
                chosen = max(versions)[1]
            if chosen is not None:
                state.steps.insert(0, f"text:{chosen}")
        yield from self.continue_matter(state)

    def parse_text(self, response: Response) -> Iterator[Any]:
        state: _MatterState = response.meta["matter_state"]
        row = self.load_json(response, dict)
        if row is not BAD_BODY:
            text = row.get("MatterTextPlain")
            if isinstance(text, str) and text.strip():
                state.fields["text"] = text.strip()
                state.changed = True
        yield from self.continue_matter(state)
