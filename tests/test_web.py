"""The public web site over real HTTP (uvicorn on 127.0.0.1) on the demo database: every kind of
page in both languages, the action cards, provenance links, 404s, headers, search and the
JSON API. The sign-up endpoints are in test_web_forms.py; accessibility checks in
test_web_a11y.py; the browser tests in tests/browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import html as lxml_html
from test_web_fixtures import (
    ICE_TITLE,
    add_upcoming,
    crawl_demo,
    demo_sqlite,
    live_site,
    registry_with_deadline,
)

from tracker.models import VoteValue
from tracker.web_keys import Finder, item_anchor, meeting_key, person_key, url_key

BIRMINGHAM_MEETING = meeting_key(
    "documents", "/meetings/birmingham-city-council-meeting-11-02-2021"
)
HUNTER = person_key("registry:hunter-williams", "Hunter Williams")
PAGES = [
    "/",
    "/method/",
    "/feeds/",
    "/search/",
    "/search/?q=Immigration",
    "/j/birmingham-al/",
    "/j/seattle/",
    f"/j/birmingham-al/meetings/{BIRMINGHAM_MEETING}/",
    "/j/seattle/meetings/legistar-4049/",
    f"/j/birmingham-al/people/{HUNTER}/",
    "/j/seattle/people/186/",
    "/j/seattle/matters/8862/",
    f"/j/birmingham-al/bodies/{url_key('registry:public-safety-committee')}/",
    "/j/seattle/bodies/138/",
]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, object]]:
    """The demo database with an upcoming Seattle meeting, and rules with a deadline."""
    url = demo_sqlite(tmp_path / "db")
    with live_site(url, registry=registry_with_deadline(tmp_path)) as (base, engine):
        c = add_upcoming(engine)
        c.vote("9001", "1", {"1": VoteValue.YES, "2": VoteValue.NO, "3": VoteValue.ABSENT})
        yield base, engine


def get(base: str, path: str, status: int = 200) -> httpx.Response:
    response = httpx.get(base + path, timeout=30)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    return response


def test_every_kind_of_page_in_both_languages(site: tuple[str, object]) -> None:
    base, _ = site
    for path in PAGES:
        for prefix, lang in (("", "en"), ("/es", "es")):
            response = get(base, prefix + path)
            assert response.headers["content-type"].startswith("text/html")
            assert response.headers["content-language"] == lang
            doc = lxml_html.fromstring(response.text)
            assert doc.get("lang") == lang, path
            assert len(doc.findall(".//h1")) == 1, path
            assert not doc.findall(".//script"), path
            assert doc.find(".//main") is not None
            assert doc.find(".//nav") is not None
            # the language switch leads to the same page in the other language
            other = doc.xpath("//nav[contains(@class, 'lang')]//a/@href")
            assert other
            assert other[0].split("?")[0] == (path if lang == "es" else "/es" + path).split("?")[0]


def test_spanish_pages_are_in_spanish(site: tuple[str, object]) -> None:
    base, _ = site
    assert "Próximas reuniones con asuntos de ICE" in get(base, "/es/").text
    assert "Cómo funciona" in get(base, "/es/method/").text
    assert "?lang=es"
    assert 'lang="es"' in get(base, "/method/?lang=es").text


def test_home_has_the_action_card(site: tuple[str, object]) -> None:
    base, _ = site
    page = get(base, "/").text
    doc = lxml_html.fromstring(page)
    card = doc.xpath("//article[contains(@class, 'card')]")[0]
    text = " ".join(card.text_content().split())
    assert "City Council" in text
    assert "Seattle, WA" in text
    assert "Council Chamber, City Hall" in text
    assert "PDT" in text or "PST" in text  # local time
    assert ICE_TITLE in text
    assert "287(g) agreement" in text
    assert "Why it matched" in text
    assert "Sign up by:" in text
    assert "2 minutes per speaker." in text
    assert "Ana Pérez" in text
    assert "ana.perez@council.example.gov" in text
    hrefs = card.xpath(".//a/@href")
    assert "https://council.example.gov/watch" in hrefs  # virtual link
    assert "https://www.seattle.gov/council/committees/public-comment" in hrefs
    assert "https://council.example.gov/meetings/9001" in hrefs  # the source
    assert "/j/seattle/meetings/legistar-9001/" in hrefs


def test_meeting_page_highlights_ice_items_with_votes_and_sources(
    site: tuple[str, object],
) -> None:
    base, _ = site
    doc = lxml_html.fromstring(get(base, f"/j/birmingham-al/meetings/{BIRMINGHAM_MEETING}/").text)
    highlighted = doc.xpath("//ol[@class='agenda']/li[contains(@class, 'ice')]")
    assert len(highlighted) == 1
    item = highlighted[0]
    assert item.get("id") == item_anchor("/meetings/birmingham-city-council-meeting-11-02-2021#4")
    text = " ".join(item.text_content().split())
    assert "Why it matched" in text
    assert "Homeland Security Investigations" in text
    assert "procedural" in text
    assert "Hunter Williams" in text
    sources = item.xpath(".//a[contains(@class, 'source')]/@href")
    assert any(s.endswith("11.02.2021-Council-Minutes.pdf") for s in sources)
    assert re.search(r"hash [0-9a-f]{12}", text)  # the cited document's SHA-256
    assert len(doc.xpath("//ol[@class='agenda']/li")) == 5


def test_person_page_has_votes_statements_absences_and_the_picture(
    site: tuple[str, object],
) -> None:
    base, _ = site
    doc = lxml_html.fromstring(get(base, f"/j/birmingham-al/people/{HUNTER}/").text)
    text = " ".join(doc.text_content().split())
    assert "1 vote on ICE items: 0 on the merits, 1 procedural" in text
    assert "we cannot allow people that traffic" in text  # the statement, with its source
    svg = doc.xpath("//figure[@class='grid']//*[local-name()='svg']")[0]
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "grid-title grid-desc"
    assert len(svg.xpath(".//*[local-name()='rect']")) == 9  # nine members, one vote
    # the text alternative: the same grid as a table
    rows = doc.xpath("//figure[@class='grid']//table/tbody/tr")
    assert len(rows) == 9
    assert "Hunter Williams" in rows[0].text_content()


def test_upcoming_vote_colours_follow_direction(site: tuple[str, object]) -> None:
    """A yes on a 'limits' item limited cooperation; the absent member is dashed."""
    base, _ = site
    doc = lxml_html.fromstring(get(base, "/j/seattle/people/1/").text)
    text = " ".join(doc.text_content().split())
    assert "1 vote limited cooperation with immigration enforcement" in text
    cells = doc.xpath("//*[local-name()='rect']")
    assert {c.get("fill") for c in cells} >= {"#1e40af"}
    assert any(c.get("stroke-dasharray") for c in cells)  # Carmen Ortiz was absent


def test_matter_page_has_history_and_votes(site: tuple[str, object]) -> None:
    base, _ = site
    text = get(base, "/j/seattle/matters/8862/").text
    assert "CB 119583" in text
    assert "History" in text
    assert "legistar-4049" in text


def test_search_marks_words_and_links_documents(site: tuple[str, object]) -> None:
    base, _ = site
    doc = lxml_html.fromstring(get(base, "/search/?q=Immigration").text)
    assert doc.xpath("//mark")
    links = doc.xpath("//li[@class='box']//h3/a/@href")
    assert links
    assert all(link.startswith("https://") for link in links)
    assert (
        "<mark>"
        not in get(base, "/search/?q=%3Cmark%3E").text.split("<main")[1].split("</form>")[0]
    )


def test_unknown_addresses_are_404_pages(site: tuple[str, object]) -> None:
    base, _ = site
    for path in ("/j/nowhere/", "/j/seattle/meetings/legistar-1/", "/es/j/seattle/people/x/"):
        response = get(base, path, 404)
        assert "text/html" in response.headers["content-type"]
    assert "Página no encontrada" in get(base, "/es/j/nowhere/", 404).text
    assert get(base, "/api/v1/nothing", 404).json()


def test_headers_forbid_scripts_and_referrers(site: tuple[str, object]) -> None:
    base, _ = site
    response = get(base, "/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_api_pages_through_every_vote(site: tuple[str, object]) -> None:
    base, _ = site
    seen: list[int] = []
    url: str | None = f"{base}/api/v1/votes?limit=25"
    while url:
        body = httpx.get(url, timeout=30).json()
        seen += [row["id"] for row in body["data"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 113 + 3
    ice = httpx.get(f"{base}/api/v1/votes?relevant=true&jurisdiction=birmingham-al").json()
    assert len(ice["data"]) == 9
    assert ice["next"] is None
    assert {row["effect"] for row in ice["data"]} == {None}  # a referral: procedural
    assert all(row["source_url"] for row in ice["data"])
    meetings = httpx.get(f"{base}/api/v1/meetings?relevant=true").json()["data"]
    assert {m["key"] for m in meetings} == {BIRMINGHAM_MEETING, "legistar-9001"}
    items = httpx.get(f"{base}/api/v1/items?relevant=true&limit=1").json()
    assert len(items["data"]) == 1
    assert "after=" in items["next"]
    assert httpx.get(f"{base}/api/v1/items?limit=100000").status_code == 422


def test_stylesheet_and_feeds_are_served(site: tuple[str, object]) -> None:
    base, _ = site
    assert get(base, "/static/site.css").headers["content-type"].startswith("text/css")
    assert get(base, "/j/seattle/calendar.ics").text.startswith("BEGIN:VCALENDAR")
    assert "<feed" in get(base, "/es/j/seattle/feed.atom").text
    get(base, "/topics/287g/calendar.ics")
    get(base, "/topics/nothing/calendar.ics", 404)


@pytest.mark.postgres
def test_pages_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    crawl_demo(postgres_url)
    with live_site(postgres_url, registry=registry_with_deadline(tmp_path)) as (base, engine):
        add_upcoming(engine)
        for path in PAGES:
            get(base, path)
        doc = lxml_html.fromstring(get(base, "/search/?q=Immigration").text)
        assert doc.xpath("//mark")
        assert "Sign up by:" in get(base, "/").text


def test_keys_are_stable_and_safe_in_paths() -> None:
    assert url_key("4049") == "4049"
    key = url_key("/meetings/city-council-11-02-2021")
    assert re.fullmatch(r"meetings-city-council-11-02-2021-[0-9a-f]{10}", key)
    assert url_key("/meetings/city-council-11-02-2021") == key
    assert url_key("González:1") != url_key("Gonzalez:1")
    assert person_key(None, "Ana Pérez").startswith("name-ana-perez-")
    assert meeting_key("legistar", "4049") == "legistar-4049"


def test_finder_finds_hashed_keys(tmp_path: Path) -> None:
    from sqlmodel import Session, select

    from tracker.db import open_database
    from tracker.models import Jurisdiction

    engine = open_database(demo_sqlite(tmp_path))
    finder = Finder()
    with Session(engine) as session:
        ids = {j.slug: j.id for j in session.exec(select(Jurisdiction))}
        bham, seattle = ids["birmingham-al"], ids["seattle"]
        assert finder.meeting(session, bham, BIRMINGHAM_MEETING) is not None
        assert finder.person(session, bham, HUNTER) is not None
        assert finder.meeting(session, bham, "documents-nothing-0000000000") is None
        assert finder.meeting(session, seattle, "legistar-4049") is not None
        assert finder.meeting(session, bham, "legistar-4049") is None
    engine.dispose()


def test_serve_command_answers(tmp_path: Path) -> None:
    """`ice-tracker serve --port N`, as a user starts it, in its own process."""
    import os
    import subprocess
    import sys
    import time

    from conftest import ROOT
    from test_web_fixtures import free_port

    url = demo_sqlite(tmp_path / "db")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tracker", "--database-url", url, "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "TRACKER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/es/", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.2)
        assert response.status_code == 200
        assert "Próximas reuniones" in response.text
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode()
    assert f"serving on http://127.0.0.1:{port}/" in output
