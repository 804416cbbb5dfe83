"""The data model (DESIGN.md), as SQLModel tables.

Every row that comes from a platform carries the platform's own id (``platform_id``) and is
unique on it within its parent, so that re-crawling upserts instead of duplicating; titles and
times are never keys (a rescheduled meeting stays the same meeting). Times are stored in UTC
(``UtcDateTime``) and shown in the jurisdiction's timezone. The schema itself is created and
changed only by the Alembic migrations in tracker/migrations.
"""

from __future__ import annotations

import datetime as dt
import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes in, UTC out, on every backend (SQLite has no timezones)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where UTC is required")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class VoteValue(enum.StrEnum):
    """Normalized vote values.

    Cities differ in what they publish: "absent" and "excused" are both missing members (some
    clerks distinguish an excused absence), "abstain" is a member present who declines, "recused"
    declines for a conflict of interest, "present" is a vote of presence without a position, and
    "not_voting" covers the rest that a platform records explicitly. The value as published is
    always kept beside this one (Vote.raw_value).
    """

    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"
    ABSENT = "absent"
    EXCUSED = "excused"
    RECUSED = "recused"
    PRESENT = "present"
    NOT_VOTING = "not_voting"


class MeetingStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    HELD = "held"


class VoteSource(enum.StrEnum):
    API = "api"
    HTML = "html"
    MINUTES = "minutes"
    MANUAL = "manual"


class ChangeKind(enum.StrEnum):
    MEETING_ADDED = "meeting_added"
    MEETING_RESCHEDULED = "meeting_rescheduled"
    MEETING_CANCELLED = "meeting_cancelled"
    MEETING_UPDATED = "meeting_updated"  # place, virtual link or body changed
    MEETING_REMOVED = "meeting_removed"  # gone from a complete listing; not the same as cancelled
    AGENDA_PUBLISHED = "agenda_published"
    AGENDA_REVISED = "agenda_revised"
    MINUTES_PUBLISHED = "minutes_published"
    ITEM_ADDED = "item_added"
    ITEM_REMOVED = "item_removed"
    ITEM_UPDATED = "item_updated"  # title, number, consent flag, action or result changed
    VOTE_RECORDED = "vote_recorded"
    VOTE_REVISED = "vote_revised"
    DOCUMENT_REVISED = "document_revised"
    STATEMENT_ADDED = "statement_added"


class CrawlStatus(enum.StrEnum):
    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"  # finished, but some pages failed; counts say how many
    FAILED = "failed"


def _enum(e: type[enum.StrEnum], length: int = 24) -> Any:
    # Stored as plain strings: readable in SQLite and in exports, no PostgreSQL ENUM migrations.
    return sa.Column(sa.String(length), nullable=False)


class Jurisdiction(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=sa.Column(sa.String(80), unique=True, nullable=False))
    name: str
    state: str = Field(max_length=2)
    kind: str = Field(max_length=20)
    timezone: str = Field(max_length=64)
    platform: str = Field(max_length=40)


class Body(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "platform_id"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    platform_id: str = Field(max_length=120)
    name: str
    kind: str = Field(default="council", max_length=20)  # council | committee | commission | other
    active: bool = True


class Person(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "platform_id"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    platform_id: str | None = Field(default=None, max_length=120)
    name: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None  # public office contact, as published by the council
    phone: str | None = None
    website: str | None = None
    source_url: str | None = None
    # Other ways sources write this person ("Councilmember González"), learnt as they resolve.
    aliases: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    # A name from minutes or news that fit no one, or several people: kept, never guessed.
    needs_review: bool = False
    review_note: str | None = None


class Membership(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("body_id", "platform_id"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    body_id: int = Field(foreign_key="body.id", index=True)
    platform_id: str = Field(max_length=120)
    role: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    source_url: str | None = None


class Meeting(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "platform", "platform_id"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    body_id: int | None = Field(default=None, foreign_key="body.id", index=True)
    platform: str = Field(max_length=40)
    platform_id: str = Field(max_length=120)
    title: str | None = None
    start: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime(), index=True))
    time_text: str | None = None  # the time as published when it could not be parsed
    timezone: str = Field(max_length=64)
    location: str | None = None
    virtual_link: str | None = None
    status: str = Field(default=MeetingStatus.SCHEDULED, sa_column=_enum(MeetingStatus))
    agenda_status: str | None = None
    minutes_status: str | None = None
    agenda_url: str | None = None
    minutes_url: str | None = None
    video_url: str | None = None
    agenda_published_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    minutes_published_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    source_url: str | None = None
    # Fingerprint of the platform's change markers; unchanged meetings are skipped by incremental
    # crawls (a full sweep refetches them all).
    platform_version: str | None = None
    first_seen_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UtcDateTime(), nullable=False)
    )
    removed_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))


