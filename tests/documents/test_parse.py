"""parse(): every supported format, type detection, and every way a document is refused."""

from __future__ import annotations

import io
import zipfile

import pytest
from pypdf import PdfReader, PdfWriter

from gemgate.documents._parse import (
    DOCX,
    MAX_XML_BYTES,
    SUPPORTED_TYPES,
    document_text,
    mime_of,
    parse,
)
from gemgate.documents._types import Page
from gemgate.errors import DocumentError


def pdf_bytes(*pages: str) -> bytes:
    """A minimal valid PDF: one Helvetica text line a page (``""`` gives a page without text)."""
    count = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    font = 3 + 2 * count
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
    ]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode() if text else b""
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R"
            f" /Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def encrypted_pdf(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes("Secret page"))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx_bytes(body: str, *, prolog: str = "", extra: dict[str, bytes] | None = None) -> bytes:
    xml = f'{prolog}<w:document xmlns:w="{W}"><w:body>{body}</w:body></w:document>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", xml)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def paragraph(*runs: str) -> str:
    return "<w:p>" + "".join(f"<w:r>{run}</w:r>" for run in runs) + "</w:p>"


def refused(data: bytes, name: str, status: int, mime_type: str | None = None) -> str:
    with pytest.raises(DocumentError) as caught:
        parse(data, name=name, mime_type=mime_type)
    assert caught.value.status_code == status
    message = str(caught.value)
    assert message.startswith(f"{name}: ")
    assert "\n" not in message
    return message


# --- text formats ---------------------------------------------------------------------


def test_plain_text_is_kept_with_line_ends_normalized() -> None:
    kind, pages = parse(b"first line\r\nsecond\rthird\n", name="notes.txt")
    assert kind == "text/plain"
    assert pages == [Page(text="first line\nsecond\nthird\n", number=0, offset=0)]


def test_markdown_is_kept_as_is() -> None:
    source = "# Title\n\n* item **bold**\n\n```py\nx = 1\n```\n"
    kind, pages = parse(source.encode(), name="README.markdown")
    assert kind == "text/markdown"
    assert pages[0].text == source


def test_source_files_read_as_plain_text() -> None:
    for name in ("data.csv", "conf.json", "script.py", "Notes.TXT"):
        kind, pages = parse(b"a,b\n1,2\n", name=name)
        assert (kind, pages[0].text) == ("text/plain", "a,b\n1,2\n")


def test_utf8_bom_is_stripped() -> None:
    _, pages = parse("\ufeffcaf\u00e9".encode(), name="a.txt")
    assert pages[0].text == "caf\u00e9"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(encoding: str) -> None:
    data = "\ufeffGr\u00fc\u00dfe, \u4e16\u754c\n".encode(encoding)
    _, pages = parse(data, name="greeting.txt")
    assert pages[0].text == "Gr\u00fc\u00dfe, \u4e16\u754c\n"


def test_binary_garbage_named_txt_is_422() -> None:
    message = refused(bytes(range(128, 256)) * 4, "photo.txt", 422)
    assert "UTF-8" in message


def test_nul_bytes_are_not_text() -> None:
    assert "binary" in refused(b"abc\x00\x01\x02def", "blob.txt", 422)


def test_truncated_utf16_is_422() -> None:
    refused(b"\xff\xfeh\x00i", "short.txt", 422)


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n  ", b"\xef\xbb\xbf"])
def test_no_text_is_422(data: bytes) -> None:
    assert "has no text" in refused(data, "empty.txt", 422)


# --- HTML -------------------------------------------------------------------------------

PAGE = b"""<!DOCTYPE html>
<html><head><title>Not shown</title><style>body { color: red }</style>
<script>var hidden = "<p>nope</p>";</script></head>
<body>
  <h1>Caf&eacute; &amp; Bar</h1>
  <p>Open   <b>every</b>
     day.</p>
  <script type="text/javascript">alert("no")</script>
  <ul><li>Coffee</li>
      <li>Tea&nbsp;&#x263A;</li></ul>
  <table><tr><th>Size</th><th>Price</th></tr><tr><td>S</td><td>2</td></tr></table>
  <noscript>enable JS</noscript>
  <div>last<br>line</div>
</body></html>"""


def test_html_keeps_visible_text_with_block_breaks() -> None:
    kind, pages = parse(PAGE, name="menu.html")
    assert kind == "text/html"
    assert pages[0].text == (
        "Caf\u00e9 & Bar\n\n"
        "Open every day.\n\n"
        "Coffee\nTea \u263a\n\n"
        "Size\tPrice\nS\t2\n\n"
        "last\nline"
    )


def test_html_preformatted_whitespace_is_kept() -> None:
    _, pages = parse(b"<p>code:</p><pre>def f():\n    return 1</pre>", name="a.htm")
    assert pages[0].text == "code:\n\ndef f():\n    return 1"


def test_html_with_only_script_has_no_text() -> None:
    refused(b"<html><script>x()</script><style>p{}</style></html>", "app.html", 422)


# --- PDF --------------------------------------------------------------------------------


def test_pdf_gives_one_page_each_with_offsets() -> None:
    kind, pages = parse(pdf_bytes("Hello first page", "Second page here"), name="r.pdf")
    assert kind == "application/pdf"
    assert [(page.number, page.text) for page in pages] == [
        (1, "Hello first page"),
        (2, "Second page here"),
    ]
    whole = document_text(pages)
    assert whole == "Hello first page\n\nSecond page here"
    for page in pages:
        assert whole[page.offset : page.offset + len(page.text)] == page.text


