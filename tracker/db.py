"""Opening the database: SQLite by default (WAL, foreign keys), PostgreSQL for scale.

The schema is owned by the Alembic migrations in tracker/migrations; ``open_database`` brings
any database up to the newest revision before handing out the engine, so every command works
on a fresh file and on one created by an older version.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from tracker.exceptions import StorageError

if TYPE_CHECKING:
    from tracker.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


# Full-text search objects made by hand in migration 0002 (autogenerate cannot express them).
FULL_TEXT_TABLE_PREFIX = "document_page_fts"
FULL_TEXT_COLUMN = "text_search"


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic filter: leave the hand-made full-text objects out of schema comparisons."""
    if type_ == "table" and name and name.startswith(FULL_TEXT_TABLE_PREFIX):
        return False
    # APScheduler's job table (tracker.health.JOB_TABLE), made by its SQLAlchemyJobStore when
    # the service runs: it belongs to APScheduler, not to our migrations.
    scheduler_table = "apscheduler_jobs"
    if type_ == "table" and name == scheduler_table:
        return False
    if type_ == "index" and getattr(getattr(obj, "table", None), "name", None) == scheduler_table:
        return False
    if type_ == "column" and name == FULL_TEXT_COLUMN:
        return False
    return not (type_ == "index" and name is not None and FULL_TEXT_COLUMN in name)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web server and exports read while a crawl writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def pool_options(settings: Settings | None = None) -> dict[str, Any]:
    """Connection pool options of a PostgreSQL engine, from the db_pool_* settings.

    Each process has its own pool (docs/settings.md says how the defaults were chosen);
    ``pool_pre_ping`` checks a connection before handing it out, so a database restart or a
    connection dropped by a firewall costs a reconnect, not a failed batch.
    """
    if settings is None:
        from tracker.settings import load_settings

        settings = load_settings()
    return {
        "pool_pre_ping": True,
        "pool_size": max(settings.db_pool_size, 1),
        "max_overflow": max(settings.db_max_overflow, 0),
        "pool_recycle": settings.db_pool_recycle,
        "pool_timeout": settings.db_pool_timeout,
    }


def make_engine(url: str, *, pool: Mapping[str, Any] | None = None) -> Engine:
    """Create an engine for ``url`` without touching the schema.

    ``pool``: PostgreSQL pool options (default: :func:`pool_options` of the settings in
    effect, from the environment and config file)."""
    try:
        sa_url = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise StorageError(f"not a database URL: {url!r}") from None
    if sa_url.drivername == "postgresql":
        # psycopg 3 is the driver we ship; the bare scheme would look for psycopg2.
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database
        if database and database != ":memory:":
            path = Path(database).expanduser()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create the data folder {path.parent}: {exc}") from None
        engine = sa.create_engine(sa_url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if sa_url.get_backend_name() == "postgresql":
        return sa.create_engine(sa_url, **(pool_options() if pool is None else pool))
    raise StorageError(
        f"unsupported database {sa_url.get_backend_name()!r}: use sqlite or postgresql"
    )


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest migration (a no-op when it is current)."""
    try:
        if current_revision(engine) == head_revision():
            return
        command.upgrade(alembic_config(engine), "head")
    except OperationalError as exc:
        raise StorageError(f"cannot open the database: {exc.orig}") from None
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot migrate the database: {exc}") from None


def open_database(url: str) -> Engine:
    """An engine on an up-to-date schema."""
    engine = make_engine(url)
    migrate(engine)
    return engine


def display_url(url: str) -> str:
    """The URL with any password hidden, for messages and status output."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid URL>"
