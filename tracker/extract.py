"""Text with page numbers from meeting documents: PDF, HTML, DOCX, RTF and plain text.

Pure functions: no network, no database, no files (OCR input is piped to ``tesseract`` on
stdin). Fetching, archiving and storage live elsewhere.

``extract_text(body, declared, url)`` never raises. It sniffs what the body really is (magic
bytes first, then the declared Content-Type, then the URL suffix), extracts text page by page,
and reports problems in two one-line fields:

``error``
    The extraction failed or is known to be incomplete: empty body, truncated or corrupt file,
    unsupported binary, a DOCX that would expand past the size cap, no text at all. ``pages``
    holds whatever could be salvaged (often nothing). Store the document, but do not trust the
    text as complete; a re-fetch may help.
``warning``
    The text is usable but something is worth recording: the declared type was wrong ("declared
    application/pdf but body is text/html"), a PDF was cut at ``max_pages``, some pages have no
    text layer and OCR is unavailable, OCR failed on a page, a PDF lacks its ``%%EOF`` marker.
    A type mismatch becomes part of ``error`` only when nothing could be extracted.

Pages
    PDF: one :class:`Page` per PDF page, numbered from 1 in document order (the physical page
    index, not the printed page label). HTML, DOCX and RTF have no reliable pagination (it
    depends on the renderer), so each is ONE page numbered 1. Plain text is split on form feeds
    (``\\f``, as ``pdftotext`` writes), otherwise one page. ``Extraction.text`` joins the pages
    with ``\\f``; page texts never contain ``\\f``, so ``text[:offset].count("\\f") + 1`` is the
    page number of any offset (see :meth:`Extraction.page_at`).

Scanned PDFs and OCR
    A PDF page whose text layer has fewer than ``NEAR_EMPTY_ALNUM`` letters or digits while
    images cover at least ``SCANNED_IMAGE_COVERAGE`` of its area needs OCR. OCR runs only when
    the ``tesseract`` binary is on ``PATH`` and ``ocr`` is not False: the page is rendered to a
    greyscale bitmap with pypdfium2 and piped to ``tesseract stdin stdout``. Without tesseract
    the page text stays empty and the page is flagged; nothing is ever guessed.
    ``Extraction.needs_ocr`` means "some page still has no usable text because its text layer
    is missing and OCR did not run or failed on it"; ``Extraction.ocr_used`` means "the text of
    at least one page comes from OCR" (a scanned blank page OCRs to "" and counts as done, with
    a warning). Each :class:`Page` carries the same two flags for itself.

Limits against hostile input
    ``max_pages`` (default 5000) pages of a PDF are read, the rest are skipped with a warning;
    at most ``max_ocr_pages`` (default 50) pages are OCRed per document, each with a timeout; a
    DOCX whose members would expand past ``max_docx_bytes`` (default 200 MB total) or that has
    more than ``MAX_DOCX_ENTRIES`` members is refused before it is parsed. PDFium is not
    thread-safe, so all PDFium calls in this module hold one module-level lock.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import math
import re
import shutil
import subprocess
import threading
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from bs4 import (
    BeautifulSoup,
    CData,
    MarkupResemblesLocatorWarning,
    NavigableString,
    Tag,
    XMLParsedAsHTMLWarning,
)

PDF = "application/pdf"
HTML = "text/html"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
RTF = "application/rtf"
TEXT = "text/plain"
BINARY = "application/octet-stream"

CONTENT_TYPES = (PDF, HTML, DOCX, RTF, TEXT, BINARY)

DEFAULT_MAX_PAGES = 5000
DEFAULT_MAX_DOCX_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_OCR_PAGES = 50
MAX_DOCX_ENTRIES = 10_000
NEAR_EMPTY_ALNUM = 10
SCANNED_IMAGE_COVERAGE = 0.25
OCR_DPI = 300
OCR_MAX_PIXELS = 40_000_000
OCR_TIMEOUT_SECONDS = 120.0

_LABELS = {
    PDF: "PDF",
    HTML: "HTML",
    DOCX: "DOCX",
    RTF: "RTF",
    TEXT: "plain text",
    BINARY: "binary data",
}

# PDFium must not be entered from two threads at once, not even for different documents.
_PDFIUM_LOCK = threading.RLock()


@dataclass(frozen=True, slots=True)
class Page:
    """The text of one page. ``number`` is 1-based."""

    number: int
    text: str
    needs_ocr: bool = False  # no text layer, and OCR did not fill it
    ocr_used: bool = False  # text came from OCR (possibly "" for a blank scan)


@dataclass(frozen=True, slots=True)
class Extraction:
    """What :func:`extract_text` found. See the module docstring for the meaning of each field."""

    content_type: str
    pages: tuple[Page, ...] = ()
    needs_ocr: bool = False
    ocr_used: bool = False
    error: str | None = None
    warning: str | None = None
    page_count: int = 0  # pages in the source; more than len(pages) when max_pages cut it

    @property
    def text(self) -> str:
        """All pages joined with form feeds (``\\f``)."""
        return "\f".join(page.text for page in self.pages)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def ocr_pages(self) -> tuple[int, ...]:
        """Numbers of the pages that still need OCR."""
        return tuple(page.number for page in self.pages if page.needs_ocr)

    def page_at(self, offset: int) -> int | None:
        """The page number holding character ``offset`` of :attr:`text` (None if out of range)."""
        if not self.pages or offset < 0:
            return None
        position = 0
        for page in self.pages:
            end = position + len(page.text)
            if offset <= end:
                return page.number
            position = end + 1
        return None


# --------------------------------------------------------------------------------------------
# Sniffing


_DECLARED_ALIASES = {
    "application/pdf": PDF,
    "application/x-pdf": PDF,
    "application/acrobat": PDF,
    "applications/vnd.pdf": PDF,
    "text/pdf": PDF,
    "text/x-pdf": PDF,
    "text/html": HTML,
    "application/xhtml+xml": HTML,
    "application/rtf": RTF,
    "application/x-rtf": RTF,
    "text/rtf": RTF,
    "text/richtext": RTF,
    DOCX: DOCX,
    "text/plain": TEXT,
}

_SUFFIXES = {
    ".pdf": PDF,
    ".htm": HTML,
    ".html": HTML,
    ".xhtml": HTML,
    ".shtml": HTML,
    ".asp": HTML,
    ".aspx": HTML,
    ".php": HTML,
    ".jsp": HTML,
    ".cfm": HTML,
    ".docx": DOCX,
    ".rtf": RTF,
    ".txt": TEXT,
    ".text": TEXT,
}

# Other binary formats we recognise only to say clearly what they are.
_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (.doc/.xls, or an encrypted DOCX)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "gzip-compressed data (Content-Encoding not decoded?)"),
    (b"BZh", "bzip2-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (b"%!PS", "a PostScript file"),
)

# WHATWG MIME sniffing: markup that starts with one of these (case-insensitive) is HTML when it
# is followed by a space or ">".
_HTML_STARTS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
    b"<meta",
    b"<link",
    b"<center",
    b"<span",
    b"<form",
)
_TAG_END = b" \t\n\r\x0c>/"


def _normalize_mime(declared: str | None) -> tuple[str | None, str | None]:
    """(the bare declared MIME type, the type we map it to or None)."""
    if not declared or not isinstance(declared, str):
        return None, None
    bare = declared.split(";", 1)[0].strip().lower()
    if not bare:
        return None, None
    mapped = _DECLARED_ALIASES.get(bare)
    if mapped is None and bare.startswith("text/") and bare not in ("text/html", "text/rtf"):
        mapped = TEXT
    return bare, mapped


def _declared_charset(declared: str | None) -> str | None:
    if not declared or not isinstance(declared, str):
        return None
    match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", declared, re.IGNORECASE)
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return None


def _url_type(url: str | None) -> str | None:
    if not url or not isinstance(url, str):
        return None
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    name = path.rsplit("/", 1)[-1].lower()
    if "." not in name:
        return None
    return _SUFFIXES.get("." + name.rsplit(".", 1)[-1])


def _text_head(body: bytes, limit: int = 1024) -> bytes:
    """The start of the body as lower-case ASCII-compatible bytes, BOM and leading space removed."""
    head = body[: limit * 2]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16-le" if head.startswith(b"\xff\xfe") else "utf-16-be"
        head = head[2:].decode(encoding, errors="ignore").encode("latin-1", errors="ignore")
    elif head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.lstrip()[:limit].lower()


def _looks_like_html(head: bytes) -> bool:
    if head.startswith(b"<?xml"):
        end = head.find(b"?>")
        if end < 0:
            return False
        rest = head[end + 2 :].lstrip()
        return rest.startswith((b"<!doctype html", b"<html"))
    if head.startswith(b"<!--"):
        return True
    for start in _HTML_STARTS:
        if head.startswith(start):
            following = head[len(start) : len(start) + 1]
            if following and following in _TAG_END:
                return True
    return False


def _zip_kind(body: bytes) -> str | None:
    """DOCX when the ZIP holds a Word document, else None."""
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            names = set(archive.namelist())
    except Exception:  # BadZipFile, NotImplementedError (odd versions), OSError, ...
        # A truncated ZIP has no central directory; look at the local headers instead.
        return DOCX if b"word/document" in body[:262_144] else None
    if "word/document.xml" in names:
        return DOCX
    if "[Content_Types].xml" in names and any(name.startswith("word/") for name in names):
        return DOCX
    return None


def _looks_like_text(body: bytes) -> bool:
    sample = body[:8192]
    if not sample:
        return False
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\x00" in sample:
        return False
    controls = sum(
        1 for byte in sample if (byte < 0x20 and byte not in b"\t\n\r\x0c\x1b") or byte == 0x7F
    )
    if controls > len(sample) // 100:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return True
    except UnicodeDecodeError:
        pass
    high = sum(1 for byte in sample if byte >= 0x80)
    return high <= len(sample) * 3 // 10


def _sniff(body: bytes, declared: str | None, url: str | None) -> tuple[str, str | None]:
    """(content type, a description when it is unsupported binary data)."""
    if not body:
        return BINARY, "an empty body"
    if body.startswith(b"%PDF-"):
        return PDF, None
    head = _text_head(body)
    if head.startswith(b"{\\rtf"):
        return RTF, None
    if body.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        if _zip_kind(body) == DOCX:
            return DOCX, None
        return BINARY, "a ZIP archive without word/document.xml (not a DOCX)"
    if _looks_like_html(head):
        return HTML, None
    if b"%PDF-" in body[:1024]:  # PDF readers accept junk before the header
        return PDF, None
    for magic, description in _BINARY_MAGIC:
        if body.startswith(magic):
            return BINARY, description
    textual = _looks_like_text(body)
    for hint in (_normalize_mime(declared)[1], _url_type(url)):
        # Types with magic bytes (PDF, DOCX, RTF) were ruled out above; a hint can only choose
        # between the textual types, and only for a body that is text.
        if hint in (HTML, TEXT) and textual:
            return hint, None
    if textual:
        return TEXT, None
    return BINARY, "unrecognised binary data"


def sniff_content_type(body: bytes, declared: str | None = None, url: str | None = None) -> str:
    """The real type of ``body``: one of :data:`CONTENT_TYPES`. Never raises.

    Magic bytes decide first (``%PDF-``, a ZIP holding ``word/document.xml``, ``{\\rtf``, HTML
    markup at the start); the declared Content-Type and then the URL suffix only choose between
    HTML and plain text for a body that is text. Anything else is application/octet-stream.
    """
    try:
        return _sniff(_as_bytes(body), declared, url)[0]
    except Exception:
        return BINARY


# --------------------------------------------------------------------------------------------
# Entry point


@dataclass
class _Result:
    pages: list[Page] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    page_count: int | None = None


def _as_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8", errors="replace")
    return bytes(body)


def extract_text(
    body: bytes,
    declared: str | None = None,
    url: str | None = None,
    *,
    ocr: bool | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    max_ocr_pages: int = DEFAULT_MAX_OCR_PAGES,
    max_docx_bytes: int = DEFAULT_MAX_DOCX_BYTES,
    ocr_language: str = "eng",
) -> Extraction:
    """Extract text with page numbers from a fetched document. Never raises.

    ``declared`` is the Content-Type header, ``url`` where the body came from; both are hints
    (see :func:`sniff_content_type`). ``ocr``: None runs OCR when tesseract is installed, False
    never runs it, True asks for it (a warning says so when tesseract is missing).
    """
    content_type = BINARY
    try:
        data = _as_bytes(body)
        content_type, detail = _sniff(data, declared, url)
        return _extract(
            data,
            content_type,
            detail,
            declared,
            ocr=ocr,
            max_pages=max_pages,
            max_ocr_pages=max_ocr_pages,
            max_docx_bytes=max_docx_bytes,
            ocr_language=ocr_language,
        )
    except Exception as exc:  # the promise is "never raises": report instead
        return Extraction(
            content_type=content_type,
            error=f"internal error extracting {_LABELS.get(content_type, content_type)}: "
            f"{type(exc).__name__}: {_one_line(str(exc))}",
        )


def _extract(
    body: bytes,
    content_type: str,
    detail: str | None,
    declared: str | None,
    *,
    ocr: bool | None,
    max_pages: int,
    max_ocr_pages: int,
    max_docx_bytes: int,
    ocr_language: str,
) -> Extraction:
    if not body:
        return Extraction(content_type=BINARY, error="empty body (0 bytes)")

    declared_bare, declared_type = _normalize_mime(declared)
    mismatch = None
    if declared_type is not None and declared_type != content_type:
        what = content_type if content_type != BINARY else (detail or "binary data")
        mismatch = f"declared {declared_bare} but body is {what}"

    result = _Result()
    if content_type == PDF:
        _extract_pdf(
            body,
            result,
            ocr=ocr,
            max_pages=max_pages,
            max_ocr_pages=max_ocr_pages,
            ocr_language=ocr_language,
        )
    elif content_type == HTML:
        charset = _declared_charset(declared)
        result.pages.append(Page(1, _html_to_text(body, charset)))
    elif content_type == DOCX:
        _extract_docx(body, result, max_docx_bytes)
    elif content_type == RTF:
        result.pages.append(Page(1, _rtf_bytes_to_text(body)))
    elif content_type == TEXT:
        _extract_plain(body, _declared_charset(declared), result)
    else:
        sample = f"({len(body)} bytes, starting {body[:8].hex(' ')})"
        if mismatch is not None:  # the mismatch says it all: "declared X but body is a PNG image"
            mismatch = f"{mismatch} {sample}"
        else:
            result.errors.append(f"unsupported content: {detail or 'binary data'} {sample}")

    needs_ocr = any(page.needs_ocr for page in result.pages)
    ocr_used = any(page.ocr_used for page in result.pages)
    has_text = any(page.text.strip() for page in result.pages)
    if not result.errors and not has_text and not needs_ocr and content_type != BINARY:
        result.errors.append(f"no text found in {_LABELS[content_type]} ({len(body)} bytes)")

    warning_parts = list(result.warnings)
    error = "; ".join(result.errors) if result.errors else None
    if mismatch is not None:
        if has_text or needs_ocr:
            warning_parts.insert(0, mismatch)
        else:
            error = f"{mismatch}: {error}" if error else mismatch
    return Extraction(
        content_type=content_type,
        pages=tuple(result.pages),
        needs_ocr=needs_ocr,
        ocr_used=ocr_used,
        error=_one_line(error) if error else None,
        warning=_one_line("; ".join(warning_parts)) if warning_parts else None,
        page_count=result.page_count if result.page_count is not None else len(result.pages),
    )


def _one_line(message: str) -> str:
    return " ".join(message.split())


# --------------------------------------------------------------------------------------------
# PDF

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufeff\uffff]")
_TRAILING_SPACE_RE = re.compile(r"[ \t]+\n")


def _clean_page_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = text.replace("\ufffe", "-").replace("\x02", "-")  # PDFium marks line-end hyphens so
    text = _CONTROL_RE.sub("", text)
    text = _TRAILING_SPACE_RE.sub("\n", text + "\n")
    return text.strip("\n").rstrip()


def _alnum_count(text: str) -> int:
    return sum(1 for char in text if char.isalnum())


def _image_coverage(page: Any) -> float:
    """Fraction of the page area covered by image objects (capped at 1)."""
    width, height = page.get_size()
    area = float(width) * float(height)
    if not area > 0:
        return 0.0
    covered = 0.0
    for count, obj in enumerate(
        page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4)
    ):
        if count >= 2000:
            break
        try:
            # get_bounds() in pypdfium2 5, get_pos() in 4
            bounds = obj.get_bounds if hasattr(obj, "get_bounds") else obj.get_pos
            left, bottom, right, top = bounds()
        except Exception:  # noqa: S112 - a broken object must not stop the page
            continue
        left, right = max(0.0, min(left, right)), min(float(width), max(left, right))
        bottom, top = max(0.0, min(bottom, top)), min(float(height), max(bottom, top))
        if right > left and top > bottom:
            covered += (right - left) * (top - bottom)
        if covered >= area:
            return 1.0
    return covered / area


def _render_pgm(page: Any, dpi: int) -> bytes | None:
    """The page as a binary greyscale PGM image for tesseract, or None if it cannot be drawn."""
    width, height = page.get_size()
    if not (width > 0 and height > 0):
        return None
    scale = dpi / 72.0
    if width * height * scale * scale > OCR_MAX_PIXELS:
        scale = math.sqrt(OCR_MAX_PIXELS / (width * height))
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        w, h, stride, channels = bitmap.width, bitmap.height, bitmap.stride, bitmap.n_channels
        buffer = bytes(bitmap.buffer)
    finally:
        bitmap.close()
    if w <= 0 or h <= 0:
        return None
    rows = []
    for y in range(h):
        row = buffer[y * stride : y * stride + w * channels]
        rows.append(row if channels == 1 else row[1::channels])
    return b"P5\n%d %d\n255\n" % (w, h) + b"".join(rows)


def _run_tesseract(
    executable: str, image: bytes, language: str, dpi: int
) -> tuple[str, str | None]:
    """(OCR text, None) or ("", a one-line reason it failed)."""
    try:
        proc = subprocess.run(
            [executable, "stdin", "stdout", "-l", language, "--dpi", str(dpi)],
            input=image,
            capture_output=True,
            timeout=OCR_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "", f"tesseract timed out after {OCR_TIMEOUT_SECONDS:g} s"
    except OSError as exc:
        return "", f"tesseract could not run: {exc}"
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", errors="replace").strip().splitlines()
        return "", f"tesseract exited {proc.returncode}: {reason[-1] if reason else 'no message'}"
    return proc.stdout.decode("utf-8", errors="replace"), None


def tesseract_path() -> str | None:
    """Where the ``tesseract`` binary is, or None when OCR is unavailable."""
    return shutil.which("tesseract")


def _pdf_open_error(message: str, body: bytes, has_eof: bool) -> str:
    message = _one_line(message)
    if "password" in message.lower():
        return f"encrypted PDF: a password is required to open it ({message})"
    if not has_eof:
        return (
            f"truncated PDF: no %%EOF marker at the end of the {len(body)}-byte body and "
            f"PDFium cannot open it ({message})"
        )
    return f"corrupt PDF: PDFium cannot open it ({message})"


def _extract_pdf(
    body: bytes,
    result: _Result,
    *,
    ocr: bool | None,
    max_pages: int,
    max_ocr_pages: int,
    ocr_language: str,
) -> None:
    has_eof = b"%%EOF" in body[-2048:]
    tesseract = tesseract_path() if ocr is not False else None
    ocr_done = 0
    unreadable: list[int] = []
    ocr_failures: list[str] = []
    skipped_ocr: list[int] = []
    ocr_empty: list[int] = []

    with _PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(body)
        except pdfium.PdfiumError as exc:
            result.errors.append(_pdf_open_error(str(exc), body, has_eof))
            return
    try:
        with _PDFIUM_LOCK:
            total = len(document)
        result.page_count = total
        if total <= 0:
            result.errors.append("PDF has no pages")
            return
        limit = max(0, min(total, max_pages))
        if limit < total:
            result.warnings.append(
                f"PDF has {total} pages; only the first {limit} were extracted "
                f"(max_pages={max_pages})"
            )
        for index in range(limit):
            number = index + 1
            image: bytes | None = None
            with _PDFIUM_LOCK:
                try:
                    text, scanned, image = _read_pdf_page(
                        document,
                        index,
                        want_image=tesseract is not None and ocr_done < max_ocr_pages,
                    )
                except Exception as exc:
                    unreadable.append(number)
                    if len(unreadable) == 1:
                        result.warnings.append(
                            f"page {number} could not be read ({type(exc).__name__}: {exc})"
                        )
                    result.pages.append(Page(number, ""))
                    continue
            if not scanned:
                result.pages.append(Page(number, text))
                continue
            if image is None:
                if tesseract is not None:
                    skipped_ocr.append(number)
                result.pages.append(Page(number, text, needs_ocr=True))
                continue
            ocr_done += 1
            ocr_text, failure = _run_tesseract(
                tesseract or "tesseract", image, ocr_language, OCR_DPI
            )
            ocr_text = _clean_page_text(ocr_text)
            if failure is None:
                # An empty OCR result (a scanned blank page) is an answer too: OCR again would
                # not find more, so the page no longer needs it.
                if not ocr_text:
                    ocr_empty.append(number)
                result.pages.append(Page(number, ocr_text, ocr_used=True))
            else:
                ocr_failures.append(f"page {number}: {failure}")
                result.pages.append(Page(number, text, needs_ocr=True))
    finally:
        with _PDFIUM_LOCK, contextlib.suppress(Exception):
            document.close()

    if len(unreadable) > 1:
        result.warnings.append(f"{len(unreadable)} pages could not be read: {_ranges(unreadable)}")
    if ocr_failures:
        result.warnings.append(
            f"OCR failed on {len(ocr_failures)} page(s), first {ocr_failures[0]}"
        )
    if ocr_empty:
        result.warnings.append(f"OCR found no text on page(s) {_ranges(ocr_empty)}")
    if skipped_ocr:
        result.warnings.append(
            f"OCR limited to {max_ocr_pages} pages per document; not OCRed: {_ranges(skipped_ocr)}"
        )
    no_layer = [page.number for page in result.pages if page.needs_ocr]
    if no_layer and tesseract is None:
        why = "OCR disabled" if ocr is False else "OCR unavailable: tesseract is not installed"
        result.warnings.append(f"no text layer on page(s) {_ranges(no_layer)} ({why})")
    read = sum(1 for page in result.pages if page.number not in unreadable)
    if not has_eof:
        if unreadable or read == 0:
            result.errors.append(
                f"truncated PDF: no %%EOF marker at the end of the {len(body)}-byte body; "
                f"{read} of {total} pages readable"
            )
        else:
            result.warnings.append("no %%EOF marker at the end of the PDF (possibly truncated)")
    elif unreadable and read == 0:
        result.errors.append(f"corrupt PDF: none of its {total} pages could be read")


def _read_pdf_page(
    document: Any, index: int, *, want_image: bool
) -> tuple[str, bool, bytes | None]:
    """(clean text, needs OCR, rendered image for OCR or None). Caller holds the PDFium lock."""
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            text = _clean_page_text(textpage.get_text_range())
        finally:
            textpage.close()
        if _alnum_count(text) >= NEAR_EMPTY_ALNUM:
            return text, False, None
        if _image_coverage(page) < SCANNED_IMAGE_COVERAGE:
            return text, False, None
        image = _render_pgm(page, OCR_DPI) if want_image else None
        return text, True, image
    finally:
        page.close()


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    parts: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# HTML

_NL = "\ue000"  # line break
_PAR = "\ue001"  # paragraph break (blank line)
_TAB = "\ue002"  # table cell separator

_DROP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "canvas",
        "iframe",
        "object",
        "embed",
        "select",
        "meta",
        "link",
    }
)
_PARAGRAPH_TAGS = frozenset(
    {
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
        "dl",
        "hr",
        "section",
        "article",
        "header",
        "footer",
        "main",
        "aside",
        "nav",
        "figure",
        "form",
        "fieldset",
        "address",
        "title",
    }
)
_LINE_TAGS = frozenset(
    {
        "div",
        "li",
        "tr",
        "dt",
        "dd",
        "caption",
        "figcaption",
        "legend",
        "summary",
        "details",
        "center",
        "option",
        "tbody",
        "thead",
        "tfoot",
        "body",
        "html",
        "head",
    }
)
_BREAK_RUN_RE = re.compile(r"[\s\ue000\ue001\ue002]+")
_TAG_RE = re.compile(r"<[^>]*>")


def _break_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if _PAR in run:
        return "\n\n"
    if _NL in run:
        return "\n"
    if _TAB in run:
        return "\t" * run.count(_TAB)
    return " "


def _finish_marked_text(text: str) -> str:
    text = _CONTROL_RE.sub("", text.replace("\f", " "))
    text = _BREAK_RUN_RE.sub(_break_run, text)
    return text.strip()


def html_to_text(html: str | bytes) -> str:
    """Visible text of an HTML document or fragment; blocks become line breaks, table cells
    tabs, paragraphs blank lines; scripts and styles dropped; whitespace collapsed."""
    return _html_to_text(html, None)


def _html_to_text(html: str | bytes | bytearray, encoding: str | None) -> str:
    if isinstance(html, bytearray):
        html = bytes(html)
    if not html:
        return ""
    try:
        return _soup_text(html, encoding)
    except Exception:
        # Last resort (e.g. pathological nesting): strip tags with a regular expression.
        raw = html if isinstance(html, str) else html.decode(encoding or "utf-8", errors="replace")
        import html as html_module

        return _finish_marked_text(html_module.unescape(_TAG_RE.sub(" ", raw)))


def _soup_text(html: str | bytes, encoding: str | None) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        if isinstance(html, bytes):
            soup = BeautifulSoup(html, "lxml", from_encoding=encoding)
        else:
            soup = BeautifulSoup(html, "lxml")
    # One iterative walk, linear in the size of the tree (mutating the tree with insert_after is
    # quadratic on deeply nested markup, and recursion would overflow on it).
    out: list[str] = []
    pre_depth = 0
    stack: list[tuple[Any, bool]] = [(soup, True)]
    while stack:
        node, entering = stack.pop()
        if isinstance(node, Tag):
            name = node.name
            marker = _PAR if name in _PARAGRAPH_TAGS else _NL if name in _LINE_TAGS else None
            if entering:
                if name in _DROP_TAGS:
                    continue
                if name == "br":
                    out.append(_NL)
                    continue
                if marker:
                    out.append(marker)
                if name == "pre":
                    pre_depth += 1
                stack.append((node, False))
                stack.extend((child, True) for child in reversed(node.contents))
            else:
                if name in ("td", "th"):
                    out.append(_TAB)
                elif name == "pre":
                    pre_depth -= 1
                if marker:
                    out.append(marker)
        elif type(node) in (NavigableString, CData):
            out.append(str(node).replace("\n", _NL) if pre_depth else str(node))
    return _finish_marked_text("".join(out))


# --------------------------------------------------------------------------------------------
# RTF

_ANSICPG_RE = re.compile(rb"\\ansicpg(\d{3,5})")
_HTML_HINT_RE = re.compile(
    r"<(?:p|br|div|span|b|i|u|em|strong|font|ul|ol|li|table|tr|td|th|h[1-6]|a|html|body)\b[^>]*>"
    r"|</[a-zA-Z][a-zA-Z0-9]*\s*>|&(?:nbsp|amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);",
    re.IGNORECASE,
)


def _codepage(rtf_head: bytes) -> str:
    match = _ANSICPG_RE.search(rtf_head)
    if match:
        name = f"cp{int(match.group(1))}"
        try:
            return codecs.lookup(name).name
        except LookupError:
            pass
    return "cp1252"


def _rtf_bytes_to_text(body: bytes) -> str:
    encoding = _codepage(body[:4096])
    return _rtf_string_to_text(body.decode(encoding, errors="replace"), encoding)


def _rtf_string_to_text(rtf: str, encoding: str) -> str:
    from striprtf.striprtf import rtf_to_text as striprtf_to_text

    try:
        try:
            text = striprtf_to_text(rtf, encoding=encoding, errors="replace")
        except TypeError:  # striprtf < 0.0.27 has no errors argument
            text = striprtf_to_text(rtf, encoding=encoding)
    except Exception:
        # Malformed RTF: drop control words and groups' braces, keep the words.
        text = re.sub(r"\\[a-zA-Z]+-?\d* ?|\\'[0-9a-fA-F]{2}|[{}]", "", rtf)
    return _clean_plain(text)


def _clean_plain(text: str) -> str:
    """Newlines normalised, runs of spaces collapsed, lines stripped, at most one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _CONTROL_RE.sub("", text)
    lines = [re.sub(r"[^\S\n\t]+", " ", line).strip(" ") for line in text.split("\n")]
    text = "\n".join(line.rstrip() for line in lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def rtf_to_text(rtf: str) -> str:
    """Plain text of an RTF string such as Legistar's EventItemMinutesNote / AgendaNote.

    ``\\par`` and ``\\line`` become line breaks, font and colour tables are dropped, ``\\'e9``
    escapes are decoded with the document's ``\\ansicpg`` code page (default cp1252) and
    ``\\uN?`` escapes as Unicode. Strings that are not RTF pass through cleaned: HTML has its tags
    stripped (see :func:`html_to_text`), plain text only has its whitespace tidied. Never raises.
    """
    try:
        if not rtf or not isinstance(rtf, str):
            return ""
        stripped = rtf.lstrip("\ufeff \t\r\n")
        if stripped.startswith("{\\rtf"):
            head = stripped[:4096].encode("ascii", errors="ignore")
            return _rtf_string_to_text(stripped, _codepage(head))
        if _HTML_HINT_RE.search(stripped):
            return _html_to_text(stripped, None)
        return _clean_plain(stripped)
    except Exception:
        return _clean_plain(str(rtf)) if isinstance(rtf, str) else ""


# --------------------------------------------------------------------------------------------
# DOCX

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_DOCX_SKIP = frozenset(
    {
        _MC_FALLBACK,  # the same content again, for old readers
        _W + "delText",  # tracked deletions
        _W + "instrText",  # field codes
        _W + "rPr",
        _W + "pPr",
        _W + "tblPr",
        _W + "trPr",
        _W + "tcPr",
        _W + "sectPr",
    }
)


def _extract_docx(body: bytes, result: _Result, max_bytes: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            members = archive.infolist()
    except Exception as exc:  # BadZipFile, NotImplementedError, OSError, ...
        result.errors.append(f"truncated or corrupt DOCX: not a readable ZIP archive ({exc})")
        return
    if len(members) > MAX_DOCX_ENTRIES:
        result.errors.append(
            f"DOCX has {len(members)} ZIP members (limit {MAX_DOCX_ENTRIES}); refused as a "
            "possible zip bomb"
        )
        return
    expanded = sum(member.file_size for member in members)
    if expanded > max_bytes:
        result.errors.append(
            f"DOCX would expand to {expanded} bytes (limit {max_bytes}); refused as a "
            "possible zip bomb"
        )
        return

    import docx

    try:
        document = docx.Document(io.BytesIO(body))
        root = document.element.body
    except Exception as exc:
        result.errors.append(f"corrupt DOCX: {type(exc).__name__}: {_one_line(str(exc))[:300]}")
        return
    result.pages.append(Page(1, _docx_body_text(root)))


def _docx_body_text(root: Any) -> str:
    """Text of a w:body in document order: paragraphs, tables (cells tab-separated, one row a
    line), content controls and text boxes included; tracked deletions and field codes not."""
    out: list[str] = []
    cell_depth = 0
    # Iterative depth-first walk: (element, entering?) pairs.
    stack: list[tuple[Any, bool]] = [(root, True)]
    while stack:
        element, entering = stack.pop()
        tag = element.tag
        if not isinstance(tag, str):  # comments, processing instructions
            continue
        if entering:
            if tag in _DOCX_SKIP:
                continue
            if tag == _W + "t":
                out.append(element.text or "")
            elif tag in (_W + "tab", _W + "ptab"):
                out.append(" ")
            elif tag in (_W + "br", _W + "cr"):
                out.append(_NL if cell_depth == 0 else " ")
            elif tag == _W + "noBreakHyphen":
                out.append("-")
            elif tag == _W + "tc":
                cell_depth += 1
            stack.append((element, False))
            stack.extend((child, True) for child in reversed(element))
        else:
            if tag == _W + "p":
                out.append(_NL if cell_depth == 0 else " ")
            elif tag == _W + "tc":
                cell_depth -= 1
                out.append(_TAB if cell_depth == 0 else " ")
            elif tag == _W + "tr":
                out.append(_NL if cell_depth == 0 else " ")
            elif tag == _W + "tbl" and cell_depth == 0:
                out.append(_PAR)
    return _finish_marked_text("".join(out))


# --------------------------------------------------------------------------------------------
# Plain text


def _decode_text(body: bytes, charset: str | None) -> str:
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", errors="replace")
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return body.decode("utf-16", errors="replace")
    if charset:
        try:
            return body.decode(charset)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def _extract_plain(body: bytes, charset: str | None, result: _Result) -> None:
    text = _decode_text(body, charset).replace("\r\n", "\n").replace("\r", "\n")
    chunks = text.split("\f")
    if len(chunks) > 1 and not chunks[-1].strip():
        chunks.pop()  # pdftotext ends every page, the last one included, with a form feed
    for number, chunk in enumerate(chunks, start=1):
        cleaned = _CONTROL_RE.sub("", chunk)
        cleaned = _TRAILING_SPACE_RE.sub("\n", cleaned + "\n").strip("\n").rstrip()
        result.pages.append(Page(number, cleaned))
