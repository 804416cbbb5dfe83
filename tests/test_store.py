"""The store's rules, on SQLite and PostgreSQL: idempotent upserts, the change log, and
absence is not removal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from tracker.db import open_database
from tracker.items import (
    MeetingListing,
    Relevance,
    ScrapedAgenda,
    ScrapedAgendaItem,
    ScrapedMatter,
    ScrapedMeeting,
    ScrapedPerson,
    ScrapedVote,
    ScrapedVoteEvent,
)
from tracker.models import (
    AgendaItem,
    Change,
    Matter,
    Meeting,
    MeetingStatus,
    Person,
    Vote,
    VoteSource,
    VoteValue,
)
from tracker.registry import load_registry
from tracker.store import JurisdictionWriter, Store

START = datetime(2031, 3, 4, 18, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(open_database(database_url))


@pytest.fixture
def writer(store: Store) -> JurisdictionWriter:
    jurisdiction_id = store.ensure_jurisdiction(load_registry().get("seattle"))
    return store.writer(jurisdiction_id, None)


def meeting(**changes: object) -> ScrapedMeeting:
    values: dict[str, object] = {
        "platform": "legistar",
        "platform_id": "100",
        "body_platform_id": "138",
        "body_name": "City Council",
        "title": "City Council",
        "start": START,
        "location": "Council Chamber",
        "status": MeetingStatus.SCHEDULED,
        "agenda_published_at": None,
    }
    values.update(changes)
    return ScrapedMeeting.model_validate(values)


def item(platform_id: str, title: str = "An item", **changes: object) -> ScrapedAgendaItem:
    return ScrapedAgendaItem.model_validate({"platform_id": platform_id, "title": title, **changes})


def agenda(*items: ScrapedAgendaItem, complete: bool = True) -> ScrapedAgenda:
    return ScrapedAgenda(
        meeting_platform="legistar", meeting_platform_id="100", items=items, complete=complete
    )


def kinds(store: Store) -> list[str]:
    with Session(store.engine) as session:
        return [c.kind for c in session.exec(select(Change).order_by(Change.id))]  # type: ignore[arg-type]


def test_same_items_twice_change_nothing(store: Store, writer: JurisdictionWriter) -> None:
    batch = [meeting(), agenda(item("1"), item("2", "Second"))]
    first = writer.write(batch)
    assert first.added == 3
    assert kinds(store) == ["meeting_added", "item_added", "item_added"]
    second = writer.write(batch)
    assert (second.added, second.updated, second.changes) == (0, 0, [])
    assert kinds(store) == ["meeting_added", "item_added", "item_added"]


def test_upcoming_meeting_moved_is_rescheduled(store: Store, writer: JurisdictionWriter) -> None:
    writer.write([meeting()])
    writer.write([meeting(start=START + timedelta(hours=2))])
    assert kinds(store) == ["meeting_added", "meeting_rescheduled"]
    with Session(store.engine) as session:
        row = session.exec(select(Meeting)).one()
        assert row.status == MeetingStatus.RESCHEDULED
        assert row.start == START + timedelta(hours=2)
    # The platform still says "scheduled": the meeting stays rescheduled, and nothing is logged.
    writer.write([meeting(start=START + timedelta(hours=2))])
    assert kinds(store) == ["meeting_added", "meeting_rescheduled"]


def test_cancelled_and_reinstated(store: Store, writer: JurisdictionWriter) -> None:
    writer.write([meeting()])
    writer.write([meeting(status=MeetingStatus.CANCELLED)])
    writer.write([meeting(status=MeetingStatus.SCHEDULED)])
    assert kinds(store) == ["meeting_added", "meeting_cancelled", "meeting_updated"]


def test_agenda_published_then_revised(store: Store, writer: JurisdictionWriter) -> None:
    writer.write([meeting()])
    published = datetime(2031, 3, 1, 12, tzinfo=UTC)
    writer.write([meeting(agenda_published_at=published)])
    writer.write([meeting(agenda_published_at=published + timedelta(days=1))])
    assert kinds(store) == ["meeting_added", "agenda_published", "agenda_revised"]


def test_items_missing_from_a_complete_agenda_are_removed(
    store: Store, writer: JurisdictionWriter
) -> None:
    writer.write([meeting(), agenda(item("1"), item("2"))])
    writer.write([agenda(item("1"), complete=False)])  # a partial listing proves nothing
    assert kinds(store).count("item_removed") == 0
    writer.write([agenda(item("1"))])
    assert kinds(store)[-1] == "item_removed"
    with Session(store.engine) as session:
        rows = {r.platform_id: r for r in session.exec(select(AgendaItem))}
    assert rows["2"].removed_at is not None  # kept, only marked
    assert rows["1"].removed_at is None


def test_item_changes_worth_telling(store: Store, writer: JurisdictionWriter) -> None:
    writer.write([meeting(), agenda(item("1", consent=False))])
    writer.write([agenda(item("1", consent=True))])
    writer.write([agenda(item("1", consent=True, minutes_note="read into the record"))])
    assert kinds(store) == ["meeting_added", "item_added", "item_updated"]


def test_listing_removes_only_inside_its_window(store: Store, writer: JurisdictionWriter) -> None:
    writer.write(
        [meeting(platform_id="100"), meeting(platform_id="200", start=START + timedelta(days=60))]
    )
    writer.write(
        [
            MeetingListing(
                platform="legistar",
                window_start=START - timedelta(days=1),
                window_end=START + timedelta(days=30),
                meeting_platform_ids=frozenset(),
            )
        ]
    )
    assert kinds(store)[-1] == "meeting_removed"
    assert kinds(store).count("meeting_removed") == 1
    with Session(store.engine) as session:
        rows = {r.platform_id: r for r in session.exec(select(Meeting))}
    assert rows["100"].removed_at is not None
    assert rows["100"].status == MeetingStatus.SCHEDULED  # removed is not cancelled
    assert rows["200"].removed_at is None


def test_votes_recorded_once_and_revisions_logged(store: Store, writer: JurisdictionWriter) -> None:
    def vote_event(value: str) -> ScrapedVoteEvent:
        return ScrapedVoteEvent(
            meeting_platform="legistar",
            meeting_platform_id="100",
            item_platform_id="1",
            platform_id="votes:1",
            source=VoteSource.API,
            result="passed",
            votes=(
                ScrapedVote(
                    person_platform_id="7", name="Ana Ruiz ", raw_value="Aye", value=VoteValue.YES
                ),
                ScrapedVote(
                    person_platform_id="8",
                    name="Bo Li",
                    raw_value=value,
                    value=VoteValue.NO if value == "Nay" else None,
                ),
            ),
        )

    writer.write([meeting(), agenda(item("1")), vote_event("Nay")])
    writer.write([vote_event("Nay")])
    assert kinds(store).count("vote_recorded") == 1
    writer.write([vote_event("Out of Room")])
    assert kinds(store)[-1] == "vote_revised"
    with Session(store.engine) as session:
        people = {p.platform_id: p.name for p in session.exec(select(Person))}
        values = sorted((v.raw_value, v.value) for v in session.exec(select(Vote)))
    assert people == {"7": "Ana Ruiz", "8": "Bo Li"}
    assert values == [("Aye", "yes"), ("Out of Room", None)]


def test_partial_records_never_erase_fuller_ones(store: Store, writer: JurisdictionWriter) -> None:
    writer.write(
        [
            ScrapedMatter(
                platform_id="9",
                file_number="CB 1",
                title="Full title",
                status="Passed",
                sponsors=("A", "B"),
            )
        ]
    )
    writer.write([ScrapedMatter(platform_id="9", file_number="CB 1", title="Short", partial=True)])
    writer.write(
        [
            ScrapedPerson(platform_id="7", name="Ana Ruiz", email="ana@city.gov"),
            ScrapedPerson(platform_id="7", name="Ana", partial=True),
        ]
    )
    with Session(store.engine) as session:
        matter = session.exec(select(Matter)).one()
        person = session.exec(select(Person)).one()
    assert (matter.title, matter.status, matter.sponsors) == ("Full title", "Passed", ["A", "B"])
    assert (person.name, person.email) == ("Ana Ruiz", "ana@city.gov")


def test_relevance_is_stored_with_the_item(store: Store, writer: JurisdictionWriter) -> None:
    relevance = Relevance(
        relevant=True,
        score=0.9,
        category="287g",
        direction="expands",
        matches=[{"start": 0, "end": 6, "text": "287(g)", "rule": "r"}],
        secondary=[],
    )
    writer.write([meeting(), agenda(item("1", "287(g) agreement renewal", relevance=relevance))])
    with Session(store.engine) as session:
        row = session.exec(select(AgendaItem)).one()
    assert (row.relevant, row.category, row.direction) == (True, "287g", "expands")
    assert row.matches[0]["text"] == "287(g)"


def test_a_failed_batch_leaves_no_trace(store: Store, writer: JurisdictionWriter) -> None:
    orphan = ScrapedAgenda(
        meeting_platform="legistar", meeting_platform_id="nope", items=(), complete=True
    )
    with pytest.raises(LookupError):
        writer.write([meeting(), orphan])
    with Session(store.engine) as session:
        assert session.exec(select(Meeting)).all() == []
    assert kinds(store) == []


def test_bodies_keep_what_sources_did_not_say(store: Store, writer: JurisdictionWriter) -> None:
    from tracker.items import ScrapedBody
    from tracker.models import Body

    writer.write([meeting(body_platform_id="77", body_name=None)])  # a meeting naming no body
    writer.write(
        [ScrapedBody(platform_id="77", name="Finance Committee", kind="committee", partial=True)]
    )
    writer.write(
        [ScrapedBody(platform_id="77", name="Finance Committee", kind="committee", active=False)]
    )
    writer.write([ScrapedBody(platform_id="77", name="Finance Committee", kind="committee")])
    with Session(store.engine) as session:
        body = session.exec(select(Body).where(Body.platform_id == "77")).one()
    assert (body.name, body.kind, body.active) == ("Finance Committee", "committee", False)
