"""Exact and near-duplicate removal across all sources and shards of one language.

Exact: a 64-bit BLAKE2b of the cleaned line. Near: MinHash over script-aware shingles
(n consecutive units: Tibetan syllables, words, Han characters; n from scripts.yaml)
with LSH banding: two lines whose signatures agree on every row of some band are
linked; bands x rows = num_perm, and the Jaccard similarity at which linking becomes
likely is about (1/bands)^(1/rows) (0.79 for the default 10 x 10). Linked lines form
groups (connected components, found for all lines at once: see `_join`); the first line of a
group in corpus order is kept.

Memory grows with the lines, not with the text: signatures are never held for the whole
corpus. Pass 1 streams the lines and writes one 64-bit key per line and band to scratch
files; pass 2 loads and sorts one band at a time; pass 3 streams the lines again and writes
the kept ones. Pass 2 holds, per line, its group root and exact-duplicate flag and, for the
band being joined, its key, sort order, sorted key and group scratch: about 50 bytes per line
(bench/corpus_throughput.py measured 456 MB peak for 6.7M lines, 109 MB for 67K).
"""
import hashlib
import multiprocessing
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.jsonio import open_text
from common.ranges import line_ranges, range_lines
from common.settings import Settings, setting
from common.units import units
from corpus.lines import REJECTED_FILE, Ledger, RejectionLog, read_shard, write_pair

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


@dataclass(frozen=True)
class DedupSettings(Settings):
    num_perm: int = setting(100, "MinHash permutations per line (a multiple of bands)")
    bands: int = setting(10, "LSH bands: lines agreeing on a whole band are linked")
    seed: int = setting(1234, "seed of the MinHash permutations")
    workers: int = setting(2, "processes for the signature pass", fingerprint=False)
    chunk_mb: int = setting(4, "MB of text per job of the signature pass", fingerprint=False)

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands

    def link_threshold(self) -> float:
        return (1.0 / self.bands) ** (1.0 / self.rows)


class MinHasher:
    """Vectorised MinHash with multiply-shift hashing: h_i(x) = (a_i * x + b_i) >> 32 mod 2^64."""

    def __init__(self, shingle: int, settings: DedupSettings):
        if settings.num_perm % settings.bands:
            raise ValueError("num_perm must be a multiple of bands")
        rng = np.random.default_rng(settings.seed)
        self.a = rng.integers(1, 2**63, settings.num_perm, dtype=np.uint64) | np.uint64(1)
        self.b = rng.integers(0, 2**63, settings.num_perm, dtype=np.uint64)
        self.mix = rng.integers(1, 2**63, settings.rows, dtype=np.uint64) | np.uint64(1)
        self.shingle, self.settings = shingle, settings

    def shingles(self, text: str) -> list:
        """CRC-32 of each run of n units (joined by U+001F, UTF-8), computed by C-level maps."""
        seq = list(map(str.encode, units(text) or [text]))
        n = min(self.shingle, len(seq))
        return list(map(zlib.crc32, map(b"\x1f".join, zip(*(seq[i:] for i in range(n))))))

    def band_keys(self, texts: list) -> np.ndarray:
        """(len(texts), bands) uint64: one key per LSH band of each line's signature."""
        hashes, starts = [], []
        for text in texts:
            starts.append(len(hashes))
            hashes.extend(self.shingles(text))
        values = np.asarray(hashes, dtype=np.uint64)[:, None] * self.a[None, :] + self.b[None, :]
        signatures = np.minimum.reduceat(values >> np.uint64(32), np.asarray(starts), axis=0)
        rows = signatures.reshape(len(texts), self.settings.bands, self.settings.rows)
        return (rows * self.mix[None, None, :]).sum(axis=2, dtype=np.uint64)


def exact_key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def _range_keys(job) -> tuple:
    """(exact keys, band keys) of the lines of one byte range of a shard, in a worker process."""
    path, start, end, shingle, settings = job
    hasher = MinHasher(shingle, settings)
    texts = [line.split("\t", 1)[1] for line in range_lines(path, start, end)]
    exact = np.asarray([exact_key(t) for t in texts], dtype=np.uint64)
    bands, batch = [], 2000   # lines per vectorised signature batch
    for first in range(0, len(texts), batch):
        bands.append(hasher.band_keys(texts[first:first + batch]))
    return exact, np.concatenate(bands) if bands else np.zeros((0, settings.bands), dtype=np.uint64)


