"""What the public pages show, read from the database as plain data (templates never query).

One function per page; each takes an open session and returns frozen dataclasses that carry
everything the template needs, including the stable keys of every linked page
(tracker/web_keys.py) and the source of every fact: meetings, items and votes their source
URL and, where the document was fetched, its hash and retrieval time.

Reading rules shared with the digests (tracker/digest.py): an item is an ICE item when the
classifier marked it relevant; why it matched is the matched passages; the public-comment
rules and the deadline come from the registry entry; members are those of the body on the
meeting's day. Procedural votes and the direction of a vote are tracker/stances.py's rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlmodel import Session, col

from tracker.digest import CommentInfo, match_item
from tracker.models import (
    AgendaItem,
    Body,
    Document,
    DocumentLink,
    Jurisdiction,
    Matter,
    Meeting,
    MeetingStatus,
    Membership,
    Person,
    Statement,
    Vote,
    VoteEvent,
    VoteValue,
)
from tracker.registry import Registry
from tracker.stances import cooperation_effect, is_procedural
from tracker.subscribers import Filters
from tracker.web_keys import item_anchor, meeting_key, person_key, url_key

ABSENT = frozenset({VoteValue.ABSENT.value, VoteValue.EXCUSED.value})
ABSTAINED = frozenset({VoteValue.ABSTAIN.value, VoteValue.RECUSED.value})
# A meeting stays "upcoming" for a few hours after it starts: people are still on their way.
STARTED_GRACE = timedelta(hours=3)
# A place's or body's page lists its newest ICE items; the JSON API has them all.
ICE_LIST_LIMIT = 60


@dataclass(frozen=True)
class Place:
    slug: str
    name: str
    state: str
    timezone: str
    id: int = 0
    meetings: int = 0
    ice_items: int = 0


@dataclass(frozen=True)
class BodyRef:
    key: str
    name: str
    kind: str


@dataclass(frozen=True)
class DocRef:
    url: str
    name: str | None
    kind: str
    sha256: str | None
    retrieved_at: datetime | None
    versions: int


@dataclass(frozen=True)
class MeetingView:
    key: str
    place: Place
    body: BodyRef | None
    title: str | None
    start: datetime | None
    timezone: str
    time_text: str | None
    location: str | None
    virtual_link: str | None
    status: str
    removed: bool
    agenda_url: str | None
    minutes_url: str | None
    video_url: str | None
    source_url: str | None
    ice_items: int = 0

    @property
    def cancelled(self) -> bool:
        return self.status == MeetingStatus.CANCELLED


@dataclass(frozen=True)
class MemberVoteView:
    person_key: str | None
    person: str
    value: str | None
    raw_value: str


@dataclass(frozen=True)
class EventView:
    motion: str | None
    action: str | None
    result: str | None
    tally: str | None
    yes: int
    no: int
    other: int
    procedural: bool
    divided: bool
    source: str
    source_url: str | None
    document: DocRef | None
    votes: tuple[MemberVoteView, ...]


@dataclass(frozen=True)
class ItemView:
    anchor: str
    number: str | None
    title: str
    relevant: bool
    category: str | None
    direction: str | None
    why: tuple[str, ...]
    consent: bool
    action: str | None
    result: str | None
    tally: str | None
    removed: bool
    source_url: str | None
    matter_key: str | None
    matter_file: str | None
    events: tuple[EventView, ...] = ()


@dataclass(frozen=True)
class MemberView:
    key: str
    name: str
    role: str | None
    email: str | None
    phone: str | None
    website: str | None
    source_url: str | None


@dataclass(frozen=True)
class Card:
    """An organizer's action card: a meeting with ICE items and how to take part."""

    meeting: MeetingView
    items: tuple[ItemView, ...]
    comment: CommentInfo | None
    members: tuple[MemberView, ...]


# -- shared readers -------------------------------------------------------------------------


def ice_item_ids(*, category: str | None = None, live: bool = True) -> Any:
    """The ids of ICE items, as a subquery.

    Queries say ``AgendaItem.id IN (this)`` rather than ``relevant = true`` on a join: with
    ICE items a few percent of all items, that makes SQLite walk the index on ``relevant``
    instead of every item of every meeting (PostgreSQL plans both alike).
    """
    query = select(col(AgendaItem.id)).where(col(AgendaItem.relevant).is_(True))
    if live:
        query = query.where(col(AgendaItem.removed_at).is_(None))
    if category:
        query = query.where(col(AgendaItem.category) == category)
    return query


def ice_meeting_ids(*, category: str | None = None, live: bool = True) -> Any:
    """The ids of meetings with ICE items, as a subquery (see :func:`ice_item_ids`)."""
    query = select(col(AgendaItem.meeting_id)).where(col(AgendaItem.relevant).is_(True))
    if live:
        query = query.where(col(AgendaItem.removed_at).is_(None))
    if category:
        query = query.where(col(AgendaItem.category) == category)
    return query


