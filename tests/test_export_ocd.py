"""`export votes --format ocd`: Open Civic Data VoteEvents with every field the schema has."""

from __future__ import annotations

import csv
import io
import json
import re

from conftest import run_tracker
from test_stances import build_council

from tracker.stances import ocd_vote_events

# The properties of pupa's VoteEvent schema (pupa/scrape/schemas/vote_event.py), all emitted.
EVENT_FIELDS = {
    "identifier",
    "motion_text",
    "motion_classification",
    "start_date",
    "end_date",
    "result",
    "organization",
    "legislative_session",
    "bill",
    "bill_action",
    "votes",
    "counts",
    "sources",
    "extras",
    "pupa_id",
}
VOTE_OPTIONS = {"yes", "no", "absent", "abstain", "not voting", "paired", "excused", "other"}
FUZZY_DATETIME = re.compile(
    r"^([0-9]{4}((-[0-9]{2}){0,2}|(-[0-9]{2}){2}T[0-9]{2}(:[0-9]{2}){0,2}"
    r"(Z|[+-][0-9]{2}(:[0-9]{2})?))?)?$"
)


def test_ocd_vote_events_carry_every_schema_field(database_url: str) -> None:
    engine = build_council(database_url)
    events = list(ocd_vote_events(engine))
    assert len(events) == 4
    for event in events:
        assert set(event) == EVENT_FIELDS
        assert event["identifier"]
        assert event["motion_text"]
        assert event["motion_classification"]
        assert all(event["motion_classification"])
        assert FUZZY_DATETIME.match(event["start_date"])
        assert event["start_date"]
        assert FUZZY_DATETIME.match(event["end_date"])
        assert event["result"] in {"pass", "fail"}
        assert event["organization"]
        assert event["legislative_session"] == "2024"
        assert event["votes"], event
        for vote in event["votes"]:
            assert set(vote) == {"option", "voter_name", "voter_id", "note"}
            assert vote["option"] in VOTE_OPTIONS
            assert vote["voter_name"]
            assert vote["voter_id"]
        counts = {c["option"]: c["value"] for c in event["counts"]}
        assert sum(counts.values()) == len(event["votes"])
        assert all(c["option"] in VOTE_OPTIONS and c["value"] >= 0 for c in event["counts"])
        assert len(event["sources"]) >= 1
        assert all(s["url"].startswith("https://") for s in event["sources"])
    by_item = {e["extras"]["item_number"]: e for e in events}
    council = by_item["5"]
    assert council["bill"] == "Ord 24-17"
    assert council["motion_classification"] == ["passage"]
    assert council["extras"]["document_sha256"] == "ab" * 32
    assert "ab" * 32 in council["sources"][0]["note"]
    assert {c["option"]: c["value"] for c in council["counts"]} == {"yes": 2, "absent": 1}
    assert by_item["7"]["motion_classification"] == ["committee-referral"]
    assert by_item["7"]["extras"]["procedural"] is True


def test_export_command_formats(sqlite_url: str) -> None:
    build_council(sqlite_url).dispose()
    ocd = json.loads(
        run_tracker("export", "votes", "--format", "ocd", database_url=sqlite_url).stdout
    )
    assert len(ocd) == 4
    only_lee = json.loads(
        run_tracker(
            "export", "votes", "--format", "ocd", "--person", "Bo Diaz", database_url=sqlite_url
        ).stdout
    )
    assert len(only_lee) == 3  # the events Bo Diaz voted in, each with every member's vote
    votes = run_tracker("export", "votes", "--format", "csv", database_url=sqlite_url).stdout
    rows = list(csv.DictReader(io.StringIO(votes.lstrip("\ufeff"))))
    assert {"source_url", "document_sha256", "procedural", "effect"} <= set(rows[0])
    minutes = [r for r in rows if r["source_url"].endswith("minutes-0318.pdf")]
    assert minutes
    assert {r["document_sha256"] for r in minutes} == {"ab" * 32}
    items = run_tracker("export", "items", "--format", "jsonl", database_url=sqlite_url).stdout
    assert all("document_sha256" in json.loads(line) for line in items.splitlines())
    meetings = run_tracker("export", "meetings", "--format", "json", database_url=sqlite_url)
    assert {"agenda_sha256", "minutes_sha256"} <= set(json.loads(meetings.stdout)[0])
    stances = run_tracker("export", "stances", "--format", "json", database_url=sqlite_url)
    assert json.loads(stances.stdout) == []
    wrong = run_tracker("export", "items", "--format", "ocd", database_url=sqlite_url, check=False)
    assert wrong.returncode == 1
    assert "votes only" in wrong.stderr
