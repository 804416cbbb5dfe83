"""Faults a replay can inject, for testing that crawls survive what real sites do.

``ice-tracker crawl --replay ARCHIVE --fault-rate 0.3 --fault-seed 7`` answers about 30% of
requests with one of the faults below instead of the archived response. The choice depends
only on the seed, the URL and how many times that URL was asked for, so a run is repeatable
and a retried request may succeed, as on a flaky site.

- ``http_500``: a server error; ``http_503``: unavailable with ``Retry-After: 1``
- ``timeout``: no answer until the client gives up; ``reset``: the connection is cut
- ``truncated``: the body ends early (fewer bytes than Content-Length)
- ``malformed``: 200 with bytes that are no JSON, HTML or PDF at all
- ``wrong_type``: the right body under a wrong Content-Type
- ``offsite_redirect``: a redirect to a host outside the registry's allowed domains
- ``huge``: a Content-Length far past the download size limit
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

FAULT_KINDS: tuple[str, ...] = (
    "http_500",
    "http_503",
    "timeout",
    "reset",
    "truncated",
    "malformed",
    "wrong_type",
    "offsite_redirect",
    "huge",
)
OFFSITE = "https://offsite.invalid/redirected"


@dataclass(frozen=True)
class FaultPlan:
    rate: float
    seed: int = 0
    kinds: tuple[str, ...] = FAULT_KINDS
    stall_seconds: float = 30.0  # how long "timeout" keeps the client waiting
    delay_seconds: float = 0.0  # every answer waits this long (to stretch a crawl)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("the fault rate is a fraction between 0 and 1")
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {', '.join(sorted(unknown))}")

    def choose(self, url: str, attempt: int) -> str | None:
        """The fault for the ``attempt``-th request of ``url``, or None to answer normally."""
        if not self.kinds or self.rate <= 0:
            return None
        digest = hashlib.sha256(f"{self.seed}|{attempt}|{url}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        if draw >= self.rate:
            return None
        return self.kinds[digest[8] % len(self.kinds)]
