"""``ice-tracker demo``: the whole main job, offline, on the bundled recorded council data.

It replays the bundled WARC archives (tracker/data/archives/demo.toml) over HTTP on 127.0.0.1
into a fresh SQLite database in the output folder, exactly as a live crawl would, and writes
what users take away: exports for reporters and a readable vote history.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from itertools import groupby
from pathlib import Path

from tracker.crawl import CrawlOptions, run_crawls
from tracker.db import open_database
from tracker.digest import write_demo_digests
from tracker.exceptions import ConfigError
from tracker.exports import write_rows
from tracker.history import (
    BodyMembers,
    ItemRow,
    MeetingRow,
    VoteRow,
    body_members,
    item_rows,
    jurisdiction_status,
    meeting_rows,
    vote_rows,
)
from tracker.registry import load_registry
from tracker.relevance import RelevanceStage
from tracker.render import render
from tracker.settings import load_settings
from tracker.stances import load_demo_statements
from tracker.store import RunSummary

ARCHIVES_DIR = Path(__file__).parent / "data" / "archives"
MANIFEST = ARCHIVES_DIR / "demo.toml"


@dataclass(frozen=True)
class DemoArchive:
    path: Path
    jurisdiction: str
    start: datetime
    end: datetime
    note: str


@dataclass(frozen=True)
class DemoResult:
    outdir: Path
    runs: list[RunSummary]
    files: list[Path]
    meetings: int
    items: int
    relevant_items: list[ItemRow]
    votes: int
    bodies: list[BodyMembers]


def _day(value: object) -> datetime:
    return datetime.combine(
        datetime.strptime(str(value), "%Y-%m-%d").date(), time(0, 0), tzinfo=UTC
    )


def demo_archives() -> list[DemoArchive]:
    data = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))
    return [
        DemoArchive(
            ARCHIVES_DIR / a["file"],
            a["jurisdiction"],
            _day(a["from"]),
            _day(a["to"]),
            a.get("note", ""),
        )
        for a in data["archive"]
    ]


def _fresh_database(outdir: Path) -> Path:
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {outdir}: {exc.strerror}") from None
    database = outdir / "tracker.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    return database


def run_demo(outdir: Path, *, say: Callable[[str], None] = print) -> DemoResult:
    archives = demo_archives()
    database = _fresh_database(outdir)
    settings = load_settings(
        {"data_dir": str(outdir), "database_url": f"sqlite:///{database}", "archive": False}
    )
    registry = load_registry()
    entries = list({a.jurisdiction: registry.get(a.jurisdiction) for a in archives}.values())
    window = (min(a.start for a in archives), max(a.end for a in archives))
    for archive in archives:
        say(f"replaying {archive.path.name}: {archive.note}")
    runs = run_crawls(
        entries,
        settings,
        CrawlOptions(full=True, window=window, replay=[a.path for a in archives], progress=False),
        classifier=RelevanceStage(),
    )
    engine = open_database(settings.resolved_database_url)
    # What members said, from public coverage, beside their votes (tracker/data/statements).
    statements = load_demo_statements(engine)
    say(f"loaded {statements} statements from public coverage")
    files: list[Path] = [database]
    outputs: list[tuple[str, type, object]] = [
        ("meetings.csv", MeetingRow, lambda: meeting_rows(engine)),
        ("items.csv", ItemRow, lambda: item_rows(engine)),
        ("ice-items.csv", ItemRow, lambda: item_rows(engine, relevant=True)),
        ("votes.csv", VoteRow, lambda: vote_rows(engine)),
        ("votes.jsonl", VoteRow, lambda: vote_rows(engine)),
    ]
    for name, row_type, rows in outputs:
        path = outdir / name
        with path.open("w", encoding="utf-8", newline="") as out:
            write_rows(rows(), row_type, name.rsplit(".", 1)[1], out)  # type: ignore[operator]
        files.append(path)
    votes = list(vote_rows(engine))
    relevant = list(item_rows(engine, relevant=True))
    history = outdir / "vote-history.html"
    bodies = body_members(engine)
    history.write_text(
        render(
            "vote_history.html",
            groups=_group_votes(votes),
            relevant_items=relevant,
            runs=runs,
            archives=archives,
            bodies=bodies,
        ),
        encoding="utf-8",
    )
    files.append(history)
    files += write_demo_digests(engine, outdir, say=say)
    status = jurisdiction_status(engine)
    engine.dispose()
    return DemoResult(
        outdir=outdir,
        runs=runs,
        files=files,
        meetings=sum(s.meetings for s in status),
        items=sum(s.items for s in status),
        relevant_items=relevant,
        votes=len(votes),
        bodies=bodies,
    )


@dataclass(frozen=True)
class VoteGroup:
    """One vote on one item, with every member's vote."""

    jurisdiction: str
    body: str | None
    meeting_start: str | None
    timezone: str
    item_number: str | None
    matter_file: str | None
    title: str
    relevant: bool
    category: str | None
    direction: str | None
    motion: str | None
    result: str | None
    source_url: str | None
    meeting_url: str | None
    votes: list[VoteRow]


def _group_votes(rows: list[VoteRow]) -> list[VoteGroup]:
    groups: list[VoteGroup] = []

    def key(r: VoteRow) -> tuple[object, ...]:
        return (r.jurisdiction, r.meeting_start, r.body, r.title, r.motion, r.source_url)

    for _, members in groupby(rows, key=key):
        people = list(members)
        first = people[0]
        groups.append(
            VoteGroup(
                jurisdiction=first.jurisdiction,
                body=first.body,
                meeting_start=first.meeting_start,
                timezone=first.timezone,
                item_number=first.item_number,
                matter_file=first.matter_file,
                title=first.title,
                relevant=first.relevant,
                category=first.category,
                direction=first.direction,
                motion=first.motion,
                result=first.result,
                source_url=first.source_url,
                meeting_url=first.meeting_url,
                votes=people,
            )
        )
    return groups
