"""Crawls dispatched to a real scrapyd, started on 127.0.0.1 by the tests.

The node serves the tracker as a scrapyd project without an egg (the repository's scrapy.cfg
in its working folder names the settings module, as docs/scaling.md deploys it) and writes to
its own TRACKER_DATABASE_URL: a PostgreSQL schema, the shared database of a cluster. The
scheduler side is tracker.scrapyd.ScrapydRunner, speaking scrapyd's HTTP API only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, SEATTLE_WARC, SEATTLE_WINDOW, query, row_counts, run_tracker

from tracker.exceptions import ConfigError
from tracker.replay import ReplayIndex, ReplayServer
from tracker.scrapyd import (
    Jobs,
    ScrapydClient,
    ScrapydError,
    ScrapydRunner,
    extra_arguments,
    parse_nodes,
)
from tracker.settings import load_settings

DATA_TABLES = (
    "jurisdiction",
    "body",
    "person",
    "membership",
    "meeting",
    "matter",
    "agenda_item",
    "vote_event",
    "vote",
    "document",
    "document_version",
    "document_page",
    "document_link",
    "change",
)
WINDOW = "--from 2019-07-01 --to 2019-09-01"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    url: str
    database_url: str
    folder: Path


def start_scrapyd(folder: Path, database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (folder / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        "bind_address = 127.0.0.1\n"
        f"http_port = {port}\n"
        "poll_interval = 0.2\n"
        "max_proc = 4\n"
        "logs_dir = logs\n"
        "eggs_dir = eggs\n"
        "dbs_dir = dbs\n",
        encoding="utf-8",
    )
    # The project, as deployed: the repository's scrapy.cfg in scrapyd's working folder, where
    # both scrapyd and the Scrapy processes it starts read its [settings].
    shutil.copy(ROOT / "scrapy.cfg", folder / "scrapy.cfg")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")},
        "TRACKER_DATABASE_URL": database_url,
        "TRACKER_DATA_DIR": str(folder / "data"),
        "TRACKER_LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
    }
    log = (folder / "scrapyd.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scrapyd"], cwd=folder, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/daemonstatus.json", timeout=2) as answer:
                if json.loads(answer.read())["status"] == "ok":
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError((folder / "scrapyd.log").read_text(errors="replace"))
        time.sleep(0.2)


@pytest.fixture
def node(tmp_path: Path, postgres_url: str) -> Iterator[Node]:
    proc, url = start_scrapyd(tmp_path / "node", postgres_url)
    try:
        yield Node(url, postgres_url, tmp_path / "node")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def replay() -> Iterator[str]:
    with ReplayServer(ReplayIndex.from_files([SEATTLE_WARC])) as server:
        yield server.address


def runner_for(node: Node, **settings: object) -> ScrapydRunner:
    values = {
        "database_url": node.database_url,
        "scrapyd_nodes": node.url,
        "scrapyd_poll_seconds": 0.2,
        "crawl_time_limit_seconds": 240,
        **settings,
    }
    return ScrapydRunner(load_settings(values))


def table_rows(url: str, table: str) -> list[tuple[object, ...]]:
    """A table's rows without what differs between two crawls of the same responses: row
    ids and references to them, and the times the rows were written."""
    columns = [
        r.column_name
        for r in query(
            url,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = :t ORDER BY column_name",
            t=table,
        )
    ]
    keep = [
        c
        for c in columns
        if c != "id"
        and not c.endswith(("_id", "_at", "_search"))
        and c not in ("details", "warc_record", "archive")
    ]
    select = ", ".join(f'"{c}"' for c in keep)
    return sorted(tuple(map(str, r)) for r in query(url, f'SELECT {select} FROM "{table}"'))


def test_a_dispatched_crawl_stores_the_rows_of_a_local_crawl(
    node: Node, replay: str, postgres_url: str, tmp_path: Path
) -> None:
    runner = runner_for(node, crawl_extra_args=WINDOW)
    runner.args["replay"] = replay
    outcome = runner.run("seattle", full=True)
    assert outcome.failure is None, outcome

    [run] = query(node.database_url, "SELECT status, mode, requests, items FROM crawl_run")
    assert (run.status, run.mode) == ("ok", "full")

    # The same replay, crawled the local way into a second schema of the same server.
    local = _other_schema(postgres_url, tmp_path)
    run_tracker("crawl", "seattle", *SEATTLE_WINDOW, "--replay", SEATTLE_WARC, database_url=local)
    [local_run] = query(local, "SELECT status, mode, requests, items FROM crawl_run")
    assert tuple(local_run) == tuple(run)

    dispatched_counts, local_counts = row_counts(node.database_url), row_counts(local)
    assert dispatched_counts["meeting"] == 3
    for table in DATA_TABLES:
        assert dispatched_counts[table] == local_counts[table], table
        assert table_rows(node.database_url, table) == table_rows(local, table), table


def _other_schema(postgres_url: str, tmp_path: Path) -> str:
    import uuid

    import sqlalchemy as sa

    url = sa.make_url(postgres_url)
    schema = f"{url.query['options'].split('=', 1)[1]}_local_{uuid.uuid4().hex[:4]}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


def test_the_service_dispatches_to_scrapyd_when_nodes_are_set(node: Node) -> None:
    """`ice-tracker run --once` with TRACKER_SCRAPYD_NODES: the crawl runs on the node (its
    replay archive named by crawl_extra_args, as for local crawls), the result is recorded."""
    env = {
        "TRACKER_DATABASE_URL": node.database_url,
        "TRACKER_SCRAPYD_NODES": f"{node.url}=2",
        "TRACKER_SCRAPYD_POLL_SECONDS": "0.2",
        "TRACKER_CRAWL_EXTRA_ARGS": f"--replay {SEATTLE_WARC} {WINDOW}",
    }
    out = run_tracker("run", "--once", "seattle", env=env).stdout.splitlines()
    [crawl] = [line for line in out if line.startswith("crawl:seattle ")]
    assert crawl.endswith(": ok (full) - 98 requests, 86 items, 0 problems"), out
    logs = list((node.folder / "logs" / "ice_tracker" / "legistar").glob("*.log"))
    assert len(logs) == 1  # it ran on the node, not locally


def test_a_job_that_cannot_start_is_recorded_failed_with_its_log(node: Node) -> None:
    runner = runner_for(node)
    runner.args["mode"] = "sideways"
    outcome = runner.run("seattle")
    assert outcome.failure is not None
    assert "ended without starting a crawl run" in outcome.failure
    assert "mode must be one of auto, full, incremental" in "\n".join(outcome.output)


# -- the dispatcher's choices, against a fake node (injected through the client seam) -----------


class FakeClient:
    """scrapyd's answers, scripted: jobs by state; schedule and cancel are recorded."""

    def __init__(self, node: object) -> None:
        self.node = node
        self.pending: set[str] = set()
        self.running: set[str] = set()
        self.finished: set[str] = set()
        self.scheduled: list[dict[str, str]] = []
        self.cancelled: list[tuple[str, str]] = []
        self.down = False
        self.hang = False

    def jobs(self, project: str) -> Jobs:
        if self.down:
            raise ScrapydError("down")
        return Jobs(set(self.pending), set(self.running), set(self.finished))

    def schedule(self, project: str, spider: str, args: dict[str, str]) -> str:
        job = f"job{len(self.scheduled)}"
        self.scheduled.append({"spider": spider, **args})
        (self.running if self.hang else self.finished).add(job)
        return job

    def cancel(self, project: str, job: str, signal: str = "INT") -> str:
        self.cancelled.append((job, signal))
        self.running.discard(job)
        self.finished.add(job)
        return "running"

    def log_tail(self, log_url: str) -> list[str]:
        return []


