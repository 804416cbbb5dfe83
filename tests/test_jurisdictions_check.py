"""`ice-tracker jurisdictions check SLUG --replay ARCHIVE`: one-line diagnoses of recorded or
constructed answers replayed on 127.0.0.1.

The healthy cases replay real recordings: the Seattle Legistar archive bundled with the
tracker, and the recorded listing pages under tests/fixtures (one per platform). The failure
cases replay small archives written here, at test time, from the bodies
shared/reference/platforms.md records: Legistar's HTTP 500 "LegistarConnectionString setting
is not set up in InSite for client: ..." for an unknown client (1.2), the empty-bodied 403 the
NYC client gives without a token (1.2), PrimeGov's "Attention Required! | Cloudflare" 403 (4),
a test tenant's "Test item" matters (1.2). Those bodies are CONSTRUCTED from the notes (the
notes quote the text, not whole responses), and so are the empty, stale and mismatched
listings; each test says which.
"""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT, SEATTLE_WARC, run_tracker
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tracker.cli import main
from tracker.jurisdictions import HttpClient, check_entry
from tracker.registry import load_registry

FIXTURES = ROOT / "tests" / "fixtures"
BIRMINGHAM_WARC = ROOT / "tracker" / "data" / "archives" / "birmingham-2021-11.warc.gz"
JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
API = "https://webapi.legistar.com/v1"


@dataclass(frozen=True)
class Rec:
    url: str
    body: bytes
    status: int = 200
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "GET"


def write_archive(path: Path, records: Sequence[Rec], *, date: str) -> Path:
    """A WARC of ``records`` as responses fetched at ``date`` (ISO 8601, Z)."""
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for rec in records:
            headers = [("Content-Type", rec.content_type), *rec.headers]
            headers.append(("Content-Length", str(len(rec.body))))
            http = StatusAndHeaders(
                f"{rec.status} {HTTPStatus(rec.status).phrase}", headers, protocol="HTTP/1.1"
            )
            warc_headers = {"WARC-Date": date}
            if rec.method != "GET":
                warc_headers["WARC-Http-Method"] = rec.method
            writer.write_record(
                writer.create_warc_record(
                    rec.url,
                    "response",
                    payload=io.BytesIO(rec.body),
                    http_headers=http,
                    warc_headers_dict=warc_headers,
                )
            )
    return path


def legistar_entry(slug: str, client: str, extra: str = "") -> str:
    return f"""
[[jurisdiction]]
slug = "{slug}"
name = "Test {client}"
state = "NY"
kind = "city"
timezone = "America/New_York"
platform = "legistar"

[jurisdiction.legistar]
client = "{client}"
{extra}
"""


