"""Per-subscriber digests from the change log, rendered in the reader's language, queued once.

Reading: a digest covers the changes after its subscription's high-water mark
(``Subscription.last_change_id``) up to the newest settled change. What is in it:

- an action card for each upcoming meeting with a matching item: body, local date and time,
  place, virtual link, item number and title, why it matched, how and by when to sign up for
  public comment (the registry's ``public_comment``), and the members of the body with their
  public contact;
- changes: agenda posted or revised, minutes posted, item added, pulled, moved to or off the
  consent agenda or revised, meeting rescheduled, moved, cancelled or no longer listed;
- votes on matching items with every member's vote; new statements.

What matches (:func:`match_item`): items in the followed jurisdictions and bodies that are ICE
items in the followed categories (every category when none is chosen), plus, when chosen, the
secondary topic ``immigration_non_enforcement``, plus any item whose text contains a followed
keyword. Followed people narrow the votes and statements to those they took part in.

Writing (:func:`queue_digests`): a digest that has something in it is rendered once, written
to the outbox (a Delivery row holding the finished e-mail) and the subscription's high-water
mark advanced, in one transaction; the mark only moves if nobody moved it meanwhile, and the
outbox's unique key (subscriber, change range) refuses a second copy. An empty digest only
advances the mark: nobody gets an empty e-mail. Sending is tracker/mailer.py's job.

Rendering: Jinja2 templates in templates/email (autoescape on for HTML), CSS inlined with
css-inline, strings through Babel and jinja2.ext.i18n. The Spanish catalog is
templates/locale/es/LC_MESSAGES/messages.po, compiled in memory when first used (no .mo file
to forget to rebuild; see templates/locale/README.md).
"""

from __future__ import annotations

import ast
import bisect
import hashlib
import logging
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
from babel.dates import format_date, format_skeleton, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Connection, Table, bindparam, func, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import templates
from tracker.mailer import EncodedBody, compose, domain_of
from tracker.models import (
    AgendaItem,
    Body,
    Change,
    ChangeKind,
    Delivery,
    Jurisdiction,
    Matter,
    Meeting,
    MeetingStatus,
    Membership,
    Person,
    Statement,
    Subscriber,
    Subscription,
    Vote,
    VoteEvent,
)
from tracker.registry import Registry, load_registry
from tracker.settings import Settings
from tracker.subscribers import ACTIVE, SECONDARY, Filters, fold, mask_email
from tracker.tokens import Tokens

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(templates.__file__).parent
LOCALE_DIR = TEMPLATES_DIR / "locale"
BABEL_LOCALES = {"en": "en_US", "es": "es_US"}
# A gap in the change ids younger than this may be a transaction still writing (PostgreSQL
# hands out ids before commit); a digest stops before it rather than skip it for ever.
SETTLE = timedelta(minutes=10)
MAX_SUBJECT = 140
# Core tables for the outbox writes: one per subscriber, so the ORM's unit of work is too slow.
DELIVERY: Table = Delivery.__table__  # type: ignore[attr-defined]
SUBSCRIPTION: Table = Subscription.__table__  # type: ignore[attr-defined]
UNSUBSCRIBE_SLOT = "ICEUNSUBSCRIBETOKENSLOT"
PREFERENCES_SLOT = "ICEPREFERENCESTOKENSLOT"


def N_(message: str) -> str:
    """Marks a string for translation where it is defined; it is translated where shown."""
    return message


CATEGORY_LABELS = {
    "287g": N_("287(g) agreement"),
    "igsa_detention_contract": N_("detention contract (IGSA)"),
    "hsi_task_force_customs_designation": N_("HSI task force or customs designation"),
    "detainer_or_hold_policy": N_("ICE detainers and holds"),
    "sanctuary_welcoming_ordinance": N_("sanctuary or welcoming ordinance"),
    "u_visa_certification": N_("U and T visa certification"),
    "alpr_or_data_sharing": N_("license plate readers and data sharing"),
    "ice_facility_land_use": N_("land use for an immigration facility"),
    "resolution_on_raids_or_enforcement": N_("resolution on raids or enforcement"),
    "information_sharing_limits": N_("limits on sharing information with ICE"),
    "federal_funding_threats": N_("federal funding conditions"),
    "other_positive": N_("other immigration enforcement item"),
    SECONDARY: N_("immigration (not enforcement)"),
}
DIRECTION_LABELS = {
    "expands": N_("expands cooperation with immigration enforcement"),
    "limits": N_("limits cooperation with immigration enforcement"),
    "neutral": N_("hearing, report or referral"),
}
VOTE_LABELS = {
    "yes": N_("Yes"),
    "no": N_("No"),
    "abstain": N_("Abstained"),
    "absent": N_("Absent"),
    "excused": N_("Excused"),
    "recused": N_("Recused"),
    "present": N_("Present"),
    "not_voting": N_("Not voting"),
}
RESULT_LABELS = {"passed": N_("passed"), "failed": N_("failed")}
FREQUENCY_LABELS = {
    "immediate": N_("as soon as there is news"),
    "daily": N_("once a day"),
    "weekly": N_("once a week"),
}
STANCE_LABELS = {
    "support": N_("supports"),
    "oppose": N_("opposes"),
    "undecided": N_("undecided"),
    "concerned": N_("has concerns"),
}


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- what a digest holds -----------------------------------------------------------------------


@dataclass(frozen=True)
class MatchedItem:
    id: int
    meeting_id: int
    number: str | None
    matter_file: str | None
    title: str
    category: str | None
    direction: str | None
    consent: bool
    why: tuple[str, ...]
    source_url: str | None
    removed: bool


@dataclass(frozen=True)
class Member:
    name: str
    role: str | None
    email: str | None
    phone: str | None
    website: str | None
    source_url: str | None


