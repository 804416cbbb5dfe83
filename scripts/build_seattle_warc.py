"""Build the Seattle WARC fixture from the real recorded Legistar Web API responses.

The recording (tests/fixtures/legistar-api/seattle, from CouncilDataProject/cdptools_v2) is a
numbered list of response bodies: request_N is the Nth request of a crawl of the meetings of
2019-07-29 (events, then each event's items, each item's votes, each voter's person record).
It does not keep the URLs, so this script puts each body under the URL a Legistar client asks
for it, checking every id against the data itself, and writes them as WARC response records.

The bodies are byte-for-byte the recorded ones. The HTTP status line and Content-Type header
are reconstructed (the recording kept neither), and the WARC-Date is the newest modification
time found in the data (the retrieval time was not recorded; it can only have been later).

    python scripts/build_seattle_warc.py [--source DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "fixtures" / "legistar-api" / "seattle"
OUT = ROOT / "tracker" / "data" / "archives" / "seattle-2019-07-29.warc.gz"
API = "https://webapi.legistar.com/v1/seattle"
DAY, NEXT_DAY = "2019-07-29", "2019-07-30"
NAME_RE = re.compile(
    r"request_(?P<n>\d+)_(?:events|event_(?P<e>\d+)_(?:items|item_(?P<i>\d+)_"
    r"(?:votes|vote_(?P<v>\d+)_person)))\.json$"
)
STAMP_RE = re.compile(r'"\w*(?:LastModifiedUtc|LastPublishedUTC)": "([0-9T:.\-]+)"')


def load(source: Path) -> dict[int, tuple[re.Match[str], bytes]]:
    numbered: dict[int, tuple[re.Match[str], bytes]] = {}
    for path in source.glob("request_*.json"):
        match = NAME_RE.match(path.name)
        if match is None:
            raise SystemExit(f"unexpected file name {path.name}")
        numbered[int(match["n"])] = (match, path.read_bytes())
    if sorted(numbered) != list(range(len(numbered))):
        raise SystemExit("the recording has gaps in its request numbers")
    return numbered


def url_for(
    match: re.Match[str],
    body: Any,
    events: list[Any],
    items: dict[int, list[Any]],
    votes: dict[tuple[int, int], list[Any]],
) -> str:
    e, i, v = match["e"], match["i"], match["v"]
    if e is None:
        query = quote(
            f"EventDate ge datetime'{DAY}' and EventDate lt datetime'{NEXT_DAY}'", safe="'"
        )
        return f"{API}/events?$filter={query}"
    event = events[int(e)]
    if i is None:
        assert all(row["EventItemEventId"] == event["EventId"] for row in body)
        return (
            f"{API}/events/{event['EventId']}/eventitems?AgendaNote=1&MinutesNote=1&Attachments=1"
        )
    item = items[int(e)][int(i)]
    if v is None:
        assert all(row["VoteEventItemId"] == item["EventItemId"] for row in body)
        return f"{API}/eventitems/{item['EventItemId']}/votes"
    vote = votes[(int(e), int(i))][int(v)]
    assert body["PersonId"] == vote["VotePersonId"], (body["PersonId"], vote)
    return f"{API}/persons/{body['PersonId']}"


def build(source: Path, out: Path) -> int:
    numbered = load(source)
    events: list[Any] = []
    items: dict[int, list[Any]] = {}
    votes: dict[tuple[int, int], list[Any]] = {}
    records: dict[str, bytes] = {}
    stamps: list[str] = []
    for n in sorted(numbered):
        match, raw = numbered[n]
        body = json.loads(raw)
        stamps += STAMP_RE.findall(raw.decode("utf-8"))
        url = url_for(match, body, events, items, votes)
        if match["e"] is None:
            events = body
        elif match["i"] is None:
            items[int(match["e"])] = body
        elif match["v"] is None:
            votes[(int(match["e"]), int(match["i"]))] = body
        if url in records and records[url] != raw:
            raise SystemExit(f"{url} was recorded twice with different bodies")
        records[url] = raw
    date = max(stamps)[:19] + "Z"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        writer.write_record(
            writer.create_warcinfo_record(
                out.name,
                {
                    "software": "ice-council-tracker scripts/build_seattle_warc.py",
                    "format": "WARC File Format 1.1",
                    "description": (
                        "Real Seattle Legistar Web API responses for the meetings of 2019-07-29, "
                        "recorded by CouncilDataProject/cdptools_v2 (commit "
                        "1d7ee7b31cfff1709bd4b3f6372e6f3bdff838f0, cdptools/tests/data/legistar). "
                        "Bodies are as recorded; status lines and Content-Type are reconstructed; "
                        "WARC-Date is the newest modification time in the data, a lower "
                        "bound of the unrecorded retrieval time."
                    ),
                },
            )
        )
        for url, raw in records.items():
            headers = StatusAndHeaders(
                "200 OK",
                [
                    ("Content-Type", "application/json; charset=utf-8"),
                    ("Content-Length", str(len(raw))),
                ],
                protocol="HTTP/1.1",
            )
            writer.write_record(
                writer.create_warc_record(
                    url,
                    "response",
                    payload=io.BytesIO(raw),
                    http_headers=headers,
                    warc_headers_dict={"WARC-Date": date},
                )
            )
    return len(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    count = build(args.source, args.out)
    print(f"wrote {count} responses to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
