"""The web site in real headless Chromium: every kind of page in both languages, the language
switch, a sign-up followed through the e-mail a real SMTP server caught (confirm, change the
preferences, unsubscribe), and a crawled title carrying a script that stays text.

Screenshots of each step are kept (tests/browser/conftest.py says where).
Chromium is Debian's /usr/bin/chromium driven by Playwright (never a browser download).
Screenshots go to $TRACKER_TEST_ARTIFACTS, else tests/artifacts/ (kept out of git); the
variable is read at import, because the suite's autouse fixture clears TRACKER_*.
(The fixtures live here, not in a conftest.py: a conftest in this folder would shadow
tests/conftest.py, which the shared helpers import.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select
from test_digest_fixtures import SmtpServer, running_smtp_server
from test_web import BIRMINGHAM_MEETING, HUNTER
from test_web_fixtures import (
    ICE_TITLE,
    XSS,
    XSS_TITLE,
    add_upcoming,
    demo_sqlite,
    live_site,
    registry_with_deadline,
)

from tracker.models import Subscriber, Subscription, VoteValue

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("TRACKER_TEST_ARTIFACTS") or ROOT / "tests" / "artifacts")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium (.ci/run installs Debian's chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    folder = ARTIFACTS / "browser" / request.node.name.replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


ADDRESS = "vecina@example.org"
PAGES = {
    "home": "/",
    "meeting": f"/j/birmingham-al/meetings/{BIRMINGHAM_MEETING}/",
    "upcoming-meeting": "/j/seattle/meetings/legistar-9001/",
    "person": f"/j/birmingham-al/people/{HUNTER}/",
    "person-with-votes": "/j/seattle/people/1/",
    "matter": "/j/seattle/matters/8862/",
    "place": "/j/seattle/",
    "search": "/search/?q=Immigration",
    "method": "/method/",
    "feeds": "/feeds/",
}


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    yield from running_smtp_server()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[tuple[str, Any]]:
    folder = tmp_path_factory.mktemp("browser-site")
    env = {
        "mail_transport": "smtp",
        "smtp_host": smtp.host,
        "smtp_port": str(smtp.port),
        "smtp_security": "none",
        "data_dir": str(folder / "data"),
    }
    with live_site(
        demo_sqlite(folder / "db"), registry=registry_with_deadline(folder), env=env
    ) as (base, engine):
        c = add_upcoming(engine, titles=(ICE_TITLE, XSS_TITLE))
        c.vote("9001", "1", {"1": VoteValue.YES, "2": VoteValue.NO, "3": VoteValue.ABSENT})
        yield base, engine


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, java_script_enabled=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("dialog", lambda d: (errors.append("dialog: " + d.message), d.dismiss()))
    yield tab
    context.close()
    assert not errors, errors


def shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_kind_of_page(site: tuple[str, Any], page: Any, artifacts: Path, lang: str) -> None:
    base, _ = site
    prefix = "/es" if lang == "es" else ""
    for name, path in PAGES.items():
        response = page.goto(base + prefix + path)
        assert response.status == 200, path
        assert page.get_attribute("html", "lang") == lang
        assert page.locator("h1").count() == 1
        assert page.locator("h1").is_visible()
        assert page.locator("main").is_visible()
        shot(page, artifacts, f"{lang}-{name}")
    # the language switch is a plain link: no JavaScript needed
    page.goto(base + prefix + PAGES["person"])
    other = "es" if lang == "en" else "en"
    page.locator("nav.lang a").first.click()
    assert page.get_attribute("html", "lang") == other
    assert page.url.endswith(("/es" if other == "es" else "") + PAGES["person"])


def test_pages_work_without_javascript(
    site: tuple[str, Any], browser: Any, artifacts: Path
) -> None:
    base, _ = site
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    tab.goto(base + "/")
    tab.get_by_role("link", name="Search").first.click()
    tab.get_by_label("Words to find").fill("Immigration")
    tab.get_by_role("button", name="Search").click()
    assert tab.locator("mark").count() > 0
    shot(tab, artifacts, "search-without-javascript")
    context.close()


def test_subscribe_confirm_change_and_unsubscribe(
    site: tuple[str, Any], smtp: SmtpServer, page: Any, artifacts: Path
) -> None:
    base, engine = site
    page.goto(base + "/")
    page.get_by_role("link", name="Get alerts").first.click()
    page.get_by_label("Your e-mail address").fill(ADDRESS)
    page.get_by_label("Seattle, WA").check()
    page.get_by_label("287(g) agreement").check()
    page.get_by_label("once a day").check()
    page.get_by_label("Español").check()
    shot(page, artifacts, "1-subscribe-form")
    page.get_by_role("button", name="Subscribe").click()
    assert page.locator("h1").inner_text() == "Check your inbox"
    shot(page, artifacts, "2-check-your-inbox")

    [message] = smtp.recorder.to(ADDRESS)
    text = message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http://127\.0\.0\.1:\d+/confirm/\S+", text)
    assert link, text
    page.goto(link.group(0))
    assert page.get_attribute("html", "lang") == "es"  # the subscriber's language
    shot(page, artifacts, "3-confirm-page")
    with Session(engine) as session:
        assert session.exec(select(Subscriber)).one().status == "pending"
    page.get_by_role("button").click()
    shot(page, artifacts, "4-confirmed")
    with Session(engine) as session:
        assert session.exec(select(Subscriber)).one().status == "active"

    page.locator("main a[href*='/preferences/']").click()
    assert page.get_by_label("287(g)", exact=False).first.is_checked()
    page.get_by_label("Birmingham, AL").check()
    page.locator("input[name=frequency][value=weekly]").check()
    shot(page, artifacts, "5-preferences")
    page.locator("form.stack button[type=submit]").click()
    assert page.locator("[role=status]").is_visible()
    shot(page, artifacts, "6-preferences-saved")
    with Session(engine) as session:
        subscription = session.exec(select(Subscription)).one()
        assert subscription.frequency == "weekly"
        assert set(subscription.jurisdictions) == {"seattle", "birmingham-al"}

    page.locator("button.secondary").click()  # unsubscribe
    assert page.locator("[role=status]").is_visible()
    shot(page, artifacts, "7-unsubscribed")
    with Session(engine) as session:
        assert session.exec(select(Subscriber)).one().status == "unsubscribed"


def test_a_script_in_an_agenda_title_stays_text(
    site: tuple[str, Any], page: Any, artifacts: Path
) -> None:
    base, _ = site
    for path in ("/", "/j/seattle/meetings/legistar-9001/", "/j/seattle/", "/es/"):
        page.goto(base + path)
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.__xss") == "undefined", path
        assert page.locator("img[src=x]").count() == 0
        assert XSS in page.locator("main").inner_text(), path
    shot(page, artifacts, "script-payload-shown-as-text")
    # the calendar and feed of the place carry it as text too
    assert page.goto(base + "/j/seattle/feed.atom").status == 200
