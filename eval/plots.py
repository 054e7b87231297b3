"""The report's plots (matplotlib, headless), each returned as PNG bytes for embedding.

Inputs are the tables and stats the report sections already use, so a plot never shows a
number the tables do not.
"""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STAGE_LABELS = {"ingest": "read", "langid": "language ID", "clean": "cleaning", "dedup": "dedup"}
MODEL_COLOURS = {"base": "#8c8c8c", "cino": "#1f77b4", "merged": "#ff7f0e", "pruned": "#1f77b4"}


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _bars(axis, groups: list, series: dict, colours: dict = None, errors: dict = None):
    """Grouped bars: one group per entry of `groups`, one bar per series {name: [value per group]}."""
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        positions = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        axis.bar(positions, values, width, label=name, color=(colours or {}).get(name),
                 yerr=(errors or {}).get(name), capsize=3 if errors else 0)
    axis.set_xticks(range(len(groups)), groups)


def corpus_funnel(per_language: dict) -> bytes:
    """Lines kept after each corpus stage, and rejected lines by stage and reason, per language."""
    langs = sorted(per_language)
    figure, (kept, rejected) = plt.subplots(1, 2, figsize=(11, 3.8))
    series = {"read": [per_language[l]["ingest"]["lines_in"] for l in langs]}
    series.update({f"after {STAGE_LABELS[s]}": [per_language[l][s]["lines_kept"] for l in langs]
                   for s in ("langid", "clean", "dedup")})
    _bars(kept, langs, series)
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
    return _png(figure)


def tokenizers(rows: dict, langs: list, text: str = "raw test") -> bytes:
    """<unk> rate and tokens per character of the base, merged and pruned tokenizers."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for axis, measure, title in ((axes[0], "unk_rate", "<unk> rate"), (axes[1], "tokens_per_char", "tokens per character")):
        series = {name: [rows[f"{l}/{text}/{name}"][measure] for l in langs] for name in ("base", "merged", "pruned")}
        _bars(axis, langs, series, MODEL_COLOURS)
        axis.set_title(f"{title} ({text} lines)")
        axis.legend(fontsize=8)
    return _png(figure)


def sampling(plan: dict) -> bytes:
    """Each language's share of the corpus (p) and of the sampled training data (q)."""
    langs = sorted(plan["languages"])
    figure, axis = plt.subplots(figsize=(6, 3.4))
    _bars(axis, langs, {"p (share of blocks)": [plan["languages"][l]["p"] for l in langs],
                        f"q (sampled, alpha {plan['alpha']})": [plan["languages"][l]["q"] for l in langs]})
    axis.set_title("Language sampling")
    axis.legend(fontsize=8)
    return _png(figure)


def validation(history: dict) -> bytes:
    """Validation loss per language over the updates of continued pretraining."""
    figure, axis = plt.subplots(figsize=(6, 3.4))
    for subset, points in sorted(history.items()):
        axis.plot([u for u, _ in points], [loss for _, loss in points], marker="o", label=subset)
    axis.set_xlabel("update")
    axis.set_ylabel("validation loss")
    axis.set_title("Continued pretraining: validation loss")
    axis.legend(fontsize=8)
    return _png(figure)


def evaluation(results: dict) -> bytes:
    """Base vs CINO per (protocol, language) with the seeds' standard deviation as error bars and
    the majority-class baseline as a dashed line; and the masked-LM loss per character."""
    settings = results["classification"]
    figure, axes = plt.subplots(1, 1 + bool(results.get("mlm")), figsize=(11, 3.8), squeeze=False)
    axis = axes[0][0]
    groups = [f"{row['protocol']}\n{row['lang']}\n({row['metric']})" for row in settings]
    _bars(axis, groups, {m: [row[m]["mean"] for row in settings] for m in ("base", "cino")}, MODEL_COLOURS,
          {m: [row[m]["std"] for row in settings] for m in ("base", "cino")})
    for i, row in enumerate(settings):
        axis.hlines(row["majority"], i - 0.45, i + 0.45, colors="black", linestyles="dashed",
                    label="majority class" if i == 0 else None)
    axis.set_ylim(0, 1)
    axis.set_title(f"Topic classification (mean ± std over {results['seeds']} seeds)")
    axis.legend(fontsize=8)
    if results.get("mlm"):
        langs = sorted(results["mlm"])
        _bars(axes[0][1], langs, {m: [results["mlm"][l][m]["loss_per_char"] for l in langs] for m in ("base", "cino")},
              MODEL_COLOURS)
        axes[0][1].set_title("Masked-LM loss per character (test split)")
        axes[0][1].legend(fontsize=8)
    return _png(figure)
