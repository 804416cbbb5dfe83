"""The e-mail commands: subscribe, subscribers (list, confirm), unsubscribe, digest.

Registered on the ``ice-tracker`` group at the end of tracker/cli.py. Addresses appear in full
only in the operator's own ``subscribers list``; every other message masks them.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy.engine import Engine

from tracker.cli_options import registry_option, settings_of
from tracker.exceptions import ConfigError
from tracker.registry import load_registry
from tracker.settings import Settings
from tracker.subscribers import FREQUENCIES, LANGUAGES, mask_email


def _engine(settings: Settings) -> Engine:
    from tracker.db import open_database

    return open_database(settings.resolved_database_url)


@click.command()
@click.argument("email")
@click.option("--jurisdiction", "jurisdictions", multiple=True, help="Follow this place (slug).")
@click.option("--body", "bodies", multiple=True, help="Only this council or committee (name).")
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="Only ICE items of this category; immigration_non_enforcement adds that topic.",
)
@click.option("--keyword", "keywords", multiple=True, help="Also any item that mentions this.")
@click.option("--person", "people", multiple=True, help="Only votes and statements of this member.")
@click.option("--frequency", type=click.Choice(FREQUENCIES), default="weekly", show_default=True)
@click.option("--language", type=click.Choice(LANGUAGES), default="en", show_default=True)
@click.option("--show-link", is_flag=True, help="Also print the confirmation link here.")
@registry_option
@click.pass_context
def subscribe(
    ctx: click.Context,
    email: str,
    jurisdictions: tuple[str, ...],
    bodies: tuple[str, ...],
    categories: tuple[str, ...],
    keywords: tuple[str, ...],
    people: tuple[str, ...],
    frequency: str,
    language: str,
    show_link: bool,
    registry_files: tuple[Path, ...],
) -> None:
    """Sign EMAIL up (or change what it follows); a new address gets a confirmation e-mail."""
    from tracker.digest import renderer
    from tracker.mailer import compose, domain_of, send_now
    from tracker.subscribers import subscribe as record
    from tracker.subscribers import utcnow, validate_filters
    from tracker.tokens import Tokens

    settings = settings_of(ctx)
    filters = validate_filters(
        load_registry(registry_files),
        jurisdictions=jurisdictions,
        bodies=bodies,
        categories=categories,
        keywords=keywords,
        people=people,
        frequency=frequency,
        language=language,
    )
    result = record(_engine(settings), email, filters)
    masked = mask_email(result.email)
    if not result.needs_confirmation:
        click.echo(f"updated what {masked} follows (already confirmed)")
        return
    tokens = Tokens.from_settings(settings)
    token = tokens.confirm(result.subscriber_id, result.email)
    url = f"{settings.public_base_url.rstrip('/')}/confirm/{token}"
    r = renderer(language, settings.public_base_url)
    subject, text, html = r.confirmation_parts(url, filters, confirm_hours=settings.confirm_hours)
    message_id = f"<confirm.{token[-24:]}@{domain_of(settings.mail_from)}>"
    message = compose(
        sender=settings.mail_from,
        recipient=result.email,
        subject=subject,
        message_id=message_id,
        date=utcnow(),
        language=language,
        text=text,
        html=html,
    )
    send_now(settings, result.email, message, message_id)
    click.echo(f"confirmation sent to {masked}; the subscription starts when it is confirmed")
    if show_link:
        click.echo(f"confirm: {url}")
        click.echo(f"or: ice-tracker subscribers confirm {token}")


@click.group()
def subscribers() -> None:
    """List subscribers; confirm a sign-up."""


@subscribers.command("list")
@click.option(
    "--status", type=click.Choice(["pending", "active", "unsubscribed", "bounced"]), default=None
)
@click.option("--mask", is_flag=True, help="Hide the addresses (for sharing the output).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_command(ctx: click.Context, status: str | None, mask: bool, as_json: bool) -> None:
    """Every subscriber: status, language, frequency, what they follow, digests sent."""
    from tracker.subscribers import list_subscribers

    rows = list_subscribers(_engine(settings_of(ctx)), status=status)
    if as_json:
        out = [
            {
                "id": r.id,
                "email": mask_email(r.email) if mask else r.email,
                "status": r.status,
                "language": r.language,
                "frequency": r.frequency,
                "follows": r.filters,
                "created_at": r.created_at.isoformat(),
                "confirmed_at": r.confirmed_at.isoformat() if r.confirmed_at else None,
                "last_digest_at": r.last_digest_at.isoformat() if r.last_digest_at else None,
                "sent": r.sent,
                "queued": r.queued,
            }
            for r in rows
        ]
        click.echo(json.dumps(out, indent=2))
        return
    if not rows:
        click.echo("no subscribers")
        return
    for r in rows:
        follows = "; ".join(f"{k}: {', '.join(v)}" for k, v in r.filters.items()) or "everything"
        click.echo(
            f"{r.id:>5} {mask_email(r.email) if mask else r.email:<40} {r.status:<12} "
            f"{r.language} {r.frequency or '-':<9} sent {r.sent}, queued {r.queued} - {follows}"
        )


@subscribers.command("confirm")
@click.argument("token")
@click.pass_context
def confirm_command(ctx: click.Context, token: str) -> None:
    """Confirm a sign-up with the TOKEN from its confirmation link."""
    from tracker.subscribers import confirm
    from tracker.tokens import Tokens

    settings = settings_of(ctx)
    token = token.rstrip("/").rsplit("/", 1)[-1]  # the whole link works too
    claims = Tokens.from_settings(settings).check_confirm(token)
    subscriber = confirm(_engine(settings), claims, backfill_days=settings.digest_backfill_days)
    click.echo(f"confirmed {mask_email(subscriber.email)}")


@click.command()
@click.argument("email", required=False)
@click.option("--token", help="The token of an unsubscribe link, instead of EMAIL.")
@click.pass_context
def unsubscribe(ctx: click.Context, email: str | None, token: str | None) -> None:
    """Stop every e-mail to EMAIL at once (anything still queued is cancelled)."""
    from tracker.subscribers import unsubscribe as by_email
    from tracker.subscribers import unsubscribe_by_token
    from tracker.tokens import Tokens

    settings = settings_of(ctx)
    if bool(email) == bool(token):
        raise ConfigError("give EMAIL or --token, not both")
    engine = _engine(settings)
    if token:
        claims = Tokens.from_settings(settings).check_unsubscribe(token.rsplit("/", 1)[-1])
        unsubscribe_by_token(engine, claims)
        click.echo("unsubscribed")
        return
    assert email is not None
    changed = by_email(engine, email)
    click.echo(
        f"unsubscribed {mask_email(email.strip().lower())}"
        if changed
        else f"{mask_email(email.strip().lower())} was already unsubscribed"
    )


@click.command()
@click.option(
    "--frequency",
    type=click.Choice(FREQUENCIES),
    default=None,
    help="Only these subscriptions (default: all). immediate also sends daily and weekly "
    "digests early when a meeting is within urgent_hours.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be queued; change nothing.")
@click.option("--send", is_flag=True, help="Then deliver everything due in the outbox.")
@click.option(
    "--preview",
    type=click.Path(path_type=Path, file_okay=False),
    help="With --dry-run: write each digest as an .eml file here.",
)
@registry_option
@click.pass_context
def digest(
    ctx: click.Context,
    frequency: str | None,
    dry_run: bool,
    send: bool,
    preview: Path | None,
    registry_files: tuple[Path, ...],
) -> None:
    """Build the digests due now from the change log and queue them; --send delivers them."""
    from tracker.digest import queue_digests
    from tracker.mailer import send_queued, transport_from_settings

    settings = settings_of(ctx)
    if dry_run and send:
        raise ConfigError("--dry-run and --send go separately")
    if preview and not dry_run:
        raise ConfigError("--preview goes with --dry-run")
    transport = transport_from_settings(settings) if send else None
    engine = _engine(settings)
    report = queue_digests(
        engine,
        settings,
        frequency=frequency,
        registry=load_registry(registry_files),
        dry_run=dry_run,
    )
    verb = "would queue" if dry_run else "queued"
    click.echo(
        f"{verb} {len(report.digests) if dry_run else report.queued} digest(s); "
        f"{report.empty} with nothing new, {report.not_due} not due yet"
        + (f", {report.conflicts} already queued by another run" if report.conflicts else "")
    )
    for d in report.digests:
        click.echo(
            f"  {d.masked_email} ({d.language}, {d.frequency}{', early' if d.urgent else ''}) "
            f"changes {d.first_change_id}-{d.last_change_id}: {d.subject}"
        )
        if preview and d.message is not None:
            preview.mkdir(parents=True, exist_ok=True)
            (preview / f"digest-{d.subscriber_id}-{d.last_change_id}.eml").write_bytes(d.message)
    if send:
        assert transport is not None
        sent = send_queued(engine, settings, transport=transport)
        click.echo(
            f"sent {sent.sent}; {sent.retry} to retry, {sent.failed} failed, "
            f"{sent.bounced} bounced, {sent.cancelled} cancelled"
        )
        if sent.stopped:
            raise ConfigError(f"sending stopped: {sent.stopped}")
