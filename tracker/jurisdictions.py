"""Jurisdictions: recognizing a platform from a URL, writing a registry entry for it, and
checking that an entry's listing endpoint answers the way its platform should.

``detect_platform`` reads only the URL (no request): the host and path shapes of
shared/reference/platforms.md (Legistar ``{site}.legistar.com`` and Web API URLs, PrimeGov,
CivicClerk, CivicPlus ``/AgendaCenter``, Granicus ``ViewPublisher.php?view_id=``, eSCRIBE, IQM2,
NovusAgenda); anything else becomes a ``documents`` entry with the URL as its listing page.
What the URL cannot say (a Legistar client guessed from an InSite site name, a listing nobody
has looked at) goes into the entry's ``notes`` as unverified.

``entry_toml`` writes the entry in the registry format and proves it parses.

``check_entry`` makes one or two plain HTTP requests (``urllib``, not a Scrapy crawl) to the
entry's listing endpoint, after robots.txt and with the project's User-Agent, and says in one
line what is wrong, if anything: an unreachable host, an HTTP error and its meaning on that
platform (Legistar's 500 for an unknown client, its 403 for a client that needs a token), a
WAF block page, a Legistar test tenant, an empty or stale listing, or an answer from some other
platform. With a replay address, every request goes to the replay server on 127.0.0.1 with
the original host in ``Host`` and the scheme in ``X-Forwarded-Proto``, as
tracker.replay.ReplayDownloadHandler does for a crawl.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlsplit, urlunsplit

from parsel import Selector
from protego import Protego

from tracker.exceptions import TrackerError
from tracker.registry import (
    SLUG_RE,
    CivicClerkConfig,
    CivicPlusConfig,
    DocumentsConfig,
    Entry,
    EscribeConfig,
    GranicusConfig,
    Iqm2Config,
    LegistarConfig,
    LegistarWebConfig,
    NovusAgendaConfig,
    PrimeGovConfig,
    parse_registry,
)


class DetectionError(TrackerError):
    """A URL that names a platform but not enough to write an entry (a Granicus site with no
    view id, a Web API URL with no client)."""


class CheckFailed(TrackerError):
    """``jurisdictions check`` found a problem; the message is the one-line diagnosis."""


# ---------------------------------------------------------------------------------------------
# Recognizing the platform from a URL
# ---------------------------------------------------------------------------------------------

# Platforms we recognize but have no spider for: host pattern -> what it is.
NO_SPIDER_HOSTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), name)
    for pattern, name in (
        (r"(^|\.)swagit\.com$", "Swagit (video only)"),
        (r"\.municodemeetings\.com$|^meetings\.municode\.com$", "Municode Meetings"),
        (r"^go\.boarddocs\.com$", "BoardDocs"),
        (r"\.hylandcloud\.com$", "Hyland OnBase Agenda Online"),
        (r"\.civicweb\.net$", "CivicWeb (iCompass)"),
        (r"^public\.destinyhosted\.com$", "Destiny AgendaQuick"),
        (r"chicityclerkelms\.chicago\.gov$", "the Chicago City Clerk's eLMS"),
        (r"^lims\.minneapolismn\.gov$", "the Minneapolis LIMS"),
        (r"(^|\.)civicclerk\.com$", "legacy CivicClerk"),
    )
)

# States that lie in one time zone, for filling in --timezone from --state. States split
# between zones (AK, FL, ID, IN, KS, KY, MI, ND, NE, NV, OR, SD, TN, TX) are left out.
STATE_TIMEZONES: dict[str, str] = {
    state: zone
    for zone, states in (
        ("America/New_York", "CT DC DE GA MA MD ME NC NH NJ NY OH PA RI SC VA VT WV"),
        ("America/Chicago", "AL AR IA IL LA MN MO MS OK WI"),
        ("America/Denver", "CO MT NM UT WY"),
        ("America/Phoenix", "AZ"),
        ("America/Los_Angeles", "CA WA"),
        ("Pacific/Honolulu", "HI"),
    )
    for state in states.split()
}


@dataclass(frozen=True)
class Detected:
    """What a URL says about a place's platform: the platform, its registry table, and notes
    on what the URL could not establish."""

    platform: str
    config: dict[str, Any]
    notes: tuple[str, ...] = ()


def _origin(parts: Any) -> str:
    return f"{parts.scheme}://{parts.netloc}".lower()


def _first_int(values: Sequence[str]) -> int | None:
    for value in values:
        if value.strip().isdigit():
            return int(value.strip())
    return None


def detect_platform(url: str) -> Detected:
    """The platform and registry table a meeting site's URL points to (no request is made)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DetectionError(f"not an http(s) URL: {url!r}")
    host = parts.hostname.lower()
    labels = host.split(".")
    query = {k.lower(): v for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    path = parts.path or "/"

    if host == "webapi.legistar.com":
        found = re.match(r"^/v\d+/([A-Za-z0-9_.-]+)", path)
        if not found:
            raise DetectionError(
                "a Legistar Web API URL names its client: https://webapi.legistar.com/v1/CLIENT/events"
            )
        notes = []
        if "token" in query:
            notes.append(
                "The URL carried an API token, which is not copied here: add token to "
                "[jurisdiction.legistar] yourself."
            )
        return Detected("legistar", {"client": found.group(1)}, tuple(notes))

    if host.endswith(".legistar.com") and len(labels) == 3 and labels[0] != "webapi":
        site = labels[0]
        return Detected(
            "legistar",
            {"client": site, "site_url": f"https://{host}"},
            (
                f"Unverified: the Web API client {site!r} is guessed from the InSite site name "
                "(they differ for some places, e.g. sccgov and santaclara); "
                "`ice-tracker jurisdictions check` says whether the client exists.",
            ),
        )

    if labels[0] == "legistar" and len(labels) >= 3:
        # A Legistar InSite site on the city's own host (legistar.council.nyc.gov).
        return Detected(
            "legistar_web",
            {"base_url": f"https://{host}"},
            ("The Web API client of this InSite site is not known; the pages are read instead.",),
        )

    if host.endswith(".primegov.com") and len(labels) == 3:
        return Detected("primegov", {"base_url": f"https://{host}"})

    civicclerk = re.match(r"^([a-z0-9-]+)\.(api|portal)\.civicclerk\.com$", host)
    if civicclerk:
        tenant = civicclerk.group(1)
        return Detected(
            "civicclerk",
            {
                "base_url": f"https://{tenant}.api.civicclerk.com/v1",
                "portal_url": f"https://{tenant}.portal.civicclerk.com",
            },
        )

    agenda_center = re.search(r"/agendacenter(?=/|$)", path, re.IGNORECASE)
    if agenda_center:
        config: dict[str, Any] = {
            "base_url": _origin(parts) + path[: agenda_center.start()].rstrip("/")
        }
        # /AgendaCenter/City-Council-4 names one category (body); Search/?CIDs=4,7 several.
        rest = path[agenda_center.end() :]
        category = re.match(r"^/[A-Za-z0-9-]+-(\d+)/?$", rest)
        ids = [int(category.group(1))] if category else []
        for value in query.get("cids", []):
            ids += [int(v) for v in value.split(",") if v.strip().isdigit()]
        if ids:
            config["category_ids"] = sorted(set(ids))
        return Detected("civicplus", config)

    if host.endswith(".granicus.com"):
        view = _first_int(query.get("view_id", []))
        if view is None:
            raise DetectionError(
                f"a Granicus site needs its view: give the ViewPublisher page, "
                f"https://{host}/ViewPublisher.php?view_id=N"
            )
        return Detected("granicus", {"base_url": f"https://{host}", "view_ids": [view]})

    if re.match(r"^pub-[a-z0-9-]+\.escribemeetings\.com$", host):
        return Detected("escribe", {"base_url": f"https://{host}"})

    if host.endswith(".iqm2.com") and len(labels) == 3:
        return Detected("iqm2", {"base_url": _origin(parts)})

    if host.endswith(".novusagenda.com") and len(labels) == 3:
        config = {"base_url": f"https://{host}/agendapublic"}
        meeting_type = _first_int(query.get("meetingtype", []))
        if meeting_type is not None:
            config["meeting_types"] = [meeting_type]
        return Detected("novusagenda", config)

    listing = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    known = next((name for pattern, name in NO_SPIDER_HOSTS if pattern.search(host)), None)
    what = (
        f"{known} has no spider yet; this entry reads the page as a document listing"
        if known
        else "the page is read as a document listing"
    )
    return Detected(
        "documents",
        {"listing_urls": [listing]},
        (
            f"Unverified: {what}. Look at the page and set meeting_link, agenda_link, "
            "minutes_link and date_pattern in [jurisdiction.documents] as needed.",
        ),
    )


# ---------------------------------------------------------------------------------------------
# Writing a registry entry
# ---------------------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string (same escapes).
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def slugify(name: str, state: str | None = None) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    slug = f"{base}-{state.lower()}" if state else base
    return slug[:80].strip("-")


def valid_slug(slug: str) -> bool:
    return bool(SLUG_RE.match(slug))


def guess_kind(name: str) -> str:
    lowered = name.lower()
    if re.search(r"\b(county|parish|borough)\b", lowered):
        return "county"
    if re.search(r"\btown(ship)?\b", lowered):
        return "town"
    return "city"


def entry_toml(
    detected: Detected,
    *,
    slug: str,
    name: str,
    state: str,
    kind: str,
    timezone: str,
    source_url: str,
    today: date | None = None,
    extra_notes: Sequence[str] = (),
    registry_path: str | None = None,
) -> str:
    """The registry entry as TOML text; raises RegistryError when it would not parse."""
    when = (today or datetime.now(UTC).date()).isoformat()
    # The source URL may carry a token: keep only what a reviewer needs to see.
    shown = urlunsplit(urlsplit(source_url)._replace(query="", fragment=""))
    lines = [
        f"# Written by `ice-tracker jurisdictions add` on {when} from {shown}",
        f"# Review it, then: ice-tracker jurisdictions check {slug} "
        f"--registry {registry_path or 'THIS_FILE'}",
        "[[jurisdiction]]",
        f"slug = {_toml_value(slug)}",
        f"name = {_toml_value(name)}",
        f"state = {_toml_value(state)}",
        f"kind = {_toml_value(kind)}",
        f"timezone = {_toml_value(timezone)}",
        f"platform = {_toml_value(detected.platform)}",
    ]
    notes = [*detected.notes, *extra_notes]
    if notes:
        lines.append(f"notes = {_toml_value(' '.join(notes))}")
    lines += [
        "# TODO: the bodies to follow, their members, and the public-comment rules",
        "# ([jurisdiction.public_comment]: how, signup_url, deadline, time_limit_minutes),",
        "# as tracker/data/registry.toml shows for seattle and birmingham-al.",
        "",
        f"[jurisdiction.{detected.platform}]",
    ]
    lines += [f"{key} = {_toml_value(value)}" for key, value in detected.config.items()]
    text = "\n".join(lines) + "\n"
    parse_registry(text, "the new entry")  # RegistryError if anything is off
    return text


def append_entry(existing: str, entry: str, path: str) -> str:
    """``existing`` with ``entry`` appended, after proving the whole file still parses
    (a slug already in the file is refused with its line)."""
    joined = existing
    if joined and not joined.endswith("\n"):
        joined += "\n"
    if joined.strip():
        joined += "\n"
    joined += entry
    parse_registry(joined, path)
    return joined


# ---------------------------------------------------------------------------------------------
# Plain HTTP, live or through the replay server
# ---------------------------------------------------------------------------------------------

REPLAY_MISS = b"not in the archive\n"  # tracker.replay's 404 body
MAX_BODY = 4 * 1024 * 1024
MAX_REDIRECTS = 5


class Unreachable(Exception):
    """No HTTP answer at all: DNS, refused or reset connection, timeout, TLS failure."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.reason = reason


@dataclass(frozen=True)
class Answer:
    url: str  # the URL that answered (after redirects)
    status: int
    reason: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    redirects: tuple[str, ...] = ()  # the URLs that redirected, in order
    # A redirect that was not followed, because it leaves the entry's hosts: where it points.
    location: str | None = None

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The decoded JSON body, or None when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            return None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx comes back as an HTTPError; HttpClient follows it itself


def _reason_of(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve (DNS lookup failed)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | http.client.RemoteDisconnected):
        return "the connection was closed without an answer"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its TLS certificate is not valid ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return f"{type(exc).__name__}: {exc}"


class HttpClient:
    """GET and POST with the project's User-Agent, redirects followed by hand (at most
    five), bodies capped at 4 MB, and, when ``replay_address`` is set, every request sent to
    the replay server instead of the site."""

    def __init__(
        self, user_agent: str, *, timeout: float = 30.0, replay_address: str | None = None
    ) -> None:
        self.user_agent = user_agent
        self.timeout = timeout
        self.replay_address = replay_address
        handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
        if replay_address:
            handlers.append(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
        self._opener = urllib.request.build_opener(*handlers)
        self.requests: list[str] = []

    def _once(
        self, url: str, method: str, data: bytes | None, headers: Mapping[str, str]
    ) -> Answer:
        parts = urlsplit(url)
        target = url
        sent = {"User-Agent": self.user_agent, **headers}
        if self.replay_address:
            target = urlunsplit(("http", self.replay_address, parts.path or "/", parts.query, ""))
            sent["Host"] = parts.netloc
            sent["X-Forwarded-Proto"] = parts.scheme
        if parts.scheme not in ("http", "https"):
            raise Unreachable(url, "not an http(s) URL")
        # The scheme is checked above: no file: or custom schemes reach urlopen.
        request = urllib.request.Request(target, data=data, headers=sent, method=method)  # noqa: S310
        self.requests.append(f"{method} {url}")
        try:
            response = self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            response = error
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise Unreachable(parts.hostname or url, _reason_of(exc)) from None
        try:
            with response:
                body = response.read(MAX_BODY)
                status = response.status if response.status is not None else 0
                reason = str(getattr(response, "reason", "") or "")
                headers_out = {k.lower(): v for k, v in response.headers.items()}
        except (OSError, http.client.HTTPException) as exc:
            raise Unreachable(parts.hostname or url, _reason_of(exc)) from None
        return Answer(url=url, status=status, reason=reason, headers=headers_out, body=body)

    def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        allowed_hosts: Sequence[str] | None = None,
    ) -> Answer:
        """The answer to ``url``, following redirects; one that leaves ``allowed_hosts``
        (domains, each with its subdomains) is not followed but returned, its target in
        ``location``."""
        hops: list[str] = []
        for _ in range(MAX_REDIRECTS + 1):
            answer = self._once(url, method, data, headers or {})
            location = answer.header("location")
            if answer.status not in (301, 302, 303, 307, 308) or not location:
                return replace(answer, redirects=tuple(hops))
            target = urljoin(url, location)
            host = (urlsplit(target).hostname or "").lower()
            if allowed_hosts is not None and not any(
                host == d or host.endswith("." + d) for d in allowed_hosts
            ):
                return replace(answer, redirects=tuple(hops), location=target)
            hops.append(url)
            url = target
            if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
                method, data = "GET", None
        raise Unreachable(urlsplit(url).hostname or url, "too many redirects (a redirect loop)")


# ---------------------------------------------------------------------------------------------
# Diagnoses
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnosis:
    ok: bool
    code: str  # ok | unreachable | robots | waf | http | unknown_client | token_required
    #            test_tenant | empty | stale | mismatch | moved | config
    message: str
    requests: tuple[str, ...] = field(default=(), compare=False)

    def line(self, slug: str) -> str:
        return f"{slug}: {self.message}"


def _ok(message: str) -> Diagnosis:
    return Diagnosis(True, "ok", f"ok: {message}")


def _bad(code: str, message: str) -> Diagnosis:
    return Diagnosis(False, code, message)


HTTP_MEANINGS: dict[int, str] = {
    400: "the server rejected the request as malformed",
    401: "a login is required",
    403: "access is refused (a login, token or address allow-list is required, or this "
    "network is blocked)",
    404: "nothing is published at this address (a wrong endpoint, tenant or view id, or the "
    "site has moved)",
    405: "the endpoint does not accept this method",
    408: "the server gave up waiting for the request",
    410: "the listing has been removed for good",
    429: "too many requests: the site is rate-limiting us (try again later)",
    500: "the server failed while answering",
    502: "the site's gateway got no valid answer from the server behind it (try again later)",
    503: "the site is down or overloaded (try again later)",
    504: "the site's gateway timed out (try again later)",
}


def _status_text(answer: Answer) -> str:
    phrase = answer.reason or http.client.responses.get(answer.status, "")
    return f"HTTP {answer.status}" + (f" {phrase}" if phrase else "")


def _title(text: str) -> str:
    found = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    return " ".join(found.group(1).split())[:80] if found else ""


def waf_block(answer: Answer) -> str | None:
    """The name of the WAF/CDN when the answer is its block or challenge page."""
    text = answer.text[:20000]
    lowered = text.lower()
    server = answer.header("server").lower()
    blocked_status = answer.status in (401, 403, 429, 503) or 520 <= answer.status <= 530
    if (
        "cloudflare" in server
        or "cf-ray" in answer.headers
        or "cloudflare" in lowered
        or "cf-chl" in lowered
    ) and (
        blocked_status
        or "attention required! | cloudflare" in lowered
        or "just a moment..." in lowered
        or "cf-browser-verification" in lowered
        or "challenge-platform" in lowered
    ):
        return "Cloudflare"
    if ("akamaighost" in server or "errors.edgesuite.net" in lowered) and blocked_status:
        return "Akamai"
    if (
        ("cloudfront" in server or "x-amz-cf-id" in answer.headers or "cloudfront" in lowered)
        and blocked_status
        and ("request blocked" in lowered or "403 error" in lowered)
    ):
        return "Amazon CloudFront"
    if "incapsula" in lowered and ("incident id" in lowered or blocked_status):
        return "Imperva Incapsula"
    if "sucuri" in lowered and "access denied" in lowered:
        return "Sucuri"
    return None


PLATFORM_NAMES: dict[str, str] = {
    "legistar": "a Legistar Web API",
    "legistar_web": "a Legistar InSite site",
    "primegov": "PrimeGov",
    "civicclerk": "CivicClerk",
    "civicplus": "a CivicPlus AgendaCenter",
    "granicus": "a Granicus ViewPublisher site",
    "escribe": "eSCRIBE",
    "iqm2": "IQM2",
    "novusagenda": "NovusAgenda",
    "documents": "a page of documents",
}

# Markers in a page that say which platform produced it.
PAGE_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (platform, re.compile(pattern, re.IGNORECASE))
    for platform, pattern in (
        ("civicplus", r"/AgendaCenter/ViewFile/|catAgendaRow"),
        (
            "legistar_web",
            r"ctl00_ContentPlaceHolder1_gridCalendar|Legistar|LegislationDetail\.aspx",
        ),
        ("granicus", r"ViewPublisher\.php|MediaPlayer\.php\?view_id|granicus\.com"),
        ("iqm2", r"Detail_Meeting\.aspx|\bMeetingRow\b"),
        ("novusagenda", r"novusagenda|MeetingView\.aspx\?MeetingID"),
        ("escribe", r"escribemeetings|MeetingsCalendarView"),
        ("primegov", r"primegov"),
        ("civicclerk", r"civicclerk"),
    )
)


def sniff_page(text: str) -> str | None:
    """Which platform a page looks like it comes from, by its markup."""
    head = text[:300000]
    for platform, pattern in PAGE_MARKERS:
        if pattern.search(head):
            return platform
    if "wp-content" in head:
        return "WordPress"
    return None


def _looks_like(answer: Answer) -> str:
    """A short description of what an unexpected answer is, for mismatch messages."""
    content_type = answer.header("content-type").split(";")[0].strip() or "no content type"
    sniffed = sniff_page(answer.text)
    title = _title(answer.text)
    what = f"{content_type}"
    if sniffed:
        what += f" that looks like {PLATFORM_NAMES.get(sniffed, sniffed)}"
    if title:
        what += f" titled {title!r}"
    return what


def _family(platform: str) -> str:
    return "legistar" if platform.startswith("legistar") else platform


def _redirect_problem(entry: Entry, answer: Answer) -> Diagnosis | None:
    """A redirect to another platform, or off the entry's hosts altogether."""
    target = answer.location or (answer.url if answer.redirects else None)
    if target is None:
        return None
    first = answer.redirects[0] if answer.redirects else answer.url
    try:
        landed: str | None = detect_platform(target).platform
    except DetectionError:
        landed = None
    if landed is not None and _family(landed) not in (_family(entry.platform), "documents"):
        return _bad(
            "mismatch",
            f"platform mismatch: {first} redirects to {target}, which is "
            f"{PLATFORM_NAMES[landed]}, not {PLATFORM_NAMES[entry.platform]}: the place has "
            f"moved; write its entry for {landed} (`ice-tracker jurisdictions add {target}`)",
        )
    if answer.location:
        return _bad(
            "moved",
            f"moved: {first} redirects to {target}, outside the entry's hosts "
            f"({', '.join(entry.domains())}): update the entry's endpoint",
        )
    return None


