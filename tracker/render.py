"""Jinja2 rendering: one environment for every template, autoescape always on for HTML."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

import templates

TEMPLATES_DIR = Path(templates.__file__).parent


def _local(
    value: str | datetime | None,
    timezone: str | None = None,
    fmt: str = "%a %-d %b %Y, %-I:%M %p %Z",
) -> str:
    """A stored time as the people in that place read it: "Mon 29 Jul 2019, 2:00 PM PDT"."""
    if value is None:
        return "date to be announced"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if timezone:
        when = when.astimezone(ZoneInfo(timezone))
    return when.strftime(fmt)


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "htm", "xml"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = _local
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
