"""Suggested statements: figures on the labelled passages, exact quotes, and the rules."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from tracker.suggest import suggest, topic_direction

DEV = ROOT / "tests" / "data" / "corpus" / "stances.dev.jsonl"
HELDOUT = ROOT / "tests" / "data" / "stances_heldout.jsonl"


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_stances", ROOT / "bench" / "stances.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def _passages(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_dev_figures_meet_the_targets() -> None:
    score = _bench().score(DEV)
    assert score.precision >= 0.90, score.errors
    assert score.recall >= 0.70, score.errors
    assert score.quotes_ok == score.suggested


def test_heldout_figures() -> None:
    # Passages written apart from the rules and never tuned on; a floor, not the target.
    score = _bench().score(HELDOUT)
    assert len(_passages(HELDOUT)) >= 15
    assert score.precision >= 0.85, score.errors
    assert score.recall >= 0.70, score.errors
    assert score.quotes_ok == score.suggested


@pytest.mark.parametrize("path", [DEV, HELDOUT], ids=["dev", "heldout"])
def test_every_quote_is_an_exact_substring(path: Path) -> None:
    for record in _passages(path):
        text = str(record["text"])
        for s in suggest(text, topic=str(record.get("topic") or "")):
            assert text[s.start : s.end] == s.quote
            assert s.quote


def test_a_group_shares_one_clause() -> None:
    text = (
        "Commissioners Ana Ruiz, Tom Hale and Lee Park voiced concerns about the cost of the "
        "jail contract, and the board voted to delay it."
    )
    found = {(s.person, s.stance) for s in suggest(text, topic="ICE jail contract")}
    assert found == {
        ("Ana Ruiz", "concerned"),
        ("Tom Hale", "concerned"),
        ("Lee Park", "concerned"),
    }


def test_quotes_go_to_their_speaker() -> None:
    text = (
        'Councilman Al Ortiz said "this policy is a bad idea," while Councilwoman June Fox '
        'answered, "I will vote yes."'
    )
    found = {s.person: (s.stance, s.quote) for s in suggest(text, topic="welcoming ordinance")}
    assert found["Al Ortiz"] == ("oppose", "this policy is a bad idea")
    assert found["June Fox"][0] == "support"


def test_other_peoples_opposition_is_not_theirs() -> None:
    text = "Chair Dana Kim responded to residents opposing the 287(g) agreement by reading the law."
    assert suggest(text, topic="287(g) agreement") == []


def test_no_stance_without_evidence() -> None:
    assert suggest("Mayor Lena Ortiz called the meeting to order at 6 p.m.") == []
    assert suggest("") == []


@pytest.mark.parametrize(
    ("topic", "direction"),
    [
        ("287(g) agreement with ICE", "expands"),
        ("phasing out the ICE jail contract", "limits"),
        ("Welcoming City ordinance", "limits"),
        ("Road resurfacing on Elm Street", None),
    ],
)
def test_topic_direction(topic: str, direction: str | None) -> None:
    assert topic_direction(topic) == direction