def http_problem(answer: Answer, replaying: bool) -> Diagnosis | None:
    """The diagnosis of an answer that is not a 2xx, or is a WAF page; None when fine."""
    waf = waf_block(answer)
    if waf:
        title = _title(answer.text)
        return _bad(
            "waf",
            f"blocked by a WAF: {waf} answers {_status_text(answer)}"
            + (f" {title!r}" if title else "")
            + f" at {answer.url}: it refuses this client or network, not the request "
            "(the crawler will be refused too; try from another network)",
        )
    if 200 <= answer.status < 300:
        return None
    if replaying and answer.status == 404 and answer.body == REPLAY_MISS:
        return _bad("http", f"HTTP 404: {answer.url} is not in the replayed archive")
    meaning = HTTP_MEANINGS.get(answer.status)
    if meaning is None:
        meaning = "a client error" if answer.status < 500 else "a server error"
    return _bad("http", f"{_status_text(answer)} at {answer.url}: {meaning}")


# ---------------------------------------------------------------------------------------------
# Probes, one per platform
# ---------------------------------------------------------------------------------------------

STALE_AFTER = timedelta(days=400)
TEST_WORDS = re.compile(r"\b(test|testing|demo|sandbox)\b", re.IGNORECASE)


@dataclass
class Probe:
    entry: Entry
    http: HttpClient
    now: datetime
    replaying: bool = False

    def get(self, url: str, **kwargs: Any) -> Answer:
        return self.http.fetch(url, allowed_hosts=self.entry.domains(), **kwargs)

    def problem(self, answer: Answer) -> Diagnosis | None:
        return _redirect_problem(self.entry, answer) or http_problem(answer, self.replaying)

    def mismatch(self, answer: Answer, expected: str) -> Diagnosis:
        return _bad(
            "mismatch",
            f"platform mismatch: {answer.url} answered {_looks_like(answer)}, not {expected} "
            f"(is the place still on {self.entry.platform}? is the endpoint right?)",
        )

    def stale(self, newest: date | None, what: str) -> Diagnosis | None:
        if newest is None:
            return None
        reference = self.now.date()
        if reference - newest > STALE_AFTER:
            return _bad(
                "stale",
                f"stale listing: {what}, the newest on {newest.isoformat()}, more than a year "
                f"before {reference.isoformat()}: the place has probably moved to another "
                "platform (platforms.md 14.3)",
            )
        return None