@dataclass(frozen=True)
class CommentInfo:
    how: str | None
    signup_url: str | None
    email: str | None
    phone: str | None
    deadline: str | None
    deadline_at: datetime | None
    deadline_passed: bool
    time_limit_minutes: float | None
    notes: str | None


@dataclass(frozen=True)
class MeetingRef:
    id: int
    jurisdiction: str
    body: str | None
    title: str | None
    start: datetime | None
    timezone: str
    time_text: str | None
    location: str | None
    virtual_link: str | None
    status: str
    agenda_url: str | None
    source_url: str | None


@dataclass(frozen=True)
class ActionCard:
    meeting: MeetingRef
    items: tuple[MatchedItem, ...]
    comment: CommentInfo | None
    members: tuple[Member, ...]
    hours_away: float | None


@dataclass(frozen=True)
class ChangeNote:
    change_id: int
    kind: str  # a ChangeKind, or item_consent / item_unconsent / item_outcome
    meeting: MeetingRef
    item: MatchedItem | None
    old_start: datetime | None = None
    new_start: datetime | None = None
    detail: str | None = None
    source_url: str | None = None


@dataclass(frozen=True)
class VoteLine:
    person: str
    value: str | None
    raw_value: str
    followed: bool


@dataclass(frozen=True)
class VoteCard:
    change_id: int
    meeting: MeetingRef
    item: MatchedItem
    motion: str | None
    action: str | None  # what was done ("Referred to the Public Safety Committee")
    result: str | None
    tally: str | None
    yes: int
    no: int
    other: int
    votes: tuple[VoteLine, ...]
    revised: bool
    source_url: str | None


@dataclass(frozen=True)
class StatementCard:
    change_id: int
    person: str
    stance: str
    quote: str
    date: date | None
    item_title: str | None
    source_url: str


@dataclass(frozen=True)
class Digest:
    first_change_id: int
    last_change_id: int
    cards: tuple[ActionCard, ...] = ()
    changes: tuple[ChangeNote, ...] = ()
    votes: tuple[VoteCard, ...] = ()
    statements: tuple[StatementCard, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.cards or self.changes or self.votes or self.statements)

    def urgent(self, now: datetime, hours: float) -> bool:
        """A matching meeting within ``hours``: too soon to wait for a daily or weekly digest."""
        horizon = now + timedelta(hours=hours)

        def soon(start: datetime | None) -> bool:
            return start is not None and now <= start <= horizon

        return any(soon(c.meeting.start) for c in self.cards) or any(
            soon(n.meeting.start) or soon(n.old_start) for n in self.changes
        )


# -- matching ----------------------------------------------------------------------------------


@cache
def _evidence_rules() -> frozenset[str]:
    """Rules whose matches explain a decision (signals and secondary labels, not cues such
    as "terminate" that only turn a direction)."""
    from tracker.classify import RuleKind, default_classifier

    return frozenset(
        r.name
        for r in default_classifier().topic.rules
        if r.kind in (RuleKind.SIGNAL, RuleKind.SECONDARY)
    )


def _why(item: AgendaItem) -> list[str]:
    seen: dict[str, None] = {}
    evidence = _evidence_rules()
    for match in item.matches:
        text = _line(str(match.get("text") or ""))
        if text and match.get("rule") in evidence:
            seen.setdefault(text, None)
    return list(seen)[:4]


def _line(text: str) -> str:
    return " ".join(text.split())


def match_item(item: AgendaItem, matter: Matter | None, filters: Filters) -> MatchedItem | None:
    """The item as a subscriber with these filters sees it, or None when it does not match."""
    categories = {c for c in filters.categories if c != SECONDARY}
    why: list[str] = []
    category = item.category
    if item.relevant and (not categories or item.category in categories):
        why = _why(item)
    elif filters.include_secondary and SECONDARY in (item.secondary or []):
        why = _why(item)
        category = SECONDARY
    elif not filters.keywords:
        return None
    if filters.keywords:
        haystack = fold(" ".join(t for t in (item.title, matter and matter.title) if t))
        for word in filters.keywords:
            if _contains_word(haystack, fold(word)):
                why.append(word)
        if not why:
            return None
    assert item.id is not None
    return MatchedItem(
        id=item.id,
        meeting_id=item.meeting_id,
        number=item.number,
        matter_file=matter.file_number if matter else None,
        title=_line(item.title),
        category=category if (item.relevant or category == SECONDARY) else None,
        direction=item.direction if item.relevant else None,
        consent=item.consent,
        why=tuple(dict.fromkeys(why)),
        source_url=item.source_url or (matter.source_url if matter else None),
        removed=item.removed_at is not None,
    )


@cache
def _word_re(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)")


def _contains_word(haystack: str, word: str) -> bool:
    return bool(word) and _word_re(word).search(haystack) is not None


# -- reading the change log --------------------------------------------------------------------

MEETING_NOTE_KINDS = {
    ChangeKind.MEETING_RESCHEDULED,
    ChangeKind.MEETING_CANCELLED,
    ChangeKind.MEETING_UPDATED,
    ChangeKind.MEETING_REMOVED,
    ChangeKind.AGENDA_PUBLISHED,
    ChangeKind.AGENDA_REVISED,
    ChangeKind.MINUTES_PUBLISHED,
}
ITEM_KINDS = {ChangeKind.ITEM_ADDED, ChangeKind.ITEM_UPDATED, ChangeKind.ITEM_REMOVED}
VOTE_KINDS = {ChangeKind.VOTE_RECORDED, ChangeKind.VOTE_REVISED}


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _pair(value: Any) -> tuple[Any, Any] | None:
    """An (old, new) pair from a change's details: a JSON list, or the text of a Python list
    (how tracker.store writes pairs today)."""
    if isinstance(value, str) and value.startswith("["):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return None
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    return None


def settled_upto(rows: Sequence[tuple[int, datetime]], after: int, now: datetime) -> int:
    """The newest change id a digest may reach: before any recent gap in the ids."""
    expected = after + 1
    last = after
    for change_id, observed_at in rows:
        if change_id != expected and observed_at > now - SETTLE:
            return last
        last = change_id
        expected = change_id + 1
    return last


