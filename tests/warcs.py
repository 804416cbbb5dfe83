"""Making variants of a recorded WARC for tests: a later recording, a broken page."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tracker.archive import read_responses


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


Edit = Callable[[Page], Page | None]  # None drops the record


def rewrite_warc(source: Path, target: Path, edit: Edit, extra: list[Page] | None = None) -> Path:
    """Copy ``source`` to ``target`` through ``edit``, adding ``extra`` pages at the end."""
    with target.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        pages = [Page(r.url, r.status, list(r.headers), r.body) for r in read_responses(source)]
        for page in [*filter(None, map(edit, pages)), *(extra or [])]:
            headers = [(k, v) for k, v in page.headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(page.body))))
            http = StatusAndHeaders(f"{page.status} Status", headers, protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    page.url, "response", payload=io.BytesIO(page.body), http_headers=http
                )
            )
    return target


def edit_url(fragment: str, change: Callable[[Page], Page | None]) -> Edit:
    """An edit that applies ``change`` to the pages whose URL contains ``fragment``."""

    def edit(page: Page) -> Page | None:
        return change(page) if fragment in page.url else page

    return edit


def with_body(page: Page, body: bytes, status: int | None = None) -> Page:
    return replace(page, body=body, status=page.status if status is None else status)
