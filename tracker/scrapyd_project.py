"""The tracker as a scrapyd project: its Scrapy settings module and its spiders.

A scrapyd node runs ``scrapy crawl PLATFORM -a slug=... -a mode=...`` in a process of its own
with this module as ``SCRAPY_SETTINGS_MODULE`` (scrapy.cfg at the repository root names it
too, so ``scrapy list`` works from a checkout). Deployment is in docs/scaling.md.

There is one spider per platform of ``spiders.SPIDERS``, named after the platform. Its
arguments are strings, because that is all scrapyd's schedule.json can carry:

``slug``
    the registry entry to crawl (required).
``entry``
    the registry entry itself as JSON, for places that are not in the bundled registry (a
    user's ``--registry`` file lives beside the scheduler, not on the node).
``mode``
    ``auto`` (default: full or incremental, decided from the runs in the database, as
    ``ice-tracker crawl`` decides), ``full`` or ``incremental``.
``window_start``, ``window_end``
    ISO dates or times of the meeting window (default: sweep_past_days / sweep_future_days
    around now). A window makes an ``auto`` crawl full, as ``--from/--to`` does.
``since``
    ISO time; with ``mode=incremental``, ask for what changed after it (default: the
    lookback before the last successful run).
``now``
    ISO time standing in for the clock (testing).
``replay``
    ``HOST:PORT`` of a running replay server (tracker/replay.py) to crawl instead of the live
    sites (testing and benchmarks).
``replay_archive``
    comma-separated WARC files *on the node*: the crawl process serves them itself.

The plan (``CrawlPlan``) and the run (``RunContext``) are built in :func:`prepare_run`, in the
crawl process, before the spider exists: the database URL and every other tracker setting come
from the node's environment (``TRACKER_DATABASE_URL`` ...) or config file, never from the job's
arguments, so no password travels through scrapyd's queue or shows in its job list. The
spider itself is the unchanged platform spider: it never touches the database, and the
pipeline (tracker/pipeline.py) records the run exactly as for a local crawl.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, ClassVar

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Request
from scrapy.settings import BaseSettings

from spiders import SPIDERS
from tracker import __version__
from tracker.archive import close_warc, open_warc
from tracker.crawl import CrawlOptions, plan_crawl, scrapy_settings
from tracker.db import open_database
from tracker.documents import BlobStore
from tracker.exceptions import ConfigError, CrawlError
from tracker.pipeline import RunContext, register_runs, unregister_runs
from tracker.registry import Entry, load_registry
from tracker.replay import ReplayIndex, ReplayServer
from tracker.settings import Settings, load_settings
from tracker.spider import CrawlPlan, TrackerSpider
from tracker.store import Store

logger = logging.getLogger(__name__)

PROJECT = "ice_tracker"
MODES = ("auto", "full", "incremental")
ARGUMENTS = frozenset(
    {"slug", "entry", "mode", "window_start", "window_end", "since", "now", "replay"}
    | {"replay_archive", "_job"}
)


def _project_settings() -> dict[str, Any]:
    """The settings of a local crawl (tracker.crawl.scrapy_settings), without a run yet."""
    try:
        settings = load_settings()
    except ConfigError as exc:  # a broken config file: the crawl reports it, not the import
        logger.error("tracker settings: %s", exc)
        settings = Settings()
    values = scrapy_settings(settings, replay_address=None, warc=None, runs={}, progress=False)
    return {**values, "SPIDER_LOADER_CLASS": f"{__name__}.SpiderLoader"}


globals().update(_project_settings())


# -- the plan, from strings ----------------------------------------------------------------------


def parse_time(value: str, name: str) -> datetime:
    """An ISO date (midnight UTC) or time (UTC when it names no offset)."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CrawlError(f"{name}: not an ISO date or time: {value!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def job_arguments(
    slug: str,
    *,
    mode: str = "auto",
    window: tuple[datetime, datetime] | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    entry: Entry | None = None,
    replay: str | None = None,
    replay_archives: Iterable[Path] = (),
) -> dict[str, str]:
    """The string arguments of a job: what the dispatcher sends and :func:`prepare_run` reads."""
    if mode not in MODES:
        raise CrawlError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    args = {"slug": slug, "mode": mode}
    if window is not None:
        args["window_start"], args["window_end"] = (w.isoformat() for w in window)
    if since is not None:
        args["since"] = since.isoformat()
    if now is not None:
        args["now"] = now.isoformat()
    if entry is not None:
        args["entry"] = entry.model_dump_json(exclude_unset=True)
    if replay:
        args["replay"] = replay
    archives = ",".join(str(p) for p in replay_archives)
    if archives:
        args["replay_archive"] = archives
    return args


@dataclass
class PreparedRun:
    """What the crawl process holds for one job, and how it lets go of it."""

    name: str
    plan: CrawlPlan
    context: RunContext
    values: dict[str, Any]  # Scrapy settings for this run (the replay transport, the archive)
    cleanup: list[Callable[[], None]]

    def close(self) -> None:
        while self.cleanup:
            with contextlib.suppress(Exception):
                self.cleanup.pop()()


def _entry(args: Mapping[str, str]) -> Entry:
    slug = args.get("slug")
    if not slug:
        raise CrawlError("a scrapyd job needs the argument slug")
    if args.get("entry"):
        entry = Entry.model_validate_json(args["entry"])
        if entry.slug != slug:
            raise CrawlError(f"entry is {entry.slug!r}, slug is {slug!r}")
        return entry
    return load_registry().get(slug)


def prepare_run(args: Mapping[str, str], settings: Settings | None = None) -> PreparedRun:
    """Plan the crawl and start its run in the database, from the job's string arguments."""
    unknown = set(args) - ARGUMENTS
    if unknown:
        raise CrawlError(f"unknown job arguments: {', '.join(sorted(unknown))}")
    settings = settings or load_settings()
    entry = _entry(args)
    if entry.platform not in SPIDERS:
        raise CrawlError(f"{entry.slug}: no spider for platform {entry.platform!r}")
    mode = args.get("mode") or "auto"
    if mode not in MODES:
        raise CrawlError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    now = parse_time(args["now"], "now") if args.get("now") else datetime.now(UTC)
    window = None
    if args.get("window_start") or args.get("window_end"):
        if not (args.get("window_start") and args.get("window_end")):
            raise CrawlError("window_start and window_end go together")
        window = (
            parse_time(args["window_start"], "window_start"),
            parse_time(args["window_end"], "window_end"),
        )
    replay = args.get("replay") or None
    archives = [Path(p) for p in (args.get("replay_archive") or "").split(",") if p]
    if replay and archives:
        raise CrawlError("replay and replay_archive are alternatives")

    store = Store(
        open_database(settings.resolved_database_url), blobs=BlobStore(settings.resolved_blob_dir)
    )
    cleanup: list[Callable[[], None]] = [store.engine.dispose]
    try:
        jurisdiction_id = store.ensure_jurisdiction(entry)
        options = CrawlOptions(full=mode == "full", window=window, now=now)
        plan = plan_crawl(entry, store, jurisdiction_id, settings, options, now)
        if mode == "incremental":
            since = parse_time(args["since"], "since") if args.get("since") else plan.since
            plan = replace(
                plan,
                mode="incremental",
                since=since,
                known_versions=store.known_versions(jurisdiction_id, entry.platform),
            )

        if archives:
            index = ReplayIndex.from_files(archives)
            if not len(index):
                raise CrawlError(f"no responses in {', '.join(map(str, archives))}")
            server = ReplayServer(index)
            server.__enter__()
            cleanup.append(lambda: server.__exit__(None, None, None))
            replay = server.address

        warc = None
        warc_path = None
        if settings.archive and not replay:
            stamp = now.strftime("%Y%m%dT%H%M%SZ")
            job = args.get("_job", "")[:12]
            warc_path = settings.resolved_archive_dir / f"{stamp}-{entry.slug}-{job}.warc.gz"
            warc = open_warc(
                warc_path,
                info={
                    "software": f"ice-council-tracker/{__version__}",
                    "format": "WARC File Format 1.1",
                    "description": f"responses fetched by scrapyd job {args.get('_job', '?')}",
                },
            )
            cleanup.append(lambda: close_warc(warc))

        store.interrupt_stale_runs(jurisdiction_id)
        run_id = store.start_run(
            jurisdiction_id,
            spider=entry.platform,
            mode=plan.mode,
            since=plan.since,
            window=(plan.window_start, plan.window_end),
            replay=replay if replay else None,
            archive=str(warc_path) if warc_path else None,
        )
    except BaseException:
        for step in reversed(cleanup):
            with contextlib.suppress(Exception):
                step()
        raise

    from tracker.relevance import RelevanceStage

    name = f"{SPIDERS[entry.platform].platform}:{entry.slug}"
    context = RunContext(
        store=store,
        jurisdiction_id=jurisdiction_id,
        run_id=run_id,
        batch_size=settings.batch_size,
        classifier=RelevanceStage(),
        ocr=settings.ocr,
    )
    values = scrapy_settings(
        settings, replay_address=replay, warc=warc, runs={name: context}, progress=False
    )
    register_runs({name: context})
    cleanup.insert(1, lambda: unregister_runs([name]))
    return PreparedRun(name, plan, context, values, cleanup)


# -- the spiders scrapyd lists and runs ----------------------------------------------------------


def dispatched_spider(platform: str) -> type[TrackerSpider]:
    """The platform's spider, constructed from a scrapyd job's string arguments."""
    base = SPIDERS[platform]

    class Dispatched(base):  # type: ignore[valid-type,misc]
        name = platform

        @classmethod
        def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Dispatched:
            prepared = prepare_run({k: str(v) for k, v in kwargs.items()})
            # Before the crawler applies its settings: the run's transport, archive and name.
            # (scrapyd's own -s settings, LOG_FILE and the like, rank higher and stay).
            crawler.settings.setdict(prepared.values, priority="spider")
            crawler.signals.connect(
                lambda: prepared.close(), signal=signals.engine_stopped, weak=False
            )
            spider: Dispatched = super().from_crawler(crawler, plan=prepared.plan)
            return spider

    Dispatched.__name__ = Dispatched.__qualname__ = f"Dispatched{base.__name__}"
    return Dispatched


class SpiderLoader:
    """Scrapy's spider loader for this project: one spider per platform, by platform name."""

    spiders: ClassVar[dict[str, type[TrackerSpider]]] = {p: dispatched_spider(p) for p in SPIDERS}

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> SpiderLoader:
        return cls()

    def load(self, spider_name: str) -> type[Spider]:
        try:
            return self.spiders[spider_name]
        except KeyError:
            raise KeyError(f"Spider not found: {spider_name}") from None

    def list(self) -> list[str]:
        return sorted(self.spiders)

    def find_by_request(self, request: Request) -> builtins.list[str]:
        return []