def place_of(j: Jurisdiction) -> Place:
    return Place(j.slug, j.name, j.state, j.timezone, j.id or 0)


def body_ref(body: Body | None) -> BodyRef | None:
    return None if body is None else BodyRef(url_key(body.platform_id), body.name, body.kind)


def meeting_view(m: Meeting, place: Place, body: Body | None, ice_items: int = 0) -> MeetingView:
    return MeetingView(
        key=meeting_key(m.platform, m.platform_id),
        place=place,
        body=body_ref(body),
        title=" ".join(m.title.split()) if m.title else None,
        start=m.start,
        timezone=m.timezone,
        time_text=m.time_text,
        location=m.location,
        virtual_link=m.virtual_link,
        status=m.status,
        removed=m.removed_at is not None,
        agenda_url=m.agenda_url,
        minutes_url=m.minutes_url,
        video_url=m.video_url,
        source_url=m.source_url,
        ice_items=ice_items,
    )


_EVERY_ICE_ITEM = Filters()


def _why(item: AgendaItem, matter: Matter | None) -> tuple[str, ...]:
    """The matched passages that made this an ICE item (the digests' explanation)."""
    if not item.relevant or item.id is None:
        return ()
    matched = match_item(item, matter, _EVERY_ICE_ITEM)
    return matched.why if matched else ()


def item_view(
    item: AgendaItem, matter: Matter | None, events: Sequence[EventView] = ()
) -> ItemView:
    return ItemView(
        anchor=item_anchor(item.platform_id),
        number=item.number,
        title=" ".join(item.title.split()),
        relevant=item.relevant,
        category=item.category if item.relevant else None,
        direction=item.direction if item.relevant else None,
        why=_why(item, matter),
        consent=item.consent,
        action=item.action,
        result=item.result,
        tally=item.tally,
        removed=item.removed_at is not None,
        source_url=item.source_url or (matter.source_url if matter else None),
        matter_key=url_key(matter.platform_id) if matter else None,
        matter_file=matter.file_number if matter else None,
        events=tuple(events),
    )


def comment_info(
    registry: Registry, slug: str, start: datetime | None, now: datetime
) -> CommentInfo | None:
    """How and by when to sign up for public comment, from the registry (as the digests do)."""
    entry = registry.entries.get(slug)
    rules = entry.public_comment if entry else None
    if rules is None:
        return None
    deadline_at = None
    if rules.deadline_hours_before is not None and start is not None:
        deadline_at = start - timedelta(hours=rules.deadline_hours_before)
    return CommentInfo(
        how=rules.how,
        signup_url=rules.signup_url,
        email=rules.email,
        phone=rules.phone,
        deadline=rules.deadline,
        deadline_at=deadline_at,
        deadline_passed=deadline_at is not None and deadline_at < now,
        time_limit_minutes=rules.time_limit_minutes,
        notes=rules.notes,
    )


def by_id(session: Session, model: Any, ids: Iterable[int | None]) -> dict[int, Any]:
    wanted = sorted({i for i in ids if i})
    out: dict[int, Any] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        for row in session.execute(select(model).where(col(model.id).in_(part))).scalars():
            out[row.id] = row
    return out


def places(session: Session, *, only: int | None = None) -> list[Place]:
    """Every place in the database (or the one with id ``only``), with its meeting and ICE
    item counts."""
    meeting_query = select(col(Meeting.jurisdiction_id), func.count())
    ice_query = (
        select(col(Meeting.jurisdiction_id), func.count())
        .select_from(AgendaItem)
        .join(Meeting, col(AgendaItem.meeting_id) == col(Meeting.id))
        .where(col(AgendaItem.id).in_(ice_item_ids()))
    )
    place_query = select(Jurisdiction).order_by(col(Jurisdiction.name))
    if only is not None:
        meeting_query = meeting_query.where(col(Meeting.jurisdiction_id) == only)
        ice_query = ice_query.where(col(Meeting.jurisdiction_id) == only)
        place_query = place_query.where(col(Jurisdiction.id) == only)
    meetings: dict[int, int] = {
        jid: n for jid, n in session.execute(meeting_query.group_by(col(Meeting.jurisdiction_id)))
    }
    ice: dict[int, int] = {
        jid: n for jid, n in session.execute(ice_query.group_by(col(Meeting.jurisdiction_id)))
    }
    return [
        Place(
            j.slug,
            j.name,
            j.state,
            j.timezone,
            j.id or 0,
            int(meetings.get(j.id or 0, 0)),
            int(ice.get(j.id or 0, 0)),
        )
        for j in session.execute(place_query).scalars()
    ]


