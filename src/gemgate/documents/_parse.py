r"""Document parsing: bytes of a text, Markdown, HTML, PDF or DOCX file to pages of text.

A document's whole text is its pages' texts joined by a blank line (``"\\n\\n"``), as
:func:`document_text` builds it; each :class:`~gemgate.rag.Page`'s ``offset`` is where
its text starts in that whole text. PDFs give one page per PDF page that has text
(``number`` 1-based); other formats give one page numbered 0. Line ends are ``"\\n"``.

Every failure is a :class:`~gemgate.errors.DocumentError` naming the document: 415 for a
type that is not supported, 422 for a document that cannot be read or has no text, 413
for a DOCX whose text part decompresses beyond :data:`MAX_XML_BYTES`.
"""

from __future__ import annotations

import io
import posixpath
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from xml.etree import ElementTree

from gemgate.documents._types import Page
from gemgate.errors import DocumentError

if TYPE_CHECKING:
    from pypdf import PdfReader

__all__ = [
    "MAX_XML_BYTES",
    "PAGE_SEPARATOR",
    "SUPPORTED_TYPES",
    "document_text",
    "mime_of",
    "parse",
]

PAGE_SEPARATOR = "\n\n"
"""What joins pages' texts into a document's whole text."""

MAX_XML_BYTES = 50 * 1024 * 1024
"""The most a DOCX's ``word/document.xml`` may decompress to."""

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

SUPPORTED_TYPES: tuple[str, ...] = ("text/plain", "text/markdown", "text/html", PDF, DOCX)
"""The MIME types :func:`parse` reads (other ``text/*`` types are read as text/plain)."""

_EXTENSIONS: dict[str, str] = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".log": "text/plain",
    ".csv": "text/plain",
    ".tsv": "text/plain",
    ".json": "text/plain",
    ".jsonl": "text/plain",
    ".xml": "text/plain",
    ".yaml": "text/plain",
    ".yml": "text/plain",
    ".toml": "text/plain",
    ".ini": "text/plain",
    ".rst": "text/plain",
    ".py": "text/plain",
    ".js": "text/plain",
    ".ts": "text/plain",
    ".java": "text/plain",
    ".c": "text/plain",
    ".h": "text/plain",
    ".cpp": "text/plain",
    ".go": "text/plain",
    ".rs": "text/plain",
    ".rb": "text/plain",
    ".sh": "text/plain",
    ".sql": "text/plain",
    ".css": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "text/html",
    ".pdf": PDF,
    ".docx": DOCX,
}

_ALIASES: dict[str, str] = {
    "text/x-markdown": "text/markdown",
    "application/xhtml+xml": "text/html",
    "application/json": "text/plain",
    "application/xml": "text/plain",
    "application/x-yaml": "text/plain",
    "application/toml": "text/plain",
    "application/x-sh": "text/plain",
    "application/javascript": "text/plain",
}

_UNKNOWN_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


def document_text(pages: Iterable[Page]) -> str:
    """A document's whole text: its pages' texts joined by :data:`PAGE_SEPARATOR`.

    Chunk offsets (``Chunk.start``/``end``) and page offsets index into this text.
    """
    return PAGE_SEPARATOR.join(page.text for page in pages)


def mime_of(name: str) -> str | None:
    """The supported MIME type a file name's extension stands for, or None.

    Example:
        >>> mime_of("notes.MD")
        'text/markdown'
    """
    _, extension = posixpath.splitext(name.replace("\\", "/").lower())
    return _EXTENSIONS.get(extension)


def parse(data: bytes, *, name: str, mime_type: str | None = None) -> tuple[str, list[Page]]:
    """Parse a document's bytes into its MIME type and its pages of text.

    The type is ``mime_type`` if given (``application/octet-stream`` counts as not
    given), else the one of ``name``'s extension, else sniffed from the bytes when the
    name has no extension.

    Raises:
        DocumentError: 415 for an unsupported type, 422 for an unreadable document or
            one without text, 413 for a DOCX whose text part is too large.
    """
    kind = _resolve_type(data, name, mime_type)
    if kind == PDF:
        pages = _pdf_pages(data, name)
    else:
        if kind == DOCX:
            text = _docx_text(data, name)
        elif kind == "text/html":
            text = _html_text(_decode(data, name))
        else:
            text = _decode(data, name)
        pages = [Page(text=text)] if text.strip() else []
    if not pages:
        raise DocumentError(f"{name}: the document has no text")
    return kind, pages


def _resolve_type(data: bytes, name: str, mime_type: str | None) -> str:
    given = (mime_type or "").split(";", 1)[0].strip().lower()
    if given not in _UNKNOWN_TYPES:
        kind = _ALIASES.get(given, given)
        if kind in SUPPORTED_TYPES:
            return kind
        if kind.startswith("text/"):
            return "text/plain"
        raise _unsupported(name, f"type {given}")
    by_name = mime_of(name)
    if by_name is not None:
        return by_name
    extension = posixpath.splitext(name.replace("\\", "/"))[1]
    if extension:
        raise _unsupported(name, f"extension {extension}")
    sniffed = _sniff(data)
    if sniffed is None:
        raise _unsupported(name, "content")
    return sniffed


