"""What goes into a digest, read from the real change log (data written through the store),
on SQLite and PostgreSQL: action cards, changes, votes; filters; never empty, never twice."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from test_digest_fixtures import (
    ICE_TITLE,
    PARKS_TITLE,
    Council,
    active_subscriber,
    agenda_item,
    council,
    ice_meeting,
    settings_now,
    soon,
)

from tracker.db import open_database
from tracker.digest import QueueReport, clean_header, queue_digests, settled_upto
from tracker.models import Change, Delivery, MeetingStatus, Subscription, VoteValue
from tracker.store import Store


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(open_database(database_url))


@pytest.fixture
def seattle(store: Store) -> Council:
    c = council(store)
    c.members()
    return c


def run(store: Store, **kwargs: object) -> QueueReport:
    return queue_digests(store.engine, settings_now(), keep_messages=True, **kwargs)  # type: ignore[arg-type]


def parse(data: bytes | None) -> EmailMessage:
    assert data is not None
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(data: bytes | None) -> tuple[EmailMessage, str, str]:
    message = parse(data)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return message, str(text.get_content()), str(html.get_content())


def test_action_card_has_what_an_organizer_needs(store: Store, seattle: Council) -> None:
    active_subscriber(store, "ana@example.org", jurisdictions=["seattle"])
    ice_meeting(seattle, hours=30)
    report = run(store)
    assert report.queued == 1
    message, text, html = parts(report.digests[0].message)
    assert message["Subject"].startswith("City Council, ")
    assert "1 ICE item on the agenda" in message["Subject"]
    assert text.splitlines()[1] == "1 upcoming meeting with ICE items"  # the summary comes first
    for fact in (
        "City Council",
        "Council Chamber, City Hall, 600 4th Ave",
        "https://council.example.gov/watch",
        "Item 4",
        ICE_TITLE,
        "Why it matched:",
        "“287(g)”",
        "287(g) agreement: limits cooperation with immigration enforcement",
        # Seattle's public_comment rules from the bundled registry
        "https://www.seattle.gov/council/committees/public-comment",
        "council@seattle.gov",
        "Ana Pérez (Chair) · ana.perez@council.example.gov · 206-555-0101",
        "Bo Li · bo.li@council.example.gov",
        "https://council.example.gov/i/1",
        "https://council.example.gov/agendas/100.pdf",
        "https://council.example.gov/meetings/100",
        "Soon: in 30 hours",
    ):
        assert fact in text, fact
    assert PARKS_TITLE not in text
    # the local time, in the meeting's timezone
    start = soon(30).astimezone(ZoneInfo("America/Los_Angeles"))
    assert start.strftime("%B") in text
    assert start.strftime("%Z") in text
    assert 'href="https://www.seattle.gov/council/committees/public-comment"' in html
    assert "<style" not in html
    assert 'style="' in html


def test_votes_show_every_member(store: Store, seattle: Council) -> None:
    active_subscriber(store, "ana@example.org")
    ice_meeting(seattle, hours=-3)  # held three hours ago: no action card
    run(store)  # the agenda is old news by the time of the vote
    seattle.vote("100", "1", {"1": VoteValue.YES, "2": VoteValue.NO, "3": VoteValue.ABSENT})
    report = run(store)
    assert report.queued == 1
    message, text, _ = parts(report.digests[0].message)
    assert message["Subject"] == f"Vote on {ICE_TITLE[:69].rstrip()}…: failed"
    assert "Result: failed (1 yes, 1 no, 1 other)" in text
    for line in (
        "Ana Pérez: Yes (In Favor)",
        "Bo Li: No (Opposed)",
        "Carmen Ortiz: Absent\r\n",  # published as "Absent": said once
    ):
        assert line in text
    assert "Motion: Adopt the resolution" in text
    assert "https://council.example.gov/votes/1" in text
    assert "Upcoming meetings" not in text


def test_changes_pulled_consent_rescheduled_cancelled(store: Store, seattle: Council) -> None:
    active_subscriber(store, "ana@example.org")
    ice_meeting(seattle, "100", hours=24 * 8)
    ice_meeting(seattle, "101", hours=24 * 9)
    run(store)
    # item moved to the consent agenda, then a second meeting's item pulled; a reschedule
    seattle.agenda(
        "100",
        [
            agenda_item("1", ICE_TITLE, number="4", consent=True),
            agenda_item("2", PARKS_TITLE, number="5"),
        ],
    )
    seattle.agenda("101", [agenda_item("2", PARKS_TITLE, number="5")])
    new_start = soon(24 * 10)
    seattle.meeting("100", new_start)
    report = run(store)
    assert report.queued == 1
    _, text, _ = parts(report.digests[0].message)
    assert "Moved to the consent agenda: " + ICE_TITLE[:20] in text
    assert "Item pulled from the agenda: " + ICE_TITLE[:20] in text
    assert "Meeting moved: City Council, now " in text
    assert "Was " in text
    assert "; now " in text
    # cancellation
    seattle.meeting("100", new_start, status=MeetingStatus.CANCELLED)
    report = run(store)
    message, text, _ = parts(report.digests[0].message)
    assert message["Subject"].startswith("Meeting cancelled: City Council, ")
    assert "Upcoming meetings" not in text  # a cancelled meeting gets no action card


def test_nothing_new_means_no_email(store: Store, seattle: Council) -> None:
    active_subscriber(store, "ana@example.org")
    ice_meeting(seattle)
    assert run(store).queued == 1
    assert run(store).queued == 0  # nothing new since
    # news that matches nobody's filters advances the mark and sends nothing
    seattle.meeting("300", soon(50))
    seattle.agenda("300", [agenda_item("9", PARKS_TITLE)])
    report = run(store)
    assert (report.queued, report.empty) == (0, 1)
    with Session(store.engine) as session:
        assert len(session.exec(select(Delivery)).all()) == 1
        sub = session.exec(select(Subscription)).one()
        newest = session.exec(select(func.max(Change.id))).one()
        assert sub.last_change_id == newest
    assert run(store).subscriptions == 0  # the mark is at the newest change


def test_filters(store: Store, seattle: Council) -> None:
    boston = active_subscriber(store, "boston@example.org", jurisdictions=["boston"])
    sanctuary = active_subscriber(
        store, "sanctuary@example.org", categories=["sanctuary_welcoming_ordinance"]
    )
    flock = active_subscriber(store, "flock@example.org", keywords=["Flock Safety"])
    committee = active_subscriber(
        store, "committee@example.org", bodies=["public safety committee"]
    )
    heritage = active_subscriber(
        store, "heritage@example.org", categories=["immigration_non_enforcement"]
    )
    everything = active_subscriber(store, "all@example.org")
    seattle.meeting("100", soon(48))
    seattle.agenda(
        "100",
        [
            agenda_item("1", ICE_TITLE, number="4"),
            agenda_item("2", "Contract with Flock Safety for license plate cameras", number="5"),
            agenda_item("3", "Proclamation of Immigrant Heritage Month", number="6"),
        ],
    )
    report = run(store)
    got = {d.subscriber_id: parts(d.message)[1] for d in report.digests}
    assert boston not in got
    assert sanctuary not in got
    assert committee not in got
    assert "Flock Safety" in got[flock]
    assert ICE_TITLE in got[flock]
    assert "“Flock Safety”" in got[flock]  # why: the keyword
    assert "Immigrant Heritage Month" in got[heritage]
    assert "Immigrant Heritage Month" not in got[everything]
    assert "Flock Safety" not in got[everything]
    assert ICE_TITLE in got[everything]


def test_people_filter_narrows_votes(store: Store, seattle: Council) -> None:
    ortiz = active_subscriber(store, "ortiz@example.org", people=["carmen ortiz"])
    nobody = active_subscriber(store, "nobody@example.org", people=["Someone Else"])
    ice_meeting(seattle, hours=-2)
    run(store)
    seattle.vote("100", "1", {"1": VoteValue.YES, "2": VoteValue.YES, "3": VoteValue.NO})
    report = run(store)
    got = {d.subscriber_id: parts(d.message)[1] for d in report.digests}
    assert nobody not in got
    assert "  * Carmen Ortiz: No (Opposed)" in got[ortiz]  # the followed member is marked


def test_untrusted_title_is_escaped_and_cannot_add_a_header(store: Store, seattle: Council) -> None:
    active_subscriber(store, "ana@example.org")
    seattle.meeting("100", soon(40))
    evil = "287(g) agreement with ICE <script>alert(1)</script>\r\nBcc: victim@example.org"
    seattle.agenda("100", [agenda_item("1", evil, number="1")])
    seattle.vote("100", "1", {"1": VoteValue.YES, "2": VoteValue.YES, "3": VoteValue.YES})
    report = run(store)
    message, text, html = parts(report.digests[0].message)
    assert "Bcc" not in message
    assert "\r" not in message["Subject"]
    assert "\n" not in message["Subject"]
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script> Bcc: victim@example.org" in text  # plain text, one line


def test_clean_header() -> None:
    assert clean_header("a\r\nb\tc\u2028d\x00e") == "a b c d e"
    assert len(clean_header("x" * 500)) == 140


def test_spanish_digest(store: Store, seattle: Council) -> None:
    active_subscriber(store, "beto@example.org", language="es")
    ice_meeting(seattle, hours=30)
    seattle.vote("100", "1", {"1": VoteValue.YES, "2": VoteValue.NO, "3": VoteValue.ABSENT})
    report = run(store)
    message, text, html = parts(report.digests[0].message)
    assert message["Content-Language"] == "es"
    assert "1 asunto de ICE en la agenda (+1 más)" in message["Subject"]
    assert "1 próxima reunión con asuntos de ICE · 1 votación" in text
    assert "Dónde: Council Chamber" in text
    assert "Por qué se incluye:" in text
    assert "acuerdo 287(g): limita la cooperación" in text
    assert "texto original en inglés" in text  # the registry's text is quoted as published
    assert "Ana Pérez: A favor (In Favor)" in text
    assert "Cancelar la suscripción" in text
    assert '<html lang="es">' in html
    weekday = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"]
    assert any(day in text for day in weekday)


def test_urgent_meetings_go_out_at_once(store: Store, seattle: Council) -> None:
    weekly = active_subscriber(store, "weekly@example.org", frequency="weekly")
    daily = active_subscriber(store, "daily@example.org", frequency="daily")
    instant = active_subscriber(store, "instant@example.org", frequency="immediate")
    ice_meeting(seattle, "100", hours=24 * 10)
    report = run(store, frequency="immediate")
    assert [d.subscriber_id for d in report.digests] == [instant]
    assert report.not_due == 2  # kept for their own schedule: the mark does not move
    ice_meeting(seattle, "101", hours=20)
    report = run(store, frequency="immediate")
    early = {d.subscriber_id: d for d in report.digests}
    assert set(early) == {weekly, daily, instant}
    assert early[weekly].urgent
    assert not early[instant].urgent
    # the early digest holds everything since the last one: the far meeting too
    text = parts(early[weekly].message)[1]
    assert text.count("Item 4:") == 2
    assert run(store, frequency="weekly").queued == 0  # nothing is sent twice


def test_outbox_refuses_a_second_copy(store: Store, seattle: Council) -> None:
    subscriber_id = active_subscriber(store, "ana@example.org")
    ice_meeting(seattle)
    run(store)
    with Session(store.engine) as session:
        first = session.exec(select(Delivery)).one()
        session.add(
            Delivery(
                subscriber_id=subscriber_id,
                first_change_id=first.first_change_id,
                last_change_id=first.last_change_id,
                message_id="<another@x>",
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()


def test_two_runs_from_the_same_state_queue_once(store: Store, seattle: Council) -> None:
    active_subscriber(store, "ana@example.org")
    ice_meeting(seattle)
    now = datetime.now(UTC)
    # both runs read the subscription before either writes: the mark moves only once
    from tracker import digest as digest_module

    real = digest_module._write_outbox
    second: list[bool] = []

    def racing(*args: object, **kwargs: object) -> bool:
        if not second:
            second.append(True)
            other = queue_digests(store.engine, settings_now(), now=now)
            assert other.queued == 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    digest_module._write_outbox = racing  # type: ignore[assignment]
    try:
        report = queue_digests(store.engine, settings_now(), now=now)
    finally:
        digest_module._write_outbox = real  # type: ignore[assignment]
    assert (report.queued, report.conflicts) == (0, 1)
    with Session(store.engine) as session:
        assert len(session.exec(select(Delivery)).all()) == 1


def test_pending_and_unsubscribed_get_nothing(store: Store, seattle: Council) -> None:
    from tracker.registry import load_registry
    from tracker.subscribers import subscribe, unsubscribe, validate_filters

    subscribe(store.engine, "pending@example.org", validate_filters(load_registry()))
    active_subscriber(store, "gone@example.org")
    unsubscribe(store.engine, "gone@example.org")
    ice_meeting(seattle)
    assert run(store).subscriptions == 0


def test_settled_upto_waits_for_a_young_gap() -> None:
    now = datetime.now(UTC)
    old = now - timedelta(hours=1)
    assert settled_upto([(1, old), (2, old), (3, old)], 0, now) == 3
    assert settled_upto([(1, old), (3, old), (4, old)], 0, now) == 4  # an old gap: rolled back
    assert settled_upto([(1, old), (3, now), (4, now)], 0, now) == 1  # may still be writing
    assert settled_upto([], 5, now) == 5
