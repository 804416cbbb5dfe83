"""Reading stored documents back: versions, pages and text, for commands and pages."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker.exceptions import DocumentNotFound
from tracker.models import Document, DocumentPage, DocumentVersion


def load_document(
    engine: Engine, document_id: int, number: int | None = None
) -> tuple[Document, list[DocumentVersion], DocumentVersion | None, list[tuple[int, str]]]:
    """The document, all its versions, the chosen one (newest by default) and its pages."""
    with Session(engine) as session:
        doc = session.get(Document, document_id)
        if doc is None:
            raise DocumentNotFound(f"no document {document_id}")
        versions = list(
            session.exec(
                select(DocumentVersion)
                .where(DocumentVersion.document_id == document_id)
                .order_by(col(DocumentVersion.number))
            )
        )
        chosen = None
        if versions:
            wanted = versions[-1].number if number is None else number
            chosen = next((v for v in versions if v.number == wanted), None)
            if chosen is None:
                raise DocumentNotFound(
                    f"document {document_id} has versions 1 to {versions[-1].number}, not {number}"
                )
        elif number is not None:
            raise DocumentNotFound(f"document {document_id} has no stored version yet")
        pages: list[tuple[int, str]] = []
        if chosen is not None:
            pages = [
                (p.number, p.text)
                for p in session.exec(
                    select(DocumentPage)
                    .where(DocumentPage.version_id == chosen.id)
                    .order_by(col(DocumentPage.number))
                )
            ]
        return doc, versions, chosen, pages
