"""Subscribe, confirm, preferences and unsubscribe over real HTTP, with the e-mails caught by a
real SMTP server (aiosmtpd on 127.0.0.1): CSRF, rate limits, RFC 8058 one-click, and that no
address reaches a log."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select
from test_digest_fixtures import SmtpServer, running_smtp_server
from test_web_fixtures import demo_sqlite, live_site

from tracker.models import Delivery, Subscriber, Subscription
from tracker.settings import load_settings
from tracker.tokens import Tokens
from tracker.web import RedactTokens
from tracker.web_forms import Limits, RateLimiter

ADDRESS = "Rosa.Marquez@Example.org"
STORED = "rosa.marquez@example.org"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from running_smtp_server()


def smtp_settings(server: SmtpServer) -> dict[str, str]:
    return {
        "mail_transport": "smtp",
        "smtp_host": server.host,
        "smtp_port": str(server.port),
        "smtp_security": "none",
    }


@pytest.fixture
def site(tmp_path: Path, smtp: SmtpServer) -> Iterator[tuple[str, object, SmtpServer]]:
    with live_site(demo_sqlite(tmp_path / "db"), env=smtp_settings(smtp)) as (base, engine):
        yield base, engine, smtp


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def sign_up(client: httpx.Client, **fields: object) -> httpx.Response:
    form = client.get("/subscribe/")
    assert form.status_code == 200
    data = {"csrf_token": csrf_of(form.text), "email": ADDRESS, **fields}
    return client.post("/subscribe/", data=data)


def link_in(message: EmailMessage, kind: str) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(rf"https?://\S+/{kind}/[A-Za-z0-9_.-]+", body.get_content())
    assert found, body.get_content()
    return found.group(0)


def test_sign_up_confirm_change_and_leave(site: tuple[str, object, SmtpServer]) -> None:
    base, engine, smtp = site
    with httpx.Client(base_url=base, timeout=30) as client:
        response = sign_up(
            client,
            jurisdictions=["seattle", "birmingham-al"],
            categories=["287g"],
            frequency="daily",
            language="es",
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/subscribe/sent/"
        assert "Check your inbox" in client.get("/subscribe/sent/").text
    [message] = smtp.recorder.to(STORED)
    assert message["Content-Language"] == "es"
    confirm = link_in(message, "confirm")
    assert confirm.startswith(base + "/confirm/")  # the shape e-mails have always used
    with httpx.Client(timeout=30) as client:
        page = client.get(confirm)  # a link scanner's GET confirms nothing
        assert page.status_code == 200
        assert 'lang="es"' in page.text
        with Session(engine) as session:  # type: ignore[arg-type]
            assert session.exec(select(Subscriber)).one().status == "pending"
        done = client.post(confirm, data={"csrf_token": csrf_of(page.text)})
        assert done.status_code == 200, done.text
        assert "preferences/" in done.text
    with Session(engine) as session:  # type: ignore[arg-type]
        subscriber = session.exec(select(Subscriber)).one()
        assert subscriber.status == "active"
        assert subscriber.language == "es"
        subscription = session.exec(select(Subscription)).one()
        assert subscription.jurisdictions == ["seattle", "birmingham-al"]
        assert subscription.categories == ["287g"]
        assert subscription.frequency == "daily"
        assert subscriber.id is not None
    tokens = Tokens.from_settings(load_settings())
    preferences = f"{base}/preferences/{tokens.preferences(subscriber.id, STORED)}"
    with httpx.Client(timeout=30) as client:
        page = client.get(preferences)
        assert page.status_code == 200
        assert "checked" in page.text
        saved = client.post(
            preferences,
            data={
                "csrf_token": csrf_of(page.text),
                "jurisdictions": ["seattle"],
                "frequency": "weekly",
                "language": "en",
                "keywords": "Northwest Detention Center\n\n",
            },
        )
        assert saved.status_code == 303
        assert saved.headers["location"].endswith("?saved=1")
    with Session(engine) as session:  # type: ignore[arg-type]
        subscription = session.exec(select(Subscription)).one()
        assert subscription.jurisdictions == ["seattle"]
        assert subscription.categories == []
        assert subscription.keywords == ["Northwest Detention Center"]
        assert session.exec(select(Subscriber)).one().language == "en"
    unsubscribe = f"{base}/unsubscribe/{tokens.unsubscribe(subscriber.id, STORED)}"
    page = httpx.get(unsubscribe)
    assert page.status_code == 200
    assert "<form" in page.text
    with Session(engine) as session:  # type: ignore[arg-type]
        assert session.exec(select(Subscriber)).one().status == "active"


def test_one_click_unsubscribe_needs_nothing_but_the_link(
    site: tuple[str, object, SmtpServer],
) -> None:
    """RFC 8058: the mail provider POSTs List-Unsubscribe=One-Click, without cookies or CSRF
    token, to the exact address in the header; queued digests are cancelled."""
    base, engine, _ = site
    with httpx.Client(base_url=base, timeout=30) as client:
        assert sign_up(client).status_code == 303
    with Session(engine) as session:  # type: ignore[arg-type]
        subscriber = session.exec(select(Subscriber)).one()
        subscriber.status = "active"
        assert subscriber.id is not None
        session.add(
            Delivery(
                subscriber_id=subscriber.id,
                first_change_id=1,
                last_change_id=2,
                message_id="<x@example.org>",
            )
        )
        session.commit()
        sid = subscriber.id
    token = Tokens.from_settings(load_settings()).unsubscribe(sid, STORED)
    response = httpx.post(
        f"{base}/unsubscribe/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    again = httpx.post(f"{base}/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
    assert again.status_code == 200  # idempotent
    with Session(engine) as session:  # type: ignore[arg-type]
        assert session.exec(select(Subscriber)).one().status == "unsubscribed"
        assert session.exec(select(Delivery)).one().status == "cancelled"
    assert httpx.post(f"{base}/unsubscribe/{token[:-3]}xyz").status_code == 400


def test_forms_refuse_posts_without_a_matching_csrf_token(
    site: tuple[str, object, SmtpServer],
) -> None:
    base, engine, smtp = site
    with httpx.Client(base_url=base, timeout=30) as client:
        token = csrf_of(client.get("/subscribe/").text)
        assert client.post("/subscribe/", data={"email": ADDRESS}).status_code == 400
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert (
            client.post("/subscribe/", data={"email": ADDRESS, "csrf_token": forged}).status_code
            == 400
        )
    with httpx.Client(base_url=base, timeout=30) as other:  # another visitor's cookie
        other.get("/subscribe/")
        refused = other.post("/subscribe/", data={"email": ADDRESS, "csrf_token": token})
        assert refused.status_code == 400
        assert "This form has expired" in refused.text
    with Session(engine) as session:  # type: ignore[arg-type]
        assert session.exec(select(Subscriber)).first() is None
    assert not smtp.recorder.messages


def test_signing_up_a_confirmed_address_changes_nothing(
    site: tuple[str, object, SmtpServer],
) -> None:
    """Otherwise anyone could change someone else's alerts by typing their address."""
    base, engine, smtp = site
    with httpx.Client(base_url=base, timeout=30) as client:
        sign_up(client, jurisdictions=["seattle"])
    with Session(engine) as session:  # type: ignore[arg-type]
        subscriber = session.exec(select(Subscriber)).one()
        subscriber.status = "active"
        session.add(subscriber)
        session.commit()
    with httpx.Client(base_url=base, timeout=30) as client:
        response = sign_up(client, jurisdictions=["birmingham-al"], frequency="immediate")
        assert response.status_code == 303  # the same answer as for a new address
    with Session(engine) as session:  # type: ignore[arg-type]
        subscription = session.exec(select(Subscription)).one()
        assert subscription.jurisdictions == ["seattle"]
        assert subscription.frequency == "weekly"
    second = smtp.recorder.to(STORED)[-1]
    assert "already subscribed" in str(second.get_body(preferencelist=("plain",)).get_content())
    assert link_in(second, "preferences")
    assert link_in(second, "unsubscribe")


