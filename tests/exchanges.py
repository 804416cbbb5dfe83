"""Recorded responses as a WARC archive of HTTP exchanges, written at test time.

The recordings under tests/fixtures are response bodies without the exchange around them.
``write_exchanges`` files each body under the request that gets it (method, URL and, for a
POST, the body) through ``tracker.archive.WarcFile.write_exchange``, the writer a live crawl's
``--archive`` uses, so the archive has the same response + request records (``WARC-Concurrent-To``)
that ``--replay`` pairs back up. Bodies are byte-for-byte the recorded ones; the status line and
Content-Type are reconstructed (the recordings kept neither). Writing the archive per test keeps
it in step with the fixture and keeps binary archives out of the repository.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from scrapy import Request
from scrapy.http import Response

from tracker.archive import WarcFile

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Exchange:
    url: str
    body: bytes  # the response body, as recorded
    content_type: str = HTML
    method: str = "GET"
    request_body: bytes = b""
    request_content_type: str | None = None
    status: int = 200


def write_exchanges(
    target: Path, exchanges: Iterable[Exchange], *, fetched_at: datetime, description: str
) -> Path:
    warc = WarcFile(
        target,
        info={
            "software": "ice-council-tracker tests/exchanges.py",
            "format": "WARC File Format 1.1",
            "description": description,
        },
    )
    try:
        for exchange in exchanges:
            headers = (
                {"Content-Type": exchange.request_content_type}
                if exchange.request_content_type
                else {}
            )
            request = Request(
                exchange.url,
                method=exchange.method,
                body=exchange.request_body or None,
                headers=headers,
            )
            response = Response(
                exchange.url,
                status=exchange.status,
                headers={"Content-Type": exchange.content_type},
                body=exchange.body,
                request=request,
            )
            warc.write_exchange(request, response, fetched_at)
    finally:
        warc.close()
    return target
