"""Full-text search over document pages: SQLite FTS5 or PostgreSQL full text.

Only each document's newest version is searched. A hit names the document, the page and a
snippet with the matched words marked by MARK_START / MARK_END, which each renderer turns into
its own highlighting (brackets on a terminal, <mark> on a page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from tracker.exceptions import SearchError

MARK_START, MARK_END = "\x02", "\x03"
_TERM = re.compile(r'"[^"]+"|\S+')


@dataclass(frozen=True)
class SearchHit:
    document_id: int
    version: int
    jurisdiction: str
    url: str
    name: str | None
    kind: str
    page: int
    snippet: str
    retrieved_at: datetime | None


def fts5_query(query: str) -> str:
    """User words to an FTS5 query: every word must appear; "quoted phrases" stay phrases.

    Each term is quoted, so FTS5 operators and punctuation in a user's words are plain text.
    """
    terms = []
    for term in _TERM.findall(query):
        words = term.strip('"').replace('"', " ").strip()
        if words:
            terms.append('"' + words + '"')
    return " ".join(terms)


_SQLITE = """
SELECT d.id AS document_id, v.number AS version, j.slug AS jurisdiction, d.url, d.name,
       d.kind, p.number AS page, v.retrieved_at,
       snippet(document_page_fts, 0, :mark_start, :mark_end, '…', 24) AS snippet
FROM document_page_fts
JOIN document_page p ON p.id = document_page_fts.rowid
JOIN document_version v ON v.id = p.version_id
JOIN document d ON d.id = v.document_id AND v.number = d.versions
JOIN jurisdiction j ON j.id = d.jurisdiction_id
WHERE document_page_fts MATCH :query {filters}
ORDER BY bm25(document_page_fts), d.id, p.number
LIMIT :limit
"""

_POSTGRES = """
SELECT d.id AS document_id, v.number AS version, j.slug AS jurisdiction, d.url, d.name,
       d.kind, p.number AS page, v.retrieved_at,
       ts_headline('english', p.text, q.query,
                   'StartSel=' || :mark_start || ', StopSel=' || :mark_end ||
                   ', MaxWords=30, MinWords=12, MaxFragments=1') AS snippet
FROM document_page p
CROSS JOIN (SELECT websearch_to_tsquery('english', :query) AS query) q
JOIN document_version v ON v.id = p.version_id
JOIN document d ON d.id = v.document_id AND v.number = d.versions
JOIN jurisdiction j ON j.id = d.jurisdiction_id
WHERE p.text_search @@ q.query {filters}
ORDER BY ts_rank(p.text_search, q.query) DESC, d.id, p.number
LIMIT :limit
"""


def search(
    engine: Engine,
    query: str,
    *,
    jurisdiction: str | None = None,
    since: datetime | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    if not query.strip():
        raise SearchError("the search query is empty")
    dialect = engine.dialect.name
    if dialect == "sqlite":
        sql, text = _SQLITE, fts5_query(query)
    elif dialect == "postgresql":
        sql, text = _POSTGRES, query
    else:
        raise SearchError(f"full-text search is not available on {dialect}")
    params: dict[str, object] = {
        "query": text,
        "limit": limit,
        "mark_start": MARK_START,
        "mark_end": MARK_END,
    }
    filters = []
    if jurisdiction:
        filters.append("AND j.slug = :jurisdiction")
        params["jurisdiction"] = jurisdiction
    if since is not None:
        filters.append("AND v.retrieved_at >= :since")
        params["since"] = since.astimezone(UTC).replace(tzinfo=None)
    try:
        with engine.connect() as conn:
            rows = (
                conn.execute(sa.text(sql.format(filters=" ".join(filters))), params)
                .mappings()
                .all()
            )
    except (OperationalError, ProgrammingError) as exc:
        raise SearchError(f"cannot search for {query!r}: {exc.orig}") from None
    return [
        SearchHit(
            document_id=row["document_id"],
            version=row["version"],
            jurisdiction=row["jurisdiction"],
            url=row["url"],
            name=row["name"],
            kind=row["kind"],
            page=row["page"],
            snippet=" ".join(str(row["snippet"]).split()),
            retrieved_at=_utc(row["retrieved_at"]),
        )
        for row in rows
    ]


def _utc(value: object) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None
