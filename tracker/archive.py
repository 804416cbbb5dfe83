"""WARC archives: every response a crawl fetched, as the site sent it.

``WarcArchiveMiddleware`` sits next to the downloader, so it sees responses before Scrapy
decompresses or decodes them, and writes a request and a response record for each. The same
archives are what ``--replay`` serves (tracker/replay.py), so a recorded crawl can be replayed
exactly. Access tokens are removed from archived URLs.

Pairing a response with its request. Some answers depend on the request body, not only the
URL: eSCRIBE's meeting listing is a POST with a JSON body, Legistar's Calendar.aspx pages
through ASP.NET postbacks (POSTs to one URL with different form bodies). Each exchange is
written as a response record followed by a request record whose ``WARC-Concurrent-To`` names
the response (WARC 1.1); the request record keeps the method in its HTTP request
line and the body as its payload. ``read_responses`` joins them back: a response carries the
method, body and Content-Type of the request it answered. It also accepts the other order that
WARC tools write (request first, the response's ``WARC-Concurrent-To`` naming the request).
A response with no request record (archives built from bare recordings) answered a GET.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tracker.exceptions import ArchiveError

SECRET_PARAMS = frozenset({"token", "api_key", "apikey", "key"})
# Headers that describe one transfer, not the resource; the body we archive is already de-chunked.
HOP_BY_HOP = frozenset({"transfer-encoding", "connection", "keep-alive", "content-length"})


def redact_url(url: str) -> str:
    """The URL without access tokens, for archives, stored provenance and logs."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if k.lower() not in SECRET_PARAMS]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query=urlencode(kept, safe="$',():")))


@dataclass(frozen=True)
class ArchivedResponse:
    url: str
    method: str  # of the request this answered
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    record_id: str
    date: str
    request_body: bytes = b""
    request_content_type: str | None = None


class WarcFile:
    """An append-only WARC file shared by the crawlers of one process."""

    def __init__(self, path: Path, *, info: dict[str, str] | None = None) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._stream: BinaryIO = path.open("ab")
        except OSError as exc:
            raise ArchiveError(f"cannot write archive {path}: {exc}") from None
        self._writer = WARCWriter(self._stream, gzip=path.suffix == ".gz")
        self._lock = threading.Lock()
        if info is not None:
            record = self._writer.create_warcinfo_record(path.name, info)
            self._write(record)

    def _write(self, record: Any) -> str:
        with self._lock:
            self._writer.write_record(record)
            self._stream.flush()
        return str(record.rec_headers.get_header("WARC-Record-ID"))

    def write_exchange(
        self, request: Request, response: Response, fetched_at: datetime | None = None
    ) -> str:
        """Archive one request and its response; returns the response's WARC-Record-ID."""
        url = redact_url(request.url)
        when = (fetched_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, values in response.headers.items()
            for v in values
            if k.decode("latin-1").lower() not in HOP_BY_HOP
        ]
        headers.append(("Content-Length", str(len(response.body))))
        reason = _reason(response.status)
        http_headers = StatusAndHeaders(f"{response.status} {reason}", headers, protocol="HTTP/1.1")
        record = self._writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(response.body),
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": when},
        )
        record_id = self._write(record)
        req_headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, values in request.headers.items()
            for v in values
        ]
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        req_record = self._writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(request.body or b""),
            http_headers=StatusAndHeaders(
                f"{request.method} {target} HTTP/1.1",
                [("Host", parts.netloc), *req_headers],
                is_http_request=True,
            ),
            warc_headers_dict={"WARC-Date": when, "WARC-Concurrent-To": record_id},
        )
        self._write(req_record)
        return record_id

    def close(self) -> None:
        with self._lock:
            self._stream.close()


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@dataclass(frozen=True)
class _Request:
    record_id: str
    concurrent_to: tuple[str, ...]
    method: str
    body: bytes
    content_type: str | None


