"""Reliability: crawls under injected faults, crashes with real processes, hostile links and
bodies. Each test states the promise it checks (docs/reliability.md lists them).

TRACKER_LONG_RELIABILITY=1 runs the fault tests over 40 seeds instead of 3.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SEATTLE_WARC, SEATTLE_WINDOW, query, row_counts, run_tracker
from warcs import Page, edit_url, rewrite_warc, with_body

from tracker.documents import BlobStore, is_public_web_url
from tracker.faults import FAULT_KINDS, FaultPlan
from tracker.middlewares import retry_after_seconds

DATA_TABLES = ("meeting", "agenda_item", "vote_event", "vote", "person", "matter", "body")
FALSE_NEWS = ("item_removed", "meeting_removed", "meeting_cancelled")
SEEDS = range(40) if os.environ.get("TRACKER_LONG_RELIABILITY") else range(1, 4)
# Faults no retry mends (500s, 503s, resets and timeouts may succeed when retried).
UNRECOVERABLE = {"malformed", "huge", "offsite_redirect"}
FAST = {"TRACKER_DOWNLOAD_TIMEOUT": "3", "TRACKER_RETRY_AFTER_MAX_SECONDS": "2"}


def crawl(
    database_url: str, archive: Path = SEATTLE_WARC, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_tracker(
        "crawl",
        "seattle",
        "--replay",
        archive,
        *SEATTLE_WINDOW,
        *extra,
        database_url=database_url,
        check=False,
        env={**FAST, **(env or {})},
    )


def kinds(database_url: str) -> list[str]:
    return [r.kind for r in query(database_url, "SELECT kind FROM change ORDER BY id")]


def data(database_url: str) -> dict[str, int]:
    counts = row_counts(database_url)
    return {t: counts[t] for t in DATA_TABLES}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """What a crawl without faults stores."""
    url = f"sqlite:///{tmp_path_factory.mktemp('clean') / 'clean.db'}"
    assert crawl(url).returncode == 0
    return data(url)


@pytest.mark.parametrize("seed", SEEDS)
def test_faults_never_remove_cancel_or_lose(
    seed: int, tmp_path: Path, clean: dict[str, int]
) -> None:
    """Promise: a crawl against a failing site finishes with counts, removes and cancels
    nothing, loses nothing already stored; the next good crawl completes the data."""
    url = f"sqlite:///{tmp_path / 't.db'}"
    assert crawl(url).returncode == 0
    before, news = data(url), kinds(url)
    faulty = crawl(url, SEATTLE_WARC, "--fault-rate", "0.3", "--fault-seed", str(seed))
    injected = int(faulty.stderr.split("replay injected ", 1)[1].split(" ", 1)[0])
    assert injected > 0
    # the figures of a run (pytest -s): how many faults, of which kinds, and the run's counts
    print(f"seed {seed}: " + next(x for x in faulty.stderr.splitlines() if "replay injected" in x))
    run = query(url, "SELECT status, errors FROM crawl_run ORDER BY id DESC LIMIT 1")[0]
    line = next(x for x in faulty.stderr.splitlines() if "replay injected" in x)
    drawn = {part.split()[0] for part in line.split(": ", 1)[1].split(", ")}
    if drawn & UNRECOVERABLE:  # a retry cannot mend these: the run must say pages failed
        assert run.status in ("partial", "failed")
        assert run.errors > 0
    assert not set(kinds(url)[len(news) :]) & set(FALSE_NEWS)
    assert data(url) == before  # nothing lost, nothing invented
    # From an empty database: the faulty crawl stores a subset, the next clean one the rest.
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    crawl(fresh, SEATTLE_WARC, "--fault-rate", "0.3", "--fault-seed", str(seed))
    partial = data(fresh)
    assert all(partial[t] <= clean[t] for t in DATA_TABLES)
    assert crawl(fresh).returncode == 0
    assert data(fresh) == clean
    assert not set(kinds(fresh)) & set(FALSE_NEWS)


def test_a_redirect_to_another_host_is_a_problem_not_silence(tmp_path: Path) -> None:
    """Promise: a page redirected off the registry's domains is neither followed nor quietly
    dropped; the run says which request it was (a listing redirected away once left a run
    "ok" with nothing crawled)."""
    url = f"sqlite:///{tmp_path / 't.db'}"
    result = crawl(
        url,
        SEATTLE_WARC,
        "--fault-rate",
        "0.2",
        "--fault-seed",
        "3",
        "--fault-kinds",
        "offsite_redirect",
    )
    injected = int(result.stderr.split("replay injected ", 1)[1].split(" ", 1)[0])
    assert injected > 0
    run = query(url, "SELECT status, errors FROM crawl_run")[0]
    assert run.status in ("partial", "failed")
    assert run.errors > 0
    said = result.stdout + result.stderr
    assert "offsite_redirect/" in said
    assert "outside the registry's domains; not followed" in said


def test_retry_after_is_honoured(tmp_path: Path, clean: dict[str, int]) -> None:
    """Promise: a 503 with Retry-After is retried after the wait, and the data arrives."""
    url = f"sqlite:///{tmp_path / 't.db'}"
    result = crawl(
        url, SEATTLE_WARC, "--fault-rate", "0.25", "--fault-seed", "5", "--fault-kinds", "http_503"
    )
    injected = int(result.stderr.split("replay injected ", 1)[1].split(" ", 1)[0])
    run = query(url, "SELECT errors FROM crawl_run")[0]
    # Each 503 is retried after its Retry-After; a request fails only when all three tries
    # drew a 503 (about 0.25**3 of them).
    assert injected >= 10
    assert run.errors <= injected // 5
    stored = data(url)
    assert (stored["meeting"], stored["agenda_item"]) == (clean["meeting"], clean["agenda_item"])


def test_retry_after_values() -> None:
    assert retry_after_seconds(b"7") == 7.0
    assert retry_after_seconds(b"Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert retry_after_seconds(b"soon") is None
    assert retry_after_seconds(None) is None


def test_fault_plan_is_repeatable() -> None:
    plan = FaultPlan(rate=0.5, seed=9)
    picks = [plan.choose(f"GET https://x/{n}", 0) for n in range(200)]
    assert picks == [plan.choose(f"GET https://x/{n}", 0) for n in range(200)]
    assert 60 < sum(p is not None for p in picks) < 140
    assert {p for p in picks if p} <= set(FAULT_KINDS)
    with pytest.raises(ValueError, match="unknown fault"):
        FaultPlan(rate=0.1, kinds=("gremlins",))


def test_kill_minus_nine_mid_crawl_loses_nothing(tmp_path: Path, clean: dict[str, int]) -> None:
    """Promise: a crawl killed mid-way leaves committed batches intact and no half rows; the
    run is recorded as interrupted, and the next crawl completes the data."""
    url = f"sqlite:///{tmp_path / 't.db'}"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tracker.crawl import CrawlOptions, run_crawls\n"
        "from tracker.faults import FaultPlan\n"
        "from tracker.registry import load_registry\n"
        "from tracker.settings import load_settings\n"
        "from datetime import UTC, datetime\n"
        f"settings = load_settings({{'database_url': {url!r}, 'batch_size': 5}})\n"
        "window = (datetime(2019, 7, 1, tzinfo=UTC), datetime(2019, 9, 1, tzinfo=UTC))\n"
        f"options = CrawlOptions(full=True, window=window, replay=[Path({str(SEATTLE_WARC)!r})],"
        " faults=FaultPlan(rate=0.0, delay_seconds=0.15), progress=False)\n"
        "run_crawls([load_registry().get('seattle')], settings, options)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **FAST},
    )
    deadline = time.time() + 60
    stored = 0
    while time.time() < deadline and stored == 0:
        time.sleep(0.5)
        try:
            stored = data(url)["agenda_item"]
        except Exception:  # the database may not exist yet
            stored = 0
    assert stored, "the crawl never stored anything"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    killed = data(url)
    assert killed["agenda_item"] < clean["agenda_item"] or killed["vote"] < clean["vote"]
    assert query(url, "SELECT status FROM crawl_run")[0].status == "running"
    assert crawl(url).returncode == 0
    runs = query(url, "SELECT status, message FROM crawl_run ORDER BY id")
    assert runs[0].status == "failed"
    assert runs[0].message.startswith("interrupted")
    assert runs[1].status == "ok"
    assert data(url) == clean
    assert not set(kinds(url)) & set(FALSE_NEWS)


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://legistar2.granicus.com/seattle/attachments/a.pdf", True),
        ("http://93.184.216.34/agenda.pdf", True),
        ("file:///etc/passwd", False),
        ("http://127.0.0.1:5432/", False),
        ("http://localhost/admin", False),
        ("http://169.254.169.254/latest/meta-data/", False),  # cloud metadata
        ("http://10.0.0.7/minutes.pdf", False),
        ("http://[::1]/x", False),
        ("ftp://example.org/agenda.pdf", False),
        ("http://printer.local/scan.pdf", False),
    ],
)
def test_only_public_web_documents(url: str, public: bool) -> None:
    assert is_public_web_url(url) is public


def test_hostile_document_links_are_never_fetched(tmp_path: Path) -> None:
    """Promise (SSRF): links in a council's data to files, our own network or hosts outside
    the registry's allowed domains are not fetched."""
    hostile = [
        "file:///etc/passwd",
        "http://127.0.0.1:5432/",
        "http://169.254.169.254/latest",
        "https://evil.example/agenda.pdf",
    ]

    def links(page: Page) -> Page:
        items = json.loads(page.body)
        for item in items:
            if item["EventItemId"] == 65911:
                item["EventItemMatterAttachments"] = [
                    {"MatterAttachmentHyperlink": url, "MatterAttachmentName": "x"}
                    for url in hostile
                ]
        return with_body(page, json.dumps(items).encode())

    archive = rewrite_warc(
        SEATTLE_WARC, tmp_path / "hostile.warc.gz", edit_url("/events/4049/eventitems", links)
    )
    recorded = tmp_path / "fetched.warc.gz"
    url = f"sqlite:///{tmp_path / 't.db'}"
    assert crawl(url, archive, "--archive", str(recorded)).returncode == 0
    from tracker.archive import read_responses

    fetched = {r.url for r in read_responses(recorded)}
    assert not fetched & set(hostile)
    assert not any("evil.example" in u or "169.254" in u for u in fetched)


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    """Promise: a response that inflates past the download limit is refused, not unpacked."""
    bomb = gzip.compress(b" " * 30_000_000)

    def inflate(page: Page) -> Page:
        headers = [*page.headers, ("Content-Encoding", "gzip")]
        return Page(page.url, 200, headers, bomb)

    archive = rewrite_warc(
        SEATTLE_WARC, tmp_path / "bomb.warc.gz", edit_url("/events/4049/eventitems", inflate)
    )
    url = f"sqlite:///{tmp_path / 't.db'}"
    result = crawl(url, archive, env={"TRACKER_DOWNLOAD_MAXSIZE": "5000000"})
    assert "seattle: partial" in result.stdout
    assert data(url)["agenda_item"] == 19  # the two other meetings' items arrived


