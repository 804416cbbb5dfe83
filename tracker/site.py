"""``ice-tracker build-site OUTDIR``: the public pages, calendars and feeds as static files.

The same pages the server shows (tracker/web_pages.py renders both), in English at the top
of OUTDIR and in Spanish under ``es/``, each page a folder with an ``index.html`` and every
link written relative to it (``../../j/seattle/index.html``), so the folder works from any
web host, under any path, or opened straight from the disk. What only a server can answer
(sign-up, confirm, preferences, unsubscribe, search) points at ``public_base_url``.

OUTDIR is emptied first when it holds an earlier build (it has the marker file), and refused
when it holds anything else, so that a typo cannot wipe someone's folder.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from tracker.exceptions import ConfigError
from tracker.models import Body, Jurisdiction, Matter, Meeting, Person
from tracker.registry import Registry
from tracker.web import stylesheet_text
from tracker.web_keys import meeting_key, person_key, url_key
from tracker.web_pages import Site, topics, utcnow
from tracker.web_render import LANGUAGES, Page

MARKER = ".ice-tracker-site"


@dataclass
class BuildReport:
    pages: int = 0
    feeds: int = 0
    seconds: float = 0.0


def _prepare(outdir: Path) -> None:
    if outdir.exists():
        if not outdir.is_dir():
            raise ConfigError(f"{outdir} is a file, not a folder")
        if any(outdir.iterdir()):
            if not (outdir / MARKER).is_file():
                raise ConfigError(
                    f"{outdir} is not empty and holds no earlier build; choose an empty folder"
                )
            shutil.rmtree(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {outdir}: {exc.strerror}") from None
    (outdir / MARKER).write_text("built by ice-tracker build-site\n", encoding="utf-8")


def _file(outdir: Path, lang: str, path: str) -> Path:
    relative = Page.prefix(lang) + path
    if relative.endswith("/"):
        relative += "index.html"
    target = outdir / relative.lstrip("/")
    # page keys are single safe segments (tracker/web_keys.py); this holds even if one is not
    if ".." in Path(relative).parts or not target.resolve().is_relative_to(outdir.resolve()):
        raise ConfigError(f"refusing to write outside {outdir}: {relative}")
    return target


def build(
    engine: Engine,
    registry: Registry,
    outdir: Path,
    *,
    base_url: str,
    clock: Callable[[], datetime] = utcnow,
) -> BuildReport:
    started = time.monotonic()
    _prepare(outdir)
    site = Site(engine, registry, base_url.rstrip("/"), clock)
    report = BuildReport()

    def write(path: Path, data: str | bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)

    def page(lang: str, path: str, render: Callable[[Page], str]) -> None:
        view = Page(lang, path, static=True, base_url=base_url)
        write(_file(outdir, lang, path), render(view))
        report.pages += 1

    def feeds(lang: str, kind: str, slug: str = "", key: str = "") -> None:
        scope = site.scope(kind, slug, key)
        write(_file(outdir, lang, scope.path + "calendar.ics"), site.calendar(lang, scope))
        write(_file(outdir, lang, scope.path + "feed.atom"), site.atom(lang, scope))
        report.feeds += 2

    with Session(engine) as session:
        places = {
            j.slug: j.id
            for j in session.execute(
                select(Jurisdiction).order_by(col(Jurisdiction.slug))
            ).scalars()
        }
        keys: dict[str, dict[str, list[str]]] = {}
        for slug, jid in places.items():
            keys[slug] = {
                "bodies": [
                    url_key(pid)
                    for pid in session.execute(
                        select(col(Body.platform_id)).where(col(Body.jurisdiction_id) == jid)
                    ).scalars()
                ],
                "meetings": [
                    meeting_key(platform, pid)
                    for platform, pid in session.execute(
                        select(col(Meeting.platform), col(Meeting.platform_id)).where(
                            col(Meeting.jurisdiction_id) == jid
                        )
                    ).all()
                ],
                "people": [
                    person_key(pid, name)
                    for pid, name in session.execute(
                        select(col(Person.platform_id), col(Person.name)).where(
                            col(Person.jurisdiction_id) == jid
                        )
                    ).all()
                ],
                "matters": [
                    url_key(pid)
                    for pid in session.execute(
                        select(col(Matter.platform_id)).where(col(Matter.jurisdiction_id) == jid)
                    ).scalars()
                ],
            }

    write(outdir / "static" / "site.css", stylesheet_text())
    for lang in LANGUAGES:
        page(lang, "/", site.home)
        page(lang, "/method/", site.method)
        page(lang, "/feeds/", site.feeds_page)
        page(lang, "/search/", site.search)
        feeds(lang, "all")
        for category, _ in topics(lang):
            feeds(lang, "topic", category)
        for slug, found in keys.items():
            page(lang, f"/j/{slug}/", partial(site.place, slug=slug))
            feeds(lang, "jurisdiction", slug)
            for key in found["bodies"]:
                page(lang, f"/j/{slug}/bodies/{key}/", partial(site.body, slug=slug, key=key))
                feeds(lang, "body", slug, key)
            for key in found["meetings"]:
                page(
                    lang,
                    f"/j/{slug}/meetings/{key}/",
                    partial(site.meeting, slug=slug, key=key),
                )
            for key in found["people"]:
                page(lang, f"/j/{slug}/people/{key}/", partial(site.person, slug=slug, key=key))
                feeds(lang, "person", slug, key)
            for key in found["matters"]:
                page(
                    lang,
                    f"/j/{slug}/matters/{key}/",
                    partial(site.matter, slug=slug, key=key),
                )
    report.seconds = time.monotonic() - started
    return report
