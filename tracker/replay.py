"""Replaying WARC archives over real HTTP on 127.0.0.1.

``ReplayServer`` serves the responses of one or more archives. ``ReplayDownloadHandler``
replaces Scrapy's HTTP handler during a replayed crawl: it sends each request over HTTP to the
server, with the original host in ``Host`` and the original scheme in ``X-Forwarded-Proto``,
and hands the answer back under the original URL. Everything above the transport (robots.txt,
retries, throttling, archiving, the spiders and the pipeline) runs exactly as for a live crawl.

Lookup (DESIGN.md): the full URL first (access tokens removed, query canonicalized); failing
that, the one record with the same host and path, query ignored, so archives recorded with
other query windows still replay; several candidates, or none, is a 404.

Both rules match on the method too: a GET (or HEAD) is answered only from responses to GETs,
a POST only from responses to POSTs (tracker/archive.py pairs each response with its request).
A POST is matched on method + full URL + request body, the body canonicalized so that equal
requests match however they were serialized: a JSON body by its parsed value (key order and
whitespace ignored), a form body (application/x-www-form-urlencoded) by its sorted fields,
any other body byte for byte. Failing that, the one POST record with the same host and path
answers, query and body ignored (the same fallback as for a GET, so an eSCRIBE listing
recorded for another date window still replays); several candidates is a 404. ASP.NET
postbacks carry the page's view state, so a crawl replayed from its own recording sends the
bodies it recorded, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from w3lib.url import canonicalize_url

from tracker.archive import HOP_BY_HOP, ArchivedResponse, read_responses, redact_url
from tracker.faults import OFFSITE, FaultPlan

REPLAY_SETTING = "TRACKER_REPLAY_ADDRESS"


def _full_key(url: str) -> str:
    return canonicalize_url(redact_url(url), keep_fragments=False)


def _path_key(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.path or "/"


def _method(method: str) -> str:
    # A HEAD is answered like the GET it stands for.
    method = method.upper()
    return "GET" if method == "HEAD" else method


def body_key(method: str, body: bytes, content_type: str | None = None) -> str:
    """The request body as the lookup sees it (empty for GET: servers ignore a GET's body)."""
    if _method(method) == "GET" or not body:
        return ""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    canonical = body
    if kind == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            pass
        else:
            canonical = b"form:" + urlencode(sorted(pairs)).encode("utf-8")
    elif kind.endswith("json") or (not kind and body.lstrip()[:1] in (b"{", b"[")):
        try:
            value = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            pass
        else:
            canonical = b"json:" + json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


_Key = tuple[str, str, str]  # method, canonical URL, body key


class ReplayIndex:
    """Archived responses, indexed for the lookup rules above."""

    def __init__(self, responses: Iterable[ArchivedResponse]) -> None:
        self.by_request: dict[_Key, ArchivedResponse] = {}
        self.by_path: dict[tuple[str, str, str], dict[_Key, ArchivedResponse]] = defaultdict(dict)
        for response in responses:
            method = _method(response.method)
            key = (
                method,
                _full_key(response.url),
                body_key(method, response.request_body, response.request_content_type),
            )
            # A request captured twice answers with its latest capture.
            self.by_request[key] = response
            self.by_path[(method, *_path_key(response.url))][key] = response

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> ReplayIndex:
        return cls(r for path in paths for r in read_responses(Path(path)))

    def __len__(self) -> int:
        return len(self.by_request)

    def lookup(
        self, url: str, method: str = "GET", body: bytes = b"", content_type: str | None = None
    ) -> ArchivedResponse | None:
        method = _method(method)
        found = self.by_request.get((method, _full_key(url), body_key(method, body, content_type)))
        if found is not None:
            return found
        candidates = self.by_path.get((method, *_path_key(url)), {})
        if len(candidates) == 1:
            return next(iter(candidates.values()))
        return None


def _header(found: ArchivedResponse | None, name: str) -> str | None:
    if found is None:
        return None
    return next((v for k, v in found.headers if k.lower() == name.lower()), None)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _answer(self, with_body: bool) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        scheme = self.headers.get("X-Forwarded-Proto", "http")
        host = self.headers.get("Host", "")
        url = f"{scheme}://{host}{self.path}"
        found = self.server.index.lookup(url, self.command, body, self.headers.get("Content-Type"))
        method = _method(self.command)
        attempt = self.server.count(
            url if method == "GET" else f"{method} {url}", found is not None
        )
        faults = self.server.faults
        if faults is not None:
            if faults.delay_seconds:
                time.sleep(faults.delay_seconds)
            fault = faults.choose(f"{method} {url}", attempt)
            if fault == "timeout":
                # counted before the stall: the crawl may give up and finish before it ends
                self.server.injected[fault] += 1
                time.sleep(faults.stall_seconds)
                self.close_connection = True
                return
            if fault is not None and self._inject(fault, found, faults):
                self.server.injected[fault] += 1
                return
        if found is None:
            body = b"not in the archive\n"
            self.send_response_only(404, "Not Found")
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)
            return
        # Only the archived headers: no Server or Date of our own, so that a crawl recorded
        # from a replay archives what the site sent.
        self.send_response_only(found.status, found.reason)
        for name, value in found.headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(found.body)))
        self.end_headers()
        if with_body:
            self.wfile.write(found.body)

    def _inject(self, fault: str, found: ArchivedResponse | None, faults: FaultPlan) -> bool:
        """Answer with ``fault`` instead of the archive; False when it does not apply."""
        body = found.body if found is not None else b""
        if fault in ("http_500", "http_503"):
            status = 500 if fault == "http_500" else 503
            text = b'{"Message": "An error has occurred."}'
            self.send_response_only(status)
            if status == 503:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
        elif fault == "reset":
            # SO_LINGER 0: the close sends a RST, as a dropped connection does.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        elif fault == "truncated":
            if len(body) < 2:
                return False
            self.send_response_only(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        elif fault == "malformed":
            junk = b"\x00\xff<oops" + hashlib.sha256(self.path.encode()).digest()
            self.send_response_only(200)
            self.send_header("Content-Type", _header(found, "Content-Type") or "text/plain")
            self.send_header("Content-Length", str(len(junk)))
            self.end_headers()
            self.wfile.write(junk)
        elif fault == "wrong_type":
            if found is None:
                return False
            self.send_response_only(found.status, found.reason)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif fault == "offsite_redirect":
            self.send_response_only(302)
            self.send_header("Location", OFFSITE)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif fault == "huge":
            self.send_response_only(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(10 * 1024**3))
            self.end_headers()
            self.wfile.write(b"\0" * 1024)
            self.close_connection = True
        return True

    def do_GET(self) -> None:
        self._answer(True)

    def do_POST(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the crawl's own stats say what was asked for


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, index: ReplayIndex, faults: FaultPlan | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.index = index
        self.faults = faults
        self.hits = 0
        self.misses: list[str] = []
        self.asked: dict[str, int] = defaultdict(int)
        self.injected: dict[str, int] = defaultdict(int)  # fault kind -> how many
        self._lock = threading.Lock()

    def count(self, url: str, hit: bool) -> int:
        """Record a request; returns how many times this URL was asked for before."""
        with self._lock:
            attempt = self.asked[url]
            self.asked[url] += 1
            if hit:
                self.hits += 1
            else:
                self.misses.append(url)
            return attempt


class ReplayServer:
    """Serves archives on 127.0.0.1 (a free port) from a background thread."""

    def __init__(self, index: ReplayIndex, faults: FaultPlan | None = None) -> None:
        self._server = _Server(index, faults)
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="replay-server"
        )

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    @property
    def hits(self) -> int:
        return self._server.hits

    @property
    def injected(self) -> dict[str, int]:
        return dict(self._server.injected)

    @property
    def misses(self) -> list[str]:
        return list(self._server.misses)

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class ReplayDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, pointed at the replay server instead of the site."""

    def __init__(self, crawler: Crawler) -> None:
        address = crawler.settings.get(REPLAY_SETTING)
        if not address:
            raise NotConfigured("not replaying")
        super().__init__(crawler)
        self.address = str(address)

    async def download_request(self, request: Request) -> Response:
        parts = urlsplit(request.url)
        local = urlunsplit(("http", self.address, parts.path or "/", parts.query, ""))
        headers = request.headers.copy()
        headers["Host"] = parts.netloc
        headers["X-Forwarded-Proto"] = parts.scheme
        response = await super().download_request(request.replace(url=local, headers=headers))
        return response.replace(url=request.url, request=request)
