"""Subscribers and what they follow: sign-up, double opt-in, preferences, unsubscribe.

A subscriber is pending until they open the confirmation link; nothing but the confirmation
e-mail is sent to a pending address. Unsubscribing needs nothing but the address (the operator)
or the signed link (the subscriber); it is immediate and cancels whatever is still queued.

Addresses are validated with email-validator (syntax only: no DNS lookups, which would make
sign-up slow and leak who subscribes to the resolver) and stored normalized and lower-cased.
Logs only ever see :func:`mask_email`.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker.exceptions import SubscriberError, TokenError
from tracker.models import Change, Delivery, Subscriber, Subscription
from tracker.registry import Registry
from tracker.tokens import TokenClaims

logger = logging.getLogger(__name__)

FREQUENCIES = ("immediate", "daily", "weekly")
LANGUAGES = ("en", "es")
SECONDARY = "immigration_non_enforcement"
MAX_KEYWORDS = 25
MAX_KEYWORD_LENGTH = 100

PENDING = "pending"
ACTIVE = "active"
UNSUBSCRIBED = "unsubscribed"
BOUNCED = "bounced"


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalize_email(raw: str) -> str:
    """The address as stored: validated (syntax only), normalized, lower-cased."""
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise SubscriberError(f"not a usable e-mail address: {exc}") from None
    return result.normalized.lower()


def mask_email(email: str) -> str:
    """What logs and operators' summaries show: ``j***@e***.org``."""
    local, _, domain = email.partition("@")
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    return f"{local[:1]}***@{host[:1]}***{dot}{tld}"