class Snapshot:
    """Everything one run's digests read, loaded once: changes after ``after`` up to ``upto``
    and the meetings, items, votes, people and statements they name."""

    def __init__(
        self, engine: Engine, *, after: int, upto: int, now: datetime, registry: Registry
    ) -> None:
        self.now = now
        self.registry = registry
        with Session(engine) as session:
            self.changes = list(
                session.exec(
                    select(Change)
                    .where(col(Change.id) > after, col(Change.id) <= upto)
                    .order_by(col(Change.id))
                )
            )
            self.change_ids = [c.id or 0 for c in self.changes]
            self.jurisdictions = {j.id: j for j in session.exec(select(Jurisdiction))}
            meeting_ids = {c.meeting_id for c in self.changes if c.meeting_id}
            self.meetings = _by_id(session, Meeting, meeting_ids)
            self.items_by_meeting: dict[int, list[AgendaItem]] = defaultdict(list)
            for row in _in(session, AgendaItem, AgendaItem.meeting_id, meeting_ids):
                self.items_by_meeting[row.meeting_id].append(row)
            for rows in self.items_by_meeting.values():
                rows.sort(key=lambda r: (r.sequence is None, r.sequence or 0, r.id or 0))
            self.items = {r.id: r for rows in self.items_by_meeting.values() for r in rows}
            statement_ids = {c.statement_id for c in self.changes if c.statement_id}
            self.statements = _by_id(session, Statement, statement_ids)
            for s in self.statements.values():
                if s.agenda_item_id and s.agenda_item_id not in self.items:
                    extra = session.get(AgendaItem, s.agenda_item_id)
                    if extra is not None:
                        self.items[extra.id] = extra
            matter_ids = {i.matter_id for i in self.items.values() if i.matter_id}
            self.matters = _by_id(session, Matter, matter_ids)
            body_ids = {m.body_id for m in self.meetings.values() if m.body_id}
            self.bodies = _by_id(session, Body, body_ids)
            self.memberships: dict[int, list[Membership]] = defaultdict(list)
            for row in _in(session, Membership, Membership.body_id, body_ids):
                self.memberships[row.body_id].append(row)
            event_ids = {c.vote_event_id for c in self.changes if c.vote_event_id}
            self.vote_events = _by_id(session, VoteEvent, event_ids)
            self.voted_items = {e.agenda_item_id for e in self.vote_events.values()}
            self.votes: dict[int, list[Vote]] = defaultdict(list)
            for vote in _in(session, Vote, Vote.vote_event_id, event_ids):
                self.votes[vote.vote_event_id].append(vote)
            person_ids = {v.person_id for rows in self.votes.values() for v in rows}
            person_ids |= {m.person_id for rows in self.memberships.values() for m in rows}
            person_ids |= {s.person_id for s in self.statements.values()}
            self.people = _by_id(session, Person, person_ids)
        self._cards: dict[tuple[Any, ...], ActionCard | None] = {}
        self._matches: dict[tuple[Any, ...], MatchedItem | None] = {}
        self._digests: dict[tuple[Any, ...], Digest] = {}

    # -- per-filter views, cached: many subscribers share filters --------------------------
    def _match(self, item: AgendaItem, filters: Filters) -> MatchedItem | None:
        key = (_topic_key(filters), item.id)
        if key not in self._matches:
            matter = self.matters.get(item.matter_id) if item.matter_id else None
            self._matches[key] = match_item(item, matter, filters)
        return self._matches[key]

    def _meeting_ok(self, meeting: Meeting, filters: Filters) -> bool:
        juris = self.jurisdictions.get(meeting.jurisdiction_id)
        if filters.jurisdictions and (juris is None or juris.slug not in filters.jurisdictions):
            return False
        if filters.bodies:
            body = self.bodies.get(meeting.body_id) if meeting.body_id else None
            if body is None:
                return False
            wanted = {fold(b) for b in filters.bodies}
            return fold(body.name) in wanted or body.platform_id in filters.bodies
        return True

    def _upcoming(self, meeting: Meeting) -> bool:
        return (
            meeting.start is not None
            and meeting.start > self.now
            and meeting.status != MeetingStatus.CANCELLED
            and meeting.removed_at is None
        )

    def _ref(self, meeting: Meeting) -> MeetingRef:
        juris = self.jurisdictions.get(meeting.jurisdiction_id)
        body = self.bodies.get(meeting.body_id) if meeting.body_id else None
        assert meeting.id is not None
        return MeetingRef(
            id=meeting.id,
            jurisdiction=juris.name if juris else "",
            body=body.name if body else None,
            title=_line(meeting.title) if meeting.title else None,
            start=meeting.start,
            timezone=meeting.timezone,
            time_text=meeting.time_text,
            location=_line(meeting.location) if meeting.location else None,
            virtual_link=meeting.virtual_link,
            status=meeting.status,
            agenda_url=meeting.agenda_url,
            source_url=meeting.source_url,
        )

    def _current_matches(self, meeting_id: int, filters: Filters) -> list[MatchedItem]:
        found = []
        for item in self.items_by_meeting.get(meeting_id, []):
            if item.removed_at is None:
                matched = self._match(item, filters)
                if matched is not None:
                    found.append(matched)
        return found

    def _card(self, meeting: Meeting, filters: Filters) -> ActionCard | None:
        key = (_topic_key(filters), meeting.id)
        if key in self._cards:
            return self._cards[key]
        card = None
        assert meeting.id is not None
        items = self._current_matches(meeting.id, filters)
        if items:
            hours = None
            if meeting.start is not None:
                hours = (meeting.start - self.now).total_seconds() / 3600
            card = ActionCard(
                meeting=self._ref(meeting),
                items=tuple(items),
                comment=self._comment(meeting),
                members=self._members(meeting),
                hours_away=hours,
            )
        self._cards[key] = card
        return card

    def _comment(self, meeting: Meeting) -> CommentInfo | None:
        juris = self.jurisdictions.get(meeting.jurisdiction_id)
        if juris is None or juris.slug not in self.registry.entries:
            return None
        rules = self.registry.entries[juris.slug].public_comment
        if rules is None:
            return None
        deadline_at = None
        if rules.deadline_hours_before is not None and meeting.start is not None:
            deadline_at = meeting.start - timedelta(hours=rules.deadline_hours_before)
        return CommentInfo(
            how=rules.how,
            signup_url=rules.signup_url,
            email=rules.email,
            phone=rules.phone,
            deadline=rules.deadline,
            deadline_at=deadline_at,
            deadline_passed=deadline_at is not None and deadline_at < self.now,
            time_limit_minutes=rules.time_limit_minutes,
            notes=rules.notes,
        )

    def _members(self, meeting: Meeting) -> tuple[Member, ...]:
        if not meeting.body_id:
            return ()
        day = (meeting.start or self.now).date()
        members: dict[int, Member] = {}
        for m in self.memberships.get(meeting.body_id, []):
            if (m.start_date and m.start_date > day) or (m.end_date and m.end_date < day):
                continue
            person = self.people.get(m.person_id)
            if person is None or m.person_id in members:
                continue
            members[m.person_id] = Member(
                name=person.name,
                role=m.role,
                email=person.email,
                phone=person.phone,
                website=person.website,
                source_url=person.source_url or m.source_url,
            )
        return tuple(sorted(members.values(), key=lambda p: (p.role is None, p.name)))

    def digest(self, filters: Filters, *, after: int, upto: int) -> Digest:
        key = (_topic_key(filters), tuple(filters.people), after, upto)
        if key not in self._digests:
            self._digests[key] = self._build(filters, after=after, upto=upto)
        return self._digests[key]

    def _build(self, filters: Filters, *, after: int, upto: int) -> Digest:
        start = bisect.bisect_right(self.change_ids, after)
        end = bisect.bisect_right(self.change_ids, upto)
        changes = self.changes[start:end]
        added_meetings = {c.meeting_id for c in changes if c.kind == ChangeKind.MEETING_ADDED}
        card_meetings: dict[int, None] = {}
        notes: list[ChangeNote] = []
        votes: dict[int, VoteCard] = {}
        statements: list[StatementCard] = []
        for change in changes:
            meeting = self.meetings.get(change.meeting_id) if change.meeting_id else None
            if change.kind == ChangeKind.STATEMENT_ADDED:
                card = self._statement(change, filters)
                if card is not None:
                    statements.append(card)
                continue
            if meeting is None or not self._meeting_ok(meeting, filters):
                continue
            assert meeting.id is not None
            kind = ChangeKind(change.kind)
            if kind in VOTE_KINDS:
                vote = self._vote(change, meeting, filters)
                if vote is not None:
                    votes[change.vote_event_id or 0] = vote
                continue
            if kind in ITEM_KINDS:
                item = self.items.get(change.agenda_item_id) if change.agenda_item_id else None
                matched = self._match(item, filters) if item is not None else None
                if matched is None:
                    continue
                if self._upcoming(meeting):
                    card_meetings[meeting.id] = None
                note = self._item_note(change, kind, meeting, matched, added_meetings)
                if note is not None:
                    notes.append(note)
                continue
            if kind == ChangeKind.MEETING_ADDED or kind in MEETING_NOTE_KINDS:
                if not self._has_matches(meeting, filters):
                    continue
                if self._upcoming(meeting):
                    card_meetings[meeting.id] = None
                if kind != ChangeKind.MEETING_ADDED:
                    notes.append(self._meeting_note(change, kind, meeting))
        cards = [
            c
            for c in (self._card(self.meetings[mid], filters) for mid in card_meetings)
            if c is not None
        ]
        cards.sort(key=lambda c: (c.meeting.start or self.now, c.meeting.id))
        return Digest(
            first_change_id=after + 1,
            last_change_id=upto,
            cards=tuple(cards),
            changes=tuple(notes),
            votes=tuple(sorted(votes.values(), key=lambda v: v.change_id)),
            statements=tuple(statements),
        )

    def _has_matches(self, meeting: Meeting, filters: Filters) -> bool:
        assert meeting.id is not None
        return any(
            self._match(item, filters) is not None
            for item in self.items_by_meeting.get(meeting.id, [])
        )

    def _meeting_note(self, change: Change, kind: ChangeKind, meeting: Meeting) -> ChangeNote:
        details = change.details or {}
        old_start = new_start = None
        detail = None
        kind_name = str(kind)
        source = meeting.source_url
        if kind == ChangeKind.MEETING_RESCHEDULED:
            old_start = _parse_time(details.get("old_start"))
            new_start = _parse_time(details.get("new_start")) or meeting.start
        elif kind == ChangeKind.MEETING_UPDATED:
            parts = []
            for name in ("location", "virtual_link"):
                pair = _pair(details.get(name))
                if pair is not None and pair[1]:
                    parts.append(_line(str(pair[1])))
            detail = "; ".join(parts) or None
            if details.get("reinstated"):
                kind_name = "meeting_reinstated"
        elif kind in (ChangeKind.AGENDA_PUBLISHED, ChangeKind.AGENDA_REVISED):
            source = meeting.agenda_url or meeting.source_url
        elif kind == ChangeKind.MINUTES_PUBLISHED:
            source = meeting.minutes_url or meeting.source_url
        return ChangeNote(
            change_id=change.id or 0,
            kind=kind_name,
            meeting=self._ref(meeting),
            item=None,
            old_start=old_start,
            new_start=new_start,
            detail=detail,
            source_url=source,
        )

    def _item_note(
        self,
        change: Change,
        kind: ChangeKind,
        meeting: Meeting,
        item: MatchedItem,
        added_meetings: set[int | None],
    ) -> ChangeNote | None:
        details = change.details or {}
        note_kind: str = str(kind)
        detail = None
        if kind == ChangeKind.ITEM_ADDED:
            if meeting.id in added_meetings or not self._upcoming(meeting):
                return None  # the action card says it
        elif kind == ChangeKind.ITEM_UPDATED:
            consent = _pair(details.get("consent"))
            if consent is not None:
                note_kind = "item_consent" if consent[1] else "item_unconsent"
            elif "result" in details or "action" in details:
                if change.agenda_item_id in self.voted_items:
                    return None  # the vote card says it
                note_kind = "item_outcome"
                item_row = self.items.get(change.agenda_item_id or 0)
                detail = item_row.action if item_row else None
        return ChangeNote(
            change_id=change.id or 0,
            kind=note_kind,
            meeting=self._ref(meeting),
            item=item,
            detail=detail,
            source_url=item.source_url or meeting.source_url,
        )

    def _vote(self, change: Change, meeting: Meeting, filters: Filters) -> VoteCard | None:
        event = self.vote_events.get(change.vote_event_id or 0)
        item = self.items.get(change.agenda_item_id or 0)
        if event is None or item is None:
            return None
        matched = self._match(item, filters)
        if matched is None:
            return None
        followed = [fold(p) for p in filters.people]
        lines = []
        for vote in self.votes.get(event.id or 0, []):
            person = self.people.get(vote.person_id)
            name = person.name if person else "?"
            lines.append(
                VoteLine(
                    person=name,
                    value=vote.value,
                    raw_value=vote.raw_value,
                    followed=any(f in fold(name) for f in followed),
                )
            )
        if followed and not any(line.followed for line in lines):
            return None
        lines.sort(key=lambda v: (v.person.split()[-1:], v.person))  # by last name
        return VoteCard(
            change_id=change.id or 0,
            meeting=self._ref(meeting),
            item=matched,
            motion=event.motion,
            action=event.action,
            result=event.result,
            tally=event.tally,
            yes=event.yes_count,
            no=event.no_count,
            other=event.other_count,
            votes=tuple(lines),
            revised=change.kind == ChangeKind.VOTE_REVISED,
            source_url=event.source_url or item.source_url or meeting.source_url,
        )

    def _statement(self, change: Change, filters: Filters) -> StatementCard | None:
        statement = self.statements.get(change.statement_id or 0)
        if statement is None or not statement.confirmed:
            return None
        person = self.people.get(statement.person_id)
        if person is None:
            return None
        juris = self.jurisdictions.get(person.jurisdiction_id)
        if filters.jurisdictions and (juris is None or juris.slug not in filters.jurisdictions):
            return None
        if filters.people and not any(fold(p) in fold(person.name) for p in filters.people):
            return None
        item = self.items.get(statement.agenda_item_id) if statement.agenda_item_id else None
        if item is not None and self._match(item, filters) is None:
            return None
        return StatementCard(
            change_id=change.id or 0,
            person=person.name,
            stance=statement.stance,
            quote=statement.quote,
            date=statement.date,
            item_title=item.title if item else None,
            source_url=statement.source_url,
        )


