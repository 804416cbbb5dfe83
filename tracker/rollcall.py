"""Votes parsed from minutes text, for councils that publish no structured votes.

``parse_rollcall(text, roster)`` reads one passage (a motion and its vote, as minutes, a
journal or a news story report it) and returns the result, whether the vote was unanimous,
the mover and seconder, the tally and one vote per person the text names. The grammar is
general, built from the ways US minutes write votes:

* labelled lists: ``AYES: A, B and Mayor C NOES: None ABSENT: D (1)``, ``Aye: 6 - A, B``,
  ``Yeas—A, B—2. Nays—None.``, ``Voting Aye: ...``, ``AYES: COUNCILMEMBERS: ...``,
  ``Affirmative – A, B – 2``, ``Votes for Yes: 41 Last, First M. ...`` (counts check the
  list; "Last, First" lists are read when the count says so), and Legistar PDF text whose
  column labels drifted away from their counts and names; a "Present:" list before any
  vote list is the attendance, used as the roster;
* name–value pairs: ``Daysog: No; Knox White: Aye``, ``Councilmember Warner-No``,
  ``Councilor Adler, aye;``, ``Barrett aye, Whitman nay``, ``Kim (aye)``;
* tables as text: pipe tables and space-aligned PDF columns, with one column per value
  (marked X) or a single "Vote" column, and ``YES NO Hedberg X Hedberg ...`` grids
  flattened to one line;
* narrative: ``A and B voted no``, ``5-2, Smith and Jones dissenting``, ``with X absent``,
  ``(Commissioner Price voting no)``, ``X recused herself``, ``Voting against were A and B``,
  ``'No' votes were cast by ...``, ``X, who voted against``, ``X was the only vote against``;
* motions: ``Motion by X, seconded by Y``, ``X moved and Y seconded``, ``on X's motion, Y's
  second``, ``Motion: X. Second: Y.``, ``M/S: X/Y``; results (``carried``, ``failed``;
  referrals count as passed) and tallies (``5-2``, ``4-0-0``, ``9 to 4``, ``5 Ayes - 0 Nays``).

What the text does not say is not invented. A passage the grammar cannot read gives no votes.
Two contradicting explicit votes for one person cancel out; prose naming more dissenters (or
supporters) than the tally has is dropped; names beside staff or public roles ("Sheriff
Lopez", "Public Works Director Smith") are never voters. Votes not written person by
person are *inferred* (``ParsedVote.inferred``): the mover and seconder of a motion carried
with no dissent; every roster member when the vote was unanimous or "all others voted aye"
(members recorded absent, recused ... excluded); the roster members left over when a tally
accounts for them exactly (3-3 with three named "no" and one absent on a seven-member body);
and X marks in a flattened grid, whose column is lost (read as the first column).

Several motions in one passage: the passage is cut into motions where a new motion starts
(a new "Motion by"/"moved" after a result) or where a later sentence reports another result
("also failed", a substitute, another tally). The FIRST motion that reports a vote (a
mover, a tally, a vote list, unanimity) is reported: minutes and stories report the motion
on the item first and follow it with substitutes, amendments, reconsiderations or the next
item. The exception is a first motion that is itself an amendment, substitute,
reconsideration or motion to table when a later one is named the main/original motion or
the motion "as amended"; then that one is reported. Give whole minutes one item at a time.

Values are the normalized set. Following the labelled corpus, "not voting", "did not vote",
"excused" and "off the dais" are recorded as ``absent``.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple, TextIO

from tracker.names import PARTICLES, TITLE_TOKENS, RosterMember, normalize_name, resolve_name
from tracker.names import wordset as _ws

VOTE_VALUES = ("yes", "no", "abstain", "absent", "excused", "recused", "present", "not_voting")


@dataclass(frozen=True, slots=True)
class ParsedVote:
    """One person's vote; ``name`` as written (the roster name when inferred from it)."""

    name: str
    value: str
    inferred: bool = False


@dataclass(frozen=True, slots=True)
class RollCall:
    """What a passage says about one motion."""

    result: str | None  # "passed" | "failed" | None
    unanimous: bool | None
    votes: tuple[ParsedVote, ...]
    mover: str | None
    seconder: str | None
    tally: tuple[int, int] | None  # (yes, no)

    def to_json(self, id: object) -> dict[str, object]:
        """The parse-rollcall output line (see DESIGN.md), plus inferred/mover/seconder."""
        return {
            "id": id,
            "result": self.result,
            "unanimous": self.unanimous,
            "votes": [
                {"name": v.name, "value": v.value, "inferred": v.inferred} for v in self.votes
            ],
            "mover": self.mover,
            "seconder": self.seconder,
        }


# --------------------------------------------------------------------------- vocabulary

# One-for-one replacements, so offsets in the working copy are offsets in the original.
_SAME_LENGTH = str.maketrans(
    {"’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"', "–": "-", "‑": "-", "‐": "-",
     "−": "-", "―": "—", "\u00a0": " ", "\t": " ", "\r": " ", "\u2009": " ", "\u202f": " "}
)  # fmt: skip
_TOKEN_RE = re.compile(
    # Short annotations in parentheses are one token: counts, wards, parties, districts.
    r"(?P<paren>\((?:\d{1,3}(?:st|nd|rd|th)?|[A-Z]{1,3}(?:-\w{1,3})?|e?s|"
    r"(?i:district|ward|dist\.)\s+\w{1,4})\))|(?P<word>[^\W\d_](?:[\w'.\-]*[\w.])?)"
    r"|(?P<ord>\d{1,2}(?:st|nd|rd|th)\b)|(?P<num>\d+)"
    r"|(?P<sep>[,;&])|(?P<punct>\S)"
)
# Titles may precede names in lists; party labels and "Judge" work the same way there.
_TITLES = (TITLE_TOKENS - {"the", "city", "county", "board"}) | _ws(
    "democrat democrats republican republicans independent judge judges dfl"
)
_PLACES = _ws("district ward seat precinct position")
_SUFFIXES = _ws("jr jr. sr sr. ii iii iv")
_ABBREVIATIONS = _ws("jr sr dr mr mrs ms st no vs hon mt ft gov sen rep lt sgt capt inc co")
_VOTE_WORDS = _ws(
    "aye ayes yea yeas yes nay nays nayes no noes absent abstain abstained abstaining "
    "abstention abstentions recused recuse recusal present excused x against opposed "
    "favor favour dissent dissenting none"
)
# Capitalised words that are never (part of) a councilor's name in a vote passage.
_STOP = _ws(
    """
    a an and or of to in on at by for with without from into upon after before during per
    via as but so if then than also not nor this that these those it its he she they them
    his her their we our you i there here who whom which what when where why how was were
    is are be been being has have had do does did said motion motions moved move moves
    second seconded seconds seconder vote votes voted voting roll call item items
    resolution resolutions ordinance ordinances agenda minutes consent calendar action
    result results total tally count all any each both other others rest remaining
    everyone nobody city county town village board commission committee court legislature
    body clerk staff manager attorney public comment hearing meeting session report
    approved approve approval passed carried failed adopted adopt denied tabled unanimous
    unanimously only lone sole new following above foregoing whereas therefore resolved
    section page exhibit attachment january february july september october november
    december monday tuesday wednesday thursday friday saturday sunday ice chairs upon
    however because since while today yesterday tonight voice question amendment
    substitute
    """
)
_NONE_WORDS = _ws("none nobody n/a")
# People who speak at meetings but do not vote on the body: a name next to one of these is
# never read as a voter ("Sheriff Lopez opposed the agreement").
_ROLES = _ws(
    """
    chief sheriff manager attorney clerk administrator resident residents speaker speakers
    officer officers police engineer planner superintendent secretary treasurer auditor
    assessor coroner controller comptroller recorder representative senator congressman
    congresswoman governor advocate advocates organizer spokesperson spokesman spokeswoman
    professor reverend pastor rabbi imam father executive
    """
)