def fold(text: str) -> str:
    """Case- and accent-insensitive form for matching keywords and names ("inmigración")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


@cache
def known_categories() -> tuple[str, ...]:
    from tracker.classify import default_classifier

    return (*(c.name for c in default_classifier().topic.categories), SECONDARY)


@dataclass(frozen=True)
class Filters:
    """What one subscription follows; empty means all (see :meth:`describe`)."""

    jurisdictions: tuple[str, ...] = ()
    bodies: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    frequency: str = "weekly"
    language: str = "en"

    @property
    def include_secondary(self) -> bool:
        return SECONDARY in self.categories

    @classmethod
    def of(cls, subscription: Subscription, language: str) -> Filters:
        return cls(
            jurisdictions=tuple(subscription.jurisdictions),
            bodies=tuple(subscription.bodies),
            categories=tuple(subscription.categories),
            keywords=tuple(subscription.keywords),
            people=tuple(subscription.people),
            frequency=subscription.frequency,
            language=language,
        )


def _clean_list(values: Iterable[str], *, limit: int | None = None) -> tuple[str, ...]:
    out: dict[str, str] = {}
    for value in values:
        text = " ".join(str(value).split())
        if text:
            out.setdefault(text.casefold(), text)
    result = tuple(out.values())
    if limit is not None and len(result) > limit:
        raise SubscriberError(f"at most {limit} keywords, got {len(result)}")
    return result


def validate_filters(
    registry: Registry,
    *,
    jurisdictions: Sequence[str] = (),
    bodies: Sequence[str] = (),
    categories: Sequence[str] = (),
    keywords: Sequence[str] = (),
    people: Sequence[str] = (),
    frequency: str = "weekly",
    language: str = "en",
) -> Filters:
    if frequency not in FREQUENCIES:
        raise SubscriberError(f"frequency must be one of {', '.join(FREQUENCIES)}")
    if language not in LANGUAGES:
        raise SubscriberError(f"language must be one of {', '.join(LANGUAGES)}")
    slugs = _clean_list(j.lower() for j in jurisdictions)
    for slug in slugs:
        registry.get(slug)  # UnknownJurisdiction, with a hint
    cats = _clean_list(c.lower() for c in categories)
    unknown = [c for c in cats if c not in known_categories()]
    if unknown:
        raise SubscriberError(
            f"unknown category {unknown[0]!r}: one of {', '.join(known_categories())}"
        )
    words = _clean_list(keywords, limit=MAX_KEYWORDS)
    for word in words:
        if len(word) > MAX_KEYWORD_LENGTH:
            raise SubscriberError(f"a keyword is longer than {MAX_KEYWORD_LENGTH} characters")
    return Filters(
        jurisdictions=slugs,
        bodies=_clean_list(bodies),
        categories=cats,
        keywords=words,
        people=_clean_list(people),
        frequency=frequency,
        language=language,
    )


@dataclass(frozen=True)
class SubscribeResult:
    subscriber_id: int
    email: str
    status: str
    needs_confirmation: bool
    created: bool


def _apply_filters(subscription: Subscription, filters: Filters, now: datetime) -> None:
    subscription.frequency = filters.frequency
    subscription.jurisdictions = list(filters.jurisdictions)
    subscription.bodies = list(filters.bodies)
    subscription.categories = list(filters.categories)
    subscription.keywords = list(filters.keywords)
    subscription.people = list(filters.people)
    subscription.include_secondary = filters.include_secondary
    subscription.updated_at = now


def subscribe(
    engine: Engine, email: str, filters: Filters, *, now: datetime | None = None
) -> SubscribeResult:
    """Record a sign-up (or new preferences); a new or returning address must confirm.

    One subscription per subscriber: signing up again replaces what they follow, so one
    person never gets two digests of the same news.
    """
    address = normalize_email(email)
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session, session.begin():
        subscriber = session.exec(select(Subscriber).where(Subscriber.email == address)).first()
        created = subscriber is None
        if subscriber is None:
            subscriber = Subscriber(email=address, language=filters.language, status=PENDING)
            session.add(subscriber)
            session.flush()
        subscriber.language = filters.language
        if subscriber.status in (UNSUBSCRIBED, BOUNCED):
            subscriber.status = PENDING  # coming back is a new opt-in
        assert subscriber.id is not None
        subscription = session.exec(
            select(Subscription)
            .where(Subscription.subscriber_id == subscriber.id)
            .order_by(col(Subscription.id))
        ).first()
        if subscription is None:
            subscription = Subscription(subscriber_id=subscriber.id, created_at=now)
            session.add(subscription)
        _apply_filters(subscription, filters, now)
        result = SubscribeResult(
            subscriber_id=subscriber.id,
            email=address,
            status=subscriber.status,
            needs_confirmation=subscriber.status == PENDING,
            created=created,
        )
    logger.info("subscription for %s: %s", mask_email(address), result.status)
    return result


def _high_water_start(session: Session, now: datetime, backfill_days: int) -> int:
    """The newest change older than the backfill window: a first digest starts after it."""
    cutoff = now - timedelta(days=backfill_days)
    found = session.exec(select(func.max(Change.id)).where(col(Change.observed_at) < cutoff)).one()
    return int(found or 0)


def _subscriber_for(session: Session, claims: TokenClaims) -> Subscriber:
    subscriber = session.get(Subscriber, claims.subscriber_id)
    if subscriber is None or not claims.fits(subscriber.email):
        raise TokenError("this link belongs to a subscription that no longer exists")
    return subscriber


def confirm(
    engine: Engine, claims: TokenClaims, *, backfill_days: int = 14, now: datetime | None = None
) -> Subscriber:
    """Activate the subscriber a checked confirmation token names (again: no change)."""
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session, session.begin():
        subscriber = _subscriber_for(session, claims)
        if subscriber.status == PENDING:
            subscriber.status = ACTIVE
            subscriber.confirmed_at = now
            start = _high_water_start(session, now, backfill_days)
            for subscription in session.exec(
                select(Subscription).where(Subscription.subscriber_id == subscriber.id)
            ):
                subscription.last_change_id = max(subscription.last_change_id, start)
            logger.info("confirmed %s", mask_email(subscriber.email))
        elif subscriber.status != ACTIVE:
            raise TokenError(f"this address is {subscriber.status}: subscribe again to start over")
        return subscriber


def _unsubscribe(session: Session, subscriber: Subscriber, now: datetime) -> bool:
    if subscriber.status == UNSUBSCRIBED:
        return False
    subscriber.status = UNSUBSCRIBED
    subscriber.unsubscribed_at = now
    session.execute(
        update(Delivery)
        .where(col(Delivery.subscriber_id) == subscriber.id, col(Delivery.status) == "queued")
        .values(status="cancelled", last_error="unsubscribed before it was sent")
    )
    logger.info("unsubscribed %s", mask_email(subscriber.email))
    return True


def unsubscribe(engine: Engine, email: str, *, now: datetime | None = None) -> bool:
    """Unsubscribe an address; False when it already was. Unknown addresses are an error."""
    address = normalize_email(email)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        subscriber = session.exec(select(Subscriber).where(Subscriber.email == address)).first()
        if subscriber is None:
            raise SubscriberError(f"no subscriber {mask_email(address)}")
        return _unsubscribe(session, subscriber, now or utcnow())


def unsubscribe_by_token(
    engine: Engine, claims: TokenClaims, *, now: datetime | None = None
) -> int:
    """One-click unsubscribe (RFC 8058): the checked token is all it takes. Idempotent."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        subscriber = _subscriber_for(session, claims)
        _unsubscribe(session, subscriber, now or utcnow())
        assert subscriber.id is not None
        return subscriber.id


