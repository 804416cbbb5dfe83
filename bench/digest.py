"""Digests at scale: render and queue for 10,000 subscribers, then deliver over SMTP.

    .venv/bin/python bench/digest.py [--subscribers 10000] [--smtp-messages 2000] [--json]

Everything runs on this machine: a fresh SQLite database in a temporary folder, council data
written through the store (so the change log is the real one), synthetic subscribers with
mixed places, categories, keywords, languages and frequencies, and a local SMTP server
(aiosmtpd on 127.0.0.1) that accepts and counts.

Figures, each beside a baseline measured in the same run:

* render + queue: wall time of ``queue_digests`` for every subscriber (targets: <= 10 s for
  10,000). Baselines: the floor (the same outbox rows and high-water marks written with
  nothing to render) and the naive way (each digest rendered on its own and composed with the
  stdlib's EmailMessage), timed on a sample and scaled up.
* delivery: messages per second from the outbox to the SMTP server through ``send_queued``
  (target >= 100/s). Baselines: bare smtplib on one connection (no outbox bookkeeping) and
  smtplib with a new connection per message (no connection reuse).
"""

from __future__ import annotations

import argparse
import json
import random
import smtplib
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from tracker.db import open_database
from tracker.digest import _ADVANCE_SENT, _QUEUE, Filters, Snapshot, queue_digests, renderer
from tracker.items import (
    ScrapedAgenda,
    ScrapedAgendaItem,
    ScrapedBody,
    ScrapedMeeting,
    ScrapedMembership,
    ScrapedPerson,
    ScrapedVote,
    ScrapedVoteEvent,
)
from tracker.mailer import SmtpTransport, send_queued
from tracker.models import Delivery, Subscriber, Subscription, VoteSource, VoteValue
from tracker.registry import load_registry
from tracker.relevance import classify_agenda_item
from tracker.settings import load_settings
from tracker.store import Store

PLACES = ["seattle", "boston", "denver", "king-county-wa", "nashville-davidson"]
ICE_TITLES = [
    "Resolution to terminate the 287(g) agreement between the Sheriff and ICE",
    "Intergovernmental service agreement with U.S. Immigration and Customs Enforcement for "
    "detention beds at the county jail",
    "Ordinance prohibiting the use of city resources for federal civil immigration enforcement",
    "Contract with Flock Safety for automated license plate readers; data sharing limits",
    "Policy on honoring ICE detainer requests at the county jail",
]
OTHER_TITLES = ["Park maintenance hours", "Street resurfacing contract", "Library budget"]
CATEGORIES = ["287g", "igsa_detention_contract", "sanctuary_welcoming_ordinance"]


def item(pid: str, title: str, number: str) -> ScrapedAgendaItem:
    raw = ScrapedAgendaItem(platform_id=pid, title=title, number=number)
    return raw.model_copy(update={"relevance": classify_agenda_item(raw)})


def seed_councils(store: Store, now: datetime) -> None:
    registry = load_registry()
    for n, slug in enumerate(PLACES):
        writer = store.writer(store.ensure_jurisdiction(registry.get(slug)), None)
        people = [f"Member {slug} {i}" for i in range(7)]
        batch: list[Any] = [ScrapedBody(platform_id="1", name="City Council")]
        for i, name in enumerate(people):
            batch.append(ScrapedPerson(platform_id=str(i), name=name, email=f"m{i}@{slug}.gov"))
            batch.append(
                ScrapedMembership(
                    platform_id=f"m{i}", person_platform_id=str(i), body_platform_id="1"
                )
            )
        for m in range(4):
            mid = f"{slug}-{m}"
            start = now + timedelta(days=1 + m * 3, hours=n)
            batch.append(
                ScrapedMeeting(
                    platform="legistar",
                    platform_id=mid,
                    body_platform_id="1",
                    body_name="City Council",
                    title="City Council",
                    start=start,
                    location="Council Chamber",
                    virtual_link=f"https://{slug}.example.gov/live",
                    source_url=f"https://{slug}.example.gov/m/{mid}",
                )
            )
            items = [item(f"{mid}-i{k}", t, str(k + 1)) for k, t in enumerate(OTHER_TITLES)]
            items.append(item(f"{mid}-ice", ICE_TITLES[(n + m) % len(ICE_TITLES)], "9"))
            batch.append(
                ScrapedAgenda(
                    meeting_platform="legistar",
                    meeting_platform_id=mid,
                    items=tuple(items),
                    complete=True,
                )
            )
        past = f"{slug}-past"
        batch.append(
            ScrapedMeeting(
                platform="legistar",
                platform_id=past,
                body_platform_id="1",
                body_name="City Council",
                title="City Council",
                start=now - timedelta(days=2),
            )
        )
        batch.append(
            ScrapedAgenda(
                meeting_platform="legistar",
                meeting_platform_id=past,
                items=(item(f"{past}-ice", ICE_TITLES[n % len(ICE_TITLES)], "3"),),
                complete=True,
            )
        )
        batch.append(
            ScrapedVoteEvent(
                meeting_platform="legistar",
                meeting_platform_id=past,
                item_platform_id=f"{past}-ice",
                platform_id="v1",
                source=VoteSource.API,
                motion="Adopt",
                result="passed",
                source_url=f"https://{slug}.example.gov/v/1",
                votes=tuple(
                    ScrapedVote(
                        person_platform_id=str(i),
                        name=name,
                        raw_value="Aye",
                        value=VoteValue.YES if i % 3 else VoteValue.NO,
                    )
                    for i, name in enumerate(people)
                ),
            )
        )
        writer.write(batch)