def _write_keys(shard_paths, scratch: Path, shingle: int, settings: DedupSettings, progress) -> int:
    """Pass 1: exact and band keys per line into scratch files, in corpus order, computed by
    `settings.workers` processes over byte ranges of the shards; returns the line count."""
    files = [open(scratch / "exact.u64", "wb")] + [open(scratch / f"band{b}.u64", "wb") for b in range(settings.bands)]
    jobs = [(path, start, end, shingle, settings) for path, start, end in line_ranges(shard_paths, settings.chunk_mb << 20)]
    count = 0
    try:
        with multiprocessing.get_context("fork").Pool(max(1, settings.workers)) as pool:
            for exact, keys in pool.imap(_range_keys, jobs):
                exact.tofile(files[0])
                for b in range(settings.bands):
                    np.ascontiguousarray(keys[:, b]).tofile(files[b + 1])
                count += len(exact)
                if progress:
                    progress.update(len(exact))
    finally:
        for handle in files:
            handle.close()
    return count


def _link_equal_keys(keys: np.ndarray, roots: np.ndarray) -> np.ndarray:
    """Join every line to the first (lowest-index) line sharing its key, in `roots` (each
    line's group, named by the group's lowest index); returns the mask of lines whose key
    occurred before them."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    repeat = np.zeros(len(keys), dtype=bool)
    repeat[1:] = ordered[1:] == ordered[:-1]
    group_first = np.maximum.accumulate(np.where(repeat, 0, np.arange(len(keys))))
    _join(roots, order[group_first[repeat]], order[repeat])
    seen_before = np.zeros(len(keys), dtype=bool)
    seen_before[order[repeat]] = True
    return seen_before


def _join(roots: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Merge the groups of lines a[i] and b[i], for all i at once: each pass points every
    group root touched by a differing pair at the lower of the two roots, then lets every
    line jump to its root, until no pair differs. A group's root is always its lowest index,
    so the result does not depend on the order of the pairs (a Python union-find over
    millions of repeated lines was most of dedup's time at 10x)."""
    while True:
        ra, rb = roots[a], roots[b]
        differ = ra != rb
        if not differ.any():
            return
        a, b, ra, rb = a[differ], b[differ], ra[differ], rb[differ]
        lower = np.minimum(ra, rb)
        np.minimum.at(roots, ra, lower)
        np.minimum.at(roots, rb, lower)
        while True:   # pointer jumping: every line to its group's root
            jumped = roots[roots]
            if np.array_equal(jumped, roots):
                break
            roots[:] = jumped


def dedup_language(shard_paths, out_dir: Path, scratch: Path, shingle: int, settings: DedupSettings,
                   progress=None) -> dict:
    """Keep the first line of every group of exact or near duplicates; shards keep their layout."""
    MinHasher(shingle, settings)   # refuses settings that do not split into bands, before any work
    n = _write_keys(shard_paths, scratch, shingle, settings, progress)
    roots = np.arange(n, dtype=np.int64)
    exact_dup = _link_equal_keys(np.fromfile(scratch / "exact.u64", dtype=np.uint64), roots)
    for b in range(settings.bands):
        _link_equal_keys(np.fromfile(scratch / f"band{b}.u64", dtype=np.uint64), roots)
    removed_roots = set(np.unique(roots[roots != np.arange(n)]).tolist())
    root_refs = {}
    with RejectionLog(out_dir / REJECTED_FILE) as rejections:
        ledger = Ledger(rejections)
        index = 0
        for shard, path in enumerate(shard_paths):  # every input shard gets its output shard, even if emptied
            with open_text(out_dir / f"shard-{shard:05d}.tsv", "w") as out:
                for ref, text in read_shard(path):
                    root = int(roots[index])
                    if root == index:
                        if index in removed_roots:
                            root_refs[index] = ref
                        write_pair(out, ref, text)
                        ledger.keep(text)
                    else:
                        reason = "duplicate_exact" if exact_dup[index] else "duplicate_near"
                        ledger.reject(ref, text, reason, f"of {root_refs[root]}")
                    index += 1
    return {**ledger.as_stats(), "link_threshold": round(settings.link_threshold(), 4)}
