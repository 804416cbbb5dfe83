"""``ice-tracker serve`` and ``ice-tracker build-site``: the public web site, live or static.

Registered on the ``ice-tracker`` group at the end of tracker/cli.py.
"""

from __future__ import annotations

import gc
from pathlib import Path

import click

from tracker.cli_options import registry_option, settings_of
from tracker.registry import load_registry


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--proxy-headers/--no-proxy-headers",
    default=False,
    help="Trust X-Forwarded-For from --forwarded-allow-ips (behind a reverse proxy), so that "
    "rate limits count visitors, not the proxy.",
)
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    help="Proxies whose X-Forwarded-For is trusted.",
)
@registry_option
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    proxy_headers: bool,
    forwarded_allow_ips: str,
    registry_files: tuple[Path, ...],
) -> None:
    """Serve the public web site: pages, calendars, feeds, the JSON API and sign-up."""
    import uvicorn

    from tracker.web import create_app, install_log_filter

    settings = settings_of(ctx)
    app = create_app(settings, registry=load_registry(registry_files))
    install_log_filter()
    # What is loaded by now (the app, the templates, SQLAlchemy, the registry) lives as long
    # as the process: keep it out of the garbage collector's full passes, which otherwise
    # walk it all and stall whichever request triggers them.
    gc.collect()
    gc.freeze()
    click.echo(f"serving on http://{host}:{port}/ (links in e-mails: {settings.public_base_url})")
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        log_level="info",
        server_header=False,
    )


@click.command("build-site")
@click.argument("outdir", type=click.Path(path_type=Path, file_okay=False))
@registry_option
@click.pass_context
def build_site(ctx: click.Context, outdir: Path, registry_files: tuple[Path, ...]) -> None:
    """Write the public pages, calendars and feeds into OUTDIR as static files."""
    from tracker.db import open_database
    from tracker.site import build

    settings = settings_of(ctx)
    engine = open_database(settings.resolved_database_url)
    report = build(engine, load_registry(registry_files), outdir, base_url=settings.public_base_url)
    click.echo(
        f"wrote {report.pages} pages and {report.feeds} calendars and feeds to {outdir} "
        f"in {report.seconds:.1f} s; sign-up and search forms point at {settings.public_base_url}"
    )