def _date_of(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    text = value.strip()
    millis = re.match(r"^/Date\((-?\d+)", text)
    if millis:
        return datetime.fromtimestamp(int(millis.group(1)) / 1000, UTC).date()
    found = re.match(r"^(\d{4})[-/](\d{2})[-/](\d{2})", text)
    if not found:
        return None
    try:
        day = date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None
    # Placeholder dates ("0001-01-01", "1900-01-01") mean no date.
    return day if day.year > 1950 else None


def _newest(rows: Sequence[Any], *keys: str) -> date | None:
    days = [
        d
        for row in rows
        if isinstance(row, dict)
        for key in keys
        if (d := _date_of(row.get(key))) is not None
    ]
    return max(days) if days else None


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _test_rows(rows: Sequence[Any], keys: Sequence[str]) -> list[str]:
    names = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        texts = [str(row.get(k) or "") for k in keys]
        if any(TEST_WORDS.search(t) for t in texts):
            names.append(next((t for t in texts if TEST_WORDS.search(t)), ""))
    return names


def probe_legistar(probe: Probe) -> Diagnosis:
    config = probe.entry.legistar
    assert isinstance(config, LegistarConfig)
    api = f"{config.base_url}/{config.client}"

    def url(path: str, params: dict[str, Any]) -> str:
        if config.token:
            params = {**params, "token": config.token}
        return f"{api}{path}?" + urlencode(params, quote_via=quote, safe="$',():")

    accept = {"Accept": "application/json"}
    answer = probe.get(url("/events", {"$top": 20, "$orderby": "EventDate desc"}), headers=accept)
    if answer.status == 500 and b"legistarconnectionstring" in answer.body.lower():
        message = answer.json()
        said = (
            message.get("Message")
            if isinstance(message, dict) and isinstance(message.get("Message"), str)
            else "LegistarConnectionString setting is not set up"
        )
        return _bad(
            "unknown_client",
            f"unknown Legistar client {config.client!r}: the Web API answers HTTP 500 {said!r}: "
            "the client name is wrong, or the place has left Legistar",
        )
    if answer.status in (401, 403) and not waf_block(answer):
        said = answer.text.strip()[:80]
        if config.token:
            return _bad(
                "token_required",
                f"token refused: the Legistar Web API answers {_status_text(answer)} for "
                f"client {config.client!r} with the configured token"
                + (f" ({said!r})" if said else "")
                + ": the token is wrong or has expired",
            )
        return _bad(
            "token_required",
            f"token required: the Legistar Web API answers {_status_text(answer)} for client "
            f"{config.client!r}"
            + (f" ({said!r})" if said else " with an empty body")
            + ": this client's API needs a token; ask the clerk for one and set token in "
            "[jurisdiction.legistar], or read the InSite pages (platform legistar_web)",
        )
    problem = probe.problem(answer)
    if problem is not None:
        if answer.status == 400:
            message = answer.json()
            if isinstance(message, dict) and message.get("Message"):
                return _bad("http", f"{problem.message} ({message['Message']!r})")
        return problem
    rows = answer.json()
    if rows is None and "ArrayOfGranicusEvent" in answer.text[:2000]:
        # Some clients answer XML whatever we ask for (platforms.md 1.1).
        rows = [
            {"EventDate": d, "EventBodyName": n}
            for d, n in re.findall(
                r"<EventDate>([^<]*)</EventDate>.*?<EventBodyName>([^<]*)</EventBodyName>",
                answer.text,
                re.DOTALL,
            )
        ] or [{}] * answer.text.count("<GranicusEvent>")
    if not isinstance(rows, list):
        return probe.mismatch(answer, "a Legistar events list (JSON)")
    if not rows:
        matters_answer = probe.get(
            url("/matters", {"$top": 20, "$orderby": "MatterId desc"}), headers=accept
        )
        matters = matters_answer.json() if 200 <= matters_answer.status < 300 else None
        if isinstance(matters, list) and matters:
            tests = _test_rows(matters, ("MatterTitle", "MatterName", "MatterTypeName"))
            if len(tests) * 2 >= len(matters):
                return _bad(
                    "test_tenant",
                    f"test tenant: the Legistar client {config.client!r} answers, but has no "
                    f"events and {len(tests)} of its {_plural(len(matters), 'newest matter')} "
                    f"are test entries (e.g. {tests[0]!r}): the place publishes elsewhere "
                    "(platforms.md 1.2)",
                )
            return _bad(
                "empty",
                f"empty listing: the Legistar client {config.client!r} has legislation "
                f"({_plural(len(matters), 'recent matter')}) but no events: its meetings are "
                "published elsewhere",
            )
        return _bad(
            "empty",
            f"empty listing: the Legistar client {config.client!r} answers, but has no events"
            + (" and no matters" if isinstance(matters, list) else ""),
        )
    tests = _test_rows(rows, ("EventBodyName", "EventComment"))
    if len(tests) * 2 >= len(rows):
        return _bad(
            "test_tenant",
            f"test tenant: {len(tests)} of the {_plural(len(rows), 'newest event')} of Legistar "
            f"client {config.client!r} are test entries (e.g. {tests[0]!r}): the place "
            "publishes elsewhere (platforms.md 1.2)",
        )
    newest = _newest(rows, "EventDate")
    stale = probe.stale(newest, f"Legistar client {config.client!r} lists events")
    if stale:
        return stale
    bodies = sorted({str(r.get("EventBodyName")) for r in rows if r.get("EventBodyName")})
    return _ok(
        f"Legistar Web API client {config.client!r} lists {_plural(len(rows), 'event')}"
        + (f", the newest on {newest.isoformat()}" if newest else "")
        + (
            f"; bodies: {'; '.join(bodies[:3])}{'; ...' if len(bodies) > 3 else ''}"
            if bodies
            else ""
        )
    )


def _page(answer: Answer) -> Selector:
    return Selector(text=answer.text or "<html></html>")


def probe_legistar_web(probe: Probe) -> Diagnosis:
    config = probe.entry.legistar_web
    assert isinstance(config, LegistarWebConfig)
    answer = probe.get(f"{config.base_url}/Calendar.aspx")
    problem = probe.problem(answer)
    if problem:
        return problem
    if "/Error.aspx" in answer.url:
        return _bad("http", f"the InSite calendar redirects to an error page ({answer.url})")
    page = _page(answer)
    grid = page.css("table.rgMasterTable")
    if not grid:
        return probe.mismatch(answer, "a Legistar InSite calendar")
    rows = len(grid.css("tr.rgRow, tr.rgAltRow"))
    if not rows:
        return _bad("empty", f"empty listing: the InSite calendar at {answer.url} lists nothing")
    return _ok(f"the Legistar InSite calendar lists {_plural(rows, 'meeting')}")


def probe_primegov(probe: Probe) -> Diagnosis:
    config = probe.entry.primegov
    assert isinstance(config, PrimeGovConfig)
    api = f"{config.base_url}/api/v2/PublicPortal"
    accept = {"Accept": "application/json"}
    upcoming = probe.get(f"{api}/ListUpcomingMeetings", headers=accept)
    # Some tenants lack the upcoming list (the spider treats it as optional): a 404 there
    # sends the check on to this year's archive.
    if upcoming.status != 404 or waf_block(upcoming):
        problem = probe.problem(upcoming)
        if problem:
            return problem
        rows = upcoming.json()
        if not isinstance(rows, list):
            return probe.mismatch(upcoming, "a PrimeGov meeting list (JSON)")
        if rows:
            return _ok(f"PrimeGov lists {_plural(len(rows), 'upcoming meeting')}")
    year = probe.now.year
    archived = probe.get(f"{api}/ListArchivedMeetings?year={year}", headers=accept)
    problem = probe.problem(archived)
    if problem:
        return problem
    past = archived.json()
    if not isinstance(past, list):
        return probe.mismatch(archived, "a PrimeGov meeting list (JSON)")
    if not past:
        return _bad(
            "empty",
            f"empty listing: PrimeGov at {config.base_url} lists no upcoming meetings and none "
            f"archived in {year}",
        )
    newest = _newest(past, "dateTime", "date")
    return _ok(
        f"PrimeGov lists no upcoming meetings, {len(past)} archived in {year}"
        + (f", the newest on {newest.isoformat()}" if newest else "")
    )


def probe_civicclerk(probe: Probe) -> Diagnosis:
    config = probe.entry.civicclerk
    assert isinstance(config, CivicClerkConfig)
    api = config.base_url if config.base_url.endswith("/v1") else f"{config.base_url}/v1"
    query = urlencode(
        {"$orderby": "startDateTime desc", "$top": 20}, quote_via=quote, safe="$',():"
    )
    answer = probe.get(f"{api}/Events?{query}", headers={"Accept": "application/json"})
    if answer.status == 404 and not (probe.replaying and answer.body == REPLAY_MISS):
        return _bad(
            "http",
            f"unknown CivicClerk tenant: the API at {api} answers HTTP 404 (the portal answers "
            "200 for any name, so only the API tells; platforms.md 5.1)",
        )
    problem = probe.problem(answer)
    if problem:
        return problem
    data = answer.json()
    if not isinstance(data, dict) or not isinstance(data.get("value"), list):
        return probe.mismatch(answer, "a CivicClerk events list (OData JSON)")
    rows = data["value"]
    if not rows:
        return _bad("empty", f"empty listing: the CivicClerk tenant at {api} lists no events")
    newest = _newest(rows, "startDateTime", "eventDate")
    stale = probe.stale(newest, "CivicClerk lists events")
    if stale:
        return stale
    return _ok(
        f"CivicClerk lists {_plural(len(rows), 'event')}"
        + (f", the newest on {newest.isoformat()}" if newest else "")
    )


def probe_civicplus(probe: Probe) -> Diagnosis:
    config = probe.entry.civicplus
    assert isinstance(config, CivicPlusConfig)
    answer = probe.get(f"{config.base_url}/AgendaCenter")
    problem = probe.problem(answer)
    if problem:
        return problem
    page = _page(answer)
    categories = page.css("div.listing[id^=cat], table[id^=table]")
    rows = len(page.css("tr.catAgendaRow"))
    if not rows and not categories:
        return probe.mismatch(answer, "a CivicPlus AgendaCenter page")
    if not rows:
        return _bad("empty", f"empty listing: the AgendaCenter at {answer.url} lists no agendas")
    missing = [c for c in config.category_ids if not page.css(f"#cat{c}, #table{c}")]
    if missing:
        return _bad(
            "config",
            f"the AgendaCenter at {answer.url} has no category {missing[0]} "
            "(check category_ids in [jurisdiction.civicplus])",
        )
    return _ok(f"the CivicPlus AgendaCenter lists {_plural(rows, 'agenda')}")


def probe_granicus(probe: Probe) -> Diagnosis:
    config = probe.entry.granicus
    assert isinstance(config, GranicusConfig)
    if not config.view_ids:
        return _bad("config", "no view_ids in [jurisdiction.granicus]: nothing to list")
    view = config.view_ids[0]
    answer = probe.get(f"{config.base_url}/ViewPublisher.php?view_id={view}")
    problem = probe.problem(answer)
    if problem:
        return problem
    page = _page(answer)
    rows = len(page.css("tr.listingRow, tr.odd, tr.even, td.listItem:first-child"))
    links = " ".join(page.css("a::attr(href), a::attr(onclick)").getall())
    clips = set(re.findall(r"(?:clip_id|event_id)=(\d+)", links, re.IGNORECASE))
    if not clips and not rows:
        if sniff_page(answer.text) not in (None, "granicus"):
            return probe.mismatch(answer, "a Granicus ViewPublisher listing")
        return _bad(
            "empty",
            f"empty listing: Granicus view {view} at {answer.url} lists no meetings "
            "(is the view id right?)",
        )
    return _ok(f"Granicus view {view} lists {_plural(len(clips) or rows, 'meeting')}")


def probe_escribe(probe: Probe) -> Diagnosis:
    config = probe.entry.escribe
    assert isinstance(config, EscribeConfig)
    first = (probe.now - timedelta(days=90)).date()
    last = (probe.now + timedelta(days=90)).date()
    body = json.dumps(
        {
            "calendarStartDate": f"{first:%Y-%m-%d}T00:00:00",
            "calendarEndDate": f"{last:%Y-%m-%d}T00:00:00",
        }
    ).encode()
    answer = probe.get(
        f"{config.base_url}/MeetingsCalendarView.aspx/GetCalendarMeetings",
        method="POST",
        data=body,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "X-Requested-With": "XMLHttpRequest",
        },
    )
    problem = probe.problem(answer)
    if problem:
        return problem
    data = answer.json()
    if not isinstance(data, dict) or not isinstance(data.get("d"), list):
        return probe.mismatch(answer, "an eSCRIBE meeting calendar (JSON)")
    rows = data["d"]
    if not rows:
        return _bad(
            "empty",
            f"empty listing: eSCRIBE at {config.base_url} lists no meetings between "
            f"{first.isoformat()} and {last.isoformat()}",
        )
    return _ok(
        f"eSCRIBE lists {_plural(len(rows), 'meeting')} between {first.isoformat()} and "
        f"{last.isoformat()}"
    )


