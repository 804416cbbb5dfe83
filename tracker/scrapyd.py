"""Dispatching crawls to scrapyd nodes: the service's crawl runner for a cluster.

With ``scrapyd_nodes`` set, the service (tracker/service.py) runs each crawl as a scrapyd job
instead of a local process. :class:`ScrapydRunner` keeps the local runner's contract:
``run(slug, full)`` blocks until the crawl is over and returns a ``CrawlOutcome``;
``stop_all(grace)`` stops what is running. In between it talks to scrapyd's HTTP API only:

1. choose a node: ``listjobs.json`` on every node; free slots are the node's slots less its
   pending and running jobs of the project; the node with the most wins (the first on a tie).
   Choosing and scheduling happen under one lock, so two crawls never take the same last slot.
   No free slot anywhere: wait and ask again. No node answering: the crawl fails at once (the
   failure is recorded, and the operator alerted after ``alert_after_failures``).
2. ``schedule.json`` the platform's spider (tracker/scrapyd_project.py) with string arguments:
   the slug, ``mode`` (``full`` for a sweep, else ``auto``: the crawl process decides from the
   runs in the database, as ``ice-tracker crawl`` does), and what ``crawl_extra_args`` asks
   for (``--from/--to`` as the window, ``--replay ARCHIVE`` as an archive the node serves).
3. poll ``listjobs.json`` (one request per node per poll, shared by every waiting crawl) until
   the job is finished or gone; past ``crawl_time_limit_seconds`` it is cancelled with KILL.
4. the crawl process records its own CrawlRun in the shared database; the runner looks for
   it, and a job that ended without a finished run (it crashed, was killed, could not start)
   comes back with a failure naming the job and the tail of its log, which the service records
   on the run (``Service._record_failure``).

The database URL never travels: the nodes have their own ``TRACKER_DATABASE_URL``.
"""

from __future__ import annotations

import base64
import json
import logging
import shlex
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tracker.db import open_database
from tracker.exceptions import ConfigError, CrawlError, TrackerError
from tracker.models import CrawlStatus
from tracker.registry import Entry, load_registry
from tracker.service import CrawlOutcome, CrawlRunner
from tracker.settings import Settings

logger = logging.getLogger(__name__)

HTTP_TIMEOUT = 30.0
LOG_TAIL_BYTES = 4096


class ScrapydError(CrawlError):
    """A scrapyd node did not answer, or answered with an error."""


@dataclass(frozen=True)
class Node:
    url: str  # base URL, no trailing slash; may carry user:password for scrapyd's basic auth
    slots: int

    @property
    def label(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def parse_nodes(text: str, default_slots: int) -> tuple[Node, ...]:
    """``http://a:6800=8, http://b:6800`` -> nodes (the second with ``default_slots``)."""
    nodes = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        url, _, slots = item.rpartition("=") if "=" in item else (item, "", "")
        try:
            count = int(slots) if slots else default_slots
        except ValueError:
            raise ConfigError(f"scrapyd_nodes: {item!r}: slots must be a whole number") from None
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"scrapyd_nodes: {url!r} is not an http(s) URL")
        if count < 1:
            raise ConfigError(f"scrapyd_nodes: {item!r}: a node needs at least one slot")
        nodes.append(Node(url.rstrip("/"), count))
    return tuple(nodes)


@dataclass
class Jobs:
    """One ``listjobs.json`` answer: job ids by state, and where finished jobs' logs are."""

    pending: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)
    logs: dict[str, str] = field(default_factory=dict)

    def state(self, job: str) -> str | None:
        for name in ("running", "pending", "finished"):
            if job in getattr(self, name):
                return name
        return None