def find_place(session: Session, slug: str) -> Place | None:
    j = session.execute(
        select(Jurisdiction).where(col(Jurisdiction.slug) == slug)
    ).scalar_one_or_none()
    return None if j is None else place_of(j)


def memberships(session: Session, body_ids: Iterable[int]) -> list[tuple[Membership, Person]]:
    ids = sorted(set(body_ids))
    if not ids:
        return []
    return [
        (m, p)
        for m, p in session.execute(
            select(Membership, Person)
            .join(Person, col(Membership.person_id) == col(Person.id))
            .where(col(Membership.body_id).in_(ids))
        ).all()
    ]


def members_on(
    rows: Iterable[tuple[Membership, Person]], day: date | None
) -> dict[int, tuple[MemberView, ...]]:
    """Each body's members on ``day`` (today's members when None), officers first."""
    grouped: dict[int, dict[int, MemberView]] = defaultdict(dict)
    for m, p in rows:
        if day is not None and (
            (m.start_date and m.start_date > day) or (m.end_date and m.end_date < day)
        ):
            continue
        if day is None and m.end_date is not None and m.end_date < date.today():
            continue
        assert p.id is not None
        grouped[m.body_id].setdefault(
            p.id,
            MemberView(
                key=person_key(p.platform_id, p.name),
                name=p.name,
                role=m.role,
                email=p.email,
                phone=p.phone,
                website=p.website,
                source_url=p.source_url or m.source_url,
            ),
        )
    return {
        body_id: tuple(
            sorted(people.values(), key=lambda v: (v.role is None, v.name.split()[-1].casefold()))
        )
        for body_id, people in grouped.items()
    }


def members_of(
    session: Session, body_ids: Iterable[int], day: date | None
) -> dict[int, tuple[MemberView, ...]]:
    return members_on(memberships(session, body_ids), day)


def documents_by_url(
    session: Session, jurisdiction_id: int, urls: Iterable[str | None]
) -> dict[str, DocRef]:
    wanted = sorted({u for u in urls if u})
    found: dict[str, DocRef] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        for d in session.execute(
            select(Document).where(
                col(Document.jurisdiction_id) == jurisdiction_id, col(Document.url).in_(part)
            )
        ).scalars():
            found[d.url] = _doc(d)
    return found


def _doc(d: Document) -> DocRef:
    return DocRef(d.url, d.name, d.kind, d.sha256, d.retrieved_at, d.versions)


def events_for_items(
    session: Session, items: Sequence[AgendaItem], jurisdiction_id: int
) -> dict[int, list[EventView]]:
    """Every vote on these items, with each member's vote and the cited document."""
    item_ids = [i.id for i in items if i.id is not None]
    if not item_ids:
        return {}
    action_of = {i.id: i.action for i in items}
    events = list(
        session.execute(
            select(VoteEvent)
            .where(col(VoteEvent.agenda_item_id).in_(item_ids))
            .order_by(col(VoteEvent.id))
        ).scalars()
    )
    if not events:
        return {}
    event_ids = [e.id for e in events]
    members: dict[int, list[MemberVoteView]] = defaultdict(list)
    for vote, person in session.execute(
        select(Vote, Person)
        .join(Person, col(Vote.person_id) == col(Person.id))
        .where(col(Vote.vote_event_id).in_(event_ids))
        .order_by(col(Person.name))
    ).all():
        members[vote.vote_event_id].append(
            MemberVoteView(
                person_key(person.platform_id, person.name), person.name, vote.value, vote.raw_value
            )
        )
    docs = by_id(session, Document, (e.document_id for e in events))
    by_url = documents_by_url(
        session, jurisdiction_id, (e.source_url for e in events if not e.document_id)
    )
    grouped: dict[int, list[EventView]] = defaultdict(list)
    for e in events:
        assert e.id is not None
        cast = {v.value for v in members[e.id] if v.value in ("yes", "no", "abstain")}
        doc = _doc(docs[e.document_id]) if e.document_id in docs else by_url.get(e.source_url or "")
        grouped[e.agenda_item_id].append(
            EventView(
                motion=e.motion,
                action=e.action,
                result=e.result,
                tally=e.tally,
                yes=e.yes_count,
                no=e.no_count,
                other=e.other_count,
                procedural=is_procedural(e.motion, e.action or action_of.get(e.agenda_item_id)),
                divided=len(cast) > 1,
                source=e.source,
                source_url=e.source_url,
                document=doc,
                votes=tuple(members[e.id]),
            )
        )
    return grouped


# -- meetings with ICE items ----------------------------------------------------------------