def check(
    tmp_path: Path, slug: str, archive: Path, registry: str | None = None
) -> tuple[int, str, str]:
    """Run the check in-process; (exit code, stdout, stderr)."""
    args = ["jurisdictions", "check", slug, "--replay", str(archive)]
    if registry is not None:
        mine = tmp_path / "mine.toml"
        mine.write_text(registry, encoding="utf-8")
        args += ["--registry", str(mine)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def failed_line(stderr: str, slug: str) -> str:
    [line] = stderr.strip().splitlines()
    prefix = f"ice-tracker: error: {slug}: "
    assert line.startswith(prefix), line
    return line[len(prefix) :]


# -- healthy ------------------------------------------------------------------------------------


def test_a_healthy_legistar_client_exits_0() -> None:
    """The real Seattle recording (tracker/data/archives), through the real command."""
    result = run_tracker("jurisdictions", "check", "seattle", "--replay", SEATTLE_WARC)
    assert result.stdout == (
        "seattle: ok: Legistar Web API client 'seattle' lists 3 events, the newest on "
        "2019-07-29; bodies: City Council; Council Briefing; Human Services, Equitable "
        "Development, and Renter Rights Committee\n"
    )
    assert result.stderr == ""


def test_verbose_lists_robots_txt_then_one_listing_request() -> None:
    result = run_tracker("jurisdictions", "check", "seattle", "--replay", SEATTLE_WARC, "-v")
    assert result.stderr.splitlines() == [
        "  GET https://webapi.legistar.com/robots.txt",
        "  GET https://webapi.legistar.com/v1/seattle/events?$top=20&$orderby=EventDate%20desc",
    ]


def _fixture(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


# slug (bundled entry, or one given here), records (real fixtures), WARC date, expected line
HEALTHY: list[tuple[str, str | None, list[Rec], str, str]] = [
    (
        "clayton-county-ga",
        None,
        [
            Rec(
                "https://claytoncountyga.primegov.com/api/v2/PublicPortal/ListArchivedMeetings?year=2026",
                _fixture("primegov/clayton-county/atl_clayton_co_boc_meetings.json"),
            )
        ],
        "2026-05-01T12:00:00Z",
        "clayton-county-ga: ok: PrimeGov lists no upcoming meetings, 18 archived in 2026, "
        "the newest on 2026-04-21",
    ),
    (
        "south-fulton",
        None,
        [
            Rec(
                "https://southfultonga.api.civicclerk.com/v1/Events",
                _fixture("civicclerk/south-fulton/atl_south_fulton_city_council_meetings.json"),
            )
        ],
        "2026-07-01T12:00:00Z",
        "south-fulton: ok: CivicClerk lists 16 events, the newest on 2026-07-28",
    ),
    (
        "kingsburg",
        None,
        [
            Rec(
                "https://www.cityofkingsburg-ca.gov/AgendaCenter",
                _fixture("civicplus/kingsburg/fre_kingsburg_city_council.html"),
                content_type=HTML,
            )
        ],
        "2022-06-01T12:00:00Z",
        "kingsburg: ok: the CivicPlus AgendaCenter lists 61 agendas",
    ),
    (
        "tulsa",
        None,
        [
            Rec(
                "https://tulsa-ok.granicus.com/ViewPublisher.php?view_id=4",
                _fixture("granicus/tulsa/tgov_viewpublisher_excerpt.html"),
                content_type=HTML,
            )
        ],
        "2025-04-10T12:00:00Z",
        "tulsa: ok: Granicus view 4 lists 2 meetings",
    ),
    (
        "chula-vista",
        None,
        [
            Rec(
                "https://pub-chulavista.escribemeetings.com/MeetingsCalendarView.aspx/GetCalendarMeetings",
                _fixture("escribe/chula-vista/sandie_citychula.json"),
                method="POST",
            )
        ],
        "2025-12-01T12:00:00Z",
        "chula-vista: ok: eSCRIBE lists 1 meeting between 2025-09-02 and 2026-03-01",
    ),
    (
        "riverside-county",
        None,
        [
            Rec(
                "https://riversidecountyca.iqm2.com/Citizens/Calendar.aspx",
                _fixture("iqm2/riverside-county/riverside_county.html"),
                content_type=HTML,
            )
        ],
        "2023-12-31T12:00:00Z",
        "riverside-county: ok: the IQM2 calendar lists 87 meetings",
    ),
    (
        "dinuba",
        None,
        [
            Rec(
                "https://dinuba.novusagenda.com/agendapublic/meetingsgeneral.aspx?MeetingType=1&Date=6ms",
                _fixture("novusagenda/dinuba/fre_dinuba_city_council.html"),
                content_type=HTML,
            )
        ],
        "2022-06-01T12:00:00Z",
        "dinuba: ok: NovusAgenda lists 19 meetings",
    ),
    (
        "philadelphia-web",
        """
[[jurisdiction]]
slug = "philadelphia-web"
name = "Philadelphia"
state = "PA"
kind = "city"
timezone = "America/New_York"
platform = "legistar_web"

[jurisdiction.legistar_web]
base_url = "https://phila.legistar.com"
""",
        [
            Rec(
                "https://phila.legistar.com/Calendar.aspx",
                _fixture("legistar-web/philadelphia/phipa_city_council.html"),
                content_type=HTML,
            )
        ],
        "2019-01-01T12:00:00Z",
        "philadelphia-web: ok: the Legistar InSite calendar lists 20 meetings",
    ),
]


@pytest.mark.parametrize(
    ("slug", "registry", "records", "date", "expected"), HEALTHY, ids=[h[0] for h in HEALTHY]
)
def test_recorded_listings_of_every_platform_are_healthy(
    tmp_path: Path, slug: str, registry: str | None, records: list[Rec], date: str, expected: str
) -> None:
    archive = write_archive(tmp_path / "recorded.warc.gz", records, date=date)
    code, out, err = check(tmp_path, slug, archive, registry)
    assert (code, out, err) == (0, expected + "\n", "")


def test_a_recorded_document_listing_is_healthy(tmp_path: Path) -> None:
    code, out, _ = check(tmp_path, "birmingham-al", BIRMINGHAM_WARC)
    assert (code, out) == (0, "birmingham-al: ok: the listing page has 4 meeting links\n")


# -- what goes wrong ------------------------------------------------------------------------------


def test_an_unknown_legistar_client(tmp_path: Path) -> None:
    """CONSTRUCTED: the 500 body platforms.md 1.2 quotes (Raleigh's client is not set up)."""
    message = "LegistarConnectionString setting is not set up in InSite for client: raleigh"
    archive = write_archive(
        tmp_path / "unknown.warc.gz",
        [Rec(f"{API}/raleigh/events", json.dumps({"Message": message}).encode(), status=500)],
        date="2025-06-01T12:00:00Z",
    )
    mine = tmp_path / "mine.toml"
    mine.write_text(legistar_entry("raleigh-legistar", "raleigh"), encoding="utf-8")
    result = run_tracker(
        "jurisdictions", "check", "raleigh-legistar", "--replay", archive, "--registry", mine,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert failed_line(result.stderr, "raleigh-legistar") == (
        f"unknown Legistar client 'raleigh': the Web API answers HTTP 500 {message!r}: "
        "the client name is wrong, or the place has left Legistar"
    )


def test_a_client_that_needs_a_token(tmp_path: Path) -> None:
    """CONSTRUCTED: NYC's 403 with an empty body on every endpoint (platforms.md 1.2)."""
    archive = write_archive(
        tmp_path / "nyc.warc.gz",
        [Rec(f"{API}/nyc/events", b"", status=403)],
        date="2025-06-01T12:00:00Z",
    )
    code, out, err = check(tmp_path, "nyc-api", archive, legistar_entry("nyc-api", "nyc"))
    assert (code, out) == (1, "")
    assert failed_line(err, "nyc-api") == (
        "token required: the Legistar Web API answers HTTP 403 Forbidden for client 'nyc' "
        "with an empty body: this client's API needs a token; ask the clerk for one and set "
        "token in [jurisdiction.legistar], or read the InSite pages (platform legistar_web)"
    )
    # With a token configured, the same answer means the token is refused.
    code, _, err = check(
        tmp_path, "nyc-api", archive, legistar_entry("nyc-api", "nyc", 'token = "expired"')
    )
    assert code == 1
    assert failed_line(err, "nyc-api").startswith("token refused: ")


# A Cloudflare block page as platforms.md 4 describes it (title "Attention Required! |
# Cloudflare", HTTP 403, server: cloudflare). CONSTRUCTED: the notes give its title, size and
# headers, not its markup.
CLOUDFLARE_PAGE = b"""<!DOCTYPE html>
<html lang="en-US"><head><title>Attention Required! | Cloudflare</title>
<meta name="robots" content="noindex, nofollow" /></head>
<body><div id="cf-wrapper"><div id="cf-error-details">
<h1>Sorry, you have been blocked</h1>
<h2>You are unable to access primegov.com</h2>
<p>This website is using a security service to protect itself from online attacks.</p>
<span>Cloudflare Ray ID: <strong>8f00000000000000</strong></span>
</div></div></body></html>
"""


def test_a_cloudflare_block_page(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "cloudflare.warc.gz",
        [
            Rec(
                "https://lasvegas.primegov.com/api/v2/PublicPortal/ListUpcomingMeetings",
                CLOUDFLARE_PAGE,
                status=403,
                content_type=HTML,
                headers=(("Server", "cloudflare"), ("CF-RAY", "8f00000000000000-DFW")),
            )
        ],
        date="2025-06-01T12:00:00Z",
    )
    code, out, err = check(tmp_path, "las-vegas", archive)
    assert (code, out) == (1, "")
    assert failed_line(err, "las-vegas") == (
        "blocked by a WAF: Cloudflare answers HTTP 403 Forbidden 'Attention Required! | "
        "Cloudflare' at https://lasvegas.primegov.com/api/v2/PublicPortal/ListUpcomingMeetings: "
        "it refuses this client or network, not the request (the crawler will be refused too; "
        "try from another network)"
    )


def test_a_waf_in_front_of_robots_txt_is_reported_as_the_waf(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "cloudflare.warc.gz",
        [
            Rec(
                "https://sanantonio.primegov.com/robots.txt",
                CLOUDFLARE_PAGE,
                status=403,
                content_type=HTML,
                headers=(("Server", "cloudflare"),),
            )
        ],
        date="2025-06-01T12:00:00Z",
    )
    code, _, err = check(tmp_path, "san-antonio", archive)
    assert code == 1
    assert failed_line(err, "san-antonio").startswith("blocked by a WAF: Cloudflare answers")


def test_an_empty_legistar_listing(tmp_path: Path) -> None:
    """CONSTRUCTED: a client that answers, with no events and no matters."""
    archive = write_archive(
        tmp_path / "empty.warc.gz",
        [Rec(f"{API}/quiet/events", b"[]"), Rec(f"{API}/quiet/matters", b"[]")],
        date="2025-06-01T12:00:00Z",
    )
    code, _, err = check(tmp_path, "quiet", archive, legistar_entry("quiet", "quiet"))
    assert code == 1
    assert failed_line(err, "quiet") == (
        "empty listing: the Legistar client 'quiet' answers, but has no events and no matters"
    )


def test_an_empty_primegov_listing(tmp_path: Path) -> None:
    """CONSTRUCTED: both PrimeGov lists answer with []."""
    base = "https://claytoncountyga.primegov.com/api/v2/PublicPortal"
    archive = write_archive(
        tmp_path / "empty.warc.gz",
        [Rec(f"{base}/ListUpcomingMeetings", b"[]"), Rec(f"{base}/ListArchivedMeetings", b"[]")],
        date="2025-06-01T12:00:00Z",
    )
    code, _, err = check(tmp_path, "clayton-county-ga", archive)
    assert code == 1
    assert failed_line(err, "clayton-county-ga") == (
        "empty listing: PrimeGov at https://claytoncountyga.primegov.com lists no upcoming "
        "meetings and none archived in 2025"
    )


def test_a_legistar_test_tenant(tmp_path: Path) -> None:
    """CONSTRUCTED after platforms.md 1.2: miamifl answers 200 with 6 "Test item" matters
    while the city publishes on Granicus."""
    matters = [
        {"MatterId": n, "MatterFile": f"T-{n}", "MatterTitle": "Test item", "MatterName": None}
        for n in range(1, 7)
    ]
    archive = write_archive(
        tmp_path / "test-tenant.warc.gz",
        [
            Rec(f"{API}/miamifl/events", b"[]"),
            Rec(f"{API}/miamifl/matters", json.dumps(matters).encode()),
        ],
        date="2025-06-01T12:00:00Z",
    )
    code, _, err = check(
        tmp_path, "miami-legistar", archive, legistar_entry("miami-legistar", "miamifl")
    )
    assert code == 1
    assert failed_line(err, "miami-legistar") == (
        "test tenant: the Legistar client 'miamifl' answers, but has no events and 6 of its "
        "6 newest matters are test entries (e.g. 'Test item'): the place publishes elsewhere "
        "(platforms.md 1.2)"
    )


def test_test_events_are_a_test_tenant_too(tmp_path: Path) -> None:
    """CONSTRUCTED: events that all belong to a test body."""
    events = [
        {"EventId": n, "EventBodyName": "Test Body", "EventDate": "2025-05-0{n}T00:00:00"}
        for n in range(1, 4)
    ]
    archive = write_archive(
        tmp_path / "test-tenant.warc.gz",
        [Rec(f"{API}/sandbox/events", json.dumps(events).encode())],
        date="2025-06-01T12:00:00Z",
    )
    code, _, err = check(tmp_path, "sandbox", archive, legistar_entry("sandbox", "sandbox"))
    assert code == 1
    assert failed_line(err, "sandbox").startswith(
        "test tenant: 3 of the 3 newest events of Legistar client 'sandbox' are test entries "
        "(e.g. 'Test Body')"
    )


def test_a_stale_tenant(tmp_path: Path) -> None:
    """CONSTRUCTED after platforms.md 14.3: sanantonio's Legistar events stop in 2021-09."""
    events = [
        {"EventId": 1, "EventBodyName": "City Council", "EventDate": "2021-09-16T00:00:00"},
        {"EventId": 2, "EventBodyName": "City Council", "EventDate": "2021-09-09T00:00:00"},
    ]
    archive = write_archive(
        tmp_path / "stale.warc.gz",
        [Rec(f"{API}/sanantonio/events", json.dumps(events).encode())],
        date="2025-06-01T12:00:00Z",
    )
    code, _, err = check(
        tmp_path,
        "san-antonio-legistar",
        archive,
        legistar_entry("san-antonio-legistar", "sanantonio"),
    )
    assert code == 1
    assert failed_line(err, "san-antonio-legistar") == (
        "stale listing: Legistar client 'sanantonio' lists events, the newest on 2021-09-16, "
        "more than a year before 2025-06-01: the place has probably moved to another platform "
        "(platforms.md 14.3)"
    )


def test_a_redirect_to_another_platform_is_a_mismatch(tmp_path: Path) -> None:
    """CONSTRUCTED: an AgendaCenter that now redirects to a PrimeGov portal."""
    archive = write_archive(
        tmp_path / "moved.warc.gz",
        [
            Rec(
                "https://www.normalil.gov/AgendaCenter",
                b"",
                status=302,
                content_type=HTML,
                headers=(("Location", "https://normalil.primegov.com/public/portal"),),
            ),
            Rec(
                "https://normalil.primegov.com/public/portal",
                b"<html><title>Public Portal</title></html>",
                content_type=HTML,
            ),
        ],
        date="2025-06-01T12:00:00Z",
    )
    code, _, err = check(tmp_path, "normal-il", archive)
    assert code == 1
    assert failed_line(err, "normal-il") == (
        "platform mismatch: https://www.normalil.gov/AgendaCenter redirects to "
        "https://normalil.primegov.com/public/portal, which is PrimeGov, not a CivicPlus "
        "AgendaCenter: the place has moved; write its entry for primegov "
        "(`ice-tracker jurisdictions add https://normalil.primegov.com/public/portal`)"
    )


def test_a_redirect_off_the_entrys_hosts_is_not_followed(tmp_path: Path) -> None:
    """CONSTRUCTED: a site that moved to a new domain (as cityblm.org moved to
    bloomingtonil.gov); the check does not fetch outside the entry's hosts."""
    archive = write_archive(
        tmp_path / "moved.warc.gz",
        [
            Rec(
                "https://www.bloomingtonil.gov/AgendaCenter",
                b"",
                status=301,
                content_type=HTML,
                headers=(("Location", "https://www.newdomain.example/AgendaCenter"),),
            )
        ],
        date="2025-06-01T12:00:00Z",
    )
    code, _, err = check(tmp_path, "bloomington-il", archive)
    assert code == 1
    assert failed_line(err, "bloomington-il") == (
        "moved: https://www.bloomingtonil.gov/AgendaCenter redirects to "
        "https://www.newdomain.example/AgendaCenter, outside the entry's hosts "
        "(www.bloomingtonil.gov): update the entry's endpoint"
    )


def test_another_platforms_page_is_a_mismatch(tmp_path: Path) -> None:
    """The recorded Tulsa ViewPublisher page served where an AgendaCenter was expected."""
    archive = write_archive(
        tmp_path / "mismatch.warc.gz",
        [
            Rec(
                "https://www.mcleancountyil.gov/AgendaCenter",
                _fixture("granicus/tulsa/tgov_viewpublisher_excerpt.html"),
                content_type=HTML,
            )
        ],
        date="2025-06-01T12:00:00Z",
    )
    code, _, err = check(tmp_path, "mclean-county-il", archive)
    assert code == 1
    assert failed_line(err, "mclean-county-il") == (
        "platform mismatch: https://www.mcleancountyil.gov/AgendaCenter answered text/html that "
        "looks like a Granicus ViewPublisher site, not a CivicPlus AgendaCenter page (is the "
        "place still on civicplus? is the endpoint right?)"
    )


def test_a_page_where_json_was_expected_is_a_mismatch(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "html.warc.gz",
        [Rec(f"{API}/odd/events", b"<html><title>Welcome</title></html>", content_type=HTML)],
        date="2025-06-01T12:00:00Z",
    )
    code, _, err = check(tmp_path, "odd", archive, legistar_entry("odd", "odd"))
    assert code == 1
    assert failed_line(err, "odd").startswith(
        f"platform mismatch: {API}/odd/events?$top=20&$orderby=EventDate%20desc answered "
        "text/html titled 'Welcome', not a Legistar events list (JSON)"
    )


def test_a_token_is_never_shown(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "html.warc.gz",
        [Rec(f"{API}/odd/events", b"<html><title>Welcome</title></html>", content_type=HTML)],
        date="2025-06-01T12:00:00Z",
    )
    registry = legistar_entry("odd", "odd", 'token = "s3cr3t+/="')
    mine = tmp_path / "mine.toml"
    mine.write_text(registry, encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["jurisdictions", "check", "odd", "--replay", str(archive), "--registry", str(mine), "-v"],
    )
    assert result.exit_code == 1
    assert "s3cr3t" not in result.stderr
    assert "token=(token)" in failed_line(result.stderr.splitlines()[-1], "odd")
    assert f"  GET {API}/odd/events?$top=20&$orderby=EventDate%20desc&token=(token)" in (
        result.stderr.splitlines()
    )


def test_robots_txt_is_respected(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "robots.warc.gz",
        [
            Rec(
                "https://www.bloomingtonil.gov/robots.txt",
                b"User-agent: *\nDisallow: /AgendaCenter\n",
                content_type="text/plain",
            )
        ],
        date="2025-06-01T12:00:00Z",
    )
    code, _, err = check(tmp_path, "bloomington-il", archive)
    assert code == 1
    assert failed_line(err, "bloomington-il") == (
        "robots.txt at https://www.bloomingtonil.gov/robots.txt disallows "
        "https://www.bloomingtonil.gov/AgendaCenter for our User-Agent: the crawler will not "
        "fetch it"
    )


@pytest.mark.parametrize(
    ("status", "meaning"),
    [
        (404, "HTTP 404 Not Found at {url}: nothing is published at this address"),
        (503, "HTTP 503 Service Unavailable at {url}: the site is down or overloaded"),
        (429, "HTTP 429 Too Many Requests at {url}: too many requests"),
    ],
)
def test_http_errors_say_what_they_mean(tmp_path: Path, status: int, meaning: str) -> None:
    url = "https://riversidecountyca.iqm2.com/Citizens/Calendar.aspx"
    archive = write_archive(
        tmp_path / "error.warc.gz",
        [Rec(url, b"<html>error</html>", status=status, content_type=HTML)],
        date="2025-06-01T12:00:00Z",
    )
    code, _, err = check(tmp_path, "riverside-county", archive)
    assert code == 1
    assert failed_line(err, "riverside-county").startswith(meaning.format(url=url))


def test_a_url_missing_from_the_archive_says_so(tmp_path: Path) -> None:
    code, _, err = check(tmp_path, "boston", SEATTLE_WARC)
    assert code == 1
    assert failed_line(err, "boston") == (
        f"HTTP 404: {API}/boston/events?$top=20&$orderby=EventDate%20desc is not in the "
        "replayed archive"
    )


def test_an_unknown_slug_is_one_line(tmp_path: Path) -> None:
    code, _, err = check(tmp_path, "atlantis", SEATTLE_WARC)
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith("ice-tracker: error: no jurisdiction 'atlantis' in the registry")


# -- the HTTP client ------------------------------------------------------------------------------


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback server that records each request's line and headers and answers 200 []."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            self.send_response(200)
            self.send_header("Content-Type", JSON)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"[]")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_requests_go_to_the_replay_server_under_their_own_host(
    recorder: tuple[str, list[dict[str, Any]]],
) -> None:
    address, seen = recorder
    http = HttpClient("ice-council-tracker/0.1 (test)", replay_address=address)
    answer = http.fetch("https://webapi.legistar.com/v1/seattle/events?$top=1")
    assert (answer.status, answer.url, answer.json()) == (
        200,
        "https://webapi.legistar.com/v1/seattle/events?$top=1",
        [],
    )
    [request] = seen
    assert request["path"] == "/v1/seattle/events?$top=1"
    assert request["host"] == "webapi.legistar.com"
    assert request["x-forwarded-proto"] == "https"
    assert request["user-agent"] == "ice-council-tracker/0.1 (test)"


def test_an_unreachable_host() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    entry = load_registry().get("seattle")
    http = HttpClient(
        "ice-council-tracker/0.1 (test)", timeout=5, replay_address=f"127.0.0.1:{port}"
    )
    diagnosis = check_entry(entry, http, now=datetime(2019, 8, 1, tzinfo=UTC))
    assert not diagnosis.ok
    assert diagnosis.code == "unreachable"
    assert (
        diagnosis.line("seattle") == "seattle: unreachable: webapi.legistar.com: connection refused"
    )