class Matter(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "platform_id"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    platform_id: str = Field(max_length=120)
    file_number: str | None = Field(default=None, index=True)
    title: str | None = None
    type: str | None = None
    status: str | None = None
    intro_date: dt.date | None = None
    passed_date: dt.date | None = None
    text: str | None = None
    sponsors: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    source_url: str | None = None
    # What the classifier made of the title and text (items on the matter inherit it).
    relevant: bool = False
    category: str | None = None
    direction: str | None = None
    score: float | None = None
    matches: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )


class AgendaItem(SQLModel, table=True):
    __tablename__ = "agenda_item"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "platform_id"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    matter_id: int | None = Field(default=None, foreign_key="matter.id", index=True)
    platform_id: str = Field(max_length=120)
    sequence: int | None = None
    number: str | None = None
    title: str
    action: str | None = None
    action_text: str | None = None
    result: str | None = None  # passed | failed | None
    consent: bool = False
    tally: str | None = None
    mover: str | None = None
    seconder: str | None = None
    agenda_note: str | None = None
    minutes_note: str | None = None
    relevant: bool = Field(default=False, index=True)
    category: str | None = None
    direction: str | None = None  # expands | limits | neutral
    score: float | None = None
    matches: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    secondary: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    # Where the decision came from: the item's own text, its matter, or a linked document.
    relevance_source: str | None = Field(default=None, max_length=10)
    source_url: str | None = None
    removed_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))


class VoteEvent(SQLModel, table=True):
    __tablename__ = "vote_event"
    __table_args__ = (sa.UniqueConstraint("agenda_item_id", "source", "platform_id"),)
    id: int | None = Field(default=None, primary_key=True)
    agenda_item_id: int = Field(foreign_key="agenda_item.id", index=True)
    platform_id: str = Field(max_length=120)  # e.g. "votes:65911", "rollcalls:65911"
    source: str = Field(sa_column=_enum(VoteSource, 12))
    motion: str | None = None
    action: str | None = None
    result: str | None = None
    yes_count: int = 0
    no_count: int = 0
    other_count: int = 0
    tally: str | None = None
    source_url: str | None = None
    document_id: int | None = Field(default=None, foreign_key="document.id")


class Vote(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("vote_event_id", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    vote_event_id: int = Field(foreign_key="vote_event.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    platform_id: str | None = Field(default=None, max_length=120)
    raw_value: str  # as published, e.g. "In Favor"
    value: str | None = Field(default=None, max_length=12)  # VoteValue, or None when unknown
    inferred: bool = False  # expanded from "carried unanimously" and a roster


class Statement(SQLModel, table=True):
    """What a member said about an ICE item or matter, with the citation a reporter needs.

    ``quote`` is exact text from the source at ``source_url``; ``paraphrase`` marks text that
    is the source's account of what the member said rather than their own words. Suggested
    statements (tracker.suggest) are stored unconfirmed and shown or counted nowhere until a
    person confirms them. ``fingerprint`` (person, item, matter, quote, source) keeps the same
    statement from being added twice. Edits are logged in StatementEdit, never silent.
    """

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    agenda_item_id: int | None = Field(default=None, foreign_key="agenda_item.id", index=True)
    matter_id: int | None = Field(default=None, foreign_key="matter.id", index=True)
    stance: str = Field(max_length=12)  # support | oppose | undecided | concerned
    quote: str
    paraphrase: bool = False
    source_url: str
    date: dt.date | None = None
    added_by: str
    origin: str = Field(default="manual", max_length=12)  # manual | import | suggested
    confirmed: bool = True
    confirmed_by: str | None = None
    fingerprint: str = Field(sa_column=sa.Column(sa.String(64), unique=True, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UtcDateTime(), nullable=False)
    )
    updated_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))


class StatementEdit(SQLModel, table=True):
    """The append-only record of every change to a statement: who, when, which field."""

    __tablename__ = "statement_edit"
    id: int | None = Field(default=None, primary_key=True)
    statement_id: int = Field(foreign_key="statement.id", index=True)
    field: str = Field(max_length=40)
    old_value: str | None = None
    new_value: str | None = None
    edited_by: str
    edited_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UtcDateTime(), nullable=False)
    )


class Document(SQLModel, table=True):
    """A document by its URL, with a summary of its newest version.

    Every distinct content fetched from the URL is a DocumentVersion, kept with its bytes (in
    the content-addressed blob folder) and its WARC record, so a reporter can cite a version
    even after the city edits or deletes it.
    """

    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "url"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    url: str
    kind: str = Field(max_length=20)  # agenda | minutes | attachment | packet | video | text
    name: str | None = None
    versions: int = 0
    sha256: str | None = Field(default=None, max_length=64)
    retrieved_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    checked_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    content_type: str | None = None
    bytes: int | None = None
    pages: int | None = None
    needs_ocr: bool = False
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None  # the last fetch's failure, when it failed


