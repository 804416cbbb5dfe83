"""Calendars (ICS), news feeds (Atom) and the read-only JSON API.

Calendars hold the meetings with ICE items of one scope (every place, a place, a body, a
topic, or the bodies a member sits on), for organizers' calendar apps:

- ``UID`` is made from the meeting's platform id (``seattle/legistar-4049@ice-council-
  tracker``), never from a row id, so it stays the same when the database is rebuilt;
- ``SEQUENCE`` counts the changes the change log recorded for what the event shows (time,
  status, place and link, the agenda), so calendar apps take a moved meeting as an update;
- ``DTSTAMP`` and ``LAST-MODIFIED`` are the time of the meeting's newest change, so two builds
  of an unchanged calendar are the same bytes;
- a cancelled meeting stays in the calendar with ``STATUS:CANCELLED`` (dropping it would leave
  the old entry in every subscriber's calendar); one no longer listed is ``TENTATIVE``;
- where the registry knows the public-comment deadline (``deadline_hours_before``), a
  ``VALARM`` goes off then: its trigger is relative to the start, so it follows a reschedule.

Atom feeds hold the change log of the same scopes (meeting moved, agenda posted, ICE item
added or pulled, vote recorded, statement added), newest first, with ids made from platform
ids and the time of the observation.

The JSON API lists meetings, items and votes, oldest first, ``limit`` rows a page, with the
address of the next page; it never touches the subscriber tables.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]
from icalendar import Alarm, Calendar, Event
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from tracker.digest import CATEGORY_LABELS, N_, RESULT_LABELS, STANCE_LABELS
from tracker.items import storable
from tracker.models import (
    AgendaItem,
    Body,
    Change,
    ChangeKind,
    Document,
    Jurisdiction,
    Matter,
    Meeting,
    MeetingStatus,
    Membership,
    Person,
    Statement,
    Vote,
    VoteEvent,
)
from tracker.registry import Registry
from tracker.stances import cooperation_effect, is_procedural
from tracker.web_data import comment_info, ice_meeting_ids
from tracker.web_keys import item_anchor, meeting_key, person_key, url_key
from tracker.web_render import Page, WebRenderer, renderer

UID_DOMAIN = "ice-council-tracker"
# Meetings are published with a start only; calendars need an end.
ASSUMED_LENGTH = timedelta(hours=2)
CALENDAR_LIMIT = 500
FEED_LIMIT = 50
API_MAX_LIMIT = 500
# Changes to what a calendar event shows; each one bumps SEQUENCE.
EVENT_CHANGES = (
    ChangeKind.MEETING_RESCHEDULED,
    ChangeKind.MEETING_CANCELLED,
    ChangeKind.MEETING_UPDATED,
    ChangeKind.MEETING_REMOVED,
    ChangeKind.AGENDA_REVISED,
)
MEETING_NEWS = (
    ChangeKind.MEETING_ADDED,
    ChangeKind.MEETING_RESCHEDULED,
    ChangeKind.MEETING_CANCELLED,
    ChangeKind.MEETING_UPDATED,
    ChangeKind.MEETING_REMOVED,
    ChangeKind.AGENDA_PUBLISHED,
    ChangeKind.AGENDA_REVISED,
    ChangeKind.MINUTES_PUBLISHED,
)
ITEM_NEWS = (
    ChangeKind.ITEM_ADDED,
    ChangeKind.ITEM_REMOVED,
    ChangeKind.ITEM_UPDATED,
    ChangeKind.VOTE_RECORDED,
    ChangeKind.VOTE_REVISED,
)
FEED_NAMESPACE = uuid.UUID("5b0f7a52-0c1d-4f55-9a4e-2f6c7f1c9e10")


@dataclass(frozen=True)
class Scope:
    """What one calendar or feed covers; ``path`` is the page it belongs to."""

    kind: str  # all | jurisdiction | body | topic | person
    path: str
    name: str
    jurisdiction_id: int | None = None
    body_id: int | None = None
    category: str | None = None
    person_id: int | None = None


# -- calendars ------------------------------------------------------------------------------


def _meeting_filter(query: Any, scope: Scope) -> Any:
    if scope.jurisdiction_id is not None:
        query = query.where(col(Meeting.jurisdiction_id) == scope.jurisdiction_id)
    if scope.body_id is not None:
        query = query.where(col(Meeting.body_id) == scope.body_id)
    if scope.person_id is not None:
        bodies = select(col(Membership.body_id)).where(col(Membership.person_id) == scope.person_id)
        query = query.where(col(Meeting.body_id).in_(bodies))
    return query


def ice_meetings(
    session: Session, scope: Scope, limit: int = CALENDAR_LIMIT
) -> list[tuple[Meeting, list[AgendaItem]]]:
    """The newest ``limit`` meetings that have (or had) an ICE item in scope, oldest first."""
    wanted: list[Any] = [col(AgendaItem.relevant).is_(True)]
    if scope.category:
        wanted.append(col(AgendaItem.category) == scope.category)
    ids = _meeting_filter(
        select(col(Meeting.id))
        .where(col(Meeting.id).in_(ice_meeting_ids(category=scope.category, live=False)))
        .order_by(col(Meeting.start).desc(), col(Meeting.id).desc())
        .limit(limit),
        scope,
    )
    meeting_ids = list(session.execute(ids).scalars())
    if not meeting_ids:
        return []
    meetings = list(
        session.execute(
            select(Meeting)
            .where(col(Meeting.id).in_(meeting_ids))
            .order_by(col(Meeting.start), col(Meeting.id))
        ).scalars()
    )
    items: dict[int, list[AgendaItem]] = defaultdict(list)
    for item in session.execute(
        select(AgendaItem)
        .where(col(AgendaItem.meeting_id).in_(meeting_ids), *wanted)
        .order_by(col(AgendaItem.sequence), col(AgendaItem.id))
    ).scalars():
        items[item.meeting_id].append(item)
    return [(m, items[m.id or 0]) for m in meetings]


def sequences(session: Session, meeting_ids: Sequence[int]) -> dict[int, tuple[int, datetime]]:
    """Per meeting: how often what its calendar event shows changed, and when it last did."""
    out: dict[int, tuple[int, datetime]] = {}
    kinds = [str(k) for k in EVENT_CHANGES]
    counted = func.sum(case((col(Change.kind).in_(kinds), 1), else_=0))
    added = func.sum(case((col(Change.kind) == str(ChangeKind.MEETING_ADDED), 1), else_=0))
    for start in range(0, len(meeting_ids), 500):
        part = list(meeting_ids[start : start + 500])
        for meeting_id, changes, adds, newest in session.execute(
            select(
                col(Change.meeting_id),
                counted,
                added,
                func.max(col(Change.observed_at)),
            )
            .where(col(Change.meeting_id).in_(part))
            .group_by(col(Change.meeting_id))
        ).all():
            # A meeting that came back onto the list was added again: that is a change too.
            out[meeting_id] = (int(changes or 0) + max(int(adds or 0) - 1, 0), _utc(newest))
    return out


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return datetime(2000, 1, 1, tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _short(text: str, limit: int) -> str:
    line = _one_line(text)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def calendar_bytes(
    session: Session,
    scope: Scope,
    registry: Registry,
    *,
    lang: str,
    base_url: str,
    now: datetime | None = None,
) -> bytes:
    r = renderer(lang)
    page = Page(lang, scope.path, base_url=base_url)
    rows = ice_meetings(session, scope)
    places = {
        j.id: j
        for j in session.execute(
            select(Jurisdiction).where(
                col(Jurisdiction.id).in_({m.jurisdiction_id for m, _ in rows})
            )
        ).scalars()
    }
    bodies = {
        b.id: b
        for b in session.execute(
            select(Body).where(col(Body.id).in_({m.body_id for m, _ in rows if m.body_id}))
        ).scalars()
    }
    seqs = sequences(session, [m.id for m, _ in rows if m.id is not None])
    cal = Calendar()
    cal.add("prodid", "-//ICE Council Tracker//Meetings with ICE items//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", r.gettext("ICE items: %(name)s", name=scope.name))
    cal.add("x-wr-caldesc", r.gettext("Meetings with ICE items, from ICE Council Tracker"))
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    for meeting, items in rows:
        if meeting.start is None or meeting.id is None:
            continue
        juris = places[meeting.jurisdiction_id]
        body = bodies.get(meeting.body_id) if meeting.body_id else None
        sequence, changed = seqs.get(meeting.id, (0, meeting.first_seen_at))
        cal.add_component(
            _event(r, page, registry, juris, body, meeting, items, sequence, changed, now)
        )
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


def _event(
    r: WebRenderer,
    page: Page,
    registry: Registry,
    juris: Jurisdiction,
    body: Body | None,
    meeting: Meeting,
    items: list[AgendaItem],
    sequence: int,
    changed: datetime,
    now: datetime | None,
) -> Event:
    assert meeting.start is not None
    key = meeting_key(meeting.platform, meeting.platform_id)
    path = f"/j/{juris.slug}/meetings/{key}/"
    live = [i for i in items if i.removed_at is None]
    name = body.name if body else (meeting.title or juris.name)
    first = _short(live[0].title, 80) if live else ""
    summary = r.gettext("%(body)s: ICE item: %(title)s", body=name, title=first)
    cancelled = meeting.status == MeetingStatus.CANCELLED
    if cancelled:
        summary = r.gettext("Cancelled: %(summary)s", summary=summary)
    event = Event()
    event.add("uid", f"{juris.slug}/{key}@{UID_DOMAIN}")
    event.add("dtstamp", changed)
    event.add("last-modified", changed)
    event.add("created", meeting.first_seen_at)
    event.add("sequence", sequence)
    local = meeting.start.astimezone(ZoneInfo(meeting.timezone))
    if meeting.time_text is not None:
        event.add("dtstart", local.date())  # the time of day was not published
        event.add("dtend", local.date() + timedelta(days=1))
    else:
        event.add("dtstart", local)
        event.add("dtend", local + ASSUMED_LENGTH)
    event.add("summary", summary)
    if meeting.location:
        event.add("location", _one_line(meeting.location))
    event.add("url", page.absolute(path))
    if meeting.removed_at is not None:
        event.add("status", "TENTATIVE")
    else:
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    categories = sorted({r.label(CATEGORY_LABELS, i.category) for i in live if i.category})
    if categories:
        event.add("categories", categories)
    comment = comment_info(registry, juris.slug, meeting.start, now or datetime.now(UTC))
    event.add("description", _description(r, page, path, meeting, live, items, comment))
    if comment and comment.deadline_at is not None and not cancelled:
        rules = registry.entries[juris.slug].public_comment
        assert rules is not None and rules.deadline_hours_before is not None
        alarm = Alarm()
        alarm.add("uid", f"{juris.slug}/{key}/comment-deadline@{UID_DOMAIN}")
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", timedelta(hours=-rules.deadline_hours_before))
        alarm.add(
            "description",
            r.gettext("Public comment sign-up closes now: %(summary)s", summary=summary),
        )
        event.add_component(alarm)
    return event


def _description(
    r: WebRenderer,
    page: Page,
    path: str,
    meeting: Meeting,
    live: list[AgendaItem],
    items: list[AgendaItem],
    comment: Any,
) -> str:
    lines = [r.gettext("ICE items on the agenda:")]
    for item in live:
        number = f"{item.number}. " if item.number else ""
        lines.append(f"- {number}{_short(item.title, 300)}")
        lines.append(f"  {page.absolute(path)}#{item_anchor(item.platform_id)}")
    if not live and items:
        lines.append(r.gettext("The ICE item was pulled from the agenda."))
    if comment is not None:
        lines.append("")
        lines.append(r.gettext("Public comment"))
        if comment.deadline_at is not None:
            lines.append(
                r.gettext("Sign up by:") + " " + r.mail.when(comment.deadline_at, meeting.timezone)
            )
        elif comment.deadline:
            lines.append(r.gettext("Deadline:") + " " + _one_line(comment.deadline))
        if comment.how:
            lines.append(_one_line(comment.how))
        if comment.signup_url:
            lines.append(comment.signup_url)
        if comment.time_limit_minutes:
            lines.append(
                r.gettext(
                    "%(minutes)s minutes per speaker.",
                    minutes=r.mail.number(comment.time_limit_minutes),
                )
            )
        if comment.email:
            lines.append(r.gettext("Written comments:") + " " + comment.email)
    if meeting.virtual_link:
        lines += ["", r.gettext("Watch or join online") + ": " + meeting.virtual_link]
    if meeting.source_url:
        lines += ["", r.gettext("Source") + ": " + meeting.source_url]
    return "\n".join(lines)


# -- news feeds -----------------------------------------------------------------------------

_HEADLINES = {
    "meeting_added": N_("Meeting with an ICE item: %(place)s, %(day)s"),
    "meeting_rescheduled": N_("Meeting moved: %(place)s, now %(day)s"),
    "meeting_cancelled": N_("Meeting cancelled: %(place)s, %(day)s"),
    "meeting_updated": N_("Meeting details changed: %(place)s, %(day)s"),
    "meeting_removed": N_("Meeting no longer listed: %(place)s, %(day)s"),
    "agenda_published": N_("Agenda posted: %(place)s, %(day)s"),
    "agenda_revised": N_("Agenda revised: %(place)s, %(day)s"),
    "minutes_published": N_("Minutes posted: %(place)s, %(day)s"),
    "item_added": N_("Item added: %(title)s"),
    "item_removed": N_("Item pulled from the agenda: %(title)s"),
    "item_updated": N_("Item revised: %(title)s"),
    "vote_recorded": N_("Vote on %(title)s: %(result)s"),
    "vote_revised": N_("Vote on %(title)s: %(result)s"),
    "statement_added": N_("New statement by %(person)s"),
}


def _change_query(scope: Scope) -> Any:
    item = aliased(AgendaItem)
    has_ice = exists().where(
        col(AgendaItem.meeting_id) == col(Meeting.id),
        col(AgendaItem.relevant).is_(True),
        *([col(AgendaItem.category) == scope.category] if scope.category else []),
    )
    query = (
        select(Change, Meeting, item, Statement, VoteEvent)
        .outerjoin(Meeting, col(Change.meeting_id) == col(Meeting.id))
        .outerjoin(item, col(Change.agenda_item_id) == col(item.id))
        .outerjoin(Statement, col(Change.statement_id) == col(Statement.id))
        .outerjoin(VoteEvent, col(Change.vote_event_id) == col(VoteEvent.id))
    )
    item_ok: Any = col(item.relevant).is_(True)
    if scope.category:
        item_ok = and_(item_ok, col(item.category) == scope.category)
    query = query.where(
        or_(
            and_(col(Change.kind).in_([str(k) for k in MEETING_NEWS]), has_ice),
            and_(col(Change.kind).in_([str(k) for k in ITEM_NEWS]), item_ok),
            and_(
                col(Change.kind) == str(ChangeKind.STATEMENT_ADDED),
                col(Statement.confirmed).is_(True),
                or_(col(Change.agenda_item_id).is_(None), item_ok),
            ),
        )
    )
    if scope.jurisdiction_id is not None:
        query = query.where(col(Change.jurisdiction_id) == scope.jurisdiction_id)
    if scope.body_id is not None:
        query = query.where(col(Meeting.body_id) == scope.body_id)
    if scope.category and scope.kind == "topic":
        query = query.where(col(Change.meeting_id).is_not(None))
    if scope.person_id is not None:
        bodies = select(col(Membership.body_id)).where(col(Membership.person_id) == scope.person_id)
        voted = exists().where(
            col(Vote.vote_event_id) == col(Change.vote_event_id),
            col(Vote.person_id) == scope.person_id,
        )
        query = query.where(
            or_(
                and_(
                    col(Change.kind).in_([str(k) for k in MEETING_NEWS]),
                    col(Meeting.body_id).in_(bodies),
                ),
                and_(
                    col(Change.kind).in_(
                        [str(ChangeKind.VOTE_RECORDED), str(ChangeKind.VOTE_REVISED)]
                    ),
                    voted,
                ),
                col(Statement.person_id) == scope.person_id,
            )
        )
    return query.order_by(col(Change.id).desc()).limit(FEED_LIMIT)


def atom_bytes(session: Session, scope: Scope, *, lang: str, base_url: str) -> bytes:
    r = renderer(lang)
    page = Page(lang, scope.path, base_url=base_url)
    rows = session.execute(_change_query(scope)).all()
    places = {j.id: j for j in session.execute(select(Jurisdiction)).scalars()}
    bodies = {
        b.id: b
        for b in session.execute(
            select(Body).where(col(Body.id).in_({m.body_id for _, m, *_ in rows if m}))
        ).scalars()
    }
    people = {
        p.id: p
        for p in session.execute(
            select(Person).where(col(Person.id).in_({s.person_id for *_, s, _ in rows if s}))
        ).scalars()
    }
    fg = FeedGenerator()
    feed_url = page.absolute(scope.path + "feed.atom")
    fg.id(feed_url)
    fg.title(storable(r.gettext("ICE items: %(name)s", name=scope.name)))
    fg.subtitle(r.gettext("Meetings with ICE items, from ICE Council Tracker"))
    fg.link(href=feed_url, rel="self", type="application/atom+xml")
    fg.link(href=page.absolute(scope.path), rel="alternate", type="text/html")
    fg.language(lang)
    fg.author({"name": "ICE Council Tracker"})
    fg.generator("ICE Council Tracker")
    newest: datetime | None = None
    for change, meeting, item, statement, event in reversed(rows):
        juris = places.get(change.jurisdiction_id)
        if juris is None:
            continue
        observed = _utc(change.observed_at)
        newest = observed if newest is None or observed > newest else newest
        entry = fg.add_entry()
        entry.id(storable(_entry_id(change, juris, meeting, item, statement, event, observed)))
        title, link, text = _entry_text(
            r, page, change, juris, meeting, item, statement, event, bodies, people
        )
        # rows written before the items cleaned their text, or typed in by hand, may still
        # hold characters XML cannot carry
        entry.title(storable(title))
        entry.link(href=storable(link), rel="alternate", type="text/html")
        entry.updated(observed)
        entry.published(observed)
        entry.content(storable(text), type="text")
    fg.updated(newest or datetime(2000, 1, 1, tzinfo=UTC))
    return bytes(fg.atom_str(pretty=True))


def _entry_id(
    change: Change,
    juris: Jurisdiction,
    meeting: Meeting | None,
    item: AgendaItem | None,
    statement: Statement | None,
    event: VoteEvent | None,
    observed: datetime,
) -> str:
    parts = [
        juris.slug,
        str(change.kind),
        meeting_key(meeting.platform, meeting.platform_id) if meeting else "",
        item.platform_id if item else "",
        f"{event.source}:{event.platform_id}" if event else "",
        statement.fingerprint if statement else "",
        observed.isoformat(),
    ]
    return uuid.uuid5(FEED_NAMESPACE, "|".join(parts)).urn


def _entry_text(
    r: WebRenderer,
    page: Page,
    change: Change,
    juris: Jurisdiction,
    meeting: Meeting | None,
    item: AgendaItem | None,
    statement: Statement | None,
    event: VoteEvent | None,
    bodies: dict[Any, Body],
    people: dict[Any, Person],
) -> tuple[str, str, str]:
    body = bodies.get(meeting.body_id) if meeting and meeting.body_id else None
    place = body.name if body else juris.name
    day = r.day(meeting.start, meeting.timezone) if meeting else ""
    title_text = _short(item.title, 90) if item else ""
    result = ""
    if event is not None:
        result = event.action or r.label(RESULT_LABELS, event.result)
        result = result or r.gettext("recorded")
    person = people.get(statement.person_id) if statement else None
    template = _HEADLINES.get(str(change.kind), N_("Update: %(place)s, %(day)s"))
    title = r.gettext(
        template,
        place=place,
        day=day,
        title=title_text,
        result=result,
        person=person.name if person else "",
    )
    link = page.absolute(f"/j/{juris.slug}/")
    if meeting is not None:
        path = f"/j/{juris.slug}/meetings/{meeting_key(meeting.platform, meeting.platform_id)}/"
        link = page.absolute(path) + (f"#{item_anchor(item.platform_id)}" if item else "")
    elif person is not None:
        link = page.absolute(
            f"/j/{juris.slug}/people/{person_key(person.platform_id, person.name)}/"
        )
    lines = [f"{juris.name}, {juris.state}"]
    if meeting is not None:
        lines.append(f"{place}: {r.mail.when(meeting.start, meeting.timezone)}")
    if item is not None:
        lines.append(_one_line(item.title))
    if event is not None and (event.motion or event.tally):
        lines.append(" · ".join(t for t in (event.motion, event.tally) if t))
    if statement is not None:
        lines.append(f"“{_one_line(statement.quote)}” ({r.label(STANCE_LABELS, statement.stance)})")
        lines.append(statement.source_url)
    elif event is not None and event.source_url:
        lines.append(event.source_url)
    elif meeting is not None and meeting.source_url:
        lines.append(meeting.source_url)
    return title, link, "\n".join(lines)


# -- the JSON API ---------------------------------------------------------------------------


def _iso_local(value: datetime | None, timezone: str) -> str | None:
    return None if value is None else value.astimezone(ZoneInfo(timezone)).isoformat()


def _page(rows: list[dict[str, Any]], limit: int, next_url: str) -> dict[str, Any]:
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "data": rows,
        "next": f"{next_url}after={rows[-1]['id']}" if more and rows else None,
    }


def api_meetings(
    session: Session,
    base: str,
    *,
    jurisdiction: str | None,
    relevant: bool,
    after: int,
    limit: int,
    next_url: str,
) -> dict[str, Any]:
    hits = (
        select(col(AgendaItem.meeting_id), func.count().label("n"))
        .where(col(AgendaItem.relevant).is_(True), col(AgendaItem.removed_at).is_(None))
        .group_by(col(AgendaItem.meeting_id))
        .subquery()
    )
    query = (
        select(Meeting, Jurisdiction, Body, hits.c.n)
        .join(Jurisdiction, col(Meeting.jurisdiction_id) == col(Jurisdiction.id))
        .outerjoin(Body, col(Meeting.body_id) == col(Body.id))
        .outerjoin(hits, hits.c.meeting_id == col(Meeting.id))
        .where(col(Meeting.id) > after)
        .order_by(col(Meeting.id))
        .limit(limit + 1)
    )
    if jurisdiction:
        query = query.where(col(Jurisdiction.slug) == jurisdiction)
    if relevant:
        query = query.where(hits.c.n > 0)
    rows = []
    for m, j, b, n in session.execute(query).all():
        key = meeting_key(m.platform, m.platform_id)
        rows.append(
            {
                "id": m.id,
                "key": key,
                "jurisdiction": j.slug,
                "body": b.name if b else None,
                "title": m.title,
                "start": _iso_local(m.start, m.timezone),
                "timezone": m.timezone,
                "time_text": m.time_text,
                "status": m.status,
                "removed": m.removed_at is not None,
                "location": m.location,
                "virtual_link": m.virtual_link,
                "agenda_url": m.agenda_url,
                "minutes_url": m.minutes_url,
                "video_url": m.video_url,
                "ice_items": int(n or 0),
                "source_url": m.source_url,
                "url": f"{base}/j/{j.slug}/meetings/{key}/",
            }
        )
    return _page(rows, limit, next_url)


def api_items(
    session: Session,
    base: str,
    *,
    jurisdiction: str | None,
    relevant: bool,
    after: int,
    limit: int,
    next_url: str,
) -> dict[str, Any]:
    query = (
        select(AgendaItem, Meeting, Jurisdiction, Matter)
        .join(Meeting, col(AgendaItem.meeting_id) == col(Meeting.id))
        .join(Jurisdiction, col(Meeting.jurisdiction_id) == col(Jurisdiction.id))
        .outerjoin(Matter, col(AgendaItem.matter_id) == col(Matter.id))
        .where(col(AgendaItem.id) > after)
        .order_by(col(AgendaItem.id))
        .limit(limit + 1)
    )
    if jurisdiction:
        query = query.where(col(Jurisdiction.slug) == jurisdiction)
    if relevant:
        query = query.where(col(AgendaItem.relevant).is_(True))
    rows = []
    for i, m, j, matter in session.execute(query).all():
        key = meeting_key(m.platform, m.platform_id)
        rows.append(
            {
                "id": i.id,
                "jurisdiction": j.slug,
                "meeting": key,
                "meeting_start": _iso_local(m.start, m.timezone),
                "number": i.number,
                "title": i.title,
                "matter_file": matter.file_number if matter else None,
                "matter": url_key(matter.platform_id) if matter else None,
                "relevant": i.relevant,
                "category": i.category,
                "direction": i.direction,
                "score": i.score,
                "matches": [
                    {"text": x.get("text"), "rule": x.get("rule")} for x in (i.matches or [])
                ],
                "action": i.action,
                "result": i.result,
                "consent": i.consent,
                "removed": i.removed_at is not None,
                "source_url": i.source_url,
                "url": f"{base}/j/{j.slug}/meetings/{key}/#{item_anchor(i.platform_id)}",
            }
        )
    return _page(rows, limit, next_url)


def api_votes(
    session: Session,
    base: str,
    *,
    jurisdiction: str | None,
    relevant: bool,
    after: int,
    limit: int,
    next_url: str,
) -> dict[str, Any]:
    query = (
        select(Vote, VoteEvent, AgendaItem, Meeting, Jurisdiction, Person, Document)
        .join(VoteEvent, col(Vote.vote_event_id) == col(VoteEvent.id))
        .join(AgendaItem, col(VoteEvent.agenda_item_id) == col(AgendaItem.id))
        .join(Meeting, col(AgendaItem.meeting_id) == col(Meeting.id))
        .join(Jurisdiction, col(Meeting.jurisdiction_id) == col(Jurisdiction.id))
        .join(Person, col(Vote.person_id) == col(Person.id))
        .outerjoin(Document, col(VoteEvent.document_id) == col(Document.id))
        .where(col(Vote.id) > after)
        .order_by(col(Vote.id))
        .limit(limit + 1)
    )
    if jurisdiction:
        query = query.where(col(Jurisdiction.slug) == jurisdiction)
    if relevant:
        query = query.where(col(AgendaItem.relevant).is_(True))
    rows = []
    for v, e, i, m, j, p, doc in session.execute(query).all():
        procedural = is_procedural(e.motion, e.action or i.action)
        key = meeting_key(m.platform, m.platform_id)
        rows.append(
            {
                "id": v.id,
                "jurisdiction": j.slug,
                "meeting": key,
                "meeting_start": _iso_local(m.start, m.timezone),
                "item_number": i.number,
                "title": i.title,
                "relevant": i.relevant,
                "category": i.category,
                "direction": i.direction,
                "motion": e.motion,
                "action": e.action or i.action,
                "result": e.result,
                "person": p.name,
                "person_key": person_key(p.platform_id, p.name),
                "value": v.value,
                "raw_value": v.raw_value,
                "inferred": v.inferred,
                "procedural": procedural,
                "effect": cooperation_effect(i.direction, v.value, procedural),
                "source": e.source,
                "source_url": e.source_url,
                "document_sha256": doc.sha256 if doc else None,
                "url": f"{base}/j/{j.slug}/meetings/{key}/#{item_anchor(i.platform_id)}",
            }
        )
    return _page(rows, limit, next_url)
