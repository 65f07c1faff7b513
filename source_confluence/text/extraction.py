"""Turn the bytes of a Confluence attachment into plain text.

The connector emits attachment text so that downstream search / LLM pipelines do not
have to parse Office files themselves. Two principles shape this module:

* Caps first. Attachment sizes are checked before download (``should_download``) and
  again before parsing (``max_bytes``); Office files are zip containers, so their
  declared uncompressed size is checked too (zip bombs). Extraction is lazy: every
  per-kind extractor is a generator of text blocks and we stop pulling blocks once
  ``max_chars`` is reached, so a huge sheet or PDF never becomes a giant string.
* Text layers only. There is no OCR: images are reported as "unsupported" and a PDF
  without a text layer (a scan) as "empty", each with a reason saying so, instead of
  pulling a heavy OCR stack into the connector image.

``extract_text`` never raises because of the file: corrupt, encrypted, truncated or
mislabelled files come back as ``status="failed"`` with a short reason, so one bad
attachment cannot break a sync. Reasons never quote file content.
"""

from __future__ import annotations

import datetime as _dt
import io
import os
import re
import zipfile
from dataclasses import dataclass
from typing import Callable, Iterator

__all__ = ["ExtractionResult", "detect_kind", "should_download", "extract_text", "SUPPORTED_KINDS"]


@dataclass(frozen=True)
class ExtractionResult:
    status: str  # "extracted" | "unsupported" | "too_large" | "failed" | "empty"
    text: str | None  # None unless extracted ("" only with status "empty")
    reason: str | None  # why, for anything but "extracted"; never contains file bytes
    truncated: bool = False  # text was cut at max_chars
    kind: str | None = None  # "pdf" | "docx" | "pptx" | "xlsx" | "csv" | "text" | "markdown" | "html" | None


# --------------------------------------------------------------------------- detection

_EXTENSION_KINDS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",  # same package format; macros are ignored by openpyxl
    ".csv": "csv",
    ".tsv": "csv",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".json": "text",
    ".xml": "text",
    ".yaml": "text",
    ".yml": "text",
    ".ini": "text",
    ".cfg": "text",
    ".conf": "text",
    ".rst": "text",
}

_MEDIA_TYPE_KINDS = {
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.12": "xlsx",
    "text/csv": "csv",
    "application/csv": "csv",
    "text/tab-separated-values": "csv",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
    "application/json": "text",
    "application/xml": "text",
    "text/xml": "text",
    "application/x-yaml": "text",
}

# Labels that say nothing about the content: Confluence (and browsers uploading to it)
# often send these for .md, .csv and even .docx, so the extension decides.
_GENERIC_MEDIA_TYPES = {
    "",
    "application/octet-stream",
    "binary/octet-stream",
    "application/binary",
    "application/unknown",
    "application/download",
    "application/force-download",
    "application/x-download",
}

# OOXML files are zip archives, and some uploaders label them as such.
_ZIP_MEDIA_TYPES = {"application/zip", "application/x-zip-compressed", "application/x-zip"}
_OOXML_KINDS = {"docx", "pptx", "xlsx"}

# Families we know we cannot read; trusted over a contradicting extension.
_UNREADABLE_FAMILIES = ("image/", "audio/", "video/", "font/")

SUPPORTED_KINDS = ("pdf", "docx", "pptx", "xlsx", "csv", "text", "markdown", "html")


def _normalise_media_type(media_type: str | None) -> str:
    # "Text/Plain; charset=UTF-8" -> "text/plain"
    return (media_type or "").split(";", 1)[0].strip().lower()


def _extension(filename: str | None) -> str:
    return os.path.splitext(filename or "")[1].lower()


def detect_kind(filename: str | None, media_type: str | None) -> str | None:
    """Kind of an attachment from its media type and file extension, or None if unsupported.

    A specific media type wins, except where it is known to be vague: generic
    octet-stream labels, ``text/plain`` for .md/.csv/.html, ``application/zip`` for
    Office files, and unknown vendor types (e.g. ``application/vnd.ms-excel`` on .xlsx).
    """
    mt = _normalise_media_type(media_type)
    ext_kind = _EXTENSION_KINDS.get(_extension(filename))
    if mt in _GENERIC_MEDIA_TYPES:
        return ext_kind
    if mt in _ZIP_MEDIA_TYPES:
        return ext_kind if ext_kind in _OOXML_KINDS else None
    if mt.startswith(_UNREADABLE_FAMILIES):
        return None
    mt_kind = _MEDIA_TYPE_KINDS.get(mt)
    if mt_kind is None:
        return ext_kind
    if mt_kind == "text" and ext_kind in {"markdown", "csv", "html"}:
        return ext_kind  # text/plain is a catch-all label, the extension is more precise
    return mt_kind


def _unsupported_reason(filename: str | None, media_type: str | None) -> str:
    mt = _normalise_media_type(media_type)
    ext = _extension(filename)
    if mt.startswith("image/") or ext in {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".svg", ".heic"}:
        return f"image files are not read: OCR is not enabled (media type {mt or 'unknown'}, extension {ext or 'none'})"
    if ext in {".doc", ".xls", ".ppt"}:
        return f"legacy binary Office format {ext} is not supported (only .docx/.pptx/.xlsx)"
    return f"unsupported file type (media type {mt or 'unknown'}, extension {ext or 'none'})"


