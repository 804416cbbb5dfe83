"""The schema comes from the migrations, and matches the models, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from tracker.db import current_revision, head_revision, include_object, migrate, open_database


def test_migrations_build_the_models_schema(database_url: str) -> None:
    engine = open_database(database_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_object}
        )
        assert compare_metadata(context, SQLModel.metadata) == []
    migrate(engine)  # a second time is a no-op
    assert current_revision(engine) == head_revision()


def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    engine = open_database(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
