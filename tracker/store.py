"""Idempotent upserts keyed on platform ids, and the append-only change log.

``Store`` owns jurisdictions and crawl runs. ``JurisdictionWriter`` writes one crawl's items for
one jurisdiction, a batch per transaction; it compares each item with what is stored and
appends a Change only for what a subscriber or reporter would call news (a meeting added,
moved or cancelled, an agenda published or revised, an item added or removed, a vote
recorded). Writing the same items twice changes nothing and logs nothing.

Absence is not removal: items missing from an agenda are marked removed only when the agenda
listing was complete (``ScrapedAgenda.complete``), meetings only through a complete
``MeetingListing`` of a window, and a removed row is only marked, never deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from tracker.documents import BlobStore, KnownDocument, sha256_of
from tracker.items import (
    DocumentRef,
    DocumentText,
    MeetingListing,
    Relevance,
    ScrapedAgenda,
    ScrapedBody,
    ScrapedDocument,
    ScrapedItem,
    ScrapedMatter,
    ScrapedMeeting,
    ScrapedMembership,
    ScrapedPerson,
    ScrapedVoteEvent,
)
from tracker.models import (
    AgendaItem,
    Body,
    Change,
    ChangeKind,
    CrawlRun,
    CrawlStatus,
    Document,
    DocumentLink,
    DocumentPage,
    DocumentVersion,
    Jurisdiction,
    Matter,
    Meeting,
    MeetingStatus,
    Membership,
    Person,
    Vote,
    VoteEvent,
    VoteValue,
)
from tracker.people import resolve_person, sync_registry
from tracker.registry import Entry

logger = logging.getLogger(__name__)

_YES = {VoteValue.YES}
_NO = {VoteValue.NO}
ITEM_NEWS_FIELDS = ("title", "number", "consent", "action", "result", "matter_id")
MEETING_NEWS_FIELDS = ("location", "virtual_link", "body_id")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _jsonable(value: Any) -> Any:
    """A value as JSON holds it: datetimes as ISO text in UTC, containers element by element."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def _apply(
    row: Any, values: Mapping[str, Any], *, fill_only: bool = False
) -> dict[str, tuple[Any, Any]]:
    """Set ``values`` on ``row``; returns {field: (old, new)} for what actually changed.

    A full record is the source's current word and replaces what is stored, None included. A
    partial record (``fill_only``) only fills fields where nothing is stored yet.
    """
    changed: dict[str, tuple[Any, Any]] = {}
    for name, new in values.items():
        old = getattr(row, name)
        if fill_only and (new is None or old not in (None, "", [], ())):
            continue
        if old != new:
            setattr(row, name, new)
            changed[name] = (old, new)
    return changed


@dataclass(frozen=True)
class RunSummary:
    slug: str
    status: str
    mode: str
    requests: int
    items: int
    errors: int
    problems: dict[str, int]
    message: str | None
    archive: str | None


@dataclass
class WriteResult:
    added: int = 0
    updated: int = 0
    changes: list[ChangeKind] = field(default_factory=list)

    def merge(self, other: WriteResult) -> None:
        self.added += other.added
        self.updated += other.updated
        self.changes += other.changes


RELEVANCE_FIELDS = ("relevant", "score", "category", "direction", "matches")


def _stub_body_name(platform_id: str) -> str:
    return f"Body {platform_id}"


def relevance_values(own: Relevance | None, *inherited: tuple[str, Any]) -> dict[str, Any] | None:
    """An item's relevance: its own text decides when it matches; otherwise the first matching
    source it inherits from (its matter, then a linked document) decides."""
    if own is not None and own.relevant:
        return {**own.model_dump(), "relevance_source": "own"}
    for source, row in inherited:
        if row is not None and row.relevant:
            values = {name: getattr(row, name) for name in RELEVANCE_FIELDS}
            values["secondary"] = list(own.secondary) if own is not None else []
            values["relevance_source"] = source
            return values
    if own is None:
        return None
    return {**own.model_dump(), "relevance_source": None}


