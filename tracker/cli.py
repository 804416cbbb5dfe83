"""The ``ice-tracker`` command.

Every expected failure is a TrackerError: printed as one line on stderr with a non-zero exit.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import click

from tracker import __version__
from tracker.cli_options import registry_option, settings_of
from tracker.exceptions import ConfigError, ExportError, TrackerError
from tracker.registry import load_registry
from tracker.settings import SECRET_SETTINGS, SETTINGS, env_name, load_settings


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrackerError as exc:
            click.echo(f"ice-tracker: error: {exc}", err=True)
            sys.exit(exc.exit_code)


def _date(value: str, name: str) -> datetime:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise ConfigError(f"{name} must be a date like 2024-01-31, got {value!r}") from None
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="ice-tracker")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Data folder (default: ${env_name('data_dir')} or the user data folder).",
)
@click.option(
    "--database-url",
    default=None,
    help=f"Database URL (default: ${env_name('database_url')} or SQLite in the data folder).",
)
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, database_url: str | None) -> None:
    """Track council and commission votes on immigration enforcement."""
    try:
        ctx.obj = load_settings(
            {"data_dir": str(data_dir) if data_dir else None, "database_url": database_url}
        )
    except TrackerError as exc:
        click.echo(f"ice-tracker: error: {exc}", err=True)
        sys.exit(exc.exit_code)


@main.command()
@click.argument("jurisdictions", nargs=-1)
@click.option("--all", "crawl_all", is_flag=True, help="Crawl every jurisdiction in the registry.")
@registry_option
@click.option(
    "--replay",
    "replay",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Serve this WARC archive on 127.0.0.1 and crawl it as if it were the live "
    "site; repeatable.",
)
@click.option("--full", is_flag=True, help="A full sweep of the meeting window, not incremental.")
@click.option("--from", "date_from", help="Full sweep from this date (YYYY-MM-DD).")
@click.option("--to", "date_to", help="Full sweep up to this date (YYYY-MM-DD, exclusive).")
@click.option(
    "--archive",
    type=click.Path(path_type=Path),
    help="Write every fetched response to this WARC file.",
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0, 1),
    default=None,
    help="Testing: with --replay, answer this fraction of requests with faults.",
)
@click.option("--fault-seed", type=int, default=0, help="Testing: which faults, repeatably.")
@click.option(
    "--fault-kinds",
    help="Testing: only these faults, comma-separated (see tracker/faults.py).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Report progress on stderr (default: when it is a terminal).",
)
@click.pass_context
def crawl(
    ctx: click.Context,
    jurisdictions: tuple[str, ...],
    crawl_all: bool,
    registry_files: tuple[Path, ...],
    replay: tuple[Path, ...],
    full: bool,
    date_from: str | None,
    date_to: str | None,
    archive: Path | None,
    fault_rate: float | None,
    fault_seed: int,
    fault_kinds: str | None,
    progress: bool | None,
) -> None:
    """Crawl the named jurisdictions into the database."""
    from tracker.crawl import CrawlOptions, run_crawls
    from tracker.relevance import RelevanceStage

    registry = load_registry(registry_files)
    if crawl_all:
        entries = list(registry)
    elif jurisdictions:
        entries = [registry.get(slug) for slug in jurisdictions]
    else:
        raise ConfigError("name at least one jurisdiction, or use --all")
    window = None
    if date_from or date_to:
        if not (date_from and date_to):
            raise ConfigError("--from and --to go together")
        window = (_date(date_from, "--from"), _date(date_to, "--to"))
        if window[0] >= window[1]:
            raise ConfigError("--from must be before --to")
    faults = None
    if fault_rate is not None:
        if not replay:
            raise ConfigError("--fault-rate injects faults into a replay: give --replay too")
        from tracker.faults import FAULT_KINDS, FaultPlan

        kinds = tuple(k.strip() for k in fault_kinds.split(",")) if fault_kinds else FAULT_KINDS
        try:
            faults = FaultPlan(rate=fault_rate, seed=fault_seed, kinds=kinds)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    options = CrawlOptions(
        full=full,
        window=window,
        replay=replay,
        archive=archive,
        progress=progress,
        faults=faults,
    )
    summaries = run_crawls(entries, settings_of(ctx), options, classifier=RelevanceStage())
    failed = False
    for s in summaries:
        click.echo(
            f"{s.slug}: {s.status} ({s.mode}) - {s.requests} requests, {s.items} items, "
            f"{s.errors} problems" + (f" - {s.message}" if s.message else "")
        )
        failed = failed or s.status == "failed"
    if failed:
        sys.exit(1)


@main.command("settings")
@click.pass_context
def showsettings_of(ctx: click.Context) -> None:
    """List every setting: environment variable, current value and meaning."""
    settings = settings_of(ctx)
    for field in SETTINGS:
        value = getattr(settings, field.name)
        if field.name in SECRET_SETTINGS and value:
            value = "(set, not shown)"
        click.echo(f"{env_name(field.name)}={value!s}\n    {field.metadata['help']}")


@main.command()
@click.argument("what", type=click.Choice(["votes", "items", "meetings", "stances"]))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "jsonl", "ocd"]),
    default="csv",
    show_default=True,
    help="ocd: Open Civic Data VoteEvent JSON (votes only).",
)
@click.option("--jurisdiction", help="Only this jurisdiction (slug).")
@click.option("--person", help="Only members whose name contains this (votes and stances only).")
@click.option("--relevant", is_flag=True, help="Only items about immigration enforcement.")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file (default: standard output).",
)
@click.pass_context
def export(
    ctx: click.Context,
    what: str,
    fmt: str,
    jurisdiction: str | None,
    person: str | None,
    relevant: bool,
    output: Path | None,
) -> None:
    """Export votes, agenda items, meetings or statements as CSV, JSON or JSON Lines.

    Every row carries its source URL and, where the document is archived, its sha256.
    Votes also come as Open Civic Data VoteEvents (--format ocd); stances are the confirmed
    statements, each beside the member's vote on the same item.
    """
    from tracker.db import open_database
    from tracker.exports import write_rows
    from tracker.stances import (
        CitedItemRow,
        CitedMeetingRow,
        CitedVoteRow,
        StanceRow,
        cited_item_rows,
        cited_meeting_rows,
        cited_vote_rows,
        ocd_vote_events,
        stance_rows,
        write_ocd,
    )

    if person and what not in ("votes", "stances"):
        raise ConfigError("--person applies to votes and stances only")
    if fmt == "ocd" and what != "votes":
        raise ConfigError("--format ocd applies to votes only")
    engine = open_database(settings_of(ctx).resolved_database_url)
    if what == "votes":
        rows: Any = cited_vote_rows(
            engine, jurisdiction=jurisdiction, person=person, relevant=relevant
        )
        row_type: type = CitedVoteRow
    elif what == "items":
        rows = cited_item_rows(engine, jurisdiction=jurisdiction, relevant=relevant)
        row_type = CitedItemRow
    elif what == "meetings":
        rows = cited_meeting_rows(engine, jurisdiction=jurisdiction, relevant=relevant)
        row_type = CitedMeetingRow
    else:
        rows, row_type = stance_rows(engine, jurisdiction=jurisdiction, person=person), StanceRow

    def write(out: Any) -> int:
        if fmt == "ocd":
            events = ocd_vote_events(
                engine, jurisdiction=jurisdiction, person=person, relevant=relevant
            )
            return write_ocd(events, out)
        return write_rows(rows, row_type, fmt, out)

    if output is None:
        write(sys.stdout)
        return
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            count = write(out)
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ExportError(f"cannot write {output}: {exc.strerror}") from None
    noun = "vote events" if fmt == "ocd" else what
    click.echo(f"wrote {count} {noun} to {output}", err=True)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Per jurisdiction: the last crawl, its health (last success, last failure and why,
    failures in a row, a spider that stopped finding anything), the next scheduled run, and
    what is stored."""
    import json

    from tracker.db import display_url, open_database
    from tracker.health import health_lines, jurisdiction_health
    from tracker.history import jurisdiction_status

    settings = settings_of(ctx)
    engine = open_database(settings.resolved_database_url)
    rows = jurisdiction_status(engine)
    health = jurisdiction_health(
        engine, min_items=settings.broken_min_items, slugs=[row.slug for row in rows]
    )
    if as_json:
        out = []
        for row in rows:
            run = row.last_run
            out.append(
                {
                    "jurisdiction": row.slug,
                    "meetings": row.meetings,
                    "items": row.items,
                    "relevant_items": row.relevant_items,
                    "votes": row.votes,
                    "last_crawl": None
                    if run is None
                    else {
                        "started_at": run.started_at.isoformat(),
                        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                        "status": run.status,
                        "mode": run.mode,
                        "requests": run.requests,
                        "items": run.items,
                        "errors": run.errors,
                        "problems": run.problems,
                        "message": run.message,
                    },
                    "health": health[row.slug].as_dict(),
                }
            )
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"database: {display_url(settings.resolved_database_url)}")
    if not rows:
        click.echo("nothing crawled yet: try `ice-tracker crawl SLUG` or `ice-tracker demo`")
        return
    header = (
        f"{'jurisdiction':<22} {'last crawl (UTC)':<17} {'status':<8} {'mode':<11} "
        f"{'requests':>8} {'items':>6} {'errors':>6}   stored"
    )
    click.echo(header)
    for row in rows:
        run = row.last_run
        when = run.started_at.strftime("%Y-%m-%d %H:%M") if run else "never"
        click.echo(
            f"{row.slug:<22} {when:<17} {(run.status if run else '-'):<8} "
            f"{(run.mode if run else '-'):<11} {(run.requests if run else 0):>8} "
            f"{(run.items if run else 0):>6} {(run.errors if run else 0):>6}   "
            f"{row.meetings} meetings, {row.items} items ({row.relevant_items} ICE), "
            f"{row.votes} votes"
        )
        if run is not None and run.message:
            click.echo(f"{'':<22} {run.message}")
        for line in health_lines(health[row.slug]):
            click.echo(f"{'':<22} {line}")


