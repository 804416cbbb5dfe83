"""Councils that post PDFs on ordinary pages: Birmingham's council, from its demo archive
(built from public facts by scripts/build_birmingham_archive.py) to stored votes."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest
from conftest import ROOT, query, row_counts, run_tracker

from spiders.documents import find_date, find_time
from tracker.agenda_text import minutes_action, split_items

ARCHIVE = ROOT / "tracker" / "data" / "archives" / "birmingham-2021-11.warc.gz"
WINDOW = ["--full", "--from", "2021-10-01", "--to", "2021-12-01"]
COUNCIL = [
    "Carol Clarke",
    "Clinton Woods",
    "Crystal Smitherman",
    "Darrell O'Quinn",
    "Hunter Williams",
    "J.T. Moore",
    "LaTonya Tate",
    "Valerie Abbott",
    "Wardine Alexander",
]


def crawl(database_url: str) -> None:
    run_tracker("crawl", "birmingham-al", "--replay", ARCHIVE, *WINDOW, database_url=database_url)


def test_meetings_items_and_the_hsi_referral(database_url: str) -> None:
    crawl(database_url)
    meetings = query(
        database_url, "SELECT title, start, status, location FROM meeting ORDER BY start"
    )
    assert [m.title for m in meetings] == [
        "Birmingham City Council Meeting 10.26.2021",
        "Birmingham City Council Meeting 11.02.2021",
    ]
    # 9:30 a.m. in Birmingham: daylight time (UTC-5) ran until November 7, 2021.
    assert [str(m.start)[:16] for m in meetings] == ["2021-10-26 14:30", "2021-11-02 14:30"]
    assert {m.status for m in meetings} == {"held"}
    [hsi] = query(
        database_url,
        "SELECT id, number, action, relevant, category, direction FROM agenda_item WHERE relevant",
    )
    assert (hsi.number, hsi.category, hsi.direction) == (
        "4",
        "hsi_task_force_customs_designation",
        "expands",
    )
    assert hsi.action == "Referred to the Public Safety Committee"
    votes = query(
        database_url,
        """
        SELECT p.name, v.value, e.source, e.result FROM vote v
        JOIN person p ON p.id = v.person_id JOIN vote_event e ON e.id = v.vote_event_id
        WHERE e.agenda_item_id = :item ORDER BY p.name""",
        item=hsi.id,
    )
    assert [v.name for v in votes] == COUNCIL
    assert {(v.value, v.source, v.result) for v in votes} == {("yes", "minutes", "passed")}
    review = query(database_url, "SELECT name FROM person WHERE needs_review")
    assert review == []  # every name in the minutes found its councilor


def test_agenda_and_minutes_are_kept_as_searchable_documents(database_url: str) -> None:
    crawl(database_url)
    kinds = sorted(r.kind for r in query(database_url, "SELECT kind FROM document"))
    assert kinds == ["agenda", "agenda", "minutes", "minutes"]
    out = run_tracker("search", "Customs Officers", database_url=database_url).stdout
    assert "birmingham-al" in out
    assert "11.02.2021-Council-Agenda.pdf" in out


def test_recrawl_is_idempotent(database_url: str) -> None:
    crawl(database_url)
    before = row_counts(database_url)
    crawl(database_url)
    after = row_counts(database_url)
    assert {t: n for t, n in after.items() if t != "crawl_run"} == {
        t: n for t, n in before.items() if t != "crawl_run"
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Birmingham City Council Meeting 11.02.2021", date(2021, 11, 2)),
        ("/meetings/council-meeting-10-26-2021/", date(2021, 10, 26)),
        ("Regular Meeting - November 2, 2021", date(2021, 11, 2)),
        ("2021-11-02-agenda.pdf", date(2021, 11, 2)),
        ("Agenda 11/2/21", date(2021, 11, 2)),
        ("no date here", None),
        ("13.45.2021", None),
    ],
)
def test_find_date(text: str, expected: date | None) -> None:
    assert find_date(text, None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("at 9:30 a.m. in the chambers", time(9, 30)),
        ("5:30 PM", time(17, 30)),
        ("6 p.m.", time(18, 0)),
        ("Room 12", None),
    ],
)
def test_find_time(text: str, expected: time | None) -> None:
    assert find_time(text) == expected


def test_numbered_items_survive_lost_blank_lines() -> None:
    text = (
        "CONSENT AGENDA\nCONSENT ITEM 1. A Resolution appointing one (1) member.\n"
        "REGULAR AGENDA\nITEM 2. An Ordinance authorizing an agreement\nwith HSI.\n"
        "COMMUNICATIONS FROM THE MAYOR\n"
    )
    items = split_items(text)
    assert [(i.number, i.title, i.consent) for i in items] == [
        ("1", "A Resolution appointing one (1) member.", True),
        ("2", "An Ordinance authorizing an agreement with HSI.", False),
    ]


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            "On motion duly made and seconded, the ordinance was referred to the Public Safety "
            "Committee.",
            "Referred to the Public Safety Committee",
        ),
        (
            "Referred to the Budget and Finance Committee by unanimous consent.",
            "Referred to the Budget and Finance Committee",
        ),
        ("The foregoing resolution was adopted.", "Adopted"),
        ("The item was tabled.", "Tabled"),
        ("The motion failed.", "Failed"),
        ("Presentation only.", None),
    ],
)
def test_minutes_action(section: str, expected: str | None) -> None:
    assert minutes_action(section) == expected


def test_classify_and_parse_rollcall_commands(tmp_path: Path) -> None:
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        '{"id": 1, "text": "Intergovernmental service agreement with ICE for the '
        'housing of federal detainees"}\n{"id": 2, "text": "Ice rink repairs"}\n',
        encoding="utf-8",
    )
    out = run_tracker("classify", "--input", lines).stdout.splitlines()
    assert [line.split(",")[0] for line in out] == ['{"id": 1', '{"id": 2']
    assert '"relevant": true' in out[0]
    assert '"relevant": false' in out[1]
    minutes = tmp_path / "minutes.jsonl"
    minutes.write_text(
        '{"id": "x", "text": "AYES: Tate, Williams. NAYS: Abbott. Motion carried."}\nnope\n',
        encoding="utf-8",
    )
    result = run_tracker("parse-rollcall", "--input", minutes, check=False)
    assert result.returncode == 1
    first, second = result.stdout.splitlines()
    assert '"result": "passed"' in first
    assert '"id": null' in second
