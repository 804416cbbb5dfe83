"""The public pages and feeds as functions of the database: what both the server
(tracker/web.py) and the static build (tracker/site.py) call.

Each page method takes a :class:`~tracker.web_render.Page` (language, site path, how links
are written) and the page's keys, reads what it shows through tracker/web_data.py in one
session, and returns the finished HTML. A key that names nothing raises :class:`NotFound`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from tracker import feeds, web_data
from tracker.digest import CATEGORY_LABELS
from tracker.exceptions import SearchError
from tracker.models import Body, DocumentLink, Meeting
from tracker.registry import Registry
from tracker.search import SearchHit, search
from tracker.subscribers import SECONDARY
from tracker.web_grid import grid_svg
from tracker.web_keys import Finder, url_key
from tracker.web_render import Page, renderer

SEARCH_LIMIT = 30
# Full action cards on the home page; each place's page has all of its own.
HOME_CARDS = 10


class NotFound(LookupError):
    """No page at this address."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ShownHit:
    """A search hit with the place's name and the meetings its document belongs to."""

    document_id: int
    version: int
    jurisdiction: str
    jurisdiction_name: str
    url: str
    name: str | None
    kind: str
    page: int
    snippet: str
    retrieved_at: datetime | None
    meetings: tuple[web_data.MeetingView, ...] = ()


@dataclass(frozen=True)
class PlaceFeeds:
    place: web_data.Place
    bodies: tuple[web_data.BodyRef, ...]


def topics(lang: str) -> list[tuple[str, str]]:
    """The ICE categories a reader can follow, with their labels in ``lang``."""
    r = renderer(lang)
    return [(k, r.label(CATEGORY_LABELS, k)) for k in CATEGORY_LABELS if k != SECONDARY]


