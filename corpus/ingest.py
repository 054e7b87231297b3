"""Ingest: resolve, verify and decode a language's sources into shards.

Sources are local paths (under data_root) or URLs downloaded once into a cache, with a
mirror directory searched first for air-gapped clusters. Every source is read once as
bytes: the sha256 is computed on the fly, UTF-8 is decoded strictly, and lines are cut
into shards of about `shard_bytes` so later stages run per (language, shard) in parallel.
Shard lines are `ref<TAB>text`, ref being `source_id:line_number` (provenance for every
later rejection). BOM and CRLF line ends are removed and counted; NUL bytes, invalid
UTF-8 beyond the source's `max_invalid_lines`, a sha256 mismatch, a truncated gzip and
an empty source are errors.
"""
import gzip
import hashlib
import json
import os
import shutil
import urllib.parse
import urllib.request
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError
from common.fingerprint import sha256_file
from common.jsonio import open_text
from common.settings import Settings, setting
from corpus.lines import REJECTED_FILE, Ledger, RejectionLog, totals

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class IngestSettings(Settings):
    shard_mb: float = setting(64.0, "MB of UTF-8 text per shard; later stages run once per (language, shard)")
    max_line_kb: int = setting(1024, "longer lines are rejected (line_too_long): memory stays bounded")
    max_gzip_ratio: float = setting(100.0, "a .gz source that expands more (and past 64 MB) is refused (gzip bomb)")

    @property
    def shard_bytes(self) -> int:
        return int(self.shard_mb * 2**20)


class _ExpansionGuard:
    """A gzip stream that refuses to expand more than `ratio` times its compressed bytes (past
    64 MB): a small file that decompresses to gigabytes is refused while it is being read."""

    def __init__(self, stream, compressed: "_HashingReader", ratio: float, path):
        self.stream, self.compressed, self.ratio, self.path, self.expanded = stream, compressed, ratio, path, 0

    def readline(self, size=-1):
        data = self.stream.readline(size)
        self.expanded += len(data)
        if self.expanded > max(64 << 20, self.ratio * max(self.compressed.bytes, 1)):
            raise InputError(self.path, f"gzip data expands more than {self.ratio:g} times ({self.expanded} bytes "
                                        f"from {self.compressed.bytes}): a gzip bomb or a damaged file",
                             "check the file; if it is real, raise [ingest] max_gzip_ratio")
        return data


def _limited_lines(stream, limit: int):
    """(line, length in bytes) of a binary stream, each line cut to `limit` bytes: a 50 MB line
    (or a newline-free gzip bomb) never sits in memory whole."""
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


class _HashingReader:
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


def resolve_source(source, manifest: str, data_root, mirror_dir, cache_dir) -> Path:
    """Local file for a source: its path, or a mirrored, cached or freshly downloaded copy of its URL."""
    where = f"{manifest}: source '{source.id}'"
    if source.path:
        path = Path(source.path)
        if not path.is_absolute():
            path = Path(data_root) / path
            if ".." in Path(source.path).parts:
                raise InputError(where, f"path {source.path} leaves data_root ({data_root})",
                                 "give a path below data_root, or an absolute path if the file really lives elsewhere")
        try:
            path.resolve(strict=True)
        except RuntimeError as exc:   # Python raises RuntimeError for a symlink loop
            raise InputError(where, f"symlink loop at {path} ({exc})", "fix the symbolic links") from exc
        except OSError:
            pass   # reported below
        if not path.is_file():
            raise InputError(where, f"file not found: {path}",
                             "check the path and data_root ([cino] data_root in luigi.cfg or CINO_DATA_ROOT)")
        return path
    name = Path(urllib.parse.urlparse(source.url).path).name or source.sha256
    if mirror_dir:
        for candidate in (Path(mirror_dir) / name, Path(mirror_dir) / source.sha256):
            if candidate.is_file():
                return candidate
    cached = Path(cache_dir) / f"{source.sha256[:16]}-{name}"
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(cached.name + f".part-{os.getpid()}")
    try:
        with urllib.request.urlopen(source.url, timeout=60) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(where, f"download of {source.url} failed ({exc})",
                         f"check the URL, or put the file into the mirror directory as {name}")
    actual = sha256_file(partial)
    if actual != source.sha256:
        partial.unlink()
        raise InputError(where, f"sha256 mismatch for {source.url}: expected {source.sha256}, actual {actual}",
                         f"fix the URL or the sha256 in {manifest}")
    os.rename(partial, cached)
    return cached


def _count_invalid(raw: bytes) -> int:
    count, pos = 0, 0
    while True:
        try:
            raw[pos:].decode("utf-8")
            return count
        except UnicodeDecodeError as exc:
            count += 1
            pos += exc.end


def _records(raw_line: bytes, source, where: str):
    """Text segments of one decoded line: the line itself, or a JSON record's text field."""
    text = raw_line.decode("utf-8")
    if source.format == "txt":
        return [text]
    if not text.strip():
        return [""]
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(where, f"invalid JSON ({exc.msg} at column {exc.colno})", "fix the JSON Lines file: one object per line")
    value = record.get(source.text_field) if isinstance(record, dict) else None
    if not isinstance(value, str):
        raise InputError(where, f"no string field '{source.text_field}' in the JSON record",
                         f"set 'text_field' for source '{source.id}' to the field holding the text")
    return value.split("\n")


