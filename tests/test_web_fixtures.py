"""Shared by the web tests: the demo database (the bundled archives replayed through the real
crawl command, plus the bundled statements), the web server running for real on 127.0.0.1,
and council data written through the store.

No tests here; test_web*.py, test_feeds.py, test_site.py and tests/browser import from it.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from conftest import ROOT, run_tracker
from test_digest_fixtures import Council, agenda_item, council

from tracker.db import open_database
from tracker.registry import Registry, load_registry
from tracker.settings import Settings, load_settings
from tracker.stances import load_demo_statements
from tracker.store import Store
from tracker.web import create_app
from tracker.web_forms import Limits

ARCHIVES = ROOT / "tracker" / "data" / "archives"
SEATTLE_WARC = ARCHIVES / "seattle-2019-07-29.warc.gz"
BIRMINGHAM_WARC = ARCHIVES / "birmingham-2021-11.warc.gz"
DEMO_WINDOW = ["--full", "--from", "2019-07-01", "--to", "2021-12-01"]
XSS = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>"
XSS_TITLE = "Resolution on ICE detainer requests " + XSS
ICE_TITLE = "Resolution to terminate the 287(g) agreement between the Sheriff and ICE"

# Seattle as the bundled registry has it, plus a sign-up deadline and a time limit.
SEATTLE_WITH_DEADLINE = """
[[jurisdiction]]
slug = "seattle"
name = "Seattle"
state = "WA"
kind = "city"
timezone = "America/Los_Angeles"
platform = "legistar"

[jurisdiction.legistar]
client = "seattle"
site_url = "https://seattle.legistar.com"

[jurisdiction.votes]
"In Favor" = "yes"
"Opposed" = "no"
"Absent" = "absent"
"Excused" = "excused"
"Abstain" = "abstain"

[jurisdiction.public_comment]
how = "Sign up online to speak in person or remotely."
signup_url = "https://www.seattle.gov/council/committees/public-comment"
email = "council@seattle.gov"
deadline = "Sign-up closes the day before at noon."
deadline_hours_before = 24
time_limit_minutes = 2
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def crawl_demo(database_url: str) -> None:
    """The demo data, as `ice-tracker demo` builds it: both archives replayed, statements."""
    run_tracker(
        "crawl",
        "seattle",
        "birmingham-al",
        "--replay",
        SEATTLE_WARC,
        "--replay",
        BIRMINGHAM_WARC,
        *DEMO_WINDOW,
        database_url=database_url,
    )
    engine = open_database(database_url)
    try:
        assert load_demo_statements(engine) == 6
    finally:
        engine.dispose()


_TEMPLATE: dict[str, Path] = {}


def demo_sqlite(folder: Path) -> str:
    """A copy of the demo database in ``folder`` (crawled once per test run)."""
    if "db" not in _TEMPLATE:
        where = Path(tempfile.mkdtemp(prefix="ice-web-demo-"))
        atexit.register(shutil.rmtree, where, True)
        crawl_demo(f"sqlite:///{where / 'demo.db'}")
        _TEMPLATE["db"] = where / "demo.db"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "tracker.db"
    shutil.copy(_TEMPLATE["db"], target)
    return f"sqlite:///{target}"


def registry_with_deadline(folder: Path) -> Registry:
    path = folder / "registry.toml"
    path.write_text(SEATTLE_WITH_DEADLINE, encoding="utf-8")
    return load_registry([path])


def soon(hours: float) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)


def add_upcoming(
    engine: Any,
    *,
    slug: str = "seattle",
    platform_id: str = "9001",
    hours: float = 72,
    titles: tuple[str, ...] = (ICE_TITLE,),
) -> Council:
    """An upcoming meeting with ICE items (and one other), written through the store."""
    c = council(Store(engine), slug)
    c.members()
    c.meeting(platform_id, soon(hours))
    items = [
        agenda_item(
            str(n), title, number=str(n + 3), source_url=f"https://council.example.gov/i/{n}"
        )
        for n, title in enumerate(titles, 1)
    ]
    items.append(agenda_item("99", "Ordinance on park maintenance hours", number="20"))
    c.agenda(platform_id, items)
    return c


def web_settings(base_url: str, **extra: str) -> Settings:
    return load_settings({"public_base_url": base_url, **extra})


@contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """The app on a real uvicorn server on 127.0.0.1:port, in a thread."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def live_site(
    database_url: str,
    *,
    registry: Registry | None = None,
    limits: Limits | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, Any]]:
    """The web site on a free port, its public_base_url pointing at itself."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = web_settings(base, **(env or {}))
    engine = open_database(database_url)
    app = create_app(settings, engine=engine, registry=registry, limits=limits)
    try:
        with serving(app, port) as url:
            yield url, engine
    finally:
        engine.dispose()
