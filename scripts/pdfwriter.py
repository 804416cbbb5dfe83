"""A minimal PDF writer: pages of Helvetica text lines with a real text layer.

Used to build recorded-style demo archives and test documents without extra dependencies.
Long lines are wrapped; a page holds up to 54 lines and more text flows onto new pages.
"""

from __future__ import annotations

import textwrap

LINES_PER_PAGE = 54
WRAP = 95


def _escape(text: str) -> str:
    encoded = text.encode("cp1252", "replace").decode("latin-1")
    return encoded.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def paginate(text: str) -> list[list[str]]:
    """Wrap ``text`` into lines and cut them into pages ("\\f" forces a new page)."""
    pages: list[list[str]] = []
    for block in text.split("\f"):
        lines: list[str] = []
        for paragraph in block.split("\n"):
            lines += textwrap.wrap(paragraph, WRAP) or [""]
        for start in range(0, max(len(lines), 1), LINES_PER_PAGE):
            pages.append(lines[start : start + LINES_PER_PAGE])
    return pages


def make_pdf(pages: list[str] | list[list[str]]) -> bytes:
    """A PDF with one page per entry: a string (one line) or a list of lines."""
    objects: list[bytes] = []
    kids = []
    font_id = 3 + 2 * len(pages)
    for index, page in enumerate(pages):
        lines = [page] if isinstance(page, str) else page
        page_id, content_id = 3 + 2 * index, 4 + 2 * index
        kids.append(f"{page_id} 0 R")
        body = " T* ".join(f"({_escape(line)}) Tj" for line in lines)
        stream = f"BT /F1 10 Tf 13 TL 50 750 Td {body} ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    catalog = b"<< /Type /Catalog /Pages 2 0 R >>"
    tree = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate([catalog, tree, *objects], start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)
