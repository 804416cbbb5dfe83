"""Downloader middlewares the crawls add to Scrapy's own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware as ScrapyRetryMiddleware
from scrapy.http import Request, Response
from scrapy.utils.response import response_status_message

RETRY_AFTER_SETTING = "TRACKER_RETRY_AFTER_MAX_SECONDS"


def retry_after_seconds(value: bytes | None) -> float | None:
    """Seconds a Retry-After header asks for (a number, or an HTTP date); None if unreadable."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class RetryMiddleware(ScrapyRetryMiddleware):
    """Scrapy's retries, plus two things sites expect of a polite client.

    - Answers a platform gives every time are final: the request meta ``final_if`` holds a
      byte string whose presence in an error body means "do not ask again" (Legistar's HTTP
      500 "cast to value type" for an item without votes).
    - A 429 or 503 with Retry-After is retried only after the wait it asks for, up to
      TRACKER_RETRY_AFTER_MAX_SECONDS; a longer wait is not retried in this crawl.
    """

    max_wait = 120.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryMiddleware:
        middleware = super().from_crawler(crawler)
        middleware.max_wait = crawler.settings.getfloat(RETRY_AFTER_SETTING, 120.0)
        return middleware

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        marker = request.meta.get("final_if")
        if marker and response.status >= 400 and marker in response.body.lower():
            return response
        if response.status in (429, 503) and not request.meta.get("dont_retry"):
            wait = retry_after_seconds(response.headers.get(b"Retry-After"))
            if wait is not None:
                if wait > self.max_wait:
                    return response  # the site asks us to stay away longer than a crawl
                await asyncio.sleep(wait)
                return self._retry(request, response_status_message(response.status)) or response
        return super().process_response(request, response)


def allowed_host(host: str, domains: list[str]) -> bool:
    """Whether ``host`` is one of ``domains`` or below one (any host when there are none)."""
    host = host.lower().rstrip(".")
    return not domains or any(host == d or host.endswith("." + d) for d in domains)


class OffsiteRedirectMiddleware:
    """A redirect to a host outside the registry's domains is a problem of the crawl, not a
    request that quietly vanishes.

    Scrapy's offsite filter drops such a redirect without calling the request's errback, so a
    listing redirected elsewhere would leave a run "ok" with data missing. Placed before
    Scrapy's RedirectMiddleware in the response chain, this one stops the redirect instead:
    the 3xx answer reaches the spider's errback, which records it as ``offsite_redirect``.
    """

    def process_response(self, request: Request, response: Response, spider: Spider) -> Response:
        location = response.headers.get(b"Location")
        if 300 <= response.status < 400 and location:
            target = urljoin(request.url, location.decode("latin-1"))
            host = urlsplit(target).hostname or ""
            domains = [d.lower() for d in getattr(spider, "allowed_domains", None) or []]
            if not allowed_host(host, domains):
                request.meta["dont_redirect"] = True
                request.meta["offsite_redirect"] = target
        return response
