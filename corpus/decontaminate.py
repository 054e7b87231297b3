"""Decontamination: the lines of a language's corpus that overlap an evaluation text the pipeline
reports on or selects with (the dev and test splits of every set the language declares; train
splits are not contamination) are removed before Split, so that no split file, and so no
tokenizer, model or masked-LM test made from them, holds one.

Matching is on script-aware units of the NFC text (common.units: Tibetan syllables between tshegs
and shads, words in Arabic and Mongolian script, single Han characters), combining marks kept:
stripping them (datatrove's default drops category Mn, which turns `བསྒྲུབས་` into `བསབས་`) or
NFKC would match texts that differ. A line goes when
- it contains a whole evaluation text of at least `min_units` units, or
- it shares a run of at least `run_units` consecutive units with one.
docs/DECONTAMINATION.md has what these lengths catch, and wrongly catch, on the shipped corpora
(bench/decontamination.py measures it).
"""
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from common.jsonio import open_text
from common.settings import Settings, setting
from common.units import units
from corpus.lines import KEPT_FILE, REJECTED_FILE, Ledger, Reject, RejectionLog, read_shards, run_step

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1

REASON = "evaluation_overlap"


@dataclass(frozen=True)
class DecontaminationSettings(Settings):
    min_units: int = setting(10, "a line containing a whole evaluation text of at least so many units is removed",
                             bounds=(1, 10_000))
    run_units: int = setting(13, "a line sharing a run of so many consecutive units with an evaluation text is "
                                 "removed", bounds=(1, 10_000))


def text_units(text: str) -> tuple:
    """The units matching compares: NFC, combining marks kept, script-aware (common.units)."""
    return tuple(units(unicodedata.normalize("NFC", text)))


class EvaluationIndex:
    """The evaluation texts ({name: text}, name as `set/split:line`) by their runs of k units, k the
    smaller of the two lengths: a line costs one lookup per unit, and only a hit is extended."""

    def __init__(self, items: dict, settings: DecontaminationSettings):
        self.settings = settings
        self.k = min(settings.min_units, settings.run_units)
        self.items = [(name, text_units(text)) for name, text in items.items()]
        self.too_short = sum(len(seq) < self.k for _, seq in self.items)
        self.runs = defaultdict(list)   # k units -> [(item, position in it)]
        for item, (_, seq) in enumerate(self.items):
            for position in range(len(seq) - self.k + 1):
                self.runs[seq[position:position + self.k]].append((item, position))

    def overlap(self, seq: tuple):
        """A Reject naming the first evaluation text the units `seq` overlap, or None."""
        for start in range(len(seq) - self.k + 1):
            for item, position in self.runs.get(seq[start:start + self.k], ()):
                name, target = self.items[item]
                length = self.k
                while start + length < len(seq) and position + length < len(target) \
                        and seq[start + length] == target[position + length]:
                    length += 1
                if position == 0 and length == len(target) and length >= self.settings.min_units:
                    return Reject(REASON, f"{name}: the whole text ({length} units)")
                if length >= self.settings.run_units:
                    return Reject(REASON, f"{name}: a run of {length} units")
        return None


def decontaminate(shard_paths, out_dir, index: EvaluationIndex, progress=None) -> dict:
    """out_dir/kept.tsv: the deduplicated lines that overlap no evaluation text; the others in
    rejected.tsv with the set, split and line of the text they overlap."""
    with RejectionLog(out_dir / REJECTED_FILE) as rejections, open_text(out_dir / KEPT_FILE, "w") as out:
        ledger = Ledger(rejections)
        run_step(read_shards(shard_paths), lambda ref, text: index.overlap(text_units(text)) or text, ledger, out,
                 progress)
    return {**ledger.as_stats(), "evaluation_texts": len(index.items), "too_short_to_match": index.too_short}
