"""Tests for source_confluence.text.extraction, on real small files generated here."""

from __future__ import annotations

import csv
import io
import os

import docx
import openpyxl
import pytest
from fpdf import FPDF
from pptx import Presentation
from pptx.util import Inches

from source_confluence.text import extraction
from source_confluence.text.extraction import ExtractionResult, detect_kind, extract_text, should_download

DOCX_MT = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX_MT = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX_MT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --------------------------------------------------------------------------- file factories


def make_pdf(*pages: str, **encryption) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    if encryption:
        pdf.set_encryption(**encryption)
    return bytes(pdf.output())


def make_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("First paragraph alpha")
    document.add_paragraph("Second paragraph bravo")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Name"
    table.cell(0, 1).text = "Score"
    table.cell(1, 0).text = "Ada"
    table.cell(1, 1).text = "42"
    document.add_paragraph("Closing paragraph charlie")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_pptx() -> bytes:
    presentation = Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[1])  # title + content
    first.shapes.title.text = "Quarterly review"
    first.placeholders[1].text = "Revenue grew"
    first.notes_slide.notes_text_frame.text = "Speaker note delta"
    second = presentation.slides.add_slide(presentation.slide_layouts[5])  # title only
    second.shapes.title.text = "Numbers"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    table.cell(0, 0).text = "Region"
    table.cell(0, 1).text = "Sales"
    table.cell(1, 0).text = "North"
    table.cell(1, 1).text = "17"
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def make_xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    people = workbook.active
    people.title = "People"
    people.append(["Name", "Age"])
    people.append(["Grace", 85])
    people.append([None, None])  # fully empty row: must be skipped
    people.append(["Linus", 3.0])
    budget = workbook.create_sheet("Budget")
    budget.append(["Item", "Cost"])
    budget.append(["Laptop", 1200.5])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_csv(rows, encoding: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def assert_in_order(text: str, *needles: str) -> None:
    positions = [text.index(needle) for needle in needles]  # index raises if missing
    assert positions == sorted(positions), f"out of order: {list(zip(needles, positions))}"


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("filename", "media_type", "expected"),
    [
        ("report.pdf", "application/pdf", "pdf"),
        ("report.pdf", "application/octet-stream", "pdf"),
        (None, "application/pdf", "pdf"),
        ("REPORT.PDF", None, "pdf"),
        ("notes.md", "application/octet-stream", "markdown"),
        ("notes.md", "text/plain", "markdown"),
        ("data.csv", "binary/octet-stream", "csv"),
        ("DATA.CSV", "text/plain; charset=UTF-8", "csv"),
        ("spec.docx", "application/octet-stream", "docx"),
        ("Spec.DOCX", "application/zip", "docx"),
        ("deck.pptx", PPTX_MT, "pptx"),
        ("book.xlsx", "application/vnd.ms-excel", "xlsx"),  # vendor label Confluence uses
        ("page.html", None, "html"),
        (None, "Text/HTML; charset=utf-8", "html"),
        ("readme.txt", None, "text"),
        (None, "text/plain", "text"),
        (None, "application/octet-stream", None),
        (None, None, None),
        ("photo.png", "image/png", None),
        ("photo.pdf", "image/png", None),  # an image media type is trusted over the name
        ("archive.zip", "application/zip", None),
        ("setup.exe", "application/x-msdownload", None),
        ("legacy.doc", "application/msword", None),
    ],
)
def test_detect_kind(filename, media_type, expected):
    assert detect_kind(filename, media_type) == expected


# --------------------------------------------------------------------------- one test per kind


def test_pdf_pages_in_order_separated_by_blank_line():
    result = extract_text(make_pdf("Alpha bravo charlie", "Delta echo foxtrot"), filename="a.pdf", media_type="application/pdf")
    assert result == ExtractionResult("extracted", "Alpha bravo charlie\n\nDelta echo foxtrot", None, False, "pdf")


def test_pdf_without_text_layer_is_empty_with_ocr_reason():
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 50, 50)
    result = extract_text(bytes(pdf.output()), filename="scan.pdf", media_type="application/pdf")
    assert result.status == "empty"
    assert result.text == ""
    assert result.reason == "no text layer (scanned?); OCR is not enabled"
    assert result.kind == "pdf"


def test_pdf_with_user_password_fails_but_owner_only_password_is_read():
    locked = extract_text(make_pdf("Secret words", owner_password="own", user_password="user"), filename="l.pdf", media_type=None)
    assert locked.status == "failed"
    assert "password" in locked.reason and locked.reason.startswith("pdf: ")
    assert locked.text is None

    restricted = extract_text(make_pdf("Open words", owner_password="own"), filename="r.pdf", media_type=None)
    assert (restricted.status, restricted.text) == ("extracted", "Open words")