def _topic_key(filters: Filters) -> tuple[Any, ...]:
    return (filters.jurisdictions, filters.bodies, filters.categories, filters.keywords)


def _by_id(session: Session, model: Any, ids: Iterable[int | None]) -> dict[int, Any]:
    wanted = sorted({i for i in ids if i})
    out: dict[int, Any] = {}
    for chunk in range(0, len(wanted), 500):
        part = wanted[chunk : chunk + 500]
        for row in session.exec(select(model).where(col(model.id).in_(part))):
            out[row.id] = row
    return out


def _in(session: Session, model: Any, column: Any, ids: Iterable[int | None]) -> list[Any]:
    wanted = sorted({i for i in ids if i})
    rows: list[Any] = []
    for chunk in range(0, len(wanted), 500):
        part = wanted[chunk : chunk + 500]
        rows += list(session.exec(select(model).where(col(column).in_(part))))
    return rows


# -- rendering -----------------------------------------------------------------------------


@cache
def translations(language: str) -> NullTranslations:
    """The catalog for ``language``, compiled in memory from its .po file."""
    if language == "en":
        return NullTranslations()
    po = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=BABEL_LOCALES.get(language, language))
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain="messages")


def _safe_url(value: object) -> str | None:
    """Only http(s) links reach an e-mail: a crawled ``javascript:`` URL is dropped."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.match(r"(?i)^https?://[^\s<>\"']+$", text):
        return text
    return None


def clean_header(text: str, limit: int = MAX_SUBJECT) -> str:
    """One line of plain text: no CR, LF or other control characters can reach a header."""
    kept = [" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text]
    line = " ".join("".join(kept).split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line


class Renderer:
    """Renders digests for one language: subject, plain text and HTML with CSS inlined."""

    def __init__(self, language: str, *, base_url: str) -> None:
        self.language = language
        self.locale = BABEL_LOCALES.get(language, "en_US")
        self.base_url = base_url.rstrip("/")
        self.t = translations(language)
        env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=select_autoescape(["html"], default_for_string=False, default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
        )
        env.install_gettext_translations(self.t, newstyle=True)  # type: ignore[attr-defined]
        env.filters.update(
            when=self.when,
            day=self.day,
            url=_safe_url,
            category=lambda v: self._label(CATEGORY_LABELS, v),
            direction=lambda v: self._label(DIRECTION_LABELS, v),
            vote=lambda v: self._label(VOTE_LABELS, v),
            result=lambda v: self._label(RESULT_LABELS, v),
            stance=lambda v: self._label(STANCE_LABELS, v),
            number=self.number,
        )
        self.env = env
        self.inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
        self._when: dict[tuple[datetime | None, str | None], str] = {}

    def _label(self, table: dict[str, str], value: object) -> str:
        if value is None:
            return ""
        text = table.get(str(value))
        return self.t.gettext(text) if text else str(value)

    def gettext(self, message: str, **values: Any) -> str:
        return self.t.gettext(message) % values if values else self.t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        return self.t.ngettext(singular, plural, n) % {"num": n, **values}

    def frequency_label(self, value: str) -> str:
        return self._label(FREQUENCY_LABELS, value)

    def number(self, value: float | None) -> str:
        from babel.numbers import format_decimal

        return "" if value is None else format_decimal(value, locale=self.locale)

    def when(self, value: datetime | None, timezone: str | None = None) -> str:
        """A stored UTC time as the people there read it: "Tuesday, March 4, 2031, 10:00 AM PST"."""
        key = (value, timezone)
        if key not in self._when:
            self._when[key] = self._format_when(value, timezone)
        return self._when[key]

    def _format_when(self, value: datetime | None, timezone: str | None) -> str:
        if value is None:
            return self.t.gettext("date to be announced")
        local = value.astimezone(ZoneInfo(timezone)) if timezone else value
        return (
            f"{format_date(local, 'full', locale=self.locale)}, "
            f"{format_time(local, 'short', locale=self.locale)} {local.strftime('%Z')}".strip()
        )

    def day(self, value: datetime | date | None, timezone: str | None = None) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime) and timezone:
            value = value.astimezone(ZoneInfo(timezone))
        return format_skeleton("MMMEd", value, locale=self.locale)

    def summary(self, digest: Digest) -> str:
        parts = []
        if digest.cards:
            parts.append(
                self.ngettext(
                    "%(num)d upcoming meeting with ICE items",
                    "%(num)d upcoming meetings with ICE items",
                    len(digest.cards),
                )
            )
        if digest.changes:
            parts.append(self.ngettext("%(num)d change", "%(num)d changes", len(digest.changes)))
        if digest.votes:
            parts.append(self.ngettext("%(num)d vote", "%(num)d votes", len(digest.votes)))
        if digest.statements:
            parts.append(
                self.ngettext("%(num)d statement", "%(num)d statements", len(digest.statements))
            )
        return " · ".join(parts)

    def subject(self, digest: Digest) -> str:
        """Says what is inside: the most pressing thing first, then how much more."""
        rest = len(digest.cards) + len(digest.changes) + len(digest.votes) + len(digest.statements)
        if digest.cards:
            card = digest.cards[0]
            place = card.meeting.body or card.meeting.jurisdiction
            head = self.ngettext(
                "%(place)s, %(day)s: %(num)d ICE item on the agenda",
                "%(place)s, %(day)s: %(num)d ICE items on the agenda",
                len(card.items),
                place=place,
                day=self.day(card.meeting.start, card.meeting.timezone),
            )
        elif digest.votes:
            vote = digest.votes[0]
            head = self.gettext(
                "Vote on %(title)s: %(result)s",
                title=_short(vote.item.title, 70),
                result=vote.action
                or self._label(RESULT_LABELS, vote.result)
                or self.gettext("recorded"),
            )
        elif digest.changes:
            note = digest.changes[0]
            head = self.note_headline(note)
        else:
            st = digest.statements[0]
            head = self.gettext("New statement by %(person)s", person=st.person)
        more = rest - 1
        if more > 0:
            head += " " + self.ngettext("(+%(num)d more)", "(+%(num)d more)", more)
        return clean_header(head)

    def note_headline(self, note: ChangeNote) -> str:
        place = note.meeting.body or note.meeting.jurisdiction
        day = self.day(note.meeting.start, note.meeting.timezone)
        headlines = {
            "meeting_rescheduled": N_("Meeting moved: %(place)s, now %(day)s"),
            "meeting_cancelled": N_("Meeting cancelled: %(place)s, %(day)s"),
            "meeting_updated": N_("Meeting details changed: %(place)s, %(day)s"),
            "meeting_reinstated": N_("Meeting back on the calendar: %(place)s, %(day)s"),
            "meeting_removed": N_("Meeting no longer listed: %(place)s, %(day)s"),
            "agenda_published": N_("Agenda posted: %(place)s, %(day)s"),
            "agenda_revised": N_("Agenda revised: %(place)s, %(day)s"),
            "minutes_published": N_("Minutes posted: %(place)s, %(day)s"),
            "item_added": N_("Item added: %(title)s"),
            "item_removed": N_("Item pulled from the agenda: %(title)s"),
            "item_updated": N_("Item revised: %(title)s"),
            "item_consent": N_("Moved to the consent agenda: %(title)s"),
            "item_unconsent": N_("Moved off the consent agenda: %(title)s"),
            "item_outcome": N_("Outcome recorded: %(title)s"),
        }
        template = headlines.get(note.kind, N_("Update: %(place)s, %(day)s"))
        title = _short(note.item.title, 70) if note.item else ""
        return self.gettext(template, place=place, day=day, title=title)

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(
            lang=self.language, base_url=self.base_url, r=self, **context
        )

    def digest_parts(self, digest: Digest, *, urgent_hours: int = 72) -> tuple[str, str, str]:
        """Subject, text and HTML, with slots where each subscriber's link tokens go."""
        context = {
            "digest": digest,
            "urgent_hours": urgent_hours,
            "summary": self.summary(digest),
            "unsubscribe_url": f"{self.base_url}/unsubscribe/{UNSUBSCRIBE_SLOT}",
            "preferences_url": f"{self.base_url}/preferences/{PREFERENCES_SLOT}",
        }
        text = self.render("email/digest.txt", **context)
        html = self.inliner.inline(self.render("email/digest.html", **context))
        return self.subject(digest), text, html

    def confirmation_parts(
        self, confirm_url: str, filters: Filters, *, confirm_hours: int
    ) -> tuple[str, str, str]:
        context = {"confirm_url": confirm_url, "filters": filters, "confirm_hours": confirm_hours}
        text = self.render("email/confirm.txt", **context)
        html = self.inliner.inline(self.render("email/confirm.html", **context))
        subject = clean_header(self.gettext("Confirm your ICE Council Tracker alerts"))
        return subject, text, html


