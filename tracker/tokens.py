"""Signed tokens for the links in e-mails: confirm, preferences, unsubscribe.

Each purpose has its own salt, so a token made for one can never be used for another.

- confirm: timed (``confirm_hours``); a tampered or expired one is refused.
- unsubscribe: never expires. RFC 8058 one-click unsubscribe must keep working from a digest
  found in an archive years later (GovTrack rotates its keys and breaks old links; we do not).
- preferences: never expires either; it only opens the preferences of the subscriber it names.

Every token carries the subscriber id and a short digest of the address, so a token made for
an address that was later deleted and re-used by someone else does not fit the new row.
The key is the ``secret_key`` setting, or a random key kept in ``data_dir/secret_key``.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, Signer, TimestampSigner

from tracker.exceptions import ConfigError, TokenError
from tracker.settings import Settings

CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
Clock = Callable[[], float]


@dataclass(frozen=True)
class TokenClaims:
    subscriber_id: int
    email_digest: str

    def fits(self, email: str) -> bool:
        return secrets.compare_digest(self.email_digest, email_digest(email))


def email_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:16]


def _clocked_signer(clock: Clock) -> type[TimestampSigner]:
    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return ClockedSigner


class Tokens:
    """Makes and checks the tokens; ``clock`` is the seam tests use to travel in time.

    A token is ``<subscriber id>.<address digest>[.<timestamp>].<signature>``: itsdangerous
    signers over that short text (a digest run signs two per subscriber, so no JSON, no zlib).
    """

    def __init__(self, secret_key: str, *, confirm_hours: int = 72, clock: Clock = time.time):
        if not secret_key:
            raise ConfigError("the secret key for e-mail links is empty")
        self.confirm_max_age = confirm_hours * 3600
        # Names this installation in Message-IDs without giving the key away.
        self.installation = hashlib.sha256(b"message-id:" + secret_key.encode()).hexdigest()[:16]
        self._confirm = _clocked_signer(clock)(secret_key, salt=CONFIRM)
        self._forever = {
            UNSUBSCRIBE: Signer(secret_key, salt=UNSUBSCRIBE),
            PREFERENCES: Signer(secret_key, salt=PREFERENCES),
        }

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = time.time) -> Tokens:
        return cls(secret_key(settings), confirm_hours=settings.confirm_hours, clock=clock)

    @staticmethod
    def _payload(subscriber_id: int, email: str) -> str:
        return f"{subscriber_id}.{email_digest(email)}"

    def confirm(self, subscriber_id: int, email: str) -> str:
        return self._confirm.sign(self._payload(subscriber_id, email)).decode("ascii")

    def unsubscribe(self, subscriber_id: int, email: str) -> str:
        signer = self._forever[UNSUBSCRIBE]
        return signer.sign(self._payload(subscriber_id, email)).decode("ascii")

    def preferences(self, subscriber_id: int, email: str) -> str:
        signer = self._forever[PREFERENCES]
        return signer.sign(self._payload(subscriber_id, email)).decode("ascii")

    def check_confirm(self, token: str) -> TokenClaims:
        try:
            payload = self._confirm.unsign(token.strip(), max_age=self.confirm_max_age)
        except SignatureExpired:
            raise TokenError(
                "this confirmation link has expired: subscribe again to get a new one"
            ) from None
        except BadSignature:
            raise TokenError("this confirmation link is not valid") from None
        return _claims(payload)

    def check_unsubscribe(self, token: str) -> TokenClaims:
        return self._check_forever(UNSUBSCRIBE, token)

    def check_preferences(self, token: str) -> TokenClaims:
        return self._check_forever(PREFERENCES, token)

    def _check_forever(self, purpose: str, token: str) -> TokenClaims:
        try:
            payload = self._forever[purpose].unsign(token.strip())
        except BadSignature:
            raise TokenError(f"this {purpose} link is not valid") from None
        return _claims(payload)


def _claims(payload: bytes) -> TokenClaims:
    found = re.fullmatch(rb"([0-9]{1,12})\.([0-9a-f]{16})", payload)
    if found is None:
        raise TokenError("this link is not valid")
    return TokenClaims(int(found.group(1)), found.group(2).decode("ascii"))


def secret_key(settings: Settings) -> str:
    """The configured key, else the one kept in the data folder (made on first use)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.resolved_data_dir / "secret_key"
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)  # another process made it first
    except OSError as exc:
        raise ConfigError(f"cannot create the secret key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(48))
    return _read_key(path)


def _read_key(path: Path) -> str:
    for _ in range(50):  # a key file another process is still writing
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
        time.sleep(0.01)
    raise ConfigError(f"the secret key file {path} is empty")
