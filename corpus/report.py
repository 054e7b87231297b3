"""The corpus reports: the funnel (lines and characters in and kept, stage by stage), rejections
by reason, language-ID accuracy, as pandas tables, markdown and a plot, from stages' stats.

Tasks gather the stats they require and call these functions; nothing here reads the work
directory or knows Luigi.
"""
import pandas as pd

from common.markdown import table as markdown_table

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 3   # 2: the decontamination stage in the funnel; 3: legacy encodings converted, per source


FUNNEL_STAGES = ("ingest", "langid", "clean", "dedup", "decontaminate")
COUNTS = ("lines_in", "lines_kept", "chars_in", "chars_kept")
STAGE_LABELS = {"ingest": "read", "langid": "language ID", "clean": "cleaning", "dedup": "dedup",
                "decontaminate": "decontamination"}


def language_funnel(dedup_stats: dict, decontaminate_stats: dict, split_stats: dict) -> dict:
    """One language's counts stage by stage, from Dedup's stats (which record the stages before
    it), Decontaminate's and Split's: {stage: {lines_in, ..., rejected}, "split": {train|valid|test: sizes}}."""
    counts = lambda stats: {key: stats[key] for key in (*COUNTS, "rejected")}  # noqa: E731
    return {**dedup_stats["funnel"], "dedup": counts(dedup_stats), "decontaminate": counts(decontaminate_stats),
            "split": split_stats["splits"]}


def corpus_table(per_language: dict) -> pd.DataFrame:
    """One row per language; columns (stage, measure): lines and characters in and kept,
    split sizes, and the share of ingested lines kept."""
    rows = {}
    for code, stages in sorted(per_language.items()):
        row = {(stage, measure): stages[stage][measure] for stage in FUNNEL_STAGES for measure in COUNTS}
        for split, sizes in stages["split"].items():
            row[("split", f"{split}_lines")] = sizes["lines"]
        row[("kept", "share_of_lines")] = round(stages["decontaminate"]["lines_kept"] / max(stages["ingest"]["lines_in"], 1), 4)
        rows[code] = row
    table = pd.DataFrame(list(rows.values()), index=pd.Index(list(rows), name="lang"))   # a dtype per column
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table


def rejected_table(per_language: dict) -> pd.DataFrame:
    """Rejected lines by stage and reason, one row per language."""
    rows = {code: {(stage, reason): count for stage in FUNNEL_STAGES for reason, count in stages[stage]["rejected"].items()}
            for code, stages in sorted(per_language.items())}
    columns = pd.MultiIndex.from_tuples(sorted({key for row in rows.values() for key in row}), names=["stage", "reason"])
    return pd.DataFrame([[row.get(key, 0) for key in columns] for row in rows.values()],
                        index=pd.Index(list(rows), name="lang"), columns=columns)


def legacy_table(ingest_stats: dict) -> pd.DataFrame:
    """Per language and source with any: lines converted from a legacy encoding (Menksoft text),
    Unicode lines whose stray Menksoft punctuation was converted, private-use characters removed,
    lines rejected as unconvertible (from Ingest's stats)."""
    rows = {(code, source): {"converted_legacy": stats.get("converted_legacy", 0),
                             "converted_legacy_marks": stats.get("converted_legacy_marks", 0),
                             "private_use_removed": stats.get("private_use_removed", 0),
                             "legacy_unconvertible": stats["rejected"].get("legacy_unconvertible", 0)}
            for code, ingest in sorted(ingest_stats.items()) for source, stats in ingest["sources"].items()}
    rows = {key: row for key, row in rows.items() if any(row.values())}
    return pd.DataFrame(list(rows.values()), index=pd.MultiIndex.from_tuples(list(rows), names=["lang", "source"]),
                        columns=["converted_legacy", "converted_legacy_marks", "private_use_removed",
                                 "legacy_unconvertible"])


def corpus_markdown(table: pd.DataFrame, rejected: pd.DataFrame, legacy: pd.DataFrame) -> str:
    converted = markdown_table(legacy) if len(legacy) else "None: no source has legacy-encoded lines."
    return ("# Corpus: lines and characters in and kept, stage by stage\n\n" + markdown_table(table)
            + "\n\n## Rejected lines by stage and reason\n\n" + markdown_table(rejected)
            + "\n\n## Legacy encodings converted at ingest (Menksoft to Unicode; corpus/menksoft.py)\n\n"
            + converted + "\n")


def corpus_summary_markdown(table: pd.DataFrame) -> str:
    """Per language: lines read, lines and characters kept after decontamination, split sizes."""
    summary = pd.DataFrame({"lines read": table[("ingest", "lines_in")],
                            "lines kept": table[("decontaminate", "lines_kept")],
                            "characters kept": table[("decontaminate", "chars_kept")],
                            **{f"{split} lines": table[("split", f"{split}_lines")] for split in ("train", "valid", "test")}})
    return "## Corpus\n\n" + markdown_table(summary) + "\n"


def corpus_text(table: pd.DataFrame) -> str:
    """The corpus table for the console."""
    with pd.option_context("display.width", 250, "display.max_columns", 50):
        return table.to_string()


def read_corpus_table(path) -> pd.DataFrame:
    return pd.read_csv(path, header=[0, 1], index_col=0)


def langid_markdown(stats: dict, langs) -> str:
    """Language ID accuracy per language: on held-out seed lines (labelled by their own source)
    and on the evaluation sets' sentences, which no corpus contains."""
    lines = ["## Language ID\n", "| language | held-out seed lines | accuracy | evaluation sentences | accuracy |",
             "|---|---:|---:|---:|---:|"]
    accuracy = lambda row: f"{row['accuracy']:.4f}" if row else "–"  # noqa: E731
    for lang in langs:
        seeds, sentences = stats["per_label"].get(lang), stats["eval_sets"].get(lang)
        lines.append(f"| {lang} | {seeds['lines'] if seeds else 0} | {accuracy(seeds)} | "
                     f"{sentences['lines'] if sentences else 0} | {accuracy(sentences)} |")
    return "\n".join(lines) + "\n"


def funnel_plot(per_language: dict) -> bytes:
    """Lines kept after each corpus stage, and rejected lines by stage and reason, per language."""
    from common.plots import bars, plt, png

    langs = sorted(per_language)
    figure, (kept, rejected) = plt.subplots(1, 2, figsize=(11, 3.8))
    series = {"read": [per_language[l]["ingest"]["lines_in"] for l in langs]}
    series.update({f"after {STAGE_LABELS[s]}": [per_language[l][s]["lines_kept"] for l in langs]
                   for s in ("langid", "clean", "dedup", "decontaminate")})
    bars(kept, langs, series)
    kept.set_title("Lines kept, stage by stage")
    kept.legend(fontsize=8)
    reasons = sorted({(s, r) for l in langs for s in STAGE_LABELS for r in per_language[l][s]["rejected"]})
    bottom = [0] * len(langs)
    for stage, reason in reasons:
        values = [per_language[l][stage]["rejected"].get(reason, 0) for l in langs]
        rejected.bar(langs, values, bottom=bottom, label=f"{STAGE_LABELS[stage]}: {reason}")
        bottom = [a + b for a, b in zip(bottom, values)]
    rejected.set_title("Rejected lines by stage and reason")
    rejected.legend(fontsize=7)
    return png(figure)
