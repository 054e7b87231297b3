"""The evaluation report: the trained model beside the base it started from, the same architecture
from random weights, a fastText classifier and the majority class, on every setting, with the
spread over seeds, the recipes chosen on selection data and the masked-LM loss; as JSON values,
markdown and a plot.

A delta no larger than the two models' standard deviations together is within the seeds'
spread; a model whose mean is not above the majority class by more than its own standard
deviation did not learn the task (eval.metrics.learned), and its score says nothing of it.
"""
from eval.metrics import learned

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 3   # 2: baselines, random-init control, recipes, kept languages; 3: every set, accuracy, leakage


MODELS = ("random", "base", "cino")   # cino: the trained model
NAMES = {"random": "random init", "base": "base", "cino": "trained", "fasttext": "fastText", "majority": "majority"}


def _model_cell(aggregate: dict, majority: float) -> dict:
    return {**aggregate, "learned": learned(aggregate, majority)}


def _cells(runs: dict, fasttext: dict, metric: str, part=lambda row: row) -> dict:
    """{model: {mean, std, learned}} of one test on `metric`, with the majority class; `part` picks
    the scores on all items (default) or on those not in the training split (row["unseen"])."""
    first = part(runs["cino"])
    majority = first["majority_baseline"][metric]
    cells = {"majority": majority, **{model: _model_cell(part(runs[model])["aggregate"][metric], majority)
                                      for model in MODELS}}
    if fasttext is not None:
        cells["fasttext"] = _model_cell(part(fasttext)["aggregate"][metric], majority)
    return cells


def _train_items(metrics: dict) -> dict:
    """What the set's training split gave the fine-tuning: {"declared", "cap", "used" (after the
    cap), "trained" (after selection data was held out of it)}."""
    cap = metrics.get("train_cap") or {}
    return {**cap, "trained": metrics["train_items"]}


def _row(metrics: dict, name: str, test: str, metric: str, fasttext: dict = None) -> dict:
    """One test of one setting of set `name`: every model's {mean, std, learned} on `metric` and on
    accuracy, the baselines, the delta; and how many items are in the training split too (leakage),
    with the scores on the others beside."""
    tests = {model: metrics[model]["tests"][test] for model in MODELS}
    baseline = fasttext["tests"][test] if fasttext is not None else None
    unseen = tests["cino"]["unseen"]
    row = {"set": name, "lang": test.split("/")[0], "evaluated_on": test.split("/")[1], "metric": metric,
           "selection": metrics["cino"]["selection"], "items": tests["cino"]["items"],
           "in_train": tests["cino"]["items"] - unseen["items"],
           "train_items": _train_items(metrics["cino"]), **_cells(tests, baseline, metric),
           "accuracy": _cells(tests, baseline, "accuracy"),
           "unseen": _cells(tests, baseline, metric, lambda row: row["unseen"]) if unseen["items"] else None}
    base, cino = row["base"], row["cino"]
    row["delta"] = cino["mean"] - base["mean"]
    row["within_spread"] = abs(row["delta"]) <= base["std"] + cino["std"]
    return row


def evaluation_results(classification: dict, baselines: dict, mlm: dict, seeds: int, source: str, kept: list,
                       replayed: list, metrics: dict) -> dict:
    """`classification`: {"set/model/lang": metrics.json of fine-tuning `model` on `lang` with
    evaluation set `set`}; `baselines`: {"set/lang": the fastText baseline's metrics}; `mlm`:
    {model: {lang: loss figures}}; `metrics`: {"in_language": ..., "zero_shot": ...} the metric
    each kind of row reports."""
    settings = sorted({tuple(key.split("/")[::2]) for key in classification})   # (set, lang)
    in_language, zero_shot, recipes = [], [], []
    for name, lang in settings:
        runs = {model: classification[f"{name}/{model}/{lang}"] for model in MODELS}
        fasttext = baselines[f"{name}/{lang}"]["fasttext"]
        for test in runs["cino"]["tests"]:
            if test.split("/")[0] == lang:
                in_language.append(_row(runs, name, test, metrics["in_language"], fasttext))
            else:
                zero_shot.append({**_row(runs, name, test, metrics["zero_shot"]), "source": lang})
        for model in MODELS:
            run = runs[model]
            recipes.append({"set": name, "lang": lang, "model": model, "select_metric": run["select_metric"],
                            "selection": run["selection"], **{k: run["recipe"][k] for k in ("lr", "batch_size")},
                            "best_epochs": [r["best_epoch"] for r in run["runs"]], "sweep": run["sweep"]})
        recipes.append({"set": name, "lang": lang, "model": "fasttext", **fasttext["recipe"],
                        "select_metric": runs["cino"]["select_metric"], "sweep": fasttext["sweep"]})
    return {"seeds": seeds, "source": source, "kept": list(kept), "replayed": list(replayed), "metrics": metrics,
            "sets": sorted({name for name, _ in settings}), "in_language": in_language,
            "zero_shot": zero_shot, "recipes": recipes,
            "mlm": {lang: {model: mlm[model][lang] for model in mlm} for lang in sorted(mlm.get("cino", {}))}}