def mark_bounced(session: Session, subscriber_id: int, reason: str, now: datetime) -> None:
    """A hard bounce: nothing more goes to this address until it signs up again."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status == BOUNCED:
        return
    subscriber.status = BOUNCED
    subscriber.bounced_at = now
    subscriber.bounce_reason = reason[:500]
    session.execute(
        update(Delivery)
        .where(col(Delivery.subscriber_id) == subscriber_id, col(Delivery.status) == "queued")
        .values(status="cancelled", last_error="the address bounced")
    )
    logger.warning("hard bounce for %s: %s", mask_email(subscriber.email), reason[:200])


@dataclass(frozen=True)
class SubscriberRow:
    id: int
    email: str
    language: str
    status: str
    created_at: datetime
    confirmed_at: datetime | None
    frequency: str | None
    filters: dict[str, list[str]] = field(default_factory=dict)
    last_change_id: int = 0
    last_digest_at: datetime | None = None
    sent: int = 0
    queued: int = 0


def list_subscribers(engine: Engine, *, status: str | None = None) -> list[SubscriberRow]:
    with Session(engine) as session:
        query = select(Subscriber).order_by(col(Subscriber.id))
        if status:
            query = query.where(Subscriber.status == status)
        subscribers = list(session.exec(query))
        subscriptions = {
            s.subscriber_id: s
            for s in session.exec(select(Subscription).order_by(col(Subscription.id).desc()))
        }
        counts: dict[tuple[int, str], int] = {
            (sid, st): int(n)
            for sid, st, n in session.execute(
                select(Delivery.subscriber_id, Delivery.status, func.count()).group_by(
                    col(Delivery.subscriber_id), col(Delivery.status)
                )
            )
        }
        rows = []
        for s in subscribers:
            assert s.id is not None
            sub = subscriptions.get(s.id)
            filters = {}
            if sub is not None:
                filters = {
                    name: list(getattr(sub, name))
                    for name in ("jurisdictions", "bodies", "categories", "keywords", "people")
                    if getattr(sub, name)
                }
            rows.append(
                SubscriberRow(
                    id=s.id,
                    email=s.email,
                    language=s.language,
                    status=s.status,
                    created_at=s.created_at,
                    confirmed_at=s.confirmed_at,
                    frequency=sub.frequency if sub else None,
                    filters=filters,
                    last_change_id=sub.last_change_id if sub else 0,
                    last_digest_at=sub.last_digest_at if sub else None,
                    sent=counts.get((s.id, "sent"), 0),
                    queued=counts.get((s.id, "queued"), 0),
                )
            )
        return rows
