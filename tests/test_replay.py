"""WARC record and replay: lookup rules, real HTTP on 127.0.0.1, round trips."""

from __future__ import annotations

import http.client
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SEATTLE_WARC
from scrapy.http import Request, TextResponse
from warcs import Page, rewrite_warc

from tracker.archive import WarcFile, read_responses, redact_url
from tracker.exceptions import ArchiveError
from tracker.replay import ReplayIndex, ReplayServer

API = "https://webapi.legistar.com/v1/seattle"


def fetch(server: ReplayServer, url: str) -> tuple[int, bytes]:
    scheme, rest = url.split("://", 1)
    host, _, path = rest.partition("/")
    host_name, port = server.address.split(":")
    conn = http.client.HTTPConnection(host_name, int(port), timeout=10)
    conn.request("GET", "/" + path, headers={"Host": host, "X-Forwarded-Proto": scheme})
    response = conn.getresponse()
    return response.status, response.read()


@pytest.fixture(scope="module")
def server() -> object:
    with ReplayServer(ReplayIndex.from_files([SEATTLE_WARC])) as running:
        yield running


def test_full_url_then_host_and_path(server: ReplayServer) -> None:
    status, body = fetch(server, f"{API}/eventitems/65911/votes")
    assert status == 200
    assert b"M. Lorena Gonz" in body
    # Another query window for the events listing still finds the one recorded listing.
    status, body = fetch(server, f"{API}/events?$filter=EventDate+ge+datetime'2030-01-01'")
    assert status == 200
    assert b'"EventId":4049' in body.replace(b" ", b"")
    # An access token never decides the lookup.
    status, _ = fetch(server, f"{API}/persons/183?token=SECRET")
    assert status == 200


def test_anything_else_is_404(server: ReplayServer) -> None:
    assert fetch(server, f"{API}/votetypes")[0] == 404
    assert fetch(server, "https://other.example/v1/seattle/persons/183")[0] == 404
    assert server.misses[-1] == "https://other.example/v1/seattle/persons/183"


def test_several_candidates_for_a_path_is_404(tmp_path: Path) -> None:
    extra = [
        Page(f"{API}/bodies?x=1", 200, [("Content-Type", "application/json")], b"[1]"),
        Page(f"{API}/bodies?x=2", 200, [("Content-Type", "application/json")], b"[2]"),
    ]
    archive = rewrite_warc(SEATTLE_WARC, tmp_path / "two.warc.gz", lambda p: p, extra)
    with ReplayServer(ReplayIndex.from_files([archive])) as running:
        assert fetch(running, f"{API}/bodies?x=2") == (200, b"[2]")
        assert fetch(running, f"{API}/bodies?x=3")[0] == 404


def test_written_archive_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "out.warc.gz"
    warc = WarcFile(path, info={"software": "test"})
    request = Request(f"{API}/persons/1?token=abc&x=1")
    response = TextResponse(
        request.url,
        status=201,
        body=b'{"a": 1}',
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        request=request,
    )
    record_id = warc.write_exchange(request, response)
    warc.close()
    [read] = list(read_responses(path))
    assert read.url == f"{API}/persons/1?x=1"  # token removed
    assert read.status == 201
    assert read.body == b'{"a": 1}'
    assert read.record_id == record_id
    assert ("Transfer-Encoding", "chunked") not in read.headers


def test_redact_url_keeps_everything_but_secrets() -> None:
    assert redact_url(f"{API}/events?$top=5&token=T") == f"{API}/events?$top=5"
    assert redact_url(f"{API}/events") == f"{API}/events"


def test_broken_archive_is_an_archive_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.warc.gz"
    broken.write_bytes(SEATTLE_WARC.read_bytes()[:5000])
    with pytest.raises(ArchiveError):
        list(read_responses(broken))
    with pytest.raises(ArchiveError, match="cannot read archive"):
        list(read_responses(tmp_path / "absent.warc.gz"))