def test_pdf_pages_without_text_are_skipped_but_numbers_kept() -> None:
    _, pages = parse(pdf_bytes("", "Only on two", ""), name="scan.pdf")
    assert [(page.number, page.offset) for page in pages] == [(2, 0)]


def test_pdf_of_images_only_has_no_text() -> None:
    assert "has no text" in refused(pdf_bytes("", ""), "scan.pdf", 422)


def test_encrypted_pdf_is_422() -> None:
    assert "encrypted" in refused(encrypted_pdf("x"), "locked.pdf", 422)


def test_pdf_encrypted_with_an_empty_password_opens() -> None:
    _, pages = parse(encrypted_pdf(""), name="open.pdf")
    assert pages[0].text == "Secret page"


@pytest.mark.parametrize("cut", [20, 200, -40])
def test_truncated_pdf_is_422(cut: int) -> None:
    refused(pdf_bytes("Hello", "World")[:cut], "cut.pdf", 422)


def test_garbage_named_pdf_is_422() -> None:
    refused(b"this is not a pdf at all", "fake.pdf", 422)


# --- DOCX -------------------------------------------------------------------------------


def test_docx_paragraphs_tabs_and_breaks() -> None:
    body = (
        paragraph("<w:t>Hello </w:t>", '<w:t xml:space="preserve">world</w:t>')
        + paragraph("<w:t>a</w:t><w:tab/><w:t>b</w:t><w:br/><w:t>c</w:t>")
        + "<w:tbl><w:tr><w:tc>"
        + paragraph("<w:t>cell</w:t>")
        + "</w:tc></w:tr></w:tbl>"
        + paragraph("<w:delText>deleted</w:delText><w:t>kept</w:t>")
    )
    kind, pages = parse(docx_bytes(body), name="Report.docx")
    assert kind == DOCX
    assert pages[0].text == "Hello world\na\tb\nc\ncell\nkept"


def test_docx_is_sniffed_without_a_name_extension() -> None:
    kind, _ = parse(docx_bytes(paragraph("<w:t>x</w:t>")), name="upload")
    assert kind == DOCX


def test_docx_with_a_dtd_is_refused() -> None:
    prolog = '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">]>'
    body = paragraph("<w:t>&a;&a;&a;</w:t>")
    assert "DTD" in refused(docx_bytes(body, prolog=prolog), "bomb.docx", 422)


def test_docx_zip_bomb_is_413(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gemgate.documents._parse.MAX_XML_BYTES", 1000)
    big = paragraph("<w:t>" + "a" * 5000 + "</w:t>")
    assert "exceeds" in refused(docx_bytes(big), "big.docx", 413)
    assert MAX_XML_BYTES == 50 * 1024 * 1024


def test_docx_without_document_part_is_422() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.xml", "<x/>")
    refused(buffer.getvalue(), "empty.docx", 422)


def test_truncated_docx_is_422() -> None:
    data = docx_bytes(paragraph("<w:t>hello</w:t>") * 50)
    refused(data[: len(data) // 2], "cut.docx", 422)


def test_malformed_docx_xml_is_422() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document><unclosed>")
    assert "corrupt" in refused(buffer.getvalue(), "bad.docx", 422)


def test_docx_of_empty_paragraphs_has_no_text() -> None:
    refused(docx_bytes(paragraph() * 3), "blank.docx", 422)


# --- type detection ---------------------------------------------------------------------


def test_unknown_extension_is_415_listing_supported_types() -> None:
    message = refused(b"some text", "notes.xyz", 415)
    for kind in SUPPORTED_TYPES:
        assert kind in message


def test_unsupported_mime_type_is_415() -> None:
    refused(b"\x89PNG\r\n", "image.png", 415, mime_type="image/png")


def test_given_mime_type_wins_over_the_name() -> None:
    kind, pages = parse(b"<p>hi</p>", name="page.txt", mime_type="text/html; charset=utf-8")
    assert (kind, pages[0].text) == ("text/html", "hi")
    kind, _ = parse(b"a,b", name="x", mime_type="text/csv")
    assert kind == "text/plain"


def test_octet_stream_falls_back_to_the_name() -> None:
    kind, _ = parse(b"# hi", name="a.md", mime_type="application/octet-stream")
    assert kind == "text/markdown"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (pdf_bytes("Sniffed"), "application/pdf"),
        (b"  <!doctype HTML><p>x</p>", "text/html"),
        (b"<html><body>x</body></html>", "text/html"),
        (b"just words", "text/plain"),
    ],
)
def test_sniffing_without_extension(data: bytes, kind: str) -> None:
    assert parse(data, name="upload")[0] == kind


def test_sniffing_binary_is_415() -> None:
    refused(bytes(range(128, 256)), "upload", 415)
    refused(b"PK\x03\x04 not really a zip", "upload", 415)


def test_mime_of() -> None:
    assert mime_of("a/b/Report.DOCX") == DOCX
    assert mime_of("page.htm") == "text/html"
    assert mime_of("x.pdf") == "application/pdf"
    assert mime_of("archive.tar.gz") is None
    assert mime_of("Makefile") is None


def test_document_text_joins_pages_with_a_blank_line() -> None:
    pages = [Page("one", 1, 0), Page("two", 2, 5)]
    assert document_text(pages) == "one\n\ntwo"
    assert document_text([]) == ""


def test_html_head_left_open_still_shows_the_body() -> None:
    _, pages = parse(b"<html><head><title>T</title><p>Body text", name="loose.html")
    assert pages[0].text == "Body text"
