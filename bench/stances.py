"""Suggested statements against labelled stance passages, and a member-history timing.

    .venv/bin/python bench/stances.py [--corpus PATH] [--errors] [--json]
    .venv/bin/python bench/stances.py --history [--votes 1000000] [--database-url URL]

Accuracy. The corpus is JSON Lines in the format of tests/data/corpus/stances.dev.jsonl:
``text``, ``topic`` (the item the stances are about) and ``expected`` [{person, stance,
quote_span}]. The suggester sees the text and the topic, as ``ice-tracker statement suggest
--topic`` does. A suggested (person, stance) pair is right when the label has that person
(matched by name: titles, case, initials, a surname alone when the other side has only a
surname) with that stance. Precision counts every pair suggested; recall every labelled
pair. Every quote must be an exact substring of the passage.

Timing (``--history``). A synthetic database of N votes (default one million) on SQLite (a
file in a temporary folder) or the PostgreSQL at ``--database-url``: 200 jurisdictions of 10
members, 10 votes per vote event, 1 item in 20 about ICE. It times
``tracker.stances.person_history`` for random members and prints p50 and p95.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.names import normalize_name
from tracker.suggest import suggest

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "tests/data/corpus/stances.dev.jsonl"


def same_person(a: str, b: str) -> bool:
    x, y = normalize_name(a).split(), normalize_name(b).split()
    if not x or not y:
        return False
    if x == y:
        return True
    if x[-1] != y[-1]:
        return False
    # A surname alone on either side, or first names that agree on the initial.
    return len(x) == 1 or len(y) == 1 or x[0][0] == y[0][0]


@dataclass
class Score:
    expected: int = 0
    suggested: int = 0
    correct: int = 0
    quotes_ok: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.suggested if self.suggested else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.expected if self.expected else 1.0


def score(path: Path) -> Score:
    result = Score()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        text = record["text"]
        expected = [(e["person"], e["stance"]) for e in record["expected"]]
        result.expected += len(expected)
        unmatched = list(expected)
        for s in suggest(text, topic=record.get("topic")):
            result.suggested += 1
            if text[s.start : s.end] == s.quote and s.quote in text:
                result.quotes_ok += 1
            hit = next((e for e in unmatched if same_person(e[0], s.person)), None)
            if hit is not None and hit[1] == s.stance:
                result.correct += 1
                unmatched.remove(hit)
            else:
                want = hit[1] if hit else "no stance"
                result.errors.append(
                    f"{record['id']}: {s.person} {s.stance} ({s.rule}), label {want}: {s.quote!r}"
                )
        for person, stance in unmatched:
            if not any(e.startswith(f"{record['id']}: {person} ") for e in result.errors):
                result.errors.append(f"{record['id']}: missed {person} {stance}")
    return result


# --- history timing ----------------------------------------------------------------------


def build_synthetic(url: str, votes: int, seed: int = 7) -> list[tuple[str, str]]:
    """Fill a fresh database; returns (jurisdiction slug, person name) of every member."""
    import sqlalchemy as sa

    from tracker.db import open_database
    from tracker.models import (
        AgendaItem,
        Body,
        Jurisdiction,
        Meeting,
        Person,
        Vote,
        VoteEvent,
    )

    rng = random.Random(seed)
    engine = open_database(url)
    places, members, per_event = 200, 10, 10
    events = votes // per_event
    events_per_place = events // places
    people: list[tuple[str, str]] = []
    start = datetime(2015, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:

        def insert(model: type, rows: list[dict[str, object]]) -> None:
            if rows:
                conn.execute(sa.insert(model.__table__), rows)  # type: ignore[attr-defined]

        insert(
            Jurisdiction,
            [
                {
                    "id": j + 1,
                    "slug": f"place-{j}",
                    "name": f"Place {j}",
                    "state": "ZZ",
                    "kind": "city",
                    "timezone": "America/Chicago",
                    "platform": "synthetic",
                }
                for j in range(places)
            ],
        )
        insert(
            Body,
            [
                {"id": j + 1, "jurisdiction_id": j + 1, "platform_id": "council", "name": "Council"}
                for j in range(places)
            ],
        )
        person_rows = []
        for j in range(places):
            for m in range(members):
                name = f"Member{m} Place{j}"
                person_rows.append(
                    {
                        "id": j * members + m + 1,
                        "jurisdiction_id": j + 1,
                        "platform_id": f"p{m}",
                        "name": name,
                        "aliases": [],
                        "needs_review": False,
                    }
                )
                people.append((f"place-{j}", name))
        insert(Person, person_rows)
        item_id = event_id = vote_id = 0
        values = ["yes"] * 7 + ["no", "abstain", "absent"]
        for j in range(places):
            meetings, items, vote_events, vote_rows = [], [], [], []
            for e in range(events_per_place):
                meeting_id = j * events_per_place + e + 1
                meetings.append(
                    {
                        "id": meeting_id,
                        "jurisdiction_id": j + 1,
                        "body_id": j + 1,
                        "platform": "synthetic",
                        "platform_id": str(e),
                        "start": start + timedelta(days=e),
                        "timezone": "America/Chicago",
                        "status": "held",
                        "first_seen_at": start,
                    }
                )
                item_id += 1
                relevant = rng.random() < 0.05
                items.append(
                    {
                        "id": item_id,
                        "meeting_id": meeting_id,
                        "platform_id": "1",
                        "sequence": 1,
                        "number": "1",
                        "title": "An ordinance about a 287(g) agreement" if relevant else "Roads",
                        "action": rng.choice(["Adopted", "Referred to committee"]),
                        "consent": False,
                        "relevant": relevant,
                        "direction": rng.choice(["expands", "limits"]) if relevant else None,
                        "matches": [],
                        "secondary": [],
                    }
                )
                event_id += 1
                vote_events.append(
                    {
                        "id": event_id,
                        "agenda_item_id": item_id,
                        "platform_id": "v",
                        "source": "api",
                        "result": "passed",
                        "yes_count": 7,
                        "no_count": 1,
                        "other_count": 2,
                        "source_url": f"https://example.org/{event_id}",
                    }
                )
                for m in range(members):
                    vote_id += 1
                    value = rng.choice(values)
                    vote_rows.append(
                        {
                            "id": vote_id,
                            "vote_event_id": event_id,
                            "person_id": j * members + m + 1,
                            "raw_value": value,
                            "value": value,
                            "inferred": False,
                        }
                    )
            insert(Meeting, meetings)
            insert(AgendaItem, items)
            insert(VoteEvent, vote_events)
            insert(Vote, vote_rows)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    return people


def time_history(url: str, people: list[tuple[str, str]], runs: int = 200) -> list[float]:
    from tracker.db import open_database
    from tracker.stances import person_history

    engine = open_database(url)
    rng = random.Random(11)
    timings = []
    for slug, name in rng.sample(people, min(runs, len(people))):
        began = time.perf_counter()
        history = person_history(engine, name, slug)
        timings.append((time.perf_counter() - began) * 1000)
        assert history.votes, name
    engine.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--errors", action="store_true", help="List every miss.")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--history", action="store_true", help="Time member histories.")
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="An empty database (default: SQLite, temporary)")
    args = parser.parse_args()
    if args.history:
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
            began = time.perf_counter()
            people = build_synthetic(url, args.votes)
            built = time.perf_counter() - began
            timings = time_history(url, people)
        p95 = statistics.quantiles(timings, n=20)[-1]
        figures = {
            "database": url.split(":", 1)[0],
            "votes": args.votes,
            "build_s": round(built, 1),
            "p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(p95, 2),
        }
        print(json.dumps(figures) if args.json else figures)
        return
    result = score(args.corpus)
    figures = {
        "corpus": args.corpus.name,
        "expected": result.expected,
        "suggested": result.suggested,
        "correct": result.correct,
        "precision": round(result.precision, 3),
        "recall": round(result.recall, 3),
        "quotes_exact": f"{result.quotes_ok}/{result.suggested}",
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>12}: {value}")
    if args.errors:
        for error in result.errors:
            print("  " + error)


if __name__ == "__main__":
    main()
