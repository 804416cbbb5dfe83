"""One person per councilor: comparison keys, display forms and roster resolution.

Minutes, news and platforms write the same councilor many ways: "Council President Wardine
Alexander", "WARDINE ALEXANDER ", "Alexander", "Alexander, Wardine", "M. Lorena González" and
"Lorena Gonzalez". These pure functions turn such strings into a stable key and resolve them
against a body's roster. Storage of people is elsewhere; nothing here touches the database.

Resolution never guesses: when two roster members fit ("Smith" on a council with two Smiths)
the answer is ``ambiguous`` with the candidates, and the caller decides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass


def wordset(words: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated string (long lists stay readable)."""
    return frozenset(words.split())


# Honorifics and offices that precede a name, as single casefolded tokens without dots.
# Multi-word titles ("Mayor Pro Tem", "Council Member", "Council President", "Vice Mayor")
# are runs of these tokens. Plurals are here too because lists in minutes start with them
# ("Councilmembers Bealka, Cummings and Mayor Kimble").
TITLE_TOKENS: frozenset[str] = wordset(
    """
    councilor councilors councillor councillors councilmember councilmembers councilman
    councilmen councilwoman councilwomen councilperson council member members president
    vice mayor pro tem tempore deputy alderman aldermen alderwoman alderwomen alderperson
    alderpersons alder alders commissioner commissioners supervisor supervisors legislator
    legislators director directors trustee trustees selectman selectmen selectwoman
    selectboard freeholder freeholders delegate delegates chair chairs chairman chairwoman
    chairperson dr mr mrs ms mx miss hon honorable county city board
    """
)
# Generational and academic suffixes, dropped from comparison keys.
_SUFFIX_TOKENS = frozenset({"jr", "sr", "ii", "iii", "iv", "esq", "phd", "md"})
# Lower-case name particles, kept as part of a surname ("De La Rosa", "van der Berg").
PARTICLES: frozenset[str] = wordset(
    "de del della la le van von der den da di du dos das st ter ten bin ibn al el y lo"
)

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
_NON_WORD = re.compile(r"[^\w']+")
_WS = re.compile(r"\s+")
# A leading title word as written, with an optional dot ("Hon.", "Dr.") and its spacing.
_LEADING_TITLE = re.compile(r"\s*([^\W\d_]+)\.?(?:\s+|$)")


def _fold(text: str) -> str:
    """Casefold and strip diacritics ("González" -> "gonzalez")."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _words(part: str) -> list[str]:
    # Apostrophes vanish inside words (O'Brien == OBrien); dots, hyphens and other
    # punctuation separate words (J.T. -> j t, Sigcho-Lopez -> sigcho lopez).
    return [w.replace("'", "") for w in _NON_WORD.split(part) if w.replace("'", "")]


def _is_title(words: list[str], i: int) -> bool:
    # "The" is a title only before one ("The Honorable Jane Doe"); alone it may be a name.
    if words[i] == "the":
        return i + 1 < len(words) and words[i + 1] in TITLE_TOKENS
    return words[i] in TITLE_TOKENS


def _strip_leading_titles(words: list[str]) -> list[str]:
    i = 0
    while i < len(words) - 1 and _is_title(words, i):
        i += 1
    # A name made only of title words ("Mayor") is no name at all.
    if i == len(words) - 1 and words[i] in TITLE_TOKENS:
        return []
    return words[i:]


def _tokens(name: str) -> list[str]:
    """Comparison tokens: folded, titles and suffixes gone, "Last, First" turned around."""
    parts = [_words(p) for p in _fold(name).split(",")]
    kept: list[list[str]] = []
    for words in parts:
        words = [w for w in words if w not in _SUFFIX_TOKENS] if kept else words
        words = _strip_leading_titles(words)
        if kept:
            # "Scott, Jr. Michael" and "Smith, Jr." leave suffixes at the start of a part.
            while words and words[0] in _SUFFIX_TOKENS:
                words = words[1:]
        if words and not all(w in TITLE_TOKENS for w in words):
            kept.append(words)
    if not kept:
        return []
    if len(kept) == 2:
        # "Last, First" (the only reading of one comma once titles and suffixes are gone)
        kept = [kept[1], kept[0]]
    tokens = [w for part in kept for w in part]
    # Suffixes at the end of an uninverted name ("Walter Burnett Jr").
    while len(tokens) > 1 and tokens[-1] in _SUFFIX_TOKENS:
        tokens.pop()
    return tokens


def normalize_name(name: str) -> str:
    """Stable comparison key: no titles, no diacritics, casefolded, single spaces.

    "Councilmember M. Lorena González " -> "m lorena gonzalez"; "Alexander, Wardine" ->
    "wardine alexander"; "Brookins, Jr., Howard" -> "howard brookins".
    """
    return " ".join(_tokens(name))


def display_name(name: str) -> str:
    """Cleaned for display: trimmed, single spaces, leading titles removed, diacritics kept.

    Word order and casing are kept as written; only honorifics and offices go.
    """
    text = _WS.sub(" ", unicodedata.normalize("NFC", name)).strip()
    pos = 0
    while True:
        match = _LEADING_TITLE.match(text, pos)
        if match is None:
            break
        word, after = _fold(match.group(1)), _LEADING_TITLE.match(text, match.end())
        if word not in TITLE_TOKENS and not (
            word == "the" and after is not None and _fold(after.group(1)) in TITLE_TOKENS
        ):
            break
        if match.end() >= len(text):  # keep a bare title rather than return nothing
            break
        pos = match.end()
    text = text[pos:].strip()
    # A trailing ", Council President" is a title too.
    head, sep, tail = text.rpartition(",")
    tail_words = _words(_fold(tail))
    if sep and head.strip() and tail_words and all(w in TITLE_TOKENS for w in tail_words):
        text = head.strip()
    return text


@dataclass(frozen=True)
class RosterMember:
    """A member of a body as the caller knows them; ``key`` is the caller's id."""

    key: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolution:
    """Outcome of :func:`resolve_name`.

    ``reason`` is "exact" | "alias" | "initials" | "last_name" | "ambiguous" | "unknown";
    ``member`` is set only for the first four, ``candidates`` lists every fitting member.
    """

    member: RosterMember | None
    candidates: tuple[RosterMember, ...]
    reason: str


