"""The tracker as a service: ``python schedule.py [SLUG ...] [--registry FILE] [--once] [--wait]``.

The same as ``ice-tracker run``: APScheduler jobs crawl each jurisdiction on its own rhythm (each
crawl in its own process), queue digests at each subscriber's local hour and send them, with the
job store in the tracker's database and one scheduler per database. See tracker/service.py.
"""

from __future__ import annotations

import sys

from tracker.cli import main

if __name__ == "__main__":
    main(["run", *sys.argv[1:]], prog_name="schedule.py")
