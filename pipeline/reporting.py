"""The corpus table: lines and characters in and kept, stage by stage, per language."""
import pandas as pd

STAGES = ("ingest", "langid", "clean", "dedup")


def corpus_table(per_language: dict) -> pd.DataFrame:
    """`per_language[code][stage]` holds totals with lines_in/lines_kept/chars_in/chars_kept,
    and `split` the split sizes. One row per language; columns (stage, measure)."""
    rows = {}
    for code, stages in sorted(per_language.items()):
        row = {}
        for stage in STAGES:
            totals = stages[stage]
            for measure in ("lines_in", "lines_kept", "chars_in", "chars_kept"):
                row[(stage, measure)] = totals[measure]
        for split, sizes in stages["split"].items():
            row[("split", f"{split}_lines")] = sizes["lines"]
        row[("kept", "share_of_lines")] = round(stages["dedup"]["lines_kept"] / max(stages["ingest"]["lines_in"], 1), 4)
        rows[code] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.index.name = "lang"
    return table


def rejected_table(per_language: dict) -> pd.DataFrame:
    """Rejected lines by stage and reason, one row per language."""
    rows = {}
    for code, stages in sorted(per_language.items()):
        rows[code] = {(stage, reason): count for stage in STAGES
                      for reason, count in stages[stage]["rejected"].items()}
    columns = pd.MultiIndex.from_tuples(sorted({key for row in rows.values() for key in row}), names=["stage", "reason"])
    table = pd.DataFrame([[row.get(key, 0) for key in columns] for row in rows.values()],
                         index=pd.Index(list(rows), name="lang"), columns=columns)
    return table
