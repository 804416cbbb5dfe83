"""One Person per councilor, across every way sources write them.

Platforms give people ids (Legistar's VotePersonId); minutes, news and hand-entered
statements give only names: "Councilor Hunter Williams", "Williams", "HUNTER WILLIAMS ". A
name is resolved against the roster of the body on the meeting's date (memberships from the
platform where it has them, from the registry otherwise) with tracker.names, which never
guesses: a last name alone counts only when it is unique on that roster, and a name that fits
no one or several people becomes a person marked for review, with the candidates noted.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlmodel import Session, col, or_, select

from tracker.models import Body, Membership, Person
from tracker.names import (
    Resolution,
    RosterMember,
    display_name,
    normalize_name,
    resolve_name,
)
from tracker.registry import Entry

REGISTRY_PREFIX = "registry:"
# Reasons a name may be matched jurisdiction-wide (former members, other bodies): only full
# names. A bare last name is trusted on the body's own roster alone.
WIDE_REASONS = frozenset({"exact", "alias", "initials"})


def registry_id(name: str) -> str:
    return REGISTRY_PREFIX + re.sub(r"[^a-z0-9]+", "-", normalize_name(name)).strip("-")


def sync_registry(session: Session, jurisdiction_id: int, entry: Entry) -> None:
    """Bodies and members the registry defines, as rows (idempotent)."""
    for body_entry in entry.bodies:
        body_key = registry_id(body_entry.name)
        body = session.exec(
            select(Body).where(
                Body.jurisdiction_id == jurisdiction_id, Body.platform_id == body_key
            )
        ).first()
        if body is None:
            body = Body(
                jurisdiction_id=jurisdiction_id,
                platform_id=body_key,
                name=body_entry.name,
                kind=body_entry.kind,
            )
            session.add(body)
            session.flush()
        else:
            body.name, body.kind = body_entry.name, body_entry.kind
        assert body.id is not None
        for member in body_entry.members:
            person = _registry_person(session, jurisdiction_id, member.name)
            for field in ("email", "phone", "website"):
                value = getattr(member, field)
                if value and getattr(person, field) != value:
                    setattr(person, field, value)
            assert person.id is not None
            seat = f"{registry_id(member.name)}@{member.start or ''}"
            membership = session.exec(
                select(Membership).where(
                    Membership.body_id == body.id, Membership.platform_id == seat
                )
            ).first()
            values: dict[str, Any] = {
                "person_id": person.id,
                "role": member.role,
                "start_date": member.start,
                "end_date": member.end,
            }
            if membership is None:
                session.add(Membership(body_id=body.id, platform_id=seat, **values))
            else:
                for field, value in values.items():
                    if getattr(membership, field) != value:
                        setattr(membership, field, value)


def _registry_person(session: Session, jurisdiction_id: int, name: str) -> Person:
    key = registry_id(name)
    person = session.exec(
        select(Person).where(Person.jurisdiction_id == jurisdiction_id, Person.platform_id == key)
    ).first()
    if person is not None:
        return person
    # The same person may already be known from the platform under that name.
    wanted = normalize_name(name)
    for candidate in session.exec(
        select(Person).where(
            Person.jurisdiction_id == jurisdiction_id, col(Person.needs_review).is_(False)
        )
    ):
        if normalize_name(candidate.name) == wanted:
            return candidate
    person = Person(jurisdiction_id=jurisdiction_id, platform_id=key, name=display_name(name))
    session.add(person)
    session.flush()
    return person


def roster(
    session: Session, jurisdiction_id: int, body_id: int | None = None, on: date | None = None
) -> list[RosterMember]:
    """The members of a body on a date; without a body, everyone known in the jurisdiction."""
    if body_id is not None:
        query = (
            select(Person)
            .join(Membership, col(Membership.person_id) == col(Person.id))
            .where(Membership.body_id == body_id)
        )
        if on is not None:
            query = query.where(
                or_(col(Membership.start_date).is_(None), col(Membership.start_date) <= on),
                or_(col(Membership.end_date).is_(None), col(Membership.end_date) >= on),
            )
    else:
        query = select(Person).where(
            Person.jurisdiction_id == jurisdiction_id, col(Person.needs_review).is_(False)
        )
    people = {p.id: p for p in session.exec(query)}
    return [
        RosterMember(key=str(pid), name=p.name, aliases=tuple(p.aliases))
        for pid, p in people.items()
        if pid is not None
    ]


def resolve_person(
    session: Session,
    jurisdiction_id: int,
    name: str,
    *,
    body_id: int | None = None,
    on: date | None = None,
) -> int:
    """The id of the person ``name`` means; a person marked for review when unsure."""
    written = display_name(name) or name.strip()
    members = roster(session, jurisdiction_id, body_id, on) if body_id is not None else []
    if members:
        resolution = resolve_name(name, members)
        if resolution.member is not None:
            return _resolved(session, resolution.member, written)
        if resolution.reason == "ambiguous":
            return _review_person(session, jurisdiction_id, written, _candidates(resolution))
    # Off the body's roster (or none is known): only a full name may match anyone else.
    wide = resolve_name(name, roster(session, jurisdiction_id))
    if wide.member is not None and wide.reason in WIDE_REASONS:
        return _resolved(session, wide.member, written)
    if wide.reason == "ambiguous":
        return _review_person(session, jurisdiction_id, written, _candidates(wide))
    note = (
        "a last name alone, and no roster of this body on this date to check it against"
        if wide.reason == "last_name"
        else "no one on the roster fits this name"
    )
    return _review_person(session, jurisdiction_id, written, note)


def _candidates(resolution: Resolution) -> str:
    return "several people fit: " + ", ".join(sorted(c.name for c in resolution.candidates))


def _resolved(session: Session, member: RosterMember, written: str) -> int:
    person = session.get(Person, int(member.key))
    assert person is not None
    _learn_alias(person, written)
    return int(member.key)


def _learn_alias(person: Person, written: str) -> None:
    # Full names only: a bare last name stays a roster question, answered on each date.
    if len(normalize_name(written).split()) < 2:
        return
    if written != person.name and written not in person.aliases:
        person.aliases = [*person.aliases, written]


def _review_person(session: Session, jurisdiction_id: int, written: str, note: str) -> int:
    person = session.exec(
        select(Person).where(
            Person.jurisdiction_id == jurisdiction_id,
            col(Person.platform_id).is_(None),
            Person.name == written,
            col(Person.needs_review).is_(True),
        )
    ).first()
    if person is None:
        person = Person(
            jurisdiction_id=jurisdiction_id, name=written, needs_review=True, review_note=note
        )
        session.add(person)
        session.flush()
    elif person.review_note != note:
        person.review_note = note
    assert person.id is not None
    return person.id
