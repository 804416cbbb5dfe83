"""The Scrapy item pipeline: classify, then store, a batch per transaction.

The crawl (tracker/crawl.py) puts a ``RunContext`` per spider into the crawler settings; the
spider itself never sees the database. When the spider closes, the run is recorded with its
counts and a status: ok, partial (some pages failed; the counts say which kinds) or failed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from sqlalchemy.exc import SQLAlchemyError
from twisted.internet.threads import deferToThread

from tracker.extract import extract_text
from tracker.items import (
    DocumentText,
    Relevance,
    ScrapedAgenda,
    ScrapedAgendaItem,
    ScrapedDocument,
    ScrapedItem,
    ScrapedMatter,
)
from tracker.models import CrawlStatus
from tracker.spider import PROBLEM_PREFIX, TrackerSpider
from tracker.store import JurisdictionWriter, Store

logger = logging.getLogger(__name__)


class Classifier(Protocol):
    """What the classify stage answers for each kind of text (tracker.relevance)."""

    def item(self, item: ScrapedAgendaItem) -> Relevance | None: ...

    def matter(self, matter: ScrapedMatter) -> Relevance | None: ...

    def pages(self, pages: tuple[str, ...]) -> Relevance | None: ...


@dataclass(frozen=True)
class RunContext:
    store: Store
    jurisdiction_id: int
    run_id: int
    batch_size: int
    classifier: Classifier | None = None
    ocr: bool = True


# Scrapy deep-copies its settings, so live objects (the store, its engine) cannot travel in
# them: crawls register their contexts here, and the settings carry only the spider names.
_RUNS: dict[str, RunContext] = {}


def register_runs(runs: Mapping[str, RunContext]) -> None:
    _RUNS.update(runs)


def unregister_runs(names: Iterable[str]) -> None:
    for name in names:
        _RUNS.pop(name, None)


def problems_from_stats(stats: Mapping[str, Any]) -> dict[str, int]:
    return {
        k[len(PROBLEM_PREFIX) :]: int(v) for k, v in stats.items() if k.startswith(PROBLEM_PREFIX)
    }


def run_status(reason: str, items: int, problems: Mapping[str, int]) -> CrawlStatus:
    if reason != "finished":
        return CrawlStatus.FAILED
    if problems:
        return CrawlStatus.PARTIAL if items else CrawlStatus.FAILED
    return CrawlStatus.OK


class StorePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.context: RunContext | None = None
        self.writer: JurisdictionWriter | None = None
        self.buffer: list[ScrapedItem] = []
        self.items = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        if not crawler.settings.getlist("TRACKER_RUNS"):
            raise NotConfigured("no run context")
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    @property
    def spider(self) -> TrackerSpider:
        spider = self.crawler.spider
        assert isinstance(spider, TrackerSpider)
        return spider

    def open_spider(self) -> None:
        self.context = _RUNS[self.spider.name]
        self.writer = self.context.store.writer(self.context.jurisdiction_id, self.context.run_id)

    async def process_item(self, item: Any) -> Any:
        assert self.context is not None
        if isinstance(item, ScrapedDocument) and item.body is not None:
            # Text extraction is CPU work: off the reactor thread, so downloads go on.
            item = await maybe_deferred_to_future(deferToThread(self.read_document, item))
        elif isinstance(item, ScrapedAgenda) and self.context.classifier is not None:
            item = item.model_copy(update={"items": tuple(self.classified(i) for i in item.items)})
        elif isinstance(item, ScrapedMatter) and self.context.classifier is not None:
            relevance = self.guarded(self.context.classifier.matter, item, item.platform_id)
            item = item.model_copy(update={"relevance": relevance})
        self.buffer.append(item)
        self.items += 1
        if len(self.buffer) >= self.context.batch_size:
            self.flush()
        return item

    def read_document(self, document: ScrapedDocument) -> DocumentText:
        assert self.context is not None
        assert document.body is not None
        try:
            extraction = extract_text(
                document.body, document.declared_type, document.url, ocr=self.context.ocr
            )
        except Exception as exc:  # an extractor bug must not lose the fetched bytes
            return DocumentText(
                document=document,
                content_type="application/octet-stream",
                pages=(),
                error=f"extraction failed: {type(exc).__name__}",
            )
        pages = tuple(page.text for page in extraction.pages)
        relevance = None
        if self.context.classifier is not None and pages:
            relevance = self.guarded(self.context.classifier.pages, pages, document.url)
        return DocumentText(
            document=document,
            content_type=extraction.content_type,
            pages=pages,
            needs_ocr=extraction.needs_ocr,
            ocr_used=extraction.ocr_used,
            error=extraction.error,
            warning=extraction.warning,
            relevance=relevance,
        )

    def classified(self, item: ScrapedAgendaItem) -> ScrapedAgendaItem:
        assert self.context is not None
        assert self.context.classifier is not None
        relevance = self.guarded(self.context.classifier.item, item, item.platform_id)
        return item.model_copy(update={"relevance": relevance})

    def guarded(self, classify: Any, subject: Any, where: str) -> Relevance | None:
        try:
            result: Relevance | None = classify(subject)
            return result
        except Exception as exc:  # a classifier bug must not cost the item itself
            self.spider.problem("classify", where, f"{type(exc).__name__}: {exc}")
            return None

    def flush(self) -> None:
        batch, self.buffer = self.buffer, []
        if not batch or self.writer is None:
            return
        try:
            self.writer.write(batch)
            return
        except (SQLAlchemyError, ValueError, LookupError) as exc:
            logger.info("batch of %d failed (%s); writing one at a time", len(batch), exc)
        # One bad record must not cost the others: retry each in its own transaction.
        for item in batch:
            try:
                self.writer.write([item])
            except (SQLAlchemyError, ValueError, LookupError) as exc:
                self.spider.problem(
                    f"store/{type(item).__name__}",
                    self.spider.entry.slug,
                    str(exc).splitlines()[0][:300],
                )

    def close_spider(self) -> None:
        self.flush()

    def spider_closed(self, spider: TrackerSpider, reason: str) -> None:
        assert self.context is not None
        assert self.crawler.stats is not None
        stats = self.crawler.stats.get_stats()
        problems = problems_from_stats(stats)
        status = run_status(reason, self.items, problems)
        message = "; ".join(spider.problem_samples[:5]) or None
        if reason != "finished":
            message = f"stopped: {reason}" + (f"; {message}" if message else "")
        self.context.store.finish_run(
            self.context.run_id,
            status=status,
            requests=int(stats.get("downloader/request_count", 0)),
            items=self.items,
            problems=problems,
            message=message,
        )
