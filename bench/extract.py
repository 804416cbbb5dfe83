"""PDF text extraction speed: pages per second, pypdfium2 beside the alternatives.

    .venv/bin/python bench/extract.py [--rounds 5] [--seconds 1.0] [--check]

Every extractor reads the same fixture PDFs (tests/fixtures/pdf, 10 pages: agendas, minutes
with a text layer, one scanned page without one) from bytes in memory, text of every page, in
the same run. Each round repeats the whole set until at least ``--seconds`` have passed; the
table shows the median round and the slowest and fastest. ``tracker.extract`` is the full
``extract_text`` (pypdfium2 plus clean-up and the scanned-page check, OCR off); ``pypdfium2`` is
the bare library. pdfminer.six and pypdf are optional; missing ones are reported and skipped.
``--check`` exits 1 when tracker.extract is below the 100 pages/s target.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.extract import extract_text  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "pdf"
TARGET_PAGES_PER_SECOND = 100.0
# A phrase every extractor must find, so that a fast but broken one cannot win.
CHECK_PHRASE = "Optical Fiber Lease Agreement"

Extractor = Callable[[bytes], list[str]]


def tracker_extract(body: bytes) -> list[str]:
    result = extract_text(body, "application/pdf", ocr=False)
    return [page.text for page in result.pages]


def bare_pypdfium2(body: bytes) -> list[str]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(body)
    try:
        texts = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        document.close()


def pdfminer_six(body: bytes) -> list[str]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer

    return [
        "".join(element.get_text() for element in layout if isinstance(element, LTTextContainer))
        for layout in extract_pages(io.BytesIO(body))
    ]


def pypdf_reader(body: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(body)).pages]


EXTRACTORS: list[tuple[str, str, Extractor]] = [
    ("tracker.extract (pypdfium2)", "pypdfium2", tracker_extract),
    ("pypdfium2 (bare)", "pypdfium2", bare_pypdfium2),
    ("pdfminer.six", "pdfminer", pdfminer_six),
    ("pypdf", "pypdf", pypdf_reader),
]


def available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def version(module: str) -> str:
    names = {"pypdfium2": "pypdfium2", "pdfminer": "pdfminer.six", "pypdf": "pypdf"}
    try:
        from importlib.metadata import version as dist_version

        return dist_version(names[module])
    except Exception:
        return "?"


def one_round(extractor: Extractor, bodies: list[bytes], seconds: float) -> float:
    """Pages per second over repeated passes through all bodies, for at least ``seconds``."""
    pages = 0
    start = time.perf_counter()
    while True:
        for body in bodies:
            pages += len(extractor(body))
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return pages / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum time per round")
    parser.add_argument("--check", action="store_true", help="exit 1 below the target")
    args = parser.parse_args(argv)

    paths = sorted(FIXTURES.rglob("*.pdf"))
    if not paths:
        print(f"no PDFs under {FIXTURES}", file=sys.stderr)
        return 2
    bodies = [path.read_bytes() for path in paths]
    total_pages = sum(len(tracker_extract(body)) for body in bodies)
    print(f"{len(paths)} PDFs, {total_pages} pages, {sum(map(len, bodies)) / 1e6:.2f} MB")
    for path in paths:
        print(f"  {path.relative_to(ROOT)}")
    print(
        f"{args.rounds} rounds of >= {args.seconds:g} s each; pages per second "
        "(median, min-max over rounds)\n"
    )

    header = f"{'extractor':<30} {'version':<12} {'median':>9} {'min':>9} {'max':>9}  {'x':>6}"
    print(header)
    print("-" * len(header))
    chosen: float | None = None
    for name, module, extractor in EXTRACTORS:
        if not available(module):
            print(f"{name:<30} not installed (pip install {version_hint(module)}), skipped")
            continue
        texts = [extractor(body) for body in bodies]  # warm-up, and a correctness check
        pages = sum(len(page_texts) for page_texts in texts)
        found = any(CHECK_PHRASE in " ".join(t.split()) for page_texts in texts for t in page_texts)
        if pages != total_pages or not found:
            print(f"{name:<30} WRONG OUTPUT ({pages} pages, phrase found: {found}), skipped")
            continue
        rates = [one_round(extractor, bodies, args.seconds) for _ in range(args.rounds)]
        median = statistics.median(rates)
        if chosen is None:
            chosen = median
        ratio = chosen / median if median else float("inf")
        print(
            f"{name:<30} {version(module):<12} {median:>9.1f} {min(rates):>9.1f} "
            f"{max(rates):>9.1f}  {ratio:>5.1f}x"
        )
    print("\nx = how many times faster tracker.extract is than that extractor")
    if chosen is None:
        return 2
    met = chosen >= TARGET_PAGES_PER_SECOND
    print(
        f"target: tracker.extract >= {TARGET_PAGES_PER_SECOND:g} pages/s: "
        f"{'met' if met else 'NOT MET'} ({chosen:.1f})"
    )
    return 1 if args.check and not met else 0


def version_hint(module: str) -> str:
    return {"pdfminer": "pdfminer.six"}.get(module, module)


if __name__ == "__main__":
    sys.exit(main())
