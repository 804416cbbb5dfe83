"""Reading what platforms publish: text, times, links and body kinds.

Shared by every spider; nothing here knows a platform.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

from tracker.items import BodyKind

URL_RE = re.compile(r"https?://[^\s<>\"']+")
VIRTUAL_HOSTS = (
    "zoom.",
    "teams.microsoft",
    "webex",
    "youtube.",
    "youtu.be",
    "meet.google",
    "gotomeeting",
    "vimeo.",
)
TIME_FORMATS = ("%I:%M %p", "%I:%M%p", "%I %p", "%I%p", "%H:%M")


def parse_utc(value: Any) -> datetime | None:
    """Legistar timestamps: ISO, no zone, 0-7 fractional digits, UTC by convention."""
    naive = parse_naive(value)
    return None if naive is None else naive.replace(tzinfo=UTC)


def parse_local_date(value: Any) -> date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return datetime.fromisoformat(value.strip()[:19]).date()


def parse_time(value: Any) -> time | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.replace(".", "").upper().split())
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).time()
        except ValueError:
            continue
    return None


def clean_text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = "\n".join(" ".join(line.split()) for line in value.replace("\r", "\n").split("\n"))
    text = re.sub(r"\n{2,}", "\n", text).strip()
    return text or None


VIRTUAL_CUE_RE = re.compile(
    r"\b(?:watch|join|stream|livestream|webinar|online|virtual|"
    r"remote|zoom|teams)\b[^\n]{0,40}$",
    re.IGNORECASE,
)


def virtual_link(*texts: str | None) -> str | None:
    """The link to attend or watch remotely, when a location or comment gives one."""
    for text in filter(None, texts):
        for found in URL_RE.finditer(text):
            url = found.group(0).rstrip(".,;)")
            before = text[: found.start()].rsplit("\n", 1)[-1]
            if any(host in url.lower() for host in VIRTUAL_HOSTS) or VIRTUAL_CUE_RE.search(before):
                return url
    return None


def body_kind(type_name: Any, name: str) -> BodyKind:
    text = f"{type_name or ''} {name}".lower()
    if "committee" in text or "subcommittee" in text:
        return "committee"
    if "commission" in text or "board" in text:
        return "commission"
    if "primary legislative" in text or "council" in text:
        return "council"
    return "other"


def parse_naive(value: Any) -> datetime | None:
    """An ISO timestamp without a zone ("2026-01-29T14:55:36.623"), 0-7 fractional digits."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6].ljust(6, '0')}"
    return datetime.fromisoformat(text)
