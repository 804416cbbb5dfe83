"""``ice-tracker run``: the tracker as a service (and ``python schedule.py``).

Registered on the ``ice-tracker`` group at the end of tracker/cli.py. The scheduler, its jobs
and its lock are tracker/service.py's.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click

from tracker.cli_options import registry_option, settings_of
from tracker.registry import load_registry


def _logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("tracker").setLevel(logging.INFO)
    # "Running job ..." every few minutes is noise; its warnings (a job missed, skipped because
    # still running) and errors (a job raised) are not.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT (the handlers are restored afterwards)."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("tracker.service").info(
            "%s received: shutting down", signal.Signals(signum).name
        )
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.command()
@click.argument("jurisdictions", nargs=-1)
@registry_option
@click.option(
    "--once", is_flag=True, help="Run every job that is due now once, then exit (for cron)."
)
@click.option(
    "--wait",
    is_flag=True,
    help="When another scheduler holds the lock, wait for it to stop instead of exiting.",
)
@click.pass_context
def run(
    ctx: click.Context,
    jurisdictions: tuple[str, ...],
    registry_files: tuple[Path, ...],
    once: bool,
    wait: bool,
) -> None:
    """Run the tracker as a service: crawl each place on its own rhythm, queue and send digests.

    Serves the named jurisdictions, else the service_jurisdictions setting, else every
    jurisdiction in the registry. Stops cleanly on SIGTERM or Ctrl-C. One scheduler runs per
    database: a second one exits (or, with --wait, waits for the first to stop).
    """
    from tracker.service import Service

    settings = settings_of(ctx)
    registry = load_registry(registry_files)
    slugs = list(jurisdictions) or [
        s.strip() for s in settings.service_jurisdictions.split(",") if s.strip()
    ]
    entries = [registry.get(slug) for slug in slugs] if slugs else list(registry)
    _logging()
    service = Service(settings, entries, registry, registry_files)
    with _stop_on_signals() as stop:
        if not once:
            service.serve(stop, wait=wait)
            return
        results = service.run_once(stop, wait=wait)
    if results is None:
        click.echo("stopped before the other scheduler released the lock", err=True)
        return
    if not results:
        click.echo("nothing was due")
    for result in results:
        click.echo(f"{result.job_id} (due {result.scheduled:%Y-%m-%d %H:%M} UTC): {result.outcome}")
    if any(r.error for r in results):
        sys.exit(1)
