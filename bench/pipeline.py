"""Pipeline throughput against bare Scrapy, on the same replay.

    .venv/bin/python bench/pipeline.py [--places 20] [--rounds 3] [--json]

The same spiders crawl the same replayed responses twice per round, each time in a process of
its own, alternately:

* ours: ``tracker.crawl.run_crawls`` as ``ice-tracker crawl`` runs it: planning from the
  database, the tracker's middlewares, the classify + store pipeline, batches written to a
  fresh SQLite database, the runs recorded;
* bare Scrapy: the same spider classes with the same plans (built without a database), the
  same Scrapy settings and replay transport, and no item pipeline and none of the tracker's
  middlewares: items are produced and dropped.

``--places`` copies of Seattle's registry entry are crawled at once in each process, answered
by the recorded Seattle archive, so that a round is long enough to time. Document fetching is
off in both (bare Scrapy has no document middleware to ask for them), so both make the same
requests. Each process times its crawl from start to end (imports and the first migration
excluded); the figure is the median of ours over the median of bare Scrapy (goal <= 1.5).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ARCHIVE = ROOT / "tracker" / "data" / "archives" / "seattle-2019-07-29.warc.gz"
WINDOW = (datetime(2019, 7, 1, tzinfo=UTC), datetime(2019, 9, 1, tzinfo=UTC))
GOAL = 1.5


def settings_for(folder: str) -> Any:
    from tracker.settings import load_settings

    return load_settings(
        {
            "database_url": f"sqlite:///{Path(folder) / 'pipeline.db'}",
            "data_dir": folder,
            "documents": False,
            "log_level": "ERROR",
        },
        env={},
    )


def ours(places: int, folder: str) -> dict[str, Any]:
    from scale import entries

    from tracker.crawl import CrawlOptions, run_crawls
    from tracker.db import open_database
    from tracker.relevance import RelevanceStage

    settings = settings_for(folder)
    open_database(settings.resolved_database_url).dispose()  # the migration, untimed
    options = CrawlOptions(full=True, window=WINDOW, replay=[ARCHIVE], progress=False)
    began = time.perf_counter()
    summaries = run_crawls(entries(0, places), settings, options, classifier=RelevanceStage())
    return {
        "seconds": time.perf_counter() - began,
        "requests": sum(s.requests for s in summaries),
        "items": sum(s.items for s in summaries),
    }


def bare(places: int, folder: str) -> dict[str, Any]:
    from scale import entries
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from spiders import SPIDERS
    from tracker.crawl import scrapy_settings
    from tracker.replay import ReplayIndex, ReplayServer
    from tracker.spider import CrawlPlan

    settings = settings_for(folder)
    now = datetime.now(UTC)
    plans = [
        CrawlPlan(entry=e, mode="full", now=now, window_start=WINDOW[0], window_end=WINDOW[1])
        for e in entries(0, places)
    ]
    counts = {"requests": 0, "items": 0}
    began = time.perf_counter()
    with ReplayServer(ReplayIndex.from_files([ARCHIVE])) as server:
        values = scrapy_settings(
            settings, replay_address=server.address, warc=None, runs={}, progress=False
        )
        for name in ("ITEM_PIPELINES", "SPIDER_MIDDLEWARES", "DOWNLOADER_MIDDLEWARES"):
            values[name] = {}
        process = CrawlerProcess(values)
        for plan in plans:
            crawler = process.create_crawler(SPIDERS[plan.entry.platform])

            def closed(spider: Any, reason: str, crawler: Any = crawler) -> None:
                stats = crawler.stats.get_stats()
                counts["requests"] += int(stats.get("downloader/request_count", 0))
                counts["items"] += int(stats.get("item_scraped_count", 0))

            crawler.signals.connect(closed, signal=signals.spider_closed, weak=False)
            process.crawl(crawler, plan=plan)
        process.start()
    return {"seconds": time.perf_counter() - began, **counts}


def run_child(kind: str, places: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, __file__, "--child", kind, "--places", str(places)]
        command += ["--folder", folder]
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800, check=False
        )
    if result.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{result.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def measure(places: int, rounds: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
    for _ in range(rounds):
        for kind in ("bare", "ours"):
            runs[kind].append(run_child(kind, places))
    ours_s = statistics.median(r["seconds"] for r in runs["ours"])
    bare_s = statistics.median(r["seconds"] for r in runs["bare"])
    items = runs["ours"][0]["items"]
    return {
        "places": places,
        "rounds": rounds,
        "requests_ours": runs["ours"][0]["requests"],
        "requests_bare": runs["bare"][0]["requests"],
        "items_ours": items,
        "items_bare": runs["bare"][0]["items"],
        "seconds_ours": round(ours_s, 2),
        "seconds_bare": round(bare_s, 2),
        "items_per_second_ours": round(items / ours_s, 1),
        "items_per_second_bare": round(runs["bare"][0]["items"] / bare_s, 1),
        "overhead": round(ours_s / bare_s, 2),
        "goal": GOAL,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--places", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=["ours", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        work = ours if args.child == "ours" else bare
        print(json.dumps(work(args.places, args.folder)))
        return 0
    figures = measure(args.places, args.rounds)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"{figures['places']} places, {figures['requests_ours']} requests "
            f"(bare Scrapy {figures['requests_bare']}), {figures['items_ours']} items "
            f"(bare {figures['items_bare']})"
        )
        print(
            f"ours {figures['seconds_ours']} s ({figures['items_per_second_ours']} items/s), "
            f"bare Scrapy {figures['seconds_bare']} s ({figures['items_per_second_bare']} "
            f"items/s): overhead {figures['overhead']}x (goal <= {GOAL}x)"
        )
    return 0 if figures["overhead"] <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
