"""How Ingest reads each kind of source: its compression (by extension), then its format.

Compression: `.gz`, `.zst`, `.bz2`, `.xz`, decompressed as a stream, under one bomb guard (a
source that expands more than `max_gzip_ratio` times its compressed bytes, past 64 MB, is
refused while it is read); a truncated or corrupt stream is one error naming the file.

Formats, each yielding `Item(ref, text)` for every line (or `Item(..., reason=...)` for a line it
rejects):
- `txt`: one segment per line; ref `source:line`.
- `jsonl`: one JSON record per line, its `text_field` a document: cut into lines at its
  newlines; ref `source:doc.k` (doc: the record's `id_field`, else its line number; k: the line
  in the document).
- `parquet` (Apache Parquet, read with pyarrow a batch at a time, so memory is bounded whatever
  the file's size): one document per row, as jsonl; doc: `id_field`, else the row number.
- `mediawiki` (a MediaWiki XML export, `*-pages-articles.xml.bz2`): main-namespace pages only,
  redirects skipped (counted); wikitext made plain by mwparserfromhell, templates, tables,
  references, file/category/interlanguage links and comments removed, link text kept; one
  paragraph per line; doc: the page id.
A document's lines keep its id in their refs, so the stages after Ingest can keep a document
together (Split puts all of its lines in one split). Rows of jsonl and Parquet sources can be
filtered on their fields (`keep_rows:` in the manifest: a list of accepted values, or
`{min: x}` / `{max: x}`); a filtered row's lines are rejected with reason `row_filter`.
"""
import bz2
import gzip
import hashlib
import io
import json
import lzma
import re
import urllib.parse
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Optional

from common.errors import InputError

BOM = b"\xef\xbb\xbf"
FORMATS = ("txt", "jsonl", "parquet", "mediawiki")
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".bz2": "bzip2", ".xz": "xz"}
GUARD_FLOOR = 64 << 20   # bytes any source may expand to before the ratio applies


@dataclass(frozen=True)
class Item:
    ref: str
    text: str
    reason: Optional[str] = None   # a rejection, with its detail
    detail: str = ""


class HashingReader:
    """File wrapper that feeds every byte read into a sha256 (one pass for hash and text)."""

    def __init__(self, raw):
        self.raw, self.digest, self.bytes = raw, hashlib.sha256(), 0

    def read(self, size=-1):
        data = self.raw.read(size)
        self.digest.update(data)
        self.bytes += len(data)
        return data

    def readline(self, size=-1):
        data = self.raw.readline(size)
        self.digest.update(data)
        self.bytes += len(data)
        return data


class _Guarded(io.RawIOBase):
    """The decompressed bytes of a source, refused once they expand more than `ratio` times the
    compressed bytes read (past GUARD_FLOOR): a small file that decompresses to gigabytes is
    stopped while it is being read."""

    def __init__(self, stream, compressed: HashingReader, ratio: float, path, kind: str):
        super().__init__()
        self.stream, self.compressed, self.ratio, self.path, self.kind, self.expanded = \
            stream, compressed, ratio, path, kind, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        self.expanded += len(data)
        if self.expanded > max(GUARD_FLOOR, self.ratio * max(self.compressed.bytes, 1)):
            raise InputError(self.path, f"{self.kind} data expands more than {self.ratio:g} times ({self.expanded} "
                                        f"bytes from {self.compressed.bytes}): a decompression bomb or a damaged file",
                             "check the file; if it is real, raise [ingest] max_gzip_ratio")
        buffer[:len(data)] = data
        return len(data)


