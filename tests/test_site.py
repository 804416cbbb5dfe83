"""``ice-tracker build-site OUTDIR``: the same pages as static files whose links all resolve
inside the folder, forms that point at the configured server, and feeds beside them."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import run_tracker
from icalendar import Calendar
from lxml import etree
from lxml import html as lxml_html
from test_web_fixtures import add_upcoming, demo_sqlite

from tracker.db import open_database
from tracker.exceptions import ConfigError
from tracker.registry import load_registry
from tracker.site import MARKER, build

PUBLIC = "https://ice.example.org"


@pytest.fixture
def built(tmp_path: Path) -> Path:
    url = demo_sqlite(tmp_path / "db")
    engine = open_database(url)
    add_upcoming(engine)
    engine.dispose()
    out = tmp_path / "site"
    result = run_tracker(
        "build-site", out, database_url=url, env={"TRACKER_PUBLIC_BASE_URL": PUBLIC}
    )
    assert re.search(r"wrote \d+ pages and \d+ calendars and feeds", result.stdout)
    return out


def test_every_relative_link_resolves_inside_the_folder(built: Path) -> None:
    pages = sorted(built.rglob("*.html"))
    assert len(pages) > 50
    checked = 0
    for page in pages:
        doc = lxml_html.fromstring(page.read_text(encoding="utf-8"))
        for attr in ("href", "src", "action"):
            for link in doc.xpath(f"//@{attr}"):
                parts = urlsplit(link)
                if parts.scheme or link.startswith(("#", "mailto:")):
                    continue
                assert not link.startswith("/"), f"{page}: absolute path {link}"
                target = (page.parent / unquote(parts.path)).resolve()
                assert target.is_file(), f"{page.relative_to(built)}: {link} is missing"
                assert built.resolve() in target.parents
                checked += 1
    assert checked > 1000


def test_the_pages_are_the_servers_pages(built: Path) -> None:
    home = (built / "index.html").read_text(encoding="utf-8")
    assert 'lang="en"' in home
    assert "Resolution to terminate the 287(g)" in home
    spanish = (built / "es" / "index.html").read_text(encoding="utf-8")
    assert 'lang="es"' in spanish
    meeting = built / "j" / "seattle" / "meetings" / "legistar-9001" / "index.html"
    assert "Council Chamber" in meeting.read_text(encoding="utf-8")
    assert (built / "j" / "seattle" / "people" / "186" / "index.html").is_file()
    assert (built / "es" / "j" / "seattle" / "matters" / "8862" / "index.html").is_file()
    assert (built / "method" / "index.html").is_file()
    assert (built / "static" / "site.css").is_file()


def test_forms_point_at_the_public_server(built: Path) -> None:
    for page in (built / "search" / "index.html", built / "es" / "index.html"):
        doc = lxml_html.fromstring(page.read_text(encoding="utf-8"))
        for action in doc.xpath("//form/@action"):
            assert action.startswith(PUBLIC + "/"), action
        for link in doc.xpath("//a/@href"):
            if "subscribe" in link:
                assert link.startswith(PUBLIC), link
    search = lxml_html.fromstring((built / "es" / "search" / "index.html").read_bytes())
    assert search.xpath("//form/@action") == [PUBLIC + "/es/search/"]


def test_feeds_are_written_beside_the_pages(built: Path) -> None:
    calendar = Calendar.from_ical((built / "j" / "seattle" / "calendar.ics").read_bytes())
    [event] = calendar.walk("VEVENT")
    assert str(event["URL"]) == PUBLIC + "/j/seattle/meetings/legistar-9001/"
    feed = etree.fromstring((built / "es" / "j" / "seattle" / "feed.atom").read_bytes())
    assert feed.findtext("{http://www.w3.org/2005/Atom}id") == PUBLIC + "/es/j/seattle/feed.atom"
    assert (built / "topics" / "287g" / "calendar.ics").is_file()
    assert (built / "es" / "j" / "seattle" / "people" / "186" / "feed.atom").is_file()


def test_a_folder_with_other_files_is_refused(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ConfigError, match="not empty"):
        build(engine, load_registry(), tmp_path / "mine", base_url=PUBLIC)
    assert (tmp_path / "mine" / "notes.txt").is_file()
    out = tmp_path / "site"
    build(engine, load_registry(), out, base_url=PUBLIC)
    (out / "stale.html").write_text("old", encoding="utf-8")
    build(engine, load_registry(), out, base_url=PUBLIC)  # an earlier build is replaced
    assert not (out / "stale.html").exists()
    assert (out / MARKER).is_file()
    result = run_tracker(
        "build-site", tmp_path / "mine", database_url=f"sqlite:///{tmp_path / 'a.db'}", check=False
    )
    assert result.returncode == 1
    assert result.stderr.startswith("ice-tracker: error:")
    assert "Traceback" not in result.stderr
