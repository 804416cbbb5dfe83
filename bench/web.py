"""The public pages with a million votes in the database: how fast does each kind answer?

    .venv/bin/python bench/web.py [--votes 1000000] [--database-url URL] [--requests 40] [--json]

Builds a synthetic database (bulk inserts; 20 places from the bundled registry, their bodies
and members, meetings over five years and the next two months, 20 items a meeting of which
about 2% are ICE items, a roll call on every item, documents with searchable pages, the
change log, statements), starts ``ice-tracker serve`` on 127.0.0.1 in its own process, and
times sequential GETs of every kind of page, calendar, feed and API page with httpx after a
warm-up, beside a baseline from the same run (the stylesheet, which the server answers
without the database). Target: p95 <= 100 ms for the pages. Without --database-url the
database is SQLite in a temporary folder; with a PostgreSQL URL, the schema there must be
empty.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import sqlalchemy as sa

from tracker.db import open_database
from tracker.models import (
    AgendaItem,
    Body,
    Change,
    Document,
    DocumentLink,
    DocumentPage,
    DocumentVersion,
    Jurisdiction,
    Matter,
    Meeting,
    Membership,
    Person,
    Statement,
    Vote,
    VoteEvent,
)
from tracker.registry import load_registry
from tracker.web_keys import meeting_key, person_key, url_key

ROOT = Path(__file__).resolve().parent.parent
PLACES = 20
MEMBERS = 10
ITEMS_PER_MEETING = 20
ICE_SHARE = 0.02
ICE_ITEMS = [
    (
        "An agreement with U.S. Immigration and Customs Enforcement under Section 287(g)",
        "287g",
        "expands",
        "287(g)",
        "program_287g",
    ),
    (
        "An ordinance limiting compliance with ICE detainer requests",
        "detainer_or_hold_policy",
        "limits",
        "ICE detainer",
        "detainer",
    ),
    (
        "An intergovernmental service agreement (IGSA) for the detention of ICE detainees",
        "igsa_detention_contract",
        "expands",
        "intergovernmental service agreement",
        "igsa",
    ),
    (
        "A welcoming city ordinance restricting cooperation with immigration enforcement",
        "sanctuary_welcoming_ordinance",
        "limits",
        "welcoming city",
        "welcoming",
    ),
]
OTHER = [
    "A resolution authorizing a contract for road resurfacing on {street}",
    "An ordinance amending the zoning code for parcels on {street}",
    "Appointment of a member to the Parks and Recreation Board",
    "A resolution approving the purchase of vehicles for the Department of Public Works",
    "An ordinance relating to short-term rental permits near {street}",
    "Proclamation recognizing the volunteers of the {street} neighborhood association",
]
STREETS = ["Main Street", "Oak Avenue", "5th Street", "Riverside Drive", "Elm Road", "Lake Shore"]
VALUES = ["yes"] * 8 + ["no", "absent", "abstain"]
BATCH = 20_000


def table(model: Any) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


ORDER = [
    Jurisdiction,
    Body,
    Person,
    Membership,
    Matter,
    Meeting,
    AgendaItem,
    VoteEvent,
    Vote,
    Document,
    DocumentVersion,
    DocumentPage,
    DocumentLink,
    Statement,
    Change,
]


class Loader:
    """Rows buffered per table and written in batches, parents before children (SQLite
    checks foreign keys)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, model: Any, **row: Any) -> int:
        name = table(model).name
        self.counts[name] += 1
        row.setdefault("id", self.counts[name])
        self.rows[name].append(row)
        if len(self.rows[name]) >= BATCH:
            self.flush()
        return int(row["id"])

    def flush(self) -> None:
        with self.engine.begin() as conn:
            for model in ORDER:
                rows = self.rows[table(model).name]
                if not rows:
                    continue
                keys = {k for row in rows for k in row}
                conn.execute(
                    sa.insert(table(model)), [{k: row.get(k) for k in keys} for row in rows]
                )
                rows.clear()


