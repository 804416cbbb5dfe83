"""tracker.extract: text with page numbers from PDF, HTML, DOCX, RTF and plain text."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import struct
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docx
import pypdfium2 as pdfium
import pytest
from conftest import property_settings
from docx.oxml import parse_xml
from hypothesis import given
from hypothesis import strategies as st

from tracker import extract
from tracker.extract import (
    BINARY,
    CONTENT_TYPES,
    DOCX,
    HTML,
    PDF,
    RTF,
    TEXT,
    Extraction,
    Page,
    extract_text,
    html_to_text,
    rtf_to_text,
    sniff_content_type,
)

HERE = Path(__file__).parent
PDFS = HERE / "fixtures" / "pdf"
LADWP = PDFS / "los-angeles-dwp-board" / "ladwp_2.pdf"
CHICAGO = PDFS / "chicago-police-district-council-001" / "Notice-and-Agenda-001-2023-06-06.pdf"
METRO_TEXT = PDFS / "la-metro" / "wrong_minutes_file.pdf"
METRO_SCAN = PDFS / "la-metro" / "right_minutes_file_a.pdf"
RTF_NOTES = json.loads((HERE / "data" / "rtf_notes.json").read_text(encoding="utf-8"))["notes"]

HAS_TESSERACT = shutil.which("tesseract") is not None


def _read(path: Path) -> bytes:
    return path.read_bytes()


def _assert_one_line(message: str | None) -> None:
    if message is not None:
        assert message
        assert "\n" not in message
        assert "\r" not in message


# --------------------------------------------------------------------------------------------
# PDF: page numbers

LADWP_PHRASES = {
    1: "President Cynthia McClain-Hill",
    2: "24971359328#",
    3: "ACCESS BY THE PUBLIC TO DOCUMENTS DISTRIBUTED",
    4: "Introduction of Motions for Future Consideration",
    5: "Optical Fiber Lease Agreement",
    6: "Serena Schroeder v. Los Angeles Department",
    7: "Discussion regarding initiation of litigation",
}


def test_ladwp_agenda_has_seven_pages_numbered_from_one() -> None:
    result = extract_text(_read(LADWP), "application/pdf", "https://example.org/ladwp_2.pdf")
    assert result.content_type == PDF
    assert result.error is None
    assert result.warning is None
    assert result.page_count == 7
    assert [page.number for page in result.pages] == [1, 2, 3, 4, 5, 6, 7]
    assert not result.needs_ocr
    assert not result.ocr_used
    # the agenda prints its own page number as the first line of every page
    assert [page.text.splitlines()[0] for page in result.pages] == [str(n) for n in range(1, 8)]


@pytest.mark.parametrize(("number", "phrase"), sorted(LADWP_PHRASES.items()))
def test_ladwp_phrase_is_on_its_page_and_no_other(number: int, phrase: str) -> None:
    result = extract_text(_read(LADWP))
    on = [page.number for page in result.pages if phrase in page.text]
    assert on == [number]
    offset = result.text.index(phrase)
    assert result.page_at(offset) == number
    assert result.page_at(offset + len(phrase) - 1) == number


def test_pdf_text_is_normalised() -> None:
    result = extract_text(_read(LADWP))
    text = result.text
    assert "\r" not in text
    assert "\ufffe" not in text  # PDFium's line-end hyphen marker becomes a hyphen
    assert "Statewide Once-Through-Cooling Policy" in result.pages[4].text
    assert text.count("\f") == 6  # pages joined by form feeds, none inside a page
    assert all("\f" not in page.text for page in result.pages)
    assert all(line == line.rstrip() for line in text.splitlines())


def test_chicago_notice_is_one_page() -> None:
    result = extract_text(_read(CHICAGO))
    assert result.content_type == PDF
    assert result.error is None
    assert [page.number for page in result.pages] == [1]
    text = result.pages[0].text
    assert text.startswith("City of Chicago\nNOTICE AND AGENDA OF DISTRICT COUNCIL MEETING")
    assert "Javon.Lewis-Brown@cityofchicago.org" in text
    assert "1. Roll Call & Quorum Determination" in text


def test_scanned_page_with_a_text_layer_is_not_flagged() -> None:
    # LA Metro minutes: full-page scan images AND an OCRed text layer under them.
    result = extract_text(_read(METRO_TEXT), ocr=False)
    assert result.error is None
    assert not result.needs_ocr
    assert "DIRECTORS PRESENT:" in result.text
    assert "Gloria Roberts, non-voting member" in result.pages[0].text


# --------------------------------------------------------------------------------------------
# PDF: scanned pages and OCR


def test_scanned_page_without_text_layer_is_flagged_when_ocr_disabled() -> None:
    result = extract_text(_read(METRO_SCAN), "application/pdf", ocr=False)
    assert result.content_type == PDF
    assert result.needs_ocr is True
    assert result.ocr_used is False
    assert result.pages == (Page(1, "", needs_ocr=True, ocr_used=False),)
    assert result.ocr_pages == (1,)
    assert result.text == ""  # never pretend
    assert result.error is None
    assert result.warning is not None
    assert "no text layer on page(s) 1" in result.warning
    assert "OCR disabled" in result.warning


def test_scanned_page_is_flagged_when_tesseract_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(extract.shutil, "which", lambda name: None)
    for ocr in (None, True):
        result = extract_text(_read(METRO_SCAN), ocr=ocr)
        assert result.needs_ocr is True
        assert result.ocr_used is False
        assert result.text == ""
        assert result.warning is not None
        assert "tesseract is not installed" in result.warning


def test_failing_tesseract_leaves_the_page_flagged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "tesseract"
    fake.write_text("#!/bin/sh\ncat >/dev/null\necho 'Error: broken install' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(extract.shutil, "which", lambda name: str(fake))
    result = extract_text(_read(METRO_SCAN))
    assert result.needs_ocr is True
    assert result.ocr_used is False
    assert result.text == ""
    assert result.warning is not None
    assert "OCR failed on 1 page(s)" in result.warning
    assert "tesseract exited 3: Error: broken install" in result.warning


def test_ocr_receives_a_rendered_page_image(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A stand-in tesseract that reports the image header it was given on stdin.
    fake = tmp_path / "tesseract"
    fake.write_text("#!/bin/sh\nhead -c 2\necho ' OCR TEXT FROM FAKE TESSERACT'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(extract.shutil, "which", lambda name: str(fake))
    result = extract_text(_read(METRO_SCAN))
    assert result.ocr_used is True
    assert result.needs_ocr is False
    assert result.pages == (Page(1, "P5 OCR TEXT FROM FAKE TESSERACT", ocr_used=True),)
    # OCR is never attempted on pages that have a text layer
    assert extract_text(_read(LADWP)).ocr_used is False


def _fake_tesseract(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str) -> None:
    fake = tmp_path / "tesseract"
    fake.write_text("#!/bin/sh\ncat >/dev/null\n" + script)
    fake.chmod(0o755)
    monkeypatch.setattr(extract.shutil, "which", lambda name: str(fake))


def test_scanned_blank_page_counts_as_ocred(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_tesseract(monkeypatch, tmp_path, "exit 0\n")
    result = extract_text(_read(METRO_SCAN))
    assert result.pages == (Page(1, "", ocr_used=True),)
    assert result.needs_ocr is False
    assert result.ocr_used is True
    assert result.warning == "OCR found no text on page(s) 1"
    assert result.error is not None
    assert result.error.startswith("no text found in PDF")


def test_max_ocr_pages_caps_ocr_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_tesseract(monkeypatch, tmp_path, "echo 'Scanned minutes text'\n")
    source = pdfium.PdfDocument(_read(METRO_SCAN))
    target = pdfium.PdfDocument.new()
    for _ in range(3):
        target.import_pages(source)
    buffer = io.BytesIO()
    target.save(buffer)
    target.close()
    source.close()
    result = extract_text(buffer.getvalue(), max_ocr_pages=2)
    assert [(page.number, page.text, page.ocr_used, page.needs_ocr) for page in result.pages] == [
        (1, "Scanned minutes text", True, False),
        (2, "Scanned minutes text", True, False),
        (3, "", False, True),
    ]
    assert result.ocr_used is True
    assert result.needs_ocr is True
    assert result.ocr_pages == (3,)
    assert result.error is None
    assert result.warning == "OCR limited to 2 pages per document; not OCRed: 3"


@pytest.mark.skipif(not HAS_TESSERACT, reason="the tesseract binary is not installed")
def test_tesseract_reads_the_scanned_minutes() -> None:
    result = extract_text(_read(METRO_SCAN))  # ocr=None: automatic when tesseract exists
    assert result.error is None
    assert result.ocr_used is True
    assert result.needs_ocr is False
    assert result.pages[0].ocr_used is True
    text = result.text
    assert "MINUTES" in text
    assert "DIRECTORS PRESENT" in text
    assert "Janice Hahn" in text


# --------------------------------------------------------------------------------------------
# PDF: broken and hostile input


def test_truncated_pdf_is_an_error() -> None:
    body = _read(LADWP)
    result = extract_text(body[: len(body) // 2], "application/pdf")
    assert result.content_type == PDF
    assert result.error is not None
    assert result.error.startswith("truncated PDF:")
    assert "%%EOF" in result.error
    assert result.pages == ()
    _assert_one_line(result.error)


def test_pdf_cut_just_before_the_end_is_not_silently_complete() -> None:
    body = _read(LADWP)
    result = extract_text(body[:-200])
    problems = (result.error or "") + (result.warning or "")
    assert "truncated" in problems


def test_corrupt_pdf_with_eof_marker_is_an_error() -> None:
    body = b"%PDF-1.7\n" + b"garbage " * 500 + b"\n%%EOF\n"
    result = extract_text(body)
    assert result.content_type == PDF
    assert result.error is not None
    assert result.error.startswith("corrupt PDF:")


def _pdf_with_repeated_pages(copies: int) -> bytes:
    source = pdfium.PdfDocument(_read(LADWP))
    target = pdfium.PdfDocument.new()
    for _ in range(copies):
        target.import_pages(source)
    buffer = io.BytesIO()
    target.save(buffer)
    target.close()
    source.close()
    return buffer.getvalue()


def test_max_pages_caps_extraction_and_says_so() -> None:
    body = _pdf_with_repeated_pages(3)  # 21 pages: LADWP's 7, three times
    result = extract_text(body, max_pages=10)
    assert result.page_count == 21
    assert [page.number for page in result.pages] == list(range(1, 11))
    assert LADWP_PHRASES[3] in result.pages[9].text  # page 10 is LADWP page 3
    assert result.error is None
    assert result.warning == ("PDF has 21 pages; only the first 10 were extracted (max_pages=10)")
    full = extract_text(body)
    assert len(full.pages) == 21
    assert full.warning is None


def test_default_page_cap_is_5000() -> None:
    document = pdfium.PdfDocument.new()
    for _ in range(5003):
        document.new_page(612, 792)
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()
    result = extract_text(buffer.getvalue())
    assert result.page_count == 5003
    assert len(result.pages) == 5000
    assert result.warning is not None
    assert "max_pages=5000" in result.warning
    # blank pages: no text and nothing to OCR is an error, not a silent empty success
    assert result.error is not None
    assert result.error.startswith("no text found in PDF")


def test_concurrent_extraction_matches_serial() -> None:
    """PDFium is not thread-safe; the module lock must make threaded callers safe."""
    bodies = [_read(LADWP), _read(CHICAGO), _read(METRO_TEXT), _read(METRO_SCAN)] * 6
    serial = [extract_text(body, ocr=False) for body in bodies]
    with ThreadPoolExecutor(max_workers=6) as pool:
        threaded = list(pool.map(lambda body: extract_text(body, ocr=False), bodies))
    assert threaded == serial


# --------------------------------------------------------------------------------------------
# Empty body, wrong declared type, unsupported types


def test_empty_body() -> None:
    result = extract_text(b"", "application/pdf", "https://example.org/a.pdf")
    assert result.error == "empty body (0 bytes)"
    assert result.pages == ()
    assert result.text == ""
    assert result.content_type == BINARY
    assert not result.ok


HTML_ERROR_PAGE = b"""<!DOCTYPE html>
<html><head><title>Service Unavailable</title>
<style>body { color: red }</style><script>window.location = "/retry";</script></head>
<body><h1>Agenda temporarily unavailable</h1><p>Please try again later.</p></body></html>"""


def test_html_served_as_pdf_is_extracted_as_html_with_a_warning() -> None:
    result = extract_text(HTML_ERROR_PAGE, "application/pdf", "https://example.org/agenda.pdf")
    assert result.content_type == HTML
    assert result.error is None
    assert result.warning == "declared application/pdf but body is text/html"
    assert result.text == (
        "Service Unavailable\n\nAgenda temporarily unavailable\n\nPlease try again later."
    )
    assert "window.location" not in result.text
    assert "color: red" not in result.text


def test_empty_html_served_as_pdf_is_an_error_naming_the_mismatch() -> None:
    body = b"<html><head><script>var a = 1;</script></head><body> </body></html>"
    result = extract_text(body, "application/pdf; qs=0.9")
    assert result.content_type == HTML
    assert result.error is not None
    assert result.error.startswith("declared application/pdf but body is text/html")
    assert result.pages == (Page(1, ""),)


def test_random_bytes_declared_pdf() -> None:
    body = bytes(range(256)) * 4
    result = extract_text(body, "application/pdf")
    assert result.content_type == BINARY
    assert result.error is not None
    assert result.error.startswith("declared application/pdf but body is unrecognised binary data")
    assert result.pages == ()


def test_image_is_named_in_the_error() -> None:
    result = extract_text(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert result.content_type == BINARY
    assert result.error is not None
    assert "a PNG image" in result.error


def test_legacy_word_document_is_named_in_the_error() -> None:
    result = extract_text(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "application/msword")
    assert result.content_type == BINARY
    assert result.error is not None
    assert "legacy Office file" in result.error


# --------------------------------------------------------------------------------------------
# Sniffing


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.add_paragraph("hello")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a word document")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "declared", "url", "expected"),
    [
        (b"%PDF-1.4\n...", None, None, PDF),
        (b"%PDF-1.4\n...", "text/html", "https://x.org/a.html", PDF),  # magic wins
        (b"\r\n\r\n%PDF-1.4\n...", None, None, PDF),  # junk before the header
        (b"{\\rtf1\\ansi hello}", "text/plain", None, RTF),
        (b"\xef\xbb\xbf  {\\rtf1 hello}", None, None, RTF),
        (b"<!DOCTYPE html><html></html>", "application/pdf", None, HTML),
        (b"\xef\xbb\xbf\n  <!doctype HTML>\n<html>", None, None, HTML),
        (b"<HTML><BODY>x</BODY></HTML>", None, None, HTML),
        (b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "x"><html>', None, None, HTML),
        (b"<p>fragment</p>", None, None, HTML),
        (b"<table><tr><td>1</td></tr></table>", None, None, HTML),
        ("<html>é</html>".encode("utf-16"), None, None, HTML),
        (b"Agenda item 1 <b>bold</b>", "text/html; charset=utf-8", None, HTML),
        (b"Agenda item 1 <b>bold</b>", None, "https://x.org/View.aspx?ID=1", HTML),
        (b"Agenda item 1", None, None, TEXT),
        (b"Agenda item 1", "application/pdf", "https://x.org/a.pdf", TEXT),
        (b"Caf\xe9 agenda", None, None, TEXT),  # cp1252, not UTF-8
        (b"\x00\x01\x02\x03binary", "text/plain", None, BINARY),
        (b"", "application/pdf", "https://x.org/a.pdf", BINARY),
        (b"\x89PNG\r\n\x1a\n\x00\x00", None, None, BINARY),
        (b"\x1f\x8b\x08\x00\x00\x00", "application/pdf", None, BINARY),
    ],
)
def test_sniff_content_type(
    body: bytes, declared: str | None, url: str | None, expected: str
) -> None:
    assert sniff_content_type(body, declared, url) == expected


def test_sniff_zip_archives() -> None:
    assert sniff_content_type(_docx_bytes()) == DOCX
    assert sniff_content_type(_docx_bytes(), "application/octet-stream", "x.bin") == DOCX
    assert sniff_content_type(_plain_zip(), DOCX, "https://x.org/a.docx") == BINARY
    result = extract_text(_plain_zip(), DOCX)
    assert result.error is not None
    assert "ZIP archive without word/document.xml" in result.error


def test_sniff_never_raises_on_odd_arguments() -> None:
    assert sniff_content_type(b"x", declared="", url="") == TEXT
    assert sniff_content_type(b"x", declared=";;;", url="http://[::1") == TEXT
    assert sniff_content_type(bytearray(b"%PDF-1.4")) == PDF  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# HTML


def test_html_to_text_keeps_blocks_and_drops_scripts() -> None:
    html = """<html><head><title>Council Agenda</title><script>var x = "<p>no</p>";</script>
    <style>.a { display: none }</style></head><body>
    <div>Item&nbsp;14:   Resolution
        regarding the 287(g) agreement</div><div>Item 15<br>Second   line</div>
    <table><tr><th>Member</th><th>Vote</th></tr>
           <tr><td>Williams</td><td>Aye</td></tr><tr><td>Hunter</td><td>Nay</td></tr></table>
    <ul><li>one</li><li>two</li></ul><!-- a comment -->
    <pre>keep  this