def test_docx_paragraphs_and_table_rows_in_document_order():
    result = extract_text(make_docx(), filename="spec.docx", media_type=DOCX_MT)
    assert result.status == "extracted" and result.kind == "docx"
    lines = result.text.splitlines()
    assert lines[:2] == ["First paragraph alpha", "Second paragraph bravo"]
    assert "Name | Score" in lines and "Ada | 42" in lines
    assert_in_order(result.text, "Second paragraph bravo", "Name | Score", "Ada | 42", "Closing paragraph charlie")


def test_docx_merged_cell_printed_once():
    document = docx.Document()
    table = document.add_table(rows=1, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "Wide"
    table.cell(0, 2).text = "Narrow"
    buffer = io.BytesIO()
    document.save(buffer)
    result = extract_text(buffer.getvalue(), filename="m.docx", media_type=None)
    assert result.text == "Wide | Narrow"


def test_pptx_slides_numbered_with_text_tables_and_notes():
    result = extract_text(make_pptx(), filename="deck.pptx", media_type="application/octet-stream")
    assert result.status == "extracted" and result.kind == "pptx"
    assert_in_order(
        result.text,
        "## Slide 1",
        "Quarterly review",
        "Revenue grew",
        "Speaker note delta",
        "## Slide 2",
        "Numbers",
        "Region | Sales",
        "North | 17",
    )
    assert "## Slide 3" not in result.text


def test_xlsx_sheets_and_rows():
    result = extract_text(make_xlsx(), filename="book.xlsx", media_type=XLSX_MT)
    assert result.status == "extracted" and result.kind == "xlsx"
    assert result.text == (
        "## Sheet People\nName | Age\nGrace | 85\nLinus | 3\n\n"
        "## Sheet Budget\nItem | Cost\nLaptop | 1200.5"
    )


def test_csv_utf8_with_bom_keeps_rows():
    rows = [["city", "note"], ["Zürich", "a, quoted"], ["Oslo", "plain"]]
    result = extract_text(make_csv(rows, "utf-8-sig"), filename="data.csv", media_type="binary/octet-stream")
    assert result.status == "extracted" and result.kind == "csv"
    assert result.text == 'city,note\nZürich,"a, quoted"\nOslo,plain'  # BOM gone, quoting kept


def test_csv_latin1_fallback():
    result = extract_text(make_csv([["name"], ["café crème"]], "latin-1"), filename="old.csv", media_type="text/csv")
    assert result.text == "name\ncafé crème"


def test_markdown_sent_as_octet_stream():
    source = "# Title\n\nSome *markdown* text   \n\n\n\n\nAfter gap\n"
    result = extract_text(source.encode(), filename="notes.md", media_type="application/octet-stream")
    assert result.kind == "markdown"
    # trailing spaces stripped, 4 blank lines collapsed into one, markup kept
    assert result.text == "# Title\n\nSome *markdown* text\n\nAfter gap"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-32"])
def test_text_with_bom(encoding):
    result = extract_text("héllo wörld\nline two".encode(encoding), filename="a.txt", media_type="text/plain")
    assert (result.status, result.text) == ("extracted", "héllo wörld\nline two")


def test_control_characters_removed_tabs_kept():
    padding = b" plain words" * 10  # a stray control byte in real text, not a binary file
    result = extract_text(b"a\x01b\tc\x07d\x0ce" + padding, filename="a.txt", media_type=None)
    assert result.text == "ab\tcde" + padding.decode()  # SOH/BEL/form feed dropped, tab kept


def test_text_invalid_utf8_is_replaced_not_failed():
    result = extract_text(b"caf\xe9 ok\r\nnext line", filename="a.txt", media_type=None)
    assert (result.status, result.text) == ("extracted", "caf\ufffd ok\nnext line")


def test_html_to_markdown_drops_script_and_style():
    html = (
        "<html><head><title>T</title><style>.x{color:red}</style></head><body>"
        "<h1>Heading one</h1><p>Hello <b>bold</b> <a href='https://example.com'>link</a></p>"
        "<script>alert('nope')</script><ul><li>item one</li></ul></body></html>"
    )
    result = extract_text(html.encode(), filename="page.html", media_type="text/html")
    assert result.status == "extracted" and result.kind == "html"
    assert "# Heading one" in result.text
    assert "Hello **bold** [link](https://example.com)" in result.text
    assert "item one" in result.text
    assert "alert" not in result.text and "color" not in result.text


# --------------------------------------------------------------------------- bad input never raises


def test_corrupt_docx_fails_with_reason():
    junk = os.urandom(2048)
    result = extract_text(junk, filename="broken.docx", media_type=DOCX_MT)
    assert result.status == "failed"
    assert result.text is None
    assert result.reason.startswith("docx: could not read file: BadZipFile")
    assert len(result.reason) < 300


def test_truncated_pdf_fails_with_reason():
    data = make_pdf("Alpha bravo charlie")
    result = extract_text(data[: len(data) // 2], filename="cut.pdf", media_type="application/pdf")
    assert result.status == "failed"
    assert result.reason.startswith("pdf: could not read file: ")
    assert result.text is None


def test_docx_bytes_named_pdf_fail():
    result = extract_text(make_docx(), filename="wrong.pdf", media_type="application/pdf")
    assert result.status == "failed" and result.reason.startswith("pdf: could not read file: ")


def test_binary_junk_claimed_as_text_fails():
    junk = bytes(range(256)) * 8
    result = extract_text(junk, filename="notes.txt", media_type="text/plain")
    assert result.status == "failed"
    assert "binary" in result.reason
    assert result.text is None


def test_oversized_file_is_too_large_without_parsing(monkeypatch):
    def must_not_run(data, max_bytes):
        raise AssertionError("parser called for an oversized file")

    monkeypatch.setitem(extraction._EXTRACTORS, "pdf", must_not_run)
    result = extract_text(b"%PDF" + b"x" * 2000, filename="big.pdf", media_type="application/pdf", max_bytes=1000)
    assert result.status == "too_large"
    assert "2004" in result.reason and "1000" in result.reason
    assert result.text is None and result.kind == "pdf"


def test_zip_bomb_office_file_is_too_large():
    buffer = io.BytesIO()
    with __import__("zipfile").ZipFile(buffer, "w", compression=8) as archive:
        archive.writestr("word/document.xml", b"<" + b" " * 200_000 + b">")
    data = buffer.getvalue()
    assert len(data) < 5_000
    result = extract_text(data, filename="bomb.docx", media_type=None, max_bytes=10_000)
    assert result.status == "too_large"
    assert "uncompresses" in result.reason


def test_image_is_unsupported_and_says_no_ocr():
    result = extract_text(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, filename="shot.png", media_type="image/png")
    assert result.status == "unsupported"
    assert "OCR" in result.reason
    assert result.text is None


def test_zip_is_unsupported():
    result = extract_text(b"PK\x03\x04", filename="a.zip", media_type="application/zip")
    assert result.status == "unsupported" and result.text is None and result.reason


def test_zero_bytes_is_empty():
    result = extract_text(b"", filename="a.txt", media_type="text/plain")
    assert (result.status, result.text, result.kind) == ("empty", "", "text")
    assert result.reason


def test_reason_is_trimmed_and_never_quotes_bytes(monkeypatch):
    def explode(data, max_bytes):
        raise ValueError("bad token b'SECRET-CONTENT' " + "x" * 1000)
        yield  # pragma: no cover - makes this a generator like the real extractors

    monkeypatch.setitem(extraction._EXTRACTORS, "text", explode)
    result = extract_text(b"whatever", filename="a.txt", media_type=None)
    assert result.status == "failed"
    assert result.reason.startswith("text: could not read file: ValueError: bad token")
    assert "SECRET-CONTENT" not in result.reason
    assert len(result.reason) <= len("text: could not read file: ValueError: ") + 200


# --------------------------------------------------------------------------- caps


def test_max_chars_truncates_to_exact_length():
    text = "\n".join(f"line {i} of the file" for i in range(1000))
    result = extract_text(text.encode(), filename="a.txt", media_type=None, max_chars=100)
    assert result.status == "extracted"
    assert result.truncated is True
    assert len(result.text) == 100
    assert result.text == text[:100]


def test_text_exactly_max_chars_is_not_truncated():
    result = extract_text(b"a" * 50, filename="a.txt", media_type=None, max_chars=50)
    assert (result.text, result.truncated) == ("a" * 50, False)


def test_xlsx_truncation_keeps_the_first_rows():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Big"
    for i in range(2000):
        sheet.append([f"row{i}", i])
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = extract_text(buffer.getvalue(), filename="big.xlsx", media_type=None, max_chars=60)
    assert result.truncated is True and len(result.text) == 60
    assert result.text.startswith("## Sheet Big\nrow0 | 0\nrow1 | 1\n")


def test_extraction_stops_pulling_blocks_once_max_chars_is_reached(monkeypatch):
    pulled = []
    closed = []

    def endless(data, max_bytes):
        try:
            i = 0
            while i < 10_000:  # bounded so a regression fails instead of hanging
                pulled.append(i)
                yield f"row {i}"
                i += 1
        finally:
            closed.append(True)

    monkeypatch.setitem(extraction._EXTRACTORS, "csv", endless)
    result = extract_text(b"x", filename="a.csv", media_type=None, max_chars=50)
    assert result.truncated is True and len(result.text) == 50
    assert len(pulled) < 20  # we stopped pulling long before the source ran out
    assert closed == [True]  # and the extractor's cleanup ran


@pytest.mark.parametrize(
    ("size", "expected_status"),
    [(None, None), (0, None), (1000, None), (1001, "too_large")],
)
def test_should_download(size, expected_status):
    result = should_download(size, 1000)
    if expected_status is None:
        assert result is None
    else:
        assert result.status == "too_large"
        assert result.text is None
        assert "1001" in result.reason and "1000" in result.reason
