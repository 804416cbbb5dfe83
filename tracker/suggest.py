"""Suggested statements: who said what about an item, from minutes text or a news passage.

Rule-based and general: nothing here names a city, a person or a passage. For each passage
the suggester

1. finds the people: a name after an office ("Councilor Hunter Williams", "Ald. Lopez",
   "Mayor Pro Tem Martinez", "Council member Linkhart"), lists that share an office
   ("Councilors Carol Clarke, Darrell O'Quinn and LaTonya Tate"), and later mentions of the
   same surname or of a roster member's name;
2. splits the text into sentences (never inside a quotation) and gives each person the part
   of the sentence that is theirs: from their name to the next person, stopping where the
   sentence turns to another subject (", and the council ..."), plus the quotations
   attributed to them ("..., said X", "X said: ...", a quotation in the next sentence
   with no other speaker);
3. decides a stance from that part, strongest evidence first:
   a. what the text says they did or said about the item: voted against, opposed, asked
      that it be pulled (oppose); undecided, had not made up their mind (undecided);
      hesitance, concerns, reservations, cautioned (concerned); sponsored, introduced,
      proud to support, voted to (support). Opposition outranks concern, concern outranks
      support ("supports the ordinance but cautioned ..." is concerned). Cues whose subject
      is someone else ("residents opposing ...") are ignored;
   b. a judgement of the item ("symbolic", "performative", "a bad idea"): oppose;
   c. which side their words take, weighed against the item's direction: talk of
      immigrant families, fear and deportation leans to limiting cooperation; talk of
      crime, trafficking and illegality leans to expanding it. Leaning the item's way is
      support, the other way oppose. The item's direction comes from the classifier on the
      topic (or the passage), turned around when the topic ends, bans or pauses what it
      names ("phasing out the ICE contract" limits cooperation). With no direction, or
      words on both sides, nothing is suggested.
4. quotes the evidence: the person's own quotation when there is one, else the clause that
   carried the cue. Every quote is an exact substring of the input (``start``/``end``).

Nothing suggested is published or counted until a person confirms it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tracker.classify import default_classifier
from tracker.names import normalize_name, wordset

STANCES = ("support", "oppose", "undecided", "concerned")

# --- people ------------------------------------------------------------------------------

_TITLE = (
    r"(?:(?:Ward|District|Precinct|Seat|Place)\s+\d+\s+)?"
    r"(?i:mayor\s+pro\s+tem(?:pore)?|vice\s+mayor|deputy\s+mayor|"
    r"council\s+(?:vice\s+)?(?:president|chair(?:man|woman|person)?)|"
    r"(?:board|legislature|commission|county)\s+(?:vice\s+)?(?:president|chair(?:man|woman)?)|"
    r"council\s*(?:member|man|woman|person)s?|councilm[ae]n|councilwom[ae]n|"
    r"council(?:l)?ors?|"
    r"ald\.|alder(?:man|men|woman|women|person|persons)?|"
    r"supervisors?|commissioners?|legislators?|trustees?|selectm[ae]n|selectwom[ae]n|"
    r"freeholders?|mayor|vice\s+chair(?:man|woman)?|chair(?:man|woman|person)?|president|"
    r"governor|senator|sen\.|representative|rep\.|delegate|(?<=\s)members?)"
)
_NAME_WORD = (
    r"(?:[A-Z]\.(?:[A-Z]\.)*|(?:Mc|Mac|O'|O’|D'|La|De)?[A-Z][a-zà-ÿ'’]+(?:-[A-Z][a-zà-ÿ'’]+)?)"
)
_NAME = rf"{_NAME_WORD}(?:\s+(?:{_NAME_WORD}|(?:de|del|la|van|von|da)\s+{_NAME_WORD})){{0,3}}"
_SEP = r"(?:\s*,\s*(?:and\s+)?|\s+and\s+)"
_MENTION = re.compile(
    rf"(?P<title>{_TITLE})(?:\s*[-–—:]\s*|\s+)(?P<names>{_NAME}(?:{_SEP}(?:{_TITLE}\s+)?{_NAME})*)"
)
_LIST_NAME = re.compile(rf"(?:{_TITLE}\s+)?(?P<name>{_NAME})")
_NOT_NAMES = wordset(
    "The This That These Those It He She They We I A An And But Or If When While As City "
    "County Council Board Commission State Federal Committee Department Office Police "
    "Sheriff Governor Mayor President Chair Monday Tuesday Wednesday Thursday Friday"
)


@dataclass
class _Group:
    """One or more people named together, and where in the text they are named."""

    names: list[str]
    start: int
    end: int


def _split_names(span: str, offset: int) -> list[tuple[str, int]]:
    names = []
    for part in re.split(_SEP, span):
        match = _LIST_NAME.fullmatch(part.strip())
        if match is None:
            continue
        name = match.group("name").rstrip(".")
        if name.split()[0] in _NOT_NAMES:
            continue
        names.append((name, offset + span.find(part)))
    return names


def _mentions(text: str, roster: Sequence[str]) -> list[_Group]:
    groups: list[_Group] = []
    for match in _MENTION.finditer(text):
        span = match.group("names")
        names = [n for n, _ in _split_names(span, match.start("names"))]
        if names:
            groups.append(_Group(names, match.start(), match.end("names")))
    # Later mentions by surname ("Lin said"), or roster names written without an office.
    known = {n.split()[-1]: n for g in groups for n in g.names if len(n.split()) > 1}
    for name in roster:
        known.setdefault(name.split()[-1], name)
        known[name] = name
    taken = [(g.start, g.end) for g in groups]
    for written, full in sorted(known.items(), key=lambda kv: -len(kv[0])):
        for match in re.finditer(rf"(?<![\w'’-]){re.escape(written)}(?![\w'’-])", text):
            if any(s <= match.start() < e for s, e in taken):
                continue
            groups.append(_Group([full], match.start(), match.end()))
            taken.append((match.start(), match.end()))
    groups.sort(key=lambda g: g.start)
    return groups


# --- sentences and quotations ------------------------------------------------------------

_QUOTE = re.compile(r"\"[^\"]+\"|“[^”]+”")
_ABBREVIATIONS = wordset("ald mr mrs ms dr st rep sen gov jr sr no lt sgt gen col vs inc co dept")


def _quotes(text: str) -> list[tuple[int, int]]:
    """Interior spans of quotations."""
    return [(m.start() + 1, m.end() - 1) for m in _QUOTE.finditer(text)]


def _sentences(text: str, quotes: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    bounds: list[tuple[int, int]] = []
    start = 0
    for match in re.finditer(r"[.!?][\"”]?(?=\s+[\"“]?[A-Z])", text):
        end = match.end()
        if any(s < match.start() < e - 1 for s, e in quotes):
            continue  # a full stop inside a quotation
        word = re.search(r"(\w+)\W*$", text[start : match.start() + 1])
        if word and (word.group(1).lower() in _ABBREVIATIONS or len(word.group(1)) == 1):
            continue
        bounds.append((start, end))
        start = end
    if text[start:].strip():
        bounds.append((start, len(text)))
    return bounds


# --- evidence ----------------------------------------------------------------------------

_SPEECH = (
    r"(?:said|says|added|told|wrote|asked|argued|answered|responded|replied|explained|noted|"
    r"stated|warned|declared|remarked|insisted|contended|countered|called)"
)
_SPEECH_AFTER_QUOTE = re.compile(rf"^[\s,.]*{_SPEECH}\b", re.IGNORECASE)
_SPEECH_VERB = re.compile(rf"\b{_SPEECH}\b", re.IGNORECASE)
_PRONOUN_SPEECH = re.compile(rf"\b(?:he|she|they)\s+{_SPEECH}\b", re.IGNORECASE)
# Where a sentence turns to another subject: the person's part ends there.
_TURN = re.compile(
    r",?\s+(?:and|but|while|whereas|as|before|after|when)\s+(?:the|a|an|other|several|many|"
    r"most|some|residents|speakers|commissioners|councilmembers|members)\b|;\s+(?=[A-Z])",
)
_FOREIGN_SUBJECT = re.compile(
    r"\b(?:residents|speakers|activists|critics|advocates|opponents|supporters|protesters|"
    r"groups|people|others|constituents|members of the public)\s+(?:who\s+)?(?:are\s+|were\s+)?$",
    re.IGNORECASE,
)

_CUES: dict[str, re.Pattern[str]] = {
    "oppose": re.compile(
        r"\b(?:vot(?:ed|es|ing|e)\s+(?:against|no)\b|would\s+vote\s+(?:against|no)\b|"
        r"oppos(?:e|ed|es|ing|ition)\b|spoke\s+against|argued\s+against|"
        r"(?:will|would|could|can|do|does|did|ca|wo)\s*(?:not|n't|n’t)\s+(?:support|back|vote\s+for|"
        r"vote\s+to)\b|cannot\s+(?:support|back|vote\s+for)|won't\s+(?:support|back)|"
        r"(?:moved|motion|voted|asked)\s+(?:that\s+.{0,80}?\s+be\s+|to\s+)"
        r"(?:pulled|tabled?|withdrawn|removed|kill(?:ed)?|reject(?:ed)?|defeat(?:ed)?)\b|"
        r"stay\s+away\s+from|against\s+(?:it|the|this)\b)",
        re.IGNORECASE,
    ),
    "undecided": re.compile(
        r"\b(?:undecided|either\s+way|on\s+the\s+fence|not\s+(?:yet\s+)?(?:made\s+up|decided)|"
        r"had\s*(?:not|n't)\s+(?:yet\s+)?(?:made\s+up|decided)|still\s+weighing|"
        r"declined\s+to\s+(?:say|take\s+a\s+position|commit)|no\s+position|"
        r"neither\s+support|before\s+(?:committing|deciding|I\s+decide))\b",
        re.IGNORECASE,
    ),
    "concerned": re.compile(
        r"\b(?:hesitan\w*|concern(?:s|ed)?|reservations?|caution(?:ed|s)?|uncomfortable|"
        r"uneasy|troubled|skeptic\w*|wary|worried\s+(?:that|about|the)|"
        r"questioned\s+(?:whether|if)|expressed\s+surprise|not\s+ready\s+to|not\s+sure)\b",
        re.IGNORECASE,
    ),
    "support": re.compile(
        r"\b(?:support(?:s|ed|ing)?\b|in\s+favou?r\b|(?:co-?|prime\s+|main\s+)?sponsor(?:s|ed)?\b|"
        r"introduced|(?:who\s+)?proposed\s+(?:it|the|a|an|this)\b|brought\s+the\s+(?:motion|measure|proposal)|"
        r"behind\s+the\s+(?:proposal|measure|ordinance|resolution|bill)|advocated\s+for|"
        r"champion(?:ed|s)?|pushed\s+for|push(?:ed|ing)?\s+(?:\w+\s+){0,3}forward|"
        r"urged\s+(?:\w+\s+){0,3}to\s+(?:pass|approve|adopt|support)|"
        r"vot(?:ed|es)\s+(?:for|yes|in\s+favou?r|to)\b|(?:would|will)\s+vote\s+(?:yes|for)\b|"
        r"would\s+sign|proud|pleased)",
        re.IGNORECASE,
    ),
}
_NEGATIVE_JUDGEMENT = re.compile(
    r"\b(?:(?:merely|only|just|purely|completely|largely)\s+(?:a\s+)?symbolic|performative|redundan\w*|unfair\w*|unfavou?rable|unnecessary|overreach|"
    r"reckless|(?:a\s+)?bad\s+(?:idea|policy|place|precedent|deal)|(?:a\s+)?mistake|"
    r"wrong\s+message|smacks\s+of|does\s+nothing)\b",
    re.IGNORECASE,
)
_LEANS_LIMITS = re.compile(
    r"\b(?:immigrant\w*|undocumented|famil(?:y|ies)|deport\w*|fear\w*|terroriz\w*|"
    r"terroris\w*|hurt\w*|human\s+beings|humanity|welcom\w*|inclusive|safe\s+here|"
    r"neighbou?rs)\b|\bnot\b[^.;]{0,50}\b(?:immigration\s+(?:enforcement|agents?)|"
    r"deportation|ICE|federal\s+agents?)\b|\bwill\s+not\s+cooperate\b",
    re.IGNORECASE,
)
_LEANS_EXPANDS = re.compile(
    r"\b(?:crime|crimes|criminal\w*|traffick\w*|traffic|narcotics|drugs?|gangs?|illegal\w*|"
    r"lawbreak\w*|dangerous|offenders|public\s+safety|compl(?:y|iance)|rule\s+of\s+law|"
    r"law-abiding)\b",
    re.IGNORECASE,
)
_REVERSING = re.compile(
    r"\b(?:end(?:s|ing)?|terminat\w*|phas(?:e|es|ing)\s+out|cancel\w*|rescind\w*|repeal\w*|"
    r"ban(?:s|ning)?|prohibit\w*|moratorium|paus(?:e|es|ing)|withdraw\w*|"
    r"not\s+renew\w*)\b|-free\b",
    re.IGNORECASE,
)


def topic_direction(topic: str | None, text: str = "") -> str | None:
    """``expands``, ``limits``, ``neutral`` or None for what the passage is about."""
    classifier = default_classifier()
    for source in (topic or "", text):
        if not source.strip():
            continue
        result = classifier.classify(source)
        if result.direction is None:
            continue
        if result.direction == "expands" and _REVERSING.search(source):
            return "limits"
        return str(result.direction)
    return None


@dataclass(frozen=True)
class Suggestion:
    person: str
    stance: str
    quote: str
    start: int
    end: int
    rule: str  # which kind of evidence decided: cue, judgement, leaning

    def as_dict(self) -> dict[str, object]:
        return {
            "person": self.person,
            "stance": self.stance,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "rule": self.rule,
        }


@dataclass
class _Part:
    """What a person's share of the text is: narrative spans and quotation spans."""

    narrative: list[tuple[int, int]] = field(default_factory=list)
    quotes: list[tuple[int, int]] = field(default_factory=list)