def _ice_meetings(
    session: Session,
    query_filter: Any,
    order: Sequence[Any],
    limit: int,
    *,
    jurisdiction_id: int | None = None,
    body_id: int | None = None,
    person_id: int | None = None,
) -> list[tuple[Meeting, int]]:
    """Meetings with ICE items (and how many), filtered, ordered and limited."""
    # EXISTS per candidate meeting (an index probe each), not IN over every ICE item's meeting:
    # the candidates are few (upcoming, in these places or bodies), the ICE items many.
    has_ice_item = exists().where(
        col(AgendaItem.meeting_id) == col(Meeting.id),
        col(AgendaItem.relevant).is_(True),
        col(AgendaItem.removed_at).is_(None),
    )
    query = select(Meeting).where(has_ice_item, *query_filter)
    if jurisdiction_id is not None:
        query = query.where(col(Meeting.jurisdiction_id) == jurisdiction_id)
    if body_id is not None:
        query = query.where(col(Meeting.body_id) == body_id)
    if person_id is not None:
        bodies = select(col(Membership.body_id)).where(col(Membership.person_id) == person_id)
        query = query.where(col(Meeting.body_id).in_(bodies))
    meetings = list(session.execute(query.order_by(*order).limit(limit)).scalars())
    counts = ice_counts(session, [m.id for m in meetings if m.id is not None])
    return [(m, counts.get(m.id or 0, 0)) for m in meetings]


def ice_counts(session: Session, meeting_ids: Sequence[int]) -> dict[int, int]:
    if not meeting_ids:
        return {}
    return {
        meeting_id: int(n)
        for meeting_id, n in session.execute(
            select(col(AgendaItem.meeting_id), func.count())
            .where(
                col(AgendaItem.meeting_id).in_(list(meeting_ids)),
                col(AgendaItem.relevant).is_(True),
                col(AgendaItem.removed_at).is_(None),
            )
            .group_by(col(AgendaItem.meeting_id))
        ).all()
    }


def _views(session: Session, rows: Sequence[tuple[Meeting, int]]) -> list[MeetingView]:
    js = by_id(session, Jurisdiction, (m.jurisdiction_id for m, _ in rows))
    bodies = by_id(session, Body, (m.body_id for m, _ in rows))
    return [
        meeting_view(m, place_of(js[m.jurisdiction_id]), bodies.get(m.body_id or 0), int(n))
        for m, n in rows
    ]


def upcoming_cards(
    session: Session,
    registry: Registry,
    now: datetime,
    *,
    jurisdiction_id: int | None = None,
    body_id: int | None = None,
    person_id: int | None = None,
    limit: int = 20,
) -> list[Card]:
    """Action cards for the next meetings with ICE items (cancelled ones left out)."""
    rows = _ice_meetings(
        session,
        (
            col(Meeting.start) >= now - STARTED_GRACE,
            col(Meeting.status) != MeetingStatus.CANCELLED,
            col(Meeting.removed_at).is_(None),
        ),
        (col(Meeting.start), col(Meeting.id)),
        limit,
        jurisdiction_id=jurisdiction_id,
        body_id=body_id,
        person_id=person_id,
    )
    return cards_for(session, registry, now, [m for m, _ in rows], _views(session, rows))


def cards_for(
    session: Session,
    registry: Registry,
    now: datetime,
    meetings: Sequence[Meeting],
    views: Sequence[MeetingView],
) -> list[Card]:
    ids = [m.id for m in meetings]
    items = list(
        session.execute(
            select(AgendaItem)
            .where(
                col(AgendaItem.meeting_id).in_(ids),
                col(AgendaItem.relevant).is_(True),
                col(AgendaItem.removed_at).is_(None),
            )
            .order_by(col(AgendaItem.sequence), col(AgendaItem.id))
        ).scalars()
    )
    matters = by_id(session, Matter, (i.matter_id for i in items))
    by_meeting: dict[int, list[ItemView]] = defaultdict(list)
    for item in items:
        by_meeting[item.meeting_id].append(item_view(item, matters.get(item.matter_id or 0)))
    seats: dict[int, list[tuple[Membership, Person]]] = defaultdict(list)
    for row in memberships(session, (m.body_id for m in meetings if m.body_id)):
        seats[row[0].body_id].append(row)
    cards = []
    for m, view in zip(meetings, views, strict=True):
        assert m.id is not None
        day = m.start.astimezone(ZoneInfo(m.timezone)).date() if m.start else None
        members = members_on(seats.get(m.body_id or 0, ()), day)
        cards.append(
            Card(
                meeting=view,
                items=tuple(by_meeting[m.id]),
                comment=comment_info(registry, view.place.slug, m.start, now),
                members=members.get(m.body_id or 0, ()),
            )
        )
    return cards