line</pre><noscript>enable javascript</noscript></body></html>"""
    assert html_to_text(html) == (
        "Council Agenda\n\n"
        "Item 14: Resolution regarding the 287(g) agreement\n"
        "Item 15\nSecond line\n\n"
        "Member\tVote\nWilliams\tAye\nHunter\tNay\n\n"
        "one\ntwo\n\n"
        "keep this\nline"
    )


def test_html_bytes_use_the_declared_or_meta_charset() -> None:
    meta = b'<html><head><meta charset="windows-1252"></head><body><p>Caf\xe9 \x93ICE\x94</p>'
    assert html_to_text(meta) == "Café “ICE”"
    body = b"<html><body><p>Se\xf1or</p></body></html>"
    result = extract_text(body, "text/html; charset=ISO-8859-1")
    assert result.text == "Señor"
    assert result.content_type == HTML


def test_deeply_nested_html_does_not_overflow_or_crawl() -> None:
    body = b"<html><body>" + b"<div><span>" * 20_000 + b"deep text" + b"</span></div>" * 20_000
    result = extract_text(body)
    assert result.error is None
    assert result.text == "deep text"


# --------------------------------------------------------------------------------------------
# DOCX


def _build_docx() -> bytes:
    document = docx.Document()
    document.add_heading("City Council Regular Meeting", 1)
    document.add_paragraph("Item 14: Resolution opposing the 287(g) agreement with ICE.")
    table = document.add_table(rows=3, cols=2)
    for row, (name, vote) in enumerate(
        [("Member", "Vote"), ("Williams", "Aye"), ("Hunter", "Nay")]
    ):
        table.cell(row, 0).text = name
        table.cell(row, 1).text = vote
    paragraph = document.add_paragraph("Motion ")
    paragraph.add_run("carried").bold = True
    paragraph.add_run(" 4-1.")
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = document.element.body
    # A block-level content control (python-docx's own paragraph iterator skips these) ...
    body.insert(
        len(body) - 1,
        parse_xml(
            f"<w:sdt {w}><w:sdtContent><w:p><w:r><w:t>Public comment sign-up closes"
            " at 5 p.m.</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        ),
    )
    # ... and a tracked deletion, which is not part of the text.
    body.insert(
        len(body) - 1,
        parse_xml(
            f"<w:p {w}><w:r><w:t>Kept </w:t></w:r><w:del w:id='1' w:author='a'><w:r>"
            "<w:delText>DELETED</w:delText></w:r></w:del><w:r><w:t>words</w:t></w:r></w:p>"
        ),
    )
    # A text box is stored twice (mc:Choice for new readers, mc:Fallback for old ones): once.
    mc = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    box = "<w:txbxContent><w:p><w:r><w:t>Boxed note</w:t></w:r></w:p></w:txbxContent>"
    body.insert(
        len(body) - 1,
        parse_xml(
            f"<w:p {w} {mc}><w:r><w:t>See </w:t></w:r><w:r><mc:AlternateContent>"
            f'<mc:Choice Requires="wps"><w:drawing>{box}</w:drawing></mc:Choice>'
            f"<mc:Fallback><w:pict>{box}</w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>"
        ),
    )
    document.add_page_break()
    document.add_paragraph("Café señor “quotes”")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_paragraphs_and_tables_in_order() -> None:
    result = extract_text(_build_docx(), "application/octet-stream", "https://x.org/download")
    assert result.content_type == DOCX
    assert result.error is None
    assert result.warning is None
    assert [page.number for page in result.pages] == [1]
    assert result.text == (
        "City Council Regular Meeting\n"
        "Item 14: Resolution opposing the 287(g) agreement with ICE.\n"
        "Member\tVote\nWilliams\tAye\nHunter\tNay\n\n"
        "Motion carried 4-1.\n"
        "Public comment sign-up closes at 5 p.m.\n"
        "Kept words\n"
        "See Boxed note\n"
        "Café señor “quotes”"
    )


def test_truncated_docx_is_an_error() -> None:
    body = _build_docx()
    result = extract_text(body[: len(body) // 2], DOCX)
    assert result.content_type == DOCX
    assert result.error is not None
    assert result.error.startswith("truncated or corrupt DOCX")
    assert result.pages == ()


def _zip_with(body: bytes, name: str, size: int, prefix: bytes = b"") -> bytes:
    """``body`` with member ``name`` (added or replaced) holding ``prefix`` + ``size`` spaces."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(body)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info, source.read(info.filename))
        chunk = b" " * (1 << 20)
        with target.open(name, "w", force_zip64=size > 1 << 30) as member:
            member.write(prefix)
            left = size
            while left > 0:
                member.write(chunk[: min(len(chunk), left)])
                left -= min(len(chunk), left)
    return out.getvalue()


