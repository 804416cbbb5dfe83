"""The classify stage of the pipeline: is a scraped agenda item about immigration enforcement?

The title decides first; when it does not match, the item's agenda and minutes notes are
tried (matters and documents join in as the Documents work lands). Each match records which
text it was found in, so a page can quote the passage that explains the decision.
"""

from __future__ import annotations

from tracker.classify import Classification, default_classifier
from tracker.extract import rtf_to_text
from tracker.items import Relevance, ScrapedAgendaItem, ScrapedMatter


def _relevance(result: Classification, field: str) -> Relevance:
    return Relevance(
        relevant=result.relevant,
        score=result.score,
        category=result.category,
        direction=result.direction,
        matches=[
            {"start": m.start, "end": m.end, "text": m.text, "rule": m.rule, "field": field}
            for m in result.matches
        ],
        secondary=list(result.secondary),
    )


def classify_agenda_item(item: ScrapedAgendaItem) -> Relevance:
    classifier = default_classifier()
    first = classifier.classify(item.title)
    if first.relevant:
        return _relevance(first, "title")
    for field, raw in (("agenda_note", item.agenda_note), ("minutes_note", item.minutes_note)):
        if not raw:
            continue
        result = classifier.classify(rtf_to_text(raw))
        if result.relevant:
            return _relevance(result, field)
    return _relevance(first, "title")


def classify_matter(matter: ScrapedMatter) -> Relevance | None:
    """A matter's title decides first, then its text (the full legislation, when fetched)."""
    if not matter.title and not matter.text:
        return None
    classifier = default_classifier()
    first = classifier.classify(matter.title or "")
    if first.relevant or not matter.text:
        return _relevance(first, "matter_title")
    result = classifier.classify(matter.text)
    return _relevance(
        result if result.relevant else first, "matter_text" if result.relevant else "matter_title"
    )


class RelevanceStage:
    """The pipeline's classify stage: items, matters and document pages."""

    def item(self, item: ScrapedAgendaItem) -> Relevance | None:
        return classify_agenda_item(item)

    def matter(self, matter: ScrapedMatter) -> Relevance | None:
        return classify_matter(matter)

    def pages(self, pages: tuple[str, ...]) -> Relevance | None:
        return classify_pages(pages)


PASSAGE_CHARS = 160
MAX_DOCUMENT_MATCHES = 20


def passage(text: str, start: int, end: int) -> str:
    """The words around a match, for a reader to see it in context."""
    left = max(0, start - PASSAGE_CHARS)
    right = min(len(text), end + PASSAGE_CHARS)
    # Widen to whole words.
    while left > 0 and not text[left - 1].isspace():
        left -= 1
    while right < len(text) and not text[right].isspace():
        right += 1
    snippet = " ".join(text[left:right].split())
    return ("… " if left else "") + snippet + (" …" if right < len(text) else "")


def classify_pages(pages: tuple[str, ...]) -> Relevance:
    """A document's relevance: the best page decides; every relevant page's matches are kept
    with their page number and passage, so a reporter can cite "page 14"."""
    classifier = default_classifier()
    best: Classification | None = None
    matches: list[dict[str, object]] = []
    secondary: set[str] = set()
    for number, text in enumerate(pages, start=1):
        if not text.strip():
            continue
        result = classifier.classify(text)
        secondary.update(result.secondary)
        if not result.relevant:
            continue
        if best is None or result.score > best.score:
            best = result
        for m in result.matches:
            if len(matches) < MAX_DOCUMENT_MATCHES:
                matches.append(
                    {
                        "start": m.start,
                        "end": m.end,
                        "text": m.text,
                        "rule": m.rule,
                        "field": "document",
                        "page": number,
                        "passage": passage(text, m.start, m.end),
                    }
                )
    if best is None:
        return Relevance(
            relevant=False,
            score=0.0,
            category=None,
            direction=None,
            matches=[],
            secondary=sorted(secondary),
        )
    return Relevance(
        relevant=True,
        score=best.score,
        category=best.category,
        direction=best.direction,
        matches=matches,
        secondary=sorted(secondary),
    )