class _ZstdStream(io.RawIOBase):
    """zstd frames decompressed one after another; a frame cut short is an EOFError (the
    zstandard module's own readers return fewer bytes without a word, and stop after the first
    frame). The decompressor is fed FEED bytes at a time, so what one call can expand to stays
    bounded (zstd's run-length blocks make 128 KiB of a few bytes) and the bomb guard sees it."""
    FEED = 1024

    def __init__(self, raw):
        import zstandard

        super().__init__()
        self.raw, self.context = raw, zstandard.ZstdDecompressor()
        self.frame, self.started, self.input = self.context.decompressobj(), False, b""
        self.pending, self.offset = b"", 0

    def readable(self) -> bool:
        return True

    def _decompress_some(self) -> bool:
        """Decompress the next FEED input bytes into `pending`; False at the end of the input."""
        if not self.input:
            self.input = self.raw.read(1 << 20)
            if not self.input:
                if self.started:
                    raise EOFError("a zstd frame ended before its end")
                return False
        piece, self.input = self.input[:self.FEED], self.input[self.FEED:]
        self.pending, self.offset, self.started = self.frame.decompress(piece), 0, True
        if self.frame.eof:   # the next frame begins in what this one did not use
            self.input = self.frame.unused_data + self.input
            self.frame, self.started = self.context.decompressobj(), False
        return True

    def readinto(self, buffer) -> int:
        while self.offset >= len(self.pending):
            if not self._decompress_some():
                return 0
        size = min(len(buffer), len(self.pending) - self.offset)
        buffer[:size] = self.pending[self.offset:self.offset + size]
        self.offset += size
        return size


def compression(path) -> Optional[str]:
    return COMPRESSIONS.get(next((s for s in COMPRESSIONS if str(path).endswith(s)), None))


def decompressed(reader: HashingReader, path, ratio: float, kind: Optional[str]):
    """A binary stream (read, readline) of a source's bytes, decompressed as `kind` (compression()
    of the name the manifest gives it: a mirrored copy may be named by its sha256)."""
    if kind is None:
        return reader
    opened = {"gzip": lambda: gzip.GzipFile(fileobj=reader), "bzip2": lambda: bz2.BZ2File(reader),
              "xz": lambda: lzma.LZMAFile(reader), "zstd": lambda: _ZstdStream(reader)}[kind]()
    return io.BufferedReader(_Guarded(opened, reader, ratio, path, kind), 1 << 20)


def damaged_errors() -> tuple:
    """What a cut or corrupt compressed stream raises."""
    import zstandard

    return EOFError, OSError, zlib.error, lzma.LZMAError, zstandard.ZstdError


def damaged(path, kind: str, where: str, exc: Exception) -> InputError:
    return InputError(path, f"truncated or corrupt {kind} data {where} ({exc})", "download or compress the file again")


def limited_lines(stream, limit: int):
    """(line, length in bytes) of a binary stream, each line cut to `limit` bytes: a 50 MB line
    (or a newline-free bomb) never sits in memory whole."""
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        length = len(line)
        if length > limit and not line.endswith(b"\n"):
            while True:   # skip the rest of the line, a block at a time
                rest = stream.readline(1 << 20)
                length += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
        yield line, length


def line_bytes(raw_line: bytes, line_no: int, where: str, facts: Counter) -> bytes:
    """A line without its line end (CRLF counted) and, on line 1, without a UTF-8 BOM (counted);
    UTF-16 and NUL bytes (binary data) are errors."""
    raw_line = raw_line.rstrip(b"\n")
    if raw_line.endswith(b"\r"):
        raw_line = raw_line[:-1]
        facts["crlf_lines"] += 1
    if line_no == 1:
        if raw_line.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise InputError(where, "UTF-16 byte order mark", "convert the file to UTF-8 (iconv -f UTF-16 -t UTF-8)")
        if raw_line.startswith(BOM):
            raw_line = raw_line[len(BOM):]
            facts["bom"] = 1
    if b"\x00" in raw_line:
        column = raw_line.index(b"\x00") + 1
        raise InputError(where, f"NUL byte at column {column} (binary or UTF-16/32 data)",
                         "convert the file to UTF-8 text, or remove it from the manifest")
    return raw_line