_LABEL_RE = re.compile(
    r"(?<![\w'-])(?P<prefix>(?:votes?\s+(?:for|against)|those\s+voting|voting|members?)\s+)?"
    r"(?P<word>ayes?|yeas?|yes|nays?|nayes|noes|no|absent|abstain(?:ed|ing|s)?|"
    r"abstentions?|recus(?:ed|als?)|present|excused|not\s+voting|in\s+favou?r|opposed|against|"
    r"affirmative|negative)(?:\s*\((?P<count>\d{1,3})\))?"
    r"(?:\s*(?P<colon>[:—]|--)|\s+-\s)",
    re.IGNORECASE,
)
_LABEL_AHEAD = re.compile(r"\s*(?:[:—]|--)")
# Labels that list speakers, staff or guests ("Speakers in favor:", "Staff present:"), and
# numbers ("Resolution No: 24-15"), not votes.
_NOT_VOTE_LABEL = re.compile(
    r"\b(?:speak\w*|spoke|comments?|commenters?|testif\w*|testimony|public|residents?|staff|"
    r"also|others?|guests?|visitors?|letters?|e-?mails?|correspondence|cards?)\b[^.:;]{0,20}$"
    r"|\b(?:resolution|ordinance|item|bill|file|case|contract|agreement|number)\s*$",
    re.IGNORECASE,
)
_BOUNDARY_RE = re.compile(r"\bother\s+votes\b", re.IGNORECASE)
# Values written in tables and pairs, and the marks that tick a table's column.
_MARK_VALUES = {"aye": "yes", "ayes": "yes", "yes": "yes", "yea": "yes", "y": "yes",
                "nay": "no", "no": "no", "n": "no", "absent": "absent", "excused": "absent",
                "abstain": "abstain", "abstained": "abstain", "recused": "recused",
                "present": "present"}  # fmt: skip
_MARKS = {"x", "✓", "✔", "•", "*", "√"}

# Narrative phrases that FOLLOW the names they apply to.
_LEAD = r"(?:,\s*)?(?:who\s+)?(?:(?:was|were|being|having|has|have|had|both|each|all)\s+)*"
_POSTFIX: list[tuple[re.Pattern[str], str]] = [
    (re.compile(_LEAD + p, re.IGNORECASE), v)
    for p, v in [
        (r"vot(?:ed|ing|es?)\s+[\"']?(?:yes|aye)\b", "yes"),
        (r"vot(?:ed|ing)\s+(?:in\s+favou?r|in\s+the\s+affirmative|for\s+(?:the|it\b|this))\b",
         "yes"),
        (r"in\s+the\s+majority\b|in\s+support\b|in\s+favou?r(?=\s*(?:[.;,)]|and\b|$))", "yes"),
        (r"in\s+the\s+minority\b|against(?=\s*(?:[.;,)]|$))", "no"),
        (r"vot(?:ed|ing)\s+(?:[\"']?(?:no|nay)\b|against\b|in\s+opposition|in\s+the\s+negative)",
         "no"),
        (r"dissent(?:ing|ed)\b", "no"),
        (r"opposed\b(?!\s+by)|opposing(?=\s*(?:[.;,)]|$))", "no"),
        (r"(?:,\s*)?(?:being\s+)?the\s+(?:only|lone|sole)\s+(?:dissenter|dissenting\s+vote|no\s+vote)"
         r"(?=\s*(?:[.;,)]|$))", "no"),
        (r"(?:did|does|do)\s+not\s+support\b", "no"),
        (r"cast(?:s|ing)?\s+(?:the\s+|a\s+)?(?:only\s+|lone\s+|sole\s+)?(?:dissenting|[\"']?no[\"']?|nay)"
         r"\s+votes?\b", "no"),
        (r"(?:was|were)\s+the\s+(?:\w+\s+)?(?:dissenting|[\"']?no[\"']?|nay|opposing)\s+votes?\b",
         "no"),
        (r"(?:,\s*(?:the|a|an)\s+[^,.;]{1,60},\s*)?(?:was|cast(?:s|ing)?)\s+the\s+(?:only|lone|sole)\s+"
         r"(?:vote\s+against|dissenting\s+vote|[\"']?no[\"']?\s+vote|nay\s+vote|dissenter|"
         r"vote\s+in\s+opposition|opposing\s+vote)", "no"),
        (r"vot(?:ed|ing)\s+to\s+abstain|abstain(?:ed|ing)?\b", "abstain"),
        (r"recus(?:ed|ing)\b", "recused"),
        (r"vot(?:ed|ing)\s+[\"']?present\b", "present"),
        (r"absent\b|excused\b|off\s+the\s+dais(?:\s+or\s+absent)?|not\s+present\b", "absent"),
        (r"not\s+voting\b|did\s+not\s+vote\b|not\s+in\s+attendance\b", "absent"),
    ]
]  # fmt: skip
# Narrative phrases that PRECEDE the names they apply to.
_PREFIX: list[tuple[re.Pattern[str], str | None]] = [
    (re.compile(p, re.IGNORECASE), v)
    for p, v in [
        (r"\b(?:voting|voted|votes?\s+cast)\s+(?P<v>against|in\s+favou?r|in\s+opposition|yes|aye|"
         r"no|nay)\b[^.;:]{0,60}?\s(?:were|was)\s+", None),
        (r"[\"']?\b(?P<v>no|nay|yes|aye|dissenting|opposing)[\"']?\s+votes?\s+(?:were|was)\s+"
         r"cast\s+by\s+", None),
        (r"\b(?:was|were)\s+(?:approved|adopted|passed)\s+by\s+", "yes"),
        (r"\bopposed\s+by\s+", "no"),
        (r"\b(?:only|lone|sole)\s+(?:dissenting\s+vote|dissent|dissenter|[\"']?no[\"']?\s+vote|nay\s+vote)"
         r"\s+(?:was|came\s+from)\s+", "no"),
    ]
]  # fmt: skip
_PAIR_RE = re.compile(
    r"(?:\s*(?::|-|—|,)\s*|\s+(?=\w+\s*[,;.]|\w+$))[\"']?(?P<v>aye|yes|yea|no|nay|absent|abstain(?:ed)?|recused|present|"
    r"excused)[\"']?(?=\s*(?:[;,.)]|$|\band\b|\n)|\s+[A-Z])(?!\s*(?::|—))"
    r"|\(\s*(?P<pv>aye|yes|yea|no|nay|absent|abstain(?:ed)?|recused|present|excused)\s*\)",
    re.IGNORECASE,
)

_MOVER_AFTER = re.compile(
    r"\b(?:motion|moved)\s+(?:was\s+)?(?:made\s+|offered\s+|introduced\s+)?(?:by|of)\b\s*:?\s*"
    r"|\bmade\s+by\b\s*:?\s*|\b(?:motion|mover|moved)\s*:\s*",
    re.IGNORECASE,
)
_MOVER_BEFORE = re.compile(
    r"\s(?:made|offered|introduced)\s+(?:a|the)\s+motion\b|\smoved\b(?!\s+by)"
    r"|(?<=\w)'s\s+motion\b",
    re.IGNORECASE,
)
_SECOND_AFTER = re.compile(
    r"\b(?:seconded|second|supported)\s+by\b\s*:?\s*|\b(?:second|seconded|seconder)\s*:\s*",
    re.IGNORECASE,
)
_SLASH_MAKERS = re.compile(r"\b(?:M/S|motion/second(?:ed)?|moved/seconded)\b\s*:?\s*", re.I)
_SECOND_BEFORE = re.compile(r"\sseconded\b(?!\s+by)|(?<=\w)'s\s+second\b", re.IGNORECASE)

