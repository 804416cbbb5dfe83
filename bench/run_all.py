"""Every scale benchmark with one command, each figure beside a baseline from the same run.

    .venv/bin/python bench/run_all.py [--postgres-url URL] [--quick] [--only NAME ...] [--json]

Runs, each in processes of its own:

==========  ==================================================  ============================
name        figure                                              baseline (same run)
==========  ==================================================  ============================
refresh     requests of a no-change refresh (goal <= 3)         a full-window refetch
pipeline    crawl time with our pipeline (goal <= 1.5x)         the same spiders, bare Scrapy
scale       peak RSS at 100/300/1,000 places (goal <= 500 MB,   a process that imports and
            flat in N), seconds per place                       opens the database only
history     a member's history p95 at 1M votes, SQLite and      its p50
            PostgreSQL (bench/stances.py --history)
digest      digests rendered + queued, messages delivered       floor and naive renderers,
            (bench/digest.py)                                   bare smtplib
==========  ==================================================  ============================

PostgreSQL: ``--postgres-url`` (default: $TRACKER_TEST_POSTGRES_URL); each benchmark gets a
fresh schema there, dropped afterwards. Without one, only SQLite is measured. ``--quick``
shrinks every size (100 places, 100,000 votes, 1,000 subscribers) for a smoke run. The
machine the figures come from is printed first; bench/README.md keeps the latest figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NAMES = ("refresh", "pipeline", "scale", "history", "digest")


def machine() -> dict[str, Any]:
    memory = 0
    try:
        import psutil

        memory = psutil.virtual_memory().total
    except ImportError:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            memory = int(meminfo.readline().split()[1]) * 1024
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "ram_gib": round(memory / 2**30, 1),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


@contextmanager
def schema(postgres_url: str) -> Iterator[str]:
    """A fresh schema on the PostgreSQL at ``postgres_url``; its URL; dropped afterwards."""
    import sqlalchemy as sa

    base = sa.make_url(postgres_url).set(drivername="postgresql+psycopg")
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    try:
        url = base.update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def bench(script: str, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    command = [sys.executable, str(BENCH / script), *args, "--json"]
    began = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if not result.stdout.strip():
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    text = result.stdout[result.stdout.index("{") :]
    figures: dict[str, Any] = json.loads(text)
    figures["wall_seconds"] = round(time.perf_counter() - began, 1)
    return figures


def run(names: list[str], postgres_url: str | None, quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine()}
    if "refresh" in names:
        results["refresh"] = bench("refresh.py")
    if "pipeline" in names:
        results["pipeline"] = bench("pipeline.py", *(["--places", "5"] if quick else []))
    if "scale" in names:
        places = ["--places", "100"] if quick else []
        if postgres_url:
            with schema(postgres_url) as url:
                results["scale"] = bench("scale.py", *places, "--database-url", url)
        else:
            results["scale"] = bench("scale.py", *places)
    if "history" in names:
        votes = ["--votes", "100000"] if quick else []
        results["history_sqlite"] = bench("stances.py", "--history", *votes)
        if postgres_url:
            with schema(postgres_url) as url:
                results["history_postgres"] = bench(
                    "stances.py", "--history", *votes, "--database-url", url
                )
    if "digest" in names:
        results["digest"] = bench("digest.py", *(["--subscribers", "1000"] if quick else []))
    return results


def table(results: dict[str, Any]) -> list[str]:
    """figure | value | baseline | ratio | goal | met."""
    rows: list[tuple[str, str, str, str, str, str]] = []
    r = results.get("refresh")
    if r:
        rows.append(
            (
                "no-change refresh, requests (quiet; as recorded)",
                f"{r['quiet_refresh_requests']}; {r['refresh_requests']}",
                f"full refetch {r['full_requests']}",
                f"{r['quiet_over_full']}; {r['refresh_over_full']}",
                "<= 3 requests",
                "yes" if r["quiet_refresh_requests"] <= 3 else "no",
            )
        )
    p = results.get("pipeline")
    if p:
        rows.append(
            (
                f"crawl with our pipeline, {p['places']} places",
                f"{p['seconds_ours']} s, {p['items_per_second_ours']} items/s",
                f"bare Scrapy {p['seconds_bare']} s",
                f"{p['overhead']}x",
                "<= 1.5x",
                "yes" if p["overhead"] <= 1.5 else "no",
            )
        )
    s = results.get("scale")
    if s:
        peaks = ", ".join(f"{k}: {v} MB" for k, v in s["peak_rss_mb_at"].items())
        rows.append(
            (
                f"peak RSS of a crawl process ({s['batch']} places each)",
                peaks,
                f"idle process {s['baseline_rss_mb']} MB",
                f"{s['peak_over_baseline']}x",
                "<= 500 MB, flat",
                "yes" if max(s["peak_rss_mb_at"].values()) <= 500 else "no",
            )
        )
        rows.append(
            (
                f"time per place ({s['workers']} processes at once, {s['database']})",
                f"{s['seconds_per_place']} s",
                "",
                "",
                "",
                "",
            )
        )
    for key in ("history_sqlite", "history_postgres"):
        h = results.get(key)
        if h:
            rows.append(
                (
                    f"member history at {h['votes']:,} votes ({h['database']})",
                    f"p95 {h['p95_ms']} ms",
                    f"p50 {h['p50_ms']} ms",
                    f"{round(h['p95_ms'] / h['p50_ms'], 2)}x",
                    "",
                    "",
                )
            )
    d = results.get("digest")
    if d:
        rows.append(
            (
                f"digests rendered + queued, {d['subscribers']:,} subscribers",
                f"{d['queue_seconds']} s ({d['digests_per_second']}/s)",
                f"floor {d['floor_seconds']} s",
                f"{d['ours_over_floor']}x floor",
                f"<= {d['queue_target_seconds']:g} s",
                "yes" if d["queue_seconds"] <= d["queue_target_seconds"] else "no",
            )
        )
        rows.append(
            (
                "digest delivery to SMTP",
                f"{d['smtp_messages_per_second']}/s",
                f"bare smtplib {d['bare_smtplib_one_connection_per_second']}/s",
                f"{d['ours_over_bare_smtplib']}x",
                ">= 100/s",
                "yes" if d["smtp_messages_per_second"] >= 100 else "no",
            )
        )
    head = ("figure", "value", "baseline (same run)", "ratio", "goal", "met")
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-url", default=os.environ.get("TRACKER_TEST_POSTGRES_URL"))
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", nargs="+", choices=NAMES, default=list(NAMES))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    info = machine()
    print(
        f"machine: {info['platform']}, Python {info['python']}, {info['cores']} cores, "
        f"{info['ram_gib']} GiB RAM, {info['date']}",
        file=sys.stderr,
        flush=True,
    )
    results = run(args.only, args.postgres_url, args.quick)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print("\n".join(table(results)))
    met = [line.endswith("| yes |") for line in table(results) if line.endswith(("yes |", "no |"))]
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