def _outside(span: tuple[int, int], quotes: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``span`` without the quotations in it."""
    pieces, cursor = [], span[0]
    for qs, qe in quotes:
        if qe <= span[0] or qs >= span[1]:
            continue
        if qs - 1 > cursor:
            pieces.append((cursor, qs - 1))
        cursor = max(cursor, qe + 1)
    if cursor < span[1]:
        pieces.append((cursor, span[1]))
    return pieces


def _parts(text: str, groups: list[_Group]) -> list[tuple[_Group, _Part]]:
    quotes = _quotes(text)
    sentences = _sentences(text, quotes)
    parts: dict[int, _Part] = {}
    last_speaker: int | None = None
    for s_start, s_end in sentences:
        inside = [i for i, g in enumerate(groups) if s_start <= g.start < s_end]
        s_quotes = [q for q in quotes if s_start <= q[0] < s_end]
        if not inside:
            if last_speaker is not None and (
                s_quotes or _PRONOUN_SPEECH.search(text[s_start:s_end])
            ):
                part = parts.setdefault(last_speaker, _Part())
                part.quotes += s_quotes
                if not s_quotes:
                    part.narrative += _outside((s_start, s_end), quotes)
            continue
        owner: dict[tuple[int, int], int] = {}
        for q in s_quotes:
            after = [i for i in inside if groups[i].start >= q[1]]
            before = [i for i in inside if groups[i].end <= q[0]]
            gap = text[q[1] + 1 : groups[after[0]].start] if after else ""
            if after and _SPEECH_AFTER_QUOTE.search(gap):  # "...," said X
                owner[q] = after[0]
            elif before and _SPEECH_VERB.search(text[groups[before[-1]].end : q[0]]):
                owner[q] = before[-1]  # X said: "..."
            elif (  # "...," X said
                after
                and re.fullmatch(r"[\s,.!?]*", gap)
                and _SPEECH_VERB.match(text[groups[after[0]].end :].lstrip(" ,"))
            ):
                owner[q] = after[0]
            elif before:
                owner[q] = before[-1]
            elif after:
                owner[q] = after[0]
        for n, i in enumerate(inside):
            group = groups[i]
            end = groups[inside[n + 1]].start if n + 1 < len(inside) else s_end
            zone_end = end
            for turn in _TURN.finditer(text, group.end, end):
                if not _inside_any(turn.start(), quotes):
                    zone_end = turn.start()
                    break
            start = group.end
            if n == 0:
                # A sentence that opens with this person's quotation: "'...,' said X, ..."
                lead = [q for q in s_quotes if q[1] <= group.start and owner.get(q) == i]
                if lead:
                    start = s_start
            part = parts.setdefault(i, _Part())
            part.narrative += _outside((start, zone_end), quotes)
            part.quotes += [q for q in s_quotes if owner.get(q) == i]
        last_speaker = (
            inside[-1]
            if len(inside) == 1 or not s_quotes
            else max((owner.get(q, inside[-1]) for q in s_quotes), default=inside[-1])
        )
    return [(groups[i], part) for i, part in sorted(parts.items())]


def _inside_any(position: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(s <= position < e for s, e in spans)


def _cue(text: str, spans: Sequence[tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """For each stance, where its first cue is found in ``spans`` (own subject only)."""
    found: dict[str, tuple[int, int]] = {}
    for stance, pattern in _CUES.items():
        for s, e in spans:
            for match in pattern.finditer(text, s, e):
                if _FOREIGN_SUBJECT.search(text[max(s, match.start() - 40) : match.start()]):
                    continue
                found.setdefault(stance, (match.start(), match.end()))
                break
            if stance in found:
                break
    return found


def _decide(found: dict[str, tuple[int, int]]) -> tuple[str, tuple[int, int]] | None:
    if "oppose" in found:
        return "oppose", found["oppose"]
    if "undecided" in found:
        return "undecided", found["undecided"]
    if "concerned" in found:
        return "concerned", found["concerned"]
    if "support" in found:
        return "support", found["support"]
    return None


def _clause(text: str, span: tuple[int, int], within: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The clause around a cue, inside the narrative piece that holds it."""
    piece = next(((s, e) for s, e in within if s <= span[0] < e), span)
    start, end = span
    while start > piece[0] and text[start - 1] not in ",;:.—–(":
        start -= 1
    while end < piece[1] and text[end] not in ",;:.—–)":
        end += 1
    return _trim(text, start, end)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] in "-–—,;:"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in "-–—,;:"):
        end -= 1
    return start, end


