"""Every error the tracker raises on purpose, in one place.

    TrackerError                 base; the CLI prints its message on one line and exits non-zero
    ├── ConfigError              a setting or config file is wrong
    ├── RegistryError            a registry file or entry is wrong (file, line, key in the message)
    ├── UnknownJurisdiction      a slug that no registry defines
    ├── StorageError             the database cannot be opened or migrated
    ├── ArchiveError             a WARC archive cannot be read or written
    ├── CrawlError               a crawl could not run at all (a partial crawl is not an error)
    ├── ExportError              an export cannot be written
    ├── SearchError              a full-text query the engine cannot run
    ├── DocumentNotFound         no such document or version
    ├── StatementError           a statement that cannot be added, edited or found
    ├── ServiceError             the service cannot start or keep running (lock held, ...)
    ├── SubscriberError          an address, filter or subscriber a command cannot use
    ├── TokenError               a link's token is tampered with, expired or misused
    └── SendError                one e-mail could not be delivered
        ├── TransientError       try again later
        │   └── ConnectionProblem    the server is unreachable or dropped us
        ├── PermanentError       this message will never be accepted
        │   └── ServerConfigError    the server refuses our login or sender
        └── HardBounce           the recipient's address was refused (5xx)

Anything else reaching the CLI is a bug and keeps its traceback.
"""

from __future__ import annotations


class TrackerError(Exception):
    """Base class: a problem the user can act on, described in one line."""

    exit_code = 1


class ConfigError(TrackerError):
    """A setting, environment variable or config file holds a value we cannot use."""


class RegistryError(TrackerError):
    """A registry file is malformed or one of its entries is invalid."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.key = key
        where = ""
        if path is not None:
            where = path if line is None else f"{path}:{line}"
        prefix = f"{where}: " if where else ""
        keypart = f"{key}: " if key else ""
        super().__init__(f"{prefix}{keypart}{message}")


class UnknownJurisdiction(TrackerError):
    """No registry entry has this slug."""


class StorageError(TrackerError):
    """The database cannot be reached, opened or migrated."""


class ArchiveError(TrackerError):
    """A WARC archive is missing, unreadable or cannot be written."""


class CrawlError(TrackerError):
    """A crawl could not run at all."""


class ExportError(TrackerError):
    """An export could not be produced or written."""


class SearchError(TrackerError):
    """A query the full-text engine cannot run."""


class DocumentNotFound(TrackerError):
    """No such document or version."""


class StatementError(TrackerError):
    """A statement that cannot be added, edited or found (bad field, unknown item or person)."""


class ServiceError(TrackerError):
    """The service cannot start or keep running (another scheduler holds the lock, ...)."""


class SubscriberError(TrackerError):
    """An address, a filter or a subscriber the command cannot use."""


class TokenError(TrackerError):
    """A link's token is tampered with, expired, or made for another purpose."""


class SendError(TrackerError):
    """One message could not be delivered."""


class TransientError(SendError):
    """Try again later."""


class ConnectionProblem(TransientError):
    """The server cannot be reached or dropped us: no point trying the next message now."""


class PermanentError(SendError):
    """This message will never be accepted."""


class ServerConfigError(PermanentError):
    """The server refuses our login or sender address: fix the settings."""


class HardBounce(SendError):
    """The recipient's address was refused with a 5xx reply."""