def recent_ice_meetings(
    session: Session,
    now: datetime,
    *,
    jurisdiction_id: int | None = None,
    body_id: int | None = None,
    person_id: int | None = None,
    limit: int = 10,
) -> list[MeetingView]:
    """Meetings with ICE items that have already happened, newest first."""
    rows = _ice_meetings(
        session,
        (or_(col(Meeting.start) < now - STARTED_GRACE, col(Meeting.start).is_(None)),),
        (col(Meeting.start).desc(), col(Meeting.id).desc()),
        limit,
        jurisdiction_id=jurisdiction_id,
        body_id=body_id,
        person_id=person_id,
    )
    return _views(session, rows)


def recent_meetings(
    session: Session,
    *,
    jurisdiction_id: int,
    body_id: int | None = None,
    limit: int = 30,
) -> list[MeetingView]:
    """The newest meetings of a place or body, ICE items or not, with their ICE item counts."""
    query = select(Meeting).where(col(Meeting.jurisdiction_id) == jurisdiction_id)
    if body_id is not None:
        query = query.where(col(Meeting.body_id) == body_id)
    meetings = list(
        session.execute(
            query.order_by(col(Meeting.start).desc(), col(Meeting.id).desc()).limit(limit)
        ).scalars()
    )
    counts = ice_counts(session, [m.id for m in meetings if m.id is not None])
    return _views(session, [(m, counts.get(m.id or 0, 0)) for m in meetings])


# -- one page each ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BodySummary:
    body: BodyRef
    members: tuple[MemberView, ...]


@dataclass(frozen=True)
class IceItemRow:
    meeting: MeetingView
    item: ItemView


@dataclass(frozen=True)
class PlacePage:
    place: Place
    bodies: tuple[BodySummary, ...]
    cards: tuple[Card, ...]
    ice_items: tuple[IceItemRow, ...]
    meetings: tuple[MeetingView, ...]


def ice_items(
    session: Session,
    *,
    jurisdiction_id: int | None = None,
    body_id: int | None = None,
    limit: int = ICE_LIST_LIMIT,
) -> list[IceItemRow]:
    query = (
        select(AgendaItem, Meeting)
        .join(Meeting, col(AgendaItem.meeting_id) == col(Meeting.id))
        .where(col(AgendaItem.id).in_(ice_item_ids(live=False)))
        .order_by(col(Meeting.start).desc(), col(AgendaItem.sequence), col(AgendaItem.id))
        .limit(limit)
    )
    if jurisdiction_id is not None:
        query = query.where(col(Meeting.jurisdiction_id) == jurisdiction_id)
    if body_id is not None:
        query = query.where(col(Meeting.body_id) == body_id)
    rows = session.execute(query).all()
    views = {v.key: v for v in _views(session, [(m, 0) for _, m in rows])}
    matters = by_id(session, Matter, (i.matter_id for i, _ in rows))
    return [
        IceItemRow(
            views[meeting_key(m.platform, m.platform_id)],
            item_view(i, matters.get(i.matter_id or 0)),
        )
        for i, m in rows
    ]


def place_page(session: Session, registry: Registry, place: Place, now: datetime) -> PlacePage:
    bodies = list(
        session.execute(
            select(Body)
            .where(col(Body.jurisdiction_id) == place.id)
            .order_by(col(Body.kind) != "council", col(Body.name))
        ).scalars()
    )
    members = members_of(session, [b.id for b in bodies if b.id], None)
    summaries = tuple(
        BodySummary(ref, members.get(b.id or 0, ()))
        for b in bodies
        if (ref := body_ref(b)) is not None
    )
    return PlacePage(
        place=place,
        bodies=summaries,
        cards=tuple(upcoming_cards(session, registry, now, jurisdiction_id=place.id)),
        ice_items=tuple(ice_items(session, jurisdiction_id=place.id)),
        meetings=tuple(recent_meetings(session, jurisdiction_id=place.id)),
    )


@dataclass(frozen=True)
class BodyPage:
    place: Place
    body: BodyRef
    active: bool
    members: tuple[MemberView, ...]
    cards: tuple[Card, ...]
    ice_items: tuple[IceItemRow, ...]
    meetings: tuple[MeetingView, ...]


def body_page(
    session: Session, registry: Registry, place: Place, body: Body, now: datetime
) -> BodyPage:
    assert body.id is not None
    ref = body_ref(body)
    assert ref is not None
    return BodyPage(
        place=place,
        body=ref,
        active=body.active,
        members=members_of(session, [body.id], None).get(body.id, ()),
        cards=tuple(upcoming_cards(session, registry, now, body_id=body.id)),
        ice_items=tuple(ice_items(session, body_id=body.id)),
        meetings=tuple(recent_meetings(session, jurisdiction_id=place.id, body_id=body.id)),
    )


@dataclass(frozen=True)
class MeetingPage:
    meeting: MeetingView
    items: tuple[ItemView, ...]
    card: Card | None
    documents: tuple[DocRef, ...]
    members: tuple[MemberView, ...]