def _first_quote(text: str, quotes: Sequence[tuple[int, int]]) -> tuple[int, int]:
    s, e = quotes[0]
    s, e = _trim(text, s, e)
    while e > s and text[e - 1] in ",":
        e -= 1
    return s, e


def _leaning(text: str, spans: Sequence[tuple[int, int]]) -> str | None:
    limits = sum(len(_LEANS_LIMITS.findall(text, s, e)) for s, e in spans)
    expands = sum(len(_LEANS_EXPANDS.findall(text, s, e)) for s, e in spans)
    if limits and not expands:
        return "limits"
    if expands and not limits:
        return "expands"
    return None


def suggest(
    text: str,
    *,
    topic: str | None = None,
    direction: str | None = None,
    roster: Sequence[str] = (),
) -> list[Suggestion]:
    """Suggested (person, stance, quote) for each person the passage gives a stance to.

    ``topic`` names the item the stances are about (an agenda title); ``direction`` overrides
    the direction worked out from it; ``roster`` adds names to look for without an office.
    """
    groups = _mentions(text, roster)
    if not groups:
        return []
    item_direction = direction or topic_direction(topic, text)
    out: list[Suggestion] = []
    seen: set[tuple[str, str]] = set()
    for group, part in _parts(text, groups):
        narrative = [(s, e) for s, e in part.narrative if e > s]
        quotes = [(s, e) for s, e in part.quotes if e > s]
        told, quoted = _cue(text, narrative), _cue(text, quotes)
        decided = _decide({**quoted, **told})
        rule, stance, span = "cue", None, None
        if decided is not None:
            stance, cue = decided
            if stance in told:
                span = _quote_for(text, cue, narrative, quotes, stance)
            else:
                span = _first_quote(text, [next(q for q in quotes if q[0] <= cue[0] < q[1])])
        else:
            if any(_NEGATIVE_JUDGEMENT.search(text, s, e) for s, e in narrative + quotes):
                rule, stance = "judgement", "oppose"
                span = _evidence_span(text, _NEGATIVE_JUDGEMENT, narrative, quotes)
            elif item_direction in ("expands", "limits"):
                leaning = _leaning(text, narrative + quotes)
                if leaning is not None:
                    rule = "leaning"
                    stance = "support" if leaning == item_direction else "oppose"
                    pattern = _LEANS_LIMITS if leaning == "limits" else _LEANS_EXPANDS
                    span = _evidence_span(text, pattern, narrative, quotes)
        if stance is None or span is None or span[1] <= span[0]:
            continue
        for name in group.names:
            key = (normalize_name(name), stance)
            if key in seen:
                continue
            seen.add(key)
            out.append(Suggestion(name, stance, text[span[0] : span[1]], span[0], span[1], rule))
    return out


def _quote_for(
    text: str,
    cue: tuple[int, int],
    narrative: Sequence[tuple[int, int]],
    quotes: Sequence[tuple[int, int]],
    stance: str,
) -> tuple[int, int]:
    """The person's own words when they back the cue, else the clause with the cue."""
    if quotes and stance in ("support", "oppose"):
        return _first_quote(text, quotes)
    for q in quotes:
        if _CUES[stance].search(text, q[0], q[1]):
            return _first_quote(text, [q])
    return _clause(text, cue, narrative)


def _evidence_span(
    text: str,
    pattern: re.Pattern[str],
    narrative: Sequence[tuple[int, int]],
    quotes: Sequence[tuple[int, int]],
) -> tuple[int, int] | None:
    for q in quotes:
        if pattern.search(text, q[0], q[1]):
            return _first_quote(text, [q])
    for s, e in narrative:
        match = pattern.search(text, s, e)
        if match:
            return _clause(text, (match.start(), match.end()), narrative)
    return None
