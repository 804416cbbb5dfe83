"""Full-text search over document pages: FTS5 on SQLite, a tsvector column on PostgreSQL.

SQLite: an external-content FTS5 table (the text stays in document_page; filter columns such
as jurisdiction and dates stay outside the index and are joined in), kept in step by
triggers. PostgreSQL: a generated tsvector column with a GIN index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_UP = [
    """CREATE VIRTUAL TABLE document_page_fts USING fts5(
        text, content='document_page', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER document_page_fts_insert AFTER INSERT ON document_page BEGIN
        INSERT INTO document_page_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER document_page_fts_delete AFTER DELETE ON document_page BEGIN
        INSERT INTO document_page_fts(document_page_fts, rowid, text)
        VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER document_page_fts_update AFTER UPDATE ON document_page BEGIN
        INSERT INTO document_page_fts(document_page_fts, rowid, text)
        VALUES ('delete', old.id, old.text);
        INSERT INTO document_page_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    "INSERT INTO document_page_fts(document_page_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS document_page_fts_update",
    "DROP TRIGGER IF EXISTS document_page_fts_delete",
    "DROP TRIGGER IF EXISTS document_page_fts_insert",
    "DROP TABLE IF EXISTS document_page_fts",
]
POSTGRES_UP = [
    """ALTER TABLE document_page ADD COLUMN text_search tsvector
        GENERATED ALWAYS AS (to_tsvector('english', coalesce(text, ''))) STORED""",
    "CREATE INDEX ix_document_page_text_search ON document_page USING gin (text_search)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_document_page_text_search",
    "ALTER TABLE document_page DROP COLUMN IF EXISTS text_search",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_UP)
    elif dialect == "postgresql":
        _run(POSTGRES_UP)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_DOWN)
    elif dialect == "postgresql":
        _run(POSTGRES_DOWN)
