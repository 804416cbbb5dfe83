"""Running one spider callback on a recorded body, with the clock frozen in the CrawlPlan."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.test import get_crawler

from tracker.registry import Entry, load_registry
from tracker.spider import PROBLEM_PREFIX, CrawlPlan, TrackerSpider

S = TypeVar("S", bound=TrackerSpider)
T = TypeVar("T")


def make_spider(
    cls: type[S],
    entry: Entry | str,
    *,
    now: datetime,
    window: tuple[datetime, datetime],
    mode: str = "full",
    known: dict[str, str] | None = None,
) -> S:
    plan = CrawlPlan(
        entry=load_registry().get(entry) if isinstance(entry, str) else entry,
        mode=mode,
        now=now,
        window_start=window[0],
        window_end=window[1],
        since=now if mode == "incremental" else None,
        known_versions=known or {},
    )
    crawler = get_crawler(cls)
    spider = cls.from_crawler(crawler, plan=plan)
    crawler.spider = spider
    assert crawler.stats is not None
    crawler.stats.open_spider()
    return spider


def json_response(url: str, body: Any, **meta: Any) -> TextResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return TextResponse(url, body=raw, encoding="utf-8", request=Request(url, meta=meta))


def html_response(url: str, body: bytes, **meta: Any) -> HtmlResponse:
    return HtmlResponse(url, body=body, encoding="utf-8", request=Request(url, meta=meta))


def problems(spider: TrackerSpider) -> dict[str, int]:
    assert spider.crawler.stats is not None
    return {
        k[len(PROBLEM_PREFIX) :]: v
        for k, v in spider.crawler.stats.get_stats().items()
        if k.startswith(PROBLEM_PREFIX)
    }


def of_type(items: Iterable[Any], kind: type[T]) -> list[T]:
    return [i for i in items if isinstance(i, kind)]