def _cell(value: dict) -> str:
    return f"{value['mean']:.3f} ± {value['std']:.3f}" + ("" if value["learned"] else " †")


def _verdict(row: dict) -> str:
    if not (row["cino"]["learned"] or row["base"]["learned"]):
        return "neither learned"
    if row["within_spread"]:
        return "within the seeds' spread"
    return "trained better" if row["delta"] > 0 else "trained worse"


def _label(row: dict, results: dict) -> str:
    lang = row["lang"]
    return lang + (" (source)" if lang == results["source"] else " (replayed)" if lang in results["replayed"]
                   else " (kept)" if lang in results["kept"] else "")


def cap_note(row: dict) -> str:
    """Where the profile capped the training items of a row's setting, what it kept: a sentence, or ""."""
    items = row["train_items"]
    if not items.get("declared") or items["used"] >= items["declared"]:
        return ""
    held = items["used"] - items["trained"]
    return (f"{row['set']}, {row['lang']}: training items capped by the profile (max_train_items) at "
            f"{items['used']:,} of the set's {items['declared']:,}" +
            (f", of which {items['trained']:,} fine-tune and {held:,} select the recipe." if held else "."))


def _set_markdown(name: str, rows: list, results: dict) -> list:
    metric = results["metrics"]["in_language"]
    caps = [cap_note(row) for row in rows if cap_note(row)]
    lines = [f"### {name}: in-language ({metric})\n", *([" ".join(caps) + " Every table of this set is on these runs.\n"]
                                                       if caps else []),
             "| language | evaluated on | items | majority | fastText | random init | base | trained | trained − base | |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        lines.append(f"| {_label(row, results)} | {row['evaluated_on']} | {row['items']} | "
                     f"{row['majority']:.3f} | {_cell(row['fasttext'])} | {_cell(row['random'])} | {_cell(row['base'])} | "
                     f"{_cell(row['cino'])} | {row['delta']:+.3f} | {_verdict(row)} |")
    lines += ["", f"Accuracy, the same runs ({name}):\n",
              "| language | majority | fastText | random init | base | trained |", "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        cells = row["accuracy"]
        lines.append(f"| {_label(row, results)} | {cells['majority']:.3f} | {_cell(cells['fasttext'])} | "
                     f"{_cell(cells['random'])} | {_cell(cells['base'])} | {_cell(cells['cino'])} |")
    lines += ["", f"Leakage inside {name}: scored items whose text (normalised as decontamination compares it) is "
                  f"also a training item, and the scores ({metric}) on the others:\n",
              "| language | scored items | also in train | share | majority | fastText | random init | base | trained |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        unseen = row["unseen"]
        scores = " | ".join([f"{unseen['majority']:.3f}", *(_cell(unseen[m]) for m in ("fasttext", *MODELS))]) \
            if unseen else "– | – | – | – | –"
        lines.append(f"| {_label(row, results)} | {row['items']} | {row['in_train']} | "
                     f"{row['in_train'] / row['items']:.3f} | {scores} |")
    return lines + [""]


def evaluation_markdown(results: dict) -> str:
    seeds, source, metric = results["seeds"], results["source"], results["metrics"]
    lines = ["## Evaluation: what continued pretraining changed\n",
             f"Topic classification, fine-tuned end to end, on every evaluation set the languages declare "
             f"({', '.join(results['sets'])}); mean ± standard deviation over {seeds} seeds, each model "
             "with the recipe (learning rate, batch size, epochs by early stopping) chosen on selection data only; "
             "scores on data no choice saw. **trained**: the model this run made; **base**: the model it started "
             "from; **random init**: the trained model's architecture and tokenizer from random weights (does "
             "pretraining add anything?); **fastText**: a fastText classifier trained and tuned on the same data; "
             "**majority**: always the most frequent training label. † marks a model that did not learn: its "
             "mean is not above the majority class by more than its standard deviation. A delta within the two "
             "standard deviations together is within the seeds' spread. No line of a training corpus overlaps a "
             "dev or test text of a set declared by a language written in the same script (decontamination, before "
             "the splits).\n"]
    lines += [f"Declared but not evaluated: {key}: {why}.\n" for key, why in results.get("not_evaluated", {}).items()]
    for name in results["sets"]:
        lines += _set_markdown(name, [row for row in results["in_language"] if row["set"] == name], results)
    if results["zero_shot"]:
        lines += [f"### Zero-shot: fine-tuned on {source}, tested unchanged ({metric['zero_shot']})\n",
                  "Only sets the source language has too (the same labels).\n",
                  "| set | language | evaluated on | majority | random init | base | trained | trained − base | |",
                  "|---|---|---|---:|---:|---:|---:|---:|---|"]
        for row in results["zero_shot"]:
            lines.append(f"| {row['set']} | {row['lang']} | {row['evaluated_on']} | {row['majority']:.3f} | "
                         f"{_cell(row['random'])} | {_cell(row['base'])} | {_cell(row['cino'])} | {row['delta']:+.3f} | "
                         f"{_verdict(row)} |")
        lines.append("")
    lines += ["### Masked-LM loss per character on the test split\n",
              "Nats per character of the masked tokens (15% of each line, never `<unk>`); the `<unk>` share says how "
              "much of the text the model could not read at all. Kept languages (the source language and any "
              "replayed one) show what continued pretraining cost the languages the base already knew.\n",
              "| language | base loss/char | trained loss/char | change | base `<unk>` share | trained `<unk>` share |",
              "|---|---:|---:|---:|---:|---:|"]
    for lang, models in results["mlm"].items():
        base, cino = models["base"], models["cino"]
        label = f"{lang} (kept)" if lang in results["kept"] else lang
        lines.append(f"| {label} | {base['loss_per_char']:.4f} | {cino['loss_per_char']:.4f} | "
                     f"{cino['loss_per_char'] - base['loss_per_char']:+.4f} | {base['unk_share']:.4f} | "
                     f"{cino['unk_share']:.4f} |")
    lines += ["", "### Recipes, chosen on selection data\n",
              "Every learning rate x batch size of the profile's grid was trained with the first seed, stopping when "
              "the selection score had not improved for `patience` epochs (not before `min_epochs`); the best one "
              "trained every seed. fastText: learning rate x epochs, the same way.\n",
              "| set | fine-tuned on | model | selection | lr | batch / epochs | best epochs | grid: selection score |",
              "|---|---|---|---|---:|---|---|---|"]
    for recipe in results["recipes"]:
        if recipe["model"] == "fasttext":
            grid = ", ".join(f"{r['lr']:g}/{r['epoch']}: {r['select'][recipe['select_metric']]:.3f}"
                             for r in recipe["sweep"])
            lines.append(f"| {recipe['set']} | {recipe['lang']} | fastText | the same ({recipe['select_metric']}) | "
                         f"{recipe['lr']:g} | {recipe['epoch']} epochs | – | {grid} |")
            continue
        grid = ", ".join(f"{r['lr']:g}/{r['batch_size']}: {r['select'][recipe['select_metric']]:.3f}"
                         for r in recipe["sweep"])
        lines.append(f"| {recipe['set']} | {recipe['lang']} | {NAMES[recipe['model']]} | {recipe['selection']} "
                     f"({recipe['select_metric']}) | {recipe['lr']:g} | {recipe['batch_size']} | {recipe['best_epochs']} "
                     f"| {grid} |")
    rows = results["in_language"] + results["zero_shot"]
    unlearned = sum(not row[model]["learned"] for row in rows for model in MODELS)
    better = sum(_verdict(row) == "trained better" for row in rows)
    lines += ["", f"**Of {len(rows)} settings, the trained model beats the base by more than the seeds' spread in "
                  f"{better}; {unlearned} of {len(rows) * len(MODELS)} fine-tuned results did not learn (†).**"]
    return "\n".join(lines) + "\n"


def evaluation_plot(results: dict) -> bytes:
    """Every setting's scores (mean ± std over seeds) with the majority class dashed, and the
    masked-LM loss per character of both models."""
    from common.plots import MODEL_COLOURS, bars, plt, png

    rows = results["in_language"] + results["zero_shot"]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [3, 1]})
    axis = axes[0]
    groups = [f"{row['set']}\n{'in' if row in results['in_language'] else 'zero-shot'} {row['lang']}\n({row['metric']})"
              for row in rows]
    series = ("fasttext", *MODELS)
    colours = {NAMES["fasttext"]: "#2ca02c", NAMES["random"]: "#d62728", NAMES["base"]: MODEL_COLOURS["base"],
               NAMES["cino"]: MODEL_COLOURS["cino"]}
    nan = float("nan")   # no bar: fastText is not trained for zero-shot rows
    bars(axis, groups, {NAMES[s]: [row[s]["mean"] if s in row else nan for row in rows] for s in series}, colours,
         {NAMES[s]: [row[s]["std"] if s in row else nan for row in rows] for s in series})
    for i, row in enumerate(rows):
        axis.hlines(row["majority"], i - 0.45, i + 0.45, colors="black", linestyles="dashed",
                    label="majority class" if i == 0 else None)
    axis.set_ylim(0, 1)
    axis.set_title(f"Topic classification (mean ± std over {results['seeds']} seeds)")
    axis.legend(fontsize=8)
    langs = sorted(results["mlm"])
    bars(axes[1], langs, {NAMES[m]: [results["mlm"][l][m]["loss_per_char"] for l in langs] for m in ("base", "cino")},
         {NAMES[m]: MODEL_COLOURS[m] for m in ("base", "cino")})
    axes[1].set_title("Masked-LM loss per character")
    axes[1].legend(fontsize=8)
    return png(figure)