def _short(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


@cache
def renderer(language: str, base_url: str) -> Renderer:
    return Renderer(language, base_url=base_url)


def digest_message_id(
    settings: Settings, tokens: Tokens, subscriber: Subscriber, first: int, last: int
) -> str:
    """Deterministic, so a digest sent again after a crash carries the same Message-ID; and
    never the same for two different e-mails, even after the database is started afresh (the
    installation's key and the subscriber's creation time are part of it)."""
    seed = f"{tokens.installation}:{subscriber.id}:{subscriber.created_at.isoformat()}"
    digest = hashlib.sha256(f"{seed}:{first}:{last}".encode()).hexdigest()[:32]
    return f"<{digest}.digest@{domain_of(settings.mail_from)}>"


@dataclass(frozen=True)
class RenderedDigest:
    """One digest rendered for one language, encoded once; only the tokens differ."""

    subject: str
    text: EncodedBody
    html: EncodedBody


def encode_digest(parts: tuple[str, str, str]) -> RenderedDigest:
    subject, text, html = parts
    slots = (UNSUBSCRIBE_SLOT, PREFERENCES_SLOT)
    return RenderedDigest(subject, EncodedBody.encode(text, slots), EncodedBody.encode(html, slots))


def digest_message(
    settings: Settings,
    tokens: Tokens,
    subscriber: Subscriber,
    rendered: RenderedDigest,
    digest: Digest,
    now: datetime,
) -> tuple[str, bytes]:
    """The finished e-mail for one subscriber: their links in the slots, their headers."""
    assert subscriber.id is not None
    values = {
        UNSUBSCRIBE_SLOT: tokens.unsubscribe(subscriber.id, subscriber.email),
        PREFERENCES_SLOT: tokens.preferences(subscriber.id, subscriber.email),
    }
    message_id = digest_message_id(
        settings, tokens, subscriber, digest.first_change_id, digest.last_change_id
    )
    base = settings.public_base_url.rstrip("/")
    data = compose(
        sender=settings.mail_from,
        recipient=subscriber.email,
        subject=rendered.subject,
        message_id=message_id,
        date=now,
        language=subscriber.language,
        text=rendered.text.fill(values),
        html=rendered.html.fill(values),
        list_unsubscribe=f"{base}/unsubscribe/{values[UNSUBSCRIBE_SLOT]}",
        list_id=f"ICE Council Tracker digest <digest.{domain_of(settings.mail_from)}>",
    )
    return message_id, data


# -- queueing ----------------------------------------------------------------------------------


@dataclass
class QueuedDigest:
    subscriber_id: int
    masked_email: str
    language: str
    frequency: str
    first_change_id: int
    last_change_id: int
    subject: str
    urgent: bool
    size: int
    message: bytes | None = None


@dataclass
class QueueReport:
    subscriptions: int = 0
    queued: int = 0
    empty: int = 0
    not_due: int = 0
    conflicts: int = 0
    digests: list[QueuedDigest] = field(default_factory=list)


def _due(
    frequency: str | None, subscription: Subscription, digest: Digest, now: datetime, hours: float
) -> tuple[bool, bool]:
    """(send now?, ahead of its schedule?) for a digest with something in it."""
    if frequency is None or frequency == subscription.frequency:
        return True, False
    if frequency == "immediate" and digest.urgent(now, hours):
        return True, True
    return False, False


def queue_digests(
    engine: Engine,
    settings: Settings,
    *,
    frequency: str | None = None,
    registry: Registry | None = None,
    tokens: Tokens | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    keep_messages: bool = False,
    only: Collection[int] | None = None,
) -> QueueReport:
    """Build, render and queue the digests due now.

    ``frequency`` None: every active subscription. "daily" or "weekly": those. "immediate":
    immediate subscriptions, and daily and weekly ones whose digest has a meeting within
    ``urgent_hours`` (they get it now instead of later; it is still one digest, never two).
    ``dry_run`` renders what would be sent and writes nothing; ``only`` limits the run to
    these subscriber ids.
    """
    now = now or utcnow()
    registry = registry or load_registry()
    tokens = tokens or Tokens.from_settings(settings)
    report = QueueReport()
    with Session(engine) as session:
        newest = session.exec(select(func.max(Change.id))).one() or 0
        query = (
            select(Subscription, Subscriber)
            .join(Subscriber, col(Subscription.subscriber_id) == col(Subscriber.id))
            .where(Subscriber.status == ACTIVE, col(Subscription.last_change_id) < newest)
            .order_by(col(Subscription.id))
        )
        if frequency in ("daily", "weekly"):
            query = query.where(Subscription.frequency == frequency)
        if only is not None:
            query = query.where(col(Subscriber.id).in_(list(only)))
        rows = list(session.exec(query))
        if not rows:
            return report
        after = min(s.last_change_id for s, _ in rows)
        ids = list(
            session.execute(
                select(Change.id, Change.observed_at)
                .where(col(Change.id) > after)
                .order_by(col(Change.id))
            )
        )
    upto = settled_upto([(int(i), t) for i, t in ids], after, now)
    snapshot = Snapshot(engine, after=after, upto=upto, now=now, registry=registry)
    rendered: dict[tuple[int, str], RenderedDigest] = {}
    fault = settings.fault_exit_after
    with engine.connect() as conn:
        for subscription, subscriber in rows:
            report.subscriptions += 1
            if subscription.last_change_id >= upto:
                continue
            filters = Filters.of(subscription, subscriber.language)
            digest = snapshot.digest(filters, after=subscription.last_change_id, upto=upto)
            if digest.empty:
                report.empty += 1
                if not dry_run:
                    _advance_only(conn, subscription, upto)
                continue
            due, urgent = _due(frequency, subscription, digest, now, settings.urgent_hours)
            if not due:
                report.not_due += 1
                continue
            key = (id(digest), subscriber.language)
            if key not in rendered:
                r = renderer(subscriber.language, settings.public_base_url)
                parts = r.digest_parts(digest, urgent_hours=settings.urgent_hours)
                rendered[key] = encode_digest(parts)
            message_id, data = digest_message(
                settings, tokens, subscriber, rendered[key], digest, now
            )
            entry = QueuedDigest(
                subscriber_id=subscriber.id or 0,
                masked_email=mask_email(subscriber.email),
                language=subscriber.language,
                frequency=subscription.frequency,
                first_change_id=digest.first_change_id,
                last_change_id=digest.last_change_id,
                subject=rendered[key].subject,
                urgent=urgent,
                size=len(data),
                message=data if (dry_run or keep_messages) else None,
            )
            if dry_run:
                report.digests.append(entry)
                continue
            if _write_outbox(conn, subscription, digest, entry, message_id, data, now):
                report.queued += 1
                report.digests.append(entry)
                logger.info(
                    "queued digest %s..%s for %s",
                    digest.first_change_id,
                    digest.last_change_id,
                    entry.masked_email,
                )
                if fault == "queue":
                    os._exit(75)  # the crash-recovery tests' hook; see docs/settings.md
            else:
                report.conflicts += 1
    return report


class _Moved(Exception):
    """Another run moved the high-water mark first."""


_ADVANCE = (
    update(SUBSCRIPTION)
    .where(SUBSCRIPTION.c.id == bindparam("sid"), SUBSCRIPTION.c.last_change_id == bindparam("old"))
    .values(last_change_id=bindparam("new"))
)
_ADVANCE_SENT = _ADVANCE.values(last_digest_at=bindparam("at"))
_QUEUE = insert(DELIVERY)


def _advance_only(conn: Connection, subscription: Subscription, upto: int) -> None:
    with conn.begin():
        conn.execute(
            _ADVANCE, {"sid": subscription.id, "old": subscription.last_change_id, "new": upto}
        )


def _write_outbox(
    conn: Connection,
    subscription: Subscription,
    digest: Digest,
    entry: QueuedDigest,
    message_id: str,
    data: bytes,
    now: datetime,
) -> bool:
    """The outbox row and the new high-water mark, in one transaction, or neither."""
    try:
        with conn.begin():
            conn.execute(
                _QUEUE,
                {
                    "subscriber_id": subscription.subscriber_id,
                    "subscription_id": subscription.id,
                    "first_change_id": digest.first_change_id,
                    "last_change_id": digest.last_change_id,
                    "message_id": message_id,
                    "subject": entry.subject,
                    "urgent": entry.urgent,
                    "status": "queued",
                    "attempts": 0,
                    "created_at": now,
                    "message": data,
                },
            )
            moved = conn.execute(
                _ADVANCE_SENT,
                {
                    "sid": subscription.id,
                    "old": subscription.last_change_id,
                    "new": digest.last_change_id,
                    "at": now,
                },
            )
            if moved.rowcount != 1:
                raise _Moved  # rolls the outbox row back with it
    except (_Moved, IntegrityError):
        logger.info("digest for %s was already queued by another run", entry.masked_email)
        return False
    return True


# -- the demo ----------------------------------------------------------------------------------

DEMO_SUBSCRIBERS = (("demo-en@example.org", "en"), ("demo-es@example.org", "es"))


def write_demo_digests(
    engine: Engine, outdir: Path, *, say: Callable[[str], None] | None = None
) -> list[Path]:
    """Demo subscribers (one English, one Spanish, following the crawled jurisdictions) and
    their digests as .eml files in ``outdir/digests`` through the files transport.

    Returns the .eml files written: none when the crawled data holds nothing for them (the
    Seattle recording has no ICE items), since an empty digest is never sent. Either way
    ``outdir/digests/README.txt`` says what happened.
    """
    from tracker.mailer import FilesTransport, send_queued
    from tracker.settings import load_settings

    folder = outdir / "digests"
    folder.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        {"data_dir": str(outdir), "outbox_dir": str(folder), "mail_transport": "files"}
    )
    ids: list[int] = []
    with Session(engine) as session, session.begin():
        slugs = sorted(j.slug for j in session.exec(select(Jurisdiction)))
        for address, language in DEMO_SUBSCRIBERS:
            subscriber = session.exec(select(Subscriber).where(Subscriber.email == address)).first()
            if subscriber is None:
                subscriber = Subscriber(
                    email=address, language=language, status=ACTIVE, confirmed_at=utcnow()
                )
                session.add(subscriber)
                session.flush()
                assert subscriber.id is not None
                session.add(
                    Subscription(
                        subscriber_id=subscriber.id, frequency="weekly", jurisdictions=slugs
                    )
                )
            assert subscriber.id is not None
            ids.append(subscriber.id)
    report = queue_digests(engine, settings, only=ids)
    sent = send_queued(engine, settings, transport=FilesTransport(folder), only=ids)
    files = sorted(folder.glob("*.eml"))
    lines = [
        f"Demo subscribers: {', '.join(mask_email(a) for a, _ in DEMO_SUBSCRIBERS)}, following "
        f"{', '.join(slugs) or 'no jurisdiction'}.",
    ]
    if files:
        lines.append(f"{sent.sent} digest(s) written as .eml files here:")
        lines += [f"  {d.masked_email} ({d.language}): {d.subject}" for d in report.digests]
    else:
        lines.append(
            "No digest was written: the crawled data holds no ICE items, votes or changes for "
            "these subscribers, and an empty digest is never sent."
        )
    (folder / "README.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for line in lines:
        if say is not None:
            say(line)
    return files
