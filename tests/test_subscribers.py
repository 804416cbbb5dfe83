"""Sign-up, double opt-in with signed expiring tokens, unsubscribe that never expires, and
addresses kept out of logs; the commands an operator runs."""

from __future__ import annotations

import email
import logging
import re
import time
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select
from test_digest_fixtures import active_subscriber, council, ice_meeting, settings_now

from tracker.cli import main
from tracker.db import open_database
from tracker.digest import queue_digests
from tracker.exceptions import TokenError, UnknownJurisdiction
from tracker.models import Delivery, Subscriber, Subscription
from tracker.registry import load_registry
from tracker.store import Store
from tracker.subscribers import (
    SubscriberError,
    confirm,
    list_subscribers,
    mask_email,
    normalize_email,
    subscribe,
    unsubscribe,
    unsubscribe_by_token,
    validate_filters,
)
from tracker.tokens import Tokens

YEAR = 365 * 24 * 3600


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(open_database(database_url))


def test_addresses_are_validated_without_dns() -> None:
    # A domain that does not exist passes: syntax only, no lookups (and none in tests).
    assert (
        normalize_email("  Ana.Perez@No-Such-Domain-Xyz.ORG ") == "ana.perez@no-such-domain-xyz.org"
    )
    for bad in (
        "ana",
        "ana@",
        "@example.org",
        "ana@@example.org",
        "ana@example",
        "a b@example.org",
    ):
        with pytest.raises(SubscriberError, match="not a usable e-mail address"):
            normalize_email(bad)


def test_masking() -> None:
    assert mask_email("ana.perez@example.org") == "a***@e***.org"
    assert "perez" not in mask_email("ana.perez@example.org")


def test_filters_are_checked() -> None:
    registry = load_registry()
    with pytest.raises(UnknownJurisdiction):
        validate_filters(registry, jurisdictions=["atlantis"])
    with pytest.raises(SubscriberError, match="unknown category"):
        validate_filters(registry, categories=["parks"])
    with pytest.raises(SubscriberError, match="frequency"):
        validate_filters(registry, frequency="hourly")
    with pytest.raises(SubscriberError, match="language"):
        validate_filters(registry, language="fr")
    filters = validate_filters(
        registry,
        jurisdictions=["Seattle", "seattle"],
        categories=["287g", "immigration_non_enforcement"],
        keywords=["  Flock  Safety ", "flock safety"],
    )
    assert filters.jurisdictions == ("seattle",)
    assert filters.keywords == ("Flock Safety",)
    assert filters.include_secondary


def test_double_opt_in(store: Store) -> None:
    registry = load_registry()
    tokens = Tokens.from_settings(settings_now())
    result = subscribe(store.engine, "Ana@Example.org", validate_filters(registry))
    assert (result.status, result.needs_confirmation, result.email) == (
        "pending",
        True,
        "ana@example.org",
    )
    token = tokens.confirm(result.subscriber_id, result.email)
    subscriber = confirm(store.engine, tokens.check_confirm(token))
    assert subscriber.status == "active"
    assert subscriber.confirmed_at is not None
    confirm(store.engine, tokens.check_confirm(token))  # a second click changes nothing
    # signing up again replaces what they follow: one subscription, one digest
    again = subscribe(
        store.engine, "ana@example.org", validate_filters(registry, frequency="daily")
    )
    assert not again.needs_confirmation
    with Session(store.engine) as session:
        subscriptions = session.exec(select(Subscription)).all()
        assert [s.frequency for s in subscriptions] == ["daily"]


def test_tampered_expired_and_misused_tokens_are_refused(store: Store) -> None:
    result = subscribe(store.engine, "ana@example.org", validate_filters(load_registry()))
    key = "k" * 40
    now = time.time()
    tokens = Tokens(key, confirm_hours=72, clock=lambda: now)
    token = tokens.confirm(result.subscriber_id, result.email)
    assert tokens.check_confirm(token).subscriber_id == result.subscriber_id
    payload, _, signature = token.rpartition(".")
    tampered = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(TokenError, match="not valid"):
        tokens.check_confirm(tampered)
    with pytest.raises(TokenError, match="not valid"):
        Tokens("another key" * 4).check_confirm(token)
    later = Tokens(key, confirm_hours=72, clock=lambda: now + 73 * 3600)
    with pytest.raises(TokenError, match="expired"):
        later.check_confirm(token)
    # a token made for one purpose does not open another
    with pytest.raises(TokenError):
        tokens.check_unsubscribe(token)
    with pytest.raises(TokenError):
        tokens.check_confirm(tokens.unsubscribe(result.subscriber_id, result.email))
    with pytest.raises(TokenError):
        tokens.check_preferences(tokens.unsubscribe(result.subscriber_id, result.email))


def test_unsubscribe_link_works_years_later(store: Store) -> None:
    subscriber_id = active_subscriber(store, "ana@example.org")
    key = settings_now()
    made_now = Tokens.from_settings(key)
    token = made_now.unsubscribe(subscriber_id, "ana@example.org")
    far_future = Tokens.from_settings(key, clock=lambda: time.time() + 30 * YEAR)
    claims = far_future.check_unsubscribe(token)
    assert claims.subscriber_id == subscriber_id
    assert claims.fits("ana@example.org")
    assert far_future.check_preferences(made_now.preferences(subscriber_id, "ana@example.org"))
    unsubscribe_by_token(store.engine, claims)
    unsubscribe_by_token(store.engine, claims)  # one-click twice: still unsubscribed, no error
    with Session(store.engine) as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        assert row.status == "unsubscribed"
        assert row.unsubscribed_at