_PASS_RE = re.compile(
    r"\b(?:carried|carries|passed|passes|prevailed|adopted|approved|ratified|accepted|"
    r"authorized|granted|referred|advanced|sent\s+(?:back\s+)?to)\b",
    re.IGNORECASE,
)
_FAIL_RE = re.compile(
    r"\b(?:failed|fails|defeated|did\s+not\s+(?:pass|carry|prevail)|(?:was|were)\s+not\s+"
    r"(?:approved|adopted|passed|carried)|not\s+carried|motion\s+(?:lost|died|dies)|"
    r"died\s+for\s+lack|rejected)\b",
    re.IGNORECASE,
)
_NEGATED = re.compile(r"\b(?:not|previously|already|never)\s+$", re.IGNORECASE)
_PROCEDURAL = re.compile(
    r"\b(?:reconsider\w*|amend\w*|substitute|to\s+table|call\s+the\s+question|"
    r"previous\s+question)\b",
    re.IGNORECASE,
)
_MAIN_MOTION = re.compile(r"\b(?:main|original|underlying)\s+motion\b|\bas\s+amended\b", re.I)
_BODY_VOTED = re.compile(
    r"\b(?:council|commission|board|supervisors|court|legislature|committee|aldermen|"
    r"councilors|members|commissioners|legislators|trustees)\s+(?:\w+\s+)?voted\s+"
    r"(?:unanimously\s+)?to\b",
    re.IGNORECASE,
)
_UNANIMOUS_RE = re.compile(
    r"(?<!not\s)(?<!non-)\bunanim(?:ous(?:ly)?)\b"
    r"|\ball\s+(?!others?\b|remaining\b)(?:\w+\s+){0,2}?(?:voting|voted|vote)\s+[\"']?"
    r"(?:aye|yes|in\s+favou?r)"
    r"|\ball\s+(?:were\s+)?in\s+favou?r\b|\ball\s+ayes?\b|\bnone\s+opposed\b"
    r"|\bwithout\s+(?:objection|dissent)\b|\bno\s+(?:dissenting\s+votes?|nays|one\s+opposed)\b"
    r"|\bopposed\W+(?:there\s+(?:is|was|were|are)\s+)?none\b",
    re.IGNORECASE,
)
_OTHERS_AYE_RE = re.compile(
    r"\ball\s+(?:others?|remaining)\s+(?:\w+\s+){0,2}?(?:voting|voted|vote)\s+[\"']?"
    r"(?:aye|yes|in\s+favou?r)|\b(?:the\s+)?(?:rest|remainder|remaining\s+members)\s+"
    r"(?:of\s+the\s+\w+\s+)?(?:voting|voted)\s+(?:aye|yes|in\s+favou?r)",
    re.IGNORECASE,
)
_NEW_MOTION_CUE = re.compile(
    r"\b(?:also|another|substitute|subsequent(?:ly)?|second\s+motion|then|later|"
    r"amend(?:ment|ed)?|reconsider\w*)\b",
    re.IGNORECASE,
)
_TALLY_RE = re.compile(
    r"(?<![\w/.$#-])(\d{1,2})\s*(?:-?\s*to\s*-?|-|—)\s*(\d{1,2})"
    r"(?:\s*(?:-|—)\s*(\d{1,2}))?(?![\w/%]|[.,:-]\d)"
)
_TALLY_WORDS_RE = re.compile(
    r"\b(\d{1,2})\s+(?:ayes?|yeas?|yes)\b[\s,;:-]*(\d{1,2})\s+(?:nays?|nayes|noes|no)\b",
    re.IGNORECASE,
)
_TALLY_BEFORE = re.compile(
    r"(?:vot\w*|carried|passed|passes|approved|adopted|failed|fails|defeated|prevailed|"
    r"tally|margin|split|by\s+a|on\s+a|of|motion\s+\w+|(?:vote|tally|count)\s+(?:was|is|stood\s+at))"
    r"\W*$",
    re.IGNORECASE,
)
_TALLY_AFTER = re.compile(r"^\W*(?:vote|margin|decision|tally|split)\b", re.IGNORECASE)
_NOT_TALLY_BEFORE = re.compile(
    r"(?:no\.?|#|resolution|ordinance|item|section|bill|file|page|rule|chapter|district)\s*$",
    re.IGNORECASE,
)
_FLAT_HEADER_RE = re.compile(
    r"(?<![\w:])(?P<first>yes|yeas?|ayes?|no|nays?|noes)\s+(?:yes|yeas?|ayes?|no|nays?|noes)"
    r"(?:\s+(?:absent|abstain(?:ed)?|excused|recused))*\b(?!\s*[:—])",
    re.IGNORECASE,
)
_FLAT_ROW_RE = re.compile(
    r"\s*(?P<name>(?:[^\W\d_][\w'.\-]*\s+){0,3}?[^\W\d_][\w'.\-]*)\s+"
    r"(?P<mark>[Xx✓✔√]|Absent|Abstain(?:ed)?|Excused|Recused|Present)(?=\s|$)"
    r"(?:\s+(?P=name)(?=\s|$))?"
)


# Column headings of roll-call tables; "*" is a column holding the values themselves.
_HEADER_VALUES = {k: v for k, v in _MARK_VALUES.items() if len(k) > 1} | {
    "ayes": "yes", "yeas": "yes", "nays": "no", "noes": "no", "abstention": "abstain",
    "abstentions": "abstain", "recuse": "recused", "vote": "*", "votes": "*",
}  # fmt: skip
# Table cells set apart by two or more spaces; a name glued to its vote ("Warner-No");
# the number of a district or ward; token kinds that introduce a name rather than form it.
_ALIGNED_CELL = re.compile(r"\S+(?: \S+)*")
_GLUED_PAIR = re.compile(r"-(?:aye|yes|yea|no|nay|absent|abstain(?:ed)?|recused|present)$", re.I)
_NUMERAL = re.compile(r"(?:[IVX]{1,4}|[A-Z]|\d{1,2}(?:st|nd|rd|th)?)\.?")
_DESIGNATION = frozenset({"title", "place", "numeral"})
_NON_VOTING = re.compile(r"non-?voting|ex-?officio|ex\b", re.IGNORECASE)
_COUNT_PAREN = re.compile(r"\(\s*\d{1,3}\s*\)")
_NAMEISH = {"title", "name", "particle"}


# --------------------------------------------------------------------------- words


class _Tok(NamedTuple):
    kind: str  # paren | word | num | sep | punct
    text: str
    start: int
    end: int


@dataclass
class _Vote:
    start: int
    end: int
    value: str
    inferred: bool = False
    narrative: bool = False  # from prose rather than a list or table


@dataclass
class _Label:
    start: int
    end: int  # end of the label itself
    value: str | None  # None: a boundary such as "Other votes"
    limit: int = 0  # where the next label starts
    first: int = 0  # token index where its list starts
    count: int | None = None
    names: list[tuple[int, int]] = field(default_factory=list)
    none: bool = False  # "None" written out
    list_end: int = 0


def _core(word: str) -> str:
    """A word without its possessive and trailing dots."""
    if word[-2:] in ("'s", "'S"):
        word = word[:-2]
    return word.rstrip(".")


def _ends_sentence(word: str) -> bool:
    """A word whose final dot ends a sentence (not "M.", "J.T.", "Jr.", "U.S.")."""
    if not word.endswith("."):
        return False
    core = word[:-1]
    if len(core) <= 1 or "." in core:
        return False
    return core.casefold() not in _ABBREVIATIONS


