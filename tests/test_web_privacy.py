"""No subscriber address on any public page, feed, API response or static file: a test
subscribes (through the form, and confirmed through the library), then reads everything."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
from sqlmodel import Session, select
from test_web_fixtures import add_upcoming, demo_sqlite, live_site

from tracker.models import Subscriber
from tracker.registry import load_registry
from tracker.site import build
from tracker.subscribers import subscribe, validate_filters

FORM_ADDRESS = "private.person@example.org"
LIBRARY_ADDRESS = "organizer.secret@example.net"
NEEDLES = ("private.person", "organizer.secret", "example.net")


def crawl(base: str) -> dict[str, str]:
    """Every page, calendar and feed reachable from the home pages, and the whole API."""
    seen: dict[str, str] = {}
    queue = deque(["/", "/es/", "/feeds/", "/es/feeds/", "/search/?q=ICE", "/method/"])
    with httpx.Client(base_url=base, timeout=30) as client:
        while queue:
            path = queue.popleft()
            if path in seen:
                continue
            response = client.get(path)
            assert response.status_code == 200, path
            seen[path] = response.text
            if "html" not in response.headers["content-type"]:
                continue
            for link in re.findall(r'href="([^"#]*)', response.text):
                target = urlsplit(urljoin(base + path, link))
                if f"{target.scheme}://{target.netloc}" != base or not target.path:
                    continue
                local = target.path + (f"?{target.query}" if target.query else "")
                if local not in seen:
                    queue.append(local)
        for kind in ("meetings", "items", "votes"):
            url: str | None = f"/api/v1/{kind}?limit=50"
            while url:
                body = client.get(url)
                seen[url] = body.text
                url = body.json()["next"]
                url = url.removeprefix(base) if url else None
    return seen


def test_no_address_anywhere(tmp_path: Path) -> None:
    url = demo_sqlite(tmp_path / "db")
    with live_site(url) as (base, engine):
        add_upcoming(engine)
        with httpx.Client(base_url=base, timeout=30) as client:
            form = client.get("/subscribe/").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token
            sent = client.post(
                "/subscribe/",
                data={"csrf_token": token.group(1), "email": FORM_ADDRESS, "language": "es"},
            )
            assert sent.status_code == 303
            assert FORM_ADDRESS not in client.get(sent.headers["location"]).text
        subscribe(
            engine,
            LIBRARY_ADDRESS,
            validate_filters(load_registry(), jurisdictions=["seattle"], keywords=["ICE"]),
        )
        with Session(engine) as session:
            stored = {s.email for s in session.exec(select(Subscriber))}
        assert stored == {FORM_ADDRESS, LIBRARY_ADDRESS}
        everything = crawl(base)
        assert len(everything) > 60
        assert any(p.endswith(".ics") for p in everything)
        assert any(p.endswith(".atom") for p in everything)
        assert any(p.startswith("/api/v1/votes") for p in everything)
        for path, text in everything.items():
            lowered = text.lower()
            for needle in NEEDLES:
                assert needle not in lowered, f"{needle} in {path}"
        out = tmp_path / "site"
        build(engine, load_registry(), out, base_url=base)
        for file in out.rglob("*"):
            if file.is_file():
                data = file.read_bytes().lower()
                assert not any(n.encode() in data for n in NEEDLES), file
