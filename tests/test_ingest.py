"""Ingest: formats, shards, downloads and mirrors, and every bad input as one clear error."""
import gzip
import json
from pathlib import Path

import pytest

from common.errors import InputError
from common.fingerprint import sha256_file
from common.jsonio import open_text
from corpus.formats import HashingReader
from corpus.ingest import IngestSettings, ingest_language, resolve_source
from corpus.manifest import Language, Source
from tests.helpers import DATA_ROOT, REPO
from tests.helpers.sources import ingest, one_line_error, shard_lines, source, write

UG = DATA_ROOT / "ug" / "maqal.txt"


def test_real_source_into_size_limited_shards(tmp_path):
    result, out = ingest(tmp_path, source(UG), shard_bytes=40_000)
    stats = result["stats"]
    expected = UG.read_text(encoding="utf-8").split("\n")[:-1]
    assert stats["lines_in"] == stats["lines_kept"] == len(expected) == 2503
    assert stats["sources"]["maqal"]["sha256"] == sha256_file(UG) and stats["shards"] == len(result["shards"]) > 3
    assert [line.split("\t", 1)[1] for line in shard_lines(out)] == expected
    assert shard_lines(out)[0].startswith("maqal:1\t") and shard_lines(out)[-1].startswith("maqal:2503\t")
    assert all(s["bytes"] < 40_000 + 1_000 for s in result["shards"])


def test_gzip_and_jsonl(tmp_path):
    lines = UG.read_bytes().split(b"\n")[:50]
    gz = write(tmp_path, "maqal.txt.gz", gzip.compress(b"\n".join(lines) + b"\n"))
    records = "".join(json.dumps({"body": l.decode(), "n": i}) + "\n" for i, l in enumerate(lines[:20]))
    jsonl = write(tmp_path, "docs.jsonl.gz", gzip.compress(records.encode()))
    result, out = ingest(tmp_path, source(gz), source(jsonl, id="docs", format="jsonl", text_field="body"))
    assert result["stats"]["sources"]["maqal"]["lines_kept"] == 50
    assert result["stats"]["sources"]["docs"]["lines_kept"] == 20
    assert shard_lines(out)[50] == "docs:1.1\t" + lines[0].decode()   # document 1 (its line number), its line 1


def test_bom_and_crlf_are_removed_and_counted(tmp_path):
    path = write(tmp_path, "crlf.txt", b"\xef\xbb\xbf" + "بىرىنچى قۇر\r\nئىككىنچى قۇر\r\n\r\n".encode())
    result, out = ingest(tmp_path, source(path))
    stats = result["stats"]["sources"]["crlf"]
    assert (stats["bom"], stats["crlf_lines"], stats["lines_kept"], stats["rejected"]) == (1, 3, 2, {"empty": 1})
    assert shard_lines(out) == ["crlf:1\tبىرىنچى قۇر", "crlf:2\tئىككىنچى قۇر"]


def test_missing_file(tmp_path):
    src = source(UG)
    missing = Source(**{**src.__dict__, "path": "ug/nothing.txt"})
    message = one_line_error(lambda: resolve_source(missing, "ug.yaml", DATA_ROOT, None, tmp_path))
    assert "ug.yaml: source 'maqal'" in message and "file not found" in message and "nothing.txt" in message


def test_sha256_mismatch_names_expected_and_actual(tmp_path):
    src = source(UG, sha256="0" * 64)
    message = one_line_error(lambda: ingest(tmp_path, src))
    assert f"sha256 mismatch: expected {'0' * 64}, actual {sha256_file(UG)}" in message


def test_invalid_utf8_is_an_error_by_default(tmp_path):
    path = write(tmp_path, "bad.txt", "تۈز قۇر\n".encode() + b"bad \xff\xfe bytes \xc3\n")
    message = one_line_error(lambda: ingest(tmp_path, source(path)))
    assert "bad.txt:2: invalid UTF-8 (3 bad byte sequence(s)" in message and "max_invalid_lines" in message


def test_invalid_utf8_within_tolerance_is_counted_and_rejected(tmp_path):
    path = write(tmp_path, "bad.txt", "تۈز قۇر\n".encode() + b"bad \xff bytes\n")
    result, out = ingest(tmp_path, source(path, max_invalid_lines=1))
    stats = result["stats"]
    assert (stats["invalid_lines"], stats["invalid_sequences"], stats["rejected"]) == (1, 1, {"invalid_utf8": 1})
    assert stats["lines_in"] == stats["lines_kept"] + 1
    rejected = (out / "rejected.tsv").read_text(encoding="utf-8")
    assert "bad:2\tinvalid_utf8" in rejected and "\\xff" in rejected


def test_nul_bytes(tmp_path):
    path = write(tmp_path, "utf16.txt", "Uyghur text\n".encode("utf-16-le"))
    assert "utf16.txt:1: NUL byte" in one_line_error(lambda: ingest(tmp_path, source(path)))


def test_empty_source(tmp_path):
    path = write(tmp_path, "empty.txt", b"")
    message = one_line_error(lambda: ingest(tmp_path, source(path)))
    assert "empty.txt: empty source" in message and "remove source 'empty' from ug.yaml" in message


