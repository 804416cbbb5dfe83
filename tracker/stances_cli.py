"""Commands for reporters and organizers: statement, person, matter, explore.

Registered on the ``ice-tracker`` group at the end of tracker/cli.py.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker.cli_options import settings_of
from tracker.exceptions import ConfigError, TrackerError
from tracker.stances import (
    EDITABLE,
    STANCES,
    HistoryVote,
    MatterHistory,
    PersonHistory,
    StatementError,
    StatementInput,
    StatementView,
    add_statement,
    confirm_statement,
    edit_statement,
    import_statements,
    matter_history,
    parse_date,
    person_history,
    statement_edits,
    statements,
)

# Tables that hold subscribers' addresses and mail: never served by `explore`.
PRIVATE_TABLES = ("subscriber", "subscription", "delivery")


def _engine(ctx: click.Context) -> Engine:
    from tracker.db import open_database

    return open_database(settings_of(ctx).resolved_database_url)


def _short(text: str | None, width: int = 110) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


# --- statement ---------------------------------------------------------------------------


@click.group()
def statement() -> None:
    """Statements members made about ICE items, each with its citation."""


@statement.command("add")
@click.option("--person", required=True, help="The member, as written (resolved to one person).")
@click.option("--item", "item_id", type=int, help="The agenda item (database id).")
@click.option("--matter", help="The matter: database id or file number.")
@click.option("--stance", required=True, type=click.Choice(STANCES))
@click.option("--quote", required=True, help="Exact text from the source.")
@click.option("--source-url", required=True, help="Where the quote was published.")
@click.option("--date", "when", help="When it was said (YYYY-MM-DD; default: the meeting's).")
@click.option("--jurisdiction", help="The jurisdiction (slug), to check the item or matter.")
@click.option("--by", "by", default="cli", show_default=True, help="Who is adding it.")
@click.option("--paraphrase", is_flag=True, help="The text is the source's account, not a quote.")
@click.pass_context
def statement_add(
    ctx: click.Context,
    person: str,
    item_id: int | None,
    matter: str | None,
    stance: str,
    quote: str,
    source_url: str,
    when: str | None,
    jurisdiction: str | None,
    by: str,
    paraphrase: bool,
) -> None:
    """Add one statement."""
    if item_id is None and matter is None:
        raise StatementError("name the item (--item ID) or the matter (--matter ID)")
    result = add_statement(
        _engine(ctx),
        StatementInput(
            person=person,
            stance=stance,
            quote=quote,
            source_url=source_url,
            jurisdiction=jurisdiction,
            item_id=item_id,
            matter=matter,
            date=parse_date(when),
            added_by=by,
            paraphrase=paraphrase,
        ),
    )
    if result.added:
        click.echo(f"added statement {result.statement_id} ({result.person}, {stance})")
    else:
        click.echo(f"already stored as statement {result.statement_id}; nothing added")
    if result.person_needs_review:
        click.echo(f"note: {result.person!r} fits no one on the roster; kept for review", err=True)


@statement.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--jurisdiction", help="For lines that do not name one (slug).")
@click.option("--by", "by", default="import", show_default=True, help="Who is adding them.")
@click.pass_context
def statement_import(ctx: click.Context, path: Path, jurisdiction: str | None, by: str) -> None:
    """Import statements from CSV (header row) or JSON Lines.

    Fields: person, stance, quote, source_url, and the item (item: database id, or
    meeting_date + item_number with jurisdiction) or matter (id or file number); optional
    date, jurisdiction, added_by, paraphrase.
    """
    result = import_statements(_engine(ctx), path, by=by, jurisdiction=jurisdiction)
    click.echo(f"added {result.added}, already stored {result.duplicates}")
    for name in sorted(set(result.review)):
        click.echo(f"note: {name!r} fits no one on the roster; kept for review", err=True)
    for error in result.errors:
        click.echo(f"ice-tracker: error: {error}", err=True)
    if result.errors:
        sys.exit(1)


@statement.command("edit")
@click.argument("statement_id", type=int)
@click.option("--stance", type=click.Choice(STANCES))
@click.option("--quote")
@click.option("--source-url")
@click.option("--date", "when")
@click.option("--paraphrase/--quoted", default=None, help="Mark the text a paraphrase or a quote.")
@click.option("--by", "by", required=True, help="Who is editing (kept in the edit log).")
@click.pass_context
def statement_edit(
    ctx: click.Context,
    statement_id: int,
    stance: str | None,
    quote: str | None,
    source_url: str | None,
    when: str | None,
    paraphrase: bool | None,
    by: str,
) -> None:
    """Change a statement; every change is logged (who, when, field, old, new)."""
    given = {
        "stance": stance,
        "quote": quote,
        "source_url": source_url,
        "date": when,
        "paraphrase": paraphrase,
    }
    changes = {k: v for k, v in given.items() if v is not None and k in EDITABLE}
    if not changes:
        raise StatementError("nothing to change: give --stance, --quote, --source-url, --date")
    changed = edit_statement(_engine(ctx), statement_id, changes, by=by)
    click.echo(
        f"statement {statement_id}: changed {', '.join(changed)}" if changed else "no change"
    )


@statement.command("confirm")
@click.argument("statement_ids", type=int, nargs=-1, required=True)
@click.option("--by", "by", required=True, help="Who checked the suggestion against its source.")
@click.pass_context
def statement_confirm(ctx: click.Context, statement_ids: tuple[int, ...], by: str) -> None:
    """Confirm suggested statements: only then are they shown, counted and exported."""
    engine = _engine(ctx)
    for sid in statement_ids:
        done = confirm_statement(engine, sid, by=by)
        click.echo(f"statement {sid}: {'confirmed' if done else 'was already confirmed'}")


@statement.command("list")
@click.option("--jurisdiction", help="Only this jurisdiction (slug).")
@click.option("--unconfirmed", is_flag=True, help="The suggestions waiting for confirmation.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def statement_list(
    ctx: click.Context, jurisdiction: str | None, unconfirmed: bool, as_json: bool
) -> None:
    """List statements (confirmed ones, or with --unconfirmed the suggestions)."""
    rows = statements(_engine(ctx), jurisdiction=jurisdiction, confirmed=not unconfirmed)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(
            f"{row.id:>5} {row.person} ({row.jurisdiction}) {row.stance}: “{_short(row.quote, 80)}”"
        )
        click.echo(f"      {row.date or ''} {row.source_url}")


@statement.command("log")
@click.argument("statement_id", type=int)
@click.pass_context
def statement_log(ctx: click.Context, statement_id: int) -> None:
    """Every edit of a statement: when, who, field, old and new value."""
    for edit in statement_edits(_engine(ctx), statement_id):
        click.echo(
            f"{edit.edited_at:%Y-%m-%d %H:%M} UTC {edit.edited_by}: {edit.field} "
            f"{edit.old_value!r} -> {edit.new_value!r}"
        )


def _roster(engine: Engine, jurisdiction: str | None) -> list[str]:
    if not jurisdiction:
        return []
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT p.name FROM person p JOIN jurisdiction j ON j.id = p.jurisdiction_id "
                "WHERE j.slug = :slug AND NOT p.needs_review"
            ),
            {"slug": jurisdiction},
        )
        return [r[0] for r in rows]


def _item_title(engine: Engine, item_id: int | None, matter: str | None) -> str | None:
    with engine.connect() as conn:
        if item_id is not None:
            row = conn.execute(
                sa.text("SELECT title FROM agenda_item WHERE id = :id"), {"id": item_id}
            ).first()
            return row[0] if row else None
        if matter is not None:
            row = conn.execute(
                sa.text("SELECT title FROM matter WHERE id = :id OR file_number = :ref"),
                {"id": int(matter) if matter.isdigit() else -1, "ref": matter},
            ).first()
            return row[0] if row else None
    return None


@statement.command("suggest")
@click.option("--text", help="The passage (minutes or news).")
@click.option(
    "--input", "input_path", type=click.Path(path_type=Path, dir_okay=False), help="A text file."
)
@click.option("--topic", help="What the stances are about (default: the item's title).")
@click.option("--item", "item_id", type=int, help="Store suggestions on this agenda item.")
@click.option("--matter", help="Store suggestions on this matter (id or file number).")
@click.option("--source-url", help="Where the passage was published (needed to store).")
@click.option("--jurisdiction", help="Look for this jurisdiction's members by name too.")
@click.option("--confirm", "confirm", is_flag=True, help="Ask about each suggestion; store yes.")
@click.option("--by", "by", default="cli", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def statement_suggest(
    ctx: click.Context,
    text: str | None,
    input_path: Path | None,
    topic: str | None,
    item_id: int | None,
    matter: str | None,
    source_url: str | None,
    jurisdiction: str | None,
    confirm: bool,
    by: str,
    as_json: bool,
) -> None:
    """Suggest (person, stance, quote) from a passage, for a person to confirm.

    Without --item/--matter and --source-url the suggestions are only printed. With them,
    they are stored unconfirmed (confirm later with `statement confirm ID --by WHO`), or,
    with --confirm, you are asked about each one and those you accept are stored confirmed.
    Nothing unconfirmed is shown in histories, counted or exported.
    """
    from tracker.suggest import suggest

    if (text is None) == (input_path is None):
        raise ConfigError("give the passage with --text or --input FILE")
    if input_path is not None:
        try:
            text = input_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read {input_path}: {exc.strerror}") from None
    assert text is not None
    store = item_id is not None or matter is not None
    if store and not source_url:
        raise StatementError("storing suggestions needs --source-url (where the passage is)")
    engine = _engine(ctx) if (store or jurisdiction) else None
    if engine is not None and topic is None:
        topic = _item_title(engine, item_id, matter)
    roster = _roster(engine, jurisdiction) if engine is not None else []
    found = suggest(text, topic=topic, roster=roster)
    if as_json and not store:
        click.echo(json.dumps([s.as_dict() for s in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("no stances found in the passage", err=True)
        return
    for n, s in enumerate(found, 1):
        click.echo(f"{n}. {s.person}: {s.stance} ({s.rule}) “{_short(s.quote, 100)}”")
        if not store:
            continue
        accepted = click.confirm("   confirm?", default=False) if confirm else False
        if confirm and not accepted:
            continue
        assert engine is not None and source_url is not None
        result = add_statement(
            engine,
            StatementInput(
                person=s.person,
                stance=s.stance,
                quote=s.quote,
                source_url=source_url,
                jurisdiction=jurisdiction,
                item_id=item_id,
                matter=matter,
                added_by=by,
                confirmed=accepted,
                origin="suggested",
            ),
        )
        state = "confirmed" if accepted else "stored unconfirmed"
        if not result.added:
            state = "already stored"
        click.echo(f"   statement {result.statement_id}: {state}")


# --- person and matter -------------------------------------------------------------------


def _vote_line(vote: HistoryVote) -> str:
    if vote.procedural:
        scored = "procedural, not scored"
    elif vote.effect:
        scored = f"{vote.effect} cooperation"
    else:
        scored = "not scored"
    divided = ", divided vote" if vote.divided else ""
    return (
        f"  voted {vote.value or vote.raw_value} on “{_short(vote.motion or vote.action, 70)}” "
        f"- {vote.result or 'result unknown'} ({scored}{divided})"
    )


def _statement_line(s: StatementView) -> list[str]:
    kind = "reported" if s.paraphrase else "said"
    return [
        f"  {kind} ({s.stance}, {s.date or 'undated'}): “{_short(s.quote, 90)}”",
        f"    {s.source_url}",
    ]


def _print_person(history: PersonHistory) -> None:
    c = history.counts
    who = history.person
    click.echo(f"{who.name} ({who.jurisdiction})" + (" - needs review" if who.needs_review else ""))
    click.echo(
        f"ICE votes: {c['ice_votes']} ({c['merits']} on the merits, {c['procedural']} "
        f"procedural); expanded cooperation {c['expanded']}, limited {c['limited']}; "
        f"absent {c['absences']}, abstained {c['abstentions']}"
    )
    said = ", ".join(f"{c['said_' + s]} {s}" for s in STANCES if c["said_" + s])
    click.echo(f"Statements: {said or 'none'}")
    by_item: dict[int, list[StatementView]] = defaultdict(list)
    for s in history.statements:
        by_item[s.agenda_item_id or 0].append(s)
    shown: set[int] = set()
    for vote in history.votes:
        if vote.agenda_item_id not in shown:
            click.echo("")
            click.echo(
                f"{(vote.meeting_start or '')[:10]} {vote.body or ''}, "
                f"item {vote.item_number or '?'}: {_short(vote.title, 90)} "
                f"({vote.direction or 'no direction'})"
            )
        click.echo(_vote_line(vote))
        click.echo(
            f"    {vote.source_url or ''}"
            + (f" (sha256 {vote.document_sha256})" if vote.document_sha256 else "")
        )
        if vote.agenda_item_id not in shown:
            for s in by_item.pop(vote.agenda_item_id, []):
                for line in _statement_line(s):
                    click.echo(line)
        shown.add(vote.agenda_item_id)
    rest = [s for group in by_item.values() for s in group]
    if rest:
        click.echo("")
        click.echo("Statements on items without a vote of theirs:")
        for s in rest:
            click.echo(f"  {s.matter_file or ''} {_short(s.item_title, 90)}")
            for line in _statement_line(s):
                click.echo(line)
    click.echo("")
    if history.changes:
        click.echo("Position changed:")
        for change in history.changes:
            click.echo(f"  {_short(change.subject, 60)}: {change.before} -> {change.after}")
    else:
        click.echo("Position changed: no")


def _history_json(history: PersonHistory) -> dict[str, Any]:
    return {
        "person": history.person.name,
        "jurisdiction": history.person.jurisdiction,
        "counts": history.counts,
        "votes": [v.as_dict() for v in history.votes],
        "statements": [s.as_dict() for s in history.statements],
        "position_changes": [c.__dict__ for c in history.changes],
    }


@click.command("person")
@click.argument("name")
@click.option("--jurisdiction", help="Only this jurisdiction (slug).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def person(ctx: click.Context, name: str, jurisdiction: str | None, as_json: bool) -> None:
    """A member's votes and statements on ICE items, with citations."""
    history = person_history(_engine(ctx), name, jurisdiction)
    if as_json:
        click.echo(json.dumps(_history_json(history), indent=2, ensure_ascii=False))
    else:
        _print_person(history)