def probe_iqm2(probe: Probe) -> Diagnosis:
    config = probe.entry.iqm2
    assert isinstance(config, Iqm2Config)
    answer = probe.get(f"{config.base_url}/Citizens/Calendar.aspx")
    problem = probe.problem(answer)
    if problem:
        return problem
    rows = len(_page(answer).css("div.MeetingRow"))
    if not rows:
        if sniff_page(answer.text) == "iqm2" or "iqm2" in answer.url:
            return _bad("empty", f"empty listing: the IQM2 calendar at {answer.url} lists nothing")
        return probe.mismatch(answer, "an IQM2 calendar")
    return _ok(f"the IQM2 calendar lists {_plural(rows, 'meeting')}")


def probe_novusagenda(probe: Probe) -> Diagnosis:
    config = probe.entry.novusagenda
    assert isinstance(config, NovusAgendaConfig)
    query: dict[str, Any] = {"Date": config.date_range}
    if config.meeting_types:
        query = {"MeetingType": config.meeting_types[0], **query}
    answer = probe.get(f"{config.base_url}/meetingsgeneral.aspx?{urlencode(query)}")
    problem = probe.problem(answer)
    if problem:
        return problem
    grid = _page(answer).css("table.rgMasterTable")
    if not grid:
        return probe.mismatch(answer, "a NovusAgenda meetings page")
    rows = len(grid.css("tr.rgRow, tr.rgAltRow"))
    if not rows:
        return _bad("empty", f"empty listing: NovusAgenda at {answer.url} lists no meetings")
    return _ok(f"NovusAgenda lists {_plural(rows, 'meeting')}")