class ScrapydClient:
    """scrapyd's JSON API on one node (standard library HTTP; basic auth from the URL)."""

    def __init__(self, node: Node, *, timeout: float = HTTP_TIMEOUT) -> None:
        self.node = node
        self.timeout = timeout
        parts = urllib.parse.urlsplit(node.url)
        netloc = parts.netloc.rpartition("@")[2]  # the credentials go in a header instead
        self.base = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
        self.auth = None
        if parts.username is not None:
            pair = f"{urllib.parse.unquote(parts.username)}:"
            pair += urllib.parse.unquote(parts.password or "")
            self.auth = "Basic " + base64.b64encode(pair.encode()).decode()

    def _call(
        self, endpoint: str, *, query: Sequence[tuple[str, str]] = (), post: bool = False
    ) -> dict[str, Any]:
        url = f"{self.base}/{endpoint}"
        data = urllib.parse.urlencode(list(query)).encode() if post else None
        if query and not post:
            url += "?" + urllib.parse.urlencode(list(query))
        # parse_nodes admits only http(s) URLs.
        request = urllib.request.Request(url, data=data, method="POST" if post else "GET")  # noqa: S310
        if self.auth:
            request.add_header("Authorization", self.auth)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                body = json.loads(answer.read())
        except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, bad JSON
            raise ScrapydError(f"scrapyd at {self.node.label}: {endpoint}: {exc}") from None
        if not isinstance(body, dict) or body.get("status") != "ok":
            message = body.get("message") if isinstance(body, dict) else body
            raise ScrapydError(f"scrapyd at {self.node.label}: {endpoint}: {message}")
        return body

    def schedule(
        self,
        project: str,
        spider: str,
        args: Mapping[str, str],
        settings: Mapping[str, str] | None = None,
    ) -> str:
        query = [("project", project), ("spider", spider), *args.items()]
        query += [("setting", f"{k}={v}") for k, v in (settings or {}).items()]
        return str(self._call("schedule.json", query=query, post=True)["jobid"])

    def jobs(self, project: str) -> Jobs:
        body = self._call("listjobs.json", query=[("project", project)])
        jobs = Jobs(
            pending={j["id"] for j in body.get("pending", [])},
            running={j["id"] for j in body.get("running", [])},
            finished={j["id"] for j in body.get("finished", [])},
        )
        for job in body.get("finished", []):
            if job.get("log_url"):
                jobs.logs[job["id"]] = str(job["log_url"])
        return jobs

    def cancel(self, project: str, job: str, signal: str = "INT") -> str | None:
        body = self._call(
            "cancel.json", query=[("project", project), ("job", job), ("signal", signal)], post=True
        )
        return body.get("prevstate")

    def spiders(self, project: str) -> list[str]:
        return list(self._call("listspiders.json", query=[("project", project)])["spiders"])

    def log_tail(self, log_url: str, size: int = LOG_TAIL_BYTES) -> list[str]:
        """The last lines of a job's log (scrapyd serves them under /logs)."""
        url = urllib.parse.urljoin(self.base + "/", log_url.lstrip("/"))
        request = urllib.request.Request(url)  # noqa: S310
        if self.auth:
            request.add_header("Authorization", self.auth)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                text = answer.read().decode("utf-8", "replace")
        except OSError:
            return []
        return text[-size:].splitlines()[1:] if len(text) > size else text.splitlines()


@dataclass(frozen=True)
class Dispatch:
    node: Node
    job: str


def extra_arguments(extra: str) -> dict[str, str]:
    """The job arguments for ``crawl_extra_args`` (the options ``ice-tracker crawl`` takes that
    make sense on a node: ``--from/--to`` and ``--replay``, an archive path on the node)."""
    words = shlex.split(extra)
    args: dict[str, str] = {}
    archives: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        value = words[i + 1] if i + 1 < len(words) else None
        if word in ("--from", "--to", "--replay") and value is None:
            raise ConfigError(f"crawl_extra_args: {word} needs a value")
        if word == "--from":
            args["window_start"] = _day(str(value))
        elif word == "--to":
            args["window_end"] = _day(str(value))
        elif word == "--replay":
            archives.append(str(Path(str(value)).resolve()))
        elif word in ("--full", "--no-progress", "--progress"):
            i += 1
            continue
        else:
            raise ConfigError(f"crawl_extra_args: {word!r} cannot be passed to a scrapyd job")
        i += 2
    if archives:
        args["replay_archive"] = ",".join(archives)
    return args


def _day(value: str) -> str:
    try:
        return datetime.combine(datetime.fromisoformat(value).date(), dtime(), UTC).isoformat()
    except ValueError:
        raise ConfigError(f"crawl_extra_args: {value!r} is not a date") from None


