"""Calendars and news feeds, read back with the libraries calendar apps and feed readers use:
icalendar for ICS (stable UIDs, SEQUENCE after a reschedule, STATUS:CANCELLED, the alarm at the
sign-up deadline) and lxml against RFC 4287's required Atom elements."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from lxml import etree
from test_digest_fixtures import council
from test_web_fixtures import ICE_TITLE, add_upcoming, registry_with_deadline, soon

from tracker.db import open_database
from tracker.models import MeetingStatus, VoteValue
from tracker.registry import load_registry
from tracker.store import Store
from tracker.web_pages import Site

ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "https://tracker.example.org"
UID = "seattle/legistar-9001@ice-council-tracker"


def site_for(url: str, tmp_path: Path) -> Site:
    return Site(open_database(url), registry_with_deadline(tmp_path), BASE)


def events(
    site: Site, kind: str = "jurisdiction", slug: str = "seattle", key: str = "", lang: str = "en"
) -> dict[str, object]:
    data = site.calendar(lang, site.scope(kind, slug, key))
    calendar = Calendar.from_ical(data)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def test_calendar_round_trips_with_alarm_at_the_deadline(database_url: str, tmp_path: Path) -> None:
    site = site_for(database_url, tmp_path)
    add_upcoming(site.engine, hours=72)
    data = site.calendar("en", site.scope("jurisdiction", "seattle"))
    calendar = Calendar.from_ical(data)
    assert calendar["VERSION"] == "2.0"
    assert calendar["X-WR-CALNAME"] == "ICE items: Seattle"
    assert calendar.walk("VTIMEZONE")  # local times, with their zone
    [event] = calendar.walk("VEVENT")
    assert event["UID"] == UID
    start = event.decoded("DTSTART")
    assert start.tzinfo is not None
    assert str(start.tzinfo) == "America/Los_Angeles"
    assert abs((start - soon(72)).total_seconds()) < 120
    assert event["STATUS"] == "CONFIRMED"
    assert int(event["SEQUENCE"]) == 0
    assert event["SUMMARY"].startswith("City Council: ICE item: Resolution to terminate")
    assert "https://council.example.gov/meetings/9001" in event["DESCRIPTION"]
    assert str(event["URL"]) == f"{BASE}/j/seattle/meetings/legistar-9001/"
    assert "Council Chamber" in event["LOCATION"]
    [alarm] = event.walk("VALARM")
    trigger = alarm.decoded("TRIGGER")
    assert trigger == timedelta(hours=-24)  # the registry's deadline_hours_before
    assert start + trigger == start - timedelta(hours=24)
    assert alarm["ACTION"] == "DISPLAY"
    assert "sign-up closes" in alarm["DESCRIPTION"]
    # the same database gives the same bytes: nothing in it depends on the clock
    assert site.calendar("en", site.scope("jurisdiction", "seattle")) == data


def test_uids_are_the_same_across_two_databases(tmp_path: Path) -> None:
    first = site_for(f"sqlite:///{tmp_path / 'a.db'}", tmp_path)
    add_upcoming(first.engine)
    second = site_for(f"sqlite:///{tmp_path / 'b.db'}", tmp_path)
    other = council(Store(second.engine), "birmingham-al")  # other rows first: new row ids
    add_upcoming(second.engine, slug="birmingham-al", platform_id="77")
    del other
    add_upcoming(second.engine)
    assert set(events(first)) == set(events(second)) == {UID}
    assert events(second, slug="birmingham-al").keys() == {
        "birmingham-al/legistar-77@ice-council-tracker"
    }


def test_reschedule_bumps_sequence_and_cancel_keeps_the_event(
    database_url: str, tmp_path: Path
) -> None:
    site = site_for(database_url, tmp_path)
    c = add_upcoming(site.engine, hours=72)
    before = events(site)[UID]
    moved = soon(96)
    c.meeting("9001", moved)  # rescheduled
    after = events(site)[UID]
    assert int(after["SEQUENCE"]) == int(before["SEQUENCE"]) + 1
    assert after.decoded("DTSTART") == moved
    assert after.decoded("DTSTAMP") >= before.decoded("DTSTAMP")
    c.meeting("9001", moved, status=MeetingStatus.CANCELLED)
    cancelled = events(site)[UID]
    assert cancelled["STATUS"] == "CANCELLED"
    assert int(cancelled["SEQUENCE"]) == int(after["SEQUENCE"]) + 1
    assert cancelled["SUMMARY"].startswith("Cancelled: ")
    assert not cancelled.walk("VALARM")  # no reminder for a meeting that will not happen


def test_topic_person_and_body_calendars(database_url: str, tmp_path: Path) -> None:
    site = site_for(database_url, tmp_path)
    c = add_upcoming(site.engine, hours=48)
    c.vote("9001", "1", {"1": VoteValue.YES, "2": VoteValue.NO, "3": VoteValue.YES})
    assert UID in events(site, "topic", "287g")
    assert not events(site, "topic", "igsa_detention_contract")
    assert UID in events(site, "person", "seattle", "3")  # sits on the City Council
    assert UID in events(site, "body", "seattle", "138")
    assert not events(site, "body", "seattle", "200")
    assert UID in events(site, "all")
    spanish = events(site, lang="es")[UID]
    assert str(spanish["SUMMARY"]).startswith("City Council: asunto de ICE:")


def test_meeting_without_a_published_time_is_all_day(tmp_path: Path) -> None:
    site = site_for(f"sqlite:///{tmp_path / 'a.db'}", tmp_path)
    c = council(Store(site.engine), "seattle")
    c.members()
    midnight = datetime(2031, 3, 4, 8, 0).astimezone()  # any aware time; the day is what counts
    c.meeting("5", midnight, time_text="")
    from test_digest_fixtures import agenda_item

    c.agenda("5", [agenda_item("1", ICE_TITLE, number="1")])
    event = events(site)["seattle/legistar-5@ice-council-tracker"]
    assert not isinstance(event.decoded("DTSTART"), datetime)


def test_atom_feed_has_what_rfc_4287_requires(database_url: str, tmp_path: Path) -> None:
    site = site_for(database_url, tmp_path)
    c = add_upcoming(site.engine, hours=48)
    c.vote("9001", "1", {"1": VoteValue.YES, "2": VoteValue.NO, "3": VoteValue.YES})
    c.meeting("9001", soon(60))
    for kind, slug, key in (
        ("jurisdiction", "seattle", ""),
        ("all", "", ""),
        ("topic", "287g", ""),
        ("body", "seattle", "138"),
        ("person", "seattle", "1"),
    ):
        data = site.atom("en", site.scope(kind, slug, key))
        feed = etree.fromstring(data)
        assert feed.tag == ATOM + "feed"
        for name in ("id", "title", "updated"):
            assert (feed.findtext(ATOM + name) or "").strip(), name
        _rfc3339(feed.findtext(ATOM + "updated"))
        assert feed.find(ATOM + "author/" + ATOM + "name") is not None  # or one per entry
        self_links = [lnk for lnk in feed.findall(ATOM + "link") if lnk.get("rel") == "self"]
        assert self_links
        assert self_links[0].get("href", "").startswith(BASE)
        entries = feed.findall(ATOM + "entry")
        assert entries, kind
        ids = [e.findtext(ATOM + "id") for e in entries]
        assert len(set(ids)) == len(ids)
        assert all(i and i.startswith("urn:uuid:") for i in ids)
        for entry in entries:
            assert (entry.findtext(ATOM + "title") or "").strip()
            _rfc3339(entry.findtext(ATOM + "updated"))
            links = entry.findall(ATOM + "link")
            assert links
            assert links[0].get("href", "").startswith(BASE + "/j/seattle/")
    titles = [
        e.findtext(ATOM + "title")
        for e in etree.fromstring(site.atom("en", site.scope("jurisdiction", "seattle"))).findall(
            ATOM + "entry"
        )
    ]
    assert any(t and t.startswith("Meeting moved: City Council") for t in titles)
    assert any(t and t.startswith("Vote on Resolution to terminate") for t in titles)
    assert not any(t and "park maintenance" in t for t in titles)  # not an ICE item
    again = etree.fromstring(site.atom("en", site.scope("jurisdiction", "seattle")))
    assert [e.findtext(ATOM + "id") for e in again.findall(ATOM + "entry")] == [
        e.findtext(ATOM + "id")
        for e in etree.fromstring(site.atom("en", site.scope("jurisdiction", "seattle"))).findall(
            ATOM + "entry"
        )
    ]


def _rfc3339(value: str | None) -> datetime:
    assert value
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None
    return parsed


def test_unknown_scopes_are_refused(tmp_path: Path) -> None:
    from tracker.web_pages import NotFound

    site = Site(open_database(f"sqlite:///{tmp_path / 'a.db'}"), load_registry(), BASE)
    for args in (("topic", "nothing"), ("jurisdiction", "nowhere"), ("body", "seattle", "1")):
        with pytest.raises(NotFound):
            site.scope(*args)