def count_invalid(raw: bytes) -> int:
    count, pos = 0, 0
    while True:
        try:
            raw[pos:].decode("utf-8")
            return count
        except UnicodeDecodeError as exc:
            count += 1
            pos += exc.end


def _doc_key(value, row: int) -> str:
    """A document id as a ref component, percent-encoded (refs are tab-separated and split on ':';
    distinct ids stay distinct); the row number where the id is missing or empty."""
    return urllib.parse.quote(str(value), safe="") if value not in (None, "") else f"row{row}"


def document_items(source, doc, row: int, text, fields: dict, limit: int) -> list:
    """The items of one document (a record or row): its lines (blank lines between its paragraphs
    are its structure, not lines), or its lines rejected by the source's row filter; lines longer
    than `limit` bytes and lines with NUL are rejected; a document without text is one `empty`."""
    ref = f"{source.id}:{_doc_key(doc, row)}"
    numbered = [(n, line.rstrip("\r")) for n, line in enumerate((text or "").split("\n"), 1) if line.strip()]
    if not numbered:
        return [Item(f"{ref}.1", "", "empty")]
    filtered = row_filter(source, fields)
    items = []
    for number, line in numbered:
        line_ref = f"{ref}.{number}"
        if filtered:
            items.append(Item(line_ref, line, "row_filter", filtered))
        elif len(line.encode("utf-8")) > limit:
            items.append(Item(line_ref, line[:200], "line_too_long", f"{len(line.encode('utf-8'))} bytes"))
        elif "\x00" in line:
            items.append(Item(line_ref, line.replace("\x00", "\\x00"), "nul_character"))
        else:
            items.append(Item(line_ref, line))
    return items


def row_filter(source, fields: dict) -> str:
    """Why a row fails the source's `keep_rows` (empty: it passes)."""
    for name, rule in source.keep_rows:
        value = fields.get(name)
        if isinstance(rule, tuple) and value not in rule:
            return f"{name} {value!r} not in {list(rule)}"
        if isinstance(rule, dict):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:   # NaN
                return f"{name} {value!r} is not a number"
            if "min" in rule and value < rule["min"]:
                return f"{name} {value} < {rule['min']}"
            if "max" in rule and value > rule["max"]:
                return f"{name} {value} > {rule['max']}"
    return ""


def needed_fields(source) -> list:
    return [source.text_field, *([source.id_field] if source.id_field else []),
            *(name for name, _ in source.keep_rows if name not in (source.text_field, source.id_field))]


def parquet_items(path, source, limit: int, batch_rows: int = 1024):
    """The items of a Parquet file, a batch of rows at a time."""
    import pyarrow.parquet as pq

    try:
        # no pre-buffering, 1 MB reads, one thread: pyarrow's defaults let the peak memory grow
        # with the file (bench/ingest_formats.py: 106 -> 165 MB from 1x to 10x), these keep it near flat
        table = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
    except Exception as exc:   # noqa: BLE001 - pyarrow raises several kinds for a file that is not Parquet
        raise InputError(path, f"not a readable Parquet file ({str(exc).splitlines()[0][:120]})",
                         "give format: parquet only to Parquet files (their compression is their own: no .zst around)")
    import pyarrow as pa

    schema = table.schema_arrow
    for name in needed_fields(source):
        if name not in schema.names:
            raise InputError(path, f"no column {name!r} (columns: {', '.join(schema.names)})",
                             f"set text_field / id_field / keep_rows of source '{source.id}' to columns of the file")
    kind = schema.field(source.text_field).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)):
        raise InputError(path, f"column {source.text_field!r} holds {kind}, not text",
                         f"set text_field of source '{source.id}' to a string column")
    row = 0
    try:
        for batch in table.iter_batches(batch_size=batch_rows, columns=needed_fields(source), use_threads=False):
            data = batch.to_pydict()
            for i in range(batch.num_rows):
                row += 1
                fields = {name: data[name][i] for name in data}
                doc = fields[source.id_field] if source.id_field else row
                yield from document_items(source, doc, row, fields[source.text_field], fields, limit)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(path, f"corrupt Parquet data after row {row} ({str(exc).splitlines()[0][:120]})",
                         "download the file again")