def fake_runner(tmp_path: Path, nodes: str, **settings: object) -> ScrapydRunner:
    values = {
        "database_url": f"sqlite:///{tmp_path / 'tracker.db'}",
        "scrapyd_nodes": nodes,
        "scrapyd_poll_seconds": 0.01,
        **settings,
    }
    return ScrapydRunner(load_settings(values), client=FakeClient, sleep=lambda s: None)


def test_nodes_are_parsed_with_their_slots() -> None:
    nodes = parse_nodes("http://a:6800=8, https://user:pw@b.example/scrapyd/ ,", 3)
    assert [(n.url, n.slots) for n in nodes] == [
        ("http://a:6800", 8),
        ("https://user:pw@b.example/scrapyd", 3),
    ]
    for bad in ("ftp://a", "http://a:6800=x", "http://a=0"):
        with pytest.raises(ConfigError):
            parse_nodes(bad, 1)
    client = ScrapydClient(nodes[1])
    assert client.base == "https://b.example/scrapyd"  # the credentials go in a header
    assert client.auth == "Basic dXNlcjpwdw=="


def test_crawl_extra_args_become_job_arguments() -> None:
    args = extra_arguments(f"--replay {SEATTLE_WARC} --from 2019-07-01 --to 2019-09-01")
    assert args == {
        "replay_archive": str(SEATTLE_WARC),
        "window_start": "2019-07-01T00:00:00+00:00",
        "window_end": "2019-09-01T00:00:00+00:00",
    }
    with pytest.raises(ConfigError, match="--archive"):
        extra_arguments("--archive x.warc.gz")


def test_the_node_with_the_most_free_slots_gets_the_job(tmp_path: Path) -> None:
    runner = fake_runner(tmp_path, "http://a:6800=2,http://b:6800=3")
    a, b = (runner.clients[n] for n in runner.nodes)
    assert isinstance(a, FakeClient)
    assert isinstance(b, FakeClient)
    b.running = {"x", "y"}  # b: 1 free, a: 2 free
    runner.run("seattle")
    assert (len(a.scheduled), len(b.scheduled)) == (1, 0)
    assert a.scheduled[0] == {"spider": "legistar", "slug": "seattle", "mode": "auto"}
    a.running = {"p", "q"}  # a full: b has the last slot
    runner.run("seattle", full=True)
    assert b.scheduled[0]["mode"] == "full"


def test_no_node_answering_fails_the_crawl_at_once(tmp_path: Path) -> None:
    runner = fake_runner(tmp_path, "http://a:6800")
    client = runner.clients[runner.nodes[0]]
    assert isinstance(client, FakeClient)
    client.down = True
    outcome = runner.run("seattle")
    assert outcome.failure is not None
    assert outcome.failure.startswith("not dispatched: no scrapyd node answered")


def test_a_job_past_the_time_limit_is_killed(tmp_path: Path) -> None:
    runner = fake_runner(tmp_path, "http://a:6800", crawl_time_limit_seconds=1)
    client = runner.clients[runner.nodes[0]]
    assert isinstance(client, FakeClient)
    client.hang = True
    runner.sleep = time.sleep
    outcome = runner.run("seattle")
    assert client.cancelled == [("job0", "KILL")]
    assert outcome.failure is not None
    assert "killed after 1 s (crawl_time_limit_seconds)" in outcome.failure


def test_a_finished_job_without_a_run_is_a_failure(tmp_path: Path) -> None:
    outcome = fake_runner(tmp_path, "http://a:6800").run("seattle")
    assert outcome.failure is not None
    assert "scrapyd job job0 on a:6800 ended without starting a crawl run" in outcome.failure