class ShardWriter:
    """Writes `ref<TAB>text` lines into shard-00000.tsv, shard-00001.tsv, ... of about shard_bytes each."""

    def __init__(self, out_dir: Path, shard_bytes: int):
        self.out_dir, self.shard_bytes = Path(out_dir), shard_bytes
        self.shards, self._handle = [], None

    def write(self, ref: str, text: str) -> None:
        if self._handle is None or self.shards[-1]["bytes"] >= self.shard_bytes:
            self._open_next()
        data = f"{ref}\t{text}\n"
        self._handle.write(data)
        self.shards[-1]["lines"] += 1
        self.shards[-1]["bytes"] += len(data.encode("utf-8"))

    def _open_next(self) -> None:
        self.close()
        index = len(self.shards)
        self.shards.append({"index": index, "file": f"shard-{index:05d}.tsv", "lines": 0, "bytes": 0})
        self._handle = open_text(self.out_dir / self.shards[-1]["file"], "w")

    def close(self) -> None:
        if self._handle:
            self._handle.close()
            self._handle = None


def _numbered_lines(reader: _HashingReader, path: Path, settings: IngestSettings):
    """(line number, raw bytes, length in bytes) of a source, gunzipped under the bomb guard
    when it ends in .gz; a damaged gzip is one InputError naming the line it stopped after."""
    gz = str(path).endswith(".gz")
    stream = _ExpansionGuard(gzip.GzipFile(fileobj=reader), reader, settings.max_gzip_ratio, path) if gz else reader
    line_no = 0
    try:
        for raw_line, length in _limited_lines(stream, settings.max_line_kb << 10):
            line_no += 1
            yield line_no, raw_line, length
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(path, f"truncated or corrupt gzip after line {line_no} ({exc})",
                         "download or compress the file again")


def _line_bytes(raw_line: bytes, line_no: int, where: str, facts: Counter) -> bytes:
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


def _invalid_utf8(raw_line: bytes, exc: UnicodeDecodeError, source, manifest: str, where: str, facts: Counter) -> int:
    """Count a line with invalid UTF-8 (its bad sequences are returned); past the source's
    `max_invalid_lines` it is an error."""
    bad = _count_invalid(raw_line)
    facts["invalid_sequences"] += bad
    facts["invalid_lines"] += 1
    if facts["invalid_lines"] > source.max_invalid_lines:
        raise InputError(where, f"invalid UTF-8 ({bad} bad byte sequence(s), first at byte {exc.start + 1}: "
                                f"{raw_line[exc.start:exc.start + 4]!r})",
                         f"convert the file to UTF-8, or allow such lines with 'max_invalid_lines' "
                         f"for source '{source.id}' in {manifest}")
    return bad


def read_source(path: Path, source, manifest: str, writer: ShardWriter, ledger: Ledger, settings: IngestSettings,
                progress=None) -> dict:
    """Stream one source into the shard writer, counting into `ledger`; returns what is not a
    line count (bytes, sha256, invalid sequences, BOM and CRLF tallies)."""
    facts = Counter()
    with open(path, "rb") as raw:
        reader = _HashingReader(raw)
        for line_no, raw_line, length in _numbered_lines(reader, path, settings):
            ref, where = f"{source.id}:{line_no}", f"{path}:{line_no}"
            if length > settings.max_line_kb << 10:
                ledger.reject(ref, raw_line[:200].decode("utf-8", "replace"), "line_too_long",
                              f"{length} bytes (limit [ingest] max_line_kb = {settings.max_line_kb})")
                continue
            raw_line = _line_bytes(raw_line, line_no, where, facts)
            try:
                segments = _records(raw_line, source, where)
            except UnicodeDecodeError as exc:
                bad = _invalid_utf8(raw_line, exc, source, manifest, where, facts)
                ledger.reject(ref, raw_line.decode("utf-8", "backslashreplace"), "invalid_utf8",
                              f"{bad} invalid sequence(s)")
                continue
            for text in segments:
                if text.strip():
                    ledger.keep(text)
                    writer.write(ref, text)
                else:
                    ledger.reject(ref, text, "empty")
            if progress:
                progress.update(1)
    actual = reader.digest.hexdigest()
    if actual != source.sha256:
        raise InputError(path, f"sha256 mismatch: expected {source.sha256}, actual {actual}",
                         f"restore the original file, or update sha256 of source '{source.id}' in {manifest} if the change is intended")
    if ledger.lines_in == 0:
        raise InputError(path, "empty source (no lines)", f"fix the file or remove source '{source.id}' from {manifest}")
    return {"bytes": reader.bytes, "sha256": actual, "bom": 0, "crlf_lines": 0, "invalid_lines": 0,
            "invalid_sequences": 0, **facts}


def ingest_language(lang, paths, out_dir: Path, settings: IngestSettings, progress=None) -> dict:
    """Read every source of `lang` (resolved `paths`, same order) into out_dir/shard-NNNNN.tsv;
    returns {"stats": ..., "shards": [{index, file, lines, bytes}]}."""
    writer = ShardWriter(out_dir, settings.shard_bytes)
    per_source = {}
    with RejectionLog(out_dir / REJECTED_FILE) as rejections:
        for source, path in zip(lang.sources, paths):
            ledger = Ledger(rejections)
            facts = read_source(Path(path), source, lang.manifest, writer, ledger, settings, progress)
            per_source[source.id] = {**ledger.as_stats(), **facts}
    writer.close()
    summary = totals(per_source.values())
    for key in ("bytes", "bom", "crlf_lines", "invalid_lines", "invalid_sequences"):
        summary[key] = sum(stats[key] for stats in per_source.values())
    summary.update(lang=lang.code, sources=per_source, shards=len(writer.shards),
                   source_bytes=sum(Path(p).stat().st_size for p in paths))
    return {"stats": summary, "shards": writer.shards}
