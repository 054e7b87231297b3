"""Dedup (exact and MinHash near-duplicates, script-aware shingles) and the hash split."""
from collections import Counter

import pytest

from common.jsonio import open_text
from corpus.dedup import DedupSettings, MinHasher, dedup_language
from corpus.lines import read_rejections, read_shard, write_pair
from corpus.split import SplitSettings, assign, split_language
from tests.helpers import real_lines


def write_shards(tmp_path, shards):
    paths = []
    for i, lines in enumerate(shards):
        path = tmp_path / f"in-{i}.tsv"
        with open_text(path, "w") as handle:
            for j, line in enumerate(lines):
                write_pair(handle, f"src:{i}.{j}", line)
        paths.append(path)
    return paths


def run_dedup(tmp_path, shards, shingle):
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    out.mkdir()
    scratch.mkdir()
    stats = dedup_language(write_shards(tmp_path, shards), out, scratch, shingle, DedupSettings())
    kept = [[text for _, text in read_shard(out / f"shard-{i:05d}.tsv")] for i in range(len(shards))]
    return stats, kept, read_rejections(out / "rejected.tsv")


def test_exact_and_near_duplicates_across_shards_keep_the_first(tmp_path):
    lines = real_lines("bo/nanhai.txt", 40)
    original = lines[5]
    syllables = original.split("་")
    near = "་".join(syllables[:-3] + ["བཀྲ"] + syllables[-2:])  # one Tibetan syllable changed
    stats, kept, rejected = run_dedup(tmp_path, [lines, [original, near, "unrelated line " * 3]], shingle=3)
    assert stats["rejected"] == {"duplicate_exact": 1, "duplicate_near": 1}
    assert kept[0] == lines and kept[1] == ["unrelated line " * 3]
    assert [r["reason"] for r in rejected] == ["duplicate_exact", "duplicate_near"]
    assert rejected[0]["detail"] == rejected[1]["detail"] == "of src:0.5"
    assert [r["text"] for r in rejected] == [original, near]
    assert stats["lines_in"] == stats["lines_kept"] + sum(stats["rejected"].values())


def test_tibetan_shingles_are_syllables():
    hasher = MinHasher(3, DedupSettings())
    # Whitespace shingles would see one "word" here; syllable shingles see 4 syllables -> 2 shingles.
    assert len(hasher.shingles("བཀྲ་ཤིས་བདེ་ལེགས།")) == 2
    assert len(hasher.shingles("中文文本")) == 2 and len(MinHasher(5, DedupSettings()).shingles("中文文本")) == 1


def test_shingles_are_crc32_of_unit_runs():
    import zlib

    from common.units import units
    hasher = MinHasher(3, DedupSettings())
    for text in ["བཀྲ་ཤིས་བདེ་ལེགས། ཞེས་", "ᠤᠯᠤᠰ\u202fᠤᠨ", "..."]:
        seq = units(text) or [text]
        n = min(3, len(seq))
        expected = [zlib.crc32("\x1f".join(seq[i:i + n]).encode("utf-8")) for i in range(len(seq) - n + 1)]
        assert hasher.shingles(text) == expected


def test_distinct_real_lines_are_all_kept(tmp_path):
    lines = list(dict.fromkeys(real_lines("ug/maqal.txt", 400)))
    stats, kept, _ = run_dedup(tmp_path, [lines], shingle=3)
    assert stats["rejected"].get("duplicate_exact", 0) == 0
    assert stats["rejected"].get("duplicate_near", 0) <= 2  # proverbs with one word changed may pair up
    assert len(kept[0]) == stats["lines_kept"]


def test_link_threshold_follows_bands_and_rows():
    assert DedupSettings(num_perm=100, bands=10).link_threshold() == pytest.approx(0.794, abs=1e-3)
    with pytest.raises(ValueError):
        MinHasher(3, DedupSettings(num_perm=100, bands=7))


def test_split_depends_only_on_the_line():
    settings = SplitSettings(valid_percent=10, test_percent=10)
    lines = real_lines("zh/peoples-daily-1998.txt", 2000)
    first = {line: assign(line, settings) for line in lines}
    assert all(assign(line, settings) == split for line, split in first.items())
    counts = Counter(first.values())
    assert 150 < counts["valid"] < 260 and 150 < counts["test"] < 260


def test_split_files_account_for_every_line_and_adding_data_moves_nothing(tmp_path):
    settings = SplitSettings(valid_percent=10, test_percent=10)
    lines = list(dict.fromkeys(real_lines("ko/klue-nli-premises.txt", 600)))
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir()
    large.mkdir()
    stats = split_language(write_shards(tmp_path, [lines[:300]]), small, settings)
    split_language(write_shards(tmp_path, [lines]), large, settings)
    assert stats["lines_in"] == sum(s["lines"] for s in stats["splits"].values()) == 300
    for name in ("train", "valid", "test"):
        before = (small / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        after = set((large / f"{name}.txt").read_text(encoding="utf-8").splitlines())
        assert set(before) <= after
