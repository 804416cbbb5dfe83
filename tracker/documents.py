"""Documents at fetch time: requests for what items link to, and the bytes kept per version.

``DocumentRequestsMiddleware`` is a spider middleware: every spider declares the agendas,
minutes and attachments its items link to (``DocumentRef``), and this turns each new URL into
a request, once per crawl, with the download size limit. The answer becomes a
``ScrapedDocument`` item; the pipeline extracts its text (tracker/extract.py) and the store
keeps each distinct content as a version. Because the requests go through the downloader like
any other, every document lands in the crawl's WARC archive and replays from it.

A document fetched recently is not asked for again; an older one is asked for with
If-None-Match / If-Modified-Since, and a 304 means unchanged. A 404 or 410 is recorded on the
document (cities delete files) without failing the crawl; other failures are crawl problems.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.python.failure import Failure

from tracker.items import DocumentRef, ScrapedAgenda, ScrapedDocument
from tracker.spider import TrackerSpider

GONE = (404, 410)
SHA256_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class KnownDocument:
    """What the store knows of a URL, handed to the crawl so it can ask conditionally."""

    checked_at: datetime | None
    etag: str | None
    last_modified: str | None


def refs_of(item: Any) -> Iterator[DocumentRef]:
    """The documents an item links to (an agenda's documents are its items')."""
    if isinstance(item, ScrapedAgenda):
        for agenda_item in item.items:
            yield from agenda_item.documents
    else:
        yield from getattr(item, "documents", ()) or ()


class DocumentRequestsMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.enabled = crawler.settings.getbool("TRACKER_DOCUMENTS", True)
        self.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        self.refresh = timedelta(
            hours=crawler.settings.getfloat("TRACKER_DOCUMENT_REFRESH_HOURS", 24)
        )
        self.seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DocumentRequestsMiddleware:
        return cls(crawler)

    @property
    def spider(self) -> TrackerSpider:
        spider = self.crawler.spider
        assert isinstance(spider, TrackerSpider)
        return spider

    def process_spider_output(
        self, response: Response | None, result: Iterable[Any]
    ) -> Iterator[Any]:
        for output in result:
            yield output
            yield from self.requests_for(output)

    async def process_spider_output_async(
        self, response: Response | None, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for output in result:
            yield output
            for request in self.requests_for(output):
                yield request

    def requests_for(self, output: Any) -> Iterator[scrapy.Request]:
        if not self.enabled or isinstance(output, scrapy.Request):
            return
        for ref in refs_of(output):
            if (
                not ref.fetch
                or ref.url in self.seen
                or not ref.url.startswith(("http://", "https://"))
            ):
                continue
            self.seen.add(ref.url)
            request = self.request(ref)
            if request is not None:
                yield request

    def request(self, ref: DocumentRef) -> scrapy.Request | None:
        known: Mapping[str, KnownDocument] = self.spider.plan.known_documents
        headers: dict[str, str] = {}
        previous = known.get(ref.url)
        if previous is not None:
            if previous.checked_at and self.spider.plan.now - previous.checked_at < self.refresh:
                assert self.crawler.stats is not None
                self.crawler.stats.inc_value("tracker/skipped/recent_document")
                return None
            if previous.etag:
                headers["If-None-Match"] = previous.etag
            if previous.last_modified:
                headers["If-Modified-Since"] = previous.last_modified
        return scrapy.Request(
            ref.url,
            callback=self.parse_document,
            errback=self.document_failed,
            headers=headers,
            priority=-10,  # listings and votes first, files after
            meta={
                "kind": "document",
                "document_ref": ref,
                "download_maxsize": self.maxsize,
                "handle_httpstatus_list": [304, *GONE],
            },
        )

    def parse_document(self, response: Response) -> Iterator[ScrapedDocument]:
        ref: DocumentRef = response.meta["document_ref"]
        status = response.status
        fields: dict[str, Any] = {
            "url": ref.url,
            "kind": ref.kind,
            "name": ref.name,
            "status": status,
            "retrieved_at": datetime.now(UTC),
            "warc_record": response.meta.get("warc_record"),
        }
        if status in GONE:
            self.spider.unavailable("document", ref.url)
            reason = "Not Found" if status == 404 else "Gone"
            yield ScrapedDocument(**fields, error=f"HTTP {status} {reason}")
            return
        if status == 304:
            yield ScrapedDocument(**fields)
            return
        headers = response.headers
        yield ScrapedDocument(
            **fields,
            body=response.body,
            declared_type=_header(headers, b"Content-Type"),
            etag=_header(headers, b"ETag"),
            last_modified=_header(headers, b"Last-Modified"),
        )

    def document_failed(self, failure: Failure) -> Iterator[ScrapedDocument]:
        request = failure.request  # type: ignore[attr-defined]
        ref: DocumentRef = request.meta["document_ref"]
        if failure.check(DownloadCancelledError) and "max size" in failure.getErrorMessage():
            reason = "too_large"
            error = f"larger than the download limit ({self.maxsize:,} bytes)"
        elif failure.check(HttpError) and request.meta.get("offsite_redirect"):
            status = failure.value.response.status  # type: ignore[union-attr]
            target = request.meta["offsite_redirect"]
            reason = "offsite_redirect"
            error = f"HTTP {status} to {target}, outside the registry's domains; not followed"
        elif failure.check(HttpError):
            status = failure.value.response.status  # type: ignore[union-attr]
            reason, error = f"http_{status}", f"HTTP {status}"
        elif failure.check(DownloadTimeoutError, TwistedTimeoutError):
            reason, error = "timeout", "timed out"
        else:
            reason = "error"
            error = f"{type(failure.value).__name__}: {failure.getErrorMessage()}"[:300]
        self.spider.problem(f"document/{reason}", ref.url, error)
        yield ScrapedDocument(
            url=ref.url, kind=ref.kind, name=ref.name, retrieved_at=datetime.now(UTC), error=error
        )


def is_public_web_url(url: str) -> bool:
    """http(s) to a named host or a public address: no file:, no loopback, private,
    link-local (cloud metadata) or reserved addresses. The registry's allowed domains are
    enforced for every request besides this (Scrapy's offsite filter)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return address.is_global


def _header(headers: Any, name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1").strip() if value else None


def sha256_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class BlobStore:
    """The original bytes of every document version, by content hash."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if not SHA256_RE.fullmatch(sha256):  # never a path from anything but a digest
            raise ValueError(f"not a sha256 digest: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256

    def put(self, body: bytes) -> str:
        digest = sha256_of(body)
        path = self.path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_bytes(body)
            partial.replace(path)  # never a half-written blob under its final name
        return digest

    def get(self, sha256: str) -> bytes | None:
        path = self.path(sha256)
        return path.read_bytes() if path.exists() else None