# --------------------------------------------------------------------------- caps


def should_download(file_size: int | None, max_bytes: int) -> ExtractionResult | None:
    """A "too_large" result if a file of ``file_size`` bytes is over ``max_bytes``, else None.

    Unknown size returns None: the caller must then stream with the cap itself.
    """
    if file_size is None or file_size <= max_bytes:
        return None
    return ExtractionResult(
        status="too_large",
        text=None,
        reason=f"file is {file_size} bytes, over the cap of {max_bytes} bytes; not downloaded",
    )


# Uncompressed size allowed for an Office (zip) package, as a multiple of max_bytes:
# docx/pptx are parsed into a full XML tree, so a small zip bomb could exhaust memory.
_UNZIPPED_FACTOR = 5


class _TooLarge(Exception):
    pass


class _NotText(Exception):
    pass


def _check_zip_package(data: bytes, max_bytes: int) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        # zipfile stops decompressing at the declared size, so the declared sum is a real bound.
        total = sum(info.file_size for info in archive.infolist())
    cap = _UNZIPPED_FACTOR * max_bytes
    if total > cap:
        raise _TooLarge(f"package uncompresses to {total} bytes, over the cap of {cap} bytes")


# --------------------------------------------------------------------------- text assembly

# C0 controls except tab/newline: NUL and friends break JSON consumers and Postgres text.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _TextBuilder:
    """Accumulates normalised lines and reports when max_chars is exceeded.

    Normalisation happens as text arrives (trailing spaces stripped, runs of blank lines
    collapsed to one, no leading/trailing blank lines) so the length we count is the
    length we return, and we can stop the extractor at the right moment.
    """

    def __init__(self, max_chars: int) -> None:
        self._max = max_chars
        self._parts: list[str] = []
        self._length = 0
        self._pending_blank = False
        self.full = False

    def add(self, block: str) -> None:
        # StringIO(newline=None) yields lines lazily with \r\n and \r turned into \n.
        for raw_line in io.StringIO(block, newline=None):
            line = _CONTROL_CHARS.sub("", raw_line.rstrip("\n")).rstrip()
            if not line:
                self._pending_blank = self._length > 0
                continue
            separator = "" if self._length == 0 else ("\n\n" if self._pending_blank else "\n")
            self._pending_blank = False
            piece = separator + line
            room = self._max + 1 - self._length  # one extra char proves there was more
            if len(piece) >= room:
                self._parts.append(piece[:room])
                self._length += room
                self.full = True
                return
            self._parts.append(piece)
            self._length += len(piece)

    def add_blank(self) -> None:
        self._pending_blank = self._length > 0

    def result(self) -> tuple[str, bool]:
        text = "".join(self._parts)
        if self._length > self._max:
            return text[: self._max], True
        return text, False


# A yielded "" means "paragraph break" (a blank line); any other string is one or more lines.
Blocks = Iterator[str]


# --------------------------------------------------------------------------- per-kind extractors


def _extract_pdf(data: bytes, max_bytes: int) -> Blocks:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        # Many PDFs only carry an owner password (printing/copy restrictions): try empty.
        if not reader.decrypt(""):
            raise _NotText("encrypted, a password is required")
    for page in reader.pages:
        yield page.extract_text() or ""
        yield ""


def _extract_docx(data: bytes, max_bytes: int) -> Blocks:
    import docx
    from docx.table import Table

    _check_zip_package(data, max_bytes)
    document = docx.Document(io.BytesIO(data))
    # Body order, so a table appears where it is in the document.
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            yield from _table_rows(item.rows)
            yield ""
        else:
            yield item.text


def _table_rows(rows) -> Blocks:
    for row in rows:
        cells = []
        previous = None
        for cell in row.cells:
            # Merged cells come back once per grid column; print them once.
            if previous is not None and cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            yield " | ".join(cells)


def _extract_pptx(data: bytes, max_bytes: int) -> Blocks:
    from pptx import Presentation

    _check_zip_package(data, max_bytes)
    presentation = Presentation(io.BytesIO(data))
    for number, slide in enumerate(presentation.slides, start=1):
        yield f"## Slide {number}"
        yield from _shape_texts(slide.shapes)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                yield "### Notes"
                yield notes.text
        yield ""


def _shape_texts(shapes) -> Blocks:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_texts(shape.shapes)
        elif shape.has_text_frame:
            if shape.text_frame.text.strip():
                yield shape.text_frame.text
        elif getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                if any(cells):
                    yield " | ".join(cells)


def _cell_to_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 3.0 -> "3": Excel stores all numbers as floats
    return " ".join(str(value).split())