class Store:
    def __init__(self, engine: Engine, blobs: BlobStore | None = None) -> None:
        self.engine = engine
        self.blobs = blobs

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def ensure_jurisdiction(self, entry: Entry) -> int:
        values: dict[str, Any] = {
            "name": entry.name,
            "state": entry.state,
            "kind": entry.kind,
            "timezone": entry.timezone,
            "platform": entry.platform,
        }
        with self.session() as session, session.begin():
            row = session.exec(select(Jurisdiction).where(Jurisdiction.slug == entry.slug)).first()
            if row is None:
                row = Jurisdiction(slug=entry.slug, **values)
                session.add(row)
            else:
                _apply(row, values)
            session.flush()
            assert row.id is not None
            sync_registry(session, row.id, entry)
            return row.id

    def start_run(
        self,
        jurisdiction_id: int,
        *,
        spider: str,
        mode: str,
        since: datetime | None,
        window: tuple[datetime, datetime],
        replay: str | None,
        archive: str | None,
    ) -> int:
        with self.session() as session, session.begin():
            run = CrawlRun(
                jurisdiction_id=jurisdiction_id,
                spider=spider,
                mode=mode,
                since=since,
                window_start=window[0],
                window_end=window[1],
                replay=replay,
                archive=archive,
            )
            session.add(run)
            session.flush()
            assert run.id is not None
            return run.id

    def finish_run(
        self,
        run_id: int,
        *,
        status: CrawlStatus,
        requests: int,
        items: int,
        problems: Mapping[str, int],
        message: str | None,
    ) -> None:
        with self.session() as session, session.begin():
            run = session.get(CrawlRun, run_id)
            if run is None:
                return
            run.status = status
            run.finished_at = utcnow()
            run.requests = requests
            run.items = items
            run.problems = dict(problems)
            run.errors = sum(problems.values())
            run.message = message

    def interrupt_stale_runs(self, jurisdiction_id: int) -> int:
        """Runs still marked running belong to a process that died: record them as failed."""
        with self.session() as session, session.begin():
            rows = session.exec(
                select(CrawlRun).where(
                    CrawlRun.jurisdiction_id == jurisdiction_id,
                    CrawlRun.status == CrawlStatus.RUNNING,
                )
            ).all()
            for run in rows:
                run.status = CrawlStatus.FAILED
                run.message = "interrupted: the crawl process ended without recording a result"
            return len(rows)

    def summary(self, run_id: int, *, slug: str) -> RunSummary:
        with self.session() as session:
            run = session.get(CrawlRun, run_id)
            assert run is not None
            return RunSummary(
                slug=slug,
                status=run.status,
                mode=run.mode,
                requests=run.requests,
                items=run.items,
                errors=run.errors,
                problems=dict(run.problems),
                message=run.message,
                archive=run.archive,
            )

    def known_versions(self, jurisdiction_id: int, platform: str) -> dict[str, str]:
        with self.session() as session:
            rows = session.exec(
                select(Meeting.platform_id, Meeting.platform_version).where(
                    Meeting.jurisdiction_id == jurisdiction_id,
                    Meeting.platform == platform,
                    col(Meeting.removed_at).is_(None),
                )
            )
            return {pid: version for pid, version in rows if version}

    def known_documents(self, jurisdiction_id: int) -> dict[str, KnownDocument]:
        with self.session() as session:
            rows = session.exec(select(Document).where(Document.jurisdiction_id == jurisdiction_id))
            return {
                d.url: KnownDocument(d.checked_at, d.etag, d.last_modified)
                for d in rows
                if d.error is None
            }

    def last_run(
        self, jurisdiction_id: int, *, statuses: Iterable[str] = (), mode: str | None = None
    ) -> CrawlRun | None:
        with self.session() as session:
            query = select(CrawlRun).where(CrawlRun.jurisdiction_id == jurisdiction_id)
            if statuses:
                query = query.where(col(CrawlRun.status).in_(list(statuses)))
            if mode:
                query = query.where(CrawlRun.mode == mode)
            return session.exec(query.order_by(col(CrawlRun.id).desc())).first()

    def writer(self, jurisdiction_id: int, run_id: int | None) -> JurisdictionWriter:
        return JurisdictionWriter(self, jurisdiction_id, run_id)