def probe_documents(probe: Probe) -> Diagnosis:
    config = probe.entry.documents
    assert isinstance(config, DocumentsConfig)
    answer = probe.get(config.listing_urls[0])
    problem = probe.problem(answer)
    if problem:
        return problem
    content_type = answer.header("content-type").lower()
    if "html" not in content_type and answer.text.lstrip()[:1] != "<":
        return probe.mismatch(answer, "an HTML page of meeting links")
    links = [
        (" ".join(" ".join(a.css("::text").getall()).split()), urljoin(answer.url, href))
        for a in _page(answer).css("a[href]")
        if (href := a.attrib.get("href", "").strip())
    ]
    patterns = [("agenda", config.agenda_link, True), ("minutes", config.minutes_link, True)]
    if config.meeting_link:
        patterns.append(("meeting", config.meeting_link, False))
    counts = {
        name: sum(
            1 for text, url in links if re.search(pattern, f"{text} {url}" if by_text else url)
        )
        for name, pattern, by_text in patterns
    }
    if not any(counts.values()):
        return _bad(
            "empty",
            f"empty listing: {answer.url} has {_plural(len(links), 'link')} but none to a "
            "meeting, agenda or minutes (the page may be drawn by JavaScript, or the link "
            "patterns in [jurisdiction.documents] need setting)",
        )
    found = ", ".join(_plural(n, f"{name} link") for name, n in counts.items() if n)
    return _ok(f"the listing page has {found}")