def build(engine: sa.Engine, votes_wanted: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    load = Loader(engine)
    entries = list(load_registry())[:PLACES]
    # About 3% of the meetings are still ahead and have no votes yet.
    meetings_per_place = max(round(votes_wanted * 1.04 / (PLACES * ITEMS_PER_MEETING * MEMBERS)), 1)
    sample: dict[str, list[str]] = defaultdict(list)
    change_time = now - timedelta(days=5 * 365)
    for entry in entries:
        jid = load.add(
            Jurisdiction,
            slug=entry.slug,
            name=entry.name,
            state=entry.state,
            kind=entry.kind,
            timezone=entry.timezone,
            platform=entry.platform,
        )
        bodies = [
            load.add(
                Body, jurisdiction_id=jid, platform_id=f"b{n}", name=name, kind=kind, active=True
            )
            for n, (name, kind) in enumerate(
                [
                    ("City Council", "council"),
                    ("Public Safety Committee", "committee"),
                    ("Budget Committee", "committee"),
                ]
            )
        ]
        people = []
        for n in range(MEMBERS):
            pid = load.add(
                Person,
                jurisdiction_id=jid,
                platform_id=f"p{n}",
                name=f"Member {n} {entry.name}",
                email=f"member{n}@council.example.gov",
                phone="555-0100",
                aliases=[],
                needs_review=False,
            )
            people.append(pid)
            load.add(
                Membership,
                person_id=pid,
                body_id=bodies[0],
                platform_id=f"m{n}",
                role="Chair" if n == 0 else None,
            )
            if n < 4:
                load.add(Membership, person_id=pid, body_id=bodies[1], platform_id=f"s{n}")
        sample["people"].append(
            f"/j/{entry.slug}/people/{person_key(f'p{rng.randrange(MEMBERS)}', '')}/"
        )
        sample["places"].append(f"/j/{entry.slug}/")
        sample["bodies"].append(f"/j/{entry.slug}/bodies/{url_key('b0')}/")
        for m in range(meetings_per_place):
            days = rng.uniform(-5 * 365, 60)
            start = (now + timedelta(days=days)).replace(minute=0)
            body = bodies[0] if m % 3 else bodies[1]
            mid = load.add(
                Meeting,
                jurisdiction_id=jid,
                body_id=body,
                platform="legistar",
                platform_id=str(m),
                title="Regular meeting",
                start=start,
                timezone=entry.timezone,
                location="Council Chamber, City Hall",
                virtual_link="https://council.example.gov/watch",
                status="scheduled" if days > 0 else "held",
                agenda_url=f"https://council.example.gov/{entry.slug}/{m}/agenda.pdf",
                minutes_url=None
                if days > 0
                else f"https://council.example.gov/{entry.slug}/{m}/minutes.pdf",
                source_url=f"https://council.example.gov/{entry.slug}/meetings/{m}",
                first_seen_at=change_time,
            )
            load.add(
                Change,
                jurisdiction_id=jid,
                kind="meeting_added",
                meeting_id=mid,
                observed_at=(start - timedelta(days=10)),
                details={},
            )
            doc = load.add(
                Document,
                jurisdiction_id=jid,
                url=f"https://council.example.gov/{entry.slug}/{m}/agenda.pdf",
                kind="agenda",
                name=f"Agenda {m}",
                versions=1,
                sha256=f"{mid:064x}",
                retrieved_at=start,
                needs_ocr=False,
            )
            version = load.add(
                DocumentVersion,
                document_id=doc,
                number=1,
                sha256=f"{mid:064x}",
                retrieved_at=start,
                content_type="application/pdf",
                bytes=1000,
                pages=1,
                needs_ocr=False,
                ocr_used=False,
                relevant=False,
                matches=[],
            )
            load.add(DocumentLink, document_id=doc, meeting_id=mid)
            texts = []
            ice_here = []
            for n in range(ITEMS_PER_MEETING):
                ice = rng.random() < ICE_SHARE
                street = rng.choice(STREETS)
                if ice:
                    title, category, direction, text, rule = rng.choice(ICE_ITEMS)
                    matches = [
                        {"start": 0, "end": len(text), "text": text, "rule": rule, "field": "title"}
                    ]
                else:
                    title, category, direction, matches = (
                        rng.choice(OTHER).format(street=street),
                        None,
                        None,
                        [],
                    )
                matter = None
                if n % 2 == 0:
                    matter = load.add(
                        Matter,
                        jurisdiction_id=jid,
                        platform_id=f"{m}-{n}",
                        file_number=f"RES {m}-{n}",
                        title=title,
                        relevant=ice,
                        category=category,
                        direction=direction,
                        matches=matches,
                        sponsors=[],
                    )
                item = load.add(
                    AgendaItem,
                    meeting_id=mid,
                    matter_id=matter,
                    platform_id=str(n),
                    sequence=n,
                    number=str(n + 1),
                    title=title,
                    consent=n < 5,
                    relevant=ice,
                    category=category,
                    direction=direction,
                    score=0.99 if ice else 0.01,
                    matches=matches,
                    secondary=[],
                    source_url=f"https://council.example.gov/i/{mid}/{n}",
                    action="Adopted" if days < 0 else None,
                    result="passed" if days < 0 else None,
                )
                texts.append(f"{n + 1}. {title}")
                load.add(
                    Change,
                    jurisdiction_id=jid,
                    kind="item_added",
                    meeting_id=mid,
                    agenda_item_id=item,
                    observed_at=(start - timedelta(days=7)),
                    details={},
                )
                if ice:
                    ice_here.append(item)
                if days < 0:
                    values = [rng.choice(VALUES) for _ in people]
                    event = load.add(
                        VoteEvent,
                        agenda_item_id=item,
                        platform_id=f"votes:{item}",
                        source="api",
                        motion="Adopt" if n % 7 else "Refer to committee",
                        action=None,
                        result="passed",
                        yes_count=values.count("yes"),
                        no_count=values.count("no"),
                        other_count=len(values) - values.count("yes") - values.count("no"),
                        source_url=f"https://council.example.gov/votes/{item}",
                    )
                    for pid, value in zip(people, values, strict=True):
                        load.add(
                            Vote,
                            vote_event_id=event,
                            person_id=pid,
                            raw_value=value,
                            value=value,
                            inferred=False,
                        )
                    load.add(
                        Change,
                        jurisdiction_id=jid,
                        kind="vote_recorded",
                        meeting_id=mid,
                        agenda_item_id=item,
                        vote_event_id=event,
                        observed_at=(start + timedelta(days=1)),
                        details={},
                    )
            load.add(DocumentPage, version_id=version, number=1, text="\n".join(texts))
            if ice_here and len(sample["meetings"]) < 60:
                sample["meetings"].append(
                    f"/j/{entry.slug}/meetings/{meeting_key('legistar', str(m))}/"
                )
            elif len(sample["plain_meetings"]) < 60 and rng.random() < 0.05:
                sample["plain_meetings"].append(
                    f"/j/{entry.slug}/meetings/{meeting_key('legistar', str(m))}/"
                )
            if m % 50 == 0:
                sample["matters"].append(f"/j/{entry.slug}/matters/{url_key(f'{m}-0')}/")
            for item in ice_here[:1]:
                if rng.random() < 0.3:
                    statement = load.add(
                        Statement,
                        person_id=rng.choice(people),
                        agenda_item_id=item,
                        stance=rng.choice(["support", "oppose", "concerned"]),
                        quote="We have to be careful about what this agreement allows.",
                        paraphrase=False,
                        source_url="https://news.example.org/story",
                        added_by="bench",
                        origin="manual",
                        confirmed=True,
                        fingerprint=f"{item:064x}",
                        created_at=now,
                    )
                    load.add(
                        Change,
                        jurisdiction_id=jid,
                        kind="statement_added",
                        meeting_id=mid,
                        agenda_item_id=item,
                        statement_id=statement,
                        observed_at=now,
                        details={},
                    )
    load.flush()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for model in ORDER:
                name = table(model).name
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                        f'(SELECT coalesce(max(id), 1) FROM "{name}"))'
                    )
                )
            conn.execute(sa.text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    sample["search"] = [
        "/search/?q=Immigration",
        "/search/?q=%22road+resurfacing%22",
        "/search/?q=detainer&j=" + entries[0].slug,
    ]
    return {"counts": dict(load.counts), "sample": dict(sample)}


def serve(database_url: str, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TRACKER_DATA_DIR": str(data_dir),
        "TRACKER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracker",
            "--database-url",
            database_url,
            "serve",
            "--port",
            str(port),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/method/", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(base: str, sample: dict[str, list[str]], requests: int) -> dict[str, dict[str, float]]:
    kinds = {
        # the baseline: the same server answering without the database
        "baseline (site.css)": ["/static/site.css"],
        "home": ["/", "/es/"],
        "place": sample["places"],
        "body": sample["bodies"],
        "meeting (ICE)": sample["meetings"],
        "meeting": sample["plain_meetings"],
        "person": sample["people"],
        "matter": sample["matters"],
        "search": sample["search"],
        "method": ["/method/"],
        "calendar (place)": [p + "calendar.ics" for p in sample["places"]],
        "atom (place)": [p + "feed.atom" for p in sample["places"]],
        "calendar (person)": [p + "calendar.ics" for p in sample["people"]],
        "atom (person)": [p + "feed.atom" for p in sample["people"]],
        "api votes": ["/api/v1/votes?limit=100", "/api/v1/votes?relevant=true&limit=100"],
    }
    results: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for kind, paths in kinds.items():
            for path in paths[:3]:  # warm-up: connections, caches, the first query plans
                client.get(path)
            times = []
            for n in range(requests):
                path = paths[n % len(paths)]
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code}")
            times.sort()
            results[kind] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[max(int(len(times) * 0.95) - 1, 0)], 1),
                "max_ms": round(times[-1], 1),
                "n": len(times),
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="Keep the SQLite database folder.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-web-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    engine = open_database(url)
    started = time.monotonic()
    built = build(engine, args.votes)
    build_seconds = time.monotonic() - started
    engine.dispose()
    port = free_port()
    process = serve(url, port, folder / "data")
    try:
        results = measure(f"http://127.0.0.1:{port}", built["sample"], args.requests)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if not args.keep and not args.database_url:
            shutil.rmtree(folder, ignore_errors=True)
    pages = [k for k in results if not k.startswith(("calendar", "atom", "api", "baseline"))]
    baseline = results["baseline (site.css)"]["p95_ms"] or 0.1
    for r in results.values():
        r["p95_vs_baseline"] = round(r["p95_ms"] / baseline, 1)
    report = {
        "database": engine.dialect.name,
        "rows": built["counts"],
        "build_seconds": round(build_seconds, 1),
        "results": results,
        "pages_p95_ms": max(results[k]["p95_ms"] for k in pages),
        "target_ms": 100,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{engine.dialect.name}: {report['rows'].get('vote', 0):,} votes, "
        f"{report['rows'].get('agenda_item', 0):,} items, "
        f"{report['rows'].get('meeting', 0):,} meetings (built in {build_seconds:.0f} s); "
        "baseline: the stylesheet, answered without the database"
    )
    for kind, r in results.items():
        print(
            f"  {kind:<18} p50 {r['p50_ms']:>7.1f} ms   p95 {r['p95_ms']:>7.1f} ms   "
            f"max {r['max_ms']:>7.1f} ms   p95 {r['p95_vs_baseline']:>6.1f}x baseline"
        )
    verdict = "ok" if report["pages_p95_ms"] <= 100 else "OVER TARGET"
    print(f"worst page p95: {report['pages_p95_ms']} ms (target 100 ms): {verdict}")


if __name__ == "__main__":
    main()
