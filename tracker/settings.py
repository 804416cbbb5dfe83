"""Every setting in one place: name, default and help.

A value comes from, highest first: an explicit override (a command-line flag), the environment
variable ``TRACKER_<NAME>``, the config file (TOML, top-level keys in lower case; its path is
``TRACKER_CONFIG``, else ``config.toml`` in the data directory when that file exists), and last
the default below. ``ice-tracker settings`` prints them all; docs/settings.md documents each one
and a test keeps the two in step.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from tracker.exceptions import ConfigError

ENV_PREFIX = "TRACKER_"


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    data_dir: str = _setting(
        "", "Folder for the SQLite database, archives and outputs (default: the user data folder)."
    )
    database_url: str = _setting(
        "", "SQLAlchemy URL of the database (default: SQLite file tracker.db in data_dir)."
    )
    db_pool_size: int = _setting(
        5,
        "PostgreSQL: connections each process keeps open (a crawl uses one or two, the web "
        "server one per busy request thread).",
    )
    db_max_overflow: int = _setting(
        5, "PostgreSQL: extra connections a process may open past db_pool_size under load."
    )
    db_pool_recycle: int = _setting(
        1800,
        "PostgreSQL: seconds after which a pooled connection is replaced (below the idle "
        "timeouts of firewalls and poolers; -1: never).",
    )
    db_pool_timeout: float = _setting(
        30.0, "PostgreSQL: seconds to wait for a free pooled connection before failing."
    )
    archive_dir: str = _setting(
        "", "Folder for the WARC archives of live crawls (default: data_dir/archive)."
    )
    archive: bool = _setting(True, "Write every fetched response of a live crawl to a WARC file.")
    contact: str = _setting(
        "", "Contact (URL or e-mail) put in the User-Agent so site operators can reach us."
    )
    user_agent: str = _setting(
        "ice-council-tracker/0.1 (public-interest meeting tracker)",
        "User-Agent of every request; the contact setting is appended when set.",
    )
    lookback_hours: int = _setting(
        72, "Incremental crawls re-ask for everything changed this long before the last run."
    )
    full_sweep_hours: int = _setting(
        168, "A full sweep of a jurisdiction's meeting window runs at least this often."
    )
    refresh_recent_days: int = _setting(
        14, "Meetings held this recently are always refetched (votes arrive after the meeting)."
    )
    sweep_past_days: int = _setting(120, "A full sweep covers meetings this many days back...")
    sweep_future_days: int = _setting(180, "...and this many days ahead.")
    download_maxsize: int = _setting(
        50 * 1024 * 1024, "Largest response body in bytes; larger downloads are refused."
    )
    documents: bool = _setting(
        True, "Fetch the agendas, minutes and attachments that meetings and items link to."
    )
    document_refresh_hours: int = _setting(
        24, "A document fetched this recently is not asked for again (others: a conditional GET)."
    )
    ocr: bool = _setting(True, "Run OCR (tesseract, when installed) on pages with no text layer.")
    blob_dir: str = _setting(
        "", "Folder for the original bytes of every document version (default: data_dir/documents)."
    )
    download_timeout: int = _setting(60, "Seconds before a request is abandoned.")
    retry_after_max_seconds: float = _setting(
        120.0, "Longest Retry-After wait honoured before retrying; longer ones are not retried."
    )
    download_delay: float = _setting(
        1.0, "Seconds between requests to one host (AutoThrottle adapts from here)."
    )
    concurrent_per_host: int = _setting(1, "Requests in flight per host at once.")
    batch_size: int = _setting(200, "Items written to the database in one transaction.")
    robotstxt_obey: bool = _setting(True, "Honour robots.txt.")
    progress_seconds: float = _setting(
        5.0, "How often a running crawl reports progress on stderr (0: never)."
    )
    log_level: str = _setting("WARNING", "Log level of crawls (DEBUG, INFO, WARNING, ERROR).")
    # -- e-mail: subscriptions, digests and their delivery (tracker/digest.py, mailer.py) ----
    public_base_url: str = _setting(
        "http://127.0.0.1:8000",
        "Public address of the web site; confirm, preferences and unsubscribe links in e-mails "
        "start with it.",
    )
    secret_key: str = _setting(
        "",
        "Key that signs the links in e-mails (default: a random key kept in data_dir/secret_key). "
        "Changing it breaks every link already sent.",
    )
    mail_from: str = _setting(
        "ICE Council Tracker <alerts@localhost>",
        "From header and envelope sender of every e-mail; its domain names the Message-IDs.",
    )
    mail_transport: str = _setting(
        "files", "How e-mail leaves: files (one .eml file per message in outbox_dir) or smtp."
    )
    outbox_dir: str = _setting(
        "", "Folder the files transport writes .eml files to (default: data_dir/outbox)."
    )
    smtp_host: str = _setting("localhost", "SMTP server for the smtp transport.")
    smtp_port: int = _setting(587, "SMTP server port (587 for starttls, 465 for ssl).")
    smtp_security: str = _setting(
        "starttls", "SMTP connection security: starttls, ssl or none (none: loopback only)."
    )
    smtp_user: str = _setting("", "SMTP login name (empty: no login).")
    smtp_password: str = _setting("", "SMTP password; set it in the environment, not a file.")
    smtp_timeout: float = _setting(30.0, "Seconds before an SMTP command is abandoned.")
    send_max_attempts: int = _setting(
        8, "Tries per message before it is marked failed (it stays in the outbox)."
    )
    send_backoff_seconds: float = _setting(
        60.0, "Wait before the first retry of a failed send; doubles each time, up to 6 hours."
    )
    confirm_hours: int = _setting(72, "How long a subscription confirmation link stays valid.")
    urgent_hours: int = _setting(
        72,
        "Meetings with ICE items this close are sent at once (digest --frequency immediate), "
        "even to daily and weekly subscribers.",
    )
    digest_backfill_days: int = _setting(
        14, "A new subscriber's first digest reaches back this many days of the change log."
    )
    fault_exit_after: str = _setting(
        "",
        "Testing only: queue makes digest exit hard right after the first outbox commit, "
        "accept right after the first SMTP accept.",
    )
    # -- the service: schedule.py / ice-tracker run (tracker/service.py, health.py) ---------
    service_jurisdictions: str = _setting(
        "",
        "Slugs the service crawls, comma-separated, when run names none (empty: every "
        "jurisdiction in the registry).",
    )
    crawl_workers: int = _setting(4, "Crawls the service runs at once (each in its own process).")
    crawl_time_limit_seconds: int = _setting(
        10800, "A scheduled crawl still running after this long is killed and recorded failed."
    )
    crawl_jitter_seconds: int = _setting(
        300,
        "Scheduled crawls start up to this many seconds late, so that they do not start at once.",
    )
    crawl_urgent_hours: int = _setting(
        72, "In this many hours before a known meeting with an ICE item, its place is crawled..."
    )
    crawl_urgent_interval_hours: float = _setting(
        1.0, "...this often instead of its registry interval (crawl_interval_hours, default 6)."
    )
    sweep_hour: int = _setting(
        3, "Local hour (0-23, the jurisdiction's timezone) of each place's nightly full sweep."
    )
    digest_hour: int = _setting(
        7, "Local hour (0-23) at which daily and weekly digests are queued for each subscriber."
    )
    digest_weekday: str = _setting(
        "mon", "Day the weekly digests go out (mon, tue, wed, thu, fri, sat or sun)."
    )
    digest_timezone: str = _setting(
        "America/New_York",
        "Local time of subscribers who follow every place; others get the timezone of the "
        "first place they follow.",
    )
    immediate_digest_minutes: int = _setting(
        15, "How often immediate digests (and urgent early ones) are queued."
    )
    send_interval_minutes: int = _setting(
        5, "How often the service delivers the outbox (it also sends right after queueing)."
    )
    operator_email: str = _setting(
        "",
        "Address for the operator's alerts (a place's crawls failing, a spider finding nothing, "
        "its recovery); empty: no alerts. Alerts never contain subscriber addresses.",
    )
    alert_after_failures: int = _setting(
        2, "Consecutive failed crawls of one place before the operator is alerted."
    )
    broken_min_items: int = _setting(
        10,
        "A crawl that finds no items is flagged broken when the crawls before it found a "
        "median of at least this many.",
    )
    shutdown_grace_seconds: int = _setting(
        30, "On SIGTERM or SIGINT, running crawls get this long to record their result."
    )
    crawl_extra_args: str = _setting(
        "",
        "Testing: extra ice-tracker crawl options for every scheduled crawl, shell-quoted "
        "(e.g. --replay ARCHIVE.warc.gz --from 2019-07-01 --to 2019-09-01).",
    )
    # -- distributed crawling on scrapyd (tracker/scrapyd.py, docs/scaling.md) -------------
    scrapyd_nodes: str = _setting(
        "",
        "scrapyd nodes the service dispatches crawls to, comma-separated base URLs, each "
        "optionally =SLOTS (http://10.0.0.5:6800=8); empty: crawls run as local processes.",
    )
    scrapyd_slots: int = _setting(
        4, "Crawls at once on a scrapyd node that names no =SLOTS of its own."
    )
    scrapyd_project: str = _setting(
        "ice_tracker", "Project name of the tracker on the scrapyd nodes (their [settings])."
    )
    scrapyd_poll_seconds: float = _setting(
        5.0, "How often the service asks the scrapyd nodes about the jobs it dispatched."
    )

    @property
    def resolved_data_dir(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir).expanduser()
        return Path(platformdirs.user_data_dir("ice-tracker", appauthor=False))

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'tracker.db'}"

    @property
    def resolved_blob_dir(self) -> Path:
        if self.blob_dir:
            return Path(self.blob_dir).expanduser()
        return self.resolved_data_dir / "documents"

    @property
    def resolved_archive_dir(self) -> Path:
        if self.archive_dir:
            return Path(self.archive_dir).expanduser()
        return self.resolved_data_dir / "archive"

    @property
    def resolved_outbox_dir(self) -> Path:
        if self.outbox_dir:
            return Path(self.outbox_dir).expanduser()
        return self.resolved_data_dir / "outbox"

    @property
    def full_user_agent(self) -> str:
        return f"{self.user_agent} +{self.contact}" if self.contact else self.user_agent


SETTINGS: tuple[dataclasses.Field[Any], ...] = dataclasses.fields(Settings)
# Never printed: `ice-tracker settings` says only whether they are set.
SECRET_SETTINGS = frozenset({"secret_key", "smtp_password"})


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _coerce(name: str, raw: object, kind: type, source: str) -> object:
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(text)
        if kind is int:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return int(str(raw).replace("_", ""))
        if kind is float:
            return float(str(raw))
        return str(raw)
    except ValueError:
        raise ConfigError(f"{source}: {name} must be {kind.__name__}, got {raw!r}") from None


_KINDS: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


def _config_file(env: Mapping[str, str], data_dir_hint: str) -> Path | None:
    explicit = env.get(ENV_PREFIX + "CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"{ENV_PREFIX}CONFIG points at {path}, which is not a file")
        return path
    base = Path(data_dir_hint) if data_dir_hint else Settings().resolved_data_dir
    candidate = base / "config.toml"
    return candidate if candidate.is_file() else None


def load_settings(
    overrides: Mapping[str, object] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Resolve every setting from overrides, environment, config file and defaults."""
    env = os.environ if env is None else env
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    known = {f.name: f for f in SETTINGS}
    for name in overrides:
        if name not in known:
            raise ConfigError(f"unknown setting {name!r}")

    data_dir_hint = str(overrides.get("data_dir") or env.get(env_name("data_dir"), ""))
    file_values: dict[str, object] = {}
    path = _config_file(env, data_dir_hint)
    if path is not None:
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc}") from None
        for name in file_values:
            if name not in known:
                raise ConfigError(f"{path}: unknown setting {name!r}")

    values: dict[str, object] = {}
    for name, fld in known.items():
        kind = _KINDS[fld.type if isinstance(fld.type, str) else fld.type.__name__]
        if name in overrides:
            values[name] = _coerce(name, overrides[name], kind, "option")
        elif env_name(name) in env:
            values[name] = _coerce(name, env[env_name(name)], kind, env_name(name))
        elif name in file_values:
            values[name] = _coerce(name, file_values[name], kind, str(path))
    return Settings(**values)  # type: ignore[arg-type]