def _compatible(a: str, b: str) -> bool:
    """Same word, or one is the initial of the other."""
    if a == b:
        return True
    return (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))


def _subsequence(short: list[str], long: list[str]) -> bool:
    it = iter(long)
    return all(any(_compatible(s, candidate) for candidate in it) for s in short)


def _initials_match(a: list[str], b: list[str]) -> bool:
    """Same person written with or without initials and middle names.

    The surnames agree and the shorter name's given names (words or initials) appear in
    order among the longer one's: "lorena gonzalez" ~ "m lorena gonzalez", "l gonzalez" ~
    "lorena gonzalez", "amanda campbell" ~ "amanda r campbell".
    """
    if len(a) < 2 or len(b) < 2 or a[-1] != b[-1] or len(a[-1]) < 2:
        return False
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return _subsequence(short[:-1], long[:-1])


def _surname_match(written: list[str], member: list[str]) -> bool:
    """A surname alone: the written words end the member's name and leave a given name."""
    if not written or len(written) > 3 or any(len(w) == 1 for w in written):
        return False
    return len(member) > len(written) and member[-len(written) :] == written


def _pick(hits: list[RosterMember], reason: str) -> Resolution:
    unique = tuple(dict.fromkeys(hits))
    if len(unique) == 1:
        return Resolution(unique[0], unique, reason)
    return Resolution(None, unique, "ambiguous")


def resolve_name(name: str, roster: Sequence[RosterMember]) -> Resolution:
    """Find the roster member a written name refers to.

    Tried in order, stopping at the first step with any fit: the exact key; an alias; the
    same name with or without initials or middle names; a surname that ends exactly one
    member's name. Several fits at a step give ``ambiguous``, none at all ``unknown``.
    """
    tokens = _tokens(name)
    if not tokens:
        return Resolution(None, (), "unknown")
    forms = [(m, _tokens(m.name), [_tokens(a) for a in m.aliases]) for m in roster]

    steps: list[tuple[str, list[RosterMember]]] = [
        ("exact", [m for m, toks, _ in forms if toks == tokens]),
        ("alias", [m for m, _, aliases in forms if tokens in aliases]),
        (
            "initials",
            [
                m
                for m, toks, aliases in forms
                if any(_initials_match(tokens, t) for t in [toks, *aliases])
            ],
        ),
        (
            "last_name",
            [
                m
                for m, toks, aliases in forms
                if any(_surname_match(tokens, t) for t in [toks, *aliases])
            ],
        ),
    ]
    for reason, hits in steps:
        if hits:
            return _pick(hits, reason)
    return Resolution(None, (), "unknown")
