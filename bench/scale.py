"""Memory and time over 1,000 replayed jurisdictions.

    .venv/bin/python bench/scale.py [--places 1000] [--batch 50] [--database-url URL] [--json]

The registry gets ``--places`` synthetic entries, each a copy of Seattle's (another slug and
name, the same Legistar client), so that every one of them is answered by the recorded Seattle
archive over the replay server. They are crawled as the service crawls them, in processes of
their own: ``--batch`` places per process through ``tracker.crawl.run_crawls`` (the function
behind ``ice-tracker crawl``), ``--workers`` processes at once (default 2, one per core of the
machine the figures come from), into one database (SQLite in a
temporary folder unless ``--database-url``). Each process reports its peak RSS.

Figures: peak RSS of a crawl process over the first 100, 300 and 1,000 places (goal: flat in
N and <= 500 MB), seconds per place, and the stored bytes per meeting, item, vote and document
page (the database's size over its rows, for docs/scaling.md). Baseline: the peak RSS of a
process that imports the same code and opens the database but crawls nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ARCHIVE = ROOT / "tracker" / "data" / "archives" / "seattle-2019-07-29.warc.gz"
WINDOW = (datetime(2019, 7, 1, tzinfo=UTC), datetime(2019, 9, 1, tzinfo=UTC))
RSS_GOAL_MB = 500
CHECKPOINTS = (100, 300, 1000)


def entries(start: int, count: int) -> list[Any]:
    """Synthetic places ``start`` .. ``start + count - 1``, each a copy of Seattle's entry."""
    from tracker.registry import load_registry

    seattle = load_registry().get("seattle")
    return [
        seattle.model_copy(update={"slug": f"bench-{i:05d}", "name": f"Bench Place {i}"})
        for i in range(start, start + count)
    ]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(args: argparse.Namespace) -> None:
    """One crawl process: a batch of places through run_crawls; prints JSON."""
    from tracker.crawl import CrawlOptions, run_crawls
    from tracker.db import open_database
    from tracker.relevance import RelevanceStage
    from tracker.settings import load_settings

    settings = load_settings({"database_url": args.database_url, "data_dir": args.data_dir})
    began = time.perf_counter()
    if args.count == 0:  # the baseline: everything but the crawl
        open_database(settings.resolved_database_url).dispose()
        from spiders import SPIDERS  # noqa: F401

        summaries = []
    else:
        options = CrawlOptions(full=True, window=WINDOW, replay=[ARCHIVE], progress=False)
        summaries = run_crawls(
            entries(args.start, args.count), settings, options, classifier=RelevanceStage()
        )
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - began,
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "statuses": sorted({s.status for s in summaries}),
                "requests": sum(s.requests for s in summaries),
                "items": sum(s.items for s in summaries),
            }
        )
    )


def run_child(start: int, count: int, database_url: str, data_dir: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env["TRACKER_LOG_LEVEL"] = "ERROR"
    command = [sys.executable, __file__, "--child", "--start", str(start)]
    command += ["--count", str(count), "--database-url", database_url]
    command += ["--data-dir", str(data_dir)]
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=3600, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"batch at {start} failed:\n{result.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def storage(database_url: str) -> dict[str, Any]:
    """Rows per table and the database's bytes per meeting, item, vote and document page."""
    import sqlalchemy as sa

    from tracker.db import make_engine

    engine = make_engine(database_url)
    tables = ("meeting", "agenda_item", "vote", "document_page", "document", "change", "person")
    with engine.connect() as conn:
        counts = {
            t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in tables
        }
        if engine.dialect.name == "postgresql":
            size = int(
                conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
            )
            per_table = {
                t: int(
                    conn.execute(
                        sa.text("SELECT pg_total_relation_size(:t)"), {"t": t}
                    ).scalar_one()
                )
                for t in tables
            }
        else:
            path = Path(str(engine.url.database))
            size = path.stat().st_size
            per_table = {}
            try:
                for t in tables:
                    per_table[t] = int(
                        conn.execute(
                            sa.text(
                                "SELECT sum(pgsize) FROM dbstat WHERE name = :t OR tbl_name = :t"
                            ),
                            {"t": t},
                        ).scalar()
                        or 0
                    )
            except sa.exc.OperationalError:  # SQLite built without dbstat
                per_table = {}
    engine.dispose()
    return {"database_bytes": size, "rows": counts, "table_bytes": per_table}


def measure(places: int, batch: int, database_url: str | None, workers: int = 2) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = database_url or f"sqlite:///{folder / 'scale.db'}"
        baseline = run_child(0, 0, url, folder / "data")
        batches: list[dict[str, Any]] = []
        checkpoints: dict[int, dict[str, float]] = {}
        began = time.perf_counter()
        starts = list(range(0, places, batch))
        done = 0
        # ``workers`` crawl processes at once, as the service runs crawl_workers of them.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(run_child, start, min(batch, places - start), url, folder / "data")
                for start in starts
            ]
            for future in futures:
                batches.append(future.result())
                done += min(batch, places - done)
                for point in CHECKPOINTS:
                    if point not in checkpoints and done >= point:
                        checkpoints[point] = {
                            "peak_rss_mb": max(b["peak_rss_mb"] for b in batches),
                            "seconds_per_place": round((time.perf_counter() - began) / done, 3),
                        }
                print(
                    f"  {done} places: peak RSS {batches[-1]['peak_rss_mb']} MB, "
                    f"{batches[-1]['seconds']:.1f} s for the batch",
                    file=sys.stderr,
                    flush=True,
                )
        seconds = time.perf_counter() - began
        stored = storage(url)
    peaks = [b["peak_rss_mb"] for b in batches]
    rows = stored["rows"]
    tb = stored["table_bytes"]

    def per(table: str) -> float | None:
        return round(tb[table] / rows[table]) if tb.get(table) and rows.get(table) else None

    return {
        "database": url.split(":", 1)[0],
        "places": places,
        "batch": batch,
        "workers": workers,
        "baseline_rss_mb": baseline["peak_rss_mb"],
        "peak_rss_mb_at": {str(k): v["peak_rss_mb"] for k, v in checkpoints.items()},
        "seconds_per_place_at": {str(k): v["seconds_per_place"] for k, v in checkpoints.items()},
        "peak_rss_first_batch_mb": peaks[0],
        "peak_rss_last_batch_mb": peaks[-1],
        "peak_over_baseline": round(max(peaks) / baseline["peak_rss_mb"], 2),
        "rss_goal_mb": RSS_GOAL_MB,
        "seconds": round(seconds, 1),
        "seconds_per_place": round(seconds / places, 3),
        "requests": sum(b["requests"] for b in batches),
        "items": sum(b["items"] for b in batches),
        "statuses": sorted({s for b in batches for s in b["statuses"]}),
        "database_bytes": stored["database_bytes"],
        "rows": rows,
        "bytes_per_row": {t: per(t) for t in ("meeting", "agenda_item", "vote", "document_page")},
        "database_bytes_per_meeting": round(stored["database_bytes"] / max(rows["meeting"], 1)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--places", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="crawl processes at once")
    parser.add_argument("--database-url", help="An empty database (default: SQLite, temporary)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    figures = measure(args.places, args.batch, args.database_url, args.workers)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:>28}: {value}")
    peak = max(figures["peak_rss_mb_at"].values())
    return 0 if peak <= RSS_GOAL_MB and figures["statuses"] == ["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