def _print_matter(history: MatterHistory) -> None:
    m = history.matter
    click.echo(f"{m.file_number or m.platform_id} ({history.jurisdiction}): {_short(m.title, 100)}")
    click.echo(
        f"status: {m.status or 'unknown'}; "
        + (f"ICE-related, {m.category}, {m.direction}" if m.relevant else "not ICE-related")
    )
    for step in history.steps:
        click.echo("")
        click.echo(
            f"{(step.meeting_start or '')[:10]} {step.body or ''}"
            f"{' (' + step.body_kind + ')' if step.body_kind else ''}, item "
            f"{step.item_number or '?'}: {step.action or 'no action recorded'}"
            f"{' - ' + step.result if step.result else ''}"
        )
        for event in step.events:
            kind = "procedural" if event.procedural else "on the merits"
            click.echo(
                f"  vote ({kind}{', divided' if event.divided else ''}): "
                f"“{_short(event.motion or event.action, 70)}” - {event.result or '?'}"
                f"{' ' + event.tally if event.tally else ''}"
            )
            values: dict[str, list[str]] = defaultdict(list)
            for v in event.votes:
                values[v.value or v.raw_value].append(v.person)
            for value, names in values.items():
                click.echo(f"    {value}: {', '.join(names)}")
            click.echo(
                f"    {event.source_url or ''}"
                + (f" (sha256 {event.document_sha256})" if event.document_sha256 else "")
            )
    if history.statements:
        click.echo("")
        click.echo("Statements:")
        for s in history.statements:
            click.echo(f"  {s.person}:")
            for line in _statement_line(s):
                click.echo("  " + line)


