"""`ice-tracker explore`, `person` and `matter` on a small council."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path

import pytest
from conftest import run_tracker
from test_stances import build_council

from tracker.stances_cli import CANNED_QUERIES, PRIVATE_TABLES, explore_metadata, public_copy


def test_explore_metadata_hides_the_subscriber_tables() -> None:
    meta = explore_metadata("tracker")
    database = meta["databases"]["tracker"]
    assert database["allow_sql"] is False  # free SQL could read any table
    for name in ("subscriber", "subscription", "delivery"):
        assert database["tables"][name] == {"hidden": True, "allow": False}
    assert set(database["queries"]) >= {"member_ice_votes", "divided_votes", "upcoming_ice_items"}
    for query in database["queries"].values():
        assert not any(t in query["sql"] for t in PRIVATE_TABLES)


def test_canned_queries_run(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    build_council(f"sqlite:///{database}").dispose()
    with sqlite3.connect(database) as conn:
        # A meeting in the future, with an ICE item, for the upcoming query.
        conn.execute(
            "UPDATE meeting SET start = '2999-01-01 18:00:00.000000' WHERE platform_id = '2'"
        )
        results = {
            name: conn.execute(q["sql"], {"person": "ann"}).fetchall()
            for name, q in CANNED_QUERIES.items()
        }
    conn.close()
    assert len(results["member_ice_votes"]) == 4  # Ann Lee's votes on ICE items
    assert {r[3] for r in results["divided_votes"]} == {"1", "6"}  # item numbers
    assert {r[6] for r in results["upcoming_ice_items"]} == {"5", "6", "7"}
    assert results["statements"] == []


def test_public_copy_drops_the_subscriber_tables(tmp_path: Path) -> None:
    source = tmp_path / "t.db"
    build_council(f"sqlite:///{source}").dispose()
    target = tmp_path / "public.db"
    public_copy(source, target)
    with sqlite3.connect(target) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert not tables & set(PRIVATE_TABLES)
    assert {"vote", "vote_event", "statement"} <= tables


@pytest.mark.skipif(importlib.util.find_spec("datasette") is not None, reason="installed")
def test_explore_without_datasette_is_one_clear_line(sqlite_url: str) -> None:
    result = run_tracker("explore", database_url=sqlite_url, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "ice-tracker: error: explore needs Datasette: pip install 'ice-council-tracker[explore]'"
    ]


def test_person_and_matter_commands(sqlite_url: str) -> None:
    build_council(sqlite_url).dispose()
    person = run_tracker("person", "Cy Rivera", database_url=sqlite_url).stdout
    assert "expanded cooperation 0, limited 2; absent 1" in person
    assert "procedural, not scored" in person
    assert "https://testville.example/minutes-0318.pdf (sha256 " + "ab" * 32 + ")" in person
    matter = run_tracker("matter", "Ord 24-17", database_url=sqlite_url).stdout
    assert matter.index("Public Safety (committee)") < matter.index("City Council (council)")
    assert "no: Cy Rivera" in matter
    assert "absent: Cy Rivera" in matter
    missing = run_tracker("matter", "CB 1", database_url=sqlite_url, check=False)
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1