def _word_kind(word: str) -> str:
    """title | role | place | stop | particle | name | lower, for a word on its own."""
    core = _core(word)
    if not core:
        return "stop"
    if len(core) == 1 and word.endswith(".") and core.isupper():
        return "name"  # an initial: "Carrie M. Beale", "Gregory I. Mitchell"
    if _GLUED_PAIR.search(core):
        return "stop"  # "Colinas-No": a name and its vote, the end of the previous pair
    folded = core.casefold()
    if folded in _TITLES:
        return "title"
    if folded in _ROLES:
        return "role"
    if folded in _PLACES:
        return "place"
    if folded in _STOP or folded in _VOTE_WORDS:
        return "stop"
    if folded in PARTICLES:
        return "particle"
    return "name" if core[0].isupper() else "lower"


def _label_value(word: str) -> str:
    w = " ".join(word.casefold().split())
    if w.startswith(("aye", "yea", "yes", "in fav", "affirm")):
        return "yes"
    if w.startswith(("nay", "no", "opp", "aga", "neg")) and w != "not voting":
        return "no"
    if w.startswith("abst"):
        return "abstain"
    if w.startswith("recus"):
        return "recused"
    if w == "present":
        return "present"
    return "absent"  # absent, excused, not voting


def _value_word(word: str) -> str:
    w = word.casefold()
    return "no" if w in ("dissenting", "opposing") else _label_value(w)


def _cells(line: str, offset: int) -> list[tuple[tuple[int, int], str]]:
    """Cells of a table row with their spans: between pipes, or runs of words that are set
    apart by two or more spaces."""
    if "|" in line:
        out, pos = [], offset
        for piece in line.split("|"):
            stripped = piece.strip()
            start = pos + (piece.index(stripped) if stripped else 0)
            out.append(((start, start + len(stripped)), stripped))
            pos += len(piece) + 1
        if out and not out[0][1]:
            out = out[1:]  # a leading "|"
        if out and not out[-1][1]:
            out = out[:-1]  # a trailing "|"
        return out
    return [
        ((offset + m.start(), offset + m.end()), m.group()) for m in _ALIGNED_CELL.finditer(line)
    ]


