"""Statements, and what members' votes and words on ICE items add up to.

Write side: statements are added, imported, edited and confirmed here, one transaction each,
with their citation; adding a confirmed statement appends a STATEMENT_ADDED change, every edit
appends StatementEdit rows (who, when, field, old, new), and a statement already stored (same
person, item, matter, quote and source) is not added twice.

Read side (derived on demand, never stored by hand):

- a member's history: every vote on an ICE item with its motion, action, direction, result
  and value, marked procedural or on the merits; counts of votes that expanded and that
  limited cooperation; absences; statements beside the votes; changes of position;
- a matter's history across bodies, with every member's vote;
- divided votes: ICE items whose vote was not unanimous.

Procedural votes (``is_procedural``). A vote decides the item on its merits unless its
motion or action (the vote event's, else the agenda item's action) disposes of the item
without deciding it: a referral (refer, re-refer, send to committee), deferral (defer,
postpone, hold over), tabling, a continuance (continued to a date, continued item), a
withdrawal (but not "withdraw from" an agreement, which is a decision), reconsideration,
receive-and-file, or a first reading. "Introduce"/"introduction" counts as procedural only
when the text names no decision (adopt, approve, pass, enact, reject, deny, fail, a second,
third or final reading). Procedural votes are shown in histories and never scored.

Direction applied (``cooperation_effect``): yes on an ``expands`` item and no on a
``limits`` item both "expanded" cooperation with immigration enforcement; yes on ``limits``
and no on ``expands`` "limited" it. Abstentions, absences and the rest are neither, and
neither are procedural votes or items without a direction (``neutral``: hearings, reports).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from tracker.exceptions import StatementError
from tracker.history import (
    ItemRow,
    MeetingRow,
    VoteRow,
    item_rows,
    meeting_rows,
    vote_fields,
)
from tracker.models import (
    AgendaItem,
    Body,
    Change,
    ChangeKind,
    Document,
    Jurisdiction,
    Matter,
    Meeting,
    Person,
    Statement,
    StatementEdit,
    Vote,
    VoteEvent,
    VoteValue,
)
from tracker.names import RosterMember, normalize_name, resolve_name
from tracker.people import resolve_person

STANCES = ("support", "oppose", "undecided", "concerned")
EDITABLE = ("stance", "quote", "source_url", "date", "paraphrase")
DATA_DIR = Path(__file__).parent / "data" / "statements"
EXPANDED = "expanded"
LIMITED = "limited"
ABSENT_VALUES = frozenset({VoteValue.ABSENT, VoteValue.EXCUSED})


# --- procedural votes and direction ------------------------------------------------------

_STRONG_PROCEDURAL = re.compile(
    r"""\b(?:
        re-?refer(?:s|red|ral)?|refer(?:s|red|ral)?\b|
        sen[dt]\s+(?:back\s+)?to\s+(?:the\s+)?(?:\w+\s+){0,4}committee|
        defer(?:s|red|ral)?|postpone(?:s|d|ment)?|
        held\s+over|hold\s+over|held\s+in\s+committee|
        tabled?|tabling|(?:lay|laid|lie)\s+on\s+the\s+table|
        continu(?:e|ed)\s+(?:to|until|indefinitely|the\s+(?:item|matter|hearing))|
        continuance|^\s*continued\b|
        withdrawn?\b(?!\s+from)|withdrew\b(?!\s+from)|withdrawal\b(?!\s+from)|
        reconsider(?:ed|ation)?|
        receive[ds]?\s+and\s+file[ds]?|
        first\s+reading|1st\s+reading
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_WEAK_PROCEDURAL = re.compile(r"\bintroduc(?:e|ed|es|tion)\b", re.IGNORECASE)
_MERITS = re.compile(
    r"\b(?:adopt\w*|approv\w*|pass(?:ed|age|es)?|enact\w*|ratif\w*|reject\w*|den(?:y|ied)|"
    r"fail\w*|(?:second|third|final|2nd|3rd)\s+reading)\b",
    re.IGNORECASE,
)


def is_procedural(*texts: str | None) -> bool:
    """Whether a vote with this motion/action text is procedural (see the module docstring)."""
    text = " ; ".join(t for t in texts if t)
    if not text:
        return False
    if any(_STRONG_PROCEDURAL.search(part) for part in text.split(" ; ")):
        return True
    return bool(_WEAK_PROCEDURAL.search(text)) and not _MERITS.search(text)


def cooperation_effect(direction: str | None, value: str | None, procedural: bool) -> str | None:
    """ "expanded", "limited" or None for one member's vote (direction applied)."""
    if procedural or direction not in ("expands", "limits"):
        return None
    if value == VoteValue.YES:
        return EXPANDED if direction == "expands" else LIMITED
    if value == VoteValue.NO:
        return LIMITED if direction == "expands" else EXPANDED
    return None


def stance_of_vote(value: str | None, procedural: bool) -> str | None:
    """A merits vote as a position on the item: yes supports it, no opposes it."""
    if procedural:
        return None
    return {"yes": "support", "no": "oppose"}.get(value or "")


def motion_classification(procedural_text: str | None, procedural: bool) -> list[str]:
    """Open Civic Data motion classification for a vote."""
    if not procedural:
        return ["passage"]
    text = (procedural_text or "").lower()
    if re.search(r"refer|committee", text):
        return ["committee-referral"]
    if re.search(r"first reading|1st reading", text):
        return ["reading-1"]
    if re.search(r"withdr", text):
        return ["withdrawal"]
    if re.search(r"introduc", text):
        return ["introduction"]
    return ["deferral"]


# --- writing statements ------------------------------------------------------------------


@dataclass(frozen=True)
class StatementInput:
    """A statement as a user or a data file gives it.

    The item is named by its database id, or by the meeting's local date and the item's
    number (stable across databases: what data files use); a matter by id or file number.
    """

    person: str
    stance: str
    quote: str
    source_url: str
    jurisdiction: str | None = None
    item_id: int | None = None
    matter: str | None = None
    meeting_date: date | None = None
    item_number: str | None = None
    date: date | None = None
    added_by: str = "cli"
    paraphrase: bool = False
    confirmed: bool = True
    origin: str = "manual"


@dataclass(frozen=True)
class AddResult:
    statement_id: int
    added: bool  # False: the same statement was already stored
    person: str
    person_needs_review: bool


def _clean_quote(quote: str) -> str:
    return re.sub(r"\s+", " ", quote).strip()


def fingerprint(
    person_id: int, item_id: int | None, matter_id: int | None, quote: str, source_url: str
) -> str:
    key = json.dumps(
        [person_id, item_id, matter_id, _clean_quote(quote).casefold(), source_url.strip()]
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_fields(stance: str, quote: str, source_url: str) -> None:
    if stance not in STANCES:
        raise StatementError(f"stance must be one of {', '.join(STANCES)}, got {stance!r}")
    if not _clean_quote(quote):
        raise StatementError("the quote is empty")
    if not re.match(r"https?://\S+$", source_url.strip()):
        raise StatementError(f"the source must be an http(s) URL, got {source_url!r}")


def parse_date(value: Any, name: str = "date") -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return datetime.strptime(str(value).strip(), "%Y-%m-%d").date()
    except ValueError:
        raise StatementError(f"{name} must be a date like 2021-11-02, got {value!r}") from None


def _jurisdiction_id(session: Session, slug: str) -> int:
    found = session.execute(
        select(col(Jurisdiction.id)).where(col(Jurisdiction.slug) == slug)
    ).first()
    if found is None:
        raise StatementError(f"no jurisdiction {slug!r} is stored: crawl it first")
    return int(found[0])


def _local_day(meeting: Meeting) -> date | None:
    if meeting.start is None:
        return None
    return meeting.start.astimezone(ZoneInfo(meeting.timezone)).date()


def find_matter(session: Session, ref: str, jurisdiction_id: int | None = None) -> Matter:
    """A matter by database id or by file number ("CB 119583"; case and spacing ignored)."""
    ref = ref.strip()
    if ref.isdigit():
        matter = session.get(Matter, int(ref))
        if matter is not None and jurisdiction_id in (None, matter.jurisdiction_id):
            return matter
    wanted = re.sub(r"\s+", " ", ref).casefold()
    query = select(Matter).where(
        func.lower(func.trim(col(Matter.file_number))) == wanted,
    )
    if jurisdiction_id is not None:
        query = query.where(col(Matter.jurisdiction_id) == jurisdiction_id)
    hits = list(session.execute(query).scalars())
    if not hits:
        raise StatementError(f"no matter {ref!r} is stored")
    if len(hits) > 1:
        raise StatementError(f"several matters are numbered {ref!r}: add --jurisdiction")
    return hits[0]


@dataclass
class _Target:
    jurisdiction_id: int
    item: AgendaItem | None
    matter: Matter | None
    meeting: Meeting | None


def _target(session: Session, given: StatementInput) -> _Target:
    jid = _jurisdiction_id(session, given.jurisdiction) if given.jurisdiction else None
    item: AgendaItem | None = None
    matter: Matter | None = None
    if given.item_id is not None:
        item = session.get(AgendaItem, given.item_id)
        if item is None:
            raise StatementError(f"no agenda item {given.item_id} is stored")
    elif given.meeting_date is not None and given.item_number:
        if jid is None:
            raise StatementError("an item named by meeting date and number needs a jurisdiction")
        candidates = session.execute(
            select(AgendaItem, Meeting)
            .join(Meeting, col(AgendaItem.meeting_id) == col(Meeting.id))
            .where(
                col(Meeting.jurisdiction_id) == jid,
                col(AgendaItem.number) == given.item_number,
                col(AgendaItem.removed_at).is_(None),
            )
        ).all()
        hits = [i for i, m in candidates if _local_day(m) == given.meeting_date]
        if len(hits) != 1:
            raise StatementError(
                f"{'no' if not hits else 'more than one'} item {given.item_number} on "
                f"{given.meeting_date} in {given.jurisdiction}"
            )
        item = hits[0]
    if given.matter:
        matter = find_matter(session, given.matter, jid)
    if item is None and matter is None:
        raise StatementError("name the item (--item) or the matter (--matter) it is about")
    meeting = session.get(Meeting, item.meeting_id) if item is not None else None
    if item is not None and matter is None and item.matter_id is not None:
        matter = session.get(Matter, item.matter_id)
    owner = meeting.jurisdiction_id if meeting is not None else None
    if owner is None and matter is not None:
        owner = matter.jurisdiction_id
    assert owner is not None
    if jid is not None and jid != owner:
        raise StatementError(f"that item or matter is not in {given.jurisdiction}")
    return _Target(owner, item, matter, meeting)


def _change_details(statement: Statement, person: Person) -> dict[str, Any]:
    return {
        "person": person.name,
        "stance": statement.stance,
        "quote": statement.quote,
        "source_url": statement.source_url,
        "date": statement.date.isoformat() if statement.date else None,
    }


def _log_added(session: Session, statement: Statement, person: Person, jid: int) -> None:
    meeting_id = None
    if statement.agenda_item_id is not None:
        item = session.get(AgendaItem, statement.agenda_item_id)
        meeting_id = item.meeting_id if item else None
    session.add(
        Change(
            jurisdiction_id=jid,
            kind=ChangeKind.STATEMENT_ADDED,
            meeting_id=meeting_id,
            agenda_item_id=statement.agenda_item_id,
            statement_id=statement.id,
            details=_change_details(statement, person),
        )
    )


def add_statement(engine: Engine, given: StatementInput) -> AddResult:
    """Store one statement (one transaction, with its change-log entry when confirmed)."""
    _check_fields(given.stance, given.quote, given.source_url)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        target = _target(session, given)
        # A name is resolved against the roster of the body that heard the item; for a
        # statement on a matter, the body that heard the matter last.
        heard = target.meeting
        if heard is None and target.matter is not None:
            heard = (
                session.execute(
                    select(Meeting)
                    .join(AgendaItem, col(AgendaItem.meeting_id) == col(Meeting.id))
                    .where(col(AgendaItem.matter_id) == target.matter.id)
                    .order_by(col(Meeting.start).desc())
                )
                .scalars()
                .first()
            )
        body_id = heard.body_id if heard is not None else None
        on = _local_day(heard) if heard is not None else given.date
        person_id = resolve_person(
            session, target.jurisdiction_id, given.person, body_id=body_id, on=on
        )
        person = session.get(Person, person_id)
        assert person is not None
        item_id = target.item.id if target.item is not None else None
        matter_id = target.matter.id if target.matter is not None else None
        quote = given.quote.strip()
        source_url = given.source_url.strip()
        key = fingerprint(person_id, item_id, matter_id, quote, source_url)
        existing = (
            session.execute(select(Statement).where(col(Statement.fingerprint) == key))
            .scalars()
            .first()
        )
        if existing is not None:
            assert existing.id is not None
            return AddResult(existing.id, False, person.name, person.needs_review)
        statement = Statement(
            person_id=person_id,
            agenda_item_id=item_id,
            matter_id=matter_id,
            stance=given.stance,
            quote=quote,
            paraphrase=given.paraphrase,
            source_url=source_url,
            date=given.date or (_local_day(target.meeting) if target.meeting else None),
            added_by=given.added_by,
            origin=given.origin,
            confirmed=given.confirmed,
            confirmed_by=given.added_by if given.confirmed else None,
            fingerprint=key,
        )
        session.add(statement)
        session.flush()
        assert statement.id is not None
        if statement.confirmed:
            _log_added(session, statement, person, target.jurisdiction_id)
        return AddResult(statement.id, True, person.name, person.needs_review)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _record_edit(
    session: Session, statement: Statement, name: str, old: Any, new: Any, by: str
) -> None:
    session.add(
        StatementEdit(
            statement_id=statement.id or 0,
            field=name,
            old_value=_text(old),
            new_value=_text(new),
            edited_by=by,
        )
    )


def edit_statement(
    engine: Engine, statement_id: int, changes: Mapping[str, Any], *, by: str
) -> list[str]:
    """Change fields of a statement; every change is logged. Returns the fields changed."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise StatementError(f"cannot edit {', '.join(unknown)}: editable are {EDITABLE}")
    if not by.strip():
        raise StatementError("say who is editing (--by)")
    with Session(engine, expire_on_commit=False) as session, session.begin():
        statement = session.get(Statement, statement_id)
        if statement is None:
            raise StatementError(f"no statement {statement_id}")
        values = dict(changes)
        if "date" in values:
            values["date"] = parse_date(values["date"])
        if "quote" in values:
            values["quote"] = str(values["quote"]).strip()
        if "source_url" in values:
            values["source_url"] = str(values["source_url"]).strip()
        _check_fields(
            values.get("stance", statement.stance),
            values.get("quote", statement.quote),
            values.get("source_url", statement.source_url),
        )
        changed: list[str] = []
        for name, new in values.items():
            old = getattr(statement, name)
            if old != new:
                _record_edit(session, statement, name, old, new, by)
                setattr(statement, name, new)
                changed.append(name)
        if not changed:
            return []
        statement.updated_at = datetime.now(UTC)
        statement.fingerprint = fingerprint(
            statement.person_id,
            statement.agenda_item_id,
            statement.matter_id,
            statement.quote,
            statement.source_url,
        )
        try:
            session.flush()
        except IntegrityError:
            raise StatementError(
                f"statement {statement_id} would then duplicate another stored statement"
            ) from None
        return changed


def confirm_statement(engine: Engine, statement_id: int, *, by: str) -> bool:
    """Confirm a suggested statement: from now on it is shown, counted and announced."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        statement = session.get(Statement, statement_id)
        if statement is None:
            raise StatementError(f"no statement {statement_id}")
        if statement.confirmed:
            return False
        _record_edit(session, statement, "confirmed", False, True, by)
        statement.confirmed = True
        statement.confirmed_by = by
        statement.updated_at = datetime.now(UTC)
        person = session.get(Person, statement.person_id)
        assert person is not None
        _log_added(session, statement, person, person.jurisdiction_id)
        return True


def statement_edits(engine: Engine, statement_id: int) -> list[StatementEdit]:
    with Session(engine) as session:
        return list(
            session.execute(
                select(StatementEdit)
                .where(col(StatementEdit.statement_id) == statement_id)
                .order_by(col(StatementEdit.id))
            ).scalars()
        )


# --- importing ---------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "y", "t"}


def _input_from_record(
    record: Mapping[str, Any], *, by: str, jurisdiction: str | None
) -> StatementInput:
    def get(*names: str) -> Any:
        for name in names:
            value = record.get(name)
            if value not in (None, ""):
                return value
        return None

    item = get("item", "item_id", "agenda_item_id")
    matter = get("matter", "matter_id", "matter_file")
    person, stance = get("person"), get("stance")
    quote, source_url = get("quote"), get("source_url", "source")
    missing = [n for n, v in [("person", person), ("stance", stance), ("quote", quote)] if not v]
    if not source_url:
        missing.append("source_url")
    if missing:
        raise StatementError(f"missing {', '.join(missing)}")
    try:
        item_id = int(item) if item is not None else None
    except ValueError:
        raise StatementError(f"item must be a number, got {item!r}") from None
    paraphrase = get("paraphrase")
    return StatementInput(
        person=str(person),
        stance=str(stance).strip().lower(),
        quote=str(quote),
        source_url=str(source_url),
        jurisdiction=get("jurisdiction") or jurisdiction,
        item_id=item_id,
        matter=str(matter) if matter is not None else None,
        meeting_date=parse_date(get("meeting_date"), "meeting_date"),
        item_number=str(get("item_number")) if get("item_number") is not None else None,
        date=parse_date(get("date")),
        added_by=str(get("added_by") or by),
        paraphrase=paraphrase is True or str(paraphrase).strip().lower() in _TRUE,
        origin="import",
    )


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) from a CSV file (header row) or a JSON Lines file."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise StatementError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(handle)
            for record in reader:
                yield reader.line_num, {k.strip(): v for k, v in record.items() if k}
            return
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise StatementError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise StatementError(f"{path}:{number}: each line must be a JSON object")
            yield number, record


@dataclass
class ImportResult:
    added: int = 0
    duplicates: int = 0
    review: list[str] = field(default_factory=list)  # people kept for review
    errors: list[str] = field(default_factory=list)


def import_statements(
    engine: Engine, path: Path, *, by: str = "import", jurisdiction: str | None = None
) -> ImportResult:
    """Add every statement in a CSV or JSON Lines file; a bad line is reported, not fatal."""
    result = ImportResult()
    for number, record in read_records(path):
        try:
            outcome = add_statement(
                engine, _input_from_record(record, by=by, jurisdiction=jurisdiction)
            )
        except StatementError as exc:
            result.errors.append(f"{path.name}:{number}: {exc}")
            continue
        if outcome.added:
            result.added += 1
        else:
            result.duplicates += 1
        if outcome.person_needs_review:
            result.review.append(outcome.person)
    return result


def load_demo_statements(engine: Engine) -> int:
    """Import the bundled statements (tracker/data/statements/*.jsonl); returns how many
    were added. Lines whose item is not in the database (its city not crawled) are skipped."""
    added = 0
    for path in sorted(DATA_DIR.glob("*.jsonl")):
        added += import_statements(engine, path, by="demo").added
    return added


# --- reading: people and their votes -----------------------------------------------------


@dataclass(frozen=True)
class PersonRef:
    id: int
    name: str
    jurisdiction: str
    needs_review: bool


def find_person(engine: Engine, name: str, jurisdiction: str | None = None) -> PersonRef:
    """One person by name: exact, alias, initials, a unique last name, then a substring."""
    with Session(engine) as session:
        query = select(Person, Jurisdiction).join(
            Jurisdiction, col(Person.jurisdiction_id) == col(Jurisdiction.id)
        )
        if jurisdiction:
            query = query.where(col(Jurisdiction.slug) == jurisdiction)
        people = {p.id: (p, j.slug) for p, j in session.execute(query)}
    members = [
        RosterMember(key=str(pid), name=p.name, aliases=tuple(p.aliases))
        for pid, (p, _) in people.items()
        if pid is not None
    ]
    resolution = resolve_name(name, members)
    hits = [int(m.key) for m in resolution.candidates]
    if not hits:
        wanted = normalize_name(name)
        hits = [
            pid
            for pid, (p, _) in people.items()
            if pid is not None and wanted and f" {wanted} " in f" {normalize_name(p.name)} "
        ]
    if not hits:
        where = f" in {jurisdiction}" if jurisdiction else ""
        raise StatementError(f"no one called {name!r} is stored{where}")
    if len(hits) > 1:
        names = ", ".join(sorted(f"{people[h][0].name} ({people[h][1]})" for h in hits))
        raise StatementError(f"several people fit {name!r}: {names}; be more specific")
    person, slug = people[hits[0]]
    assert person.id is not None
    return PersonRef(person.id, person.name, slug, person.needs_review)


def _iso_local(value: datetime | None, timezone: str) -> str | None:
    return None if value is None else value.astimezone(ZoneInfo(timezone)).isoformat()


@dataclass(frozen=True)
class HistoryVote:
    vote_event_id: int
    agenda_item_id: int
    matter_id: int | None
    jurisdiction: str
    body: str | None
    meeting_start: str | None
    item_number: str | None
    matter_file: str | None
    title: str
    category: str | None
    direction: str | None
    motion: str | None
    action: str | None
    result: str | None
    value: str | None
    raw_value: str
    procedural: bool
    effect: str | None
    divided: bool
    source: str
    source_url: str | None
    document_sha256: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StatementView:
    id: int
    person: str
    jurisdiction: str
    agenda_item_id: int | None
    matter_id: int | None
    item_title: str | None
    matter_file: str | None
    meeting_start: str | None
    direction: str | None
    stance: str
    quote: str
    paraphrase: bool
    source_url: str
    date: str | None
    added_by: str
    confirmed: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PositionChange:
    subject: str  # the matter's file number or the item's title
    before: str  # "support (vote, 2021-11-02)"
    after: str


@dataclass
class PersonHistory:
    person: PersonRef
    votes: list[HistoryVote]
    statements: list[StatementView]
    counts: dict[str, int]
    changes: list[PositionChange]


def _vote_query(person_id: int | None = None) -> Any:
    by_id = aliased(Document)
    by_url = aliased(Document)
    query = (
        select(
            col(Vote.value),
            col(Vote.raw_value),
            col(VoteEvent.id),
            col(VoteEvent.motion),
            col(VoteEvent.action),
            col(VoteEvent.result),
            col(VoteEvent.source),
            col(VoteEvent.source_url),
            col(VoteEvent.yes_count),
            col(VoteEvent.no_count),
            col(AgendaItem.id),
            col(AgendaItem.matter_id),
            col(AgendaItem.number),
            col(AgendaItem.title),
            col(AgendaItem.category),
            col(AgendaItem.direction),
            col(AgendaItem.action),
            col(Meeting.start),
            col(Meeting.timezone),
            col(Jurisdiction.slug),
            col(Body.name),
            col(Matter.file_number),
            func.coalesce(col(by_id.sha256), col(by_url.sha256)),
            col(Person.name),
        )
        .select_from(Vote)
        .join(VoteEvent, col(Vote.vote_event_id) == col(VoteEvent.id))
        .join(AgendaItem, col(VoteEvent.agenda_item_id) == col(AgendaItem.id))
        .join(Meeting, col(AgendaItem.meeting_id) == col(Meeting.id))
        .join(Jurisdiction, col(Meeting.jurisdiction_id) == col(Jurisdiction.id))
        .join(Person, col(Vote.person_id) == col(Person.id))
        .outerjoin(Body, col(Meeting.body_id) == col(Body.id))
        .outerjoin(Matter, col(AgendaItem.matter_id) == col(Matter.id))
        .outerjoin(by_id, col(VoteEvent.document_id) == col(by_id.id))
        .outerjoin(
            by_url,
            and_(
                col(VoteEvent.document_id).is_(None),
                col(by_url.jurisdiction_id) == col(Meeting.jurisdiction_id),
                col(by_url.url) == col(VoteEvent.source_url),
            ),
        )
        .where(col(AgendaItem.relevant).is_(True), col(AgendaItem.removed_at).is_(None))
    )
    if person_id is not None:
        query = query.where(col(Vote.person_id) == person_id)
    return query.order_by(col(Meeting.start), col(AgendaItem.sequence), col(VoteEvent.id))


def _history_vote(row: Any) -> HistoryVote:
    (
        value,
        raw_value,
        event_id,
        motion,
        action,
        result,
        source,
        source_url,
        yes_count,
        no_count,
        item_id,
        matter_id,
        number,
        title,
        category,
        direction,
        item_action,
        start,
        timezone,
        slug,
        body,
        matter_file,
        sha256,
        _person,
    ) = row
    procedural = is_procedural(motion, action or item_action)
    return HistoryVote(
        vote_event_id=event_id,
        agenda_item_id=item_id,
        matter_id=matter_id,
        jurisdiction=slug,
        body=body,
        meeting_start=_iso_local(start, timezone),
        item_number=number,
        matter_file=matter_file,
        title=title,
        category=category,
        direction=direction,
        motion=motion,
        action=action or item_action,
        result=result,
        value=value,
        raw_value=raw_value,
        procedural=procedural,
        effect=cooperation_effect(direction, value, procedural),
        divided=bool(yes_count and no_count),
        source=source,
        source_url=source_url,
        document_sha256=sha256,
    )


def _divided_events(session: Session, event_ids: Sequence[int]) -> set[int]:
    """Events whose members present did not all vote alike (yes, no, abstain)."""
    divided: set[int] = set()
    cast = ("yes", "no", "abstain")
    for start in range(0, len(event_ids), 500):
        chunk = list(event_ids[start : start + 500])
        rows = session.execute(
            select(col(Vote.vote_event_id), func.count(func.distinct(col(Vote.value))))
            .where(col(Vote.vote_event_id).in_(chunk), col(Vote.value).in_(cast))
            .group_by(col(Vote.vote_event_id))
        )
        divided |= {event for event, kinds in rows if kinds > 1}
    return divided


def _statement_query() -> Any:
    return (
        select(Statement, Person, Jurisdiction, AgendaItem, Matter, Meeting)
        .join(Person, col(Statement.person_id) == col(Person.id))
        .join(Jurisdiction, col(Person.jurisdiction_id) == col(Jurisdiction.id))
        .outerjoin(AgendaItem, col(Statement.agenda_item_id) == col(AgendaItem.id))
        .outerjoin(Matter, col(Statement.matter_id) == col(Matter.id))
        .outerjoin(Meeting, col(AgendaItem.meeting_id) == col(Meeting.id))
    )


def _statement_view(row: Any) -> StatementView:
    statement, person, juris, item, matter, meeting = row
    return StatementView(
        id=statement.id,
        person=person.name,
        jurisdiction=juris.slug,
        agenda_item_id=statement.agenda_item_id,
        matter_id=statement.matter_id,
        item_title=item.title if item else (matter.title if matter else None),
        matter_file=matter.file_number if matter else None,
        meeting_start=_iso_local(meeting.start, meeting.timezone) if meeting else None,
        direction=(item.direction if item else None) or (matter.direction if matter else None),
        stance=statement.stance,
        quote=statement.quote,
        paraphrase=statement.paraphrase,
        source_url=statement.source_url,
        date=statement.date.isoformat() if statement.date else None,
        added_by=statement.added_by,
        confirmed=statement.confirmed,
    )


def statements(
    engine: Engine,
    *,
    person_id: int | None = None,
    jurisdiction: str | None = None,
    confirmed: bool | None = True,
    matter_id: int | None = None,
    item_ids: Sequence[int] = (),
) -> list[StatementView]:
    """Statements (confirmed ones unless asked otherwise), oldest first."""
    query = _statement_query()
    if person_id is not None:
        query = query.where(col(Statement.person_id) == person_id)
    if jurisdiction:
        query = query.where(col(Jurisdiction.slug) == jurisdiction)
    if confirmed is not None:
        query = query.where(col(Statement.confirmed).is_(confirmed))
    if matter_id is not None or item_ids:
        query = query.where(
            or_(
                col(Statement.matter_id) == matter_id,
                col(Statement.agenda_item_id).in_(list(item_ids)),
            )
        )
    query = query.order_by(col(Statement.date), col(Statement.id))
    with Session(engine) as session:
        return [_statement_view(row) for row in session.execute(query)]


def _when(value: str | None) -> str:
    return (value or "")[:10] or "undated"


def position_changes(
    votes: Sequence[HistoryVote], said: Sequence[StatementView]
) -> list[PositionChange]:
    """Where a later merits vote or statement takes the other side on the same matter (or
    the same item, when it has no matter) than the one before it."""
    signals: list[tuple[str, tuple[str, int], str, str, str]] = []
    for vote in votes:
        stance = stance_of_vote(vote.value, vote.procedural)
        if stance is None:
            continue
        key = ("matter", vote.matter_id) if vote.matter_id else ("item", vote.agenda_item_id)
        subject = vote.matter_file or vote.title
        signals.append((_when(vote.meeting_start), key, stance, f"voted {vote.value}", subject))
    for statement in said:
        if statement.stance not in ("support", "oppose"):
            continue
        if statement.matter_id:
            key = ("matter", statement.matter_id)
        else:
            key = ("item", statement.agenda_item_id or 0)
        subject = statement.matter_file or statement.item_title or ""
        when = statement.date or _when(statement.meeting_start)
        signals.append((when, key, statement.stance, "said", subject))
    signals.sort(key=lambda s: s[0])
    last: dict[tuple[str, int], tuple[str, str, str]] = {}
    changes: list[PositionChange] = []
    for when, key, stance, how, subject in signals:
        before = last.get(key)
        if before is not None and before[0] != stance:
            changes.append(
                PositionChange(
                    subject=subject,
                    before=f"{before[0]} ({before[1]}, {before[2]})",
                    after=f"{stance} ({how}, {when})",
                )
            )
        last[key] = (stance, how, when)
    return changes


def count_votes(votes: Iterable[HistoryVote]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for vote in votes:
        counts["ice_votes"] += 1
        counts["procedural" if vote.procedural else "merits"] += 1
        if vote.effect is not None:
            counts[vote.effect] += 1
        if vote.value in ABSENT_VALUES:
            counts["absences"] += 1
        elif vote.value in (VoteValue.ABSTAIN, VoteValue.RECUSED):
            counts["abstentions"] += 1
    keys = ("ice_votes", "merits", "procedural", EXPANDED, LIMITED, "absences", "abstentions")
    return {k: counts[k] for k in keys}


def person_history(engine: Engine, name: str, jurisdiction: str | None = None) -> PersonHistory:
    ref = find_person(engine, name, jurisdiction)
    with Session(engine) as session:
        rows = session.execute(_vote_query(ref.id)).all()
        votes = [_history_vote(row) for row in rows]
        divided = _divided_events(session, [v.vote_event_id for v in votes])
    votes = [HistoryVote(**{**v.as_dict(), "divided": v.vote_event_id in divided}) for v in votes]
    said = statements(engine, person_id=ref.id)
    counts = count_votes(votes)
    for stance in STANCES:
        counts[f"said_{stance}"] = sum(1 for s in said if s.stance == stance)
    return PersonHistory(ref, votes, said, counts, position_changes(votes, said))


# --- matters and divided votes -----------------------------------------------------------


@dataclass(frozen=True)
class MemberVote:
    person: str
    value: str | None
    raw_value: str


@dataclass(frozen=True)
class EventView:
    vote_event_id: int
    motion: str | None
    action: str | None
    result: str | None
    tally: str | None
    procedural: bool
    divided: bool
    source_url: str | None
    document_sha256: str | None
    votes: list[MemberVote]


@dataclass(frozen=True)
class ItemStep:
    agenda_item_id: int
    jurisdiction: str
    body: str | None
    body_kind: str | None
    meeting_start: str | None
    item_number: str | None
    title: str
    action: str | None
    result: str | None
    direction: str | None
    source_url: str | None
    events: list[EventView]


@dataclass
class MatterHistory:
    matter: Matter
    jurisdiction: str
    steps: list[ItemStep]
    statements: list[StatementView]


def _sha_by_url(session: Session) -> dict[tuple[int, str], str]:
    return {
        (jid, url): sha
        for jid, url, sha in session.execute(
            select(col(Document.jurisdiction_id), col(Document.url), col(Document.sha256)).where(
                col(Document.sha256).is_not(None)
            )
        )
    }


def _sha_by_id(session: Session) -> dict[int, str]:
    return {
        did: sha
        for did, sha in session.execute(
            select(col(Document.id), col(Document.sha256)).where(col(Document.sha256).is_not(None))
        )
    }


def _events_for_items(
    session: Session, items: Sequence[tuple[AgendaItem, Meeting]]
) -> dict[int, list[EventView]]:
    item_ids = [i.id for i, _ in items if i.id is not None]
    jid_of = {i.id: m.jurisdiction_id for i, m in items}
    action_of = {i.id: i.action for i, _ in items}
    events = list(
        session.execute(
            select(VoteEvent)
            .where(col(VoteEvent.agenda_item_id).in_(item_ids))
            .order_by(col(VoteEvent.id))
        ).scalars()
    )
    event_ids = [e.id for e in events if e.id is not None]
    members: dict[int, list[MemberVote]] = defaultdict(list)
    for vote, person in session.execute(
        select(Vote, Person)
        .join(Person, col(Vote.person_id) == col(Person.id))
        .where(col(Vote.vote_event_id).in_(event_ids))
        .order_by(col(Person.name))
    ):
        members[vote.vote_event_id].append(MemberVote(person.name, vote.value, vote.raw_value))
    divided = _divided_events(session, event_ids)
    by_url, by_id = _sha_by_url(session), _sha_by_id(session)
    grouped: dict[int, list[EventView]] = defaultdict(list)
    for event in events:
        assert event.id is not None
        sha = by_id.get(event.document_id or 0) or by_url.get(
            (jid_of[event.agenda_item_id], event.source_url or "")
        )
        grouped[event.agenda_item_id].append(
            EventView(
                vote_event_id=event.id,
                motion=event.motion,
                action=event.action,
                result=event.result,
                tally=event.tally,
                procedural=is_procedural(
                    event.motion, event.action or action_of[event.agenda_item_id]
                ),
                divided=event.id in divided,
                source_url=event.source_url,
                document_sha256=sha,
                votes=members[event.id],
            )
        )
    return grouped


def _steps(session: Session, items: Sequence[tuple[AgendaItem, Meeting, str, Any]]) -> list[Any]:
    events = _events_for_items(session, [(i, m) for i, m, _, _ in items])
    return [
        ItemStep(
            agenda_item_id=item.id or 0,
            jurisdiction=slug,
            body=body.name if body else None,
            body_kind=body.kind if body else None,
            meeting_start=_iso_local(meeting.start, meeting.timezone),
            item_number=item.number,
            title=item.title,
            action=item.action,
            result=item.result,
            direction=item.direction,
            source_url=item.source_url,
            events=events.get(item.id or 0, []),
        )
        for item, meeting, slug, body in items
    ]


def matter_history(engine: Engine, ref: str, jurisdiction: str | None = None) -> MatterHistory:
    """A matter across bodies (committee, then full council), each vote with every member's."""
    with Session(engine, expire_on_commit=False) as session:
        jid = _jurisdiction_id(session, jurisdiction) if jurisdiction else None
        matter = find_matter(session, ref, jid)
        rows = session.execute(
            select(AgendaItem, Meeting, col(Jurisdiction.slug), Body)
            .join(Meeting, col(AgendaItem.meeting_id) == col(Meeting.id))
            .join(Jurisdiction, col(Meeting.jurisdiction_id) == col(Jurisdiction.id))
            .outerjoin(Body, col(Meeting.body_id) == col(Body.id))
            .where(col(AgendaItem.matter_id) == matter.id, col(AgendaItem.removed_at).is_(None))
            .order_by(col(Meeting.start), col(AgendaItem.sequence))
        ).all()
        steps = _steps(session, [tuple(r) for r in rows])
        slug = session.get(Jurisdiction, matter.jurisdiction_id)
        assert slug is not None
    said = statements(engine, matter_id=matter.id, item_ids=[s.agenda_item_id for s in steps])
    return MatterHistory(matter, slug.slug, steps, said)


def divided_votes(engine: Engine, jurisdiction: str | None = None) -> list[ItemStep]:
    """ICE items whose vote was not unanimous, each with every member's vote."""
    with Session(engine, expire_on_commit=False) as session:
        query = (
            select(AgendaItem, Meeting, col(Jurisdiction.slug), Body)
            .join(Meeting, col(AgendaItem.meeting_id) == col(Meeting.id))
            .join(Jurisdiction, col(Meeting.jurisdiction_id) == col(Jurisdiction.id))
            .outerjoin(Body, col(Meeting.body_id) == col(Body.id))
            .where(col(AgendaItem.relevant).is_(True), col(AgendaItem.removed_at).is_(None))
            .order_by(col(Meeting.start), col(AgendaItem.sequence))
        )
        if jurisdiction:
            query = query.where(col(Jurisdiction.slug) == jurisdiction)
        steps = _steps(session, [tuple(r) for r in session.execute(query).all()])
    kept = []
    for step in steps:
        events = [e for e in step.events if e.divided]
        if events:
            kept.append(ItemStep(**{**step.__dict__, "events": events}))
    return kept


# --- exports -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CitedVoteRow(VoteRow):
    procedural: bool = False
    effect: str | None = None
    document_sha256: str | None = None


@dataclass(frozen=True)
class CitedItemRow(ItemRow):
    document_sha256: str | None = None


@dataclass(frozen=True)
class CitedMeetingRow(MeetingRow):
    agenda_sha256: str | None = None
    minutes_sha256: str | None = None


@dataclass(frozen=True)
class StanceRow:
    """A confirmed statement with its context, and the member's vote on the same item."""

    jurisdiction: str
    person: str
    meeting_start: str | None
    item_number: str | None
    matter_file: str | None
    title: str | None
    direction: str | None
    stance: str
    quote: str
    paraphrase: bool
    statement_date: str | None
    source_url: str
    added_by: str
    vote: str | None
    vote_procedural: bool | None
    vote_effect: str | None
    vote_source_url: str | None
    vote_document_sha256: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _export_vote_query(jurisdiction: str | None, person: str | None, relevant: bool) -> Any:
    by_id = aliased(Document)
    by_url = aliased(Document)
    query = (
        select(Vote, VoteEvent, AgendaItem, Meeting, Jurisdiction, Person, Body, Matter)
        .add_columns(func.coalesce(col(by_id.sha256), col(by_url.sha256)))
        .select_from(Vote)
        .join(VoteEvent, col(Vote.vote_event_id) == col(VoteEvent.id))
        .join(AgendaItem, col(VoteEvent.agenda_item_id) == col(AgendaItem.id))
        .join(Meeting, col(AgendaItem.meeting_id) == col(Meeting.id))
        .join(Jurisdiction, col(Meeting.jurisdiction_id) == col(Jurisdiction.id))
        .join(Person, col(Vote.person_id) == col(Person.id))
        .outerjoin(Body, col(Meeting.body_id) == col(Body.id))
        .outerjoin(Matter, col(AgendaItem.matter_id) == col(Matter.id))
        .outerjoin(by_id, col(VoteEvent.document_id) == col(by_id.id))
        .outerjoin(
            by_url,
            and_(
                col(VoteEvent.document_id).is_(None),
                col(by_url.jurisdiction_id) == col(Meeting.jurisdiction_id),
                col(by_url.url) == col(VoteEvent.source_url),
            ),
        )
    )
    if jurisdiction:
        query = query.where(col(Jurisdiction.slug) == jurisdiction)
    if person:
        query = query.where(func.lower(col(Person.name)).contains(person.strip().lower()))
    if relevant:
        query = query.where(col(AgendaItem.relevant).is_(True))
    return query.order_by(
        col(Meeting.start),
        col(Meeting.id),
        col(AgendaItem.sequence),
        col(AgendaItem.id),
        col(VoteEvent.id),
        col(Person.name),
    )


def cited_vote_rows(
    engine: Engine,
    *,
    jurisdiction: str | None = None,
    person: str | None = None,
    relevant: bool = False,
) -> Iterator[CitedVoteRow]:
    """The `export votes` rows: tracker.history's, plus procedural, effect and the hash."""
    query = _export_vote_query(jurisdiction, person, relevant)
    with Session(engine) as session:
        for vote, event, item, meeting, juris, who, body, matter, sha in session.execute(query):
            procedural = is_procedural(event.motion, event.action or item.action)
            yield CitedVoteRow(
                **vote_fields(vote, event, item, meeting, juris, who, body, matter),
                procedural=procedural,
                effect=cooperation_effect(item.direction, vote.value, procedural)
                if item.relevant
                else None,
                document_sha256=sha,
            )


def _sha_by_slug_url(engine: Engine) -> dict[tuple[str, str], str]:
    with Session(engine) as session:
        return {
            (slug, url): sha
            for slug, url, sha in session.execute(
                select(col(Jurisdiction.slug), col(Document.url), col(Document.sha256))
                .join(Jurisdiction, col(Document.jurisdiction_id) == col(Jurisdiction.id))
                .where(col(Document.sha256).is_not(None))
            )
        }


def cited_item_rows(
    engine: Engine, *, jurisdiction: str | None = None, relevant: bool = False
) -> Iterator[CitedItemRow]:
    hashes = _sha_by_slug_url(engine)
    for row in item_rows(engine, jurisdiction=jurisdiction, relevant=relevant):
        yield CitedItemRow(
            **row.as_dict(), document_sha256=hashes.get((row.jurisdiction, row.source_url or ""))
        )


def cited_meeting_rows(
    engine: Engine, *, jurisdiction: str | None = None, relevant: bool = False
) -> Iterator[CitedMeetingRow]:
    hashes = _sha_by_slug_url(engine)
    for row in meeting_rows(engine, jurisdiction=jurisdiction, relevant=relevant):
        yield CitedMeetingRow(
            **row.as_dict(),
            agenda_sha256=hashes.get((row.jurisdiction, row.agenda_url or "")),
            minutes_sha256=hashes.get((row.jurisdiction, row.minutes_url or "")),
        )


def stance_rows(
    engine: Engine, *, jurisdiction: str | None = None, person: str | None = None
) -> Iterator[StanceRow]:
    """Every confirmed statement, with the member's vote on the same item beside it."""
    said = statements(engine, jurisdiction=jurisdiction)
    if person:
        wanted = person.strip().lower()
        said = [s for s in said if wanted in s.person.lower()]
    votes: dict[tuple[str, int], HistoryVote] = {}
    with Session(engine) as session:
        for row in session.execute(_vote_query()):
            seen = _history_vote(row)
            # The last vote on the item (after a referral, the decision) is the one to show.
            votes[(row[-1], seen.agenda_item_id)] = seen
        items = {
            i.id: i
            for i in session.execute(
                select(AgendaItem).where(
                    col(AgendaItem.id).in_([s.agenda_item_id for s in said if s.agenda_item_id])
                )
            ).scalars()
        }
    for s in said:
        vote = votes.get((s.person, s.agenda_item_id or 0))
        item = items.get(s.agenda_item_id or 0)
        yield StanceRow(
            jurisdiction=s.jurisdiction,
            person=s.person,
            meeting_start=s.meeting_start,
            item_number=item.number if item else None,
            matter_file=s.matter_file,
            title=s.item_title,
            direction=s.direction,
            stance=s.stance,
            quote=s.quote,
            paraphrase=s.paraphrase,
            statement_date=s.date,
            source_url=s.source_url,
            added_by=s.added_by,
            vote=vote.value if vote else None,
            vote_procedural=vote.procedural if vote else None,
            vote_effect=vote.effect if vote else None,
            vote_source_url=vote.source_url if vote else None,
            vote_document_sha256=vote.document_sha256 if vote else None,
        )


_OCD_OPTIONS = {
    "yes": "yes",
    "no": "no",
    "abstain": "abstain",
    "absent": "absent",
    "excused": "excused",
    "not_voting": "not voting",
    "recused": "other",
    "present": "other",
}


def ocd_vote_events(
    engine: Engine,
    *,
    jurisdiction: str | None = None,
    person: str | None = None,
    relevant: bool = False,
) -> Iterator[dict[str, Any]]:
    """Open Civic Data VoteEvent objects (pupa's vote_event schema), one per vote event.

    Every property of that schema is present: identifier, motion_text, motion_classification,
    start_date, end_date, result (pass|fail), organization, legislative_session (a council
    has no sessions: the meeting's year, as municipal OCD scrapers do), bill, bill_action,
    votes [{option, voter_name, voter_id, note}], counts [{option, value}], sources [{url,
    note}], extras, pupa_id. Our normalized values map to OCD options (recused and present
    become "other"; the value as published is kept in each vote's note). A vote event with
    no result and no votes to derive one from is left out.
    """
    current: dict[str, Any] | None = None
    current_id: int | None = None
    for row, event_id in _ocd_rows(engine, jurisdiction, person, relevant):
        if event_id != current_id:
            if current is not None and _finish_ocd(current):
                yield current
            current, current_id = row, event_id
        else:
            assert current is not None
            current["votes"] += row["votes"]
    if current is not None and _finish_ocd(current):
        yield current


def _finish_ocd(event: dict[str, Any]) -> bool:
    tally: Counter[str] = Counter(v["option"] for v in event["votes"])
    event["counts"] = [{"option": o, "value": n} for o, n in sorted(tally.items())]
    if event["result"] is None:
        if not tally:
            return False
        event["result"] = "pass" if tally["yes"] > tally["no"] else "fail"
    return True


def _ocd_rows(
    engine: Engine, jurisdiction: str | None, person: str | None, relevant: bool
) -> Iterator[tuple[dict[str, Any], int]]:
    query = _export_vote_query(jurisdiction, None, relevant)
    with Session(engine) as session:
        if person:
            wanted = person.strip().lower()
            events = select(col(Vote.vote_event_id)).join(
                Person, col(Vote.person_id) == col(Person.id)
            )
            events = events.where(func.lower(col(Person.name)).contains(wanted))
            query = query.where(col(VoteEvent.id).in_(events))
        for vote, event, item, meeting, juris, who, body, matter, sha in session.execute(query):
            procedural = is_procedural(event.motion, event.action or item.action)
            local = meeting.start.astimezone(ZoneInfo(meeting.timezone)) if meeting.start else None
            result = {"passed": "pass", "failed": "fail"}.get((event.result or "").lower())
            note = f"{event.source}; document sha256 {sha}" if sha else event.source
            yield (
                {
                    "identifier": f"{juris.slug}/vote-event/{event.id}",
                    "motion_text": event.motion or event.action or item.action or item.title,
                    "motion_classification": motion_classification(
                        f"{event.motion or ''} {event.action or item.action or ''}", procedural
                    ),
                    "start_date": local.isoformat(timespec="seconds") if local else "",
                    "end_date": "",
                    "result": result,
                    "organization": body.name if body else juris.slug,
                    "legislative_session": str(local.year) if local else "unknown",
                    "bill": matter.file_number if matter and matter.file_number else None,
                    "bill_action": event.action or item.action,
                    "votes": [
                        {
                            "option": _OCD_OPTIONS.get(vote.value or "", "other"),
                            "voter_name": who.name,
                            "voter_id": f"{juris.slug}/person/{who.id}",
                            "note": vote.raw_value,
                        }
                    ],
                    "counts": [],
                    "sources": [
                        {"url": event.source_url or meeting.source_url or "", "note": note}
                    ],
                    "extras": {
                        "jurisdiction": juris.slug,
                        "item_number": item.number,
                        "item_title": item.title,
                        "relevant": item.relevant,
                        "category": item.category,
                        "direction": item.direction,
                        "procedural": procedural,
                        "document_sha256": sha,
                        "meeting_url": meeting.source_url,
                    },
                    "pupa_id": None,
                },
                event.id,
            )


def write_ocd(events: Iterable[dict[str, Any]], out: Any) -> int:
    """A JSON array of VoteEvent objects."""
    count = 0
    out.write("[")
    for event in events:
        out.write(("\n  " if count == 0 else ",\n  ") + json.dumps(event, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count