class JurisdictionWriter:
    """Writes items for one jurisdiction; one transaction per ``write`` call."""

    def __init__(self, store: Store, jurisdiction_id: int, run_id: int | None) -> None:
        self.store = store
        self.jurisdiction_id = jurisdiction_id
        self.run_id = run_id
        self._clear_caches()

    def _clear_caches(self) -> None:
        self.bodies: dict[str, int] = {}
        self.people: dict[str, int] = {}
        self.matters: dict[str, int] = {}
        self.meetings: dict[tuple[str, str], int] = {}

    def write(self, items: Sequence[ScrapedItem]) -> WriteResult:
        """Write a batch in one transaction (rolled back whole on any error)."""
        result = WriteResult()
        try:
            with self.store.session() as session, session.begin():
                for item in items:
                    result.merge(self._write_one(session, item))
        except (SQLAlchemyError, ValueError, LookupError):
            self._clear_caches()  # ids cached inside the rolled-back transaction are void
            raise
        return result

    def _write_one(self, session: Session, item: ScrapedItem) -> WriteResult:
        if isinstance(item, ScrapedMeeting):
            return self._meeting(session, item)
        if isinstance(item, ScrapedAgenda):
            return self._agenda(session, item)
        if isinstance(item, ScrapedVoteEvent):
            return self._vote_event(session, item)
        if isinstance(item, ScrapedMatter):
            return self._matter(session, item)
        if isinstance(item, ScrapedPerson):
            return self._person(session, item)
        if isinstance(item, ScrapedBody):
            return self._body(session, item)
        if isinstance(item, ScrapedMembership):
            return self._membership(session, item)
        if isinstance(item, MeetingListing):
            return self._listing(session, item)
        if isinstance(item, DocumentText):
            return self._document_text(session, item)
        if isinstance(item, ScrapedDocument):
            return self._fetched(session, item)
        raise TypeError(f"cannot store {type(item).__name__}")

    # -- helpers ---------------------------------------------------------------------------
    def _log(self, session: Session, kind: ChangeKind, result: WriteResult, **fields: Any) -> None:
        details = {k: _jsonable(v) for k, v in fields.pop("details", {}).items()}
        session.add(
            Change(
                jurisdiction_id=self.jurisdiction_id,
                kind=kind,
                crawl_run_id=self.run_id,
                details=details,
                **fields,
            )
        )
        result.changes.append(kind)

    def _body_id(self, session: Session, platform_id: str, name: str | None) -> int:
        if platform_id in self.bodies:
            return self.bodies[platform_id]
        row = session.exec(
            select(Body).where(
                Body.jurisdiction_id == self.jurisdiction_id, Body.platform_id == platform_id
            )
        ).first()
        if row is None:
            row = Body(
                jurisdiction_id=self.jurisdiction_id,
                platform_id=platform_id,
                name=name or _stub_body_name(platform_id),
            )
            session.add(row)
            session.flush()
        assert row.id is not None
        self.bodies[platform_id] = row.id
        return row.id

    def _person_id(self, session: Session, platform_id: str | None, name: str) -> int:
        if platform_id is not None and platform_id in self.people:
            return self.people[platform_id]
        query = select(Person).where(Person.jurisdiction_id == self.jurisdiction_id)
        if platform_id is not None:
            query = query.where(Person.platform_id == platform_id)
        else:
            query = query.where(col(Person.platform_id).is_(None), Person.name == name)
        row = session.exec(query).first()
        if row is None:
            row = Person(jurisdiction_id=self.jurisdiction_id, platform_id=platform_id, name=name)
            session.add(row)
            session.flush()
        assert row.id is not None
        if platform_id is not None:
            self.people[platform_id] = row.id
        return row.id

    def _matter_id(self, session: Session, platform_id: str) -> int:
        if platform_id in self.matters:
            return self.matters[platform_id]
        row = session.exec(
            select(Matter).where(
                Matter.jurisdiction_id == self.jurisdiction_id, Matter.platform_id == platform_id
            )
        ).first()
        if row is None:
            row = Matter(jurisdiction_id=self.jurisdiction_id, platform_id=platform_id)
            session.add(row)
            session.flush()
        assert row.id is not None
        self.matters[platform_id] = row.id
        return row.id

    def _meeting_id(self, session: Session, platform: str, platform_id: str) -> int:
        key = (platform, platform_id)
        if key in self.meetings:
            return self.meetings[key]
        found = session.exec(
            select(Meeting.id).where(
                Meeting.jurisdiction_id == self.jurisdiction_id,
                Meeting.platform == platform,
                Meeting.platform_id == platform_id,
            )
        ).first()
        if found is None:
            raise LookupError(f"meeting {platform}:{platform_id} is not stored")
        self.meetings[key] = found
        return found

    def _documents(
        self,
        session: Session,
        refs: Iterable[DocumentRef],
        *,
        meeting_id: int | None = None,
        agenda_item_id: int | None = None,
        matter_id: int | None = None,
    ) -> None:
        for ref in refs:
            doc = session.exec(
                select(Document).where(
                    Document.jurisdiction_id == self.jurisdiction_id, Document.url == ref.url
                )
            ).first()
            if doc is None:
                doc = Document(
                    jurisdiction_id=self.jurisdiction_id, url=ref.url, kind=ref.kind, name=ref.name
                )
                session.add(doc)
                session.flush()
            else:
                _apply(doc, {"name": ref.name}, fill_only=True)
            link = session.exec(
                select(DocumentLink).where(
                    DocumentLink.document_id == doc.id,
                    DocumentLink.meeting_id == meeting_id,
                    DocumentLink.agenda_item_id == agenda_item_id,
                    DocumentLink.matter_id == matter_id,
                )
            ).first()
            if link is None:
                assert doc.id is not None
                session.add(
                    DocumentLink(
                        document_id=doc.id,
                        meeting_id=meeting_id,
                        agenda_item_id=agenda_item_id,
                        matter_id=matter_id,
                    )
                )

    # -- entities --------------------------------------------------------------------------
    def _body(self, session: Session, item: ScrapedBody) -> WriteResult:
        result = WriteResult()
        row = session.exec(
            select(Body).where(
                Body.jurisdiction_id == self.jurisdiction_id, Body.platform_id == item.platform_id
            )
        ).first()
        values: dict[str, Any] = {"name": item.name, "kind": item.kind}
        if item.active is not None:  # None: the source did not say
            values["active"] = item.active
        if row is None:
            row = Body(
                jurisdiction_id=self.jurisdiction_id,
                platform_id=item.platform_id,
                name=item.name,
                kind=item.kind,
                active=True if item.active is None else item.active,
            )
            session.add(row)
            session.flush()
            result.added += 1
        else:
            if row.name == _stub_body_name(item.platform_id):
                row.name = ""  # a placeholder from a meeting that named no body: replace it
            if _apply(row, values, fill_only=item.partial):
                result.updated += 1
        assert row.id is not None
        self.bodies[item.platform_id] = row.id
        return result

    def _person(self, session: Session, item: ScrapedPerson) -> WriteResult:
        result = WriteResult()
        row = session.exec(
            select(Person).where(
                Person.jurisdiction_id == self.jurisdiction_id,
                Person.platform_id == item.platform_id,
            )
        ).first()
        values = item.model_dump(exclude={"platform_id", "partial"})
        if row is None:
            row = Person(
                jurisdiction_id=self.jurisdiction_id, platform_id=item.platform_id, **values
            )
            session.add(row)
            session.flush()
            result.added += 1
        elif _apply(row, values, fill_only=item.partial):
            result.updated += 1
        assert row.id is not None
        self.people[item.platform_id] = row.id
        return result

    def _membership(self, session: Session, item: ScrapedMembership) -> WriteResult:
        result = WriteResult()
        body_id = self._body_id(session, item.body_platform_id, None)
        person_id = self._person_id(
            session, item.person_platform_id, f"Person {item.person_platform_id}"
        )
        row = session.exec(
            select(Membership).where(
                Membership.body_id == body_id, Membership.platform_id == item.platform_id
            )
        ).first()
        values: dict[str, Any] = {
            "person_id": person_id,
            "role": item.role,
            "start_date": item.start_date,
            "end_date": item.end_date,
            "source_url": item.source_url,
        }
        if row is None:
            session.add(Membership(body_id=body_id, platform_id=item.platform_id, **values))
            result.added += 1
        elif _apply(row, values):
            result.updated += 1
        return result

    def _matter(self, session: Session, item: ScrapedMatter) -> WriteResult:
        result = WriteResult()
        row = session.exec(
            select(Matter).where(
                Matter.jurisdiction_id == self.jurisdiction_id,
                Matter.platform_id == item.platform_id,
            )
        ).first()
        values = item.model_dump(
            exclude={"platform_id", "partial", "documents", "sponsors", "relevance"}
        )
        if item.sponsors is not None:
            values["sponsors"] = list(item.sponsors)
        if item.relevance is not None:
            values.update(item.relevance.model_dump(include=set(RELEVANCE_FIELDS)))
        if row is None:
            row = Matter(
                jurisdiction_id=self.jurisdiction_id, platform_id=item.platform_id, **values
            )
            session.add(row)
            session.flush()
            result.added += 1
        elif _apply(row, values, fill_only=item.partial):
            result.updated += 1
        assert row.id is not None
        self.matters[item.platform_id] = row.id
        self._documents(session, item.documents, matter_id=row.id)
        if row.relevant:
            items = session.exec(select(AgendaItem).where(AgendaItem.matter_id == row.id))
            self._inherit(items, "matter", row)
        return result

    @staticmethod
    def _inherit(items: Iterable[AgendaItem], source: str, row: Any) -> None:
        """Items whose own text did not match take the relevance of a matching source."""
        for item in items:
            if item.relevance_source in (None, source):
                _apply(
                    item,
                    {**{n: getattr(row, n) for n in RELEVANCE_FIELDS}, "relevance_source": source},
                )

    def _meeting(self, session: Session, item: ScrapedMeeting) -> WriteResult:
        result = WriteResult()
        body_id = (
            self._body_id(session, item.body_platform_id, item.body_name)
            if item.body_platform_id
            else None
        )
        row = session.exec(
            select(Meeting).where(
                Meeting.jurisdiction_id == self.jurisdiction_id,
                Meeting.platform == item.platform,
                Meeting.platform_id == item.platform_id,
            )
        ).first()
        values: dict[str, Any] = item.model_dump(
            exclude={
                "platform",
                "platform_id",
                "body_platform_id",
                "body_name",
                "documents",
                "platform_version",
            }
        )
        values["body_id"] = body_id
        values["status"] = str(item.status)
        if row is None:
            row = Meeting(
                jurisdiction_id=self.jurisdiction_id,
                platform=item.platform,
                platform_id=item.platform_id,
                timezone=self._timezone(session),
                **values,
            )
            session.add(row)
            session.flush()
            result.added += 1
            self._log(
                session,
                ChangeKind.MEETING_ADDED,
                result,
                meeting_id=row.id,
                details={
                    "start": item.start,
                    "title": item.title,
                    "status": item.status,
                    "agenda_published": bool(item.agenda_published_at or item.agenda_url),
                },
            )
        else:
            result.merge(self._meeting_changes(session, row, item, values))
        assert row.id is not None
        self.meetings[(item.platform, item.platform_id)] = row.id
        self._documents(session, item.documents, meeting_id=row.id)
        return result

    def _timezone(self, session: Session) -> str:
        jurisdiction = session.get(Jurisdiction, self.jurisdiction_id)
        assert jurisdiction is not None
        return jurisdiction.timezone

    def _meeting_changes(
        self, session: Session, row: Meeting, item: ScrapedMeeting, values: dict[str, Any]
    ) -> WriteResult:
        result = WriteResult()
        returned = row.removed_at is not None
        if returned:
            row.removed_at = None
        moved = item.start is not None and row.start is not None and row.start != item.start
        if item.status == MeetingStatus.SCHEDULED and (
            moved or row.status == MeetingStatus.RESCHEDULED
        ):
            values["status"] = str(MeetingStatus.RESCHEDULED)
        changed = _apply(row, values)
        if changed or returned:
            result.updated += 1
        meeting_id = row.id
        if returned:
            self._log(
                session,
                ChangeKind.MEETING_ADDED,
                result,
                meeting_id=meeting_id,
                details={"returned": True, "start": row.start, "title": row.title},
            )
        if "start" in changed:
            old, new = changed["start"]
            self._log(
                session,
                ChangeKind.MEETING_RESCHEDULED,
                result,
                meeting_id=meeting_id,
                details={"old_start": old, "new_start": new},
            )
        if "status" in changed:
            old, new = changed["status"]
            if new == MeetingStatus.CANCELLED:
                self._log(
                    session,
                    ChangeKind.MEETING_CANCELLED,
                    result,
                    meeting_id=meeting_id,
                    details={"start": row.start, "previous_status": old},
                )
            elif old == MeetingStatus.CANCELLED:
                self._log(
                    session,
                    ChangeKind.MEETING_UPDATED,
                    result,
                    meeting_id=meeting_id,
                    details={"status": [old, new], "reinstated": True},
                )
        if "agenda_published_at" in changed:
            old, new = changed["agenda_published_at"]
            kind = ChangeKind.AGENDA_PUBLISHED if old is None else ChangeKind.AGENDA_REVISED
            self._log(
                session,
                kind,
                result,
                meeting_id=meeting_id,
                details={"published_at": new, "previous": old, "agenda_url": row.agenda_url},
            )
        elif "agenda_url" in changed and changed["agenda_url"][0] is None:
            self._log(
                session,
                ChangeKind.AGENDA_PUBLISHED,
                result,
                meeting_id=meeting_id,
                details={"agenda_url": row.agenda_url},
            )
        if ("minutes_published_at" in changed and changed["minutes_published_at"][0] is None) or (
            "minutes_url" in changed
            and changed["minutes_url"][0] is None
            and "minutes_published_at" not in changed
        ):
            self._log(
                session,
                ChangeKind.MINUTES_PUBLISHED,
                result,
                meeting_id=meeting_id,
                details={"minutes_url": row.minutes_url},
            )
        news = {k: changed[k] for k in MEETING_NEWS_FIELDS if k in changed}
        if news:
            self._log(
                session,
                ChangeKind.MEETING_UPDATED,
                result,
                meeting_id=meeting_id,
                details={k: [_jsonable(o), _jsonable(n)] for k, (o, n) in news.items()},
            )
        return result

    def _agenda(self, session: Session, agenda: ScrapedAgenda) -> WriteResult:
        result = WriteResult()
        meeting_id = self._meeting_id(session, agenda.meeting_platform, agenda.meeting_platform_id)
        stored = {
            row.platform_id: row
            for row in session.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id))
        }
        inherited = self._relevant_documents(session, [r.id for r in stored.values() if r.id])
        seen: set[str] = set()
        for item in agenda.items:
            if item.platform_id in seen:
                continue
            seen.add(item.platform_id)
            values: dict[str, Any] = item.model_dump(
                exclude={"platform_id", "matter_platform_id", "documents", "relevance"}
            )
            values["matter_id"] = (
                self._matter_id(session, item.matter_platform_id)
                if item.matter_platform_id
                else None
            )
            row = stored.get(item.platform_id)
            matter = session.get(Matter, values["matter_id"]) if values["matter_id"] else None
            merged = relevance_values(
                item.relevance,
                ("matter", matter),
                ("document", inherited.get(row.id) if row and row.id else None),
            )
            if merged is not None:
                values.update(merged)
            if row is None:
                row = AgendaItem(meeting_id=meeting_id, platform_id=item.platform_id, **values)
                session.add(row)
                session.flush()
                result.added += 1
                self._log(
                    session,
                    ChangeKind.ITEM_ADDED,
                    result,
                    meeting_id=meeting_id,
                    agenda_item_id=row.id,
                    details={
                        "title": item.title,
                        "number": item.number,
                        "relevant": row.relevant,
                        "category": row.category,
                    },
                )
            else:
                returned = row.removed_at is not None
                row.removed_at = None
                changed = _apply(row, values)
                if changed or returned:
                    result.updated += 1
                if returned:
                    self._log(
                        session,
                        ChangeKind.ITEM_ADDED,
                        result,
                        meeting_id=meeting_id,
                        agenda_item_id=row.id,
                        details={"title": row.title, "returned": True},
                    )
                news = {k: changed[k] for k in ITEM_NEWS_FIELDS if k in changed}
                if news:
                    self._log(
                        session,
                        ChangeKind.ITEM_UPDATED,
                        result,
                        meeting_id=meeting_id,
                        agenda_item_id=row.id,
                        details={k: [_jsonable(o), _jsonable(n)] for k, (o, n) in news.items()},
                    )
            self._documents(session, item.documents, agenda_item_id=row.id)
        if agenda.complete:
            meeting = session.get(Meeting, meeting_id)
            if meeting is not None and agenda.meeting_version:
                meeting.platform_version = agenda.meeting_version
            now = utcnow()
            for platform_id, row in stored.items():
                if platform_id not in seen and row.removed_at is None:
                    row.removed_at = now
                    result.updated += 1
                    self._log(
                        session,
                        ChangeKind.ITEM_REMOVED,
                        result,
                        meeting_id=meeting_id,
                        agenda_item_id=row.id,
                        details={"title": row.title, "number": row.number},
                    )
        return result

    def _vote_event(self, session: Session, item: ScrapedVoteEvent) -> WriteResult:
        result = WriteResult()
        meeting_id = self._meeting_id(session, item.meeting_platform, item.meeting_platform_id)
        agenda_item_id = session.exec(
            select(AgendaItem.id).where(
                AgendaItem.meeting_id == meeting_id, AgendaItem.platform_id == item.item_platform_id
            )
        ).first()
        if agenda_item_id is None:
            raise LookupError(f"agenda item {item.item_platform_id} is not stored")
        meeting = session.get(Meeting, meeting_id)
        assert meeting is not None
        meeting_day = (
            meeting.start.astimezone(ZoneInfo(meeting.timezone)).date() if meeting.start else None
        )
        values: dict[str, Any] = {
            "motion": item.motion,
            "action": item.action,
            "result": item.result,
            "tally": item.tally,
            "source_url": item.source_url,
        }
        values.update(self._counts(item))
        event = session.exec(
            select(VoteEvent).where(
                VoteEvent.agenda_item_id == agenda_item_id,
                VoteEvent.source == item.source,
                VoteEvent.platform_id == item.platform_id,
            )
        ).first()
        new_event = event is None
        if event is None:
            event = VoteEvent(
                agenda_item_id=agenda_item_id,
                platform_id=item.platform_id,
                source=item.source,
                **values,
            )
            session.add(event)
            session.flush()
            result.added += 1
        elif _apply(event, values):
            result.updated += 1
        assert event.id is not None
        stored = {
            v.person_id: v for v in session.exec(select(Vote).where(Vote.vote_event_id == event.id))
        }
        revised: list[dict[str, Any]] = []
        for vote in item.votes:
            if vote.person_platform_id is not None:
                person_id = self._person_id(session, vote.person_platform_id, vote.name)
            else:
                # A name from minutes or a web page: the body's roster on the meeting's date.
                person_id = resolve_person(
                    session,
                    self.jurisdiction_id,
                    vote.name,
                    body_id=meeting.body_id,
                    on=meeting_day,
                )
            vote_values: dict[str, Any] = {
                "raw_value": vote.raw_value,
                "value": None if vote.value is None else str(vote.value),
                "platform_id": vote.platform_id,
                "inferred": vote.inferred,
            }
            existing = stored.get(person_id)
            if existing is None:
                stored[person_id] = Vote(vote_event_id=event.id, person_id=person_id, **vote_values)
                session.add(stored[person_id])
                result.added += 1
                if not new_event:
                    revised.append({"person": vote.name, "old": None, "new": vote.raw_value})
            else:
                changed = _apply(existing, vote_values)
                if changed:
                    result.updated += 1
                if "raw_value" in changed or "value" in changed:
                    revised.append(
                        {
                            "person": vote.name,
                            "old": changed.get("raw_value", (existing.raw_value,))[0],
                            "new": vote.raw_value,
                        }
                    )
        details = {"motion": item.motion, "result": item.result, "tally": item.tally, **values}
        if new_event:
            self._log(
                session,
                ChangeKind.VOTE_RECORDED,
                result,
                meeting_id=meeting_id,
                agenda_item_id=agenda_item_id,
                vote_event_id=event.id,
                details=details,
            )
        elif revised:
            self._log(
                session,
                ChangeKind.VOTE_REVISED,
                result,
                meeting_id=meeting_id,
                agenda_item_id=agenda_item_id,
                vote_event_id=event.id,
                details={**details, "revised": len(revised)},
            )
        return result

    @staticmethod
    def _counts(item: ScrapedVoteEvent) -> dict[str, int]:
        yes = sum(1 for v in item.votes if v.value in _YES)
        no = sum(1 for v in item.votes if v.value in _NO)
        return {"yes_count": yes, "no_count": no, "other_count": len(item.votes) - yes - no}

    def _listing(self, session: Session, listing: MeetingListing) -> WriteResult:
        result = WriteResult()
        rows = session.exec(
            select(Meeting).where(
                Meeting.jurisdiction_id == self.jurisdiction_id,
                Meeting.platform == listing.platform,
                col(Meeting.removed_at).is_(None),
                col(Meeting.start) >= listing.window_start,
                col(Meeting.start) < listing.window_end,
            )
        )
        now = utcnow()
        for row in rows:
            if row.platform_id not in listing.meeting_platform_ids:
                row.removed_at = now
                result.updated += 1
                self._log(
                    session,
                    ChangeKind.MEETING_REMOVED,
                    result,
                    meeting_id=row.id,
                    details={
                        "start": row.start,
                        "title": row.title,
                        "note": "missing from a complete listing of its window",
                    },
                )
        return result

    # -- documents -------------------------------------------------------------------------
    def _document_row(self, session: Session, url: str, kind: str, name: str | None) -> Document:
        doc = session.exec(
            select(Document).where(
                Document.jurisdiction_id == self.jurisdiction_id, Document.url == url
            )
        ).first()
        if doc is None:
            doc = Document(jurisdiction_id=self.jurisdiction_id, url=url, kind=kind, name=name)
            session.add(doc)
            session.flush()
        return doc

    def _fetched(self, session: Session, item: ScrapedDocument) -> WriteResult:
        """A fetch that brought no new bytes: unchanged (304), gone, or failed."""
        result = WriteResult()
        doc = self._document_row(session, item.url, item.kind, item.name)
        doc.checked_at = item.retrieved_at
        error = None if item.status == 304 else item.error
        if _apply(doc, {"error": error}):
            result.updated += 1
        return result

    def _document_text(self, session: Session, item: DocumentText) -> WriteResult:
        result = WriteResult()
        fetched = item.document
        assert fetched.body is not None
        body = fetched.body
        digest = self.store.blobs.put(body) if self.store.blobs else sha256_of(body)
        doc = self._document_row(session, fetched.url, fetched.kind, fetched.name)
        doc.checked_at = fetched.retrieved_at
        _apply(doc, {"error": None, "etag": fetched.etag, "last_modified": fetched.last_modified})
        latest = session.exec(
            select(DocumentVersion)
            .where(DocumentVersion.document_id == doc.id)
            .order_by(col(DocumentVersion.number).desc())
        ).first()
        if latest is not None and latest.sha256 == digest:
            return result  # the same content again
        relevance = (
            item.relevance.model_dump(include=set(RELEVANCE_FIELDS))
            if (item.relevance is not None)
            else {}
        )
        assert doc.id is not None
        version = DocumentVersion(
            document_id=doc.id,
            number=(latest.number + 1) if latest else 1,
            sha256=digest,
            retrieved_at=fetched.retrieved_at,
            content_type=item.content_type,
            declared_type=fetched.declared_type,
            bytes=len(body),
            pages=len(item.pages),
            needs_ocr=item.needs_ocr,
            ocr_used=item.ocr_used,
            error=item.error,
            warning=item.warning,
            warc_record=fetched.warc_record,
            **relevance,
        )
        session.add(version)
        session.flush()
        assert version.id is not None
        for number, text in enumerate(item.pages, start=1):
            session.add(DocumentPage(version_id=version.id, number=number, text=text))
        result.added += 1 + len(item.pages)
        _apply(
            doc,
            {
                "versions": version.number,
                "sha256": digest,
                "retrieved_at": fetched.retrieved_at,
                "content_type": item.content_type,
                "bytes": len(body),
                "pages": len(item.pages),
                "needs_ocr": item.needs_ocr,
            },
        )
        links = session.exec(select(DocumentLink).where(DocumentLink.document_id == doc.id)).all()
        if latest is not None:
            meeting_id = next((link.meeting_id for link in links if link.meeting_id), None)
            if meeting_id is None:
                item_ids = [link.agenda_item_id for link in links if link.agenda_item_id]
                if item_ids:
                    meeting_id = session.exec(
                        select(AgendaItem.meeting_id).where(col(AgendaItem.id).in_(item_ids))
                    ).first()
            self._log(
                session,
                ChangeKind.DOCUMENT_REVISED,
                result,
                meeting_id=meeting_id,
                document_id=doc.id,
                details={
                    "url": doc.url,
                    "name": doc.name,
                    "kind": doc.kind,
                    "version": version.number,
                    "previous_sha256": latest.sha256,
                    "sha256": digest,
                },
            )
        if version.relevant:
            item_ids = [link.agenda_item_id for link in links if link.agenda_item_id]
            if item_ids:
                items = session.exec(select(AgendaItem).where(col(AgendaItem.id).in_(item_ids)))
                self._inherit(items, "document", _DocumentRelevance(version, doc.id))
        return result

    @staticmethod
    def _relevant_documents(session: Session, item_ids: list[int]) -> dict[int, Any]:
        """For each of these items, the newest relevant version of a document linked to it."""
        if not item_ids:
            return {}
        rows = session.exec(
            select(DocumentLink.agenda_item_id, DocumentVersion)
            .join(Document, col(DocumentLink.document_id) == col(Document.id))
            .join(
                DocumentVersion,
                (col(DocumentVersion.document_id) == col(Document.id))
                & (col(DocumentVersion.number) == col(Document.versions)),
            )
            .where(
                col(DocumentLink.agenda_item_id).in_(item_ids),
                col(DocumentVersion.relevant).is_(True),
            )
        )
        return {
            item_id: _DocumentRelevance(version, version.document_id)
            for item_id, version in rows
            if item_id is not None
        }


class _DocumentRelevance:
    """A document version's relevance, its matches marked with the document they came from."""

    def __init__(self, version: DocumentVersion, document_id: int) -> None:
        self.relevant = version.relevant
        self.score = version.score
        self.category = version.category
        self.direction = version.direction
        self.matches = [{**m, "document_id": document_id} for m in version.matches]