class _Parser:
    """One passage: its tokens, and the votes found so far."""

    def __init__(self, text: str) -> None:
        self.original = text
        self.work = text.translate(_SAME_LENGTH)
        self.toks = [
            _Tok(m.lastgroup or "punct", m.group(), m.start(), m.end())
            for m in _TOKEN_RE.finditer(self.work)
        ]
        self.starts = [t.start for t in self.toks]
        # "District 4", "Ward II": the place word and its number are a designation; "Ward"
        # without one is a surname.
        self.kind_override: dict[int, str] = {}
        for i, t in enumerate(self.toks):
            if t.kind == "word" and _word_kind(t.text) == "place":
                nxt = self.toks[i + 1] if i + 1 < len(self.toks) else None
                if nxt is not None and (nxt.kind == "num" or _NUMERAL.fullmatch(nxt.text)):
                    self.kind_override[nxt.start] = "numeral"
                else:
                    self.kind_override[t.start] = "name"
        self.votes: list[_Vote] = []
        self.covered: list[tuple[int, int]] = []
        self.attendance: list[tuple[int, int]] = []
        self.complete_roll = False  # a list or table gave the whole roll
        self.counts: dict[str, int] = {}
        self._sentences: list[tuple[int, int]] | None = None

    # ------------------------------------------------------------------ names

    def kind(self, t: _Tok) -> str:
        """A token's kind, knowing its neighbours ("Ward 3" vs "Councilmember Ward")."""
        if t.kind == "ord":
            return "numeral"  # "1st Vice Chair", "District 4th"
        return self.kind_override.get(t.start) or ("num" if t.kind == "num" else _word_kind(t.text))

    def index_at(self, pos: int) -> int:
        """Index of the first token starting at or after ``pos``."""
        return bisect_left(self.starts, pos)

    def name(self, span: tuple[int, int]) -> str:
        text = " ".join(self.original[span[0] : span[1]].split()).strip(" ,;:")
        if text.isupper():
            titled = text.title()
            if titled.casefold() == text.casefold():
                text = titled
        return text

    def chunk_name(
        self, chunk: list[_Tok], end_cap: int | None = None
    ) -> tuple[str, tuple[int, int]]:
        """("ok", span) for a name; ("empty", _) for titles alone; ("suffix", span) for "Jr.";
        ("bad", _) for anything that is no name."""
        words: list[tuple[int, int, str, str]] = []
        for t in chunk:
            end = t.end if end_cap is None else min(t.end, end_cap)
            if t.kind in ("word", "num") and end > t.start:
                text = self.work[t.start : end]
                kind = self.kind(t) if end == t.end else _word_kind(text)
                words.append((t.start, end, text, kind))
        # Everything up to the last title or district designation is not the name
        # ("District I Supervisor Candace Andersen", "Mayor Pro Tem Martinez").
        cut = max((k + 1 for k, w in enumerate(words) if w[3] in _DESIGNATION), default=0)
        if any(w[3] in ("name", "role") for w in words[:cut]):
            return "bad", (0, 0)  # "Public Works Director Smith" is staff, not a member
        words = words[cut:]
        if not words:
            return "empty", (0, 0)
        if len(words) > 5 or any(w[3] not in ("name", "particle") for w in words):
            return "bad", (0, 0)
        if all(_core(w[2]).casefold() in _SUFFIXES for w in words):
            return "suffix", (words[0][0], words[-1][1])
        if not any(w[3] == "name" and len(_core(w[2])) >= 2 for w in words):
            return "bad", (0, 0)
        start, end, last = words[0][0], words[-1][1], words[-1][2]
        if last[-2:] in ("'s", "'S"):
            end -= 2
        elif _ends_sentence(last):
            end -= 1
        return "ok", (start, end)

    def scan_forward(
        self, i: int, limit: int, single: bool = False
    ) -> tuple[list[tuple[int, int]], int, bool]:
        """Names listed from token ``i`` on: (spans, index where the list stopped, whether a
        lone suffix such as "Jr." was attached to the name before it)."""
        toks, spans, cur = self.toks, list[tuple[int, int]](), list[_Tok]()
        suffixed = commas = False

        def flush() -> bool:
            nonlocal cur, suffixed
            if not cur:
                return True
            status, span = self.chunk_name(cur)
            cur = []
            if status == "ok":
                spans.append(span)
            elif status == "suffix" and spans:
                spans[-1] = (spans[-1][0], span[1])
                suffixed = True
            return status != "bad"

        while i < len(toks) and toks[i].start < limit:
            t = toks[i]
            # One name a line, as PDF text lists them; in a list with commas a line break
            # inside a name ("Jones, Mary\nBrown") is only a wrapped line.
            wrapped = "\n" in self.work[cur[-1].end : t.start] if cur else False
            if wrapped and (not commas or len(cur) >= 2) and not flush():
                return spans, i, suffixed
            commas = commas or t.text == ","
            if t.kind == "sep" or (t.kind == "word" and t.text.casefold() == "and"):
                if single and cur:
                    break
                if not flush():
                    return spans, i, suffixed
            elif t.kind == "paren":
                if not flush() or _COUNT_PAREN.fullmatch(t.text):
                    break
            elif t.kind in ("word", "ord") or self.kind(t) == "numeral":
                kind = self.kind(t)
                if kind in _DESIGNATION:
                    cur.append(t)
                    i += 1
                    continue
                if kind not in _NAMEISH:
                    if kind == "role" or (not t.text[0].isupper() and not single):
                        cur = []  # a name cut off by prose is no name
                    if not cur and spans and _NON_VOTING.match(t.text):
                        spans.pop()  # "Gloria Roberts, non-voting member"
                    break
                cur.append(t)
                if len(cur) > 8:
                    cur = []
                    break
                if kind == "name" and _ends_sentence(t.text):
                    i += 1
                    break
            else:
                break  # numbers (counts) and punctuation end a list
            i += 1
        flush()
        return spans, i, suffixed

    def scan_backward(self, pos: int, floor: int, single: bool = False) -> list[tuple[int, int]]:
        """Names written just before ``pos`` ("Smith and Jones" in "Smith and Jones voted no")."""
        toks = self.toks
        i = self.index_at(pos) - 1
        chunks: list[list[_Tok]] = []
        cur: list[_Tok] = []
        while i >= 0 and toks[i].start >= floor:
            t = toks[i]
            if t.end > pos:  # the word "Warner-No" read up to the "-No"
                t = _Tok(t.kind, self.work[t.start : pos], t.start, pos)
                if not t.text:
                    i -= 1
                    continue
            if (t.kind == "sep" and t.text in ",&") or (
                t.kind == "word" and t.text.casefold() == "and"
            ):
                if cur:
                    chunks.append(cur[::-1])
                    cur = []
                    if single:
                        break
            elif t.kind == "paren" and not cur and not chunks:
                pass  # "Price (R) voted no"
            elif self.kind(t) == "numeral" and cur:
                cur.append(t)  # "District 4 Supervisor Sue Frost"
            elif t.kind == "word" and self.kind(t) == "role":
                cur = []
                break
            elif t.kind == "word" and self.kind(t) in _NAMEISH | _DESIGNATION:
                if _ends_sentence(t.text):
                    break
                cur.append(t)
                if len(cur) > 7:
                    cur = []
                    break
            else:
                break
            i -= 1
        if cur:
            chunks.append(cur[::-1])
        spans: list[tuple[int, int]] = []
        for chunk in reversed(chunks):
            status, span = self.chunk_name(chunk, end_cap=pos)
            if status == "ok":
                spans.append(span)
            elif status == "bad":
                spans = []  # what came before was prose, not a list
        return spans

    # ------------------------------------------------------------------ votes

    def add(
        self, span: tuple[int, int], value: str, inferred: bool = False, narrative: bool = False
    ) -> None:
        self.votes.append(_Vote(span[0], span[1], value, inferred, narrative))

    def is_covered(self, pos: int) -> bool:
        return any(a <= pos < b for a, b in self.covered)

    def labels(self, s: int, e: int) -> None:
        """AYES/NOES/ABSENT lists and their counts, in their many layouts."""
        found: list[_Label] = []
        for m in _LABEL_RE.finditer(self.work, s, e):
            if m.group("colon") is None and re.search(
                r"\d\s*$", self.work[max(s, m.start() - 4) : m.start()]
            ):
                continue  # "5 Ayes - 0 Nays" is a tally
            if _NOT_VOTE_LABEL.search(self.work[max(s, m.start() - 40) : m.start()]):
                continue
            lab = _Label(m.start(), m.end(), _label_value(m.group("word")))
            if m.group("count"):
                lab.count = int(m.group("count"))  # "Ayes (5):"
            found.append(lab)
        found += [_Label(m.start(), m.end(), None) for m in _BOUNDARY_RE.finditer(self.work, s, e)]
        found.sort(key=lambda lab: lab.start)
        for k, lab in enumerate(found):
            lab.limit = found[k + 1].start if k + 1 < len(found) else e
            if lab.value is not None:
                self.read_label(lab)
        for a, b in pairwise(found):
            # "Not voting: 1 Not voting: Cardona, Jr., Felix" - the count moved ahead.
            if a.count is not None and not a.names and b.value == a.value and b.count is None:
                b.count = a.count
                b.names, b.list_end = self.checked_names(b)
        labels = [lab for lab in found if lab.value is not None]
        if not labels:
            return
        empty = any(not x.names and not x.none and x.count is None for x in labels)
        if empty and len(labels) >= 2 and self.align_displaced(labels, s):
            return
        for k, lab in enumerate(labels):
            if lab.value == "present" and not any(x.value in ("yes", "no") for x in labels[:k]):
                self.attendance += lab.names  # a roll call of who attended, not a vote
                self.covered.append((lab.start, lab.list_end))
                continue
            assert lab.value is not None
            if lab.names or lab.none or lab.count is not None:
                self.covered.append((lab.start, max(lab.list_end, lab.end)))
                self.complete_roll = True
                n = lab.count if lab.count is not None else len(lab.names)
                self.counts[lab.value] = self.counts.get(lab.value, 0) + n
            for span in lab.names:
                self.add(span, lab.value)

    def read_label(self, lab: _Label) -> None:
        """What follows a label: a count, "None" or names, and perhaps a count after them."""
        toks, j = self.toks, self.index_at(lab.end)

        def at(k: int) -> _Tok | None:
            return toks[k] if k < len(toks) and toks[k].start < lab.limit else None

        t = at(j)
        if lab.count is None and t is not None and t.kind == "num" and len(t.text) <= 3:
            lab.count, j = int(t.text), j + 1  # "Aye: 6 - Barnes, ..."
            while (t := at(j)) is not None and t.kind == "punct" and t.text in "-—:":
                j += 1
        if (t := at(j)) is not None and t.text == "(":
            j += 1  # "Aye – 4 (Ruiz, Soto, Tran, Uribe)"
        k = j
        while (t := at(k)) is not None and t.kind == "word" and _word_kind(t.text) == "title":
            k += 1
        if k > j and (t := at(k)) is not None and t.text == ":":
            j = k + 1  # "AYES: COUNCILMEMBERS: Carrillo, Ramos" - a sub-label of titles
        lab.first, lab.list_end = j, lab.end
        t = at(j)
        if t is not None and t.kind == "word" and _core(t.text).casefold() in _NONE_WORDS:
            lab.none, lab.list_end = True, t.end
            return
        lab.names, lab.list_end = self.checked_names(lab)
        if lab.count is None:
            # A count after the list: "Tinajero (5)", "Farrow—6", "Sawyer -- 4", "Watson 0"
            k = self.index_at(lab.list_end)
            dashes = 0
            while (t := at(k)) is not None and t.kind == "punct" and t.text in "-—":
                k, dashes = k + 1, dashes + 1
            if (t := at(k)) is not None and t.kind == "num" and len(t.text) <= 3:
                lab.count = int(t.text)
            elif t is not None and not dashes and _COUNT_PAREN.fullmatch(t.text):
                lab.count = int(t.text.strip("() "))
            if lab.count is not None and lab.names:
                lab.names, lab.list_end = self.checked_names(lab)

    def checked_names(self, lab: _Label) -> tuple[list[tuple[int, int]], int]:
        """A label's names, checked against its count; "Last, First" lists when it fits."""
        j = lab.first
        spans, stop, suffixed = self.scan_forward(j, lab.limit)
        list_end = self.toks[stop - 1].end if stop > j else lab.end
        if (lab.count is not None and len(spans) != lab.count) or (lab.count is None and suffixed):
            inverted = self.inverted(j, lab.limit)
            if inverted and (lab.count is None or len(inverted) == lab.count):
                return inverted, inverted[-1][1]
            if lab.count is not None and len(spans) > lab.count:
                return [], list_end  # more names than the count: we misread the list
        return spans, list_end

    def inverted(self, j: int, limit: int) -> list[tuple[int, int]]:
        """A "Last, First M." list separated by commas only (Chicago journal):
        "Austin, Carrie M. Beale, Anthony Brookins, Jr., Howard Burke, ..." """
        parts: list[list[_Tok]] = [[]]
        toks = self.toks
        while j < len(toks) and toks[j].start < limit:
            t = toks[j]
            if t.kind == "sep" and t.text == ",":
                parts.append([])
            elif t.kind == "word" and _word_kind(t.text) in ("name", "particle"):
                parts[-1].append(t)
            else:
                break
            j += 1
        if len(parts) < 2 or not parts[0] or len(parts[0]) > 3:
            return []
        entries: list[tuple[int, int]] = []
        start: int | None = parts[0][0].start
        for part in parts[1:]:
            words = [w for w in part]
            if not words:
                return []
            if all(_core(w.text).casefold() in _SUFFIXES for w in words):
                continue
            if start is None:
                return []
            k = 0
            while k < len(words) and _core(words[k].text).casefold() in _SUFFIXES:
                k += 1
            k += 1  # the given name
            while k < len(words) and len(_core(words[k].text)) == 1:
                k += 1  # middle initials
            if k > len(words):
                return []
            entries.append((start, words[k - 1].end))
            start = words[k].start if k < len(words) else None
            if k < len(words) and len(words) - k > 3:
                return []
        return entries if start is None else []

    def align_displaced(self, labels: list[_Label], s: int) -> bool:
        """Legistar PDF text where column labels drifted from their counts and names:
        "12 - Aye: Nay: Alvidrez, ..., Watson 0 1 - Parady Absent:". The counts, in label
        order, say which group of names belongs to which label."""
        first = labels[0].start
        lead = re.search(r"(\d{1,3})\s*-\s*$", self.work[max(s, first - 8) : first])
        start = max(s, first - 8) + lead.start() if lead else first
        end = labels[-1].limit
        spans = [(lab.start, lab.end) for lab in labels]
        counts: list[int] = []
        groups: list[list[tuple[int, int]]] = []
        j = self.index_at(start)
        while j < len(self.toks) and self.toks[j].start < end:
            t = self.toks[j]
            inside = next((b for a, b in spans if a <= t.start < b), None)
            if inside is not None:
                j = self.index_at(inside)
                continue
            if t.kind == "num" and len(t.text) <= 3:
                counts.append(int(t.text))
            elif t.kind == "word" and _word_kind(t.text) in _NAMEISH:
                nxt = min((a for a, _ in spans if a > t.start), default=end)
                found, stop, _ = self.scan_forward(j, nxt)
                if found:
                    groups.append(found)
                j = max(stop, j + 1)
                continue
            j += 1
        if len(counts) != len(labels):
            return False
        nonzero = [(c, lab) for c, lab in zip(counts, labels, strict=True) if c > 0]
        if len(nonzero) != len(groups) or any(
            c != len(g) for (c, _), g in zip(nonzero, groups, strict=True)
        ):
            return False
        for (_, lab), group in zip(nonzero, groups, strict=True):
            assert lab.value is not None
            for span in group:
                self.add(span, lab.value)
        for c, lab in zip(counts, labels, strict=True):
            assert lab.value is not None
            self.counts[lab.value] = self.counts.get(lab.value, 0) + c
        self.covered.append((start, end))
        self.complete_roll = True
        return True

    def tables(self, s: int, e: int) -> None:
        """Roll-call grids kept as lines: pipe tables, and columns aligned with spaces (PDF
        text). A header row names the vote columns ("Aye | Nay | Absent") or one "Vote"
        column; each row below it names a member and marks one column."""
        header: list[tuple[float, str]] | None = None
        piped = False
        pos = s
        for line in self.work[s:e].split("\n"):
            offset, pos = pos, pos + len(line) + 1
            cells = _cells(line, offset)
            columns = [(c, _HEADER_VALUES.get(t.casefold().rstrip(":"))) for c, t in cells]
            named = [(c, v) for c, v in columns if v is not None]
            if len(named) >= 2 or (len(named) == 1 and named[0][1] == "*" and len(cells) == 2):
                piped = "|" in line
                # Columns by index between pipes, by position (from the line start) otherwise.
                header = [
                    (k if piped else (c[0] + c[1]) / 2 - offset, v or "")
                    for k, (c, v) in enumerate(columns)
                ]
                self.covered.append((offset, offset + len(line)))
                continue
            if header is None or not cells:
                header = None if not line.strip() else header
                continue
            if piped != ("|" in line):
                header = None
                continue
            marks: list[str] = []
            name_cell: tuple[int, int] | None = None
            for k, (span, text) in enumerate(cells):
                where = k if piped else (span[0] + span[1]) / 2 - offset
                column = min(header, key=lambda h: abs(h[0] - where))
                near = abs(column[0] - where) <= (
                    0 if piped else max(4, (span[1] - span[0]) / 2 + 3)
                )
                value = column[1] if near else ""
                word = text.casefold()
                if value == "*" and word in _MARK_VALUES:
                    marks.append(_MARK_VALUES[word])
                elif value not in ("", "*") and (word in _MARKS or _MARK_VALUES.get(word) == value):
                    marks.append(value)
                elif name_cell is None and not value:
                    name_cell = span
            if name_cell is None or len(marks) != 1:
                continue
            chunk = self.toks[self.index_at(name_cell[0]) : self.index_at(name_cell[1])]
            status, name_span = self.chunk_name(chunk)
            if status == "ok":
                self.add(name_span, marks[0])
                self.covered.append((offset, offset + len(line)))
                self.complete_roll = True

    def flat_tables(self, s: int, e: int) -> None:
        """A YES/NO grid flattened to one line: "YES NO Hedberg X Hedberg Soukup Absent
        Soukup". The column of each X is lost; it is read as the first column, inferred."""
        for m in _FLAT_HEADER_RE.finditer(self.work, s, e):
            if self.is_covered(m.start()):
                continue
            first = _MARK_VALUES.get(m.group("first").casefold().rstrip("s"), "yes")
            rows: list[tuple[tuple[int, int], str, bool]] = []
            pos = m.end()
            while (row := _FLAT_ROW_RE.match(self.work, pos, e)) is not None:
                chunk = self.toks[self.index_at(row.start("name")) : self.index_at(row.end("name"))]
                status, span = self.chunk_name(chunk)
                if status != "ok":
                    break
                mark = row.group("mark")
                if mark.casefold() in _MARKS:
                    rows.append((span, first, True))
                else:
                    rows.append((span, _MARK_VALUES[mark.casefold()], False))
                pos = row.end()
            if len(rows) >= 2:
                for span, value, inferred in rows:
                    self.add(span, value, inferred)
                self.covered.append((m.start(), pos))
                self.complete_roll = True

    def pairs(self, s: int, e: int) -> None:
        """Name–value pairs: "Daysog: No; Knox White: Aye", "Warner-No", "Kim (aye)"."""
        found: list[tuple[tuple[int, int], str, int]] = []
        for m in _PAIR_RE.finditer(self.work, s, e):
            if self.is_covered(m.start()):
                continue
            spans = self.scan_backward(m.start(), s, single=True)
            if spans and not self.work[spans[-1][1] : m.start()].strip(" '"):
                found.append(
                    (spans[-1], _MARK_VALUES[(m.group("v") or m.group("pv")).casefold()], m.end())
                )
        if len(found) >= 2:
            for span, value, end in found:
                self.add(span, value)
                self.covered.append((span[0], end))
            self.complete_roll = True

    def narrative(self, s: int, e: int) -> None:
        for pattern, fixed in _PREFIX:
            for m in pattern.finditer(self.work, s, e):
                if self.is_covered(m.start()):
                    continue
                value = fixed or _value_word(m.group("v"))
                spans, _, _ = self.scan_forward(self.index_at(m.end()), e)
                for span in spans:
                    self.add(span, value, narrative=True)
                if spans:
                    self.covered.append((m.start(), spans[-1][1]))
        for pattern, value in _POSTFIX:
            for m in pattern.finditer(self.work, s, e):
                if self.is_covered(m.start()) or _LABEL_AHEAD.match(self.work, m.end()):
                    continue  # "ABSENT: None" is a label, not "X absent"
                for span in self.scan_backward(m.start(), s):
                    self.add(span, value, narrative=True)

    # ------------------------------------------------------------------ motion

    def maker(self, after: re.Pattern[str], before: re.Pattern[str], s: int, e: int) -> str | None:
        """The first mover (or seconder) named in the segment."""
        best: tuple[int, tuple[int, int]] | None = None
        for m in after.finditer(self.work, s, e):
            if m.group().casefold().startswith("made") and not re.search(
                r"motion", self.work[self.sentence_start(m.start(), s) : m.start()], re.I
            ):
                continue
            spans, _, _ = self.scan_forward(self.index_at(m.end()), e, single=True)
            if spans:
                best = (m.start(), spans[0])
                break
        for m in before.finditer(self.work, s, e):
            if best is not None and m.start() > best[0]:
                break
            spans = self.scan_backward(m.start(), s, single=True)
            if spans:
                best = (m.start(), spans[-1])
                break
        return self.name(best[1]) if best else None

    def slash_makers(self, s: int, e: int) -> tuple[str | None, str | None]:
        """ "M/S: Smith/Jones" - mover and seconder in one pair."""
        m = _SLASH_MAKERS.search(self.work, s, e)
        if m is None:
            return None, None
        first, stop, _ = self.scan_forward(self.index_at(m.end()), e, single=True)
        if not first or stop >= len(self.toks) or self.toks[stop].text != "/":
            return None, None
        second, _, _ = self.scan_forward(stop + 1, e, single=True)
        return self.name(first[0]), self.name(second[0]) if second else None

    def sentence_start(self, pos: int, s: int) -> int:
        for a, _ in reversed(self.sentences()):
            if a <= pos:
                return max(a, s)
        return s

    def sentences(self) -> list[tuple[int, int]]:
        if self._sentences is not None:
            return self._sentences
        out: list[tuple[int, int]] = []
        start = 0
        for t in self.toks:
            if (t.kind == "word" and _ends_sentence(t.text)) or (
                t.kind == "punct" and t.text in ".!?"
            ):
                out.append((start, t.end))
                start = t.end
        if self.work[start:].strip() or not out:
            out.append((start, len(self.work)))
        self._sentences = out
        return out

    def tally(self, s: int, e: int) -> tuple[int, int, int] | None:
        """(yes, no, other) from "5-2", "4-0-0", "9 to 4", "(7-0) vote", "5 Ayes - 0 Nayes"."""
        m = _TALLY_WORDS_RE.search(self.work, s, e)
        if m:
            return int(m.group(1)), int(m.group(2)), 0
        for m in _TALLY_RE.finditer(self.work, s, e):
            before = self.work[max(s, m.start() - 40) : m.start()]
            after = self.work[m.end() : min(e, m.end() + 15)]
            if _NOT_TALLY_BEFORE.search(before):
                continue
            in_parens = before.endswith("(") and after.startswith(")")
            # "Approved on consent, 7-0." - a tally closing a clause that reports a result
            closing = re.match(r"\s*(?:[.;)]|$)", after) is not None and bool(
                _PASS_RE.search(before) or _FAIL_RE.search(before)
            )
            if in_parens or closing or _TALLY_BEFORE.search(before) or _TALLY_AFTER.search(after):
                return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        return None

    def result(self, s: int, e: int) -> str | None:
        """Passed or failed, from the words; else from the tally or the lists."""

        def main(matches: list[re.Match[str]]) -> list[re.Match[str]]:
            # Results of procedural motions ("a motion to reconsider failed and the
            # ordinance passed") give way to the result of the motion itself.
            keep = []
            for m in matches:
                clause = re.split(r"[.;]", self.work[max(s, m.start() - 80) : m.start()])[-1]
                if not _PROCEDURAL.search(clause):
                    keep.append(m)
            return keep

        passes = [
            m
            for m in _PASS_RE.finditer(self.work, s, e)
            if not _NEGATED.search(self.work[max(s, m.start() - 12) : m.start()])
            and not re.search(
                r"\b(?:be|to)\s+$", self.work[max(s, m.start() - 4) : m.start()], re.I
            )
        ]
        fails = list(_FAIL_RE.finditer(self.work, s, e))
        if passes and fails:
            main_passes, main_fails = main(passes), main(fails)
            if main_passes and not main_fails:
                return "passed"
            if main_fails and not main_passes:
                return "failed"
            return "passed" if passes[-1].start() > fails[-1].start() else "failed"
        if fails:
            return "failed"
        if passes:
            return "passed"
        return None

    # ------------------------------------------------------------------ motions in a passage

    def main_motion(self) -> tuple[int, int]:
        """The span of the motion to report (see the module docstring)."""
        segments: list[tuple[int, int]] = []
        strength: list[int] = []  # 2: a motion or a vote is reported; 1: result words only
        cur, seen_result, prev_tally, best = 0, False, None, 0
        for a, b in self.sentences():
            tally = self.tally(a, b)
            has_mover = self.maker(_MOVER_AFTER, _MOVER_BEFORE, a, b) is not None
            has_vote = bool(
                tally or has_mover or _UNANIMOUS_RE.search(self.work, a, b)
                or any(  # an attendance line ("Present:", "Absent:") is no vote
                    _label_value(m.group("word")) not in ("present", "absent")
                    for m in _LABEL_RE.finditer(self.work, a, b)
                )
            )  # fmt: skip
            has_result = bool(
                (has_vote and not has_mover)
                or _PASS_RE.search(self.work, a, b)
                or _FAIL_RE.search(self.work, a, b)
            )  # fmt: skip
            cue = _NEW_MOTION_CUE.search(self.work, a, b) is not None
            other_tally = tally is not None and prev_tally is not None and tally != prev_tally
            if seen_result and (has_mover or (has_result and (cue or other_tally))):
                segments.append((cur, a))
                strength.append(best)
                cur, seen_result, prev_tally, best = a, False, None, 0
            seen_result = seen_result or has_result
            prev_tally = tally or prev_tally
            best = max(best, 2 if has_vote else 1 if has_result else 0)
        segments.append((cur, len(self.work)))
        strength.append(best)
        first = next((k for k, v in enumerate(strength) if v == max(strength)), 0)
        if _PROCEDURAL.search(self.work, *segments[first]):
            for seg in segments[first + 1 :]:
                if _MAIN_MOTION.search(self.work, *seg):
                    return seg
        return segments[first]


