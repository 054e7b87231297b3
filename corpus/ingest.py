"""Ingest: resolve, verify and decode a language's sources into shards.

Sources are local paths (under data_root) or URLs downloaded once into a cache, with a
mirror directory searched first for air-gapped clusters. Every source is read once as
bytes where it can be (the sha256 computed on the fly; a Parquet file, read by row group, is
hashed in a pass of its own), decompressed and parsed by its format (corpus/formats.py), and
its lines are cut into shards of about `shard_bytes` so later stages run per (language,
shard) in parallel. Shard lines are `ref<TAB>text`, ref naming the source and the line (or
the document and its line: provenance for every later rejection). In text and JSON-lines
sources, BOM and CRLF line ends are removed and counted; NUL bytes, invalid UTF-8 beyond the
source's `max_invalid_lines`, a sha256 mismatch, a truncated or corrupt compressed stream and
an empty source are errors.

A script whose legacy encoding has a converter (Menksoft for traditional Mongolian,
corpus/menksoft.py) has its lines converted here, before language ID and cleaning: each
converted line is counted (`converted_legacy`) and its original kept in `legacy.tsv` under its
ref; a line with a code the converter has no reading for is rejected (`legacy_unconvertible`).
"""
import os
import shutil
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError
from common.fingerprint import sha256_file
from common.jsonio import open_text
from common.settings import Settings, setting
from corpus import formats
from corpus.formats import HashingReader, Item
from corpus import menksoft
from corpus.lines import REJECTED_FILE, Ledger, RejectionLog, totals, write_pair

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 2   # 2: legacy encodings converted
LEGACY_FILE = "legacy.tsv"   # ref<TAB>the line as the source had it, for every line Ingest changed
LEGACY_COUNTS = ("converted_legacy", "converted_legacy_marks", "private_use_removed")


@dataclass(frozen=True)
class IngestSettings(Settings):
    shard_mb: float = setting(64.0, "MB of UTF-8 text per shard; later stages run once per (language, shard)")
    max_line_kb: int = setting(1024, "longer lines are rejected (line_too_long): memory stays bounded")
    max_gzip_ratio: float = setting(100.0, "a compressed source (gzip, zstd, bzip2, xz) that expands more (and past "
                                           "64 MB) is refused (a decompression bomb)")

    @property
    def shard_bytes(self) -> int:
        return int(self.shard_mb * 2**20)


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


def _invalid_utf8(raw_line: bytes, exc: UnicodeDecodeError, source, manifest: str, where: str, facts: Counter) -> int:
    """Count a line with invalid UTF-8 (its bad sequences are returned); past the source's
    `max_invalid_lines` it is an error."""
    bad = formats.count_invalid(raw_line)
    facts["invalid_sequences"] += bad
    facts["invalid_lines"] += 1
    if facts["invalid_lines"] > source.max_invalid_lines:
        raise InputError(where, f"invalid UTF-8 ({bad} bad byte sequence(s), first at byte {exc.start + 1}: "
                                f"{raw_line[exc.start:exc.start + 4]!r})",
                         f"convert the file to UTF-8, or allow such lines with 'max_invalid_lines' "
                         f"for source '{source.id}' in {manifest}")
    return bad


def _line_items(stream, path, source, manifest: str, settings: IngestSettings, facts: Counter):
    """The items of a text or JSON-lines source, line by line."""
    limit = settings.max_line_kb << 10
    for line_no, (raw_line, length) in enumerate(formats.limited_lines(stream, limit), 1):
        ref, where = f"{source.id}:{line_no}", f"{path}:{line_no}"
        if length > limit:
            yield Item(ref, raw_line[:200].decode("utf-8", "replace"), "line_too_long",
                       f"{length} bytes (limit [ingest] max_line_kb = {settings.max_line_kb})")
            continue
        raw_line = formats.line_bytes(raw_line, line_no, where, facts)
        try:
            yield from ([Item(ref, raw_line.decode("utf-8"))] if source.format == "txt"
                        else formats.json_items(raw_line, line_no, source, where, limit))
        except UnicodeDecodeError as exc:
            bad = _invalid_utf8(raw_line, exc, source, manifest, where, facts)
            yield Item(ref, raw_line.decode("utf-8", "backslashreplace"), "invalid_utf8", f"{bad} invalid sequence(s)")


def _items(reader: HashingReader, path, source, manifest: str, settings: IngestSettings, facts: Counter):
    """The items of a streamed source (every format but Parquet), decompressed by its extension."""
    compression = formats.compression(source.path or source.url)
    kind = compression or "text"
    stream = formats.decompressed(reader, path, settings.max_gzip_ratio, compression)
    items = formats.mediawiki_items(stream, path, source, settings.max_line_kb << 10, facts) \
        if source.format == "mediawiki" else _line_items(stream, path, source, manifest, settings, facts)
    count = 0
    try:
        for count, item in enumerate(items, 1):
            yield item
    except formats.damaged_errors() as exc:
        raise formats.damaged(path, kind, f"after item {count}", exc)