@main.command()
@click.option(
    "--outdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("demo-output"),
    show_default=True,
    help="Folder for the demo's database and outputs.",
)
def demo(outdir: Path) -> None:
    """Run the whole main job offline on the bundled recorded council data."""
    from tracker.demo import run_demo

    result = run_demo(outdir, say=lambda line: click.echo(line, err=True))
    for run in result.runs:
        click.echo(
            f"{run.slug}: crawl {run.status} - {run.requests} requests, "
            f"{run.items} items, {run.errors} problems"
        )
    click.echo(
        f"stored {result.meetings} meetings, {result.items} agenda items, {result.votes} votes"
    )
    click.echo(f"ICE-related items: {len(result.relevant_items)}")
    for item in result.relevant_items:
        click.echo(f"  - {item.jurisdiction} {item.meeting_start or ''}: {item.title[:100]}")
        click.echo(f"    {item.category}, {item.direction}; why: {item.why}")
    for body in result.bodies:
        members = ", ".join(f"{name} ({role})" if role else name for name, role in body.members)
        click.echo(f"{body.jurisdiction} {body.body}: {members}")
    click.echo(f"outputs in {result.outdir}:")
    for path in result.files:
        click.echo(f"  {path.name}")


@main.command("search")
@click.argument("query")
@click.option("--jurisdiction", help="Only this jurisdiction (slug).")
@click.option("--since", help="Only documents retrieved on or after this date (YYYY-MM-DD).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def search_command(
    ctx: click.Context,
    query: str,
    jurisdiction: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Search the text of agendas, minutes and attachments; answers with document and page."""
    import json

    from tracker.db import open_database
    from tracker.search import MARK_END, MARK_START, search

    engine = open_database(settings_of(ctx).resolved_database_url)
    hits = search(
        engine,
        query,
        jurisdiction=jurisdiction,
        since=_date(since, "--since") if since else None,
        limit=limit,
    )
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "document_id": h.document_id,
                        "version": h.version,
                        "jurisdiction": h.jurisdiction,
                        "url": h.url,
                        "name": h.name,
                        "kind": h.kind,
                        "page": h.page,
                        "snippet": h.snippet.replace(MARK_START, "").replace(MARK_END, ""),
                        "retrieved_at": h.retrieved_at.isoformat() if h.retrieved_at else None,
                    }
                    for h in hits
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    if not hits:
        click.echo(f"no document text matches {query!r}", err=True)
        return
    bold = sys.stdout.isatty()
    for hit in hits:
        snippet = hit.snippet.replace(MARK_START, "\033[1m" if bold else "[").replace(
            MARK_END, "\033[0m" if bold else "]"
        )
        click.echo(
            f"{hit.jurisdiction} · document {hit.document_id} ({hit.kind}"
            f"{': ' + hit.name if hit.name else ''}) · page {hit.page}"
        )
        click.echo(f"  {snippet}")
        click.echo(f"  {hit.url}")


@main.group()
def document() -> None:
    """Archived documents: every version, its text and its original bytes."""


@document.command("show")
@click.argument("document_id", type=int)
@click.option("--version", "number", type=int, help="This version (default: the newest).")
@click.option("--text", "show_text", is_flag=True, help="Print the text, page by page.")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the version's original bytes to this file.",
)
@click.pass_context
def document_show(
    ctx: click.Context, document_id: int, number: int | None, show_text: bool, output: Path | None
) -> None:
    """Show a document, its versions, and one version's text or original bytes."""
    from tracker.db import open_database
    from tracker.documents import BlobStore
    from tracker.exceptions import DocumentNotFound
    from tracker.library import load_document

    settings = settings_of(ctx)
    engine = open_database(settings.resolved_database_url)
    doc, versions, chosen, pages = load_document(engine, document_id, number)
    click.echo(f"document {doc.id}: {doc.name or '(no name)'} ({doc.kind})")
    click.echo(f"  {doc.url}")
    if doc.error:
        click.echo(f"  last fetch failed: {doc.error}")
    for v in versions:
        mark = "*" if chosen is not None and v.number == chosen.number else " "
        problems = "; ".join(
            filter(None, [v.error, v.warning, "needs OCR" if v.needs_ocr else None])
        )
        click.echo(
            f" {mark}version {v.number}: {v.retrieved_at:%Y-%m-%d %H:%M} UTC, "
            f"{v.content_type}, {v.bytes} bytes, {v.pages} pages, sha256 {v.sha256}"
            + (f" - {problems}" if problems else "")
        )
    if chosen is None:
        return
    if show_text:
        for page_number, text in pages:
            click.echo(f"--- page {page_number} ---")
            click.echo(text)
    if output is not None:
        body = BlobStore(settings.resolved_blob_dir).get(chosen.sha256)
        if body is None:
            raise DocumentNotFound(
                f"the bytes of version {chosen.number} are not in {settings.resolved_blob_dir}"
                + (f"; its WARC record is {chosen.warc_record}" if chosen.warc_record else "")
            )
        try:
            output.write_bytes(body)
        except OSError as exc:
            raise ExportError(f"cannot write {output}: {exc.strerror}") from None
        click.echo(f"wrote version {chosen.number} ({len(body)} bytes) to {output}", err=True)


def _jsonl_input(path: Path | None) -> Any:
    if path is None:
        return sys.stdin
    try:
        return path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


@main.command()
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON Lines file (default: standard input).",
)
@click.option(
    "--topic",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A topic file of your own (default: the bundled ICE topic).",
)
def classify(input_path: Path | None, topic: Path | None) -> None:
    """Classify texts: JSON Lines {"id", "text"} in, one result line out per input line."""
    from tracker.classify import Classifier, Topic, classify_stream

    classifier = Classifier(Topic.load(topic)) if topic else None
    with _jsonl_input(input_path) as lines:
        errors = classify_stream(lines, sys.stdout, classifier)
    if errors:
        click.echo(f"ice-tracker: error: {errors} input line(s) could not be read", err=True)
        sys.exit(1)


