"""Real small attachment files (txt, csv, markdown, PDF with a text layer, docx, png), built once per process."""
from __future__ import annotations

import functools
import io
import struct
import zlib

KINDS = [
    ("txt", "text/plain", "Plain text document"),
    ("csv", "text/csv", "CSV File"),
    ("md", "text/markdown", "Markdown document"),
    ("pdf", "application/pdf", "PDF Document"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Microsoft Word Document"),
    ("png", "image/png", "Image"),
]
MEDIA_DESC = {m: d for _, m, d in KINDS}


def text_file(title: str) -> bytes:
    return ("Notes for %s\n\nThis attachment is plain text.\nLine three mentions the quarterly budget.\n" % title).encode()


def csv_file(title: str) -> bytes:
    rows = ["id,name,value", "1,alpha,10", "2,beta,20", "3,\"gamma, delta\",30", "4,%s,40" % title.replace(",", " ")]
    return ("\n".join(rows) + "\n").encode()


def md_file(title: str) -> bytes:
    return ("# %s\n\n* item one\n* item two\n\n```python\nprint('hello')\n```\n" % title).encode()


@functools.lru_cache(maxsize=None)
def pdf_file() -> bytes:
    from fpdf import FPDF
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "Confluence emulator PDF attachment.\nQuarterly report: revenue grew by 12 percent.\nThis text layer is extractable.")
    out = pdf.output()
    return bytes(out)


@functools.lru_cache(maxsize=None)
def docx_file() -> bytes:
    import docx
    d = docx.Document()
    d.add_heading("Emulator Word document", level=1)
    d.add_paragraph("This docx attachment has a paragraph about the onboarding checklist.")
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text, t.cell(1, 0).text, t.cell(1, 1).text = "Key", "Value", "owner", "team-a"
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


@functools.lru_cache(maxsize=None)
def png_file() -> bytes:
    w = h = 4
    raw = b"".join(b"\x00" + bytes([200, 40, 40]) * w for _ in range(h))
    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make(kind: str, title: str) -> bytes:
    if kind == "txt":
        return text_file(title)
    if kind == "csv":
        return csv_file(title)
    if kind == "md":
        return md_file(title)
    if kind == "pdf":
        return pdf_file()
    if kind == "docx":
        return docx_file()
    return png_file()