def seed_subscribers(engine: sa.Engine, count: int) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    subscribers = [
        {
            "email": f"reader{i}@example.org",
            "language": "es" if i % 2 else "en",
            "status": "active",
            "created_at": now,
            "confirmed_at": now,
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(Subscriber.__table__), subscribers)  # type: ignore[attr-defined]
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM subscriber ORDER BY id"))]
        subscriptions = []
        for sid in ids:
            places = rng.sample(PLACES, rng.choice([1, 1, 2, 3]))
            subscriptions.append(
                {
                    "subscriber_id": sid,
                    "frequency": rng.choice(["daily", "weekly", "immediate"]),
                    "jurisdictions": sorted(places),
                    "bodies": [],
                    "categories": rng.sample(CATEGORIES, 1) if rng.random() < 0.2 else [],
                    "keywords": ["Flock Safety"] if rng.random() < 0.1 else [],
                    "people": [],
                    "include_secondary": False,
                    "last_change_id": 0,
                    "created_at": now,
                }
            )
        conn.execute(sa.insert(Subscription.__table__), subscriptions)  # type: ignore[attr-defined]


def floor_writes(engine: sa.Engine, messages: list[bytes]) -> float:
    """The same outbox rows and mark updates, with the same statements, one transaction per
    subscriber, and nothing to build or render: what the database alone costs."""
    now = datetime.now(UTC)
    start = time.perf_counter()
    with engine.connect() as conn:
        for n, data in enumerate(messages):
            with conn.begin():
                conn.execute(
                    _QUEUE,
                    {
                        "subscriber_id": n + 1,
                        "subscription_id": n + 1,
                        "first_change_id": 1,
                        "last_change_id": 2,
                        "message_id": f"<{n}@floor>",
                        "subject": "x",
                        "urgent": False,
                        "status": "queued",
                        "attempts": 0,
                        "created_at": now,
                        "message": data,
                    },
                )
                conn.execute(_ADVANCE_SENT, {"sid": n + 1, "old": 0, "new": 2, "at": now})
    return time.perf_counter() - start


def naive_per_digest(engine: sa.Engine, settings: Any, sample: int) -> float:
    """Seconds per digest when each is rendered on its own and composed with EmailMessage."""
    registry = load_registry()
    now = datetime.now(UTC)
    with Session(engine) as session:
        rows = list(
            session.exec(
                select(Subscription, Subscriber)
                .join(Subscriber, Subscription.subscriber_id == Subscriber.id)  # type: ignore[arg-type]
                .limit(sample)
            )
        )
        newest = session.execute(sa.text("SELECT max(id) FROM change")).scalar_one()
    start = time.perf_counter()
    for subscription, subscriber in rows:
        snapshot = Snapshot(engine, after=0, upto=newest, now=now, registry=registry)
        digest = snapshot.digest(
            Filters.of(subscription, subscriber.language), after=0, upto=newest
        )
        if digest.empty:
            continue
        r = renderer(subscriber.language, settings.public_base_url)
        subject, text, html = r.digest_parts(digest)
        message = EmailMessage()
        message["From"] = settings.mail_from
        message["To"] = subscriber.email
        message["Subject"] = subject
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        message.as_bytes()
    return (time.perf_counter() - start) / max(len(rows), 1)


class Counter:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def smtp_baselines(port: int, messages: list[tuple[str, bytes]]) -> tuple[float, float]:
    """(messages/s on one connection, messages/s with a connection per message)."""
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for to, data in messages:
            smtp.sendmail("alerts@localhost", [to], data)
    reused = len(messages) / (time.perf_counter() - start)
    few = messages[: max(len(messages) // 4, 1)]
    start = time.perf_counter()
    for to, data in few:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.sendmail("alerts@localhost", [to], data)
    fresh = len(few) / (time.perf_counter() - start)
    return reused, fresh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--smtp-messages", type=int, default=2_000)
    parser.add_argument("--sample", type=int, default=300, help="for the naive baseline")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = load_settings({"data_dir": str(folder)}, env={})
        engine = open_database(f"sqlite:///{folder / 'bench.db'}")
        now = datetime.now(UTC)
        seed_councils(Store(engine), now)
        seed_subscribers(engine, args.subscribers)

        naive = naive_per_digest(engine, settings, args.sample)

        start = time.perf_counter()
        report = queue_digests(engine, settings, now=now)
        queue_seconds = time.perf_counter() - start

        with Session(engine) as session:
            rows = [d.message or b"" for d in session.exec(select(Delivery).limit(2_000))]
            sizes = [
                len(d) for d in session.execute(sa.text("SELECT message FROM delivery")).scalars()
            ]
        floor_engine = open_database(f"sqlite:///{folder / 'floor.db'}")
        seed_subscribers(floor_engine, len(rows))
        floor = floor_writes(floor_engine, rows) / max(len(rows), 1) * report.queued

        recorder = Counter()
        port = free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            with engine.begin() as conn:  # only this many go out; the rest wait in the outbox
                conn.execute(
                    sa.text("UPDATE delivery SET next_attempt_at = :later WHERE id > :n"),
                    {"later": datetime(2100, 1, 1), "n": args.smtp_messages},
                )
            transport = SmtpTransport("127.0.0.1", port, security="none", timeout=30)
            start = time.perf_counter()
            sent = send_queued(engine, settings, transport=transport)
            send_seconds = time.perf_counter() - start
            received = recorder.count
            with Session(engine) as session:
                sample = [
                    (str(s.email), bytes(d.message or b""))
                    for d, s in session.exec(
                        select(Delivery, Subscriber)
                        .join(Subscriber, Delivery.subscriber_id == Subscriber.id)  # type: ignore[arg-type]
                        .limit(args.smtp_messages)
                    )
                ]
            bare, fresh = smtp_baselines(port, sample)
        finally:
            controller.stop()

    rate = sent.sent / send_seconds if send_seconds else 0.0
    result = {
        "subscribers": args.subscribers,
        "digests_queued": report.queued,
        "digests_empty": report.empty,
        "queue_seconds": round(queue_seconds, 2),
        "queue_target_seconds": 10.0 * args.subscribers / 10_000,
        "digests_per_second": round(report.queued / queue_seconds, 1),
        "message_kb_mean": round(sum(sizes) / max(len(sizes), 1) / 1024, 1),
        "floor_seconds": round(floor, 2),
        "naive_seconds_extrapolated": round(naive * args.subscribers, 2),
        "naive_over_ours": round(naive * args.subscribers / queue_seconds, 1),
        "ours_over_floor": round(queue_seconds / floor, 2) if floor else None,
        "smtp_sent": sent.sent,
        "smtp_received": received,
        "smtp_connections": transport.connections,
        "smtp_messages_per_second": round(rate, 1),
        "smtp_target_per_second": 100.0,
        "bare_smtplib_one_connection_per_second": round(bare, 1),
        "smtplib_connection_per_message_per_second": round(fresh, 1),
        "ours_over_connection_per_message": round(rate / fresh, 2) if fresh else None,
        "ours_over_bare_smtplib": round(rate / bare, 2) if bare else None,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{report.queued:,} digests rendered and queued for {args.subscribers:,} subscribers "
            f"in {queue_seconds:.2f} s ({result['digests_per_second']:,}/s; target <= "
            f"{result['queue_target_seconds']:.0f} s); {report.empty} had nothing to send; "
            f"mean message {result['message_kb_mean']} KB"
        )
        print(
            f"  baselines: floor (outbox rows and marks only) {floor:.2f} s, ours "
            f"{result['ours_over_floor']}x the floor; naive (each rendered alone, stdlib MIME) "
            f"{naive * args.subscribers:.1f} s, {result['naive_over_ours']}x slower than ours"
        )
        print(
            f"{sent.sent:,} messages to the local SMTP server in {send_seconds:.2f} s: "
            f"{rate:,.0f} messages/s (target >= 100/s) over {transport.connections} "
            f"connection(s); the server counted {received:,}"
        )
        print(
            f"  baselines: bare smtplib on one connection {bare:,.0f}/s (ours "
            f"{result['ours_over_bare_smtplib']}x, the outbox bookkeeping); a connection per "
            f"message {fresh:,.0f}/s (ours {result['ours_over_connection_per_message']}x)"
        )
    ok = queue_seconds <= result["queue_target_seconds"] and rate >= 100 and received == sent.sent
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