@main.command("parse-rollcall")
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON Lines file (default: standard input).",
)
def parse_rollcall_command(input_path: Path | None) -> None:
    """Votes from minutes text: JSON Lines {"id", "text", "roster"?} in, one line out each."""
    from tracker.rollcall import parse_rollcall_stream

    with _jsonl_input(input_path) as lines:
        errors = parse_rollcall_stream(lines, sys.stdout)
    if errors:
        click.echo(f"ice-tracker: error: {errors} input line(s) could not be read", err=True)
        sys.exit(1)


# Commands defined in other modules register here, one line each:
# main.add_command(module.command)
from tracker import digest_cli  # noqa: E402 - e-mail commands (issue #7)

main.add_command(digest_cli.subscribe)
main.add_command(digest_cli.subscribers)
main.add_command(digest_cli.unsubscribe)
main.add_command(digest_cli.digest)

from tracker import jurisdictions_cli  # noqa: E402 - list, check and add (issue #9)

main.add_command(jurisdictions_cli.jurisdictions)
from tracker import stances_cli  # noqa: E402 - statements, histories, explore (issue #6)

main.add_command(stances_cli.statement)
main.add_command(stances_cli.person)
main.add_command(stances_cli.matter)
main.add_command(stances_cli.explore)
from tracker import service_cli  # noqa: E402 - the service (issue #8)

main.add_command(service_cli.run)
from tracker import web_cli  # noqa: E402 - the public web site (issue #10)

main.add_command(web_cli.serve)
main.add_command(web_cli.build_site)
