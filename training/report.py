"""The training reports: the language sampling plan, continued pretraining's validation losses
and the profile it ran with, as markdown and plots, from stages' stats."""

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


def sampling_text(plan: dict) -> str:
    """The sampling plan as a fixed-width table for the log."""
    lines = [f"{'lang':<6}{'blocks':>10}{'p':>9}{'q':>9}{'ratio':>8}{'passes':>9}"]
    for lang, row in plan["languages"].items():
        lines.append(f"{lang:<6}{row['blocks']:>10}{row['p']:>9.4f}{row['q']:>9.4f}{row['ratio']:>8.2f}"
                     f"{row['expected_passes']:>9.2f}")
    return "\n".join(lines)


def training_markdown(train_stats: dict, plan: dict) -> str:
    """The sampling plan and the first and last validation loss per language; replayed languages
    (kept so that the model does not forget them) marked, with their share."""
    replayed = [lang for lang, row in plan["languages"].items() if row["replayed"]]
    replay = (f"Replayed (their pieces kept in the vocabulary, {plan['replay_share']:.0%} of the sequences, so that "
              f"the model does not forget them): {', '.join(replayed)}.\n") if replayed else ""
    lines = [f"## Continued pretraining: {train_stats['num_updates']} updates of {train_stats['effective_batch']} "
             f"sequences\n", replay, f"| language | blocks | p | q (alpha {plan['alpha']}) | sampling ratio | "
             "expected passes | first valid loss | last valid loss |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for lang, row in plan["languages"].items():
        losses = train_stats["validation_first_last"].get(f"valid_{lang}", {})
        first, last = losses.get("first", (None, None))[1], losses.get("last", (None, None))[1]
        lines.append(f"| {lang}{' (replayed)' if row['replayed'] else ''} | {row['blocks']} | {row['p']:.4f} | "
                     f"{row['q']:.4f} | {row['ratio']:.2f} | "
                     f"{row['expected_passes']:.2f} | {first} | {last} |")
    return "\n".join(lines) + "\n"


def settings_markdown(settings: dict) -> str:
    """The training settings that made the model (the values, not the name of the profile that
    set them: another profile with the same values makes the same model)."""
    rows = "\n".join(f"| {key} | {value} |" for key, value in settings.items())
    return f"## Training settings\n\n| setting | value |\n|---|---|\n{rows}\n"


def sampling_plot(plan: dict) -> bytes:
    """Each language's share of the corpus (p) and of the sampled training data (q)."""
    from common.plots import bars, plt, png

    langs = sorted(plan["languages"])
    figure, axis = plt.subplots(figsize=(6, 3.4))
    bars(axis, langs, {"p (share of blocks)": [plan["languages"][l]["p"] for l in langs],
                       f"q (sampled, alpha {plan['alpha']})": [plan["languages"][l]["q"] for l in langs]})
    axis.set_title("Language sampling")
    axis.legend(fontsize=8)
    return png(figure)


def validation_plot(history: dict) -> bytes:
    """Validation loss per language over the updates of continued pretraining."""
    from common.plots import plt, png

    figure, axis = plt.subplots(figsize=(6, 3.4))
    for subset, points in sorted(history.items()):
        axis.plot([u for u, _ in points], [loss for _, loss in points], marker="o", label=subset)
    axis.set_xlabel("update")
    axis.set_ylabel("validation loss")
    axis.set_title("Continued pretraining: validation loss")
    axis.legend(fontsize=8)
    return png(figure)


SMALLER_LABELS = {"cino": "trained", "pruned": "vocabulary of one language", "student": "student"}


def with_retention(rows: dict) -> dict:
    """`rows` ({model: {"scores": {test: {mean, std}}, ...}}) with each model's retention per test:
    its mean score / the trained model's ("cino")."""
    return {model: {**row, "retention": {test: row["scores"][test]["mean"] / max(rows["cino"]["scores"][test]["mean"], 1e-9)
                                         for test in row["scores"]}} for model, row in rows.items()}


def smaller_markdown(lang: str, metric: str, rows: dict, baselines: dict) -> str:
    """The trained model beside its smaller versions: size, scores with spread, retention; below,
    the baselines of each test ({test: {"majority": score, "fasttext": {mean, std}}})."""
    tests = sorted(rows["cino"]["scores"])
    lines = [f"## Smaller models for {lang}\n",
             f"{metric}, mean ± standard deviation over the evaluation's seeds; retention: score / the trained "
             "model's. CPU speed: bench/smaller_models.py.\n",
             "| model | MB | parameters | " + " | ".join(f"{t} | retention" for t in tests) + " |",
             "|---|---:|---:|" + "---:|---:|" * len(tests)]
    for model, row in rows.items():
        cells = [f"{row['scores'][t]['mean']:.3f} ± {row['scores'][t]['std']:.3f} | {row['retention'][t]:.1%}"
                 for t in tests]
        lines.append(f"| {SMALLER_LABELS[model]} | {row['bytes'] / 2**20:.1f} | {row['parameters']:,} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"Baselines on {test}: majority class {b['majority']:.3f}, fastText (trained and tuned on the same data) "
              f"{b['fasttext']['mean']:.3f} ± {b['fasttext']['std']:.3f}." for test, b in sorted(baselines.items())]
    return "\n".join(lines) + "\n"


def smaller_plot(lang: str, metric: str, rows: dict, baselines: dict) -> bytes:
    """Size and score of the trained model and its smaller versions, the score's baselines as lines."""
    from common.plots import bars, plt, png

    names = [SMALLER_LABELS[model] for model in rows]
    test = sorted(rows["cino"]["scores"])[0]
    figure, (size, score) = plt.subplots(1, 2, figsize=(10, 3.4))
    bars(size, names, {"MB": [row["bytes"] / 2**20 for row in rows.values()]})
    size.set_title("Model size (MB)")
    bars(score, names, {metric: [row["scores"][test]["mean"] for row in rows.values()]}, None,
         {metric: [row["scores"][test]["std"] for row in rows.values()]})
    for name, value, style in (("majority class", baselines[test]["majority"], ":"),
                               ("fastText", baselines[test]["fasttext"]["mean"], "--")):
        score.axhline(value, color="grey", linestyle=style, label=name)
    score.legend(loc="upper right", fontsize="small")
    score.set_ylim(0, 1)
    score.set_title(f"{test} ({metric})")
    return png(figure)
