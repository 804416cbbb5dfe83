"""Accuracy and speed of the ICE classifier beside two keyword baselines, on a labelled corpus.

    .venv/bin/python bench/classify.py [--corpus PATH] [--seconds S] [--errors] [--json]
                                       [--no-hyperscan]

The corpus is JSON Lines with at least ``id``, ``text``, ``label``, ``category`` and
``direction`` (the format of tests/data/corpus/items.dev.jsonl). Throughput is measured on one
core (the process is pinned where the OS allows) as items per CPU-second over repeated passes
of the corpus. The classifier uses Hyperscan to find the word starts worth scanning when the
package is installed; ``--no-hyperscan`` measures the plain-regex scan it falls back to (the
results are the same).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tracker.classify
from tracker.classify import Classifier, default_classifier

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "tests/data/corpus/items.dev.jsonl"
SECONDARY = "immigration_non_enforcement"


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    label: bool
    category: str
    direction: str | None


@dataclass(frozen=True)
class Prediction:
    relevant: bool
    category: str | None = None
    direction: str | None = None
    secondary: tuple[str, ...] = ()


def load(path: Path) -> list[Item]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            items.append(Item(r["id"], r["text"], bool(r["label"]), r["category"], r["direction"]))
    return items


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def evaluate(items: Sequence[Item], preds: Sequence[Prediction]) -> dict[str, object]:
    pairs = list(zip(items, preds, strict=True))
    tp = sum(1 for i, p in pairs if i.label and p.relevant)
    fp = sum(1 for i, p in pairs if not i.label and p.relevant)
    fn = sum(1 for i, p in pairs if i.label and not p.relevant)
    precision, recall, f1 = prf(tp, fp, fn)
    hard = [(i, p) for i, p in pairs if i.category.startswith("hard_neg")]
    directed = [(i, p) for i, p in pairs if i.label and i.direction]
    found = [(i, p) for i, p in directed if p.relevant]
    per_category: dict[str, dict[str, float]] = {}
    for cat in sorted({i.category for i in items if i.label}):
        in_cat = [(i, p) for i, p in pairs if i.category == cat]
        ctp = sum(1 for i, p in pairs if p.relevant and p.category == cat and i.category == cat)
        cfp = sum(1 for i, p in pairs if p.relevant and p.category == cat and i.category != cat)
        cfn = sum(1 for i, p in in_cat if not (p.relevant and p.category == cat))
        cp, cr, cf = prf(ctp, cfp, cfn)
        per_category[cat] = {
            "n": len(in_cat),
            "detected": sum(1 for _, p in in_cat if p.relevant) / len(in_cat),
            "precision": cp,
            "recall": cr,
            "f1": cf,
        }
    negatives: dict[str, dict[str, float]] = {}
    for cat in sorted({i.category for i in items if not i.label}):
        in_cat = [(i, p) for i, p in pairs if i.category == cat]
        negatives[cat] = {
            "n": len(in_cat),
            "fp_rate": sum(1 for _, p in in_cat if p.relevant) / len(in_cat),
        }
    stp = sum(1 for i, p in pairs if i.category == SECONDARY and SECONDARY in p.secondary)
    sfp = sum(1 for i, p in pairs if i.category != SECONDARY and SECONDARY in p.secondary)
    sfn = sum(1 for i, p in pairs if i.category == SECONDARY and SECONDARY not in p.secondary)
    return {
        "items": len(items),
        "positives": sum(1 for i in items if i.label),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "hard_negatives": len(hard),
        "hard_negative_fp_rate": sum(1 for _, p in hard if p.relevant) / len(hard) if hard else 0.0,
        "direction_accuracy": (
            sum(1 for i, p in directed if p.direction == i.direction) / len(directed)
            if directed
            else 0.0
        ),
        "direction_accuracy_detected": (
            sum(1 for i, p in found if p.direction == i.direction) / len(found) if found else 0.0
        ),
        "category_accuracy_detected": (
            sum(1 for i, p in found if p.category == i.category) / len(found) if found else 0.0
        ),
        "secondary_precision_recall": prf(stp, sfp, sfn)[:2],
        "per_category": per_category,
        "negative_categories": negatives,
    }


def throughput(
    fn: Callable[[str], object], texts: Sequence[str], seconds: float, rounds: int = 7
) -> tuple[float, float]:
    """Best and median items per CPU-second over ``rounds`` passes of ``seconds`` in total.

    CPU time of this process, not wall time, so that other work on the machine (which takes
    the core away) does not count against us; the best pass is the closest to what one core
    can do, the median shows how noisy the measurement was.
    """
    for t in texts:  # warm up caches and lazy compilation
        fn(t)
    rates = []
    for _ in range(rounds):
        done, start = 0, time.process_time()
        while (elapsed := time.process_time() - start) < seconds / rounds:
            for t in texts:
                fn(t)
            done += len(texts)
        rates.append(done / elapsed)
    rates.sort()
    return rates[-1], rates[len(rates) // 2]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--seconds", type=float, default=3.0, help="timing per method")
    ap.add_argument("--errors", action="store_true", help="list the items the classifier got wrong")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument(
        "--no-hyperscan", action="store_true", help="scan every word start with the regex alone"
    )
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    items = load(args.corpus)
    texts = [i.text for i in items]
    if args.no_hyperscan:
        tracker.classify.hyperscan = None  # read when the classifier is built, just below
    clf: Classifier = default_classifier()
    prefiltered = tracker.classify.hyperscan is not None
    acronym = re.compile(r"\bICE\b|immigration")  # the baseline, exactly as specified

    results: dict[str, dict[str, Any]] = {}
    preds = []
    for t in texts:
        c = clf.classify(t)
        preds.append(Prediction(c.relevant, c.category, c.direction, c.secondary))
    speed, median = throughput(clf.classify, texts, args.seconds)
    results["classifier"] = {
        **evaluate(items, preds),
        "items_per_second": speed,
        "items_per_second_median": median,
        # Real agendas are nearly all negatives, so show both halves of the corpus as well.
        "items_per_second_by_label": {
            kind: throughput(
                clf.classify, [i.text for i in items if i.label is want], args.seconds / 2
            )[0]
            for kind, want in (("negatives", False), ("positives", True))
            if any(i.label is want for i in items)
        },
    }
    if args.errors:
        for i, p in zip(items, preds, strict=True):
            if i.label != p.relevant or (
                i.label and (i.direction != p.direction or i.category != p.category)
            ):
                print(
                    f"{i.id} gold={i.label},{i.category},{i.direction} "
                    f"got={p.relevant},{p.category},{p.direction} | {i.text[:150]}"
                )
        print()
    baselines: dict[str, Callable[[str], bool]] = {
        "substring 'ice' (case-insensitive)": lambda t: "ice" in t.lower(),
        r"regex \bICE\b|immigration": lambda t: acronym.search(t) is not None,
    }
    for name, fn in baselines.items():
        speed, median = throughput(fn, texts, args.seconds)
        results[name] = {
            **evaluate(items, [Prediction(fn(t)) for t in texts]),
            "items_per_second": speed,
            "items_per_second_median": median,
        }

    if args.json:
        print(
            json.dumps(
                {"corpus": str(args.corpus), "hyperscan": prefiltered, "results": results}, indent=2
            )
        )
        return 0
    print(
        f"corpus: {args.corpus} ({len(items)} items, {results['classifier']['positives']} "
        f"positive); word starts found by {'Hyperscan' if prefiltered else 'the regex alone'}\n"
    )
    print(
        f"{'method':38} {'prec':>6} {'recall':>6} {'F1':>6} {'hardFP':>7} {'dir':>6} "
        f"{'items/s best':>13} {'(median)':>11}"
    )
    for name, r in results.items():
        direction = f"{r['direction_accuracy']:6.3f}" if name == "classifier" else f"{'-':>6}"
        print(
            f"{name:38} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} "
            f"{r['hard_negative_fp_rate']:7.3f} {direction} "
            f"{r['items_per_second']:13,.0f} {r['items_per_second_median']:11,.0f}"
        )
    r = results["classifier"]
    by_label = ", ".join(f"{k} only {v:,.0f}" for k, v in r["items_per_second_by_label"].items())
    print(f"\nclassifier items/s on the corpus's {by_label}")
    print(
        f"\nclassifier: tp={r['tp']} fp={r['fp']} fn={r['fn']}; direction accuracy "
        f"{r['direction_accuracy']:.3f} over all directed positives, "
        f"{r['direction_accuracy_detected']:.3f} over detected ones; category accuracy on "
        f"detected {r['category_accuracy_detected']:.3f}; secondary "
        f"'{SECONDARY}' precision/recall "
        f"{r['secondary_precision_recall'][0]:.3f}/{r['secondary_precision_recall'][1]:.3f}"
    )
    print(
        f"\n{'positive category':36} {'n':>3} {'detected':>8} {'cat P':>6} {'cat R':>6} "
        f"{'cat F1':>6}"
    )
    for cat, c in r["per_category"].items():
        print(
            f"{cat:36} {c['n']:3.0f} {c['detected']:8.3f} {c['precision']:6.3f} "
            f"{c['recall']:6.3f} {c['f1']:6.3f}"
        )
    print(f"\n{'negative category':36} {'n':>3} {'FP rate':>8}")
    for cat, c in r["negative_categories"].items():
        print(f"{cat:36} {c['n']:3.0f} {c['fp_rate']:8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