def has_converter(script) -> bool:
    """Whether the script's legacy encoding has a converter: Menksoft is the one that has."""
    return script.legacy_name == "Menksoft"


def legacy_converter(script, separator: str):
    """The line converter of a script whose legacy encoding has one (has_converter):
    (text) -> menksoft.Converted."""
    ranges = tuple(script.legacy_ranges)
    return lambda text: menksoft.convert_line(text, separator, ranges)


def _converted(item: Item, legacy, ledger: Ledger, originals):
    """The item's text with its legacy encoding converted (the original to legacy.tsv), or None
    where a code has no reading or nothing is left: the line is rejected, naming why.
    `converted_legacy` counts lines with Menksoft letters (Menksoft text), `converted_legacy_marks`
    lines where only its punctuation was (Unicode lines with stray codes)."""
    try:
        done = legacy(item.text)
    except menksoft.Unconvertible as error:
        ledger.reject(item.ref, item.text, "legacy_unconvertible",
                      f"{error}; fix: replace that character in the source (or remove the line), or convert "
                      f"the text with a converter that knows it before ingesting")
        return None
    if not done.text.strip():
        ledger.reject(item.ref, item.text, "empty", "nothing but private-use symbols or spaces once converted")
        return None
    ledger.count("converted_legacy", done.letters)
    ledger.count("converted_legacy_marks", done.marks and not done.letters)
    ledger.count("private_use_removed", done.removed)
    if done.text != item.text:
        write_pair(originals, item.ref, item.text)
    return done.text


def read_source(path: Path, source, manifest: str, writer: ShardWriter, ledger: Ledger, settings: IngestSettings,
                progress=None, legacy=None, originals=None) -> dict:
    """Stream one source into the shard writer, counting into `ledger`; returns what is not a
    line count (bytes, sha256, invalid sequences, BOM and CRLF tallies, pages read and skipped).
    `legacy`: the script's legacy converter (legacy_converter), originals of converted lines to
    `originals`."""
    facts = Counter()
    with open(path, "rb") as raw:
        reader = HashingReader(raw)
        items = formats.parquet_items(path, source, settings.max_line_kb << 10) if source.format == "parquet" \
            else _items(reader, path, source, manifest, settings, facts)
        for item in items:
            if item.reason:
                ledger.reject(item.ref, item.text, item.reason, item.detail)
            elif item.text.strip():
                text = _converted(item, legacy, ledger, originals) if legacy else item.text
                if text is not None:
                    ledger.keep(item.text, text)
                    writer.write(item.ref, text)
            else:
                ledger.reject(item.ref, item.text, "empty")
            if progress:
                progress.update(1)
    actual, size = (sha256_file(path), Path(path).stat().st_size) if source.format == "parquet" \
        else (reader.digest.hexdigest(), reader.bytes)
    if actual != source.sha256:
        raise InputError(path, f"sha256 mismatch: expected {source.sha256}, actual {actual}",
                         f"restore the original file, or update sha256 of source '{source.id}' in {manifest} if the change is intended")
    if ledger.lines_in == 0:
        raise InputError(path, "empty source (no lines)", f"fix the file or remove source '{source.id}' from {manifest}")
    return {"bytes": size, "sha256": actual, "bom": 0, "crlf_lines": 0, "invalid_lines": 0,
            "invalid_sequences": 0, **facts}


def ingest_language(lang, paths, out_dir: Path, settings: IngestSettings, progress=None, legacy=None) -> dict:
    """Read every source of `lang` (resolved `paths`, same order) into out_dir/shard-NNNNN.tsv,
    its lines converted by `legacy` (legacy_converter) where its script has one; returns
    {"stats": ..., "shards": [{index, file, lines, bytes}]}."""
    writer = ShardWriter(out_dir, settings.shard_bytes)
    per_source = {}
    with RejectionLog(out_dir / REJECTED_FILE) as rejections, open_text(out_dir / LEGACY_FILE, "w") as originals:
        for source, path in zip(lang.sources, paths):
            ledger = Ledger(rejections)
            facts = read_source(Path(path), source, lang.manifest, writer, ledger, settings, progress, legacy,
                                originals)
            per_source[source.id] = {**ledger.as_stats(), **facts}
    writer.close()
    summary = totals(per_source.values())
    for key in ("bytes", "bom", "crlf_lines", "invalid_lines", "invalid_sequences", *LEGACY_COUNTS):
        summary[key] = sum(stats.get(key, 0) for stats in per_source.values())
    summary.update(lang=lang.code, sources=per_source, shards=len(writer.shards),
                   source_bytes=sum(Path(p).stat().st_size for p in paths))
    return {"stats": summary, "shards": writer.shards}
