"""The evaluation report: the base model and the trained model side by side on every setting,
with the seeds' spread and the baselines, as JSON values, markdown and a plot."""


def evaluation_results(metrics: dict, mlm: dict, seeds: int, headline: dict) -> dict:
    """Both models side by side. `metrics`: {"model/protocol/lang": metrics.json}; `mlm`:
    {model: {lang: loss figures}}; `headline`: {protocol: the metric reported (CINO's)}.
    A delta no larger than the two runs' standard deviations together is marked as noise."""
    rows = []
    for key in sorted(k for k in metrics if k.startswith("cino/")):
        _, protocol, _ = key.split("/", 2)
        cino, base = metrics[key], metrics["base/" + key.split("/", 1)[1]]
        metric = headline[protocol]
        for test, row in cino["tests"].items():
            c, b = row["aggregate"][metric], base["tests"][test]["aggregate"][metric]
            delta = c["mean"] - b["mean"]
            rows.append({"protocol": protocol, "lang": test.split("/")[0], "evaluated_on": test.split("/")[1],
                         "train_items": cino["train_items"], "selection": cino["selection"], "metric": metric,
                         "base": b, "cino": c, "delta": delta, "within_spread": abs(delta) <= b["std"] + c["std"],
                         "majority": row["majority_baseline"][metric],
                         "at_majority": max(b["mean"], c["mean"]) <= row["majority_baseline"][metric] + b["std"] + c["std"],
                         "all": {m: {"base": base["tests"][test]["aggregate"][m], "cino": row["aggregate"][m]}
                                 for m in ("accuracy", "macro_f1", "weighted_f1")}})
    return {"seeds": seeds, "classification": rows,
            "mlm": {lang: {model: mlm[model][lang] for model in mlm} for lang in sorted(mlm.get("cino", {}))}}


def evaluation_markdown(results: dict) -> str:
    lines = ["## Evaluation: the base model and the trained model on the same protocol\n",
             f"Topic classification, fine-tuned end to end; mean ± standard deviation over {results['seeds']} seeds. "
             "Zero-shot: fine-tuned on the source language, tested on the others unchanged; in-language: fine-tuned "
             "and tested on one language. The delta (trained minus base) is the result; where it is no larger than "
             "the two standard deviations together it is within the seeds' spread and says nothing.\n",
             "| protocol | language | evaluated on | metric | majority class | base | trained | delta | |",
             "|---|---|---|---|---:|---:|---:|---:|---|"]
    for row in results["classification"]:
        verdict = "within the seeds' spread" if row["within_spread"] else ("better" if row["delta"] > 0 else "worse")
        lines.append(f"| {row['protocol']} | {row['lang']} | {row['evaluated_on']} | {row['metric']} | "
                     f"{row['majority']:.4f} | {row['base']['mean']:.4f} ± {row['base']['std']:.4f} | "
                     f"{row['cino']['mean']:.4f} ± {row['cino']['std']:.4f} | {row['delta']:+.4f} | {verdict} |")
    at_majority = sum(row["at_majority"] for row in results["classification"])
    noise = sum(row["within_spread"] for row in results["classification"])
    lines += ["", f"**In {noise} of {len(results['classification'])} settings the delta is within the seeds' spread; in "
              f"{at_majority} both models score at the majority-class baseline (within the spread), where neither has "
              "learned the task and the comparison shows the plumbing, not a gain.**"]
    lines += ["", "Where a language has no test split the table says it was evaluated on dev; the epoch was then "
              "picked on a tenth of the training set (in-language) or on the source language's dev set (zero-shot).",
              "", "### Masked-LM loss per character on the test split\n",
              "Nats per character of the masked tokens (15% of each line, never `<unk>`); the `<unk>` share says how much "
              "of the text the model could not read at all.\n",
              "| language | base loss/char | base `<unk>` share | trained loss/char | trained `<unk>` share |",
              "|---|---:|---:|---:|---:|"]
    for lang, models in results["mlm"].items():
        lines.append(f"| {lang} | {models['base']['loss_per_char']:.4f} | {models['base']['unk_share']:.4f} | "
                     f"{models['cino']['loss_per_char']:.4f} | {models['cino']['unk_share']:.4f} |")
    return "\n".join(lines) + "\n"


def evaluation_plot(results: dict) -> bytes:
    """Base vs CINO per (protocol, language) with the seeds' standard deviation as error bars and
    the majority-class baseline as a dashed line; and the masked-LM loss per character."""
    from common.plots import MODEL_COLOURS, bars, plt, png

    settings = results["classification"]
    figure, axes = plt.subplots(1, 1 + bool(results.get("mlm")), figsize=(11, 3.8), squeeze=False)
    axis = axes[0][0]
    groups = [f"{row['protocol']}\n{row['lang']}\n({row['metric']})" for row in settings]
    bars(axis, groups, {m: [row[m]["mean"] for row in settings] for m in ("base", "cino")}, MODEL_COLOURS,
         {m: [row[m]["std"] for row in settings] for m in ("base", "cino")})
    for i, row in enumerate(settings):
        axis.hlines(row["majority"], i - 0.45, i + 0.45, colors="black", linestyles="dashed",
                    label="majority class" if i == 0 else None)
    axis.set_ylim(0, 1)
    axis.set_title(f"Topic classification (mean ± std over {results['seeds']} seeds)")
    axis.legend(fontsize=8)
    if results.get("mlm"):
        langs = sorted(results["mlm"])
        bars(axes[0][1], langs, {m: [results["mlm"][l][m]["loss_per_char"] for l in langs] for m in ("base", "cino")},
             MODEL_COLOURS)
        axes[0][1].set_title("Masked-LM loss per character (test split)")
        axes[0][1].legend(fontsize=8)
    return png(figure)
