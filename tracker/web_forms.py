"""Subscribe, confirm, preferences and unsubscribe on the web, with CSRF protection and
rate limits.

The addresses e-mails already link to are kept: ``/confirm/TOKEN``, ``/preferences/TOKEN``
and ``/unsubscribe/TOKEN`` (with or without a trailing slash, and with ``/es`` in front for
the Spanish page; without it, the page is in the subscriber's own language).

CSRF: signed double submit. A form page sets a random nonce in a cookie (``HttpOnly``,
``SameSite=Lax``, ``Secure`` on https) and puts the nonce, signed with the site's secret key
by itsdangerous (``URLSafeTimedSerializer``, salt ``csrf-form``, valid ``CSRF_MAX_AGE``), in
a hidden field. A POST is accepted only when the field's signature holds, it is not too old,
and its nonce equals the cookie's. Another site can neither read the cookie nor forge the
signature. The one exception is unsubscribe: RFC 8058 one-click POSTs come from mail
providers with no cookie and no token, and the signed link is all the authority needed.

Confirmation is a button, not the link itself, so that mail scanners that open every link
cannot confirm a sign-up someone else made. Signing up an address that is already confirmed
changes nothing: it gets an e-mail with its preferences link instead (so nobody can change
another person's alerts by typing their address), and the page says the same thing in every
case (so the form does not tell who subscribes).

Rate limits (in this process's memory: they reset when the server restarts, and each
process of a multi-process deployment counts on its own):

- sign-ups per client IP: ``Limits.subscribe_per_ip`` (default 10 an hour);
- sign-ups per address: ``Limits.subscribe_per_address`` (default 5 a day), counted on a hash
  of the address, so no address is kept in memory;
- other form posts (confirm, preferences, unsubscribe) per client IP: ``Limits.posts_per_ip``
  (default 60 in 10 minutes); searches per client IP: ``Limits.search_per_ip``.

The client IP is the connection's; behind a proxy, run uvicorn with ``--proxy-headers`` and
``--forwarded-allow-ips`` set to the proxy so that it is the visitor's. Over a limit, the
answer is 429 with Retry-After.

Nothing here writes an address to a log: :func:`tracker.subscribers.mask_email` only.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from tracker.digest import renderer as mail_renderer
from tracker.exceptions import SendError, SubscriberError, TokenError, UnknownJurisdiction
from tracker.mailer import compose, domain_of, send_now
from tracker.models import Subscriber, Subscription
from tracker.registry import Registry
from tracker.settings import Settings
from tracker.subscribers import (
    ACTIVE,
    FREQUENCIES,
    Filters,
    confirm,
    mask_email,
    normalize_email,
    subscribe,
    unsubscribe_by_token,
    validate_filters,
)
from tracker.tokens import TokenClaims, Tokens, secret_key
from tracker.web_data import places
from tracker.web_pages import topics
from tracker.web_render import LANGUAGES, Page, renderer

logger = logging.getLogger(__name__)

CSRF_COOKIE = "ice_csrf"
CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE = 4 * 3600
_NONCE = re.compile(r"[A-Za-z0-9_-]{32,64}")


@dataclass(frozen=True)
class Limits:
    """(events, seconds) per key; see the module docstring."""

    subscribe_per_ip: tuple[int, float] = (10, 3600.0)
    subscribe_per_address: tuple[int, float] = (5, 86400.0)
    posts_per_ip: tuple[int, float] = (60, 600.0)
    search_per_ip: tuple[int, float] = (60, 60.0)


class RateLimiter:
    """A sliding window per key, in memory; at most ``max_keys`` keys are remembered."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 50_000,
    ) -> None:
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Count one event; None when allowed, else the seconds until the next one is."""
        now = self.clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:
                    self._forget(now)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 1.0)
            hits.append(now)
            return None

    def _forget(self, now: float) -> None:
        stale = [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]
        for key in stale:
            del self._hits[key]
        while len(self._hits) >= self.max_keys:  # still full: drop the oldest keys
            del self._hits[next(iter(self._hits))]


class Csrf:
    """Signed double-submit tokens (see the module docstring)."""

    def __init__(self, secret: str) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="csrf-form")

    def token(self, request: Request) -> tuple[str, str | None]:
        """The form token, and a new cookie nonce to set when the visitor has none."""
        nonce = request.cookies.get(CSRF_COOKIE, "")
        fresh = None
        if not _NONCE.fullmatch(nonce):
            nonce = fresh = secrets.token_urlsafe(32)
        return self.serializer.dumps(nonce), fresh

    def valid(self, request: Request, form: FormData) -> bool:
        nonce = request.cookies.get(CSRF_COOKIE, "")
        given = form.get(CSRF_FIELD)
        if not nonce or not isinstance(given, str):
            return False
        try:
            signed = self.serializer.loads(given, max_age=CSRF_MAX_AGE)
        except (BadSignature, SignatureExpired):
            return False
        return isinstance(signed, str) and secrets.compare_digest(signed, nonce)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def address_key(address: str) -> str:
    return hashlib.sha256(b"rate:" + address.encode("utf-8")).hexdigest()


@dataclass
class Chosen:
    """What the form shows as chosen."""

    jurisdictions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    frequency: str = "weekly"
    language: str = "en"


class SubscriptionPages:
    """The sign-up pages and their handlers; :func:`router` wires them to addresses."""

    def __init__(
        self,
        *,
        engine: Engine,
        registry: Registry,
        settings: Settings,
        tokens: Tokens,
        limits: Limits,
        page_for: Callable[[Request, str | None], Page],
        secure_cookies: bool,
    ) -> None:
        self.engine, self.registry, self.settings, self.tokens = engine, registry, settings, tokens
        self.page_for = page_for
        self.secure_cookies = secure_cookies
        self.csrf = Csrf(secret_key(settings))
        self.by_ip = RateLimiter(*limits.subscribe_per_ip)
        self.by_address = RateLimiter(*limits.subscribe_per_address)
        self.posts = RateLimiter(*limits.posts_per_ip)

    # -- helpers --------------------------------------------------------------------------

    def _html(
        self,
        request: Request,
        page: Page,
        name: str,
        *,
        status: int = 200,
        form: bool = False,
        **context: object,
    ) -> HTMLResponse:
        fresh = None
        if form:
            context["csrf_token"], fresh = self.csrf.token(request)
        html = renderer(page.lang).render(name, page, **context)
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Language"] = page.lang
        if fresh is not None:
            response.set_cookie(
                CSRF_COOKIE,
                fresh,
                max_age=CSRF_MAX_AGE * 6,
                httponly=True,
                samesite="lax",
                secure=self.secure_cookies,
                path="/",
            )
        return response

    def _message(
        self,
        request: Request,
        page: Page,
        heading: str,
        *lines: str,
        status: int = 200,
        links: tuple[tuple[str, str], ...] = (),
    ) -> HTMLResponse:
        return self._html(
            request,
            page,
            "web/message.html",
            status=status,
            heading=heading,
            lines=lines,
            links=links,
        )

    def _too_many(self, request: Request, page: Page, wait: float) -> HTMLResponse:
        r = renderer(page.lang)
        response = self._message(
            request,
            page,
            r.gettext("Too many requests"),
            r.gettext("Please wait a little and try again."),
            status=429,
        )
        response.headers["Retry-After"] = str(int(wait + 0.999))
        return response

    def _bad_form(self, request: Request, page: Page) -> HTMLResponse:
        r = renderer(page.lang)
        return self._message(
            request,
            page,
            r.gettext("This form has expired"),
            r.gettext("Go back, reload the page and send the form again."),
            status=400,
        )

    def _bad_token(self, request: Request, page: Page, error: TokenError) -> HTMLResponse:
        r = renderer(page.lang)
        text = str(error)
        if "expired" in text:
            line = r.gettext("This link has expired. Subscribe again to get a new one.")
        elif "no longer exists" in text:
            line = r.gettext("This link belongs to a subscription that no longer exists.")
        elif "unsubscribed" in text or "bounced" in text:
            line = r.gettext("This address gets no e-mail now. Subscribe again to start over.")
        else:
            line = r.gettext("This link is not valid. Check that it was copied whole.")
        return self._message(
            request,
            page,
            r.gettext("This link does not work"),
            line,
            status=400,
            links=((page.href("/subscribe/"), r.gettext("Get alerts")),),
        )

    def _subscriber(self, claims: TokenClaims) -> tuple[Subscriber, Subscription | None]:
        with Session(self.engine, expire_on_commit=False) as session:
            subscriber = session.get(Subscriber, claims.subscriber_id)
            if subscriber is None or not claims.fits(subscriber.email):
                raise TokenError("this link belongs to a subscription that no longer exists")
            subscription = session.exec(
                select(Subscription)
                .where(Subscription.subscriber_id == subscriber.id)
                .order_by(col(Subscription.id))
            ).first()
            return subscriber, subscription

    def _language_of(self, request: Request, claims: TokenClaims | None) -> str | None:
        """The page's language: the address's /es or ?lang=, else the subscriber's."""
        if request.url.path.startswith("/es/") or request.query_params.get("lang") in LANGUAGES:
            return None
        if claims is None:
            return None
        with Session(self.engine) as session:
            subscriber = session.get(Subscriber, claims.subscriber_id)
            return subscriber.language if subscriber else None

    def _form_context(self, chosen: Chosen) -> dict[str, Any]:
        with Session(self.engine) as session:
            shown = places(session)
        known = {p.slug for p in shown}
        extra = [s for s in chosen.jurisdictions if s not in known and s in self.registry.entries]
        return {
            "places": shown
            + [
                _RegistryPlace(e.slug, e.name, e.state)
                for e in (self.registry.entries[s] for s in extra)
            ],
            "topics": topics(chosen.language),
            "frequencies": FREQUENCIES,
            "chosen": chosen,
        }

    # -- subscribe ------------------------------------------------------------------------

    def subscribe_form(self, request: Request) -> Response:
        page = self.page_for(request, None)
        chosen = Chosen(
            jurisdictions=tuple(request.query_params.getlist("jurisdictions")),
            language=page.lang,
        )
        return self._html(
            request,
            page,
            "web/subscribe.html",
            form=True,
            email="",
            error=None,
            **self._form_context(chosen),
        )

    async def subscribe_post(self, request: Request) -> Response:
        form = await request.form()
        return await run_in_threadpool(self._subscribe_post, request, form)

    def _subscribe_post(self, request: Request, form: FormData) -> Response:
        page = self.page_for(request, None)
        r = renderer(page.lang)
        wait = self.by_ip.hit(client_ip(request))
        if wait is not None:
            return self._too_many(request, page, wait)
        if not self.csrf.valid(request, form):
            return self._bad_form(request, page)
        raw_email = str(form.get("email") or "")[:320]
        chosen = Chosen(
            jurisdictions=tuple(str(v) for v in form.getlist("jurisdictions"))[:200],
            categories=tuple(str(v) for v in form.getlist("categories"))[:50],
            frequency=str(form.get("frequency") or "weekly"),
            language=str(form.get("language") or page.lang),
        )

        def again(message: str) -> Response:
            return self._html(
                request,
                page,
                "web/subscribe.html",
                status=400,
                form=True,
                email=raw_email,
                error=message,
                **self._form_context(chosen),
            )

        try:
            address = normalize_email(raw_email)
        except SubscriberError:
            return again(r.gettext("That does not look like an e-mail address."))
        wait = self.by_address.hit(address_key(address))
        if wait is not None:
            return self._too_many(request, page, wait)
        try:
            filters = validate_filters(
                self.registry,
                jurisdictions=chosen.jurisdictions,
                categories=chosen.categories,
                frequency=chosen.frequency,
                language=chosen.language,
            )
        except (SubscriberError, UnknownJurisdiction):
            return again(r.gettext("Some of these choices are not available; check them."))
        try:
            self._sign_up(address, filters)
        except SendError as exc:
            logger.warning("could not send to %s: %s", mask_email(address), exc)
            return self._message(
                request,
                page,
                r.gettext("We could not send the e-mail"),
                r.gettext("Our mail server did not take it. Please try again in a few minutes."),
                status=503,
            )
        return RedirectResponse(page.server("/subscribe/sent/"), status_code=303)

    def _sign_up(self, address: str, filters: Filters) -> None:
        with Session(self.engine) as session:
            existing = session.exec(select(Subscriber).where(Subscriber.email == address)).first()
        if existing is not None and existing.status == ACTIVE:
            assert existing.id is not None
            self._send_already(existing)
            return
        result = subscribe(self.engine, address, filters)
        token = self.tokens.confirm(result.subscriber_id, result.email)
        base = self.settings.public_base_url.rstrip("/")
        url = f"{base}/confirm/{token}"
        mail = mail_renderer(filters.language, self.settings.public_base_url)
        subject, text, html = mail.confirmation_parts(
            url, filters, confirm_hours=self.settings.confirm_hours
        )
        message_id = f"<confirm.{token[-24:]}@{domain_of(self.settings.mail_from)}>"
        self._send(result.email, filters.language, subject, text, html, message_id)

    def _send_already(self, subscriber: Subscriber) -> None:
        assert subscriber.id is not None
        base = self.settings.public_base_url.rstrip("/")
        context = {
            "preferences_url": f"{base}/preferences/"
            + self.tokens.preferences(subscriber.id, subscriber.email),
            "unsubscribe_url": f"{base}/unsubscribe/"
            + self.tokens.unsubscribe(subscriber.id, subscriber.email),
        }
        mail = mail_renderer(subscriber.language, self.settings.public_base_url)
        text = mail.render("web/mail/already.txt", **context)
        html = mail.render("web/mail/already.html", **context)
        subject = mail.gettext("Your ICE Council Tracker alerts")
        message_id = f"<again.{secrets.token_hex(12)}@{domain_of(self.settings.mail_from)}>"
        self._send(subscriber.email, subscriber.language, subject, text, html, message_id)

    def _send(
        self, address: str, language: str, subject: str, text: str, html: str, message_id: str
    ) -> None:
        message = compose(
            sender=self.settings.mail_from,
            recipient=address,
            subject=subject,
            message_id=message_id,
            date=datetime.now(UTC),
            language=language,
            text=text,
            html=html,
        )
        send_now(self.settings, address, message, message_id)
        logger.info("sign-up e-mail sent to %s", mask_email(address))

    def subscribe_sent(self, request: Request) -> Response:
        page = self.page_for(request, None)
        r = renderer(page.lang)
        return self._message(
            request,
            page,
            r.gettext("Check your inbox"),
            r.gettext(
                "If the address can receive mail, a message is on its way to it. Open the "
                "link in it to confirm your alerts; nothing else is sent until you do."
            ),
            r.gettext("No message after a few minutes? Look in the spam folder."),
        )

    # -- confirm --------------------------------------------------------------------------

    def confirm_page(self, request: Request, token: str) -> Response:
        claims = None
        try:
            claims = self.tokens.check_confirm(token)
        except TokenError as exc:
            return self._bad_token(request, self.page_for(request, None), exc)
        page = self.page_for(request, self._language_of(request, claims))
        return self._html(request, page, "web/confirm.html", form=True, token=token)

    async def confirm_post(self, request: Request, token: str) -> Response:
        form = await request.form()
        return await run_in_threadpool(self._confirm_post, request, token, form)

    def _confirm_post(self, request: Request, token: str, form: FormData) -> Response:
        page = self.page_for(request, None)
        wait = self.posts.hit(client_ip(request))
        if wait is not None:
            return self._too_many(request, page, wait)
        try:
            claims = self.tokens.check_confirm(token)
        except TokenError as exc:
            return self._bad_token(request, page, exc)
        page = self.page_for(request, self._language_of(request, claims))
        if not self.csrf.valid(request, form):
            return self._bad_form(request, page)
        try:
            subscriber = confirm(
                self.engine, claims, backfill_days=self.settings.digest_backfill_days
            )
        except TokenError as exc:
            return self._bad_token(request, page, exc)
        assert subscriber.id is not None
        r = renderer(page.lang)
        preferences = page.server(
            "/preferences/" + self.tokens.preferences(subscriber.id, subscriber.email)
        )
        return self._message(
            request,
            page,
            r.gettext("Your alerts are on"),
            r.gettext(
                "Thank you. The first e-mail comes when there is news for the places you follow."
            ),
            r.gettext("Every e-mail has a link to change what you get, or to stop it."),
            links=((preferences, r.gettext("Change your preferences")),),
        )

    # -- preferences ----------------------------------------------------------------------

    def preferences_page(self, request: Request, token: str) -> Response:
        try:
            claims = self.tokens.check_preferences(token)
            subscriber, subscription = self._subscriber(claims)
        except TokenError as exc:
            return self._bad_token(request, self.page_for(request, None), exc)
        page = self.page_for(request, self._language_of(request, claims))
        return self._preferences(
            request,
            page,
            token,
            subscriber,
            _chosen(subscriber, subscription),
            saved=request.query_params.get("saved") == "1",
        )

    def _preferences(
        self,
        request: Request,
        page: Page,
        token: str,
        subscriber: Subscriber,
        chosen: Chosen,
        *,
        saved: bool = False,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        assert subscriber.id is not None
        return self._html(
            request,
            page,
            "web/preferences.html",
            status=status,
            form=True,
            token=token,
            unsubscribe_token=self.tokens.unsubscribe(subscriber.id, subscriber.email),
            subscriber_status=subscriber.status,
            saved=saved,
            error=error,
            **self._form_context(chosen),
        )

    async def preferences_post(self, request: Request, token: str) -> Response:
        form = await request.form()
        return await run_in_threadpool(self._preferences_post, request, token, form)

    def _preferences_post(self, request: Request, token: str, form: FormData) -> Response:
        page = self.page_for(request, None)
        wait = self.posts.hit(client_ip(request))
        if wait is not None:
            return self._too_many(request, page, wait)
        try:
            claims = self.tokens.check_preferences(token)
            subscriber, subscription = self._subscriber(claims)
        except TokenError as exc:
            return self._bad_token(request, page, exc)
        page = self.page_for(request, self._language_of(request, claims))
        if not self.csrf.valid(request, form):
            return self._bad_form(request, page)
        r = renderer(page.lang)
        keywords = tuple(
            line.strip() for line in str(form.get("keywords") or "").splitlines() if line.strip()
        )
        chosen = Chosen(
            jurisdictions=tuple(str(v) for v in form.getlist("jurisdictions"))[:200],
            categories=tuple(str(v) for v in form.getlist("categories"))[:50],
            keywords=keywords[:50],
            frequency=str(form.get("frequency") or "weekly"),
            language=str(form.get("language") or subscriber.language),
        )
        if subscriber.status not in (ACTIVE, "pending"):
            return self._preferences(request, page, token, subscriber, chosen)
        try:
            filters = validate_filters(
                self.registry,
                jurisdictions=chosen.jurisdictions,
                bodies=subscription.bodies if subscription else (),
                categories=chosen.categories,
                keywords=chosen.keywords,
                people=subscription.people if subscription else (),
                frequency=chosen.frequency,
                language=chosen.language,
            )
        except (SubscriberError, UnknownJurisdiction):
            return self._preferences(
                request,
                page,
                token,
                subscriber,
                chosen,
                error=r.gettext("Some of these choices are not available; check them."),
                status=400,
            )
        subscribe(self.engine, subscriber.email, filters)
        target = "/preferences/" + token
        prefix = "/es" if request.url.path.startswith("/es/") else ""
        return RedirectResponse(prefix + target + "?saved=1", status_code=303)

    # -- unsubscribe ----------------------------------------------------------------------

    def unsubscribe_page(self, request: Request, token: str) -> Response:
        try:
            claims = self.tokens.check_unsubscribe(token)
            subscriber, _ = self._subscriber(claims)
        except TokenError as exc:
            return self._bad_token(request, self.page_for(request, None), exc)
        page = self.page_for(request, self._language_of(request, claims))
        assert subscriber.id is not None
        return self._html(
            request,
            page,
            "web/unsubscribe.html",
            token=token,
            preferences_token=self.tokens.preferences(subscriber.id, subscriber.email),
            done=False,
        )

    def unsubscribe_post(self, request: Request, token: str) -> Response:
        """RFC 8058 one-click, and the page's button: no CSRF token, no login, idempotent."""
        page = self.page_for(request, None)
        wait = self.posts.hit(client_ip(request))
        if wait is not None:
            return self._too_many(request, page, wait)
        try:
            claims = self.tokens.check_unsubscribe(token)
            unsubscribe_by_token(self.engine, claims)
        except TokenError as exc:
            return self._bad_token(request, page, exc)
        page = self.page_for(request, self._language_of(request, claims))
        return self._html(
            request, page, "web/unsubscribe.html", token=token, preferences_token="", done=True
        )


@dataclass(frozen=True)
class _RegistryPlace:
    slug: str
    name: str
    state: str


def _chosen(subscriber: Subscriber, subscription: Subscription | None) -> Chosen:
    if subscription is None:
        return Chosen(language=subscriber.language)
    return Chosen(
        jurisdictions=tuple(subscription.jurisdictions),
        categories=tuple(subscription.categories),
        keywords=tuple(subscription.keywords),
        frequency=subscription.frequency,
        language=subscriber.language,
    )


def router(pages: SubscriptionPages) -> APIRouter:
    """Both languages, and the token addresses with and without a trailing slash."""
    api = APIRouter()
    for prefix in ("", "/es"):
        api.add_api_route(prefix + "/subscribe/", pages.subscribe_form, methods=["GET"])
        api.add_api_route(prefix + "/subscribe/", pages.subscribe_post, methods=["POST"])
        api.add_api_route(prefix + "/subscribe/sent/", pages.subscribe_sent, methods=["GET"])
        for slash in ("", "/"):
            api.add_api_route(
                prefix + "/confirm/{token}" + slash, pages.confirm_page, methods=["GET"]
            )
            api.add_api_route(
                prefix + "/confirm/{token}" + slash, pages.confirm_post, methods=["POST"]
            )
            api.add_api_route(
                prefix + "/preferences/{token}" + slash, pages.preferences_page, methods=["GET"]
            )
            api.add_api_route(
                prefix + "/preferences/{token}" + slash, pages.preferences_post, methods=["POST"]
            )
            api.add_api_route(
                prefix + "/unsubscribe/{token}" + slash, pages.unsubscribe_page, methods=["GET"]
            )
            api.add_api_route(
                prefix + "/unsubscribe/{token}" + slash, pages.unsubscribe_post, methods=["POST"]
            )
    return api
