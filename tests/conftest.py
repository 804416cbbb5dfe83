"""Shared fixtures: real SQLite and PostgreSQL databases, the recorded Seattle archive, and
running the ``ice-tracker`` command as a user does (in its own process, since Scrapy's reactor
cannot restart within one)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
SEATTLE_WARC = ROOT / "tracker" / "data" / "archives" / "seattle-2019-07-29.warc.gz"
SEATTLE_WINDOW = ["--full", "--from", "2019-07-01", "--to", "2019-09-01"]
POSTGRES_ENV = "TRACKER_TEST_POSTGRES_URL"
# HYPOTHESIS_PROFILE=long runs every property test with 10,000 cases (on demand; CI runs
# each test's own short count).
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"


def property_settings(examples: int) -> settings:
    """Hypothesis settings for a property test: ``examples`` cases in CI, 10,000 in the long
    profile; no deadline (CI machines are shared, timing is not what these tests check)."""
    return settings(
        max_examples=10_000 if LONG else examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long profile runs for as long as its 10,000 cases take: no per-test timeout."""
    if LONG:
        for item in items:
            item.add_marker(pytest.mark.timeout(0))


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No TRACKER_* setting leaks in from the developer's shell or another test."""
    for name in list(os.environ):
        if name.startswith("TRACKER_") and name != POSTGRES_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path / "data"))


def _postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set (CI always sets it)")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = sa.make_url(_postgres_url()).set(drivername="postgresql+psycopg")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tracker.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every storage test runs on SQLite, and on PostgreSQL when it is configured."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    return str(request.getfixturevalue("postgres_url"))


def run_tracker(
    *args: str | Path,
    database_url: str | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``ice-tracker ARGS`` in a new process, as a user would."""
    command = [sys.executable, "-m", "tracker"]
    if database_url:
        command += ["--database-url", database_url]
    command += [str(a) for a in args]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def row_counts(url: str) -> dict[str, int]:
    """Rows in every table of the tracker's schema."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            return {
                t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                for t in tables
                if t != "alembic_version"
            }
    finally:
        engine.dispose()


def query(database: str, sql: str, /, **params: object) -> list[sa.Row[tuple[object, ...]]]:
    engine = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        engine.dispose()
