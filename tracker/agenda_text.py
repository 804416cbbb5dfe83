"""Agendas and minutes as text: numbered items, the section of the minutes on each item, and
the action the minutes record.

Councils that publish only PDFs number their items ("12.", "ITEM 12.", "CONSENT ITEM 3.");
the pattern is a registry setting with a default that covers those forms. Minutes reuse the
agenda's numbers, which is how a vote in the minutes finds its item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_ITEM_PATTERN = (
    r"^[ \t]*(?:(?P<consent>CONSENT[ \t]+)?ITEM[ \t]+)?(?P<number>\d{1,3}[A-Z]?)[ \t]*[.)][ \t]+"
    r"(?P<title>\S.*)$"
)
MAX_TITLE = 1200
ACTION_PATTERNS: tuple[tuple[str, str], ...] = (
    # Committee names are capitalized; the verbs around them may not be.
    (
        r"(?i:\brefer(?:red|ral)?\b)[^.]{0,80}?(?i:\bto\b)[^.]{0,40}?"
        r"(?P<body>(?:the\s+)?[A-Z][\w&,' -]{2,80}?Committee)",
        "Referred to {body}",
    ),
    (r"\b(?:tabled|laid on the table)\b", "Tabled"),
    (r"\b(?:deferred|continued|postponed)\b", "Deferred"),
    (r"\bwithdrawn\b", "Withdrawn"),
    (r"\b(?:adopted|approved|passed|carried)\b", "Adopted"),
    (r"\b(?:failed|defeated|denied)\b", "Failed"),
)


@dataclass(frozen=True)
class NumberedItem:
    number: str
    title: str
    text: str  # the whole section, up to the next item
    consent: bool


def split_items(text: str, pattern: str | None = None) -> list[NumberedItem]:
    """The numbered items of an agenda or minutes text, in order; a repeated number keeps its
    first occurrence (tables of contents repeat numbers later)."""
    regex = re.compile(pattern or DEFAULT_ITEM_PATTERN, re.MULTILINE)
    found = list(regex.finditer(text))
    items: list[NumberedItem] = []
    seen: set[str] = set()
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        section = text[match.start() : end]
        number = match.group("number")
        if number in seen:
            continue
        seen.add(number)
        head = section[match.start("title") - match.start() :]
        title = " ".join(_title_lines(head))[:MAX_TITLE]
        items.append(
            NumberedItem(
                number=number,
                title=title,
                text=section.strip(),
                consent=bool(match.groupdict().get("consent")),
            )
        )
    return items


def _is_heading(line: str) -> bool:
    # "REGULAR AGENDA", "COMMUNICATIONS FROM THE MAYOR": short, and no lower-case letter.
    # Text extracted from PDFs loses blank lines, so headings are what end a wrapped title.
    stripped = line.strip()
    letters = [c for c in stripped if c.isalpha()]
    return (
        len(letters) >= 2
        and len(stripped) <= 45
        and not any(c.islower() for c in letters)
        and not stripped.endswith((",", ";", "."))
    )


def _title_lines(head: str) -> list[str]:
    """The lines of an item's title: to a blank line or a section heading."""
    lines: list[str] = []
    for number, line in enumerate(head.splitlines()):
        if not line.strip() or (number and _is_heading(line)):
            break
        lines.append(line.strip())
    return lines


def minutes_action(section: str) -> str | None:
    """What the minutes say was done with an item ("Referred to the Public Safety
    Committee", "Adopted"), from the first action phrase found."""
    for pattern, template in ACTION_PATTERNS:
        match = re.search(pattern, section, re.IGNORECASE if "{body}" not in template else 0)
        if match:
            body = match.groupdict().get("body")
            return template.format(body=" ".join(body.split())) if body else template
    return None
