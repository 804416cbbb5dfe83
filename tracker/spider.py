"""What every platform spider shares: its plan, JSON decoding and accounting for failures.

A spider gets a ``CrawlPlan`` (the registry entry, full or incremental, the window) and yields
items from tracker/items.py. It never touches the database. A page that fails (HTTP error,
timeout, malformed body) is a *problem*: counted under ``tracker/problem/<kind>`` in the crawl
stats, logged once with its URL, and the crawl goes on; the run is then recorded as partial. A
missing optional resource (a 404 on an endpoint some clients lack) is not a problem, only
counted under ``tracker/unavailable/<kind>``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import scrapy
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TCPTimedOutError
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.python.failure import Failure

from tracker.items import MeetingListing, ScrapedBody, ScrapedMeeting
from tracker.parsing import body_kind
from tracker.registry import Entry

logger = logging.getLogger(__name__)

PROBLEM_PREFIX = "tracker/problem/"
UNAVAILABLE_PREFIX = "tracker/unavailable/"
MAX_PROBLEM_SAMPLES = 20


@dataclass(frozen=True)
class CrawlPlan:
    entry: Entry
    mode: str  # "full" | "incremental"
    now: datetime
    window_start: datetime
    window_end: datetime
    since: datetime | None = None  # incremental: ask for what changed after this
    # Platform ids of meetings mapped to a fingerprint of what we stored; an incremental crawl
    # skips the details of meetings whose fingerprint has not changed.
    known_versions: Mapping[str, str] = field(default_factory=dict)
    # Document URLs mapped to when they were last checked and their validators
    # (tracker.documents.KnownDocument), for conditional requests.
    known_documents: Mapping[str, Any] = field(default_factory=dict)
    refresh_recent_days: int = 14

    def may_skip(self, platform_id: str, version: str | None, start: datetime | None) -> bool:
        """May an incremental crawl skip this meeting's details? Only when nothing changed and
        it is not a recent meeting (votes and minutes arrive after a meeting without always
        touching its change markers)."""
        if self.mode != "incremental" or not version:
            return False
        if self.known_versions.get(platform_id) != version:
            return False
        if start is None:
            return False
        recent_from = self.now - timedelta(days=self.refresh_recent_days)
        return not recent_from <= start <= self.now


class _Bad:
    """Marker for a body that could not be decoded (distinct from a JSON null)."""


BAD_BODY = _Bad()


class TrackerSpider(scrapy.Spider):
    platform: ClassVar[str]

    def __init__(self, plan: CrawlPlan, **kwargs: Any) -> None:
        super().__init__(name=f"{self.platform}:{plan.entry.slug}", **kwargs)
        self.plan = plan
        self.entry = plan.entry
        self.allowed_domains = list(plan.entry.domains())
        self.problem_samples: list[str] = []
        self.bodies_seen: set[str] = set()
        # Listing bookkeeping: pages still out, whether every page came back whole, the
        # meetings they named, and whether the MeetingListing has been given.
        self.listing_pending: set[str] = set()
        self.listing_complete = True
        self.listing_given = False
        self.listed_ids: set[str] = set()

    # -- listings: absence is not removal ---------------------------------------------------
    def listing_page(self, request: scrapy.Request) -> scrapy.Request:
        """Count ``request`` as one page of the meeting listing (its key survives redirects)."""
        key = request.meta.setdefault("listing_key", request.url)
        self.listing_pending.add(key)
        return request

    def listing_arrived(self, answer: scrapy.Request | Response, *, whole: bool = True) -> None:
        """A listing page came back, or its request failed (``whole=False``: failed or could
        not be read)."""
        self.listing_pending.discard(answer.meta.get("listing_key", answer.url))
        if not whole:
            self.listing_complete = False

    def listing_done(self, end: datetime | None = None) -> Iterator[MeetingListing]:
        """The MeetingListing, once, when every page arrived whole (up to ``end``)."""
        if self.listing_pending or not self.listing_complete or self.listing_given:
            return
        self.listing_given = True
        end = self.plan.window_end if end is None else end
        if end > self.plan.window_start:
            yield MeetingListing(
                platform=self.platform,
                window_start=self.plan.window_start,
                window_end=end,
                meeting_platform_ids=frozenset(self.listed_ids),
            )

    def body_of(self, meeting: ScrapedMeeting) -> Iterator[ScrapedBody]:
        """The meeting's body, once per crawl, as far as the listing names it."""
        body_id = meeting.body_platform_id
        if body_id and body_id not in self.bodies_seen:
            self.bodies_seen.add(body_id)
            name = meeting.body_name or body_id
            yield ScrapedBody(
                platform_id=body_id, name=name, kind=body_kind(None, name), partial=True
            )

    # -- accounting ------------------------------------------------------------------------
    def problem(self, kind: str, url: str, detail: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(PROBLEM_PREFIX + kind)
        message = f"{kind}: {url}: {detail}"
        if len(self.problem_samples) < MAX_PROBLEM_SAMPLES:
            self.problem_samples.append(message)
        logger.warning("[%s] %s", self.entry.slug, message)

    def unavailable(self, kind: str, url: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(UNAVAILABLE_PREFIX + kind)
        logger.info("[%s] not available (%s): %s", self.entry.slug, kind, url)

    # -- decoding --------------------------------------------------------------------------
    def load_json(self, response: Response, expect: type | None = None) -> Any:
        """The decoded body, or BAD_BODY after recording a problem."""
        kind = response.meta.get("kind", "page")
        try:
            data = json.loads(response.body)
        except (ValueError, UnicodeDecodeError) as exc:
            self.problem(f"bad_json/{kind}", response.url, f"malformed JSON ({exc})")
            return BAD_BODY
        if expect is not None and not isinstance(data, expect):
            self.problem(
                f"bad_json/{kind}",
                response.url,
                f"expected a JSON {expect.__name__}, got {type(data).__name__}",
            )
            return BAD_BODY
        return data

    # -- failures --------------------------------------------------------------------------
    def on_error(self, failure: Failure) -> Any:
        """Errback for every request: classify the failure, record it, let the crawl go on."""
        request = failure.request  # type: ignore[attr-defined]
        kind = request.meta.get("kind", "page")
        if failure.check(HttpError):
            error = failure.value
            assert isinstance(error, HttpError)
            response: Response = error.response
            status = response.status
            missing = status in (404, 410) and request.meta.get("optional")
            offsite = request.meta.get("offsite_redirect")
            if offsite:
                self.problem(
                    f"offsite_redirect/{kind}",
                    request.url,
                    f"HTTP {status} to {offsite}, outside the registry's domains; not followed",
                )
            elif missing or self.failure_means_empty(response):
                self.unavailable(kind, request.url)
            else:
                self.problem(f"http_{status}/{kind}", request.url, f"HTTP {status}")
        elif failure.check(DownloadCancelledError) and "max size" in failure.getErrorMessage():
            limit = self.crawler.settings.getint("DOWNLOAD_MAXSIZE")
            self.problem(
                f"too_large/{kind}",
                request.url,
                f"larger than the download limit ({limit:,} bytes)",
            )
        elif failure.check(TwistedTimeoutError, TCPTimedOutError, DownloadTimeoutError):
            self.problem(f"timeout/{kind}", request.url, "timed out")
        elif failure.check(DNSLookupError, ConnectionRefusedError):
            self.problem(f"connection/{kind}", request.url, failure.getErrorMessage())
        else:
            self.problem(
                f"error/{kind}",
                request.url,
                f"{type(failure.value).__name__}: {failure.getErrorMessage()}",
            )
        return self.after_error(request)

    def failure_means_empty(self, response: Response) -> bool:
        """Platform quirks where an error status means "nothing here" (override per platform)."""
        return False

    def after_error(self, request: scrapy.Request) -> Any:
        """Requests that must still happen when ``request`` failed (override per platform)."""
        return None
