"""The registry: the jurisdictions we know and how to crawl them.

A registry file is TOML with one ``[[jurisdiction]]`` table per jurisdiction (see
tracker/data/registry.toml, the bundled one). Adding a city on a supported platform is one entry
and no code; an organizer can keep their own file and pass it with ``--registry FILE``. Every
mistake in a file is reported with the file, the line and the key, and unknown keys are errors:
a misspelt key that is silently ignored is worse than a refusal.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tracker.exceptions import RegistryError, UnknownJurisdiction
from tracker.models import VoteValue

BUNDLED_REGISTRY = Path(__file__).parent / "data" / "registry.toml"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")

# Published vote values that mean the same thing everywhere we have seen them. A jurisdiction's
# own [votes] table (and Legistar's /votetypes) take precedence; anything in neither place is
# stored raw, normalized to null and reported, never guessed.
DEFAULT_VOTE_MAP: dict[str, VoteValue] = {
    "aye": VoteValue.YES,
    "ayes": VoteValue.YES,
    "yes": VoteValue.YES,
    "yea": VoteValue.YES,
    "affirmative": VoteValue.YES,
    "in favor": VoteValue.YES,
    "nay": VoteValue.NO,
    "nays": VoteValue.NO,
    "no": VoteValue.NO,
    "negative": VoteValue.NO,
    "opposed": VoteValue.NO,
    "abstain": VoteValue.ABSTAIN,
    "abstained": VoteValue.ABSTAIN,
    "abstention": VoteValue.ABSTAIN,
    "absent": VoteValue.ABSENT,
    "excused": VoteValue.EXCUSED,
    "recused": VoteValue.RECUSED,
    "recusal": VoteValue.RECUSED,
    "conflict": VoteValue.RECUSED,
    "present": VoteValue.PRESENT,
    "non-voting": VoteValue.NOT_VOTING,
    "not voting": VoteValue.NOT_VOTING,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value


class LegistarConfig(_Strict):
    client: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    token: str | None = None
    base_url: str = "https://webapi.legistar.com/v1"
    # InSite site, for human-facing links (default: https://{client}.legistar.com).
    site_url: str | None = None
    # Only these bodies (by name, as Legistar spells them); empty: every body.
    bodies: tuple[str, ...] = ()

    @field_validator("base_url", "site_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value).rstrip("/")


class PublicComment(_Strict):
    how: str | None = None
    signup_url: str | None = None
    email: str | None = None
    phone: str | None = None
    deadline: str | None = None  # the rule as the council states it
    deadline_hours_before: Annotated[int, Field(ge=0, le=24 * 14)] | None = None
    time_limit_minutes: Annotated[float, Field(gt=0, le=60)] | None = None
    notes: str | None = None

    @field_validator("signup_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)


class _SiteConfig(_Strict):
    """A platform reached at one site root; ``bodies`` limits the crawl to bodies by name."""

    base_url: str
    bodies: tuple[str, ...] = ()

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        return _check_url(value).rstrip("/")


class Member(_Strict):
    """A seat on a body, for places whose platform publishes no membership."""

    name: Annotated[str, Field(min_length=2)]
    role: str | None = None  # "President", "Chair", ...
    start: date | None = None
    end: date | None = None
    email: str | None = None
    phone: str | None = None
    website: str | None = None


class BodyEntry(_Strict):
    name: Annotated[str, Field(min_length=2)]
    kind: Literal["council", "committee", "commission", "other"] = "council"
    members: tuple[Member, ...] = ()


class PrimeGovConfig(_SiteConfig):
    """``https://{tenant}.primegov.com`` (platforms.md section 4)."""


class CivicClerkConfig(_SiteConfig):
    """The OData API ``https://{tenant}.api.civicclerk.com/v1`` (platforms.md 5.1)."""

    portal_url: str | None = None  # https://{tenant}.portal.civicclerk.com, sent as Origin
    category_ids: tuple[int, ...] = ()  # event categories (bodies) to ask for; empty: all
    # startDateTime and publishOn end in "Z" but carry the local wall time (Tulsa County's
    # 9:30 AM board meetings are "09:30:00Z"); set true for a tenant that sends real UTC.
    times_are_utc: bool = False


class CivicPlusConfig(_SiteConfig):
    """A CivicEngage site root whose AgendaCenter is at /AgendaCenter (platforms.md 6)."""

    category_ids: tuple[int, ...] = ()  # AgendaCenter categories (bodies); empty: all


class GranicusConfig(_SiteConfig):
    """``https://{client}.granicus.com`` ViewPublisher (platforms.md 7)."""

    view_ids: tuple[int, ...] = ()


class EscribeConfig(_SiteConfig):
    """``https://pub-{city}.escribemeetings.com`` (platforms.md 9)."""


class Iqm2Config(_SiteConfig):
    """``https://{slug}.iqm2.com`` (platforms.md 8)."""