def test_a_token_does_not_fit_a_new_owner_of_the_row(store: Store) -> None:
    tokens = Tokens.from_settings(settings_now())
    subscriber_id = active_subscriber(store, "ana@example.org")
    token = tokens.unsubscribe(subscriber_id, "someone-else@example.org")
    with pytest.raises(TokenError, match="no longer exists"):
        unsubscribe_by_token(store.engine, tokens.check_unsubscribe(token))


def test_unsubscribing_cancels_what_is_queued(store: Store) -> None:
    active_subscriber(store, "ana@example.org")
    seattle = council(store)
    seattle.members()
    ice_meeting(seattle)
    assert queue_digests(store.engine, settings_now()).queued == 1
    assert unsubscribe(store.engine, "ANA@example.org") is True
    assert unsubscribe(store.engine, "ana@example.org") is False
    with Session(store.engine) as session:
        assert [d.status for d in session.exec(select(Delivery))] == ["cancelled"]
    with pytest.raises(SubscriberError, match="no subscriber"):
        unsubscribe(store.engine, "nobody@example.org")
    rows = list_subscribers(store.engine)
    assert [(r.email, r.status) for r in rows] == [("ana@example.org", "unsubscribed")]


# -- the commands --------------------------------------------------------------------------------


def cli(database_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--database-url", database_url, *args])
    return result.exit_code, result.output


def test_subscribe_confirm_list_unsubscribe_commands(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    address = "ana.perez@example.org"
    caplog.set_level(logging.DEBUG)
    code, out = cli(
        sqlite_url,
        "subscribe",
        address,
        "--jurisdiction",
        "seattle",
        "--category",
        "287g",
        "--keyword",
        "Flock",
        "--frequency",
        "daily",
        "--language",
        "es",
    )
    assert code == 0, out
    assert "confirmation sent to a***@e***.org" in out
    assert address not in out
    # the confirmation went out through the files transport (the default)
    outbox = settings_now().resolved_outbox_dir
    [eml] = list(outbox.glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == address
    assert message["Subject"] == "Confirme sus alertas de ICE Council Tracker"
    body = message.get_body(("plain",))
    assert body is not None
    link = re.search(r"http://127\.0\.0\.1:8000/confirm/(\S+)", str(body.get_content()))
    assert link is not None
    # nothing but the confirmation goes to a pending address
    code, out = cli(sqlite_url, "subscribers", "list")
    assert address in out
    assert "pending" in out
    assert "es daily" in out
    code, out = cli(sqlite_url, "subscribers", "list", "--mask")
    assert address not in out
    assert "a***@e***.org" in out
    code, out = cli(sqlite_url, "subscribers", "confirm", link.group(0))
    assert (code, out.strip()) == (0, "confirmed a***@e***.org")
    code, out = cli(sqlite_url, "subscribers", "confirm", link.group(1)[:-2] + "xx")
    assert code == 1
    assert out.strip() == "ice-tracker: error: this confirmation link is not valid"
    code, out = cli(sqlite_url, "subscribers", "list", "--json")
    assert '"status": "active"' in out
    assert '"keywords": [\n        "Flock"' in out
    code, out = cli(sqlite_url, "unsubscribe", address)
    assert (code, out.strip()) == (0, "unsubscribed a***@e***.org")
    code, out = cli(sqlite_url, "unsubscribe", "who@example.org")
    assert code == 1
    assert out.strip() == "ice-tracker: error: no subscriber w***@e***.org"
    code, out = cli(sqlite_url, "subscribe", "not-an-address")
    assert code == 1
    assert out.startswith("ice-tracker: error: not a usable e-mail address")
    code, out = cli(sqlite_url, "subscribe", "x@example.org", "--jurisdiction", "atlantis")
    assert code == 1
    assert "no jurisdiction 'atlantis'" in out
    # the logs never saw the address
    assert all(address not in record.getMessage() for record in caplog.records)
    assert any("a***@e***.org" in record.getMessage() for record in caplog.records)


def test_a_replayed_confirmation_link_changes_nothing(store: Store) -> None:
    """Clicking the confirmation link again is harmless, and an old confirmation link cannot
    sign up again someone who has left."""
    tokens = Tokens.from_settings(settings_now())
    result = subscribe(store.engine, "ana@example.org", validate_filters(load_registry()))
    token = tokens.confirm(result.subscriber_id, result.email)
    first = confirm(store.engine, tokens.check_confirm(token))
    again = confirm(store.engine, tokens.check_confirm(token))
    assert (first.status, again.status) == ("active", "active")
    assert again.confirmed_at == first.confirmed_at
    unsubscribe(store.engine, "ana@example.org")
    with pytest.raises(TokenError, match="unsubscribed"):
        confirm(store.engine, tokens.check_confirm(token))
    with Session(store.engine) as session:
        row = session.get(Subscriber, result.subscriber_id)
        assert row is not None
        assert row.status == "unsubscribed"
