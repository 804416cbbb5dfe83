"""Test documents: PDFs with a real text layer, from the repository's minimal writer."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from pdfwriter import make_pdf, paginate

__all__ = ["make_pdf", "paginate"]
