"""Deterministic train/valid/test assignment by a hash of the line itself.

The split of a line depends on nothing but its text (and a fixed salt), so adding data
never moves a line that was already assigned, and the same line never lands in two splits.
"""
import hashlib
from dataclasses import dataclass

from common.jsonio import open_text

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class SplitSettings:
    valid_percent: float = 2.0
    test_percent: float = 2.0
    salt: str = "cino-split-v1"


def assign(text: str, settings: SplitSettings) -> str:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, key=settings.salt.encode("utf-8")).digest()
    point = int.from_bytes(digest, "big") % 1_000_000 / 10_000  # percent, 0.0001 resolution
    if point < settings.valid_percent:
        return "valid"
    if point < settings.valid_percent + settings.test_percent:
        return "test"
    return "train"


def split_language(shard_paths, out_dir, settings: SplitSettings, progress=None) -> dict:
    """Stream the deduplicated shards into train.txt / valid.txt / test.txt (plain lines)."""
    stats = {s: {"lines": 0, "chars": 0} for s in SPLITS}
    handles = {s: open_text(out_dir / f"{s}.txt", "w") for s in SPLITS}
    try:
        for path in shard_paths:
            with open_text(path) as handle:
                for line in handle:
                    text = line.rstrip("\n").split("\t", 1)[1]
                    split = assign(text, settings)
                    handles[split].write(text + "\n")
                    stats[split]["lines"] += 1
                    stats[split]["chars"] += len(text)
                    if progress:
                        progress.update(1)
    finally:
        for handle in handles.values():
            handle.close()
    total_lines = sum(v["lines"] for v in stats.values())
    total_chars = sum(v["chars"] for v in stats.values())
    return {"lines_in": total_lines, "lines_kept": total_lines, "chars_in": total_chars, "chars_kept": total_chars,
            "rejected": {}, "splits": stats}
