"""Is an agenda item about the topic? Category, direction, score and the spans that explain it.

The engine is topic-agnostic: what it knows about ICE lives in ``tracker/topics/ice.toml``, and
another topic is another TOML file. A topic holds rules of six kinds:

- ``signal``: evidence of relevance, with a weight, an optional category and an optional
  polarity (the direction that *adopting* the matched thing has: a 287(g) agreement expands).
- ``context``: no weight; supplies tags that conditional rules ``require``.
- ``negator``: reverses the polarity of signals after it in the same clause ("terminate the
  287(g) agreement", "prohibit sharing data with ICE").
- ``boundary``: ends a negator's reach ("bar X, and require Y").
- ``frame``: the item only talks about the subject (public comment, update, discussion);
  positive weights push the direction to neutral, negative ones (a vote) pull it back.
- ``secondary``: a separate label that never makes an item relevant on its own.

Scoring: distinct signal rules combine as a noisy OR; an item is relevant at the topic's
threshold. The category with the most evidence wins; the direction is the weighted vote of its
signals' polarities, each reversed by a negator before it, unless framing says neutral.

Speed matters (the pipeline classifies every item of every agenda): each pass compiles all its
case-insensitive rules into one regex over a lower-cased copy of the text (see ``_Scanner``),
and only relevant items go on to the second pass for direction cues. Where the Hyperscan
package is installed, it first finds the few word starts where a rule can match at all, and
the regex is tried at those alone (``_Prefilter``); the hits are the same either way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import json
import operator
import re
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TextIO, TypeVar

from tracker.exceptions import ConfigError

try:  # optional: finds the few word starts worth trying, in C (see _Prefilter)
    import hyperscan
except ImportError:  # pragma: no cover - the plain scan gives the same hits, slower
    hyperscan = None  # type: ignore[assignment]

Direction = Literal["expands", "limits", "neutral"]
DIRECTIONS: tuple[Direction, ...] = ("expands", "limits", "neutral")
BUNDLED_TOPIC = "ice.toml"
_T = TypeVar("_T")


class RuleKind(enum.Enum):
    SIGNAL = "signal"
    CONTEXT = "context"
    NEGATOR = "negator"
    BOUNDARY = "boundary"
    FRAME = "frame"
    SECONDARY = "secondary"

    @property
    def labelled(self) -> bool:
        return self in (RuleKind.SIGNAL, RuleKind.SECONDARY)


_EVIDENCE = (RuleKind.SIGNAL, RuleKind.CONTEXT, RuleKind.SECONDARY)
_CUES = (RuleKind.NEGATOR, RuleKind.BOUNDARY, RuleKind.FRAME)


@dataclass(frozen=True, slots=True)
class Match:
    start: int
    end: int
    text: str  # == original_text[start:end]
    rule: str


@dataclass(frozen=True, slots=True)
class Classification:
    relevant: bool
    score: float
    category: str | None
    direction: Direction | None  # None when not relevant
    matches: tuple[Match, ...]
    secondary: tuple[str, ...] = ()

    def to_json(self, id: object) -> dict[str, Any]:
        return {
            "id": id,
            "relevant": self.relevant,
            "score": self.score,
            "category": self.category,
            "direction": self.direction,
            "matches": [
                {"start": m.start, "end": m.end, "text": m.text, "rule": m.rule}
                for m in self.matches
            ],
            "secondary": list(self.secondary),
        }


# --- the topic model ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Veto:
    """Discards a hit when ``pattern`` matches within ``window`` characters of it."""

    pattern: str
    window: int = 40
    side: Literal["before", "after", "both"] = "both"
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", _fast_pattern([self.pattern]))


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    name: str
    kind: RuleKind
    alternatives: tuple[str, ...]  # the pattern split on its top-level "|"
    case_sensitive: bool = False
    weight: float = 0.0
    category: str | None = None
    polarity: Direction | None = None
    tags: frozenset[str] = frozenset()
    requires: frozenset[str] = frozenset()  # any one of these tags
    requires_all: frozenset[str] = frozenset()  # and every one of these
    vetoes: tuple[Veto, ...] = ()
    max_start: int | None = None  # the match must start this early in the text
    label: str | None = None  # secondary label

    # Derived once, read for every hit.
    conditional: bool = field(init=False, repr=False)
    guarded: bool = field(init=False, repr=False)
    votes: bool = field(init=False, repr=False)
    is_signal: bool = field(init=False, repr=False)
    # All vetoes in one search over the widest window: a genuine mention clears them at once.
    veto_any: re.Pattern[str] | None = field(init=False, repr=False)
    veto_reach: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        derived = {
            "conditional": bool(self.requires or self.requires_all),
            "guarded": bool(self.vetoes) or self.max_start is not None,
            "votes": self.polarity in ("expands", "limits"),
            "is_signal": self.kind is RuleKind.SIGNAL,
            "veto_any": _fast_pattern([v.pattern for v in self.vetoes]) if self.vetoes else None,
            "veto_reach": max((v.window for v in self.vetoes), default=0),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    def satisfied_by(self, tags: set[str]) -> bool:
        return (not self.requires or not self.requires.isdisjoint(tags)) and (
            self.requires_all <= tags
        )


_Hit = tuple[Rule, int, int]  # a rule and the span it matched, offsets into the text


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    categories: tuple[Category, ...]
    rules: tuple[Rule, ...]
    threshold: float = 0.5
    neutral_threshold: float = 0.5
    negation_window: int = 90
    negated_vote_factor: float = 1.0
    default_category: str | None = None
    description: str = ""
    source: str = "<topic>"

    @classmethod
    def load(cls, path: str | Path) -> Topic:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read topic file: {exc.strerror}") from exc
        return cls.from_toml(text, source=str(path))

    @classmethod
    def from_toml(cls, text: str, source: str = "<topic>") -> Topic:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
        return _parse_topic(data, source)


# --- reading a topic file -----------------------------------------------------------------

_TOPIC_FIELDS = {
    "name": str,
    "description": str,
    "threshold": float,
    "neutral_threshold": float,
    "negation_window": int,
    "negated_vote_factor": float,
    "default_category": str,
}
_RULE_KEYS = {
    *("name", "kind", "pattern", "patterns", "case_sensitive", "weight", "category"),
    *("polarity", "tags", "requires", "requires_all", "veto", "max_start", "label", "note"),
}
_VETO_KEYS = {"pattern", "window", "side", "note"}


def _parse_topic(data: Mapping[str, Any], source: str) -> Topic:
    def fail(msg: str) -> ConfigError:
        return ConfigError(f"{source}: {msg}")

    if set(data) - {"topic", "category", "rule"}:
        raise fail(f"unknown top-level key(s): {sorted(set(data) - {'topic', 'category', 'rule'})}")
    head = data.get("topic")
    if not isinstance(head, dict) or not isinstance(head.get("name"), str):
        raise fail("missing [topic] table with a name")
    settings: dict[str, Any] = {}
    for key, value in head.items():
        kind = _TOPIC_FIELDS.get(key)
        if kind is None:
            raise fail(f"[topic]: unknown key {key!r}")
        if not isinstance(value, kind) and not (kind is float and isinstance(value, int)):
            raise fail(f"[topic]: {key} must be a {kind.__name__}")
        settings[key] = kind(value)
    categories = []
    for raw in data.get("category", []):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise fail("every [[category]] needs a name")
        categories.append(Category(raw["name"], str(raw.get("description", ""))))
    names = {c.name for c in categories}
    if len(names) != len(categories):
        raise fail("duplicate category name")
    if settings.get("default_category") not in (None, *names):
        raise fail(f"default_category {settings['default_category']!r} is not a category")
    rules = tuple(_parse_rule(raw, i, source, names) for i, raw in enumerate(data.get("rule", [])))
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise fail(f"duplicate rule name {rule.name!r}")
        seen.add(rule.name)
    provided = {t for r in rules if not r.conditional for t in r.tags}
    for rule in rules:
        if missing := (rule.requires | rule.requires_all) - provided:
            raise fail(
                f"rule {rule.name!r}: no unconditional rule supplies tag(s) {sorted(missing)}"
            )
    return Topic(categories=tuple(categories), rules=rules, source=source, **settings)


def _parse_rule(raw: object, index: int, source: str, categories: set[str]) -> Rule:
    name = raw.get("name") if isinstance(raw, dict) else None
    where = f"{source}: rule {name!r}" if isinstance(name, str) else f"{source}: rule #{index + 1}"

    def fail(msg: str) -> ConfigError:
        return ConfigError(f"{where}: {msg}")

    if not isinstance(raw, dict) or not isinstance(name, str) or not name:
        raise fail("must be a table with a name")
    if unknown := set(raw) - _RULE_KEYS:
        raise fail(f"unknown key(s) {sorted(unknown)}")
    try:
        kind = RuleKind(raw.get("kind", "signal"))
    except ValueError:
        raise fail(f"unknown kind {raw.get('kind')!r}") from None
    patterns = ([raw["pattern"]] if "pattern" in raw else []) + list(raw.get("patterns", []))
    if not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise fail("needs a non-empty pattern or patterns")
    case_sensitive = raw.get("case_sensitive", False) is True
    for pattern in patterns:
        _check_pattern(pattern, case_sensitive, fail)
    if raw.get("category") not in (None, *categories):
        raise fail(f"unknown category {raw.get('category')!r}")
    if raw.get("polarity") not in (None, *DIRECTIONS):
        raise fail(f"polarity must be one of {', '.join(DIRECTIONS)}")
    label = raw.get("label")
    if label is not None and (not isinstance(label, str) or not kind.labelled):
        raise fail("only signal and secondary rules carry a label (a string)")
    if kind is RuleKind.SECONDARY and label is None:
        raise fail("a secondary rule needs a label")
    weight = raw.get("weight", 0.0)
    if not isinstance(weight, int | float) or (kind is not RuleKind.FRAME and not 0 <= weight <= 1):
        raise fail("weight must be a number between 0 and 1 (frames may be negative)")
    tag_sets = {}
    for key in ("tags", "requires", "requires_all"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise fail(f"{key} must be a list of strings")
        tag_sets[key] = frozenset(value)
    vetoes = []
    for veto in raw.get("veto", []):
        if not isinstance(veto, dict) or not isinstance(veto.get("pattern"), str):
            raise fail("each [[rule.veto]] needs a pattern")
        if unknown := set(veto) - _VETO_KEYS:
            raise fail(f"veto: unknown key(s) {sorted(unknown)}")
        _check_pattern(veto["pattern"], False, fail)
        if veto.get("side", "both") not in ("before", "after", "both"):
            raise fail("veto side must be before, after or both")
        if not isinstance(veto.get("window", 40), int):
            raise fail("veto window must be a number of characters")
        vetoes.append(Veto(veto["pattern"], veto.get("window", 40), veto.get("side", "both")))
    max_start = raw.get("max_start")
    if max_start is not None and not isinstance(max_start, int):
        raise fail("max_start must be a number of characters")
    return Rule(
        name=name,
        kind=kind,
        alternatives=tuple(a for p in patterns for a in _split_alternatives(p)),
        case_sensitive=case_sensitive,
        weight=float(weight),
        category=raw.get("category"),
        polarity=raw.get("polarity"),
        vetoes=tuple(vetoes),
        max_start=max_start,
        label=label,
        **tag_sets,
    )


def _check_pattern(pattern: str, case_sensitive: bool, fail: Any) -> None:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise fail(f"bad pattern {pattern!r}: {exc}") from None
    # Each alternative ends in its own empty group so one combined scan can tell rules apart;
    # a capturing group inside a pattern would shift that numbering.
    if compiled.groups:
        raise fail(f"pattern {pattern!r} has a capturing group; use (?:...)")
    if compiled.fullmatch(""):
        raise fail(f"pattern {pattern!r} matches the empty string")
    # Case-insensitive rules run against lower-cased text: an upper-case letter never matches.
    if not case_sensitive and any(c.isupper() for c in re.sub(r"\\.", "", pattern)):
        raise fail(f"pattern {pattern!r} must be lower case (or set case_sensitive = true)")


# --- compiling patterns -------------------------------------------------------------------


def _split_alternatives(pattern: str) -> list[str]:
    """Top-level alternatives, each with leading groups and classes multiplied out.

    ``(?:federal |civil )?immigration`` becomes three alternatives that each open with a plain
    letter, which is what lets _trie factor them.
    """
    parts, start = [], 0
    while (end := _scan_to(pattern, start, "|")) < len(pattern):
        parts.append(pattern[start:end])
        start = end + 1
    parts.append(pattern[start:])
    return [expanded for part in parts for expanded in _expand_head(part, 16)]


def _scan_to(pattern: str, i: int, stop: str) -> int:
    """Index of the first ``stop`` character at nesting depth 0 from ``i`` (or len(pattern))."""
    depth, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += pattern[i + 1 : i + 2] == "]"
        elif c == "(":
            depth += 1
        elif c == ")":
            if depth == 0 and ")" in stop:
                return i
            depth -= 1
        elif c in stop and depth == 0:
            return i
        i += 1
    return len(pattern)


def _expand_head(alt: str, budget: int) -> list[str]:
    if budget <= 0 or _literal_first(alt):
        return [alt]
    if alt.startswith("(?:"):
        close = _scan_to(alt, 3, ")")
        rest = alt[close + 1 :]
        if close >= len(alt) or rest[:1] in ("*", "+", "{") or rest[:2] in ("??", "?+"):
            return [alt]
        optional = rest[:1] == "?"
        rest = rest[optional:]
        if optional and not rest:
            return [alt]  # no variant would stand for the group left out
        heads = _split_alternatives(alt[3:close])
        if any(not h or h.startswith("\\") for h in heads):
            return [alt]
        variants = [h + rest for h in heads] + ([rest] if optional and rest else [])
        share = budget // len(variants)
        return [e for v in variants for e in _expand_head(v, share)]
    if (m := re.match(r"\[([a-z0-9]+)\]", alt)) and alt[m.end() : m.end() + 1] not in "?*+{":
        return [e for c in m.group(1) for e in _expand_head(c + alt[m.end() :], budget // 2)]
    return [alt]


def _literal_first(alt: str, space: bool = False) -> bool:
    """Does every match of ``alt`` start with its (ASCII letter or digit) first character?"""
    first = alt[:1]
    ok = (first.isascii() and first.isalnum()) or (space and first == " ")
    return ok and alt[1:2] not in ("?", "*", "+", "{")


def _literal_head(alt: str) -> str:
    """The literal text every match of ``alt`` starts with ("" if none)."""
    head, i = [], 0
    while i < len(alt):
        c, width = alt[i], 1
        if c == "\\" and alt[i + 1 : i + 2] and not alt[i + 1].isalnum():
            c, width = alt[i + 1], 2
        elif c in ".^$*+?{}[]()|\\":
            break
        if alt[i + width : i + width + 1] in ("?", "*", "{"):
            break  # optional, so not part of every match
        head.append(c)
        i += width
    return "".join(head)


def _trie(alternatives: list[tuple[str, _T]], depth: int = 0) -> tuple[str, list[_T]]:
    """``a|b|...`` with shared leading literal characters factored out.

    Returns the pattern and the payloads in the textual order of the alternatives. Siblings
    need different characters at the same offset, so regrouping cannot change which
    alternative wins at a position; within a group the given order is kept.
    """
    if (
        depth >= 8
        or len(alternatives) < 2
        or not all(_literal_first(a, True) for a, _ in alternatives)
    ):
        return "|".join(a for a, _ in alternatives), [p for _, p in alternatives]
    groups: dict[str, list[tuple[str, _T]]] = {}
    for alt, payload in alternatives:
        groups.setdefault(alt[0], []).append((alt[1:], payload))
    parts: list[str] = []
    payloads: list[_T] = []
    for key, rest in groups.items():
        inner, inner_payloads = _trie(rest, depth + 1)
        parts.append(f"{key}(?:{inner})" if len(rest) > 1 else key + inner)
        payloads.extend(inner_payloads)
    return "|".join(parts), payloads


def _head_char(alt: str) -> tuple[str, int] | None:
    """The literal character every match of ``alt`` opens with, and its width in the pattern."""
    c, width = alt[:1], 1
    if c == "\\":
        c, width = alt[1:2], 2
        if not c or c.isalnum():  # \w, \s, \d, \x27, \b: a class or an escape code
            return None
    elif not c or c in ".^$*+?{}[]()|":
        return None
    if alt[width : width + 1] in ("?", "*", "+", "{"):
        return None  # optional or repeated: not a fixed first character
    return c, width


def _openings_of(alt: str, limit: int = 32) -> set[str]:
    r"""Literal texts one of which every match of ``alt`` starts with.

    The leading fixed characters, with groups, classes and optional characters on the way
    multiplied out: ``(?:u\.\s?s\.\s?)?immigration`` opens with "u." or "immigration",
    ``e-?verify`` with "e-verify" or "everify". A path ends at the first thing that is not a
    fixed character (``\s?``, ``\w*``) or with the text a lookahead requires there; all
    paths end where they are when there would be more than ``limit`` of them.
    """
    found: set[str] = set()
    paths = [("", alt)]
    while paths:
        head, rest = paths.pop()
        if rest.startswith("(?="):
            inner = rest[3 : _scan_to(rest, 3, ")")]
            found |= {head + opening for opening in _openings_of(inner, limit)}
        elif rest.startswith("(?!"):  # takes up no text
            paths.append((head, rest[_scan_to(rest, 3, ")") + 1 :]))
        elif (steps := _first_characters(rest)) and len(found) + len(paths) + len(steps) <= limit:
            paths += [(head + char, tail) for char, tail in steps]
        else:
            found.add(head)
    return found


# An optional character ("s?", "-?", "\\.?"), or a class of plain characters ("[- ]?", "[ut]").
_CHOICE = re.compile(
    r"(?:\\(?P<escaped>[^\w\s])|(?P<char>[^.^$*+?{}\[\]()|\\])|\[(?P<chars>-?[a-z0-9 ']+-?|-)\])"
    r"(?P<optional>\?)?(?![?+*{])"
)


def _first_characters(alt: str, budget: int = 8) -> list[tuple[str, str]] | None:
    """``alt`` as (fixed first character, rest of the pattern) pairs, if it can be put so."""
    if head := _head_char(alt):
        return [(head[0], alt[head[1] :])]
    if budget <= 0:
        return None
    if m := _CHOICE.match(alt):
        rest = alt[m.end() :]
        steps = [(char, rest) for char in m["escaped"] or m["char"] or m["chars"]]
        if m["optional"]:
            if (without := _first_characters(rest, budget - 1)) is None:
                return None
            steps += without
        return steps
    variants = _expand_head(alt, budget)  # leading groups multiplied out
    if variants == [alt]:
        return None
    steps = []
    for variant in variants:
        if (more := _first_characters(variant, budget // len(variants))) is None:
            return None
        steps += more
    return steps


# Characters that may stand before a word. Matching one explicitly, rather than a \b or a
# lookbehind, gives the regex engine a first-character set to skip along with: several times
# faster. Patterns are searched in " " + text so that position 0 has one too.
_WORD_START = "".join(
    sorted(
        (set(string.whitespace + string.punctuation) - {"_"})
        | set("\u00a0\u2002\u2003\u2009\u200b\u2010\u2011\u2013\u2014\u00ab\u00bb\u2022\u00a7")
    )
)
_WORD_START_CLASS = "[" + re.escape(_WORD_START) + "]"
_NEVER = re.compile(r"(?!)")


def _fast_pattern(patterns: Sequence[str]) -> re.Pattern[str]:
    """Word-bounded patterns as one regex, to search in " " + text."""
    literal: list[tuple[str, None]] = []
    loose: list[str] = []
    for pattern in patterns:
        for alt in _split_alternatives(pattern):
            if _literal_first(alt):
                literal.append((f"{alt}(?!\\w)", None))
            else:
                loose.append(f"(?<!\\w)(?:{alt})(?!\\w)")
    parts = loose + ([f"{_WORD_START_CLASS}(?:{_trie(literal)[0]})"] if literal else [])
    return re.compile("|".join(parts))


# The word-start characters below U+0100, as bytes for Hyperscan. Texts are given to it as
# Latin-1 with "?" for every other character (one byte per character, so offsets stay those
# of the text), and "?" is a word-start character too.
_WORD_START_BYTES = "[" + "".join(f"\\x{ord(c):02x}" for c in _WORD_START if ord(c) < 256) + "]"


# A regex tried at a word start, and the rule each of its groups stands for.
_Tryout = tuple[Callable[[str, int], re.Match[str] | None], list[Rule]]


class _Prefilter:
    """The few word starts where a scanner's regex can match, found by Hyperscan in C.

    Every match of an alternative opens with one of a few literal texts (``_openings_of``).
    Hyperscan reports the word starts where one of them begins in one pass, however many
    alternatives there are: two to five per item, of some thirty word starts that the regex
    would otherwise each try with a comparison per distinct first letter. At those starts
    alone, in order and from the end of the last hit on, the alternatives that can open with
    what was found there are then tried, which gives exactly the hits of a scan over every
    word start. They are tried as a small regex per opening, because a match object has a
    slot for every group of its regex and the scanner's has a group per alternative.
    """

    def __init__(self, alternatives: Sequence[tuple[str, Rule]]) -> None:
        openings: dict[bytes, set[int]] = {}  # opening -> the alternatives that can open so
        for index, (alt, _) in enumerate(alternatives):
            for text in _openings_of(alt):
                # Cut before a character beyond Latin-1 (a "?" in the text Hyperscan sees).
                opening = text.encode("latin-1", "replace").split(b"?")[0]
                openings.setdefault(opening, set()).add(index)
        # Only the shortest of openings that extend one another is searched for, so a word
        # start is reported once; the alternatives of the longer ones can open there too.
        shortest: list[bytes] = []
        tried: list[set[int]] = []
        for opening in sorted(openings):
            if shortest and opening.startswith(shortest[-1]):
                tried[-1] |= openings[opening]
            else:
                shortest.append(opening)
                tried.append(set(openings[opening]))
        self._database = hyperscan.Database()
        self._database.compile(
            expressions=[
                (_WORD_START_BYTES + "".join(f"\\x{b:02x}" for b in opening)).encode()
                for opening in shortest
            ],
            ids=list(range(len(shortest))),
            elements=len(shortest),
            flags=hyperscan.HS_FLAG_SOM_LEFTMOST,
        )
        compiled: dict[tuple[int, ...], _Tryout] = {}
        self._tryouts: list[_Tryout] = []  # by the opening's id
        for indexes in tried:
            key = tuple(sorted(indexes))  # the scanner's order, which decides between rules
            if key not in compiled:
                body, rules = _trie([alternatives[i] for i in key])
                compiled[key] = (re.compile(f"{_WORD_START_CLASS}(?:{body})").match, rules)
            self._tryouts.append(compiled[key])

    def scan(self, spaced: str) -> list[_Hit] | None:
        """The scanner's hits in ``spaced``; None if Hyperscan is busy in another thread."""
        found: dict[int, int] = {}  # word start -> the opening found there
        try:
            data = spaced.encode("latin-1", "replace")
            self._database.scan(data, match_event_handler=_note_start, context=found)
        except hyperscan.ScratchInUseError:  # its scratch space is one per database
            return None
        hits: list[_Hit] = []
        end = 0
        for start in sorted(found):
            if start >= end:
                match, rules = self._tryouts[found[start]]
                if hit := match(spaced, start):
                    end = hit.end()
                    hits.append((rules[(hit.lastindex or 0) - 1], start, end - 1))
        return hits


