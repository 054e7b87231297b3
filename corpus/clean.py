"""Cleaning of one shard: markup stripping, per-script normalisation, line filters."""
from common.jsonio import open_text
from common.units import units
from corpus import filters
from corpus.lines import KEPT_FILE, REJECTED_FILE, Ledger, RejectionLog, read_shard, run_step
from corpus.markup import strip_markup
from corpus.normalize import Normalizer

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 3   # 2: rejected.tsv details name the measure that failed; 3: a kept U+202F at a line's end stays


class Cleaner:
    """`step(ref, raw) -> cleaned text | Reject` for one language."""

    def __init__(self, lang, script, table, settings: filters.FilterSettings):
        self.normalize = Normalizer(script.normalization, script.keep_format)
        self.markup = {source.id: source.markup for source in lang.sources}
        self.lang, self.script, self.table, self.settings = lang, script, table, settings
        self.changed = 0   # lines the normalisation changed (after markup stripping)

    def __call__(self, ref: str, raw: str):
        stripped = strip_markup(raw, self.markup[ref.split(":", 1)[0]])
        text = self.normalize(stripped)
        self.changed += text != stripped.strip()
        seq = units(text)
        doc = filters.Doc(text, seq, self.table.share_of_all(seq, self.lang.script), self.script.shingle)
        return filters.check(doc, self.settings) or text


def clean_shard(in_path, out_dir, lang, script, table, settings: filters.FilterSettings, progress=None) -> dict:
    """out_dir/kept.tsv: the cleaned lines of `lang` that pass the filters; the rest in rejected.tsv."""
    cleaner = Cleaner(lang, script, table, settings)
    with open_text(out_dir / KEPT_FILE, "w") as out, RejectionLog(out_dir / REJECTED_FILE) as rejections:
        ledger = Ledger(rejections)
        run_step(read_shard(in_path), cleaner, ledger, out, progress)
    ledger.count("lines_changed_by_normalisation", cleaner.changed)
    return ledger.as_stats()