class NovusAgendaConfig(_SiteConfig):
    """``https://{slug}.novusagenda.com/agendapublic`` (platforms.md 11)."""

    meeting_types: tuple[int, ...] = ()  # MeetingType ids to list (bodies); empty: all types
    # The listing's date range: l6m/n6m = last/next 6 months, lyr/nyr = last/next year,
    # lmn/nmn = last/next month, 6ms = a 6-month span around today.
    date_range: Literal["lmn", "l6m", "lyr", "nmn", "n6m", "nyr", "6ms"] = "6ms"
    default_time: str | None = None  # "6:00 PM": the listing gives dates only

    @field_validator("default_time")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(
            r"\d{1,2}(?::\d{2})?\s*[AaPp]\.?[Mm]\.?", value.strip()
        ):
            raise ValueError(f"not a time like 6:00 PM: {value!r}")
        return value


class LegistarWebConfig(_SiteConfig):
    """Legistar InSite pages ``https://{site}.legistar.com`` where the API is closed (2)."""


class DocumentsConfig(_Strict):
    """Agenda and minutes links posted on ordinary pages (WordPress, CivicEngage document
    centers, county sites): everything about the site is here, no code per city."""

    listing_urls: tuple[str, ...]
    meeting_link: str | None = None  # regex on a link's URL leading to one meeting's page
    agenda_link: str = r"(?i)\bagenda\b"  # regex on a link's text or URL
    minutes_link: str = r"(?i)\bminutes\b"
    next_link: str = r"(?i)^\s*(?:next|older|»|›)"  # regex on the text of a "next page" link
    max_listing_pages: Annotated[int, Field(ge=1, le=100)] = 3
    date_pattern: str | None = None  # regex with named groups month, day, year
    default_time: str | None = None  # "9:30 AM" when pages give no time
    location: str | None = None
    body: str = "City Council"
    item_pattern: str | None = None  # regex for numbered agenda items (tracker.agenda_text)
    cancelled_pattern: str = r"(?i)\bcancel+ed\b"

    @field_validator("listing_urls")
    @classmethod
    def _listings(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one listing URL")
        return tuple(_check_url(v) for v in value)

    @field_validator(
        "meeting_link",
        "agenda_link",
        "minutes_link",
        "next_link",
        "date_pattern",
        "item_pattern",
        "cancelled_pattern",
    )
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


PLATFORM_CONFIGS: dict[str, type[_Strict]] = {
    "legistar": LegistarConfig,
    "legistar_web": LegistarWebConfig,
    "primegov": PrimeGovConfig,
    "civicclerk": CivicClerkConfig,
    "civicplus": CivicPlusConfig,
    "granicus": GranicusConfig,
    "escribe": EscribeConfig,
    "iqm2": Iqm2Config,
    "novusagenda": NovusAgendaConfig,
    "documents": DocumentsConfig,
}


class Entry(_Strict):
    slug: str
    name: str
    state: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    kind: Literal["city", "county", "town", "consolidated", "district"]
    timezone: str
    platform: str
    legistar: LegistarConfig | None = None
    legistar_web: LegistarWebConfig | None = None
    primegov: PrimeGovConfig | None = None
    civicclerk: CivicClerkConfig | None = None
    civicplus: CivicPlusConfig | None = None
    granicus: GranicusConfig | None = None
    escribe: EscribeConfig | None = None
    iqm2: Iqm2Config | None = None
    novusagenda: NovusAgendaConfig | None = None
    documents: DocumentsConfig | None = None
    votes: dict[str, VoteValue] = Field(default_factory=dict)
    public_comment: PublicComment | None = None
    bodies: tuple[BodyEntry, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    crawl_interval_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 6.0
    notes: str | None = None

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_RE.match(value):
            raise ValueError("must be 3-80 lower-case letters, digits and hyphens")
        return value

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        if value not in PLATFORM_CONFIGS:
            raise ValueError(f"unknown platform {value!r}: one of {', '.join(PLATFORM_CONFIGS)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def platform_config(self) -> _Strict:
        config = getattr(self, self.platform)
        assert config is not None  # checked when the entry was loaded
        return config

    def domains(self) -> tuple[str, ...]:
        """Hosts the spiders may fetch from for this jurisdiction."""
        hosts = list(self.allowed_domains)
        config = self.platform_config
        for name in ("base_url", "site_url", "portal_url"):
            url = getattr(config, name, None)
            if url:
                hosts.append(urlsplit(url).hostname or "")
        for url in getattr(config, "listing_urls", ()):
            hosts.append(urlsplit(url).hostname or "")
        hosts += PLATFORM_FILE_HOSTS.get(self.platform, [])
        return tuple(dict.fromkeys(h for h in hosts if h))


# Where platforms keep documents, beyond the site itself.
PLATFORM_FILE_HOSTS: dict[str, list[str]] = {
    "legistar": ["legistar.com", "legistar1.com", "legistar2.com", "granicus.com"],
    "legistar_web": ["legistar.com", "legistar1.com", "legistar2.com", "granicus.com"],
    "granicus": ["granicus.com", "cloudfront.net"],
    "civicclerk": ["civicclerk.com"],
    "primegov": ["primegov.com"],
}


@dataclass(frozen=True)
class Registry:
    entries: Mapping[str, Entry]
    sources: Mapping[str, str]  # slug -> file that defined it

    def get(self, slug: str) -> Entry:
        try:
            return self.entries[slug]
        except KeyError:
            hint = ""
            close = [s for s in self.entries if slug.split("-")[0] in s]
            if close:
                hint = f" (did you mean {', '.join(sorted(close)[:3])}?)"
            raise UnknownJurisdiction(
                f"no jurisdiction {slug!r} in the registry{hint}; "
                "list them with `ice-tracker jurisdictions`"
            ) from None

    def __iter__(self) -> Any:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)


class _LineIndex:
    """Where each key of each [[jurisdiction]] table sits in the file, for error messages.

    tomllib keeps no positions, so this reads the headers and ``key =`` lines itself; it only
    has to be right for well-formed files, because tomllib rejects the others first with its own
    line number.
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
    _KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")

    def __init__(self, text: str) -> None:
        self.entry_lines: list[int] = []
        self.keys: list[dict[tuple[str, ...], int]] = []
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                path = tuple(p.strip().strip("\"'") for p in header.group(2).split("."))
                if header.group(1) == "[[" and path == ("jurisdiction",):
                    self.entry_lines.append(number)
                    self.keys.append({})
                    table = ()
                elif path[:1] == ("jurisdiction",) and self.keys:
                    table = path[1:]
                    self.keys[-1].setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key and self.keys:
                name = key.group(1).strip("\"'")
                self.keys[-1].setdefault((*table, name), number)

    def line_for(self, index: int, loc: Sequence[str | int]) -> int | None:
        if index >= len(self.keys):
            return None
        parts = tuple(str(p) for p in loc)
        while parts:
            if parts in self.keys[index]:
                return self.keys[index][parts]
            parts = parts[:-1]
        return self.entry_lines[index]


def _error_location(err: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(p) for p in err["loc"] if not str(p).startswith("function-"))


def parse_registry(text: str, path: str) -> list[Entry]:
    """Parse and validate one registry file's text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's tomllib keeps the position only in the message.
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(found.group(1)) if found else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        if found:
            msg += f" (column {found.group(2)})"
        raise RegistryError(f"not valid TOML: {msg}", path=path, line=line) from None
    extra = sorted(set(data) - {"jurisdiction"})
    if extra:
        raise RegistryError(
            "unknown top-level key (entries go in [[jurisdiction]] tables)", path=path, key=extra[0]
        )
    raw_entries = data.get("jurisdiction", [])
    if not isinstance(raw_entries, list):
        raise RegistryError(
            "must be an array of tables, [[jurisdiction]]", path=path, key="jurisdiction"
        )
    lines = _LineIndex(text)
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_entries):
        where = lines.line_for(index, ())
        try:
            entry = Entry.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = _error_location(first)
            message = first["msg"]
            if first["type"] == "extra_forbidden":
                message = "unknown key"
            elif first["type"] == "missing":
                message = "required key is missing"
            raise RegistryError(
                message, path=path, line=lines.line_for(index, loc), key=".".join(loc) or None
            ) from None
        config = getattr(entry, entry.platform, None)
        if config is None:
            raise RegistryError(
                f"platform {entry.platform!r} needs a [{entry.platform}] table",
                path=path,
                line=where,
                key=entry.platform,
            )
        for other in PLATFORM_CONFIGS:
            if other != entry.platform and getattr(entry, other, None) is not None:
                raise RegistryError(
                    f"a [{other}] table on a {entry.platform} entry",
                    path=path,
                    line=lines.line_for(index, (other,)),
                    key=other,
                )
        if entry.slug in seen:
            raise RegistryError(
                f"duplicate slug {entry.slug!r} (first at line {seen[entry.slug]})",
                path=path,
                line=lines.line_for(index, ("slug",)),
                key="slug",
            )
        seen[entry.slug] = lines.line_for(index, ("slug",)) or 0
        entries.append(entry)
    return entries


def load_registry_file(path: Path) -> list[Entry]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError("no such registry file", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"cannot read registry file: {exc}", path=str(path)) from None
    return parse_registry(text, str(path))


@cache
def _bundled() -> tuple[Entry, ...]:
    return tuple(load_registry_file(BUNDLED_REGISTRY))


def load_registry(extra_files: Iterable[Path] = (), *, bundled: bool = True) -> Registry:
    """The bundled registry plus the user's files; a user's entry replaces a bundled one."""
    entries: dict[str, Entry] = {}
    sources: dict[str, str] = {}
    if bundled:
        for entry in _bundled():
            entries[entry.slug] = entry
            sources[entry.slug] = str(BUNDLED_REGISTRY)
    for path in extra_files:
        for entry in load_registry_file(Path(path)):
            entries[entry.slug] = entry
            sources[entry.slug] = str(path)
    return Registry(entries=entries, sources=sources)