def _note_start(opening: int, start: int, end: int, flags: int, found: Any) -> None:
    """Hyperscan's callback for each opening it finds."""
    found[start] = opening


class _Scanner:
    """Many rules in one regex; each alternative ends in an empty group naming its rule.

    Alternatives are merged into a trie on their leading characters, so a word start costs a
    comparison per distinct first letter, not per alternative. Where two rules match at one
    position, the one listed first in the topic file wins. Alternatives that open with
    anything but a letter or digit are scanned separately, with a slower lookbehind, and win
    over the others. With Hyperscan installed, the scan that every item goes through only
    tries the word starts that ``_Prefilter`` finds.
    """

    def __init__(self, rules: Sequence[Rule]) -> None:
        literal: list[tuple[str, Rule]] = []
        loose: list[tuple[str, Rule]] = []
        for rule in rules:
            for alt in rule.alternatives:
                if _literal_first(alt):
                    literal.append((f"{alt}(?!\\w)()", rule))
                else:
                    loose.append((f"(?<!\\w)(?:{alt})(?!\\w)()", rule))
        body, self._rules = _trie(literal)
        # With few first characters (the case-sensitive ICE rules), a plain search that skips
        # to them is faster still: the word boundary is checked by hand, and a text without
        # any of their literal openings ("ICE") is ruled out by a substring test.
        heads = {a[0] for a, _ in literal}
        self._by_hand = len(heads) <= 3
        openings = {_literal_head(a) for a, _ in literal} if self._by_hand else set()
        self._openings = (
            re.compile("|".join(re.escape(h) for h in sorted(openings)))
            if openings and "" not in openings
            else None
        )
        prefix = "" if self._by_hand else _WORD_START_CLASS
        self._regex = re.compile(f"{prefix}(?:{body})") if literal else _NEVER
        self._loose = [r for _, r in loose]
        self._loose_regex = re.compile("|".join(b for b, _ in loose)) if loose else None
        self.empty = not literal and not loose
        self._lean = not loose and not self._by_hand  # the path every item takes
        self._prefilter: _Prefilter | None = None
        if self._lean and literal and hyperscan is not None:
            # Without it (say, on a CPU Hyperscan was not built for) every word start is tried.
            with contextlib.suppress(hyperscan.error):
                self._prefilter = _Prefilter(literal)

    def scan(self, text: str, spaced: str) -> list[_Hit]:
        """All hits in ``text``; ``spaced`` is " " + text (made once per item)."""
        if self._prefilter is not None and (hits := self._prefilter.scan(spaced)) is not None:
            return hits
        if self._lean:
            rules = self._rules
            return [
                (rules[m.lastindex - 1], m.start(), m.end() - 1)
                for m in self._regex.finditer(spaced)
                if m.lastindex
            ]
        if self._openings is not None and not self._openings.search(text):
            return []
        return self.scan_from(text, spaced, 0, len(text))

    def scan_from(self, text: str, spaced: str, pos: int, before: int) -> list[_Hit]:
        """Hits that start in text[pos:before] (they may end later)."""
        hits: list[_Hit] = []
        if self._loose_regex is not None:
            for m in self._loose_regex.finditer(text, pos):
                if m.start() >= before:
                    break
                hits.append((self._loose[(m.lastindex or 0) - 1], m.start(), m.end()))
        rules = self._rules
        if self._by_hand:
            for m in self._regex.finditer(text, pos):
                start = m.start()
                if start >= before:
                    break
                if m.lastindex and not (start and _is_word(text[start - 1])):
                    hits.append((rules[m.lastindex - 1], start, m.end()))
            return hits
        # In " " + text the word-start character before a word sits at the word's own offset.
        for m in self._regex.finditer(spaced, pos):
            if m.start() >= before:
                break
            hits.append((rules[(m.lastindex or 0) - 1], m.start(), m.end() - 1))
        return hits