def read_responses(path: Path) -> Iterator[ArchivedResponse]:
    """Every response record in a WARC file, in order, each with the request it answered."""
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise ArchiveError(f"cannot read archive {path}: {exc.strerror}") from None
    responses: list[tuple[ArchivedResponse, tuple[str, ...]]] = []
    requests: list[_Request] = []
    with stream:
        try:
            # Digests catch a truncated record, which would otherwise replay half a body.
            for record in ArchiveIterator(stream, check_digests="raise"):
                if record.http_headers is None:
                    continue
                concurrent = tuple(
                    value
                    for name, value in record.rec_headers.headers
                    if name.lower() == "warc-concurrent-to"
                )
                if record.rec_type == "request":
                    requests.append(
                        _Request(
                            record_id=record.rec_headers.get_header("WARC-Record-ID"),
                            concurrent_to=concurrent,
                            method=(record.http_headers.protocol or "GET").upper(),
                            body=record.content_stream().read(),
                            content_type=record.http_headers.get_header("Content-Type"),
                        )
                    )
                    continue
                if record.rec_type != "response":
                    continue
                status_line = record.http_headers.get_statuscode()
                reason = record.http_headers.statusline.partition(" ")[2]
                # The bytes as the site sent them: a gzip body stays gzip, with its header,
                # for the client to inflate (within its size limit) as it did the first time.
                body = record.raw_stream.read()
                declared = record.http_headers.get_header("Content-Length")
                if declared and declared.isdigit() and int(declared) != len(body):
                    raise ArchiveLoadFailed(
                        f"record for {record.rec_headers.get_header('WARC-Target-URI')} is "
                        f"truncated ({len(body)} of {declared} bytes)"
                    )
                response = ArchivedResponse(
                    url=record.rec_headers.get_header("WARC-Target-URI"),
                    method=record.rec_headers.get_header("WARC-Http-Method") or "GET",
                    status=int(status_line),
                    reason=reason or _reason(int(status_line)),
                    headers=list(record.http_headers.headers),
                    body=body,
                    record_id=record.rec_headers.get_header("WARC-Record-ID"),
                    date=record.rec_headers.get_header("WARC-Date"),
                )
                responses.append((response, concurrent))
        except (ArchiveLoadFailed, ValueError, OSError, EOFError) as exc:
            raise ArchiveError(f"{path} is not a readable WARC archive: {exc}") from None
    by_response = {rid: req for req in requests for rid in req.concurrent_to}
    by_id = {req.record_id: req for req in requests}
    for response, concurrent in responses:
        request = by_response.get(response.record_id) or next(
            (by_id[rid] for rid in concurrent if rid in by_id), None
        )
        if request is None:
            yield response
        else:
            yield replace(
                response,
                method=request.method,
                request_body=request.body,
                request_content_type=request.content_type,
            )


# Open archives by path: Scrapy deep-copies settings, so they carry the path, not the file.
_OPEN: dict[str, WarcFile] = {}


def open_warc(path: Path, *, info: dict[str, str] | None = None) -> WarcFile:
    warc = WarcFile(path, info=info)
    _OPEN[str(path)] = warc
    return warc


def close_warc(warc: WarcFile) -> None:
    _OPEN.pop(str(warc.path), None)
    warc.close()


class WarcArchiveMiddleware:
    """Downloader middleware: archive every response (enabled by the TRACKER_WARC_PATH setting)."""

    def __init__(self, warc: WarcFile) -> None:
        self.warc = warc

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcArchiveMiddleware:
        path = crawler.settings.get("TRACKER_WARC")
        if not path:
            raise NotConfigured("no archive for this crawl")
        return cls(_OPEN[path])

    def process_response(self, request: Request, response: Response) -> Response:
        record_id = self.warc.write_exchange(request, response)
        response.meta["warc_record"] = f"{self.warc.path.name}#{record_id}"
        return response