@dataclass
class Site:
    engine: Engine
    registry: Registry
    base_url: str
    clock: Callable[[], datetime] = utcnow
    finder: Finder = field(default_factory=Finder)

    @cached_property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _place(self, session: Session, slug: str) -> web_data.Place:
        place = web_data.find_place(session, slug)
        if place is None:
            raise NotFound(slug)
        return place

    # -- pages ------------------------------------------------------------------------------

    def home(self, page: Page) -> str:
        now = self.clock()
        with Session(self.engine) as session:
            cards = web_data.upcoming_cards(session, self.registry, now, limit=HOME_CARDS)
            recent = web_data.recent_ice_meetings(session, now, limit=8)
            places = web_data.places(session)
        return renderer(page.lang).render(
            "web/home.html", page, cards=cards, recent=recent, places=places
        )

    def place(self, page: Page, slug: str) -> str:
        with Session(self.engine) as session:
            place = web_data.places(session, only=self._place(session, slug).id)[0]
            data = web_data.place_page(session, self.registry, place, self.clock())
        return renderer(page.lang).render(
            "web/place.html", page, data=data, ice_limit=web_data.ICE_LIST_LIMIT
        )

    def body(self, page: Page, slug: str, key: str) -> str:
        with Session(self.engine) as session:
            place = self._place(session, slug)
            body = self.finder.body(session, place.id, key)
            if body is None:
                raise NotFound(key)
            data = web_data.body_page(session, self.registry, place, body, self.clock())
        return renderer(page.lang).render(
            "web/body.html", page, data=data, ice_limit=web_data.ICE_LIST_LIMIT
        )

    def meeting(self, page: Page, slug: str, key: str) -> str:
        with Session(self.engine) as session:
            place = self._place(session, slug)
            meeting = self.finder.meeting(session, place.id, key)
            if meeting is None:
                raise NotFound(key)
            data = web_data.meeting_page(session, self.registry, place, meeting, self.clock())
        return renderer(page.lang).render("web/meeting.html", page, data=data)

    def person(self, page: Page, slug: str, key: str) -> str:
        with Session(self.engine) as session:
            place = self._place(session, slug)
            person = self.finder.person(session, place.id, key)
            if person is None:
                raise NotFound(key)
            data = web_data.person_page(session, self.registry, place, person, self.clock())
        r = renderer(page.lang)
        return r.render(
            "web/person.html", page, data=data, grid_svg=grid_svg(data.grid, r, data.name)
        )

    def matter(self, page: Page, slug: str, key: str) -> str:
        with Session(self.engine) as session:
            place = self._place(session, slug)
            matter = self.finder.matter(session, place.id, key)
            if matter is None:
                raise NotFound(key)
            data = web_data.matter_page(session, place, matter)
        return renderer(page.lang).render("web/matter.html", page, data=data)

    def method(self, page: Page) -> str:
        return renderer(page.lang).render("web/method.html", page, topics=topics(page.lang))

    def feeds_page(self, page: Page) -> str:
        with Session(self.engine) as session:
            places = web_data.places(session)
            bodies: dict[int, list[web_data.BodyRef]] = {}
            for b in session.execute(select(Body).order_by(col(Body.name))).scalars():
                ref = web_data.body_ref(b)
                if ref is not None:
                    bodies.setdefault(b.jurisdiction_id, []).append(ref)
        entries = [PlaceFeeds(p, tuple(bodies.get(p.id, ()))) for p in places]
        return renderer(page.lang).render(
            "web/feeds.html", page, places=entries, topics=topics(page.lang)
        )

    def search(self, page: Page, query: str = "", place: str = "") -> str:
        hits: list[ShownHit] = []
        error = None
        with Session(self.engine) as session:
            places = web_data.places(session)
            if query.strip():
                try:
                    found = search(
                        self.engine, query[:200], jurisdiction=place or None, limit=SEARCH_LIMIT
                    )
                except SearchError:
                    error = renderer(page.lang).gettext(
                        "This search cannot be run; try plain words."
                    )
                    found = []
                hits = self._shown_hits(session, found, places)
        return renderer(page.lang).render(
            "web/search.html",
            page,
            query=query,
            place=place,
            places=places,
            hits=hits,
            error=error,
        )

    def _shown_hits(
        self, session: Session, found: list[SearchHit], places: list[web_data.Place]
    ) -> list[ShownHit]:
        names = {p.slug: p for p in places}
        ids = [h.document_id for h in found]
        meetings: dict[int, list[web_data.MeetingView]] = {}
        if ids:
            rows = session.execute(
                select(col(DocumentLink.document_id), Meeting)
                .join(Meeting, col(DocumentLink.meeting_id) == col(Meeting.id))
                .where(col(DocumentLink.document_id).in_(ids))
            ).all()
            bodies = web_data.by_id(session, Body, (m.body_id for _, m in rows))
            for doc_id, m in rows:
                place = next((p for p in places if p.id == m.jurisdiction_id), None)
                if place is not None:
                    meetings.setdefault(doc_id, []).append(
                        web_data.meeting_view(m, place, bodies.get(m.body_id or 0))
                    )
        return [
            ShownHit(
                document_id=h.document_id,
                version=h.version,
                jurisdiction=h.jurisdiction,
                jurisdiction_name=names[h.jurisdiction].name
                if h.jurisdiction in names
                else h.jurisdiction,
                url=h.url,
                name=h.name,
                kind=h.kind,
                page=h.page,
                snippet=h.snippet,
                retrieved_at=h.retrieved_at,
                meetings=tuple(meetings.get(h.document_id, ())),
            )
            for h in found
        ]

    # -- feeds ------------------------------------------------------------------------------

    def scope(self, kind: str, slug: str = "", key: str = "") -> feeds.Scope:
        """The calendar/feed scope named by an address; NotFound when it names nothing."""
        if kind == "all":
            return feeds.Scope("all", "/", "ICE Council Tracker")
        if kind == "topic":
            if slug not in CATEGORY_LABELS or slug == SECONDARY:
                raise NotFound(slug)
            return feeds.Scope(
                "topic",
                f"/topics/{slug}/",
                renderer("en").label(CATEGORY_LABELS, slug),
                category=slug,
            )
        with Session(self.engine) as session:
            place = self._place(session, slug)
            if kind == "jurisdiction":
                return feeds.Scope(
                    "jurisdiction", f"/j/{slug}/", place.name, jurisdiction_id=place.id
                )
            if kind == "body":
                body = self.finder.body(session, place.id, key)
                if body is None:
                    raise NotFound(key)
                return feeds.Scope(
                    "body",
                    f"/j/{slug}/bodies/{url_key(body.platform_id)}/",
                    f"{body.name} ({place.name})",
                    jurisdiction_id=place.id,
                    body_id=body.id,
                )
            if kind == "person":
                person = self.finder.person(session, place.id, key)
                if person is None:
                    raise NotFound(key)
                return feeds.Scope(
                    "person",
                    f"/j/{slug}/people/{key}/",
                    f"{person.name} ({place.name})",
                    jurisdiction_id=place.id,
                    person_id=person.id,
                )
        raise NotFound(kind)

    def calendar(self, lang: str, scope: feeds.Scope) -> bytes:
        with Session(self.engine) as session:
            return feeds.calendar_bytes(
                session,
                scope,
                self.registry,
                lang=lang,
                base_url=self.base_url,
                now=self.clock(),
            )

    def atom(self, lang: str, scope: feeds.Scope) -> bytes:
        with Session(self.engine) as session:
            return feeds.atom_bytes(session, scope, lang=lang, base_url=self.base_url)