# --- text helpers -------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Lower case with straight quotes, character for character (offsets stay valid)."""
    folded = text.lower()
    if len(folded) != len(text):  # a few letters (e.g. "İ") lower-case to two characters
        folded = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    if "\u2019" in folded or "\u2018" in folded:
        folded = folded.replace("\u2019", "'").replace("\u2018", "'")
    if "\u201c" in folded or "\u201d" in folded:
        folded = folded.replace("\u201c", '"').replace("\u201d", '"')
    return folded


def _is_word(char: str) -> bool:
    """What \\w matches in a str pattern."""
    return char.isalnum() or char == "_"


_BREAK_CHARS = re.compile(r"[;:\n.]")


def _clause_break(lowered: str, start: int, end: int) -> bool:
    """A ';', ':', line break or sentence end in lowered[start:end]? ("U.S." is not one.)"""
    if not _BREAK_CHARS.search(lowered, start, end):  # the usual case: one search decides
        return False
    for m in _BREAK_CHARS.finditer(lowered, start, end):
        i = m.start()
        if lowered[i] != "." or (
            i >= 3 and lowered[i + 1 : i + 2].isspace() and lowered[i - 3 : i].isalnum()
        ):
            return True
    return False


# --- classification -----------------------------------------------------------------------

_EMPTY = Classification(False, 0.0, None, None, ())
_SPAN = operator.itemgetter(1, 2)
# Enum members are looked up through the class on every access (slow in 3.11): bind them once.
_FRAME, _NEGATOR = RuleKind.FRAME, RuleKind.NEGATOR