class DocumentVersion(SQLModel, table=True):
    __tablename__ = "document_version"
    __table_args__ = (sa.UniqueConstraint("document_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    number: int
    sha256: str = Field(max_length=64, index=True)
    retrieved_at: datetime = Field(sa_column=sa.Column(UtcDateTime(), nullable=False))
    content_type: str  # sniffed from the bytes
    declared_type: str | None = None  # what the server said
    bytes: int
    pages: int = 0
    needs_ocr: bool = False
    ocr_used: bool = False
    error: str | None = None  # extraction failed or is incomplete
    warning: str | None = None
    warc_record: str | None = None  # "<archive file>#<WARC-Record-ID>"
    relevant: bool = False
    category: str | None = None
    direction: str | None = None
    score: float | None = None
    matches: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )


class DocumentPage(SQLModel, table=True):
    """One page of text of one version; the full-text index covers these rows."""

    __tablename__ = "document_page"
    __table_args__ = (sa.UniqueConstraint("version_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="document_version.id", index=True)
    number: int
    text: str


class DocumentLink(SQLModel, table=True):
    """Which meeting, item or matter a document belongs to (a packet can serve several)."""

    __tablename__ = "document_link"
    __table_args__ = (
        sa.UniqueConstraint("document_id", "meeting_id", "agenda_item_id", "matter_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)
    agenda_item_id: int | None = Field(default=None, foreign_key="agenda_item.id", index=True)
    matter_id: int | None = Field(default=None, foreign_key="matter.id", index=True)


class CrawlRun(SQLModel, table=True):
    __tablename__ = "crawl_run"
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    spider: str = Field(max_length=40)
    mode: str = Field(max_length=12)  # full | incremental
    since: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    window_start: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    window_end: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    replay: str | None = None  # the archive a replayed crawl read
    archive: str | None = None  # the WARC file this crawl wrote
    started_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UtcDateTime(), nullable=False)
    )
    finished_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    status: str = Field(default=CrawlStatus.RUNNING, sa_column=_enum(CrawlStatus, 12))
    requests: int = 0
    items: int = 0
    errors: int = 0
    problems: dict[str, int] = Field(
        default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    message: str | None = None


class Change(SQLModel, table=True):
    """The append-only, monotonically numbered log of what we observed."""

    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    kind: str = Field(sa_column=_enum(ChangeKind))
    observed_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UtcDateTime(), nullable=False)
    )
    crawl_run_id: int | None = Field(default=None, foreign_key="crawl_run.id")
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)
    agenda_item_id: int | None = Field(default=None, foreign_key="agenda_item.id")
    vote_event_id: int | None = Field(default=None, foreign_key="vote_event.id")
    document_id: int | None = Field(default=None, foreign_key="document.id")
    statement_id: int | None = Field(default=None, foreign_key="statement.id")
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False)
    )


class Subscriber(SQLModel, table=True):
    """Someone who asked for e-mail. The address is never shown in pages, feeds, exports or logs.

    ``email`` is the normalized address (email-validator, lower-cased) so one person is one row.
    Status: pending (asked, not yet confirmed: nothing but the confirmation is ever sent),
    active, unsubscribed, bounced (a hard bounce; nothing more is sent).
    """

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_column=sa.Column(sa.String(320), unique=True, nullable=False))
    language: str = Field(default="en", max_length=5)
    status: str = Field(default="pending", max_length=14)  # pending|active|unsubscribed|bounced
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UtcDateTime(), nullable=False)
    )
    confirmed_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    unsubscribed_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    bounced_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    bounce_reason: str | None = None  # the server's reply to the hard bounce


class Subscription(SQLModel, table=True):
    """What a subscriber follows, how often, and how far the digests have got.

    Empty lists mean "all". ``categories`` may hold the secondary label
    ``immigration_non_enforcement`` (then ``include_secondary`` is set too).
    """

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    frequency: str = Field(default="weekly", max_length=10)  # immediate | daily | weekly
    jurisdictions: list[str] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    bodies: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    categories: list[str] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    keywords: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    people: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    include_secondary: bool = False
    last_change_id: int = 0  # the high-water mark: changes up to here were sent
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UtcDateTime(), nullable=False)
    )
    updated_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    last_digest_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))


class Delivery(SQLModel, table=True):
    """The outbox. The unique key makes a second send of the same digest impossible.

    A digest covers the changes ``first_change_id``..``last_change_id`` (inclusive) of one
    subscription; the row is written in the same transaction that advances the subscription's
    high-water mark, and ``message`` holds the finished e-mail, so sending decides nothing.
    ``next_attempt_at`` is both the retry backoff and the lease a sender takes on the row.
    """

    __table_args__ = (sa.UniqueConstraint("subscriber_id", "first_change_id", "last_change_id"),)
    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    subscription_id: int | None = Field(default=None, foreign_key="subscription.id")
    first_change_id: int
    last_change_id: int
    message_id: str = Field(max_length=255)
    subject: str | None = None
    urgent: bool = False  # sent ahead of its schedule: a meeting within urgent_hours
    # queued | sent | failed | bounced | cancelled (the subscriber left before it went out)
    status: str = Field(default="queued", max_length=12, index=True)
    attempts: int = 0
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UtcDateTime(), nullable=False)
    )
    next_attempt_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    sent_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime()))
    last_error: str | None = None
    message: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary()))