@click.command("matter")
@click.argument("ref")
@click.option("--jurisdiction", help="Only this jurisdiction (slug).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def matter(ctx: click.Context, ref: str, jurisdiction: str | None, as_json: bool) -> None:
    """A matter's history across bodies, with every member's vote (file number or id)."""
    history = matter_history(_engine(ctx), ref, jurisdiction)
    if not as_json:
        _print_matter(history)
        return
    out = {
        "matter": history.matter.file_number,
        "title": history.matter.title,
        "jurisdiction": history.jurisdiction,
        "steps": [
            {**step.__dict__, "events": [e.__dict__ for e in step.events]} for step in history.steps
        ],
        "statements": [s.as_dict() for s in history.statements],
    }
    click.echo(json.dumps(out, indent=2, ensure_ascii=False, default=lambda o: o.__dict__))


# --- explore -----------------------------------------------------------------------------

CANNED_QUERIES: dict[str, dict[str, str]] = {
    "member_ice_votes": {
        "title": "A member's votes on ICE items",
        "description": "Every vote of members whose name contains :person on ICE-related items.",
        "sql": """
select j.slug as jurisdiction, p.name as person, m.start as meeting_start_utc,
       b.name as body, i.number as item, i.title, i.category, i.direction,
       e.motion, coalesce(e.action, i.action) as action, e.result, v.value, v.raw_value,
       e.source_url
from vote v
join vote_event e on e.id = v.vote_event_id
join agenda_item i on i.id = e.agenda_item_id
join meeting m on m.id = i.meeting_id
join jurisdiction j on j.id = m.jurisdiction_id
join person p on p.id = v.person_id
left join body b on b.id = m.body_id
where i.relevant = 1 and i.removed_at is null
  and lower(p.name) like '%' || lower(:person) || '%'
order by m.start, i.sequence, e.id
""".strip(),
    },
    "divided_votes": {
        "title": "Divided votes on ICE items",
        "description": "Votes on ICE-related items where members present did not all vote alike.",
        "sql": """
select j.slug as jurisdiction, m.start as meeting_start_utc, b.name as body,
       i.number as item, i.title, i.direction, e.motion, e.result,
       sum(v.value = 'yes') as yes, sum(v.value = 'no') as no,
       sum(v.value = 'abstain') as abstain, e.source_url
from vote_event e
join agenda_item i on i.id = e.agenda_item_id
join meeting m on m.id = i.meeting_id
join jurisdiction j on j.id = m.jurisdiction_id
left join body b on b.id = m.body_id
join vote v on v.vote_event_id = e.id
where i.relevant = 1 and i.removed_at is null
group by e.id
having count(distinct case when v.value in ('yes', 'no', 'abstain') then v.value end) > 1
order by m.start
""".strip(),
    },
    "upcoming_ice_items": {
        "title": "Upcoming meetings with ICE items",
        "description": "ICE-related items on meetings that have not happened yet.",
        "sql": """
select j.slug as jurisdiction, m.start as meeting_start_utc, m.timezone, b.name as body,
       m.location, m.virtual_link, i.number as item, i.title, i.category, i.direction,
       m.agenda_url, m.source_url
from agenda_item i
join meeting m on m.id = i.meeting_id
join jurisdiction j on j.id = m.jurisdiction_id
left join body b on b.id = m.body_id
where i.relevant = 1 and i.removed_at is null and m.removed_at is null
  and m.status != 'cancelled'
  and m.start >= strftime('%Y-%m-%d %H:%M:%S', 'now')
order by m.start, i.sequence
""".strip(),
    },
    "statements": {
        "title": "Statements on ICE items",
        "description": "Confirmed statements, with their source.",
        "sql": """
select j.slug as jurisdiction, p.name as person, s.stance, s.quote, s.paraphrase,
       s.date, s.source_url, i.title as item, mt.file_number as matter
from statement s
join person p on p.id = s.person_id
join jurisdiction j on j.id = p.jurisdiction_id
left join agenda_item i on i.id = s.agenda_item_id
left join matter mt on mt.id = s.matter_id
where s.confirmed = 1
order by s.date
""".strip(),
    },
}


def explore_metadata(database_name: str = "tracker") -> dict[str, Any]:
    """Datasette metadata/config: canned queries; subscriber tables denied; no free SQL.

    Arbitrary SQL is switched off because it could read any table; the canned queries are
    the way in. The copy `explore` serves has the private tables dropped as well.
    """
    return {
        "title": "ICE Council Tracker",
        "description": "Votes, items, meetings and statements on immigration enforcement.",
        "databases": {
            database_name: {
                "allow_sql": False,
                "tables": {name: {"hidden": True, "allow": False} for name in PRIVATE_TABLES},
                "queries": CANNED_QUERIES,
            }
        },
    }


def public_copy(source: Path, target: Path) -> None:
    """A copy of the SQLite database without the subscriber tables."""
    with sqlite3.connect(source) as conn:
        conn.execute("VACUUM INTO ?", (str(target),))
    conn.close()
    with sqlite3.connect(target) as copy:
        copy.execute("PRAGMA foreign_keys = OFF")
        for name in PRIVATE_TABLES:
            copy.execute(f'DROP TABLE IF EXISTS "{name}"')
        copy.commit()
    copy.close()


@click.command("explore")
@click.option("--port", type=int, default=8001, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_context
def explore(ctx: click.Context, port: int, host: str) -> None:
    """Open the database in Datasette, with canned queries (needs the `explore` extra)."""
    if shutil.which("datasette") is None and importlib.util.find_spec("datasette") is None:
        raise ConfigError("explore needs Datasette: pip install 'ice-council-tracker[explore]'")
    url = sa.make_url(settings_of(ctx).resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise ConfigError("explore works on a SQLite database file (Datasette reads SQLite)")
    _engine(ctx).dispose()  # the schema is current before we copy it
    with tempfile.TemporaryDirectory() as tmp:
        served = Path(tmp) / "tracker.db"
        try:
            public_copy(Path(url.database), served)
        except sqlite3.Error as exc:
            raise TrackerError(f"cannot prepare the database for Datasette: {exc}") from None
        meta = Path(tmp) / "metadata.json"
        meta.write_text(json.dumps(explore_metadata(served.stem), indent=2), encoding="utf-8")
        program = shutil.which("datasette")
        launcher = [program] if program else [sys.executable, "-m", "datasette"]
        command = [
            *launcher, "serve", "--immutable", str(served), "--metadata", str(meta),
            "--host", host, "--port", str(port),
        ]  # fmt: skip
        click.echo(f"serving on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
        with contextlib.suppress(KeyboardInterrupt):
            subprocess.run(command, check=False)
