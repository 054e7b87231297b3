"""One shape for every line stage: ingest, language ID, clean, dedup and split.

A stage reads `(ref, text)` pairs and, for each line, keeps it or rejects it with a reason.
Three small pieces do the bookkeeping so that no stage does it by hand:

- `read_shard(path)` yields the `(ref, text)` pairs of a `ref<TAB>text` shard, and
  `write_pair` writes one;
- `RejectionLog` is `rejected.tsv`: it owns the header and the quoting (excel-tab, which
  pandas and csv read back), and every rejection goes through it;
- `Ledger` counts. A line enters the counts only through `keep` or `reject`, so
  `lines_in == lines_kept + sum(rejected)` holds by construction; `as_stats()` gives the
  counts of a stage's stats.json and `totals()` sums them over shards or sources.

A per-line stage is a `step(ref, text) -> str | Reject` (cc_net's `do(line)`, datatrove's
`filter(doc) -> bool | (bool, reason)`), and `run_step` drives it over a shard.
"""
import csv
from collections import Counter
from dataclasses import dataclass

from common.jsonio import open_text

KEPT_FILE = "kept.tsv"           # what a per-shard stage passes on
REJECTED_FILE = "rejected.tsv"
REJECTED_HEADER = ("ref", "reason", "detail", "text")
COUNTS = ("lines_in", "lines_kept", "chars_in", "chars_kept")


@dataclass(frozen=True)
class Reject:
    """Why a step drops a line; `detail` goes to rejected.tsv (a score, a length, a label)."""
    reason: str
    detail: str = ""


def read_shard(path):
    """The `(ref, text)` pairs of a shard, in order."""
    with open_text(path) as handle:
        for line in handle:
            ref, text = line.rstrip("\n").split("\t", 1)
            yield ref, text


def read_shards(paths):
    for path in paths:
        yield from read_shard(path)


def write_pair(handle, ref: str, text: str) -> None:
    handle.write(f"{ref}\t{text}\n")


class RejectionLog:
    """`rejected.tsv` of one stage output: a header, then `ref, reason, detail, text` per line."""

    def __init__(self, path):
        self._handle = open_text(path, "w")
        self._writer = csv.writer(self._handle, dialect="excel-tab", lineterminator="\n")
        self._writer.writerow(REJECTED_HEADER)

    def write(self, ref: str, reason: str, detail: str, text: str) -> None:
        self._writer.writerow([ref, reason, detail, text])

    def close(self) -> None:
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_rejections(path) -> list:
    """The rows of a rejected.tsv as dicts (header names as keys)."""
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, dialect="excel-tab"))


class Ledger:
    """Line and character counts of one stage (or one source of it)."""

    def __init__(self, rejections: RejectionLog = None):
        self.rejections = rejections
        self.lines_kept = self.chars_in = self.chars_kept = 0
        self.rejected = Counter()
        self.counts = Counter()   # stage-specific tallies (lines changed by normalisation, BOMs, ...)

    @property
    def lines_in(self) -> int:
        return self.lines_kept + sum(self.rejected.values())

    def keep(self, text_in: str, text_out: str = None) -> None:
        """A line goes on, as `text_out` when the stage changed it."""
        self.lines_kept += 1
        self.chars_in += len(text_in)
        self.chars_kept += len(text_in if text_out is None else text_out)

    def reject(self, ref: str, text: str, reason: str, detail: str = "") -> None:
        self.rejected[reason] += 1
        self.chars_in += len(text)
        self.rejections.write(ref, reason, detail, text)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def as_stats(self) -> dict:
        return {"lines_in": self.lines_in, "lines_kept": self.lines_kept, "chars_in": self.chars_in,
                "chars_kept": self.chars_kept, "rejected": dict(sorted(self.rejected.items())),
                **dict(sorted(self.counts.items()))}


def totals(stats_list) -> dict:
    """The counts of several stats dicts (shards of a stage, sources of a language) summed."""
    summed, reasons = Counter(), Counter()
    for stats in stats_list:
        summed.update({key: stats[key] for key in COUNTS})
        reasons.update(stats["rejected"])
    return {**{key: summed[key] for key in COUNTS}, "rejected": dict(sorted(reasons.items()))}


def run_step(pairs, step, ledger: Ledger, out, progress=None) -> None:
    """Apply `step` to every `(ref, text)`: kept lines go to `out`, rejected ones to the ledger."""
    for ref, text in pairs:
        result = step(ref, text)
        if isinstance(result, Reject):
            ledger.reject(ref, text, result.reason, result.detail)
        else:
            ledger.keep(text, result)
            write_pair(out, ref, result)
        if progress:
            progress.update(1)