def _unsupported(name: str, what: str) -> DocumentError:
    supported = ", ".join(SUPPORTED_TYPES)
    return DocumentError(
        f"{name}: unsupported {what}; supported types: {supported}", status_code=415
    )


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except Exception:
            return None
        return DOCX if "word/document.xml" in names else None
    try:
        text = _decode(data, "")
    except DocumentError:
        return None
    head = text[:1024].lstrip().lower()
    if head.startswith(("<!doctype html", "<html")):
        return "text/html"
    return "text/plain"


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding, body = "utf-16", data
    else:
        encoding, body = "utf-8", data.removeprefix(b"\xef\xbb\xbf")
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        label = "UTF-16" if encoding == "utf-16" else "UTF-8"
        raise DocumentError(f"{name}: the document is not valid {label} text") from None
    if "\x00" in text:
        raise DocumentError(f"{name}: the document is binary, not text")
    return _normalize_newlines(text)


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _pdf_pages(data: bytes, name: str) -> list[Page]:
    from pypdf import PdfReader

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                _decrypt(reader, name)
            texts = [(n, page.extract_text()) for n, page in enumerate(reader.pages, start=1)]
    except DocumentError:
        raise
    except Exception as error:
        raise DocumentError(f"{name}: the PDF is corrupt ({type(error).__name__})") from None
    return _paginate(
        (number, _normalize_newlines(text).replace("\x00", "").strip()) for number, text in texts
    )


def _decrypt(reader: PdfReader, name: str) -> None:
    from pypdf import PasswordType

    try:
        opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception:
        opened = False
    if not opened:
        raise DocumentError(f"{name}: the PDF is encrypted")


def _paginate(texts: Iterable[tuple[int, str]]) -> list[Page]:
    pages: list[Page] = []
    offset = 0
    for number, text in texts:
        if not text:
            continue
        pages.append(Page(text=text, number=number, offset=offset))
        offset += len(text) + len(PAGE_SEPARATOR)
    return pages


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def _docx_text(data: bytes, name: str) -> str:
    xml = _docx_xml(data, name)
    if _DTD.search(xml):
        raise DocumentError(f"{name}: the DOCX declares a DTD, which is refused")
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        raise DocumentError(f"{name}: the DOCX is corrupt (malformed XML)") from None
    lines: list[str] = []
    for paragraph in root.iter(f"{_W}p"):
        lines.append("".join(_runs(paragraph)))
    return "\n".join(lines)


def _docx_xml(data: bytes, name: str) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            try:
                info = archive.getinfo("word/document.xml")
            except KeyError:
                raise DocumentError(f"{name}: the DOCX has no word/document.xml") from None
            if info.file_size > MAX_XML_BYTES:
                raise _too_large(name)
            with archive.open(info) as part:
                xml = part.read(MAX_XML_BYTES + 1)
    except DocumentError:
        raise
    except Exception as error:
        raise DocumentError(f"{name}: the DOCX is corrupt ({type(error).__name__})") from None
    if len(xml) > MAX_XML_BYTES:
        raise _too_large(name)
    return xml


def _too_large(name: str) -> DocumentError:
    limit = MAX_XML_BYTES // (1024 * 1024)
    return DocumentError(f"{name}: the DOCX text exceeds {limit} MB", status_code=413)


def _runs(element: ElementTree.Element) -> Iterator[str]:
    """The text inside one ``w:p``, leaving out paragraphs nested in it and deleted text."""
    for child in element:
        tag = child.tag.removeprefix(_W) if isinstance(child.tag, str) else ""
        if tag == "t":
            yield child.text or ""
        elif tag == "tab":
            yield "\t"
        elif tag in ("br", "cr"):
            yield "\n"
        elif tag == "noBreakHyphen":
            yield "-"
        elif tag not in ("p", "delText", "instrText"):
            yield from _runs(child)


_SKIPPED = frozenset({"script", "style", "template", "noscript", "svg"})
_PARAGRAPHS = frozenset(
    [
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
        "section",
        "article",
        "header",
        "footer",
        "nav",
        "main",
        "aside",
        "figure",
        "form",
        "hr",
        "address",
        "details",
        "fieldset",
    ]
)
_LINES = frozenset(
    [
        "br",
        "div",
        "li",
        "tr",
        "dt",
        "dd",
        "figcaption",
        "summary",
        "caption",
        "legend",
        "option",
        "body",
        "html",
    ]
)
_CELLS = frozenset({"td", "th"})


class _TextExtractor(HTMLParser):
    """Collects an HTML page's visible text, with block elements as line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.pending = ""
        self.skipping = 0
        self.preformatted = 0
        self.in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self.in_head = True
        elif tag == "body" or tag in _PARAGRAPHS or (tag in _LINES and tag != "html"):
            self.in_head = False
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "pre":
            self.preformatted += 1
        self._block(tag, start=True)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._block(tag, start=True)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.in_head = False
        elif tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag == "pre":
            self.preformatted = max(0, self.preformatted - 1)
        self._block(tag, start=False)

    def handle_data(self, data: str) -> None:
        if self.skipping or self.in_head:
            return
        if not self.preformatted:
            data = re.sub(r"\s+", " ", data)
            if self.pending in ("\n", "\n\n") or not self.parts:
                data = data.lstrip(" ")
        if self.pending and not data.strip():
            return
        if self.parts:
            self.parts.append(self.pending)
        self.parts.append(data)
        self.pending = ""

    def _block(self, tag: str, *, start: bool) -> None:
        if tag in _PARAGRAPHS:
            self._pend("\n\n")
        elif tag in _LINES:
            self._pend("\n")
        elif tag in _CELLS and start:
            self._pend("\t")

    def _pend(self, separator: str) -> None:
        if _BREAKS.index(separator) > _BREAKS.index(self.pending):
            self.pending = separator


_BREAKS = ("", "\t", "\n", "\n\n")


def _html_text(markup: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    text = re.sub(r" *\t *", "\t", "".join(extractor.parts))
    lines = (line.rstrip(" \t") for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
