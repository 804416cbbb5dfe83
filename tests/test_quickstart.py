"""The README's quick start stays true: two commands, CI runs them, the demo works."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from quickstart import commands


def test_readme_has_exactly_two_commands() -> None:
    found = commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(found) == 2
    install, test = found
    assert "pip install -e '.[dev]'" in install
    assert install.endswith("ice-tracker demo --outdir demo-output")
    assert test == "scripts/check"
    assert "scripts/quickstart.py" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pytest" in (ROOT / "scripts" / "check").read_text(encoding="utf-8")


def ice_tracker() -> str:
    here = Path(sys.executable).parent / "ice-tracker"
    return str(here) if here.exists() else shutil.which("ice-tracker") or "ice-tracker"


def test_demo_writes_its_outputs(tmp_path: Path) -> None:
    outdir = tmp_path / "demo-output"
    result = subprocess.run(
        [ice_tracker(), "demo", "--outdir", str(outdir)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "seattle: crawl ok" in result.stdout
    assert "birmingham-al: crawl ok" in result.stdout
    assert "stored 5 meetings, 46 agenda items, 113 votes" in result.stdout
    # The HSI partnership ordinance, why it matched, and who sits on the committee.
    assert "ICE-related items: 1" in result.stdout
    assert "hsi_task_force_customs_designation, expands" in result.stdout
    assert (
        "birmingham-al Public Safety Committee: LaTonya Tate (Chair), Crystal Smitherman, "
        "Hunter Williams"
    ) in result.stdout
    for name in (
        "tracker.db",
        "meetings.csv",
        "items.csv",
        "ice-items.csv",
        "votes.csv",
        "votes.jsonl",
        "vote-history.html",
    ):
        assert (outdir / name).stat().st_size > 0, name
    with (outdir / "votes.csv").open(encoding="utf-8-sig", newline="") as handle:
        votes = list(csv.DictReader(handle))
    assert len(votes) == 113
    referral = [v for v in votes if v["relevant"] == "true"]
    assert len(referral) == 9  # every member of the council
    assert {(v["action"], v["value"]) for v in referral} == {
        ("Referred to the Public Safety Committee", "yes")
    }
    # Digests for a demo subscriber in each language, about the referral.
    import email
    from email import policy

    subjects = sorted(
        str(email.message_from_bytes(path.read_bytes(), policy=policy.default)["Subject"])
        for path in (outdir / "digests").glob("*.eml")
    )
    assert len(subjects) == 2
    # The referral leads; the members' statements from public coverage follow.
    assert all(": Referred to the Public Safety Committee (+6 m" in s for s in subjects)
    assert subjects[1].startswith("Vote on An Ordinance")
    assert subjects[0].startswith("Votación sobre An Ordinance")
    page = (outdir / "vote-history.html").read_text(encoding="utf-8")
    assert "M. Lorena González" in page
    assert page.count("<article") == 13  # 4 Seattle votes, 9 Birmingham items voted on
    # A second run starts from a fresh database, not on top of the first.
    again = subprocess.run(
        [ice_tracker(), "demo", "--outdir", str(outdir)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert "stored 5 meetings, 46 agenda items, 113 votes" in again.stdout


def test_schedule_entry_point_runs_the_service_once(tmp_path: Path) -> None:
    """`python schedule.py --once` runs every due job once, as cron users would."""
    from conftest import SEATTLE_WARC, SEATTLE_WINDOW

    db = f"sqlite:///{tmp_path / 't.db'}"
    env = {
        "TRACKER_DATABASE_URL": db,
        "TRACKER_DATA_DIR": str(tmp_path / "data"),
        # The scheduled crawl replays the recording instead of reaching the live site.
        "TRACKER_CRAWL_EXTRA_ARGS": f"--replay {SEATTLE_WARC} {' '.join(SEATTLE_WINDOW)}",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "schedule.py"), "seattle", "--once"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "crawl:seattle" in result.stdout
    from conftest import row_counts

    assert row_counts(db)["meeting"] == 3