def test_bad_addresses_and_choices_are_explained(site: tuple[str, object, SmtpServer]) -> None:
    base, _, smtp = site
    with httpx.Client(base_url=base, timeout=30) as client:
        bad = sign_up(client, email="not an address")
        assert bad.status_code == 400
        assert "does not look like an e-mail address" in bad.text
        odd = sign_up(client, jurisdictions=["atlantis"])
        assert odd.status_code == 400
        assert "not available" in odd.text
        spanish = client.get("/es/subscribe/")
        assert 'lang="es"' in spanish.text
    assert not smtp.recorder.messages


def test_rate_limits_per_ip_and_per_address(tmp_path: Path, smtp: SmtpServer) -> None:
    limits = Limits(subscribe_per_ip=(3, 3600), subscribe_per_address=(2, 3600))
    with (
        live_site(demo_sqlite(tmp_path), env=smtp_settings(smtp), limits=limits) as (base, _),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        assert sign_up(client).status_code == 303
        assert sign_up(client).status_code == 303
        limited = sign_up(client)  # the third message to the same address
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        limited = sign_up(client, email="someone.else@example.org")  # the fourth from this IP
        assert limited.status_code == 429
    assert len(smtp.recorder.to(STORED)) == 2


def test_e_mail_links_work_with_or_without_a_slash(site: tuple[str, object, SmtpServer]) -> None:
    base, _, _ = site
    with httpx.Client(base_url=base, timeout=30) as client:
        sign_up(client)
    tokens = Tokens.from_settings(load_settings())
    for path in (
        f"/preferences/{tokens.preferences(1, STORED)}",
        f"/unsubscribe/{tokens.unsubscribe(1, STORED)}",
        f"/confirm/{tokens.confirm(1, STORED)}",
    ):
        for suffix in ("", "/"):
            response = httpx.get(base + path + suffix)
            assert response.status_code == 200, (path, response.text[:300])
            assert response.headers["cache-control"] == "no-store"
    assert httpx.get(f"{base}/preferences/1.abc.def").status_code == 400
    assert "no es válido" in httpx.get(f"{base}/es/preferences/1.abc.def").text


def test_addresses_never_reach_the_logs(
    site: tuple[str, object, SmtpServer], caplog: pytest.LogCaptureFixture
) -> None:
    base, _, _ = site
    caplog.set_level(logging.DEBUG)
    with httpx.Client(base_url=base, timeout=30) as client:
        sign_up(client)
    # Every log but the stand-in mail server's (aiosmtpd logs each RCPT TO it receives).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "mail.log")
    assert "r***@e***.org" in logged
    assert STORED not in logged.lower()
    assert "marquez" not in logged.lower()


def test_access_logs_lose_the_link_tokens() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/unsubscribe/12.abcdef0123456789.sig-nature", "1.1", 200),
        None,
    )
    assert RedactTokens().filter(record)
    assert "abcdef" not in record.getMessage()
    assert "/unsubscribe/[token]" in record.getMessage()


def test_rate_limiter_slides() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 10.0, clock=lambda: now[0], max_keys=3)
    assert limiter.hit("a") is None
    assert limiter.hit("a") is None
    assert limiter.hit("a") == 10.0
    now[0] = 10.5
    assert limiter.hit("a") is None
    for key in "bcdef":  # old keys are forgotten, memory stays bounded
        limiter.hit(key)
    assert len(limiter._hits) <= 3


def test_link_pages_speak_the_subscribers_language_until_switched(
    site: tuple[str, object, SmtpServer],
) -> None:
    base, _, _ = site
    with httpx.Client(base_url=base, timeout=30) as client:
        sign_up(client, language="es")
    token = Tokens.from_settings(load_settings()).preferences(1, STORED)
    spanish = httpx.get(f"{base}/preferences/{token}")
    assert 'lang="es"' in spanish.text
    switch = re.search(r'<a href="([^"]+)" hreflang="en"', spanish.text)
    assert switch
    assert switch.group(1).endswith("?lang=en")
    english = httpx.get(base + switch.group(1).replace("&amp;", "&"))
    assert 'lang="en"' in english.text
    assert "Your alert preferences" in english.text