# --------------------------------------------------------------------------- one passage


def parse_rollcall(text: str, roster: Sequence[str] | None = None) -> RollCall:
    """Parse one passage of minutes text; ``roster`` names the body's members if known.

    With a roster (or an attendance list in the passage), unanimous votes, "all others
    voting aye" and tallies that leave exactly the unnamed members expand to per-person
    votes marked ``inferred``. Without one, only people the text names get votes.
    """
    p = _Parser(text)
    s, e = p.main_motion()
    for read in (p.tables, p.flat_tables, p.labels, p.pairs, p.narrative):
        read(s, e)
    mover, seconder = p.slash_makers(s, e)
    if mover is None:
        mover = p.maker(_MOVER_AFTER, _MOVER_BEFORE, s, e)
        seconder = p.maker(_SECOND_AFTER, _SECOND_BEFORE, s, e)
    tally = p.tally(s, e)
    if tally is None and ("yes" in p.counts or "no" in p.counts):
        other = sum(n for v, n in p.counts.items() if v not in ("yes", "no", "absent"))
        tally = (p.counts.get("yes", 0), p.counts.get("no", 0), other)

    members = [RosterMember(str(i), n) for i, n in enumerate(roster or [])]
    if not members and p.attendance:
        members = [RosterMember(f"a{i}", p.name(sp)) for i, sp in enumerate(p.attendance)]
    names = [p.name((v.start, v.end)) for v in p.votes]
    people = _People(members, [*names, *(n for n in (mover, seconder) if n)])
    explicit = _one_vote_each(p.votes, names, people, tally)
    values = [v.value for v, _ in explicit.values()]
    if tally is None and p.complete_roll and values:
        counted = values.count("yes"), values.count("no")
        tally = (*counted, len(values) - sum(counted) - values.count("absent"))

    unanimous_words = _UNANIMOUS_RE.search(p.work, s, e) is not None
    result = p.result(s, e)
    if result is None:
        yes, no = tally[:2] if tally else (0, 0)
        if yes or no:
            result = "passed" if yes > no else "failed"
        elif unanimous_words or _BODY_VOTED.search(p.work, s, e):
            result = "passed"

    if unanimous_words:
        unanimous: bool | None = "no" not in values
    elif (
        any(v != "yes" for v in values)
        or (tally and (tally[1] or tally[2]))
        or any(n for v, n in p.counts.items() if v != "yes")
    ):
        unanimous = False
    elif (tally and tally[0]) or (p.complete_roll and "yes" in values):
        unanimous = True
    else:
        unanimous = False if (result or values) else None

    votes = [ParsedVote(name, v.value, v.inferred) for v, name in explicit.values()]
    taken = set(explicit)
    # The mover and seconder of a motion carried without dissent voted for it.
    no_dissent = (
        result == "passed"
        and not any(v in ("no", "abstain", "present") for v in values)
        and (unanimous_words or (tally is not None and tally[1] == 0 and tally[2] == 0))
    )
    for maker in (mover, seconder) if no_dissent else ():
        key = people.key(maker) if maker else None
        written = people.roster_name(maker) if members and maker else maker
        if key is not None and key not in taken and written is not None:
            taken.add(key)
            votes.append(ParsedVote(written, "yes", True))
    if members:
        votes += _roster_votes(
            [m for m in members if people.member_key(m) not in taken],
            [v.value for v in votes],
            tally,
            result if unanimous_words else None,
            _OTHERS_AYE_RE.search(p.work, s, e) is not None,
        )
    return RollCall(
        result=result,
        unanimous=unanimous,
        votes=tuple(votes),
        mover=mover,
        seconder=seconder,
        tally=(tally[0], tally[1]) if tally else None,
    )


