"""One person per councilor: names from minutes and news resolve against the body's roster
on the meeting's date; ambiguity is recorded, never guessed (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from tracker.db import open_database
from tracker.items import ScrapedBody, ScrapedMembership, ScrapedPerson
from tracker.models import Body, Membership, Person
from tracker.people import resolve_person, sync_registry
from tracker.registry import load_registry
from tracker.store import Store

SEATTLE = {
    "183": "Sally Bagshaw",
    "516": "M. Lorena González ",
    "187": "Bruce Harrell",
    "225": "Lisa Herbold",
    "523": "Debora Juarez",
    "189": "Mike O'Brien",
    "642": "Abel Pacheco",
    "186": "Kshama Sawant",
}


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(open_database(database_url))


def seattle_council(store: Store) -> tuple[int, int]:
    jid = store.ensure_jurisdiction(load_registry().get("seattle"))
    writer = store.writer(jid, None)
    items: list[object] = [ScrapedBody(platform_id="138", name="City Council")]
    for pid, name in SEATTLE.items():
        items.append(ScrapedPerson(platform_id=pid, name=name))
        items.append(
            ScrapedMembership(
                platform_id=f"or{pid}",
                person_platform_id=pid,
                body_platform_id="138",
                start_date=date(2018, 1, 1),
            )
        )
    writer.write(items)  # type: ignore[arg-type]
    with Session(store.engine) as session:
        body = session.exec(select(Body).where(Body.platform_id == "138")).one()
        assert body.id is not None
        return jid, body.id


def test_one_person_across_ways_of_writing(store: Store) -> None:
    jid, council = seattle_council(store)
    with Session(store.engine) as session, session.begin():
        ids = {
            written: resolve_person(session, jid, written, body_id=council, on=date(2019, 7, 29))
            for written in (
                "M. Lorena González ",
                "Lorena Gonzalez",
                "Councilmember González",
                "LORENA GONZÁLEZ",
            )
        }
    with Session(store.engine) as session:
        gonzalez = session.exec(select(Person).where(Person.platform_id == "516")).one()
        assert set(ids.values()) == {gonzalez.id}
        assert gonzalez.name == "M. Lorena González"  # published with a trailing space
        assert "Lorena Gonzalez" in gonzalez.aliases  # learnt, so later news finds her too


def test_two_smiths_are_ambiguous_and_recorded_for_review(store: Store) -> None:
    jid = store.ensure_jurisdiction(load_registry().get("seattle"))
    writer = store.writer(jid, None)
    writer.write(
        [
            ScrapedBody(platform_id="9", name="Board"),
            ScrapedPerson(platform_id="1", name="Ann Smith"),
            ScrapedPerson(platform_id="2", name="Bob Smith"),
            ScrapedMembership(platform_id="m1", person_platform_id="1", body_platform_id="9"),
            ScrapedMembership(platform_id="m2", person_platform_id="2", body_platform_id="9"),
        ]
    )
    with Session(store.engine) as session, session.begin():
        body = session.exec(select(Body).where(Body.platform_id == "9")).one()
        first = resolve_person(session, jid, "Smith", body_id=body.id)
        again = resolve_person(session, jid, "Councilor Smith", body_id=body.id)
        ann = resolve_person(session, jid, "Ann Smith", body_id=body.id)
        review = session.get(Person, first)
        assert review is not None
        assert review.needs_review
        assert review.review_note == "several people fit: Ann Smith, Bob Smith"
        assert again == first  # one review entry, not one per mention
        assert session.get(Person, ann).platform_id == "1"  # type: ignore[union-attr]


def test_a_last_name_counts_only_on_the_roster_of_that_date(store: Store) -> None:
    jid = store.ensure_jurisdiction(load_registry().get("seattle"))
    store.writer(jid, None).write(
        [
            ScrapedBody(platform_id="9", name="Board"),
            ScrapedPerson(platform_id="1", name="Ann Lee"),
            ScrapedPerson(platform_id="2", name="Carl Lee"),
            ScrapedMembership(
                platform_id="m1",
                person_platform_id="1",
                body_platform_id="9",
                start_date=date(2010, 1, 1),
                end_date=date(2015, 12, 31),
            ),
            ScrapedMembership(
                platform_id="m2",
                person_platform_id="2",
                body_platform_id="9",
                start_date=date(2016, 1, 1),
            ),
        ]
    )
    with Session(store.engine) as session, session.begin():
        body = session.exec(select(Body).where(Body.platform_id == "9")).one()
        in_2014 = resolve_person(session, jid, "Lee", body_id=body.id, on=date(2014, 5, 1))
        in_2020 = resolve_person(session, jid, "Lee", body_id=body.id, on=date(2020, 5, 1))
        assert session.get(Person, in_2014).platform_id == "1"  # type: ignore[union-attr]
        assert session.get(Person, in_2020).platform_id == "2"  # type: ignore[union-attr]
        # Without a roster, a bare last name fits no one for sure.
        unsure = session.get(Person, resolve_person(session, jid, "Lee"))
        assert unsure is not None
        assert unsure.needs_review


def test_registry_bodies_and_members_become_rows_once(store: Store) -> None:
    entry = load_registry().get("birmingham-al")
    store.ensure_jurisdiction(entry)
    store.ensure_jurisdiction(entry)
    with Session(store.engine) as session:
        bodies = {b.name: b for b in session.exec(select(Body))}
        assert set(bodies) == {"City Council", "Public Safety Committee"}
        committee = session.exec(
            select(Person.name, Membership.role)
            .join(Membership, Membership.person_id == Person.id)
            .where(  # type: ignore[arg-type]
                Membership.body_id == bodies["Public Safety Committee"].id
            )
        ).all()
        assert sorted(committee) == [
            ("Crystal Smitherman", None),
            ("Hunter Williams", None),
            ("LaTonya Tate", "Chair"),
        ]
        assert len(session.exec(select(Person)).all()) == 9
        jurisdiction_id = bodies["City Council"].jurisdiction_id
    with Session(store.engine) as session, session.begin():
        sync_registry(session, jurisdiction_id, entry)
    with Session(store.engine) as session:
        assert len(session.exec(select(Membership)).all()) == 12