PROBES: dict[str, Callable[[Probe], Diagnosis]] = {
    "legistar": probe_legistar,
    "legistar_web": probe_legistar_web,
    "primegov": probe_primegov,
    "civicclerk": probe_civicclerk,
    "civicplus": probe_civicplus,
    "granicus": probe_granicus,
    "escribe": probe_escribe,
    "iqm2": probe_iqm2,
    "novusagenda": probe_novusagenda,
    "documents": probe_documents,
}


def listing_url(entry: Entry) -> str:
    """The first URL a check asks for (for robots.txt)."""
    config = entry.platform_config
    if isinstance(config, LegistarConfig):
        return f"{config.base_url}/{config.client}/events"
    if isinstance(config, DocumentsConfig):
        return config.listing_urls[0]
    base = str(getattr(config, "base_url", ""))
    suffix = {
        "legistar_web": "/Calendar.aspx",
        "primegov": "/api/v2/PublicPortal/ListUpcomingMeetings",
        "civicclerk": "/Events" if base.endswith("/v1") else "/v1/Events",
        "civicplus": "/AgendaCenter",
        "granicus": "/ViewPublisher.php",
        "escribe": "/MeetingsCalendarView.aspx/GetCalendarMeetings",
        "iqm2": "/Citizens/Calendar.aspx",
        "novusagenda": "/meetingsgeneral.aspx",
    }
    return base + suffix.get(entry.platform, "")


