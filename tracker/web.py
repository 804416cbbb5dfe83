"""The public web site: pages, calendars and feeds, the JSON API, and the sign-up endpoints.

``create_app`` builds the FastAPI application that ``ice-tracker serve`` runs with uvicorn.
Addresses (each page also under ``/es`` in Spanish; ``?lang=es`` works too):

    /                                     upcoming meetings with ICE items, action cards
    /j/SLUG/                              a place: bodies, upcoming, ICE items, meetings
    /j/SLUG/bodies/KEY/                   a council or committee
    /j/SLUG/meetings/KEY/                 a meeting: the agenda, ICE items highlighted, votes
    /j/SLUG/matters/KEY/                  legislation: its history and votes
    /j/SLUG/people/KEY/                   a member: votes, statements, absences, the picture
    /search/?q=WORDS&j=SLUG               full-text search of agendas and minutes
    /method/                              how items are found and what can be wrong
    /feeds/                               every calendar and feed
    /calendar.ics, /feed.atom             everything;  also under /j/SLUG/, /j/SLUG/bodies/KEY/,
                                          /j/SLUG/people/KEY/ and /topics/CATEGORY/
    /api/v1/meetings|items|votes          read-only JSON, ?jurisdiction= &relevant= &after=
    /subscribe/, /confirm/T, /preferences/T, /unsubscribe/T   (tracker/web_forms.py)

Keys are made from platform ids (tracker/web_keys.py), so addresses survive a rebuild. Pages
use no JavaScript; the Content-Security-Policy allows none, so even a crawled title that got
past the escaping could not run. Every response says ``Referrer-Policy: no-referrer``: the
sign-up pages carry tokens in their addresses, and no link out may leak them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from tracker import feeds
from tracker.registry import Registry, load_registry
from tracker.settings import Settings
from tracker.tokens import Tokens
from tracker.web_forms import Limits, RateLimiter, SubscriptionPages, client_ip, router
from tracker.web_pages import NotFound, Site, utcnow
from tracker.web_render import LANGUAGES, Page, renderer

logger = logging.getLogger(__name__)

TOKEN_PATH = re.compile(r"/(confirm|preferences|unsubscribe)/[^/\s?\"]+")
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'{forms}; "
    "base-uri 'none'; frame-ancestors 'none'"
)
PAGE_CACHE = "public, max-age=60"


class RedactTokens(logging.Filter):
    """Keeps the signed tokens of e-mail links out of access logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                TOKEN_PATH.sub(r"/\1/[token]", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = TOKEN_PATH.sub(r"/\1/[token]", record.msg)
        return True


def language_of(request: Request) -> str:
    path = request.url.path
    if path == "/es" or path.startswith("/es/"):
        return "es"
    asked = request.query_params.get("lang")
    return asked if asked in LANGUAGES else "en"


def site_path(request: Request) -> str:
    path = request.url.path
    if path == "/es":
        return "/"
    return path[3:] if path.startswith("/es/") else path


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    registry: Registry | None = None,
    clock: Callable[[], datetime] = utcnow,
    limits: Limits | None = None,
) -> FastAPI:
    if engine is None:
        from tracker.db import open_database

        engine = open_database(settings.resolved_database_url)
    registry = registry or load_registry()
    base_url = settings.public_base_url.rstrip("/")
    site = Site(engine, registry, base_url, clock)
    limits = limits or Limits()
    searches = RateLimiter(*limits.search_per_ip)
    app = FastAPI(
        title="ICE Council Tracker",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.site = site
    csp = CSP.format(forms="" if not base_url else " " + base_url)

    def page_for(request: Request, lang: str | None) -> Page:
        chosen = lang if lang in LANGUAGES else language_of(request)
        return Page(chosen, site_path(request), base_url=base_url, query=request.url.query)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return _not_found(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and not request.url.path.startswith("/api/"):
            return _not_found(request)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    def _not_found(request: Request) -> Response:
        page = page_for(request, None)
        r = renderer(page.lang)
        html = r.render(
            "web/message.html",
            page,
            heading=r.gettext("Page not found"),
            lines=(r.gettext("There is no page at this address. It may have moved."),),
            links=((page.href("/"), r.gettext("Upcoming meetings")),),
        )
        return HTMLResponse(html, status_code=404)

    def html(request: Request, render: Callable[[Page], str]) -> Response:
        page = page_for(request, None)
        response = HTMLResponse(render(page))
        response.headers["Content-Language"] = page.lang
        response.headers["Cache-Control"] = PAGE_CACHE
        return response

    # -- pages ----------------------------------------------------------------------------
    def home(request: Request) -> Response:
        return html(request, site.home)

    def method(request: Request) -> Response:
        return html(request, site.method)

    def feeds_page(request: Request) -> Response:
        return html(request, site.feeds_page)

    def place(request: Request, slug: str) -> Response:
        return html(request, lambda p: site.place(p, slug))

    def body(request: Request, slug: str, key: str) -> Response:
        return html(request, lambda p: site.body(p, slug, key))

    def meeting(request: Request, slug: str, key: str) -> Response:
        return html(request, lambda p: site.meeting(p, slug, key))

    def person(request: Request, slug: str, key: str) -> Response:
        return html(request, lambda p: site.person(p, slug, key))

    def matter(request: Request, slug: str, key: str) -> Response:
        return html(request, lambda p: site.matter(p, slug, key))

    def search(request: Request, q: str = "", j: str = "") -> Response:
        if q.strip():
            wait = searches.hit(client_ip(request))
            if wait is not None:
                page = page_for(request, None)
                r = renderer(page.lang)
                limited = HTMLResponse(
                    r.render(
                        "web/message.html",
                        page,
                        heading=r.gettext("Too many requests"),
                        lines=(r.gettext("Please wait a little and try again."),),
                        links=(),
                    ),
                    status_code=429,
                )
                limited.headers["Retry-After"] = str(int(wait + 0.999))
                return limited
        response = html(request, lambda p: site.search(p, q, j))
        response.headers["Cache-Control"] = "no-store"
        return response

    def stylesheet() -> Response:
        return Response(
            stylesheet_text(),
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    # -- calendars and feeds --------------------------------------------------------------
    def feed(kind: str, fmt: str) -> Callable[..., Response]:
        def answer(request: Request, slug: str = "", key: str = "") -> Response:
            lang = language_of(request)
            scope = site.scope(kind, slug, key)
            if fmt == "ics":
                data = site.calendar(lang, scope)
                media = "text/calendar; charset=utf-8"
            else:
                data = site.atom(lang, scope)
                media = "application/atom+xml; charset=utf-8"
            return Response(data, media_type=media, headers={"Cache-Control": PAGE_CACHE})

        return answer

    for prefix in ("", "/es"):
        add = app.add_api_route
        add(prefix + "/", home, methods=["GET"], include_in_schema=False)
        add(prefix + "/method/", method, methods=["GET"], include_in_schema=False)
        add(prefix + "/feeds/", feeds_page, methods=["GET"], include_in_schema=False)
        add(prefix + "/search/", search, methods=["GET"], include_in_schema=False)
        add(prefix + "/j/{slug}/", place, methods=["GET"], include_in_schema=False)
        add(prefix + "/j/{slug}/bodies/{key}/", body, methods=["GET"], include_in_schema=False)
        add(prefix + "/j/{slug}/meetings/{key}/", meeting, methods=["GET"], include_in_schema=False)
        add(prefix + "/j/{slug}/people/{key}/", person, methods=["GET"], include_in_schema=False)
        add(prefix + "/j/{slug}/matters/{key}/", matter, methods=["GET"], include_in_schema=False)
        for fmt, name in (("ics", "calendar.ics"), ("atom", "feed.atom")):
            add(prefix + "/" + name, feed("all", fmt), methods=["GET"], include_in_schema=False)
            add(
                prefix + "/j/{slug}/" + name,
                feed("jurisdiction", fmt),
                methods=["GET"],
                include_in_schema=False,
            )
            add(
                prefix + "/j/{slug}/bodies/{key}/" + name,
                feed("body", fmt),
                methods=["GET"],
                include_in_schema=False,
            )
            add(
                prefix + "/j/{slug}/people/{key}/" + name,
                feed("person", fmt),
                methods=["GET"],
                include_in_schema=False,
            )
            add(
                prefix + "/topics/{slug}/" + name,
                feed("topic", fmt),
                methods=["GET"],
                include_in_schema=False,
            )
    app.add_api_route("/static/site.css", stylesheet, methods=["GET"], include_in_schema=False)

    # -- the JSON API ---------------------------------------------------------------------
    def api(kind: str) -> Callable[..., Response]:
        reader = {
            "meetings": feeds.api_meetings,
            "items": feeds.api_items,
            "votes": feeds.api_votes,
        }[kind]

        def answer(
            request: Request,
            jurisdiction: str | None = Query(None, max_length=80),
            relevant: bool = False,
            after: int = Query(0, ge=0),
            limit: int = Query(100, ge=1, le=feeds.API_MAX_LIMIT),
        ) -> Response:
            query = urlencode(
                [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
            )
            next_url = f"{base_url}/api/v1/{kind}?" + (query + "&" if query else "")
            with Session(engine) as session:
                data = reader(
                    session,
                    base_url,
                    jurisdiction=jurisdiction,
                    relevant=relevant,
                    after=after,
                    limit=limit,
                    next_url=next_url,
                )
            return JSONResponse(data, headers={"Cache-Control": PAGE_CACHE})

        answer.__name__ = f"api_{kind}"
        return answer

    for kind in ("meetings", "items", "votes"):
        app.add_api_route(f"/api/v1/{kind}", api(kind), methods=["GET"])

    @app.get("/api/v1/", include_in_schema=False)
    def api_index() -> dict[str, Any]:
        return {
            "meetings": f"{base_url}/api/v1/meetings",
            "items": f"{base_url}/api/v1/items",
            "votes": f"{base_url}/api/v1/votes",
            "parameters": {
                "jurisdiction": "a place's slug",
                "relevant": "true: ICE items (and their meetings and votes) only",
                "after": "the id of the last row of the page before",
                "limit": f"rows a page, 1 to {feeds.API_MAX_LIMIT}",
            },
        }

    # -- sign-up ----------------------------------------------------------------------------
    pages = SubscriptionPages(
        engine=engine,
        registry=registry,
        settings=settings,
        tokens=Tokens.from_settings(settings),
        limits=limits,
        page_for=page_for,
        secure_cookies=base_url.startswith("https://"),
    )
    app.include_router(router(pages))
    return app


def stylesheet_text() -> str:
    r = renderer("en")
    return r.env.get_template("web/site.css").render()


def install_log_filter() -> None:
    """Redact link tokens from uvicorn's access log (called by ``ice-tracker serve``)."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactTokens())