class Classifier:
    def __init__(self, topic: Topic) -> None:
        self.topic = topic
        rules = topic.rules
        self._evidence = _Scanner(
            [r for r in rules if r.kind in _EVIDENCE and not r.case_sensitive]
        )
        self._evidence_cs = _Scanner([r for r in rules if r.kind in _EVIDENCE and r.case_sensitive])
        self._cues = _Scanner([r for r in rules if r.kind in _CUES and not r.case_sensitive])
        self._cues_cs = _Scanner([r for r in rules if r.kind in _CUES and r.case_sensitive])
        self._category_order = {c.name: i for i, c in enumerate(topic.categories)}

    def classify(self, text: str) -> Classification:
        lowered = _fold(text)
        spaced = " " + lowered
        hits = self._evidence.scan(lowered, spaced)
        if not self._evidence_cs.empty:
            hits += self._evidence_cs.scan(text, " " + text)
        if not hits:
            return _EMPTY
        signals, shown = self._resolve(text, spaced, hits)
        if not signals and not shown:
            return _EMPTY
        # The noisy OR over distinct rules (a rule's weight is the same at every match).
        counted: dict[Rule, None] = {}
        miss = 1.0
        for rule, _, _ in signals:
            if rule.weight > 0.0 and rule not in counted:
                counted[rule] = None
                miss *= 1.0 - rule.weight
        score = round(1.0 - miss, 3)
        if score < self.topic.threshold:
            # A weak signal's label ("services regardless of immigration status") describes
            # the item only when nothing stronger does.
            shown += signals
            return _classification(False, score, None, None, _matches(text, shown), _labels(shown))
        category = self._category(counted)
        direction, cues = self._direction(text, lowered, spaced, signals, category)
        secondary = _labels(shown) if shown else ()
        matches = _matches(text, shown + signals + cues)
        return _classification(True, score, category, direction, matches, secondary)

    def _resolve(self, text: str, spaced: str, hits: list[_Hit]) -> tuple[list[_Hit], list[_Hit]]:
        """The signals that count, and the secondary-label hits."""
        signals: list[_Hit] = []
        shown: list[_Hit] = []
        pending: list[_Hit] = []
        tags: set[str] = set()
        # The scan does not overlap matches, so a hit that turns out not to count (vetoed, or
        # its requirements unmet) may have swallowed the start of one that does: the text it
        # covered is scanned again, for rejected hits at once and for unmet ones in one more
        # round.
        rounds = 2
        while True:
            while hits:
                rejected = []
                for hit in hits:
                    rule = hit[0]
                    if rule.guarded and not self._allowed(hit, spaced):
                        rejected.append(hit)
                    elif rule.conditional:
                        if rule.is_signal:
                            pending.append(hit)
                    else:
                        if rule.is_signal:
                            signals.append(hit)
                        elif rule.label:
                            shown.append(hit)
                        if rule.tags:  # only unconditional hits supply tags: no chains
                            tags |= rule.tags
                hits = self._rescan(text, spaced, rejected) if rejected else rejected
            if not pending:
                return signals, shown
            unmet = [h for h in pending if not h[0].satisfied_by(tags)]
            if not unmet:
                return signals + pending, shown
            rounds -= 1
            if not rounds or not (hits := self._rescan(text, spaced, unmet)):
                return signals + [h for h in pending if h[0].satisfied_by(tags)], shown

    def _rescan(self, text: str, spaced: str, hits: list[_Hit]) -> list[_Hit]:
        found: list[_Hit] = []
        for rule, start, end in hits:
            if " " in text[start:end]:  # a single word hides no other word start
                if rule.case_sensitive:
                    found += self._evidence_cs.scan_from(text, " " + text, start + 1, end)
                else:
                    found += self._evidence.scan_from(spaced[1:], spaced, start + 1, end)
        return found

    def _allowed(self, hit: _Hit, spaced: str) -> bool:
        rule, start, end = hit
        if rule.max_start is not None and start > rule.max_start:
            return False
        # Vetoes search " " + text, where offsets shift by one and the word-start character
        # of the word at a window's left edge is one further left.
        reach = rule.veto_reach
        if rule.veto_any is None or not rule.veto_any.search(
            spaced, max(start - reach, 0), end + reach + 1
        ):
            return True
        for veto in rule.vetoes:
            lo = start - veto.window if veto.side != "after" else start
            hi = end + veto.window if veto.side != "before" else end
            if veto.regex.search(spaced, max(lo, 0), hi + 1):
                return False
        return True

    def _category(self, counted: Iterable[Rule]) -> str | None:
        """The category whose distinct rules add up to the most evidence; file order breaks ties."""
        miss: dict[str, float] = {}
        for rule in counted:
            if (category := rule.category) is not None:
                miss[category] = miss.get(category, 1.0) * (1.0 - rule.weight)
        if len(miss) <= 1:
            return next(iter(miss), self.topic.default_category)
        order = self._category_order
        return min(miss, key=lambda name: (round(miss[name], 9), order[name]))

    def _direction(
        self, text: str, lowered: str, spaced: str, signals: list[_Hit], category: str | None
    ) -> tuple[Direction, list[_Hit]]:
        cues = self._cues.scan(lowered, spaced)
        if not self._cues_cs.empty:
            cues += self._cues_cs.scan(text, " " + text)
        framing: list[_Hit] = []
        negators: list[_Hit] = []
        boundaries: list[int] = []
        frame_weight = 0.0
        for hit in cues:
            rule = hit[0]
            if rule.guarded and not self._allowed(hit, spaced):
                continue
            if rule.kind is _FRAME:
                frame_weight += rule.weight
                if rule.weight > 0:
                    framing.append(hit)
            elif rule.kind is _NEGATOR:
                negators.append(hit)
            else:
                boundaries.append(hit[1])
        if frame_weight >= self.topic.neutral_threshold:
            return "neutral", framing
        # The category's own evidence decides; generic mentions of the agency only when the
        # category's rules carry no polarity.
        voters = [h for h in signals if h[0].category == category and h[0].votes]
        voters = voters or [h for h in signals if h[0].votes]
        reversed_by: dict[Rule, bool] = {}  # one vote per rule, reversed if any match is
        used: list[_Hit] = []
        for rule, start, _ in voters:
            negator = (
                self._negator_before(start, negators, boundaries, lowered) if negators else None
            )
            if negator is not None:
                used.append(negator)
                reversed_by[rule] = True
            else:
                reversed_by.setdefault(rule, False)
        expands = limits = 0.0
        for rule, reverse in reversed_by.items():
            # An explicit reversal ("amend the contract to prohibit sharing with ICE") is the
            # act the item performs; the bare mention of what it acts on is not.
            weight = rule.weight * (self.topic.negated_vote_factor if reverse else 1.0)
            if (rule.polarity == "expands") != reverse:
                expands += weight
            else:
                limits += weight
        if expands == limits:
            return "neutral", []
        return ("expands" if expands > limits else "limits"), used

    def _negator_before(
        self, start: int, negators: list[_Hit], boundaries: list[int], lowered: str
    ) -> _Hit | None:
        """The nearest negator ending before ``start`` in the same clause, if close enough."""
        nearest = None
        for negator in negators:
            if negator[2] > start:
                break
            nearest = negator
        if nearest is None or start - nearest[2] > self.topic.negation_window:
            return None
        if _clause_break(lowered, nearest[2], start):
            return None
        # A boundary right after the negator introduces its object ("suing over the order").
        if boundaries and any(nearest[2] + 1 < b < start for b in boundaries):
            return None
        return nearest


