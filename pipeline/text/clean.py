"""Cleaning of one shard: markup stripping, per-script normalisation, line filters."""
import csv
from collections import Counter

from common.jsonio import open_text
from pipeline.text import filters
from pipeline.text.markup import strip_markup
from pipeline.text.normalize import Normalizer
from common.units import units


def clean_shard(in_path, kept_path, rejected_path, lang, script, table, settings, progress=None) -> dict:
    """Write the cleaned lines of `lang` that pass the filters; every other line to rejected.tsv."""
    normalize = Normalizer(script.normalization, script.keep_format)
    markup = {source.id: source.markup for source in lang.sources}
    stats = {"lines_in": 0, "lines_kept": 0, "chars_in": 0, "chars_kept": 0, "rejected": Counter(),
             "lines_changed_by_normalisation": 0}
    with open_text(in_path) as handle, open_text(kept_path, "w") as out, open_text(rejected_path, "w") as rej:
        rejected = csv.writer(rej, dialect="excel-tab", lineterminator="\n")
        rejected.writerow(["ref", "reason", "detail", "text"])
        for line in handle:
            ref, raw = line.rstrip("\n").split("\t", 1)
            stats["lines_in"] += 1
            stats["chars_in"] += len(raw)
            stripped = strip_markup(raw, markup[ref.rsplit(":", 1)[0]])
            text = normalize(stripped)
            stats["lines_changed_by_normalisation"] += text != stripped.strip()
            seq = units(text)
            ratio = table.ratio(seq, lang.script)
            reason = filters.check(text, seq, ratio, script.shingle, settings)
            if reason:
                stats["rejected"][reason] += 1
                detail = f"script_ratio {ratio:.2f}" if reason == "low_script_ratio" else f"{len(text)} chars"
                rejected.writerow([ref, reason, detail, raw])
            else:
                stats["lines_kept"] += 1
                stats["chars_kept"] += len(text)
                out.write(f"{ref}\t{text}\n")
            if progress:
                progress.update(1)
    stats["rejected"] = dict(sorted(stats["rejected"].items()))
    return stats