def robots_verdict(probe: Probe, url: str, user_agent: str) -> Diagnosis | None:
    """None when robots.txt lets us fetch ``url``; otherwise why not (or the WAF in the way)."""
    parts = urlsplit(url)
    robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
    answer = probe.get(robots_url)
    waf = waf_block(answer)
    if waf:
        return http_problem(answer, probe.replaying)
    if answer.status != 200:
        return None  # no robots.txt (or an error page): everything is allowed
    rules = Protego.parse(answer.text)
    if rules.can_fetch(url, user_agent):
        return None
    return _bad(
        "robots",
        f"robots.txt at {robots_url} disallows {url} for our User-Agent: the crawler will "
        "not fetch it",
    )


def check_entry(
    entry: Entry,
    http: HttpClient,
    *,
    now: datetime | None = None,
    obey_robots: bool = True,
) -> Diagnosis:
    """Probe ``entry``'s listing endpoint and diagnose the answer in one line."""
    probe = Probe(
        entry=entry,
        http=http,
        now=now or datetime.now(UTC),
        replaying=http.replay_address is not None,
    )
    try:
        if obey_robots:
            refused = robots_verdict(probe, listing_url(entry), http.user_agent)
            if refused is not None:
                return _finished(refused, http, entry)
        return _finished(PROBES[entry.platform](probe), http, entry)
    except Unreachable as exc:
        diagnosis = _bad("unreachable", f"unreachable: {exc.host}: {exc.reason}")
        return _finished(diagnosis, http, entry)


def _finished(diagnosis: Diagnosis, http: HttpClient, entry: Entry) -> Diagnosis:
    """The diagnosis with the requests made, an API token never shown in either."""
    token = getattr(entry.platform_config, "token", None)
    lines = [diagnosis.message, *http.requests]
    if token:
        for form in {token, quote(token, safe=""), quote(token, safe="/")}:
            lines = [line.replace(form, "(token)") for line in lines]
    return Diagnosis(diagnosis.ok, diagnosis.code, lines[0], tuple(lines[1:]))


def replay_reference_time(dates: Sequence[str]) -> datetime | None:
    """The newest WARC-Date among ``dates``: "now" for a check against a recording."""
    parsed = []
    for value in dates:
        try:
            parsed.append(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except (TypeError, ValueError):
            continue
    return max(parsed) if parsed else None
