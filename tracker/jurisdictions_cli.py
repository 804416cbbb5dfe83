"""The ``jurisdictions`` commands: list the registry, check one entry, add one from a URL.

Registered on the ``ice-tracker`` group at the end of tracker/cli.py.

    ice-tracker jurisdictions [--platform P] [--state XX] [--registry FILE]
    ice-tracker jurisdictions check SLUG [--replay ARCHIVE] [--registry FILE]
    ice-tracker jurisdictions add URL [--slug S] [--name N] [--state XX] [--timezone TZ]
                                      [--kind K] [--output FILE]

``check`` prints ``SLUG: ok: ...`` and exits 0 when the entry's listing answers as its
platform should; otherwise it prints the diagnosis on one line (``ice-tracker: error: SLUG:
...``) and exits 1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from tracker.cli_options import registry_option, settings_of
from tracker.exceptions import ConfigError
from tracker.registry import PLATFORM_CONFIGS, Registry, load_registry

_REGISTRY_FILES = "tracker.jurisdictions.registry_files"


def _registry(ctx: click.Context, files: Sequence[Path]) -> Registry:
    return load_registry([*ctx.meta.get(_REGISTRY_FILES, ()), *files])


@click.group("jurisdictions", invoke_without_command=True)
@click.option(
    "--platform",
    help=f"Only this platform ({', '.join(PLATFORM_CONFIGS)}).",
)
@click.option("--state", help="Only this state (two-letter code, e.g. IL).")
@registry_option
@click.pass_context
def jurisdictions(
    ctx: click.Context,
    platform: str | None,
    state: str | None,
    registry_files: tuple[Path, ...],
) -> None:
    """List the jurisdictions in the registry; `check` probes one, `add` writes a new one."""
    ctx.meta[_REGISTRY_FILES] = registry_files
    if ctx.invoked_subcommand is not None:
        return
    if platform is not None and platform not in PLATFORM_CONFIGS:
        raise ConfigError(f"unknown platform {platform!r}: one of {', '.join(PLATFORM_CONFIGS)}")
    if state is not None and not re.fullmatch(r"[A-Za-z]{2}", state):
        raise ConfigError(f"--state takes a two-letter code like IL, got {state!r}")
    registry = _registry(ctx, ())
    for entry in sorted(registry, key=lambda e: (e.state, e.name)):
        if platform and entry.platform != platform:
            continue
        if state and entry.state != state.upper():
            continue
        click.echo(
            f"{entry.slug:<24} {entry.name}, {entry.state} ({entry.kind}) - "
            f"{entry.platform}, {entry.timezone}"
        )


@jurisdictions.command()
@click.argument("slug")
@click.option(
    "--replay",
    "replay",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Answer from this WARC archive, served on 127.0.0.1, as if it were the live site; "
    "repeatable.",
)
@registry_option
@click.option("--verbose", "-v", is_flag=True, help="Also list the requests made (on stderr).")
@click.pass_context
def check(
    ctx: click.Context,
    slug: str,
    replay: tuple[Path, ...],
    registry_files: tuple[Path, ...],
    verbose: bool,
) -> None:
    """Probe one jurisdiction's listing endpoint and say plainly what is wrong, if anything.

    One or two requests (after robots.txt), with the tracker's User-Agent. Exit 0 when the
    listing answers as its platform should, 1 with a one-line reason otherwise.
    """
    from tracker.jurisdictions import CheckFailed, HttpClient, check_entry, replay_reference_time

    settings = settings_of(ctx)
    entry = _registry(ctx, registry_files).get(slug)
    timeout = float(min(settings.download_timeout, 60))
    if replay:
        from tracker.archive import read_responses
        from tracker.replay import ReplayIndex, ReplayServer

        responses = [r for path in replay for r in read_responses(path)]
        if not responses:
            raise ConfigError(f"no responses in {', '.join(map(str, replay))}")
        now = replay_reference_time([r.date for r in responses])
        with ReplayServer(ReplayIndex(responses)) as server:
            http = HttpClient(
                settings.full_user_agent, timeout=timeout, replay_address=server.address
            )
            diagnosis = check_entry(entry, http, now=now, obey_robots=settings.robotstxt_obey)
    else:
        http = HttpClient(settings.full_user_agent, timeout=timeout)
        diagnosis = check_entry(entry, http, obey_robots=settings.robotstxt_obey)
    if verbose:
        for request in diagnosis.requests:
            click.echo(f"  {request}", err=True)
    if not diagnosis.ok:
        raise CheckFailed(diagnosis.line(slug))
    click.echo(diagnosis.line(slug))


@jurisdictions.command()
@click.argument("url")
@click.option("--slug", help="The entry's slug (default: from the name and state).")
@click.option("--name", help="The place's name, e.g. 'McLean County'.")
@click.option("--state", help="Two-letter state code, e.g. IL.")
@click.option(
    "--timezone",
    help="IANA time zone, e.g. America/Chicago (default: the state's, where it has only one).",
)
@click.option(
    "--kind",
    type=click.Choice(["city", "county", "town", "consolidated", "district"]),
    help="What kind of place (default: county when the name says so, else city).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append the entry to this registry file (default: print it).",
)
def add(
    url: str,
    slug: str | None,
    name: str | None,
    state: str | None,
    timezone: str | None,
    kind: str | None,
    output: Path | None,
) -> None:
    """Write a registry entry for the meeting site at URL, for you to review.

    The platform and its endpoint come from the URL (Legistar, PrimeGov, CivicClerk,
    CivicPlus AgendaCenter, Granicus, eSCRIBE, IQM2, NovusAgenda; anything else becomes a
    document listing). What the URL cannot say is asked for with the options.
    """
    from tracker.jurisdictions import (
        STATE_TIMEZONES,
        append_entry,
        detect_platform,
        entry_toml,
        guess_kind,
        slugify,
        valid_slug,
    )

    detected = detect_platform(url)
    if state is not None:
        state = state.strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", state):
            raise ConfigError(f"--state takes a two-letter code like IL, got {state!r}")
    if timezone is None and state is not None:
        timezone = STATE_TIMEZONES.get(state)
    missing = [
        flag
        for flag, value in (("--name", name), ("--state", state), ("--timezone", timezone))
        if not value
    ]
    if missing:
        why = " (the state has more than one time zone)" if missing == ["--timezone"] else ""
        raise ConfigError(
            f"a {detected.platform} entry for {url} also needs {', '.join(missing)}{why}; "
            "the URL cannot tell"
        )
    assert name is not None and state is not None and timezone is not None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"--timezone: unknown IANA time zone {timezone!r} (e.g. America/Chicago)"
        ) from None
    slug = slug or slugify(name, state)
    if not valid_slug(slug):
        raise ConfigError(f"--slug: {slug!r} must be 3-80 lower-case letters, digits and hyphens")
    text = entry_toml(
        detected,
        slug=slug,
        name=name.strip(),
        state=state,
        kind=kind or guess_kind(name),
        timezone=timezone,
        source_url=url,
        registry_path=str(output) if output is not None else None,
    )
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        existing = output.read_text(encoding="utf-8") if output.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {output}: {exc}") from None
    combined = append_entry(existing, text, str(output))  # the whole file must still parse
    try:
        with output.open("a", encoding="utf-8") as stream:
            stream.write(combined[len(existing) :])
    except OSError as exc:
        raise ConfigError(f"cannot write {output}: {exc.strerror}") from None
    click.echo(
        f"added {slug!r} ({detected.platform}) to {output}; review it, then run "
        f"`ice-tracker jurisdictions check {slug} --registry {output}`",
        err=True,
    )
