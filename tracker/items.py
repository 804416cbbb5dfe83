"""The platform-neutral items every spider emits: the contract between spiders and the pipeline.

Spiders turn each platform's records into these and nothing else; the pipeline classifies and
stores them. Ids are the platform's own (as strings), never titles or times. Optional fields
left as None mean "this source did not say", and the store keeps what it already knows for
them (``partial`` items come from a listing that carries only some fields of a record).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tracker.models import MeetingStatus, VoteSource, VoteValue

DocumentKind = Literal["agenda", "minutes", "attachment", "packet", "video", "text"]


# What neither PostgreSQL text (NUL) nor XML 1.0 (the Atom feed) can hold: C0 controls but tab,
# newline and carriage return; lone surrogates; U+FFFE and U+FFFF.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def storable(text: str) -> str:
    """``text`` without the characters no database or feed can carry (a crawled page may)."""
    return _UNSTORABLE.sub("", text)


class _Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        cleaned = dict(data)
        for key, value in data.items():
            if isinstance(value, str):
                cleaned[key] = storable(value)
            elif isinstance(value, list | tuple) and any(isinstance(v, str) for v in value):
                cleaned[key] = type(value)(storable(v) if isinstance(v, str) else v for v in value)
        return cleaned


class DocumentRef(_Item):
    url: str
    kind: DocumentKind
    name: str | None = None
    fetch: bool = True  # False: the spider fetches and parses this one itself


BodyKind = Literal["council", "committee", "commission", "other"]


class ScrapedBody(_Item):
    platform_id: str
    name: str
    kind: BodyKind = "council"
    active: bool | None = None
    partial: bool = False


class ScrapedPerson(_Item):
    platform_id: str
    name: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    website: str | None = None
    source_url: str | None = None
    partial: bool = False

    @field_validator("name")
    @classmethod
    def _clean(cls, value: str) -> str:
        # Platforms publish "M. Lorena González " with trailing spaces.
        return " ".join(value.split())


class ScrapedMembership(_Item):
    platform_id: str
    person_platform_id: str
    body_platform_id: str
    role: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    source_url: str | None = None


class ScrapedMeeting(_Item):
    platform: str
    platform_id: str
    body_platform_id: str | None = None
    body_name: str | None = None
    title: str | None = None
    start: datetime | None = None  # timezone-aware
    # Set (possibly to "") when the time of day is unknown: the time as published when it
    # could not be parsed, "" when none was published. ``start`` then holds local midnight.
    time_text: str | None = None
    location: str | None = None
    virtual_link: str | None = None
    status: MeetingStatus = MeetingStatus.SCHEDULED
    agenda_status: str | None = None
    minutes_status: str | None = None
    agenda_url: str | None = None
    minutes_url: str | None = None
    video_url: str | None = None
    agenda_published_at: datetime | None = None
    minutes_published_at: datetime | None = None
    source_url: str | None = None
    platform_version: str | None = None
    documents: tuple[DocumentRef, ...] = ()

    @field_validator("start", "agenda_published_at", "minutes_published_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must be timezone-aware")
        return value


class Relevance(_Item):
    """What the classifier decided about an item; set by the pipeline, never by a spider."""

    relevant: bool
    score: float
    category: str | None
    direction: Literal["expands", "limits", "neutral"] | None
    matches: list[dict[str, Any]]
    secondary: list[str]


class ScrapedMatter(_Item):
    platform_id: str
    file_number: str | None = None
    title: str | None = None
    type: str | None = None
    status: str | None = None
    intro_date: date | None = None
    passed_date: date | None = None
    text: str | None = None
    sponsors: tuple[str, ...] | None = None
    source_url: str | None = None
    documents: tuple[DocumentRef, ...] = ()
    partial: bool = False
    relevance: Relevance | None = None  # set by the pipeline from title and text


class ScrapedAgendaItem(_Item):
    platform_id: str
    title: str
    matter_platform_id: str | None = None
    sequence: int | None = None
    number: str | None = None
    action: str | None = None
    action_text: str | None = None
    result: Literal["passed", "failed"] | None = None
    consent: bool = False
    tally: str | None = None
    mover: str | None = None
    seconder: str | None = None
    agenda_note: str | None = None
    minutes_note: str | None = None
    source_url: str | None = None
    documents: tuple[DocumentRef, ...] = ()
    relevance: Relevance | None = None


class ScrapedAgenda(_Item):
    """A meeting's agenda items, as one listing.

    ``complete`` is True only when the listing was fetched whole and parsed without error; only
    then may the store mark stored items that are missing from it as removed.
    """

    meeting_platform: str
    meeting_platform_id: str
    items: tuple[ScrapedAgendaItem, ...]
    complete: bool
    # The meeting's change markers as listed; stored only with a complete agenda, so that an
    # incremental crawl never skips a meeting whose details failed to load last time.
    meeting_version: str | None = None


class ScrapedVote(_Item):
    person_platform_id: str | None
    name: str
    raw_value: str
    value: VoteValue | None
    platform_id: str | None = None
    inferred: bool = False

    @field_validator("name")
    @classmethod
    def _clean(cls, value: str) -> str:
        return " ".join(value.split())


class ScrapedVoteEvent(_Item):
    meeting_platform: str
    meeting_platform_id: str
    item_platform_id: str
    platform_id: str
    source: VoteSource
    motion: str | None = None
    action: str | None = None
    result: Literal["passed", "failed"] | None = None
    tally: str | None = None
    source_url: str | None = None
    votes: tuple[ScrapedVote, ...] = Field(min_length=1)


class MeetingListing(_Item):
    """The complete list of a platform's meetings between two instants.

    Emitted only when every page of the listing loaded; the store may then mark stored meetings
    in that window that are missing from it as removed (never as cancelled).
    """

    platform: str
    window_start: datetime
    window_end: datetime
    meeting_platform_ids: frozenset[str]


class ScrapedDocument(_Item):
    """A document as fetched: the bytes and what the server said, or why it failed."""

    url: str
    kind: DocumentKind
    name: str | None = None
    status: int | None = None  # HTTP status; None when no answer came
    body: bytes | None = None  # None when nothing was fetched (failed, or 304 unchanged)
    declared_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    retrieved_at: datetime
    warc_record: str | None = None
    error: str | None = None  # why the fetch failed


class DocumentText(_Item):
    """What the pipeline made of a fetched document: its pages and what the classifier saw."""

    document: ScrapedDocument
    content_type: str
    pages: tuple[str, ...]  # page 1 first
    needs_ocr: bool = False
    ocr_used: bool = False
    error: str | None = None
    warning: str | None = None
    relevance: Relevance | None = None


ScrapedItem = (
    ScrapedBody
    | ScrapedPerson
    | ScrapedMembership
    | ScrapedMeeting
    | ScrapedMatter
    | ScrapedAgenda
    | ScrapedVoteEvent
    | MeetingListing
    | ScrapedDocument
    | DocumentText
)
