"""Derived views: votes, items and meetings as rows a reporter can read, cite and export.

Everything here is read from the stored data on demand; nothing is stored by hand. Times are
shown in each meeting's local timezone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from tracker.models import (
    AgendaItem,
    Body,
    CrawlRun,
    Jurisdiction,
    Matter,
    Meeting,
    Membership,
    Person,
    Vote,
    VoteEvent,
)


def local_time(value: datetime | None, timezone: str) -> datetime | None:
    return None if value is None else value.astimezone(ZoneInfo(timezone))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class VoteRow:
    jurisdiction: str
    body: str | None
    meeting_start: str | None
    timezone: str
    item_number: str | None
    matter_file: str | None
    title: str
    relevant: bool
    category: str | None
    direction: str | None
    motion: str | None
    action: str | None
    result: str | None
    person: str
    value: str | None
    raw_value: str
    source: str
    source_url: str | None
    meeting_url: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ItemRow:
    jurisdiction: str
    body: str | None
    meeting_start: str | None
    timezone: str
    item_number: str | None
    matter_file: str | None
    title: str
    relevant: bool
    category: str | None
    direction: str | None
    score: float | None
    why: str
    action: str | None
    result: str | None
    consent: bool
    removed: bool
    source_url: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MeetingRow:
    jurisdiction: str
    body: str | None
    title: str | None
    start: str | None
    timezone: str
    status: str
    location: str | None
    virtual_link: str | None
    agenda_url: str | None
    minutes_url: str | None
    items: int
    relevant_items: int
    removed: bool
    source_url: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def explain(matches: list[dict[str, Any]]) -> str:
    """The matched passages, as a reader sees them: 'text' (rule)."""
    seen: dict[str, str] = {}
    for match in matches:
        seen.setdefault(str(match.get("text")), str(match.get("rule")))
    return "; ".join(f"“{text}” ({rule})" for text, rule in seen.items())


def vote_fields(
    vote: Vote,
    event: VoteEvent,
    item: AgendaItem,
    meeting: Meeting,
    juris: Jurisdiction,
    who: Person,
    body: Body | None,
    matter: Matter | None,
) -> dict[str, Any]:
    """The columns of a VoteRow, from one vote and the rows it hangs from."""
    return {
        "jurisdiction": juris.slug,
        "body": body.name if body else None,
        "meeting_start": _iso(local_time(meeting.start, meeting.timezone)),
        "timezone": meeting.timezone,
        "item_number": item.number,
        "matter_file": matter.file_number if matter else None,
        "title": item.title,
        "relevant": item.relevant,
        "category": item.category,
        "direction": item.direction,
        "motion": event.motion,
        "action": event.action,
        "result": event.result,
        "person": who.name,
        "value": vote.value,
        "raw_value": vote.raw_value,
        "source": event.source,
        "source_url": event.source_url,
        "meeting_url": meeting.source_url,
    }


def vote_rows(
    engine: Engine,
    *,
    jurisdiction: str | None = None,
    person: str | None = None,
    relevant: bool = False,
) -> Iterator[VoteRow]:
    with Session(engine) as session:
        query = (
            select(Vote, VoteEvent, AgendaItem, Meeting, Jurisdiction, Person, Body, Matter)
            .join(VoteEvent, col(Vote.vote_event_id) == VoteEvent.id)
            .join(AgendaItem, col(VoteEvent.agenda_item_id) == AgendaItem.id)
            .join(Meeting, col(AgendaItem.meeting_id) == Meeting.id)
            .join(Jurisdiction, col(Meeting.jurisdiction_id) == Jurisdiction.id)
            .join(Person, col(Vote.person_id) == Person.id)
            .outerjoin(Body, col(Meeting.body_id) == Body.id)
            .outerjoin(Matter, col(AgendaItem.matter_id) == Matter.id)
        )
        if jurisdiction:
            query = query.where(col(Jurisdiction.slug) == jurisdiction)
        if person:
            query = query.where(func.lower(col(Person.name)).contains(person.strip().lower()))
        if relevant:
            query = query.where(col(AgendaItem.relevant).is_(True))
        query = query.order_by(
            col(Meeting.start),
            col(Meeting.id),
            col(AgendaItem.sequence),
            col(AgendaItem.id),
            col(VoteEvent.id),
            col(Person.name),
        )
        for row in session.execute(query):
            yield VoteRow(**vote_fields(*row))


def item_rows(
    engine: Engine, *, jurisdiction: str | None = None, relevant: bool = False
) -> Iterator[ItemRow]:
    with Session(engine) as session:
        query = (
            select(AgendaItem, Meeting, Jurisdiction, Body, Matter)
            .join(Meeting, col(AgendaItem.meeting_id) == Meeting.id)
            .join(Jurisdiction, col(Meeting.jurisdiction_id) == Jurisdiction.id)
            .outerjoin(Body, col(Meeting.body_id) == Body.id)
            .outerjoin(Matter, col(AgendaItem.matter_id) == Matter.id)
        )
        if jurisdiction:
            query = query.where(col(Jurisdiction.slug) == jurisdiction)
        if relevant:
            query = query.where(col(AgendaItem.relevant).is_(True))
        query = query.order_by(
            col(Meeting.start), col(Meeting.id), col(AgendaItem.sequence), col(AgendaItem.id)
        )
        for item, meeting, juris, body, matter in session.execute(query):
            yield ItemRow(
                jurisdiction=juris.slug,
                body=body.name if body else None,
                meeting_start=_iso(local_time(meeting.start, meeting.timezone)),
                timezone=meeting.timezone,
                item_number=item.number,
                matter_file=matter.file_number if matter else None,
                title=item.title,
                relevant=item.relevant,
                category=item.category,
                direction=item.direction,
                score=item.score,
                why=explain(item.matches),
                action=item.action,
                result=item.result,
                consent=item.consent,
                removed=item.removed_at is not None,
                source_url=item.source_url,
            )


def meeting_rows(
    engine: Engine, *, jurisdiction: str | None = None, relevant: bool = False
) -> Iterator[MeetingRow]:
    counted = aliased(AgendaItem)
    with Session(engine) as session:
        totals = (
            select(
                col(counted.meeting_id),
                func.count().label("item_count"),
                func.sum(case((col(counted.relevant).is_(True), 1), else_=0)).label("hits"),
            )
            .where(col(counted.removed_at).is_(None))
            .group_by(col(counted.meeting_id))
            .subquery()
        )
        query = (
            select(Meeting, Jurisdiction, Body, totals.c.item_count, totals.c.hits)
            .join(Jurisdiction, col(Meeting.jurisdiction_id) == Jurisdiction.id)
            .outerjoin(Body, col(Meeting.body_id) == Body.id)
            .outerjoin(totals, totals.c.meeting_id == Meeting.id)
        )
        if jurisdiction:
            query = query.where(col(Jurisdiction.slug) == jurisdiction)
        if relevant:
            query = query.where(totals.c.hits > 0)
        query = query.order_by(col(Meeting.start), col(Meeting.id))
        for meeting, juris, body, items, hits in session.execute(query):
            yield MeetingRow(
                jurisdiction=juris.slug,
                body=body.name if body else None,
                title=meeting.title,
                start=_iso(local_time(meeting.start, meeting.timezone)),
                timezone=meeting.timezone,
                status=meeting.status,
                location=meeting.location,
                virtual_link=meeting.virtual_link,
                agenda_url=meeting.agenda_url,
                minutes_url=meeting.minutes_url,
                items=int(items or 0),
                relevant_items=int(hits or 0),
                removed=meeting.removed_at is not None,
                source_url=meeting.source_url,
            )


@dataclass(frozen=True)
class JurisdictionStatus:
    slug: str
    name: str
    last_run: CrawlRun | None
    meetings: int
    items: int
    relevant_items: int
    votes: int


def _count_by_jurisdiction(session: Session, query: Any) -> dict[int, int]:
    return {jid: int(n) for jid, n in session.execute(query)}


def jurisdiction_status(engine: Engine) -> list[JurisdictionStatus]:
    jid = col(Meeting.jurisdiction_id)
    item_meeting = col(AgendaItem.meeting_id) == col(Meeting.id)
    with Session(engine) as session:
        meetings = _count_by_jurisdiction(session, select(jid, func.count()).group_by(jid))
        items = _count_by_jurisdiction(
            session,
            select(jid, func.count())
            .select_from(AgendaItem)
            .join(Meeting, item_meeting)
            .group_by(jid),
        )
        relevant = _count_by_jurisdiction(
            session,
            select(jid, func.count())
            .select_from(AgendaItem)
            .join(Meeting, item_meeting)
            .where(col(AgendaItem.relevant).is_(True))
            .group_by(jid),
        )
        votes = _count_by_jurisdiction(
            session,
            select(jid, func.count())
            .select_from(Vote)
            .join(VoteEvent, col(Vote.vote_event_id) == col(VoteEvent.id))
            .join(AgendaItem, col(VoteEvent.agenda_item_id) == col(AgendaItem.id))
            .join(Meeting, item_meeting)
            .group_by(jid),
        )
        last_ids = select(func.max(col(CrawlRun.id))).group_by(col(CrawlRun.jurisdiction_id))
        runs = {
            run.jurisdiction_id: run
            for run in session.scalars(select(CrawlRun).where(col(CrawlRun.id).in_(last_ids)))
        }
        return [
            JurisdictionStatus(
                j.slug,
                j.name,
                runs.get(j.id or 0),
                meetings.get(j.id or 0, 0),
                items.get(j.id or 0, 0),
                relevant.get(j.id or 0, 0),
                votes.get(j.id or 0, 0),
            )
            for j in session.scalars(select(Jurisdiction).order_by(col(Jurisdiction.slug)))
        ]


@dataclass(frozen=True)
class BodyMembers:
    jurisdiction: str
    body: str
    kind: str
    members: list[tuple[str, str | None]]  # (name, role)


def body_members(engine: Engine, *, jurisdiction: str | None = None) -> list[BodyMembers]:
    """Each body with its current members (no end date, or one still ahead)."""
    with Session(engine) as session:
        query = (
            select(Body, Jurisdiction, Person, Membership)
            .join(Jurisdiction, col(Body.jurisdiction_id) == col(Jurisdiction.id))
            .join(Membership, col(Membership.body_id) == col(Body.id))
            .join(Person, col(Membership.person_id) == col(Person.id))
            .where(col(Membership.end_date).is_(None))
            .order_by(
                col(Jurisdiction.slug),
                col(Body.name),
                col(Membership.role).is_(None),
                col(Person.name),
            )
        )
        if jurisdiction:
            query = query.where(col(Jurisdiction.slug) == jurisdiction)
        grouped: dict[tuple[str, str], BodyMembers] = {}
        for body, juris, person, membership in session.execute(query):
            key = (juris.slug, body.name)
            if key not in grouped:
                grouped[key] = BodyMembers(juris.slug, body.name, body.kind, [])
            grouped[key].members.append((person.name, membership.role))
        for group in grouped.values():
            # Officers first, then by last name, as councils list themselves.
            group.members.sort(key=lambda m: (m[1] is None, m[0].split()[-1].casefold()))
        return list(grouped.values())
