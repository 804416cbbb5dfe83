"""The service as operators run it: ``python schedule.py`` in its own process, crawling the
recorded Seattle archive (``crawl_extra_args`` passes --replay and the window to every crawl),
killed with -9 mid-crawl, restarted, stopped with SIGTERM, contended for by a second instance,
and a crawl that hangs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import ROOT, SEATTLE_WARC, query, row_counts, run_tracker

from tracker.db import open_database
from tracker.registry import load_registry
from tracker.service import PARENT_ENV, Service
from tracker.settings import load_settings

REPLAY = f"--replay {SEATTLE_WARC} --from 2019-07-01 --to 2019-09-01"


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "TRACKER_DATABASE_URL": database_url,
        "TRACKER_CRAWL_EXTRA_ARGS": REPLAY,
        **extra,
    }


def start(database_url: str, log: Path, *args: str, **extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "schedule.py", "seattle", *args],
            cwd=ROOT,
            env=service_env(database_url, **extra),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition: Callable[[], object], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


def runs(database_url: str) -> list[tuple[str, str | None]]:
    return [
        (r.status, r.message)
        for r in query(database_url, "SELECT status, message FROM crawl_run ORDER BY id")
    ]


def crawl_children(service_pid: int) -> list[int]:
    """Processes started by the service with that pid (their environment says so)."""
    found = []
    marker = f"{PARENT_ENV}={service_pid}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


@pytest.fixture
def stop_all() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_mid_crawl_then_restart_loses_nothing(
    database_url: str, tmp_path: Path, stop_all: list[subprocess.Popen[bytes]]
) -> None:
    open_database(database_url)
    log = tmp_path / "service.log"
    first = start(database_url, log)
    stop_all.append(first)
    wait_for(lambda: ("running", None) in runs(database_url), what="a crawl to start")
    first.send_signal(signal.SIGKILL)
    first.wait()
    # The crawl process dies with its service: nothing goes on writing behind the restart.
    wait_for(lambda: not crawl_children(first.pid), timeout=10, what="the crawl to die")
    assert runs(database_url) == [("running", None)]  # it really was mid-crawl

    second = start(database_url, log)
    stop_all.append(second)
    wait_for(lambda: any(s == "ok" for s, _ in runs(database_url)), what="the crawl again")
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=60) == 0, log.read_text()

    [(interrupted, why), (done, _)] = runs(database_url)
    assert interrupted == "failed"
    assert why is not None
    assert why.startswith("interrupted: the service stopped during this crawl")
    assert done == "ok"
    counts = row_counts(database_url)
    assert counts["meeting"] == 3
    assert counts["agenda_item"] == 37
    assert counts["vote"] == 32
    assert counts["person"] == 8


def test_sigterm_mid_crawl_stops_cleanly(
    sqlite_url: str, tmp_path: Path, stop_all: list[subprocess.Popen[bytes]]
) -> None:
    open_database(sqlite_url)
    log = tmp_path / "service.log"
    service = start(sqlite_url, log)
    stop_all.append(service)
    wait_for(lambda: ("running", None) in runs(sqlite_url), what="a crawl to start")
    service.send_signal(signal.SIGTERM)
    assert service.wait(timeout=60) == 0, log.read_text()
    assert not crawl_children(service.pid)
    [(status, why)] = runs(sqlite_url)
    # The crawl finished its last requests and recorded itself; or it was stopped and said so.
    assert status == "ok" or (status == "failed" and why and "shut" in why and "down" in why)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_one_scheduler_at_a_time(
    database_url: str, tmp_path: Path, stop_all: list[subprocess.Popen[bytes]]
) -> None:
    open_database(database_url)
    log = tmp_path / "first.log"
    first = start(database_url, log)
    stop_all.append(first)
    wait_for(lambda: ("ok", None) in runs(database_url), what="the first crawl")

    second = subprocess.run(
        [sys.executable, "schedule.py", "seattle"],
        cwd=ROOT,
        env=service_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 1
    [line] = second.stderr.strip().splitlines()[-1:]
    assert line.startswith("ice-tracker: error: another scheduler is running (")
    assert "use --wait" in line
    cron = run_tracker("run", "--once", "seattle", env=service_env(database_url), check=False)
    assert cron.returncode == 1
    assert "another scheduler is running" in cron.stderr

    waiting_log = tmp_path / "waiting.log"
    waiting = start(database_url, waiting_log, "--wait")
    stop_all.append(waiting)
    time.sleep(2)
    assert waiting.poll() is None
    assert "scheduler started" not in waiting_log.read_text()

    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0
    wait_for(lambda: "scheduler started" in waiting_log.read_text(), what="the takeover")
    waiting.send_signal(signal.SIGINT)
    assert waiting.wait(timeout=60) == 0
    assert runs(database_url) == [("ok", None)]  # one crawl: nobody ran it twice


def test_run_once_for_cron(sqlite_url: str) -> None:
    env = service_env(sqlite_url)
    first = run_tracker("run", "--once", "seattle", env=env).stdout.splitlines()
    [crawl] = [line for line in first if line.startswith("crawl:seattle ")]
    assert crawl.endswith(": ok (full) - 98 requests, 86 items, 0 problems")
    again = run_tracker("run", "--once", "seattle", env=env).stdout
    assert "crawl:" not in again  # not due for hours (digests and sending may be)
    assert runs(sqlite_url) == [("ok", None)]


class Silent:
    """A server that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_a_hung_crawl_is_killed_at_its_limit(sqlite_url: str, tmp_path: Path) -> None:
    silent = Silent()
    registry_file = tmp_path / "registry.toml"
    registry_file.write_text(
        f"""
[[jurisdiction]]
slug = "stillwater"
name = "Stillwater"
state = "OK"
kind = "city"
timezone = "America/Chicago"
platform = "legistar"

[jurisdiction.legistar]
client = "stillwater"
base_url = "http://127.0.0.1:{silent.port}/v1"
""",
        encoding="utf-8",
    )
    settings = load_settings(
        {
            "database_url": sqlite_url,
            "data_dir": str(tmp_path / "data"),
            "crawl_time_limit_seconds": 6,
            "download_timeout": 600,
        }
    )
    registry = load_registry([registry_file])
    service = Service(settings, [registry.get("stillwater")], registry, [registry_file])
    try:
        started = time.monotonic()
        service.crawl("stillwater")
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert 6 <= elapsed < 20
    [row] = query(sqlite_url, "SELECT status, message FROM crawl_run")
    assert row.status == "failed"
    assert row.message == "killed after 6 s (crawl_time_limit_seconds): hung or too long"
    assert service.health("stillwater").consecutive_failures == 1