class _People:
    """Who is who within one passage: roster members where the name resolves, otherwise a
    key from the text, where "Smith" joins "Sean Smith" when only one fits."""

    def __init__(self, members: list[RosterMember], names: Iterable[str]) -> None:
        self.members = members
        self.by_surname: dict[str, set[str]] = {}
        for name in names:
            key = normalize_name(name)
            if " " in key:
                self.by_surname.setdefault(key.rsplit(" ", 1)[1], set()).add(key)

    @staticmethod
    def member_key(member: RosterMember) -> str:
        return "member:" + member.key

    def roster_name(self, name: str) -> str | None:
        res = resolve_name(name, self.members)
        return res.member.name if res.member is not None else None

    def key(self, name: str) -> str:
        if self.members:
            res = resolve_name(name, self.members)
            if res.member is not None:
                return self.member_key(res.member)
        key = normalize_name(name) or name.casefold()
        longer = self.by_surname.get(key, set()) if " " not in key else set()
        return "text:" + (next(iter(longer)) if len(longer) == 1 else key)


def _one_vote_each(
    found: list[_Vote], names: list[str], people: _People, tally: tuple[int, int, int] | None
) -> dict[str, tuple[_Vote, str]]:
    """One vote per person, in text order. Two explicit votes that disagree cancel out (an
    explicit vote beats a grid guess); prose naming more dissenters or supporters than the
    tally allows is misread and dropped, and so are the lists if they still exceed it."""
    chosen: dict[str, tuple[_Vote, str]] = {}
    conflicted: set[str] = set()
    for vote, name in sorted(zip(found, names, strict=True), key=lambda x: x[0].start):
        key = people.key(name) if name else None
        if key is None:
            continue
        old = chosen.get(key)
        if old is not None and old[0].value != vote.value:
            if old[0].inferred and not vote.inferred:
                chosen[key] = (vote, name)
            elif old[0].inferred == vote.inferred:
                conflicted.add(key)
            continue
        chosen.setdefault(key, (vote, name))
    explicit = {k: v for k, v in chosen.items() if k not in conflicted}
    for value, allowed in (("yes", tally[0]), ("no", tally[1])) if tally else ():
        for only_prose in (True, False):
            same = [k for k, (v, _) in explicit.items() if v.value == value]
            if len(same) > allowed:
                for k in same:
                    if explicit[k][0].narrative or not only_prose:
                        del explicit[k]
    return explicit