def test_docx_zip_bomb_is_refused_before_parsing() -> None:
    bomb = _zip_with(_docx_bytes(), "word/media/padding.bin", 201 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024  # 201 MB of spaces compresses to a few hundred KB
    result = extract_text(bomb)
    assert result.content_type == DOCX
    assert result.error is not None
    assert "refused as a possible zip bomb" in result.error
    assert "limit 209715200" in result.error
    assert result.pages == ()


def test_docx_size_cap_is_a_parameter() -> None:
    body = _zip_with(_docx_bytes(), "word/media/padding.bin", 2 * 1024 * 1024)
    assert extract_text(body).error is None
    capped = extract_text(body, max_docx_bytes=1024 * 1024)
    assert capped.error is not None
    assert "zip bomb" in capped.error


def test_docx_whose_zip_headers_lie_about_sizes_is_an_error() -> None:
    """A member that claims to be tiny but inflates to 300 MB is cut off, never inflated."""
    original = zipfile.ZipFile(io.BytesIO(_docx_bytes())).read("word/document.xml")
    body = bytearray(
        _zip_with(_docx_bytes(), "word/document.xml", 300 * 1024 * 1024, prefix=original)
    )
    target = b"word/document.xml"
    position = body.find(b"PK\x03\x04")
    while position >= 0:  # local headers: uncompressed size at +22, name at +30
        name_length = struct.unpack_from("<H", body, position + 26)[0]
        if body[position + 30 : position + 30 + name_length] == target:
            struct.pack_into("<I", body, position + 22, 10)
        position = body.find(b"PK\x03\x04", position + 4)
    position = body.find(b"PK\x01\x02")
    while position >= 0:  # central records: uncompressed size at +24, name at +46
        name_length = struct.unpack_from("<H", body, position + 28)[0]
        if body[position + 46 : position + 46 + name_length] == target:
            struct.pack_into("<I", body, position + 24, 10)
        position = body.find(b"PK\x01\x02", position + 4)
    result = extract_text(bytes(body))
    assert result.content_type == DOCX
    assert result.error is not None
    assert result.error.startswith("corrupt DOCX")
    assert result.pages == ()


def test_docx_with_unsupported_zip_version_is_an_error() -> None:
    body = bytearray(_docx_bytes())
    position = body.find(b"PK\x01\x02")
    struct.pack_into("<H", body, position + 6, 255)  # "version needed to extract": 25.5
    result = extract_text(bytes(body))
    assert result.content_type == DOCX
    assert result.error is not None
    assert result.error.startswith("truncated or corrupt DOCX")
    assert "zip file version" in result.error


# --------------------------------------------------------------------------------------------
# RTF (Legistar notes)

EXPECTED_NOTES = {
    65879: "Meeting Start Time: 9:32 a.m.\nPresiding Officer: Council President Harrell",
    65897: "Prepared by: Jodee Schwinn, Deputy City Clerk\n\n"
    "Minutes presented for approval on August 5, 2019.",
    65927: "At 10:59 a.m., the Council moved into a 30-minute Executive Session regarding "
    "Pending, Potential, or Actual Litigation. The Executive Session was extended 40 minutes."
    "\n\nThe Executive Session concluded at 12:07 p.m., and the meeting adjourned.",
}


@pytest.mark.parametrize("note", RTF_NOTES, ids=lambda note: str(note["EventItemId"]))
def test_real_legistar_rtf_notes(note: dict[str, object]) -> None:
    rtf = str(note["rtf"])
    assert rtf.startswith("{\\rtf1")
    text = rtf_to_text(rtf)
    assert "\\" not in text
    assert "{" not in text
    assert "Arial" not in text  # font table dropped
    item_id = int(str(note["EventItemId"]))
    if item_id in EXPECTED_NOTES:
        assert text == EXPECTED_NOTES[item_id]
    # the same note as a fetched body
    result = extract_text(rtf.encode("cp1252"), "application/rtf")
    assert result.content_type == RTF
    assert result.error is None
    assert result.text == text


def test_legistar_rtf_note_with_cp1252_escape() -> None:
    note = next(n for n in RTF_NOTES if "\\'e9" in n["rtf"])
    text = rtf_to_text(note["rtf"])
    assert "Renée Holmes, Chateau Apartments tenant organizer" in text
    assert text.startswith("Briefing and Discussion (60 minutes)\n\nPresenters: Saba")


def test_rtf_escapes_and_code_pages() -> None:
    rtf = (
        "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fnil\\fcharset0 Arial;}}"
        "{\\colortbl ;\\red0\\green0\\blue0;}\\uc1\\pard\\b Caf\\'e9\\b0  \\u8220?ICE\\u8221?"
        " detainers\\par Line\\line two\\par}"
    )
    assert rtf_to_text(rtf) == "Café “ICE” detainers\nLine\ntwo"
    cyrillic = "{\\rtf1\\ansi\\ansicpg1251 \\'cf\\'f0\\'e8\\'e2\\'e5\\'f2\\par}"
    assert rtf_to_text(cyrillic) == "Привет"


def test_rtf_to_text_passes_plain_and_html_through_cleaned() -> None:
    assert rtf_to_text("  Motion carried\r\n\r\n\r\n\r\nby   voice vote  ") == (
        "Motion carried\n\nby voice vote"
    )
    assert rtf_to_text("<p>Motion <b>carried</b></p><p>5&nbsp;&amp;&nbsp;0</p>") == (
        "Motion carried\n\n5 & 0"
    )
    assert rtf_to_text("") == ""
    assert rtf_to_text("Vote: 3 < 5 and x > y") == "Vote: 3 < 5 and x > y"


def test_broken_rtf_does_not_raise() -> None:
    for rtf in ("{\\rtf1 unbalanced {{{ \\par", "{\\rtf1 \\'zz bad hex}", "{\\rtf1 \\u99999999?}"):
        assert isinstance(rtf_to_text(rtf), str)
        result = extract_text(rtf.encode())
        assert result.content_type == RTF


# --------------------------------------------------------------------------------------------
# Plain text


def test_plain_text_pages_split_on_form_feeds() -> None:
    body = b"MINUTES\r\nRoll call  \fPage two text\fPage three\f"
    result = extract_text(body, "text/plain")
    assert result.content_type == TEXT
    assert [(page.number, page.text) for page in result.pages] == [
        (1, "MINUTES\nRoll call"),
        (2, "Page two text"),
        (3, "Page three"),
    ]
    assert result.page_at(result.text.index("three")) == 3


def test_whitespace_only_text_is_an_error() -> None:
    result = extract_text(b" \n\t \n", "text/plain")
    assert result.error is not None
    assert result.error.startswith("no text found in plain text")


# --------------------------------------------------------------------------------------------
# Data classes


def test_results_are_frozen() -> None:
    result = extract_text(b"hello")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.error = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.pages[0].text = "x"  # type: ignore[misc]
    assert isinstance(result, Extraction)
    assert result.page_at(-1) is None
    assert result.page_at(10_000) is None


# --------------------------------------------------------------------------------------------
# Property tests: never raise


_DECLARED = st.sampled_from(
    [
        None,
        "",
        "application/pdf",
        "text/html; charset=utf-8",
        "text/plain; charset=bogus",
        DOCX,
        "application/rtf",
        "application/octet-stream",
        "image/png",
        "text/html; charset=utf-16",
    ]
)
_URLS = st.sampled_from([None, "", "https://x.org/a.pdf", "https://x.org/a.docx", "http://[bad"])
_PREFIXES = st.sampled_from(
    [
        b"",
        b"%PDF-1.7\n",
        b"PK\x03\x04",
        b"{\\rtf1\\ansi ",
        b"<!DOCTYPE html><html>",
        b"<p>",
        b"\xef\xbb\xbf",
        b"\xff\xfe",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    ]
)


def _check(result: Extraction) -> None:
    assert isinstance(result, Extraction)
    assert result.content_type in CONTENT_TYPES
    assert [page.number for page in result.pages] == list(range(1, len(result.pages) + 1))
    assert all("\f" not in page.text for page in result.pages)
    _assert_one_line(result.error)
    _assert_one_line(result.warning)
    if not result.pages:
        assert result.error is not None
    assert isinstance(result.text, str)


@property_settings(150)
@given(st.binary(max_size=4096), _DECLARED, _URLS)
def test_extract_text_never_raises_on_arbitrary_bytes(
    body: bytes, declared: str | None, url: str | None
) -> None:
    _check(extract_text(body, declared, url, ocr=False))
    assert sniff_content_type(body, declared, url) in CONTENT_TYPES


@property_settings(150)
@given(_PREFIXES, st.binary(max_size=4096), _DECLARED)
def test_extract_text_never_raises_on_format_prefixed_bytes(
    prefix: bytes, tail: bytes, declared: str | None
) -> None:
    body = prefix + tail
    _check(extract_text(body, declared, ocr=False))
    assert sniff_content_type(body, declared) in CONTENT_TYPES


@property_settings(60)
@given(st.data())
def test_extract_text_never_raises_on_damaged_real_documents(data: st.DataObject) -> None:
    source = data.draw(st.sampled_from([_read(LADWP), _read(CHICAGO), _docx_bytes()]))
    body = bytearray(source[: data.draw(st.integers(0, len(source)))])
    for _ in range(data.draw(st.integers(0, 20))):
        if body:
            body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    _check(extract_text(bytes(body), ocr=False))


@property_settings(200)
@given(st.text(max_size=2000))
def test_text_helpers_never_raise(text: str) -> None:
    assert isinstance(rtf_to_text(text), str)
    assert isinstance(rtf_to_text("{\\rtf1 " + text), str)
    assert isinstance(html_to_text(text), str)
    assert isinstance(html_to_text(text.encode("utf-8", errors="surrogatepass")), str)
    assert sniff_content_type(text.encode("utf-8", errors="replace"), text, text) in CONTENT_TYPES


@pytest.mark.slow
@property_settings(3000)
@given(_PREFIXES, st.binary(max_size=20_000), _DECLARED, _URLS)
def test_extract_text_never_raises_many_examples(
    prefix: bytes, tail: bytes, declared: str | None, url: str | None
) -> None:
    _check(extract_text(prefix + tail, declared, url, ocr=False))
