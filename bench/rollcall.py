"""Accuracy of the roll-call parser beside a naive baseline, on a labelled corpus.

    .venv/bin/python bench/rollcall.py [--corpus PATH] [--errors] [--json]

The corpus is JSON Lines in the format of tests/data/corpus/rollcalls.dev.jsonl: ``id``,
``text``, ``motion_result`` (passed | failed | referred; a referral that carried is scored as
"passed"), ``unanimous`` and ``votes`` [{name, value}], optionally ``roster``.

Figures, for the parser and the baseline, in two settings:

* text: the parser sees the text (and the line's ``roster`` when the corpus has one), as
  ``ice-tracker parse-rollcall`` does;
* roster: the parser is also given a roster made of the labelled names, standing in for the
  body's membership that the tracker knows from the platform. Some labels come from the
  minutes' attendance line, which the passage does not contain; only a roster reaches them.

Vote accuracy is exact: a labelled vote counts only when the parser gives that person
exactly that value. Persons are matched by name (titles, case, initials, a unique surname
alone). Precision counts every vote the parser gave: extra votes for people the label does
not have, and wrong values, count against it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.names import RosterMember, normalize_name, resolve_name
from tracker.rollcall import ParsedVote, RollCall, parse_rollcall

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "tests/data/corpus/rollcalls.dev.jsonl"

Parser = Callable[[str, Sequence[str] | None], RollCall]


@dataclass
class Score:
    expected_votes: int = 0
    predicted_votes: int = 0
    correct_votes: int = 0
    passages: int = 0
    result_right: int = 0
    unanimous_right: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def vote_accuracy(self) -> float:
        return self.correct_votes / self.expected_votes if self.expected_votes else 1.0

    @property
    def vote_precision(self) -> float:
        return self.correct_votes / self.predicted_votes if self.predicted_votes else 1.0

    @property
    def result_accuracy(self) -> float:
        return self.result_right / self.passages if self.passages else 1.0

    @property
    def unanimous_accuracy(self) -> float:
        return self.unanimous_right / self.passages if self.passages else 1.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "vote_accuracy": round(self.vote_accuracy, 4),
            "vote_precision": round(self.vote_precision, 4),
            "result_accuracy": round(self.result_accuracy, 4),
            "unanimous_accuracy": round(self.unanimous_accuracy, 4),
            "expected_votes": self.expected_votes,
            "predicted_votes": self.predicted_votes,
            "correct_votes": self.correct_votes,
            "passages": self.passages,
        }


def expected_result(row: dict[str, object]) -> str | None:
    value = row.get("motion_result")
    return "passed" if value == "referred" else value if isinstance(value, str) else None


def match_votes(
    expected: Sequence[dict[str, str]], predicted: Sequence[ParsedVote]
) -> tuple[int, list[str]]:
    """Correct votes, and a note per miss. One predicted vote matches one labelled person."""
    members = [RosterMember(str(i), v["name"]) for i, v in enumerate(expected)]
    used: set[str] = set()
    correct, notes = 0, []
    by_member: dict[str, ParsedVote] = {}
    for vote in predicted:
        key = next(
            (m.key for m in members if normalize_name(m.name) == normalize_name(vote.name)), None
        )
        if key is None:
            res = resolve_name(vote.name, members)
            key = res.member.key if res.member else None
        if key is None or key in used:
            notes.append(f"extra {vote.name}={vote.value}")
            continue
        used.add(key)
        by_member[key] = vote
    for member, want in zip(members, expected, strict=True):
        got = by_member.get(member.key)
        if got is not None and got.value == want["value"]:
            correct += 1
        elif got is not None:
            notes.append(f"wrong {want['name']}: {got.value} (want {want['value']})")
        else:
            notes.append(f"missed {want['name']}={want['value']}")
    return correct, notes


def score(rows: Sequence[dict[str, object]], parser: Parser, with_roster: bool) -> Score:
    s = Score()
    for row in rows:
        expected = row.get("votes") or []
        assert isinstance(expected, list)
        roster = row.get("roster")
        if not isinstance(roster, list):
            roster = [v["name"] for v in expected] if with_roster and expected else None
        text = row["text"]
        assert isinstance(text, str)
        parsed = parser(text, roster)
        correct, notes = match_votes(expected, parsed.votes)
        s.passages += 1
        s.expected_votes += len(expected)
        s.predicted_votes += len(parsed.votes)
        s.correct_votes += correct
        if parsed.result == expected_result(row):
            s.result_right += 1
        else:
            notes.append(f"result {parsed.result} (want {expected_result(row)})")
        if parsed.unanimous == row.get("unanimous"):
            s.unanimous_right += 1
        else:
            notes.append(f"unanimous {parsed.unanimous} (want {row.get('unanimous')})")
        if notes:
            s.errors.append(f"{row.get('id')}: " + "; ".join(notes))
    return s


# The baseline: one regex for "AYES:"-style lists, and keywords for the result.
_BASE_LIST = re.compile(
    r"\b(AYES?|YEAS?|NOES|NAYS?|ABSENT|ABSTAIN)\s*:\s*(.*?)(?=\b[A-Za-z]+\s*:|$)",
    re.IGNORECASE | re.DOTALL,
)
_BASE_VALUES = {"ay": "yes", "ye": "yes", "no": "no", "na": "no", "ab": "absent"}


def baseline(text: str, roster: Sequence[str] | None = None) -> RollCall:
    votes = []
    for m in _BASE_LIST.finditer(text):
        label = m.group(1).casefold()
        value = "abstain" if label == "abstain" else _BASE_VALUES[label[:2]]
        for part in re.split(r",|\band\b", m.group(2)):
            name = part.strip(" .;()0123456789\n")
            if name and name.casefold() != "none":
                votes.append(ParsedVote(name, value))
    if re.search(r"\b(?:failed|defeated)\b", text, re.IGNORECASE):
        result: str | None = "failed"
    elif re.search(r"\b(?:carried|passed|approved|adopted)\b", text, re.IGNORECASE):
        result = "passed"
    else:
        result = None
    unanimous = bool(re.search(r"unanim", text, re.IGNORECASE)) if result else None
    return RollCall(result, unanimous, tuple(votes), None, None, None)


def load(path: Path) -> list[dict[str, object]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--errors", action="store_true", help="list every passage with a miss")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    rows = load(args.corpus)
    figures = {
        f"{name}/{setting}": score(rows, parser, setting == "roster")
        for name, parser in (("parser", parse_rollcall), ("baseline", baseline))
        for setting in ("text", "roster")
    }
    if args.json:
        print(json.dumps({k: v.as_dict() for k, v in figures.items()}, indent=2))
    else:
        print(
            f"corpus: {args.corpus} ({len(rows)} passages, "
            f"{figures['parser/text'].expected_votes} labelled votes)"
        )
        print(f"{'':18}{'votes acc':>10}{'precision':>10}{'result':>8}{'unanimous':>10}")
        for key, s in figures.items():
            print(
                f"{key:18}{s.vote_accuracy:>10.3f}{s.vote_precision:>10.3f}"
                f"{s.result_accuracy:>8.3f}{s.unanimous_accuracy:>10.3f}"
            )
    if args.errors:
        for key in ("parser/text", "parser/roster"):
            print(f"\n{key} misses:")
            for line in figures[key].errors:
                print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