def _roster_votes(
    remaining: list[RosterMember],
    counted: list[str],
    tally: tuple[int, int, int] | None,
    unanimous_result: str | None,
    others_aye: bool,
) -> list[ParsedVote]:
    """Votes for the roster members the text does not name: all of them when the vote was
    unanimous or "all others voted aye"; when a tally leaves exactly as many unnamed
    members as unnamed votes of one kind, those."""
    fill: str | None = None
    if unanimous_result in ("passed", "failed") and "no" not in counted:
        fill = "yes" if unanimous_result == "passed" else "no"
    elif others_aye:
        fill = "yes"
    elif tally is not None and remaining:
        yes, no, other = tally
        named_other = sum(counted.count(v) for v in ("abstain", "recused", "present"))
        if other in (0, named_other):
            if no == counted.count("no") and yes - counted.count("yes") == len(remaining):
                fill = "yes"
            elif yes == counted.count("yes") and no - counted.count("no") == len(remaining):
                fill = "no"
    return [ParsedVote(m.name, fill, True) for m in remaining] if fill else []


# --------------------------------------------------------------------------- JSON Lines


def _one_line(message: str) -> str:
    return " ".join(message.split()) or "invalid input"


def parse_rollcall_stream(lines: Iterable[str], out: TextIO) -> int:
    """JSON Lines in (``{"id", "text", "roster"?}``), one JSON line out per line in, same
    order, ``id`` echoed. A line that cannot be parsed gives ``{"id", "error"}`` (id null
    when unknown). Returns the number of error lines."""
    errors = 0
    for raw in lines:
        ident: object = None
        try:
            try:
                item = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None
            if not isinstance(item, dict):
                raise ValueError("each line must be a JSON object")
            ident = item.get("id")
            if "id" not in item:
                raise ValueError('missing "id"')
            text = item.get("text")
            if not isinstance(text, str):
                raise ValueError('"text" must be a string')
            roster = item.get("roster")
            if roster is not None and (
                not isinstance(roster, list) or not all(isinstance(n, str) for n in roster)
            ):
                raise ValueError('"roster" must be a list of names')
            try:
                line = parse_rollcall(text, roster).to_json(ident)
            except Exception as exc:  # a parser bug fails this line, not the stream
                raise ValueError(f"cannot parse: {type(exc).__name__}: {exc}") from exc
        except (ValueError, TypeError, RecursionError) as exc:
            errors += 1
            line = {"id": ident, "error": _one_line(str(exc))}
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return errors
