"""A fastText supervised classifier on the same training and selection data as the fine-tuned
models: the bar a pretrained model must clear before its score means anything.

Texts are given to fastText as the pipeline's script-aware units (common.units: words, Tibetan
syllables, Han characters) separated by spaces, so that its word n-grams mean something in
scripts written without spaces; character n-grams (1-4) see inside the units. The learning
rate and epochs are chosen on the selection data (the first seed), like the fine-tuned
models' recipe; every seed then trains with the chosen pair. Training is the language-ID
classifier's (corpus.lid.train_classifier: one thread, a fresh process: reproducible).
"""
import itertools
import tempfile
from pathlib import Path

from common.units import units
from corpus.lid import LABEL, FastTextSettings, train_classifier
from eval.metrics import aggregate, scores, unseen_scores

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 2   # 2: scores on the test items not in the training split


def view(text: str) -> str:
    return " ".join(units(text.lower()))


def _write(path: Path, data) -> Path:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.writelines(f"{LABEL}{label.replace(' ', '_')} {view(text)}\n" for text, label in zip(data.texts, data.labels))
    return path


def _predict(model_file: Path, data, labels: list) -> list:
    import fasttext

    model = fasttext.load_model(str(model_file))
    by_name = {label.replace(" ", "_"): label for label in labels}
    predicted, _ = model.predict([view(text) for text in data.texts], k=1)
    return [by_name[p[0][len(LABEL):]] for p in predicted]


def fasttext_baseline(train, select, tests: dict, labels: list, seeds: int, lrs: tuple, epochs: tuple,
                      select_metric: str, unseen: dict) -> dict:
    """{"sweep": [{lr, epoch, select scores}], "recipe": {lr, epoch}, "tests": {name: {"seeds": [scores],
    "aggregate": {metric: {mean, std}}, "unseen": scores on the items at unseen[name] (metrics.unseen_scores)}}}."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train_file = _write(tmp / "train.txt", train)

        def trained(lr: float, epoch: int, seed: int) -> Path:
            model = tmp / f"model-{lr}-{epoch}-{seed}.bin"
            train_classifier(train_file, model, FastTextSettings(dim=50, epoch=epoch, lr=lr, word_ngrams=2, minn=1,
                                                                 maxn=4, seed=seed))
            return model

        sweep = []
        for lr, epoch in itertools.product(lrs, epochs):
            model = trained(lr, epoch, 1)
            sweep.append({"lr": lr, "epoch": epoch, "model": model,
                          "select": scores(list(select.labels), _predict(model, select, labels), labels)})
        best = max(sweep, key=lambda row: row["select"][select_metric])   # the first of equals
        models = [best["model"]] + [trained(best["lr"], best["epoch"], seed) for seed in range(2, seeds + 1)]
        results = {}
        for name, data in tests.items():
            predictions = [_predict(model, data, labels) for model in models]
            runs = [scores(list(data.labels), predicted, labels) for predicted in predictions]
            results[name] = {"seeds": runs, "aggregate": aggregate(runs),
                             "unseen": unseen_scores(train, data, unseen[name], predictions, labels)}
    return {"sweep": [{k: v for k, v in row.items() if k != "model"} for row in sweep],
            "recipe": {"lr": best["lr"], "epoch": best["epoch"]}, "tests": results}