def meeting_page(
    session: Session, registry: Registry, place: Place, m: Meeting, now: datetime
) -> MeetingPage:
    assert m.id is not None
    body = session.get(Body, m.body_id) if m.body_id else None
    items = list(
        session.execute(
            select(AgendaItem)
            .where(col(AgendaItem.meeting_id) == m.id)
            .order_by(col(AgendaItem.sequence), col(AgendaItem.id))
        ).scalars()
    )
    matters = by_id(session, Matter, (i.matter_id for i in items))
    relevant = [i for i in items if i.relevant]
    events = events_for_items(session, relevant, place.id)
    views = tuple(
        item_view(i, matters.get(i.matter_id or 0), events.get(i.id or 0, ())) for i in items
    )
    live = [i for i in views if i.relevant and not i.removed]
    view = meeting_view(m, place, body, len(live))
    doc_ids = select(col(DocumentLink.document_id)).where(
        or_(
            col(DocumentLink.meeting_id) == m.id,
            col(DocumentLink.agenda_item_id).in_([i.id for i in items]),
        )
    )
    documents = tuple(
        _doc(d)
        for d in session.execute(
            select(Document)
            .where(
                or_(
                    col(Document.id).in_(doc_ids),
                    and_(
                        col(Document.jurisdiction_id) == place.id,
                        col(Document.url).in_([u for u in (m.agenda_url, m.minutes_url) if u]),
                    ),
                )
            )
            .order_by(col(Document.kind), col(Document.id))
        ).scalars()
    )
    day = m.start.astimezone(ZoneInfo(m.timezone)).date() if m.start else None
    members = members_of(session, [m.body_id], day).get(m.body_id, ()) if m.body_id else ()
    card = None
    if live:
        card = Card(view, tuple(live), comment_info(registry, place.slug, m.start, now), members)
    return MeetingPage(view, views, card, documents, members)


# -- people ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonVote:
    meeting: MeetingView
    item: ItemView
    motion: str | None
    action: str | None
    result: str | None
    value: str | None
    raw_value: str
    procedural: bool
    effect: str | None
    divided: bool
    source_url: str | None
    document: DocRef | None
    event_id: int


@dataclass(frozen=True)
class StatementView:
    stance: str
    quote: str
    paraphrase: bool
    source_url: str
    date: date | None
    person: str
    person_key: str
    item_title: str | None
    meeting: MeetingView | None
    item_anchor: str | None
    matter_key: str | None
    matter_file: str | None


@dataclass(frozen=True)
class GridCell:
    value: str | None
    effect: str | None
    procedural: bool


@dataclass(frozen=True)
class GridRow:
    key: str
    name: str
    highlight: bool
    cells: tuple[GridCell, ...]


@dataclass(frozen=True)
class GridColumn:
    label: str  # the item number, else a running number
    title: str
    start: datetime | None
    timezone: str
    direction: str | None
    procedural: bool
    meeting_key: str
    anchor: str


@dataclass(frozen=True)
class Grid:
    """Members x ICE votes: who voted how, each cell colored by what the vote did."""

    columns: tuple[GridColumn, ...]
    rows: tuple[GridRow, ...]


@dataclass(frozen=True)
class PersonPage:
    place: Place
    key: str
    name: str
    email: str | None
    phone: str | None
    website: str | None
    source_url: str | None
    needs_review: bool
    memberships: tuple[tuple[BodyRef, str | None, date | None, date | None], ...]
    votes: tuple[PersonVote, ...]
    statements: tuple[StatementView, ...]
    counts: dict[str, int]
    grid: Grid
    cards: tuple[Card, ...]

    @property
    def absences(self) -> tuple[PersonVote, ...]:
        return tuple(v for v in self.votes if v.value in ABSENT)


