"""What reporters and operators read: exports, status, and the demo."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import SEATTLE_WARC, SEATTLE_WINDOW, run_tracker

from tracker.exports import columns
from tracker.history import VoteRow

DESIGN_VOTE_COLUMNS = [
    "jurisdiction",
    "body",
    "meeting_start",
    "item_number",
    "matter_file",
    "title",
    "relevant",
    "category",
    "direction",
    "action",
    "result",
    "person",
    "value",
    "raw_value",
    "source_url",
]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'tracker.db'}"
    run_tracker("crawl", "seattle", "--replay", SEATTLE_WARC, *SEATTLE_WINDOW, database_url=url)
    return url


def test_votes_csv_opens_as_it_is(crawled: str, tmp_path: Path) -> None:
    out = tmp_path / "votes.csv"
    result = run_tracker(
        "export", "votes", "--format", "csv", "--output", out, database_url=crawled
    )
    assert "wrote 32 votes" in result.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # so a spreadsheet reads UTF-8 names right
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 32
    assert set(DESIGN_VOTE_COLUMNS) <= set(rows[0])
    gonzalez = [r for r in rows if r["person"] == "M. Lorena González"]
    assert len(gonzalez) == 4
    cb = [r for r in rows if r["matter_file"] == "CB 119583"]
    assert len(cb) == 8
    assert {(r["value"], r["raw_value"], r["result"]) for r in cb} == {
        ("yes", "In Favor", "passed")
    }
    assert cb[0]["meeting_start"] == "2019-07-29T14:00:00-07:00"
    assert cb[0]["source_url"] == ("https://webapi.legistar.com/v1/seattle/eventitems/65911/votes")
    assert not list(tmp_path.glob("*.partial"))


def test_export_filters_and_formats(crawled: str) -> None:
    jsonl = run_tracker(
        "export", "votes", "--format", "jsonl", "--person", "gonzález", database_url=crawled
    ).stdout.splitlines()
    assert len(jsonl) == 4
    assert {json.loads(line)["person"] for line in jsonl} == {"M. Lorena González"}
    meetings = json.loads(
        run_tracker("export", "meetings", "--format", "json", database_url=crawled).stdout
    )
    assert [m["items"] for m in meetings] == [10, 18, 9]
    items = run_tracker(
        "export", "items", "--format", "csv", "--jurisdiction", "boston", database_url=crawled
    ).stdout
    assert items.strip().lstrip("\ufeff").split(",")[0] == "jurisdiction"  # header only
    assert len(items.strip().splitlines()) == 1


def test_export_columns_cover_design() -> None:
    assert set(DESIGN_VOTE_COLUMNS) <= set(columns(VoteRow))


def test_formula_cells_are_neutralised(tmp_path: Path) -> None:
    from io import StringIO

    from tracker.exports import write_rows

    row = VoteRow(
        jurisdiction="x",
        body=None,
        meeting_start=None,
        timezone="UTC",
        item_number=None,
        matter_file=None,
        title='=HYPERLINK("http://evil")',
        relevant=False,
        category=None,
        direction=None,
        motion=None,
        action=None,
        result=None,
        person="@Bob",
        value="yes",
        raw_value="Aye",
        source="api",
        source_url=None,
        meeting_url=None,
    )
    out = StringIO()
    write_rows([row], VoteRow, "csv", out)
    body = out.getvalue()
    assert "'=HYPERLINK" in body
    assert "'@Bob" in body


def test_status_shows_the_last_crawl(crawled: str) -> None:
    out = run_tracker("status", database_url=crawled).stdout
    line = next(line for line in out.splitlines() if line.startswith("seattle"))
    assert " ok " in line
    assert "3 meetings, 37 items" in line
    assert "32 votes" in line
    data = json.loads(run_tracker("status", "--json", database_url=crawled).stdout)
    [seattle] = data
    assert seattle["last_crawl"]["status"] == "ok"
    assert seattle["last_crawl"]["requests"] > 0
    assert seattle["last_crawl"]["errors"] == 0


def test_bad_database_url_is_one_line(tmp_path: Path) -> None:
    result = run_tracker("status", database_url="mysql://nobody@nowhere/db", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "ice-tracker: error: unsupported database 'mysql': use sqlite or postgresql"
    ]
