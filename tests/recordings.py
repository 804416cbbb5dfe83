"""Turning recorded responses into WARC archives for replayed crawls, at test time.

The recordings under tests/fixtures are response bodies (and one vcrpy cassette) without the
HTTP exchange around them. ``write_warc`` files each body under the URL the site answered it
at, with a reconstructed status line and Content-Type (the recordings kept neither), so that
``ice-tracker crawl --replay`` serves them as the live site would. Bodies are byte-for-byte
the recorded ones. Writing the archive per test keeps it in step with the fixture it comes from
and keeps binary archives out of the repository.

``cassette_interactions`` reads a vcrpy cassette without a YAML library: the cassettes vcrpy
writes have a fixed shape (``- request:`` blocks with ``method``/``uri``, ``response:`` blocks
with ``body: string:`` plain or ``!!binary`` base64, ``headers`` lists and ``status: code``).
"""

from __future__ import annotations

import base64
import gzip
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Recorded:
    url: str
    body: bytes
    content_type: str
    status: int = 200


def write_warc(target: Path, records: Iterable[Recorded], *, date: str, description: str) -> Path:
    """Write ``records`` as WARC response records (``date``: WARC-Date, ISO 8601 with Z)."""
    with target.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        writer.write_record(
            writer.create_warcinfo_record(
                target.name,
                {
                    "software": "ice-council-tracker tests/recordings.py",
                    "format": "WARC File Format 1.1",
                    "description": description,
                },
            )
        )
        for record in records:
            http = StatusAndHeaders(
                f"{record.status} {'OK' if record.status == 200 else 'Status'}",
                [("Content-Type", record.content_type), ("Content-Length", str(len(record.body)))],
                protocol="HTTP/1.1",
            )
            writer.write_record(
                writer.create_warc_record(
                    record.url,
                    "response",
                    payload=io.BytesIO(record.body),
                    http_headers=http,
                    warc_headers_dict={"WARC-Date": date},
                )
            )
    return target


@dataclass(frozen=True)
class Interaction:
    method: str
    uri: str
    status: int
    headers: dict[str, list[str]]
    body: bytes  # decoded: gzip bodies are unpacked


_URI = re.compile(r"^    uri: (.+)$", re.MULTILINE)
_METHOD = re.compile(r"^    method: (\w+)$", re.MULTILINE)
_CODE = re.compile(r"^      code: (\d+)$", re.MULTILINE)
_BINARY = re.compile(r"^      string: !!binary \|\n((?:        \S.*\n)+)", re.MULTILINE)
_PLAIN = re.compile(r"^      string: '((?:[^']|'')*)'$", re.MULTILINE)
_HEADER = re.compile(r"^      ([A-Za-z0-9-]+):\n((?:      - .*\n)+)", re.MULTILINE)


def cassette_interactions(path: Path) -> list[Interaction]:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("interactions:\n"):
        raise ValueError(f"{path} is not a vcrpy cassette")
    out: list[Interaction] = []
    for block in text.split("\n- request:")[1:]:
        request, _, response = block.partition("\n  response:")
        method, uri, code = _METHOD.search(request), _URI.search(request), _CODE.search(response)
        if not (method and uri and code):
            raise ValueError(f"{path}: an interaction without method, uri or status")
        headers_part = response.split("\n    headers:\n", 1)[-1]
        headers = {
            name: [v[len("      - ") :].strip().strip("'") for v in values.splitlines()]
            for name, values in _HEADER.findall(headers_part)
        }
        binary, plain = _BINARY.search(response), _PLAIN.search(response)
        if binary:
            body = base64.b64decode("".join(line.strip() for line in binary.group(1).splitlines()))
        elif plain:
            body = plain.group(1).replace("''", "'").encode("utf-8")
        else:
            body = b""
        if "gzip" in headers.get("Content-Encoding", []):
            body = gzip.decompress(body)
        out.append(Interaction(method.group(1), uri.group(1), int(code.group(1)), headers, body))
    return out
