"""Deterministic train/valid/test assignment by a hash of the line itself, or of its document.

The split of a line depends on nothing but its text (or its document's id) and a fixed salt,
so adding data never moves a line that was already assigned, and the same line never lands in
two splits.
A line of a document (a JSON-lines record, a Parquet row, a wiki page: its ref is
`source:document.line`) goes where its document goes, decided by the document's id, so no
document is split between training and test data.
"""
import hashlib
from contextlib import ExitStack
from dataclasses import dataclass

from common.jsonio import open_text
from common.settings import Settings, setting
from corpus.lines import Ledger, read_shards

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 3   # 2: refs files beside the split files; 3: a document's lines in one split


SPLITS = ("train", "valid", "test")


def split_path(directory, name: str):
    """A Split output's file for split `name` (plain lines)."""
    return directory / f"{name}.txt"


def refs_path(directory, name: str):
    """The refs (`source:line`) of split `name`, line for line: where each line came from."""
    return directory / f"{name}.refs"


@dataclass(frozen=True)
class SplitSettings(Settings):
    valid_percent: float = setting(2.0, "percent of lines in the validation split")
    test_percent: float = setting(2.0, "percent of lines in the test split")
    salt: str = setting("cino-split-v1", "key of the line hash that assigns splits")


def split_key(ref: str, text: str) -> str:
    """What decides a line's split: its document (refs `source:document.line`), else its text."""
    source, _, rest = ref.partition(":")
    return f"{source}:{rest.rsplit('.', 1)[0]}" if "." in rest else text


def assign(text: str, settings: SplitSettings) -> str:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, key=settings.salt.encode("utf-8")).digest()
    point = int.from_bytes(digest, "big") % 1_000_000 / 10_000  # percent, 0.0001 resolution
    if point < settings.valid_percent:
        return "valid"
    if point < settings.valid_percent + settings.test_percent:
        return "test"
    return "train"


def split_language(shard_paths, out_dir, settings: SplitSettings, progress=None) -> dict:
    """Stream the deduplicated shards into train.txt / valid.txt / test.txt (plain lines) and
    their refs into train.refs / ... Every line is kept (in exactly one split); stats add the
    lines and characters per split."""
    ledger = Ledger()
    splits = {s: {"lines": 0, "chars": 0} for s in SPLITS}
    with ExitStack() as stack:
        handles = {s: stack.enter_context(open_text(split_path(out_dir, s), "w")) for s in SPLITS}
        refs = {s: stack.enter_context(open_text(refs_path(out_dir, s), "w")) for s in SPLITS}
        for ref, text in read_shards(shard_paths):
            split = assign(split_key(ref, text), settings)
            handles[split].write(text + "\n")
            refs[split].write(ref + "\n")
            splits[split]["lines"] += 1
            splits[split]["chars"] += len(text)
            ledger.keep(text)
            if progress:
                progress.update(1)
    return {**ledger.as_stats(), "splits": splits}