class ScrapydRunner(CrawlRunner):
    """Runs each crawl as a job on the scrapyd node with the most free slots.

    A ``CrawlRunner`` to the service: the same ``run`` and ``stop_all``, the same time limit
    and outcome; only where the crawl runs differs. ``args``: extra job arguments (tests and
    benchmarks use ``replay``, the address of a replay server they started).
    """

    def __init__(
        self,
        settings: Settings,
        registry_files: Sequence[Path] = (),
        *,
        nodes: Sequence[Node] | None = None,
        args: Mapping[str, str] | None = None,
        client: Callable[[Node], ScrapydClient] = ScrapydClient,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(settings, registry_files)
        self.nodes = tuple(nodes or parse_nodes(settings.scrapyd_nodes, settings.scrapyd_slots))
        if not self.nodes:
            raise ConfigError("scrapyd_nodes names no node")
        self.project = settings.scrapyd_project
        self.args = {**extra_arguments(settings.crawl_extra_args), **(args or {})}
        self.clients = {node: client(node) for node in self.nodes}
        self.poll = max(settings.scrapyd_poll_seconds, 0.05)
        self.sleep = sleep
        self._dispatch_lock = threading.Lock()
        self._jobs_lock = threading.Lock()
        self._seen: dict[Node, tuple[float, Jobs]] = {}
        self._running: dict[str, Dispatch] = {}  # slug -> its job
        self._engine: sa.Engine | None = None
        self._registry: dict[str, Entry] | None = None
        self._bundled: dict[str, Entry] = {}

    # -- what to send ------------------------------------------------------------------------

    def entry(self, slug: str) -> Entry:
        if self._registry is None:
            bundled = load_registry()
            registry = load_registry(self.registry_files) if self.registry_files else bundled
            self._registry = dict(registry.entries)
            self._bundled = dict(bundled.entries)
        try:
            return self._registry[slug]
        except KeyError:
            raise CrawlError(f"{slug}: not in the registry") from None

    def job_arguments(self, slug: str, full: bool) -> tuple[str, dict[str, str]]:
        """The spider (the platform) and the job's string arguments."""
        entry = self.entry(slug)
        args = {"slug": slug, "mode": "full" if full else "auto", **self.args}
        # A place from a user's registry file: the node has only the bundled registry.
        if self._bundled.get(slug) != entry:
            args["entry"] = entry.model_dump_json(exclude_unset=True)
        return entry.platform, args

    # -- nodes -------------------------------------------------------------------------------

    def jobs(self, node: Node, *, fresh: bool = False) -> Jobs:
        """The node's jobs, asked at most once per poll interval unless ``fresh``."""
        with self._jobs_lock:
            seen = self._seen.get(node)
            if not fresh and seen is not None and time.monotonic() - seen[0] < self.poll / 2:
                return seen[1]
        jobs = self.clients[node].jobs(self.project)
        with self._jobs_lock:
            self._seen[node] = (time.monotonic(), jobs)
        return jobs

    def free_slots(self) -> tuple[dict[Node, int], list[str]]:
        free: dict[Node, int] = {}
        errors: list[str] = []
        for node in self.nodes:
            try:
                jobs = self.jobs(node, fresh=True)
            except ScrapydError as exc:
                errors.append(str(exc))
                continue
            free[node] = node.slots - len(jobs.pending) - len(jobs.running)
        return free, errors

    def dispatch(self, spider: str, args: Mapping[str, str]) -> Dispatch | None:
        """Schedule on the node with the most free slots; None while every node is full."""
        with self._dispatch_lock:
            free, errors = self.free_slots()
            if not free:
                raise ScrapydError("no scrapyd node answered: " + "; ".join(errors))
            node = max(self.nodes, key=lambda n: free.get(n, -1))
            if free.get(node, 0) <= 0:
                return None
            job = self.clients[node].schedule(self.project, spider, args)
            with self._jobs_lock:
                self._seen.pop(node, None)
            return Dispatch(node, job)

    # -- the runner contract -----------------------------------------------------------------

    def run(self, slug: str, *, full: bool = False) -> CrawlOutcome:
        started = time.monotonic()
        limit = self.settings.crawl_time_limit_seconds
        try:
            spider, args = self.job_arguments(slug, full)
            after = self._last_run_id(slug)
            dispatch = None
            while dispatch is None:
                if self.stopping.is_set():
                    return self._outcome(slug, started, "not started: the service is stopping")
                dispatch = self.dispatch(spider, args)
                if dispatch is None:
                    self.sleep(self.poll)
        except TrackerError as exc:
            return self._outcome(slug, started, f"not dispatched: {exc}")
        logger.info("crawl of %s is scrapyd job %s on %s", slug, dispatch.job, dispatch.node.label)
        with self._lock:
            self._running[slug] = dispatch
        try:
            killed = self._wait(dispatch, started, limit)
        finally:
            with self._lock:
                self._running.pop(slug, None)
        failure = killed or self._unrecorded(slug, after, dispatch)
        lines: tuple[str, ...] = ()
        if failure:
            lines = tuple(self._log(dispatch))
            last = next((line for line in reversed(lines) if line.strip()), "")[:300]
            if last and not killed:
                failure += f"; last log line: {last}"
        return self._outcome(slug, started, failure, lines)

    def _wait(self, dispatch: Dispatch, started: float, limit: int) -> str | None:
        """Poll until the job is over; the reason it was killed, if it was."""
        killed: str | None = None
        killed_at = 0.0
        while True:
            try:
                state = self.jobs(dispatch.node).state(dispatch.job)
            except ScrapydError as exc:
                logger.warning("%s (job %s)", exc, dispatch.job)
                state = "unknown"  # the node may come back; the time limit still applies
            if state in ("finished", None):  # None: gone from the node's finished list
                return killed
            now = time.monotonic()
            if killed is None and limit > 0 and now - started > limit:
                # A hung crawl seldom answers INT (a blocked reactor): KILL it outright.
                self._cancel(dispatch, "KILL")
                killed = f"killed after {limit} s (crawl_time_limit_seconds): hung or too long"
                killed_at = now
            elif killed is not None and now - killed_at > max(60.0, 10 * self.poll):
                return f"{killed}; its node did not confirm the end of the job"
            self.sleep(self.poll)

    def _cancel(self, dispatch: Dispatch, signal: str) -> None:
        try:
            self.clients[dispatch.node].cancel(self.project, dispatch.job, signal)
        except ScrapydError as exc:
            logger.warning("cannot cancel job %s: %s", dispatch.job, exc)

    def _log(self, dispatch: Dispatch) -> list[str]:
        try:
            log_url = self.jobs(dispatch.node, fresh=True).logs.get(dispatch.job)
        except ScrapydError:
            return []
        return self.clients[dispatch.node].log_tail(log_url) if log_url else []

    def _outcome(
        self, slug: str, started: float, failure: str | None, lines: tuple[str, ...] = ()
    ) -> CrawlOutcome:
        if failure and self.stopping.is_set() and not failure.startswith("not "):
            failure = "interrupted: the service shut down during the crawl"
        return CrawlOutcome(slug, None, time.monotonic() - started, failure, lines)

    def stop_all(self, grace: float) -> None:
        """Cancel every dispatched job (INT: Scrapy closes the spider and records the run),
        then, after ``grace`` seconds, KILL what is left."""
        with self._lock:
            self.stopping.set()
            running = list(self._running.values())
        for dispatch in running:
            self._cancel(dispatch, "INT")
        deadline = time.monotonic() + grace
        for dispatch in running:
            while time.monotonic() < deadline:
                try:
                    if self.jobs(dispatch.node, fresh=True).state(dispatch.job) in (
                        "finished",
                        None,
                    ):
                        break
                except ScrapydError:
                    break
                self.sleep(min(self.poll, 1.0))
            else:
                self._cancel(dispatch, "KILL")

    # -- the database: did the job record its run? ---------------------------------------------

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = open_database(self.settings.resolved_database_url)
        return self._engine

    def _last_run_id(self, slug: str) -> int:
        with self.engine.connect() as conn:
            last = conn.execute(sa.text(_LAST_RUN), {"slug": slug}).scalar()
        return int(last or 0)

    def _unrecorded(self, slug: str, after: int, dispatch: Dispatch) -> str | None:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(_RUNS_AFTER), {"slug": slug, "after": after})
            statuses = [str(row[0]).lower() for row in rows]
        where = f"scrapyd job {dispatch.job} on {dispatch.node.label}"
        if not statuses:
            return f"{where} ended without starting a crawl run"
        if CrawlStatus.RUNNING.value in statuses:
            return f"{where} ended before the crawl recorded its result"
        return None


_LAST_RUN = (
    "SELECT max(r.id) FROM crawl_run r JOIN jurisdiction j ON j.id = r.jurisdiction_id "
    "WHERE j.slug = :slug"
)
_RUNS_AFTER = (
    "SELECT r.status FROM crawl_run r JOIN jurisdiction j ON j.id = r.jurisdiction_id "
    "WHERE j.slug = :slug AND r.id > :after"
)


def check_nodes(settings: Settings) -> list[str]:
    """One line per node: reachable, free slots, and whether it knows the project's spiders
    (``ice-tracker``-free smoke check for a deployment; tests use it too)."""
    lines = []
    for node in parse_nodes(settings.scrapyd_nodes, settings.scrapyd_slots):
        client = ScrapydClient(node)
        try:
            spiders = client.spiders(settings.scrapyd_project)
            jobs = client.jobs(settings.scrapyd_project)
        except ScrapydError as exc:
            lines.append(f"{node.label}: {exc}")
            continue
        busy = len(jobs.pending) + len(jobs.running)
        lines.append(
            f"{node.label}: ok, {node.slots - busy} of {node.slots} slots free, "
            f"spiders: {', '.join(spiders)}"
        )
    return lines