# A frozen dataclass's __init__ sets each field through object.__setattr__: about a
# microsecond per object, and a relevant item gets five or so (a third of its work after the
# scans). Results are built here through the slot descriptors instead, which store the same
# values directly; the objects are the same as the constructors' (equal, same hash and repr).
_new = object.__new__
_set_start, _set_end, _set_text, _set_rule = (
    getattr(Match, f.name).__set__ for f in dataclasses.fields(Match)
)
_set_relevant, _set_score, _set_category, _set_direction, _set_matches, _set_secondary = (
    getattr(Classification, f.name).__set__ for f in dataclasses.fields(Classification)
)


def _matches(text: str, hits: list[_Hit]) -> tuple[Match, ...]:
    # Hits come from different scanners, so one (start, end, rule) never appears twice.
    hits.sort(key=_SPAN)
    matches = []
    for rule, start, end in hits:
        match = _new(Match)
        _set_start(match, start)
        _set_end(match, end)
        _set_text(match, text[start:end])
        _set_rule(match, rule.name)
        matches.append(match)
    return tuple(matches)


def _classification(
    relevant: bool,
    score: float,
    category: str | None,
    direction: Direction | None,
    matches: tuple[Match, ...],
    secondary: tuple[str, ...],
) -> Classification:
    result = _new(Classification)
    _set_relevant(result, relevant)
    _set_score(result, score)
    _set_category(result, category)
    _set_direction(result, direction)
    _set_matches(result, matches)
    _set_secondary(result, secondary)
    return result


def _labels(hits: list[_Hit]) -> tuple[str, ...]:
    return tuple(sorted({h[0].label for h in hits if h[0].label}))


@functools.cache
def default_classifier() -> Classifier:
    """The bundled ICE topic, loaded once per process."""
    source = resources.files("tracker.topics").joinpath(BUNDLED_TOPIC)
    return Classifier(Topic.from_toml(source.read_text(encoding="utf-8"), str(source)))


def classify_stream(lines: Iterable[str], out: TextIO, classifier: Classifier | None = None) -> int:
    """JSON Lines ``{"id", "text"}`` in, one result line per input line out, in order.

    A line that is not a JSON object with a string "text" gets ``{"id", "error"}`` instead;
    returns how many such lines there were.
    """
    clf = classifier or default_classifier()
    errors = 0
    for line in lines:
        record: object = None
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("line is not a JSON object")
            text = record.get("text")
            if not isinstance(text, str):
                raise ValueError('missing "text" (a string)')
            result = clf.classify(text).to_json(record.get("id"))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            errors += 1
            ident = record.get("id") if isinstance(record, dict) else None
            result = {"id": ident, "error": " ".join(str(exc).split()) or type(exc).__name__}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return errors