def test_fixture_is_rebuilt_exactly_by_its_script(tmp_path: Path) -> None:
    """The bundled WARC is what scripts/build_seattle_warc.py makes of the recording."""
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location(
        "build", ROOT / "scripts" / "build_seattle_warc.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rebuilt = tmp_path / "rebuilt.warc.gz"
    module.build(ROOT / "tests" / "fixtures" / "legistar-api" / "seattle", rebuilt)
    ours = {(r.url, r.status, r.body) for r in read_responses(SEATTLE_WARC)}
    theirs = {(r.url, r.status, r.body) for r in read_responses(rebuilt)}
    assert ours == theirs
    assert len(ours) == 49


# -- POST-aware lookup ---------------------------------------------------------------------
SITE = "https://nyc.legistar.example"


def send(
    server: ReplayServer, method: str, url: str, body: bytes = b"", content_type: str = ""
) -> tuple[int, bytes]:
    scheme, rest = url.split("://", 1)
    host, _, path = rest.partition("/")
    host_name, port = server.address.split(":")
    conn = http.client.HTTPConnection(host_name, int(port), timeout=10)
    headers = {"Host": host, "X-Forwarded-Proto": scheme}
    if content_type:
        headers["Content-Type"] = content_type
    conn.request(method, "/" + path, body=body or None, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


@pytest.fixture
def post_archive(tmp_path: Path) -> Path:
    from exchanges import FORM, JSON, Exchange, write_exchanges

    calendar = f"{SITE}/Calendar.aspx"
    return write_exchanges(
        tmp_path / "posts.warc.gz",
        [
            Exchange(calendar, b"first page"),
            Exchange(
                calendar,
                b"page two",
                method="POST",
                request_body=b"__EVENTTARGET=grid%24next&__VIEWSTATE=abc%2B%2F&page=2",
                request_content_type=FORM,
            ),
            Exchange(
                calendar,
                b"page three",
                method="POST",
                request_body=b"__EVENTTARGET=grid%24next&__VIEWSTATE=def&page=3",
                request_content_type=FORM,
            ),
            Exchange(
                f"{SITE}/api/GetMeetings",
                b'{"d": []}',
                content_type=JSON,
                method="POST",
                request_body=b'{"calendarStartDate":"2025-01-01","calendarEndDate":"2025-02-01"}',
                request_content_type="application/json; charset=utf-8",
            ),
        ],
        fetched_at=datetime(2025, 1, 15, tzinfo=UTC),
        description="test",
    )


def test_archive_pairs_each_response_with_its_request(post_archive: Path) -> None:
    read = {(r.method, r.body): r for r in read_responses(post_archive)}
    assert set(read) == {
        ("GET", b"first page"),
        ("POST", b"page two"),
        ("POST", b"page three"),
        ("POST", b'{"d": []}'),
    }
    assert read[("POST", b"page two")].request_body.startswith(b"__EVENTTARGET=")
    assert read[("POST", b"page two")].request_content_type == "application/x-www-form-urlencoded"
    assert read[("GET", b"first page")].request_body == b""


def test_post_is_matched_on_method_url_and_body(post_archive: Path) -> None:
    calendar = f"{SITE}/Calendar.aspx"
    form = "application/x-www-form-urlencoded"
    with ReplayServer(ReplayIndex.from_files([post_archive])) as running:
        assert send(running, "GET", calendar) == (200, b"first page")
        # The same form fields in another order, spelt with other escapes, are the same body.
        page_two = b"page=2&__VIEWSTATE=abc%2b%2f&__EVENTTARGET=grid%24next"
        assert send(running, "POST", calendar, page_two, form) == (200, b"page two")
        page_three = b"__EVENTTARGET=grid%24next&__VIEWSTATE=def&page=3"
        assert send(running, "POST", calendar, page_three, form) == (200, b"page three")
        # A body recorded nowhere, with two POST candidates for the path: 404, never a guess.
        page_four = b"__EVENTTARGET=grid%24next&__VIEWSTATE=ghi&page=4"
        assert send(running, "POST", calendar, page_four, form)[0] == 404
        assert running.misses[-1] == f"POST {calendar}"


def test_json_body_matches_by_value_and_falls_back_to_the_one_post(post_archive: Path) -> None:
    api = f"{SITE}/api/GetMeetings"
    json_type = "application/json"
    with ReplayServer(ReplayIndex.from_files([post_archive])) as running:
        same = b'{ "calendarEndDate": "2025-02-01",\n  "calendarStartDate": "2025-01-01" }'
        assert send(running, "POST", api, same, json_type) == (200, b'{"d": []}')
        # Another date window finds the one recorded POST to that path, as a GET with another
        # query finds the one recorded GET.
        other = b'{"calendarStartDate":"2030-01-01","calendarEndDate":"2030-02-01"}'
        assert send(running, "POST", api, other, json_type) == (200, b'{"d": []}')
        # Methods never cross: no GET was recorded for the API, no POST answers a GET.
        assert send(running, "GET", api)[0] == 404
        assert send(running, "HEAD", f"{SITE}/Calendar.aspx")[0] == 200


def test_request_record_written_first_pairs_too(tmp_path: Path) -> None:
    """Other WARC writers put the request first and point the response at it."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = tmp_path / "wget-style.warc.gz"
    url = f"{SITE}/api/GetMeetings"
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        request = writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(b'{"a": 1}'),
            http_headers=StatusAndHeaders(
                "POST /api/GetMeetings HTTP/1.1",
                [("Host", "nyc.legistar.example"), ("Content-Type", "application/json")],
                is_http_request=True,
            ),
        )
        writer.write_record(request)
        response = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(b"answer"),
            http_headers=StatusAndHeaders("200 OK", [("Content-Length", "6")], protocol="HTTP/1.1"),
            warc_headers_dict={
                "WARC-Concurrent-To": request.rec_headers.get_header("WARC-Record-ID")
            },
        )
        writer.write_record(response)
    [read] = list(read_responses(path))
    assert (read.method, read.request_body, read.body) == ("POST", b'{"a": 1}', b"answer")