MEDIAWIKI = re.compile(r"\{http://www\.mediawiki\.org/xml/export-[0-9.]+/\}mediawiki")
DROPPED_TAGS = {"ref", "references", "gallery", "math", "chem", "score", "timeline", "table", "syntaxhighlight",
                "source", "templatedata", "graph", "mapframe", "imagemap", "nowiki"}
NAMESPACED = re.compile(r"^:?[^\s:|\]]+:(?!\s)")   # File:..., Category:..., zh:... (an article title has a space after ':')


def wikitext_lines(wikitext: str) -> list:
    """Plain paragraphs of a page's wikitext: templates, tables, references, galleries and math
    removed; file, category and interlanguage links removed; other links as their text."""
    import mwparserfromhell

    code = mwparserfromhell.parse(wikitext)
    for node in [*code.filter_tags(recursive=True, matches=lambda t: str(t.tag).lower() in DROPPED_TAGS),
                 *code.filter_wikilinks(recursive=True, matches=lambda l: NAMESPACED.match(str(l.title)))]:
        try:
            code.remove(node)
        except ValueError:   # inside a node removed before
            pass
    plain = code.strip_code(normalize=True, collapse=True, keep_template_params=False)
    return [line.strip() for line in plain.split("\n") if line.strip()]


def mediawiki_items(stream, path, source, limit: int, facts: Counter):
    """The items of a MediaWiki export: main-namespace articles (not redirects), one document per
    page, its id the page id; other pages counted in `facts`."""
    import xml.etree.ElementTree as ET

    events = ET.iterparse(stream, events=("start", "end"))
    try:
        _, root = next(events)
        if not MEDIAWIKI.fullmatch(root.tag):
            raise InputError(path, f"not a MediaWiki export (root element <{root.tag}>)",
                             "give format: mediawiki only to *-pages-articles.xml(.bz2) dumps")
        namespace = root.tag[:-len("mediawiki")]
        for event, element in events:
            if event != "end" or element.tag != f"{namespace}page":
                continue
            if element.findtext(f"{namespace}ns") != "0":
                facts["pages_other_namespace"] += 1
            elif element.find(f"{namespace}redirect") is not None:
                facts["pages_redirect"] += 1
            else:
                facts["pages"] += 1
                text = element.findtext(f"{namespace}revision/{namespace}text") or ""
                yield from document_items(source, element.findtext(f"{namespace}id"), facts["pages"],
                                          "\n".join(wikitext_lines(text)), {}, limit)
            root.clear()   # memory stays bounded: pages are dropped once read
    except ET.ParseError as exc:
        raise InputError(path, f"not well-formed XML ({exc})", "download the dump again (a cut file ends mid-page)")


def json_items(raw_line: bytes, line_no: int, source, where: str, limit: int) -> list:
    """The items of one JSON-lines record (UnicodeDecodeError for invalid UTF-8)."""
    text = raw_line.decode("utf-8")
    if not text.strip():
        return [Item(f"{source.id}:{line_no}", "", "empty")]
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(where, f"invalid JSON ({exc.msg} at column {exc.colno})", "fix the JSON Lines file: one object per line")
    if not isinstance(record, dict) or not isinstance(record.get(source.text_field), str):
        raise InputError(where, f"no string field '{source.text_field}' in the JSON record",
                         f"set 'text_field' for source '{source.id}' to the field holding the text")
    missing = [name for name in needed_fields(source) if name not in record]
    if missing:
        raise InputError(where, f"no field(s) {', '.join(missing)} in the JSON record",
                         f"set id_field / keep_rows of source '{source.id}' to fields the records have")
    doc = record[source.id_field] if source.id_field else line_no
    return document_items(source, doc, line_no, record[source.text_field], record, limit)