def test_blob_paths_come_only_from_digests(tmp_path: Path) -> None:
    """Promise: no path outside the blob folder can be named through a document's hash."""
    blobs = BlobStore(tmp_path)
    with pytest.raises(ValueError, match="not a sha256"):
        blobs.path("../../etc/passwd")
    digest = blobs.put(b"%PDF-1.4 minutes")
    assert blobs.path(digest).is_relative_to(tmp_path)


def test_subscriber_addresses_appear_in_no_output_or_log(tmp_path: Path) -> None:
    """Promise: subscriber addresses appear in no page-like output, export, status or log."""
    outdir = tmp_path / "demo"
    demo = run_tracker("demo", "--outdir", outdir)
    database = f"sqlite:///{outdir / 'tracker.db'}"
    secret = "organizer.private@example.net"
    env = {
        "TRACKER_DATA_DIR": str(outdir),
        "TRACKER_LOG_LEVEL": "DEBUG",
        "TRACKER_MAIL_TRANSPORT": "files",
        "TRACKER_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    said = [demo.stdout, demo.stderr]
    for args in (
        ("subscribe", secret, "--jurisdiction", "birmingham-al", "--language", "es"),
        ("digest", "--send"),
        ("status",),
        ("status", "--json"),
        ("export", "votes", "--format", "jsonl"),
        ("export", "items", "--format", "csv"),
        ("export", "meetings", "--format", "json"),
        ("export", "stances", "--format", "jsonl"),
        ("export", "votes", "--format", "ocd"),
        (
            "crawl",
            "birmingham-al",
            "--replay",
            str(ROOT / "tracker" / "data" / "archives" / "birmingham-2021-11.warc.gz"),
            "--full",
            "--from",
            "2021-10-01",
            "--to",
            "2021-12-01",
        ),
        ("person", "Hunter Williams"),
        ("search", "Customs"),
    ):
        result = run_tracker(*args, database_url=database, env=env, check=False)
        said += [result.stdout, result.stderr]
    files = [
        p
        for p in outdir.rglob("*")
        if p.is_file() and p.suffix in (".csv", ".jsonl", ".json", ".html", ".txt")
    ]
    said += [p.read_text(encoding="utf-8", errors="replace") for p in files]
    text = "\n".join(said)
    for address in (secret, "demo-en@example.org", "demo-es@example.org"):
        assert address not in text, address
