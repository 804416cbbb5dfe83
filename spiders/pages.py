"""Small helpers shared by the spiders that read HTML pages (IQM2, NovusAgenda, Legistar InSite,
eSCRIBE): cell text, links hidden in ``onclick`` handlers, local times, meeting status from
what a platform says, and per-member votes published as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from parsel import Selector, SelectorList

from tracker.items import ScrapedVote
from tracker.models import MeetingStatus
from tracker.parsing import clean_text, parse_time
from tracker.votes import VoteNormalizer

# What platforms write when a meeting will not take place at the listed time.
CANCELLED_RE = re.compile(r"\b(?:cancel+(?:ed|ation)?|postponed|deferred)\b", re.IGNORECASE)
RESCHEDULED_RE = re.compile(r"\bre-?scheduled\b", re.IGNORECASE)
# window.open('...'), radopen('...'), OpenTelerikWindow('...'), OpenWindow("...")
ONCLICK_URL_RE = re.compile(r"""\(\s*(?:&quot;|["'])([^"']+?)(?:&quot;|["'])""")


def text_of(node: Selector | SelectorList[Selector] | None) -> str | None:
    """The visible text of an element, whitespace collapsed; None when empty."""
    if node is None:
        return None
    parts = node.xpath(".//text()").getall()
    return clean_text(" ".join(p.replace("\xa0", " ") for p in parts))


def onclick_url(handler: str | None) -> str | None:
    """The first quoted argument of a JavaScript call that opens a window."""
    if not handler:
        return None
    found = ONCLICK_URL_RE.search(handler)
    return found.group(1).replace("&amp;", "&") if found else None


def local_datetime(
    day_text: str, time_text: str | None, day_formats: Iterable[str], zone: ZoneInfo
) -> tuple[datetime | None, str | None]:
    """A timezone-aware start from a published date and time; the time text is returned
    when it could not be read (the start then falls at midnight of the day)."""
    day = None
    for fmt in day_formats:
        try:
            day = datetime.strptime(day_text.strip(), fmt).date()
            break
        except ValueError:
            continue
    if day is None:
        return None, time_text
    at: time | None = parse_time(time_text) if time_text else None
    start = datetime.combine(day, at or time(0, 0), tzinfo=zone)
    return start, None if at else clean_text(time_text)


def meeting_status(said: str | None, start: datetime | None, now: datetime) -> MeetingStatus:
    """The status from what the platform says; a past meeting nobody cancelled was held."""
    if said and CANCELLED_RE.search(said):
        return MeetingStatus.CANCELLED
    if said and RESCHEDULED_RE.search(said):
        return MeetingStatus.RESCHEDULED
    if start is not None and start < now:
        return MeetingStatus.HELD
    return MeetingStatus.SCHEDULED


def html_votes(
    rows: Iterable[tuple[str, str, str | None]],
    normalizer: VoteNormalizer,
    report: Callable[[str], None],
) -> list[ScrapedVote]:
    """Votes from (name as published, value as published, person id or None) rows. A value
    in no map is kept raw, normalized to None and reported once per value."""
    votes: list[ScrapedVote] = []
    unknown: set[str] = set()
    for name, raw, person_id in rows:
        name, raw = " ".join(name.split()), " ".join(raw.split())
        if not name:
            continue
        value = normalizer.normalize(raw)
        if value is None and raw not in unknown:
            unknown.add(raw)
            report(raw)
        votes.append(
            ScrapedVote(person_platform_id=person_id, name=name, raw_value=raw, value=value)
        )
    return votes