def _extract_xlsx(data: bytes, max_bytes: int) -> Blocks:
    import openpyxl

    _check_zip_package(data, max_bytes)
    # read_only streams rows instead of building every cell; data_only gives cached
    # formula results rather than formula strings.
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            yield f"## Sheet {sheet.title}"
            for row in sheet.iter_rows(values_only=True):
                cells = [_cell_to_text(value) for value in row]
                while cells and not cells[-1]:
                    cells.pop()
                if cells:  # fully empty rows are skipped
                    yield " | ".join(cells)
            yield ""
    finally:
        # Runs also when the caller stops early (generator close); releases the zip handle.
        workbook.close()


_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),  # before utf-16 LE: same first two bytes
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def _decode(data: bytes, fallback: str) -> str:
    """Decode by BOM, then strict utf-8, then ``fallback`` ("replace" or a codec name)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    _reject_binary(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if fallback == "replace":
            return data.decode("utf-8", errors="replace")
        return data.decode(fallback)


def _reject_binary(data: bytes) -> None:
    # Without a UTF-16/32 BOM, NUL bytes or many control bytes mean this is not text
    # (e.g. an image uploaded as .txt); better "failed" than a page of mojibake.
    sample = data[:8192]
    if not sample:
        return
    if b"\x00" in sample:
        raise _NotText("content looks binary (NUL bytes), not text")
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    if controls / len(sample) > 0.05:
        raise _NotText("content looks binary (control bytes), not text")


def _extract_text_file(data: bytes, max_bytes: int) -> Blocks:
    text = _decode(data, "replace")
    if text and text.count("\ufffd") / len(text) > 0.1:
        raise _NotText("content is mostly undecodable bytes, not text")
    yield text


def _extract_csv(data: bytes, max_bytes: int) -> Blocks:
    # Kept as its text rows: CSV is already readable and quoting survives verbatim.
    # latin-1 fallback: Excel exports on Windows are rarely utf-8, and latin-1 never fails.
    yield _decode(data, "latin-1")


def _extract_html(data: bytes, max_bytes: int) -> Blocks:
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    if not data.startswith(tuple(bom for bom, _ in _BOMS)):
        _reject_binary(data)
    # Bytes in: BeautifulSoup honours BOMs and <meta charset>.
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    yield MarkdownConverter(heading_style="ATX").convert_soup(soup)


_EXTRACTORS: dict[str, Callable[[bytes, int], Blocks]] = {
    "pdf": _extract_pdf,
    "docx": _extract_docx,
    "pptx": _extract_pptx,
    "xlsx": _extract_xlsx,
    "csv": _extract_csv,
    "text": _extract_text_file,
    "markdown": _extract_text_file,
    "html": _extract_html,
}


# --------------------------------------------------------------------------- entry point

_REASON_LIMIT = 200
_BYTES_LITERAL = re.compile(r"b(['\"]).*?\1")


def _describe(error: BaseException) -> str:
    message = str(error)
    # Parser messages sometimes quote raw bytes (b'...'); reasons must never carry file content.
    message = _BYTES_LITERAL.sub("b'…'", message)
    message = " ".join("".join(ch if ch.isprintable() else " " for ch in message).split())
    if len(message) > _REASON_LIMIT:
        message = message[: _REASON_LIMIT - 1] + "…"
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def extract_text(
    data: bytes,
    *,
    filename: str | None,
    media_type: str | None,
    max_chars: int = 100_000,
    max_bytes: int = 20_000_000,
) -> ExtractionResult:
    """Plain text of an attachment; never raises because of the file's content.

    Raises ValueError only for a non-positive ``max_chars`` (a caller bug, not a file problem).
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    kind = detect_kind(filename, media_type)
    if len(data) > max_bytes:
        return ExtractionResult(
            status="too_large",
            text=None,
            reason=f"file is {len(data)} bytes, over the cap of {max_bytes} bytes; not parsed",
            kind=kind,
        )
    if kind is None:
        return ExtractionResult("unsupported", None, _unsupported_reason(filename, media_type))
    if not data:
        return ExtractionResult("empty", "", "file is empty (0 bytes)", kind=kind)

    builder = _TextBuilder(max_chars)
    blocks = _EXTRACTORS[kind](data, max_bytes)
    try:
        for block in blocks:
            if block:
                builder.add(block)
            else:
                builder.add_blank()
            if builder.full:
                break  # stop pulling pages/rows/slides: we already have max_chars
    except _TooLarge as error:
        return ExtractionResult("too_large", None, f"{kind}: {error}", kind=kind)
    except _NotText as error:
        return ExtractionResult("failed", None, f"{kind}: {error}", kind=kind)
    except Exception as error:  # any parser error on a bad file is a per-file failure
        return ExtractionResult("failed", None, f"{kind}: could not read file: {_describe(error)}", kind=kind)
    finally:
        try:
            blocks.close()  # runs extractor cleanup (e.g. closing the workbook) when stopped early
        except Exception:
            pass  # cleanup failure must not turn a result into an exception

    text, truncated = builder.result()
    if not text:
        reason = "no text layer (scanned?); OCR is not enabled" if kind == "pdf" else "no text found"
        return ExtractionResult("empty", "", reason, kind=kind)
    return ExtractionResult("extracted", text, None, truncated=truncated, kind=kind)