def test_truncated_gzip(tmp_path):
    data = gzip.compress(UG.read_bytes())
    path = write(tmp_path, "cut.txt.gz", data[: len(data) // 2])
    message = one_line_error(lambda: ingest(tmp_path, source(path)))
    assert "cut.txt.gz: truncated or corrupt gzip" in message


def test_invalid_jsonl_record(tmp_path):
    path = write(tmp_path, "docs.jsonl", b'{"text": "ok"}\n{"text": broken}\n')
    assert "docs.jsonl:2: invalid JSON" in one_line_error(lambda: ingest(tmp_path, source(path, format="jsonl")))
    path = write(tmp_path, "docs.jsonl", b'{"body": "ok"}\n')
    assert "no string field 'text'" in one_line_error(lambda: ingest(tmp_path, source(path, format="jsonl")))


def test_url_download_is_cached_and_mirror_searched_first(tmp_path):
    remote = write(tmp_path, "remote.txt", UG.read_bytes())
    src = Source(**{**source(UG).__dict__, "path": None, "url": remote.as_uri()})
    cache = tmp_path / "cache"
    fetched = resolve_source(src, "ug.yaml", DATA_ROOT, None, cache)
    assert fetched.parent == cache and sha256_file(fetched) == src.sha256
    remote.unlink()  # cached: no second download
    assert resolve_source(src, "ug.yaml", DATA_ROOT, None, cache) == fetched
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "remote.txt").write_bytes(UG.read_bytes())
    assert resolve_source(src, "ug.yaml", DATA_ROOT, mirror, tmp_path / "other-cache") == mirror / "remote.txt"


def test_failed_or_corrupt_download_leaves_nothing_in_the_cache(tmp_path):
    remote = write(tmp_path, "remote.txt", b"changed upstream\n")
    src = Source(**{**source(UG).__dict__, "path": None, "url": remote.as_uri()})
    cache = tmp_path / "cache"
    assert "sha256 mismatch" in one_line_error(lambda: resolve_source(src, "ug.yaml", DATA_ROOT, None, cache))
    gone = Source(**{**src.__dict__, "url": (tmp_path / "gone.txt").as_uri()})
    assert "download of" in one_line_error(lambda: resolve_source(gone, "ug.yaml", DATA_ROOT, None, cache))
    assert list(cache.iterdir()) == []


def test_a_50_mb_line_is_rejected_with_bounded_memory(tmp_path):
    """A 50 MB single line among real lines: counted and rejected (`line_too_long`, the first
    200 characters in rejected.tsv), never held whole; the real lines go through."""
    import resource

    lines = UG.read_bytes().split(b"\n")[:20]
    path = tmp_path / "huge.txt"
    with open(path, "wb") as handle:
        handle.write(b"\n".join(lines[:10]) + b"\n" + "ئ".encode() * (25 << 20) + b"\n" + b"\n".join(lines[10:]) + b"\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result, out = ingest(tmp_path, source(path))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    stats = result["stats"]
    assert stats["rejected"] == {"line_too_long": 1} and stats["lines_kept"] == sum(1 for l in lines if l.strip())
    rows = (out / "rejected.tsv").read_text(encoding="utf-8").splitlines()
    assert "line_too_long" in rows[1] and "52428801 bytes" in rows[1] and len(rows[1]) < 1000
    assert grown_mb < 30   # the 50 MB line was never read whole


def test_a_gzip_bomb_is_refused(tmp_path):
    path = write(tmp_path, "bomb.txt.gz", gzip.compress(b"0" * (200 << 20), compresslevel=9))
    assert path.stat().st_size < 1 << 20
    message = one_line_error(lambda: ingest(tmp_path, source(path)))
    assert "bomb.txt.gz: gzip data expands more than 100 times" in message and "max_gzip_ratio" in message


def test_a_path_leaving_data_root_and_a_symlink_loop_are_refused(tmp_path):
    src = source(UG)
    escaping = Source(**{**src.__dict__, "path": "../../etc/passwd"})
    assert "leaves data_root" in one_line_error(lambda: resolve_source(escaping, "ug.yaml", DATA_ROOT, None, tmp_path))
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    looping = Source(**{**src.__dict__, "path": "a"})
    assert "symlink loop" in one_line_error(lambda: resolve_source(looping, "ug.yaml", tmp_path, None, tmp_path))


def test_a_binary_file_named_txt_is_refused(tmp_path):
    path = write(tmp_path, "model.txt", (REPO / "tests" / "data" / "ky" / "gettext-ui.txt").read_bytes()[:100]
                 + bytes(range(256)))
    message = one_line_error(lambda: ingest(tmp_path, source(path)))
    assert "model.txt:" in message and ("NUL byte" in message or "invalid UTF-8" in message)


def test_a_source_that_changes_while_it_is_read_is_refused(tmp_path):
    """The sha256 is taken from the bytes as they are read: a file rewritten during the read
    does not match its manifest, and nothing is published (the Luigi test: test_dag_runs)."""
    path = write(tmp_path, "growing.txt", UG.read_bytes())
    src = source(path)

    def append_while_reading(original=HashingReader.readline):
        def readline(self, size=-1):
            data = original(self, size)
            if self.bytes > 1000 and not getattr(self, "appended", False):
                with open(path, "ab") as handle:
                    handle.write("يېڭى قۇر\n".encode())
                self.appended = True
            return data
        return readline

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HashingReader, "readline", append_while_reading())
        message = one_line_error(lambda: ingest(tmp_path, src))
    assert "growing.txt: sha256 mismatch" in message