def _person_votes(session: Session, place: Place, person_id: int) -> list[PersonVote]:
    rows = session.execute(
        select(Vote, VoteEvent, AgendaItem, Meeting)
        .join(VoteEvent, col(Vote.vote_event_id) == col(VoteEvent.id))
        .join(AgendaItem, col(VoteEvent.agenda_item_id) == col(AgendaItem.id))
        .join(Meeting, col(AgendaItem.meeting_id) == col(Meeting.id))
        .where(
            col(Vote.person_id) == person_id,
            col(AgendaItem.relevant).is_(True),
            col(AgendaItem.removed_at).is_(None),
        )
        .order_by(col(Meeting.start), col(AgendaItem.sequence), col(VoteEvent.id))
    ).all()
    if not rows:
        return []
    event_ids = [e.id for _, e, _, _ in rows]
    kinds: dict[int, set[str]] = defaultdict(set)
    for event_id, value in session.execute(
        select(col(Vote.vote_event_id), col(Vote.value)).where(
            col(Vote.vote_event_id).in_(event_ids), col(Vote.value).in_(["yes", "no", "abstain"])
        )
    ).all():
        kinds[event_id].add(value)
    bodies = by_id(session, Body, (m.body_id for _, _, _, m in rows))
    matters = by_id(session, Matter, (i.matter_id for _, _, i, _ in rows))
    docs = by_id(session, Document, (e.document_id for _, e, _, _ in rows))
    by_url = documents_by_url(
        session, place.id, (e.source_url for _, e, _, _ in rows if not e.document_id)
    )
    votes = []
    for vote, event, item, m in rows:
        procedural = is_procedural(event.motion, event.action or item.action)
        doc = (
            _doc(docs[event.document_id])
            if event.document_id in docs
            else by_url.get(event.source_url or "")
        )
        votes.append(
            PersonVote(
                meeting=meeting_view(m, place, bodies.get(m.body_id or 0)),
                item=item_view(item, matters.get(item.matter_id or 0)),
                motion=event.motion,
                action=event.action or item.action,
                result=event.result,
                value=vote.value,
                raw_value=vote.raw_value,
                procedural=procedural,
                effect=cooperation_effect(item.direction, vote.value, procedural),
                divided=len(kinds[event.id or 0]) > 1,
                source_url=event.source_url,
                document=doc,
                event_id=event.id or 0,
            )
        )
    return votes


def count_person_votes(votes: Sequence[PersonVote]) -> dict[str, int]:
    """The same counts as tracker.stances.count_votes, for the page's summary."""
    counts = {
        "ice_votes": len(votes),
        "merits": sum(1 for v in votes if not v.procedural),
        "procedural": sum(1 for v in votes if v.procedural),
        "expanded": sum(1 for v in votes if v.effect == "expanded"),
        "limited": sum(1 for v in votes if v.effect == "limited"),
        "absences": sum(1 for v in votes if v.value in ABSENT),
        "abstentions": sum(1 for v in votes if v.value in ABSTAINED),
    }
    return counts


def vote_grid(
    session: Session, votes: Sequence[PersonVote], highlight: str | None, limit: int = 60
) -> Grid:
    """Everyone who voted on these ICE votes (rows) by vote (columns), newest ``limit``."""
    chosen = list(votes)[-limit:]
    event_ids = [v.event_id for v in chosen]
    if not event_ids:
        return Grid((), ())
    cells: dict[tuple[str, int], str | None] = {}
    people: dict[str, str] = {}
    for event_id, value, platform_id, name in session.execute(
        select(col(Vote.vote_event_id), col(Vote.value), col(Person.platform_id), col(Person.name))
        .join(Person, col(Vote.person_id) == col(Person.id))
        .where(col(Vote.vote_event_id).in_(event_ids))
    ).all():
        key = person_key(platform_id, name)
        people[key] = name
        cells[(key, event_id)] = value
    columns = tuple(
        GridColumn(
            label=v.item.number or str(n),
            title=v.item.title,
            start=v.meeting.start,
            timezone=v.meeting.timezone,
            direction=v.item.direction,
            procedural=v.procedural,
            meeting_key=v.meeting.key,
            anchor=v.item.anchor,
        )
        for n, v in enumerate(chosen, 1)
    )
    rows = []
    for key, name in sorted(people.items(), key=lambda kv: (kv[0] != highlight, kv[1])):
        row = []
        for v in chosen:
            value = cells.get((key, v.event_id))
            row.append(
                GridCell(
                    value=value,
                    effect=cooperation_effect(v.item.direction, value, v.procedural),
                    procedural=v.procedural,
                )
            )
        rows.append(GridRow(key, name, key == highlight, tuple(row)))
    return Grid(columns, tuple(rows))


def statement_views(
    session: Session,
    place: Place,
    *,
    person_id: int | None = None,
    matter_id: int | None = None,
    item_ids: Sequence[int] = (),
) -> list[StatementView]:
    """Confirmed statements (suggested ones are shown nowhere until a person confirms them)."""
    query = (
        select(Statement, Person, AgendaItem, Matter, Meeting)
        .join(Person, col(Statement.person_id) == col(Person.id))
        .outerjoin(AgendaItem, col(Statement.agenda_item_id) == col(AgendaItem.id))
        .outerjoin(Matter, col(Statement.matter_id) == col(Matter.id))
        .outerjoin(Meeting, col(AgendaItem.meeting_id) == col(Meeting.id))
        .where(col(Statement.confirmed).is_(True), col(Person.jurisdiction_id) == place.id)
        .order_by(col(Statement.date), col(Statement.id))
    )
    if person_id is not None:
        query = query.where(col(Statement.person_id) == person_id)
    if matter_id is not None or item_ids:
        query = query.where(
            or_(
                col(Statement.matter_id) == matter_id,
                col(Statement.agenda_item_id).in_(list(item_ids)),
            )
        )
    rows = session.execute(query).all()
    bodies = by_id(session, Body, (m.body_id for *_, m in rows if m is not None))
    out = []
    for s, p, item, matter, m in rows:
        out.append(
            StatementView(
                stance=s.stance,
                quote=s.quote,
                paraphrase=s.paraphrase,
                source_url=s.source_url,
                date=s.date,
                person=p.name,
                person_key=person_key(p.platform_id, p.name),
                item_title=item.title if item else (matter.title if matter else None),
                meeting=meeting_view(m, place, bodies.get(m.body_id or 0)) if m else None,
                item_anchor=item_anchor(item.platform_id) if item else None,
                matter_key=url_key(matter.platform_id) if matter else None,
                matter_file=matter.file_number if matter else None,
            )
        )
    return out


