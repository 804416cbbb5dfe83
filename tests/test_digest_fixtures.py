"""Shared by the e-mail tests: a real SMTP server on loopback, council data written through
the store (so every change comes from the real change log), and subscribers.

No tests here; test_digest*.py, test_mailer.py and test_subscribers.py import from it.
"""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tracker.items import (
    ScrapedAgenda,
    ScrapedAgendaItem,
    ScrapedBody,
    ScrapedMeeting,
    ScrapedMembership,
    ScrapedPerson,
    ScrapedVote,
    ScrapedVoteEvent,
)
from tracker.models import MeetingStatus, VoteSource, VoteValue
from tracker.registry import load_registry
from tracker.relevance import classify_agenda_item
from tracker.settings import Settings, load_settings
from tracker.store import JurisdictionWriter, Store
from tracker.subscribers import confirm, subscribe, validate_filters
from tracker.tokens import Tokens

ICE_TITLE = "Resolution to terminate the 287(g) agreement between the Sheriff and ICE"
PARKS_TITLE = "Ordinance on park maintenance hours"


# -- SMTP ----------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it accepts and refuses what a test tells it to."""

    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    refuse_rcpt: dict[str, str] = field(default_factory=dict)  # address -> "550 5.1.1 ..."

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> Any:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.messages if address in r.rcpt_tos]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: Recorder

    def env(self) -> dict[str, str]:
        return {
            "TRACKER_MAIL_TRANSPORT": "smtp",
            "TRACKER_SMTP_HOST": self.host,
            "TRACKER_SMTP_PORT": str(self.port),
            "TRACKER_SMTP_SECURITY": "none",
        }


def running_smtp_server(recorder: Recorder | None = None) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port, for a fixture to yield."""
    recorder = recorder or Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, recorder)
    finally:
        controller.stop()


# -- council data, through the store -------------------------------------------------------------


def soon(hours: float) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


def agenda_item(platform_id: str, title: str, **values: Any) -> ScrapedAgendaItem:
    item = ScrapedAgendaItem(platform_id=platform_id, title=title, **values)
    return item.model_copy(update={"relevance": classify_agenda_item(item)})


@dataclass
class Council:
    """One jurisdiction's writer, and the recorded shape of a council meeting."""

    writer: JurisdictionWriter
    slug: str

    def members(self) -> None:
        self.writer.write(
            [
                ScrapedBody(platform_id="138", name="City Council"),
                ScrapedBody(platform_id="200", name="Public Safety Committee", kind="committee"),
                ScrapedPerson(
                    platform_id="1",
                    name="Ana Pérez",
                    email="ana.perez@council.example.gov",
                    phone="206-555-0101",
                ),
                ScrapedPerson(platform_id="2", name="Bo Li", email="bo.li@council.example.gov"),
                ScrapedPerson(platform_id="3", name="Carmen Ortiz"),
                ScrapedMembership(
                    platform_id="m1", person_platform_id="1", body_platform_id="138", role="Chair"
                ),
                ScrapedMembership(platform_id="m2", person_platform_id="2", body_platform_id="138"),
                ScrapedMembership(platform_id="m3", person_platform_id="3", body_platform_id="138"),
                ScrapedMembership(platform_id="m4", person_platform_id="3", body_platform_id="200"),
            ]
        )

    def meeting(
        self,
        platform_id: str,
        start: datetime,
        *,
        body: str = "138",
        status: MeetingStatus = MeetingStatus.SCHEDULED,
        **values: Any,
    ) -> ScrapedMeeting:
        names = {"138": "City Council", "200": "Public Safety Committee"}
        meeting = ScrapedMeeting(
            platform="legistar",
            platform_id=platform_id,
            body_platform_id=body,
            body_name=names.get(body),
            title=names.get(body),
            start=start,
            location="Council Chamber, City Hall, 600 4th Ave",
            virtual_link="https://council.example.gov/watch",
            status=status,
            source_url=f"https://council.example.gov/meetings/{platform_id}",
            agenda_url=f"https://council.example.gov/agendas/{platform_id}.pdf",
            **values,
        )
        self.writer.write([meeting])
        return meeting

    def agenda(
        self, meeting_id: str, items: Sequence[ScrapedAgendaItem], *, complete: bool = True
    ) -> None:
        self.writer.write(
            [
                ScrapedAgenda(
                    meeting_platform="legistar",
                    meeting_platform_id=meeting_id,
                    items=tuple(items),
                    complete=complete,
                )
            ]
        )

    def vote(self, meeting_id: str, item_id: str, values: dict[str, VoteValue]) -> None:
        names = {"1": "Ana Pérez", "2": "Bo Li", "3": "Carmen Ortiz"}
        raw = {VoteValue.YES: "In Favor", VoteValue.NO: "Opposed", VoteValue.ABSENT: "Absent"}
        yes = sum(1 for v in values.values() if v == VoteValue.YES)
        self.writer.write(
            [
                ScrapedVoteEvent(
                    meeting_platform="legistar",
                    meeting_platform_id=meeting_id,
                    item_platform_id=item_id,
                    platform_id=f"votes:{item_id}",
                    source=VoteSource.API,
                    motion="Adopt the resolution",
                    result="passed" if yes * 2 > len(values) else "failed",
                    source_url=f"https://council.example.gov/votes/{item_id}",
                    votes=tuple(
                        ScrapedVote(
                            person_platform_id=pid,
                            name=names[pid],
                            raw_value=raw[value],
                            value=value,
                        )
                        for pid, value in values.items()
                    ),
                )
            ]
        )


def council(store: Store, slug: str = "seattle") -> Council:
    jurisdiction_id = store.ensure_jurisdiction(load_registry().get(slug))
    return Council(store.writer(jurisdiction_id, None), slug)


def ice_meeting(c: Council, platform_id: str = "100", *, hours: float = 48) -> None:
    """An upcoming meeting with a 287(g) item and an unrelated one."""
    c.meeting(platform_id, soon(hours))
    c.agenda(
        platform_id,
        [
            agenda_item("1", ICE_TITLE, number="4", source_url="https://council.example.gov/i/1"),
            agenda_item("2", PARKS_TITLE, number="5"),
        ],
    )


# -- subscribers ---------------------------------------------------------------------------------


def settings_now() -> Settings:
    """The settings a run of ``ice-tracker`` would see now (TRACKER_DATA_DIR per test)."""
    return load_settings()


def active_subscriber(store: Store, address: str, *, language: str = "en", **filters: Any) -> int:
    settings = settings_now()
    registry = load_registry()
    result = subscribe(
        store.engine, address, validate_filters(registry, language=language, **filters)
    )
    tokens = Tokens.from_settings(settings)
    claims = tokens.check_confirm(tokens.confirm(result.subscriber_id, result.email))
    confirm(store.engine, claims, backfill_days=settings.digest_backfill_days)
    return result.subscriber_id
