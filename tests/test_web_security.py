"""Hostile input against every public output of the web site, over real HTTP: a crawled agenda
title carrying markup and line breaks stays inert text in the calendar, the Atom feed and the
JSON API (the pages are covered in test_web.py and in the browser); no address sends a visitor
to another host; and a static build keeps every file it writes inside its folder whatever the
platform ids say."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from icalendar import Calendar
from lxml import etree
from test_web_fixtures import XSS, add_upcoming, demo_sqlite, live_site, registry_with_deadline

from tracker.db import open_database
from tracker.models import VoteValue
from tracker.registry import load_registry
from tracker.site import build
from tracker.web_keys import meeting_key, person_key, url_key

ATOM = "{http://www.w3.org/2005/Atom}"
# A title that tries to end the calendar event and start a forged one, then run a script.
FORGED = "END:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:forged meeting\r\nUID:forged@x"
HOSTILE_TITLE = f"Resolution on ICE detainer requests\r\n{FORGED}\n{XSS}"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, object]]:
    url = demo_sqlite(tmp_path / "db")
    with live_site(url, registry=registry_with_deadline(tmp_path)) as (base, engine):
        c = add_upcoming(engine, titles=(HOSTILE_TITLE,))
        c.vote("9001", "1", {"1": VoteValue.YES, "2": VoteValue.NO})
        yield base, engine


def test_hostile_title_is_inert_in_the_calendar(site: tuple[str, object]) -> None:
    base, _ = site
    for path in ("/j/seattle/calendar.ics", "/es/j/seattle/calendar.ics", "/calendar.ics"):
        response = httpx.get(base + path, timeout=30)
        assert response.status_code == 200
        calendar = Calendar.from_ical(response.content)
        uids = [str(e["UID"]) for e in calendar.walk("VEVENT")]
        assert "forged@x" not in uids, path  # no event but the real ones
        assert len(uids) == len(set(uids))
        [event] = [e for e in calendar.walk("VEVENT") if "9001" in str(e["UID"])]
        # the title is still there, as text inside the one event
        assert "ICE detainer requests" in str(event["SUMMARY"]) + str(event["DESCRIPTION"])
        for line in response.text.splitlines():
            assert not line.startswith(("BEGIN:VEVENT", "END:VEVENT", "UID:")) or (
                "forged" not in line
            ), line


def test_hostile_title_is_inert_in_the_atom_feed(site: tuple[str, object]) -> None:
    base, _ = site
    for path in ("/j/seattle/feed.atom", "/es/j/seattle/feed.atom", "/feed.atom"):
        response = httpx.get(base + path, timeout=30)
        assert response.status_code == 200
        root = etree.fromstring(response.content)
        # no markup from the title became an element of the feed
        names = {etree.QName(e).localname for e in root.iter() if isinstance(e.tag, str)}
        assert not names & {"script", "img"}, path
        texts = " ".join(root.itertext())
        assert "ICE detainer requests" in texts
        for content in root.iter(f"{ATOM}content", f"{ATOM}summary", f"{ATOM}title"):
            if content.get("type") == "html" and content.text:
                # escaped HTML inside the feed: a reader that renders it gets no live tags
                fragment = etree.HTML(f"<div>{content.text}</div>")
                assert fragment is None or not fragment.xpath("//script|//img[@onerror]")


def test_hostile_title_is_a_plain_string_in_the_api(site: tuple[str, object]) -> None:
    base, _ = site
    response = httpx.get(f"{base}/api/v1/items?jurisdiction=seattle&limit=500", timeout=30)
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("x-content-type-options") == "nosniff"
    titles = [item["title"] for item in response.json()["data"]]
    hostile = [t for t in titles if "ICE detainer requests" in t]
    assert hostile
    assert all(isinstance(t, str) for t in hostile)


HOSTILE_PATHS = [
    "//evil.example/",
    "//evil.example",
    "/\\evil.example/",
    "/%2F%2Fevil.example/",
    "/%5Cevil.example",
    "/es//evil.example/",
    "/j/seattle//evil.example",
    "/j//evil.example/",
    "/search?q=x&next=https://evil.example/",
    "/subscribe?next=https://evil.example/&return_to=//evil.example",
    "/preferences/x?next=//evil.example",
    "/unsubscribe/x?redirect=https://evil.example",
    "/es",
    "/j/seattle",
    "/method",
    "/api/v1",
]


def test_no_address_redirects_to_another_host(site: tuple[str, object]) -> None:
    base, _ = site
    host = urlsplit(base).netloc
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        for path in HOSTILE_PATHS:
            for method in ("GET", "POST"):
                response = client.request(method, path)
                location = response.headers.get("location")
                if location is None:
                    continue
                assert response.is_redirect, (path, response.status_code)
                target = urlsplit(location)
                # relative, or absolute on this very host; never scheme-relative or elsewhere
                assert not location.startswith(("//", "/\\", "\\")), (path, location)
                assert target.netloc in ("", host), (path, location)


HOSTILE_IDS = [
    "../../../../etc/passwd",
    "..",
    ".",
    "/absolute/path",
    "a/../../b",
    "..\\..\\windows",
    "con",
    "x" * 300,
    "\x00nul",
    "name with spaces/and/slashes",
]


@pytest.mark.parametrize("platform_id", HOSTILE_IDS)
def test_page_keys_are_always_one_safe_path_segment(platform_id: str) -> None:
    keys = (
        url_key(platform_id),
        meeting_key("legistar", platform_id),
        person_key(None, platform_id),
    )
    for key in keys:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", key), key


def test_static_build_writes_only_inside_its_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = open_database(url)
    for n, platform_id in enumerate(HOSTILE_IDS):
        add_upcoming(engine, platform_id=platform_id, hours=48 + n, titles=(HOSTILE_TITLE,))
    outdir = tmp_path / "site" / "out"
    report = build(engine, load_registry(), outdir, base_url="https://tracker.example.org")
    assert report.pages > len(HOSTILE_IDS)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    outside = [
        p
        for p in written
        if not p.resolve().is_relative_to(outdir.resolve()) and p.name != "tracker.db"
    ]
    assert [p for p in outside if not p.name.startswith("tracker.db")] == []
    for page in outdir.rglob("*.html"):
        assert "<script>window.__xss" not in page.read_text(encoding="utf-8"), page


def test_control_characters_already_in_the_database_do_not_break_the_feed(
    site: tuple[str, object],
) -> None:
    base, engine = site
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.exec_driver_sql(
            "UPDATE agenda_item SET title = title || char(11) || char(1) "
            "WHERE title LIKE '%detainer requests%'"
        )
    response = httpx.get(base + "/j/seattle/feed.atom", timeout=30)
    assert response.status_code == 200
    etree.fromstring(response.content)  # still well-formed XML


def test_crawled_text_with_nul_and_controls_is_stored_clean(database_url: str) -> None:
    """PostgreSQL refuses NUL in text and XML refuses most control characters: a crawled
    title carrying them is stored without them, on both databases, instead of failing."""
    engine = open_database(database_url)
    add_upcoming(engine, platform_id="nul\x00id", titles=("ICE\x00 detainer\x0b policy\x1f",))
    with engine.connect() as conn:
        titles = [r[0] for r in conn.exec_driver_sql("SELECT title FROM agenda_item")]
        ids = [r[0] for r in conn.exec_driver_sql("SELECT platform_id FROM meeting")]
    assert "ICE detainer policy" in titles
    assert ids == ["nulid"]
