"""Running crawls: plan each jurisdiction, wire Scrapy, record the runs.

One process runs one set of crawls (Scrapy's reactor cannot restart), all jurisdictions
concurrently in one CrawlerProcess. ``--replay`` starts a ReplayServer on 127.0.0.1 and swaps
only the HTTP transport; everything else is the live code path.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from twisted.internet import task

from spiders import SPIDERS
from tracker import __version__
from tracker.archive import WarcFile, close_warc, open_warc
from tracker.db import open_database
from tracker.documents import BlobStore
from tracker.exceptions import CrawlError
from tracker.faults import FaultPlan
from tracker.middlewares import RETRY_AFTER_SETTING
from tracker.models import CrawlStatus
from tracker.pipeline import Classifier, RunContext, register_runs, unregister_runs
from tracker.registry import Entry
from tracker.replay import REPLAY_SETTING, ReplayIndex, ReplayServer
from tracker.settings import Settings
from tracker.spider import PROBLEM_PREFIX, CrawlPlan
from tracker.store import RunSummary, Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrawlOptions:
    full: bool = False
    window: tuple[datetime, datetime] | None = None
    replay: Sequence[Path] = ()
    archive: Path | None = None  # write a WARC here (default: a new file in archive_dir)
    now: datetime | None = None
    progress: bool | None = None  # None: when stderr is a terminal
    faults: FaultPlan | None = None  # replay only: answer some requests with faults


def plan_crawl(
    entry: Entry,
    store: Store,
    jurisdiction_id: int,
    settings: Settings,
    options: CrawlOptions,
    now: datetime,
) -> CrawlPlan:
    window = options.window or (
        now - timedelta(days=settings.sweep_past_days),
        now + timedelta(days=settings.sweep_future_days),
    )
    mode, since = "full", None
    if not options.full and options.window is None:
        done = (CrawlStatus.OK, CrawlStatus.PARTIAL)
        last_full = store.last_run(jurisdiction_id, statuses=done, mode="full")
        last_any = store.last_run(jurisdiction_id, statuses=done)
        if (
            last_full is not None
            and last_any is not None
            and now - last_full.started_at < timedelta(hours=settings.full_sweep_hours)
        ):
            mode = "incremental"
            since = last_any.started_at - timedelta(hours=settings.lookback_hours)
    known = store.known_versions(jurisdiction_id, entry.platform) if mode == "incremental" else {}
    documents = store.known_documents(jurisdiction_id)
    return CrawlPlan(
        entry=entry,
        mode=mode,
        now=now,
        window_start=window[0],
        window_end=window[1],
        since=since,
        known_versions=known,
        known_documents=documents,
        refresh_recent_days=settings.refresh_recent_days,
    )


def scrapy_settings(
    settings: Settings,
    *,
    replay_address: str | None,
    warc: WarcFile | None,
    runs: Mapping[str, RunContext],
    progress: bool,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "BOT_NAME": "ice-tracker",
        "USER_AGENT": settings.full_user_agent,
        "ROBOTSTXT_OBEY": settings.robotstxt_obey,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": max(settings.download_delay, 0.1),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(settings.concurrent_per_host),
        "DOWNLOAD_DELAY": settings.download_delay,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.concurrent_per_host,
        "DOWNLOAD_MAXSIZE": settings.download_maxsize,
        "DOWNLOAD_WARNSIZE": min(settings.download_maxsize, 10 * 1024 * 1024),
        "DOWNLOAD_TIMEOUT": settings.download_timeout,
        "RETRY_TIMES": 2,
        RETRY_AFTER_SETTING: settings.retry_after_max_seconds,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": settings.log_level.upper(),
        "LOG_FORMAT": "%(levelname)s %(name)s: %(message)s",
        "ITEM_PIPELINES": {"tracker.pipeline.StorePipeline": 300},
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "tracker.middlewares.RetryMiddleware": 550,
            # after Scrapy's RedirectMiddleware (600) in the request chain, before it for answers
            "tracker.middlewares.OffsiteRedirectMiddleware": 650,
            **({"tracker.archive.WarcArchiveMiddleware": 950} if warc is not None else {}),
        },
        "EXTENSIONS": {"tracker.crawl.ProgressExtension": 500} if progress else {},
        "TRACKER_RUNS": list(runs),
        "TRACKER_WARC": str(warc.path) if warc is not None else None,
        "TRACKER_PROGRESS_SECONDS": settings.progress_seconds,
        "TRACKER_DOCUMENTS": settings.documents,
        "TRACKER_DOCUMENT_REFRESH_HOURS": settings.document_refresh_hours,
        "SPIDER_MIDDLEWARES": {"tracker.documents.DocumentRequestsMiddleware": 950},
    }
    if replay_address:
        # The archive is on loopback: politeness delays would only slow the replay down.
        values.update(
            {
                "DOWNLOAD_HANDLERS": {
                    "http": "tracker.replay.ReplayDownloadHandler",
                    "https": "tracker.replay.ReplayDownloadHandler",
                },
                REPLAY_SETTING: replay_address,
                "AUTOTHROTTLE_ENABLED": False,
                "DOWNLOAD_DELAY": 0,
                "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
            }
        )
    return values


def run_crawls(
    entries: Sequence[Entry],
    settings: Settings,
    options: CrawlOptions,
    classifier: Classifier | None = None,
) -> list[RunSummary]:
    """Crawl ``entries`` into the configured database; returns one summary per jurisdiction."""
    if not entries:
        raise CrawlError("no jurisdictions to crawl")
    for entry in entries:
        if entry.platform not in SPIDERS:
            raise CrawlError(f"{entry.slug}: no spider for platform {entry.platform!r}")
    now = options.now or datetime.now(UTC)
    store = Store(
        open_database(settings.resolved_database_url), blobs=BlobStore(settings.resolved_blob_dir)
    )

    index = None
    if options.replay:
        index = ReplayIndex.from_files(options.replay)
        if not len(index):
            raise CrawlError(f"no responses in {', '.join(map(str, options.replay))}")
    warc_path = options.archive
    if warc_path is None and settings.archive and not options.replay:
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        slugs = "-".join(e.slug for e in entries)[:80]
        warc_path = settings.resolved_archive_dir / f"{stamp}-{slugs}.warc.gz"
    warc = None
    if warc_path is not None:
        warc = open_warc(
            warc_path,
            info={
                "software": f"ice-council-tracker/{__version__}",
                "format": "WARC File Format 1.1",
                "description": "responses fetched by a crawl",
            },
        )

    runs: dict[str, RunContext] = {}
    plans: list[CrawlPlan] = []
    for entry in entries:
        jurisdiction_id = store.ensure_jurisdiction(entry)
        plan = plan_crawl(entry, store, jurisdiction_id, settings, options, now)
        store.interrupt_stale_runs(jurisdiction_id)
        run_id = store.start_run(
            jurisdiction_id,
            spider=entry.platform,
            mode=plan.mode,
            since=plan.since,
            window=(plan.window_start, plan.window_end),
            replay=", ".join(str(p) for p in options.replay) or None,
            archive=str(warc_path) if warc_path else None,
        )
        spider_cls = SPIDERS[entry.platform]
        runs[f"{spider_cls.platform}:{entry.slug}"] = RunContext(
            store=store,
            jurisdiction_id=jurisdiction_id,
            run_id=run_id,
            batch_size=settings.batch_size,
            classifier=classifier,
            ocr=settings.ocr,
        )
        plans.append(plan)

    progress = sys.stderr.isatty() if options.progress is None else options.progress
    register_runs(runs)
    try:
        if index is not None:
            with ReplayServer(index, options.faults) as server:
                _run_process(
                    plans,
                    scrapy_settings(
                        settings,
                        replay_address=server.address,
                        warc=warc,
                        runs=runs,
                        progress=progress,
                    ),
                )
                if options.faults is not None:
                    injected = server.injected
                    print(
                        f"replay injected {sum(injected.values())} faults: "
                        + ", ".join(f"{k} {n}" for k, n in sorted(injected.items())),
                        file=sys.stderr,
                    )
        else:
            _run_process(
                plans,
                scrapy_settings(
                    settings, replay_address=None, warc=warc, runs=runs, progress=progress
                ),
            )
    finally:
        unregister_runs(runs)
        if warc is not None:
            close_warc(warc)
    return [store.summary(ctx.run_id, slug=name.split(":", 1)[1]) for name, ctx in runs.items()]


def _run_process(plans: Sequence[CrawlPlan], values: dict[str, Any]) -> None:
    process = CrawlerProcess({**values, "LOG_INSTALL_ROOT_HANDLER": True})
    for plan in plans:
        process.crawl(SPIDERS[plan.entry.platform], plan=plan)
    process.start()


class ProgressExtension:
    """Reports a running crawl's progress on stderr every few seconds."""

    def __init__(self, crawler: Crawler, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressExtension:
        ext = cls(crawler, crawler.settings.getfloat("TRACKER_PROGRESS_SECONDS", 5.0))
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def line(self) -> str:
        assert self.crawler.stats is not None
        assert self.crawler.spider is not None
        stats = self.crawler.stats.get_stats()
        problems = sum(int(v) for k, v in stats.items() if k.startswith(PROBLEM_PREFIX))
        return (
            f"{self.crawler.spider.name}: {stats.get('downloader/request_count', 0)} "
            f"requests, {stats.get('item_scraped_count', 0)} items, {problems} problems"
        )

    def opened(self) -> None:
        if self.interval > 0:
            self.loop = task.LoopingCall(lambda: print(self.line(), file=sys.stderr, flush=True))
            self.loop.start(self.interval, now=False)

    def closed(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