def person_page(
    session: Session, registry: Registry, place: Place, person: Person, now: datetime
) -> PersonPage:
    assert person.id is not None
    key = person_key(person.platform_id, person.name)
    memberships = session.execute(
        select(Membership, Body)
        .join(Body, col(Membership.body_id) == col(Body.id))
        .where(col(Membership.person_id) == person.id)
        .order_by(col(Membership.end_date).is_not(None), col(Body.name))
    ).all()
    votes = _person_votes(session, place, person.id)
    return PersonPage(
        place=place,
        key=key,
        name=person.name,
        email=person.email,
        phone=person.phone,
        website=person.website,
        source_url=person.source_url,
        needs_review=person.needs_review,
        memberships=tuple(
            (ref, m.role, m.start_date, m.end_date)
            for m, b in memberships
            if (ref := body_ref(b)) is not None
        ),
        votes=tuple(votes),
        statements=tuple(statement_views(session, place, person_id=person.id)),
        counts=count_person_votes(votes),
        grid=vote_grid(session, votes, key),
        cards=tuple(upcoming_cards(session, registry, now, person_id=person.id, limit=5)),
    )


def people_of(session: Session, place: Place) -> dict[str, str]:
    """Name -> page key of everyone in a place (to link names in vote lists)."""
    return {
        name: person_key(pid, name)
        for pid, name in session.execute(
            select(col(Person.platform_id), col(Person.name)).where(
                col(Person.jurisdiction_id) == place.id
            )
        ).all()
    }


# -- matters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatterStep:
    meeting: MeetingView
    item: ItemView


@dataclass(frozen=True)
class MatterPage:
    place: Place
    key: str
    file_number: str | None
    title: str | None
    type: str | None
    status: str | None
    intro_date: date | None
    passed_date: date | None
    sponsors: tuple[str, ...]
    source_url: str | None
    relevant: bool
    category: str | None
    direction: str | None
    steps: tuple[MatterStep, ...]
    statements: tuple[StatementView, ...]
    documents: tuple[DocRef, ...] = field(default=())


def matter_page(session: Session, place: Place, matter: Matter) -> MatterPage:
    """A matter across bodies (committee, then full council), each vote with every member's."""
    assert matter.id is not None
    rows = session.execute(
        select(AgendaItem, Meeting)
        .join(Meeting, col(AgendaItem.meeting_id) == col(Meeting.id))
        .where(col(AgendaItem.matter_id) == matter.id)
        .order_by(col(Meeting.start), col(AgendaItem.sequence), col(AgendaItem.id))
    ).all()
    items = [i for i, _ in rows]
    events = events_for_items(session, items, place.id)
    bodies = by_id(session, Body, (m.body_id for _, m in rows))
    steps = tuple(
        MatterStep(
            meeting_view(m, place, bodies.get(m.body_id or 0)),
            item_view(i, matter, events.get(i.id or 0, ())),
        )
        for i, m in rows
    )
    documents = tuple(
        _doc(d)
        for d in session.execute(
            select(Document)
            .where(
                col(Document.id).in_(
                    select(col(DocumentLink.document_id)).where(
                        col(DocumentLink.matter_id) == matter.id
                    )
                )
            )
            .order_by(col(Document.id))
        ).scalars()
    )
    return MatterPage(
        place=place,
        key=url_key(matter.platform_id),
        file_number=matter.file_number,
        title=" ".join(matter.title.split()) if matter.title else None,
        type=matter.type,
        status=matter.status,
        intro_date=matter.intro_date,
        passed_date=matter.passed_date,
        sponsors=tuple(matter.sponsors),
        source_url=matter.source_url,
        relevant=matter.relevant or any(s.item.relevant for s in steps),
        category=matter.category,
        direction=matter.direction,
        steps=steps,
        statements=tuple(
            statement_views(
                session, place, matter_id=matter.id, item_ids=[i.id for i in items if i.id]
            )
        ),
        documents=documents,
    )
