"""Requests of a no-change refresh of a Legistar jurisdiction, against a full-window refetch.

    .venv/bin/python bench/refresh.py [--database-url URL] [--json]

Three crawls of the recorded Seattle archive (tracker/data/archives), each ``ice-tracker crawl
--replay`` in its own process, into one fresh database (SQLite in a temporary folder unless
``--database-url``):

1. baseline: a full sweep of the recorded window (``--full --from 2019-07-01 --to
   2019-09-01``), every meeting, item, vote and document asked for;
2. refresh: the incremental crawl the service runs next, of the same recording. The replay
   answers the incremental events query (its since filter is not in the archive) with the
   recorded listing, so the three meetings come back unchanged, as a live server would list
   upcoming ones; their details are skipped, and the documents the archive lacks (404 in both
   crawls, so never stored) are asked for again;
3. quiet refresh: the same, where the server answers the since filter with an empty listing
   (nothing changed, nothing upcoming): the fixed cost of looking.

Each crawl runs with DEBUG logs; its requests are read back from them and grouped by kind
(robots.txt, listing, bodies, people, meeting details, documents). The figure is the
refresh's requests, beside the baseline's (goal: <= 3 requests for a no-change refresh).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.archive import read_responses

ROOT = Path(__file__).resolve().parent.parent

ARCHIVE = ROOT / "tracker" / "data" / "archives" / "seattle-2019-07-29.warc.gz"
WINDOW = ["--full", "--from", "2019-07-01", "--to", "2019-09-01"]
GOAL = 3
CRAWLED = re.compile(r"Crawled \((\d+)\) <(\w+) (\S+)>")


def kind_of(url: str) -> str:
    if url.endswith("/robots.txt"):
        return "robots.txt"
    path = url.split("?", 1)[0]
    if "webapi.legistar.com" not in url:
        return "documents"
    for marker, kind in (
        ("/officerecords", "people"),
        ("/persons", "people"),
        ("/votetypes", "listing"),
        ("/bodies", "bodies"),
        ("/events?", "listing"),
    ):
        if marker in url and (marker != "/bodies" or path.endswith("/bodies")):
            return kind
    return "meeting details"


def crawl(database_url: str, archive: Path, data_dir: Path, *extra: str) -> dict[str, object]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")},
        "TRACKER_DATA_DIR": str(data_dir),
        "TRACKER_LOG_LEVEL": "DEBUG",
    }
    command = [sys.executable, "-m", "tracker", "--database-url", database_url, "crawl"]
    command += ["seattle", "--replay", str(archive), "--no-progress", *extra]
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{command} failed:\n{result.stdout}\n{result.stderr[-3000:]}")
    seen = CRAWLED.findall(result.stderr)
    summary = result.stdout.strip().splitlines()[-1]
    requests = int(re.search(r"(\d+) requests", summary).group(1))  # type: ignore[union-attr]
    return {
        "summary": summary,
        "requests": requests,
        "by_kind": dict(Counter(kind_of(url) for _status, _method, url in seen)),
        "not_found": sum(1 for status, _m, _u in seen if status == "404"),
    }


def quiet_archive(target: Path) -> Path:
    """The recording, with the events listing answered empty (nothing changed)."""
    with target.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for record in read_responses(ARCHIVE):
            body = record.body
            if "/events?" in record.url:
                body = b"[]"
            headers = [(k, v) for k, v in record.headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
            http = StatusAndHeaders(f"{record.status} {record.reason}", headers, "HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    record.url, "response", payload=io.BytesIO(body), http_headers=http
                )
            )
    return target


def measure(database_url: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = database_url or f"sqlite:///{folder / 'refresh.db'}"
        full = crawl(url, ARCHIVE, folder / "data", *WINDOW)
        refresh = crawl(url, ARCHIVE, folder / "data")
        quiet = crawl(url, quiet_archive(folder / "quiet.warc.gz"), folder / "data")
    return {
        "database": url.split(":", 1)[0],
        "full_requests": full["requests"],
        "full_by_kind": full["by_kind"],
        "refresh_requests": refresh["requests"],
        "refresh_by_kind": refresh["by_kind"],
        "refresh_not_found": refresh["not_found"],
        "refresh_over_full": round(int(refresh["requests"]) / int(full["requests"]), 3),  # type: ignore[call-overload]
        "quiet_refresh_requests": quiet["requests"],
        "quiet_refresh_by_kind": quiet["by_kind"],
        "quiet_over_full": round(int(quiet["requests"]) / int(full["requests"]), 3),  # type: ignore[call-overload]
        "goal_requests": GOAL,
        "summaries": [full["summary"], refresh["summary"], quiet["summary"]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="An empty database (default: SQLite, temporary)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = measure(args.database_url)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"full-window refetch: {figures['full_requests']} requests {figures['full_by_kind']}")
        print(
            f"no-change refresh:   {figures['refresh_requests']} requests "
            f"({figures['refresh_over_full']}x the refetch) {figures['refresh_by_kind']}, "
            f"{figures['refresh_not_found']} of them 404 (not in the archive)"
        )
        print(
            f"quiet refresh:       {figures['quiet_refresh_requests']} requests "
            f"({figures['quiet_over_full']}x) {figures['quiet_refresh_by_kind']}; goal <= {GOAL}"
        )
    return 0 if int(figures["quiet_refresh_requests"]) <= GOAL else 1  # type: ignore[call-overload]


if __name__ == "__main__":
    sys.exit(main())
