"""What the command modules share: the ``--registry`` option and the settings the root group
loaded. Kept apart from tracker/cli.py, which imports the command modules to register them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tracker.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def registry_option(func: F) -> F:
    return click.option(
        "--registry",
        "registry_files",
        multiple=True,
        type=click.Path(path_type=Path),
        help="A registry file of your own (TOML, same format as the bundled one); repeatable.",
    )(func)


def settings_of(ctx: click.Context) -> Settings:
    """The settings ``ice-tracker`` loaded before running this command."""
    settings = ctx.find_root().obj
    assert isinstance(settings, Settings)
    return settings
