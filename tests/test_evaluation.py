"""The evaluation: the command for any model and data (a recipe chosen on selection data, a
profile's recipe), the fine-tuning core (early stopping, the rows a setting uses, random
weights), the fastText baseline, bad evaluation data, and the stages BuildCINO runs (every model
and baseline on every setting, the kept language, the report with its plots)."""
import json
import re
import subprocess
import sys

import pytest

from tests.helpers import REPO, SHARED, in_env

SIB = SHARED / "eval" / "sib200"
LANGS = "bo,mn,ug"


@pytest.fixture(scope="module")
def outputs(mini_build):
    import pipeline

    with in_env(mini_build["env"]):
        return {"evaluation": pipeline.EvaluationReport(langs=LANGS).output(),
                "export": pipeline.ExportHF(langs=LANGS).output(), "package": pipeline.PackageModel(langs=LANGS).output(),
                "build": pipeline.BuildCINO(lang=LANGS).output()}


def classify(args, timeout=600):
    return subprocess.run([sys.executable, "-m", "eval.classify", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def test_the_command_chooses_a_recipe_on_selection_data_and_evaluates_any_model(outputs, tmp_path):
    test = SIB / "bo" / "dev.tsv"
    done = classify(["--model", outputs["export"].path, "--train", SIB / "bo" / "train.tsv", "--test", test,
                     "--seeds", 3, "--lrs", "1e-3,3e-3", "--batch-sizes", 16, "--max-epochs", 2, "--max-length", 64,
                     "--select", "macro_f1", "--out", tmp_path])
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert [(row["lr"], row["batch_size"]) for row in metrics["sweep"]] == [(1e-3, 16), (3e-3, 16)]
    best = max(metrics["sweep"], key=lambda row: row["select"]["macro_f1"])
    assert metrics["recipe"]["lr"] == best["lr"] and [run["seed"] for run in metrics["runs"]] == [1, 2, 3]
    assert metrics["selection"] == "10% of train (by hash)" and metrics["select_items"] + metrics["train_items"] == 701
    row = metrics["tests"][str(test)]
    assert row["items"] == 99 and set(row["aggregate"]) == {"accuracy", "macro_f1", "weighted_f1"}
    assert row["majority_baseline"]["label"] == "science/technology"   # SIB-200's most frequent topic
    assert isinstance(row["learned"], bool)
    rows = (tmp_path / "predictions.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "file\tline\tgold\tpredicted\tseed" and len(rows) == 1 + 99 * 3
    assert "recipe (chosen on 10% of train" in done.stdout and str(test) in done.stdout and "±" in done.stdout


def test_a_profile_gives_the_recipe_and_flags_win(outputs, tmp_path):
    """`--profile test-cpu` takes [evaluation.test-cpu] (lrs 1e-3,3e-3, max_epochs 3, ...); a flag wins."""
    done = classify(["--model", outputs["export"].path, "--train", SIB / "ug" / "train.tsv", "--test",
                     SIB / "ug" / "dev.tsv", "--profile", "test-cpu", "--config", REPO / "tests" / "luigi-test.cfg",
                     "--max-epochs", 1, "--seeds", 1, "--out", tmp_path])
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert [row["lr"] for row in metrics["sweep"]] == [1e-3, 3e-3]
    assert metrics["recipe"]["max_epochs"] == 1 and metrics["recipe"]["max_length"] == 64
    done = classify(["--model", outputs["export"].path, "--train", SIB / "ug" / "train.tsv", "--test",
                     SIB / "ug" / "dev.tsv", "--profile", "no-such", "--config", REPO / "tests" / "luigi-test.cfg",
                     "--out", tmp_path])
    assert done.returncode == 2 and "no profile 'no-such'" in done.stderr and "Traceback" not in done.stderr


def test_flags_over_a_profile_are_checked_with_it(tmp_path):
    """--min-epochs above the profile's max_epochs (test-cpu: 3) is one clear error, before any work."""
    done = classify(["--model", tmp_path / "none", "--train", SIB / "ug" / "train.tsv", "--test", SIB / "ug" / "dev.tsv",
                     "--profile", "test-cpu", "--config", REPO / "tests" / "luigi-test.cfg", "--min-epochs", 5,
                     "--out", tmp_path / "out"])
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "ERROR: command line min_epochs: 5 is more than max_epochs 3; fix: set min_epochs at most max_epochs"]
    assert not (tmp_path / "out").exists()
    for flag, value, field in (("--seeds", 0, "seeds"), ("--batch-sizes", "16,0", "batch_sizes"),
                               ("--lrs", "-1e-3", "lrs"), ("--threads", 0, "threads"), ("--warmup", -3, "warmup")):
        done = classify(["--model", tmp_path / "none", "--train", SIB / "ug" / "train.tsv", "--test",
                         SIB / "ug" / "dev.tsv", f"{flag}={value}", "--out", tmp_path / "out"])
        assert done.returncode == 2 and done.stderr.startswith(f"ERROR: command line {field}: "), (flag, done.stderr)


def test_a_fairseq_model_directory_works_too(mini_build, tmp_path):
    (model_dir,) = [p for p in mini_build["work"].glob("train/*") if p.is_dir() and not p.name.endswith(".run")]
    done = classify(["--model", model_dir, "--train", SIB / "ug" / "train.tsv", "--dev", SIB / "ug" / "dev.tsv",
                     "--test", SIB / "ug" / "dev.tsv", "--seeds", 1, "--lrs", "1e-3", "--max-epochs", 1,
                     "--max-length", 32, "--out", tmp_path])
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))["selection"] == "dev"


@pytest.fixture(scope="module")
def setting(outputs):
    from eval.classify import Classifier, FineTuneSettings, check_labels, encode_setting, hold_out
    from eval.datasets import read_labelled

    train, test = read_labelled(SIB / "bo" / "train.tsv"), read_labelled(SIB / "bo" / "dev.tsv")
    labels = check_labels(train, [test])
    train, select = hold_out(train)
    classifier = Classifier(outputs["export"].path)
    settings = FineTuneSettings(lr=3e-3, batch_size=16, max_epochs=2, patience=5, max_length=64, threads=1)
    return {"classifier": classifier, "setting": encode_setting(classifier, train, select, {"dev": test}, labels, 64),
            "select": select, "labels": labels, "settings": settings}


def test_fine_tuning_over_the_rows_the_setting_uses_equals_fine_tuning_over_every_row(setting):
    from eval.classify import Setting, fine_tune

    s, few_rows = setting, setting["setting"].rows
    assert len(few_rows) < s["classifier"].config.vocab_size / 5
    original = lambda lists: [[few_rows[i] for i in ids] for ids in lists]  # noqa: E731
    full = Setting(list(range(s["classifier"].config.vocab_size)), original(s["setting"].train), s["setting"].train_y,
                   original(s["setting"].select), {name: original(ids) for name, ids in s["setting"].tests.items()})
    few = fine_tune(s["classifier"], s["setting"], s["select"], s["labels"], s["settings"], 1, "macro_f1")
    every = fine_tune(s["classifier"], full, s["select"], s["labels"], s["settings"], 1, "macro_f1")
    assert few["predictions"] == every["predictions"] and few["epoch"] == every["epoch"]
    assert len(few["history"]) == len(every["history"]) == 2
    for a, b in zip(few["history"], every["history"]):   # the training loss too: same head, same dropout
        assert a == pytest.approx(b, abs=1e-6)


def test_early_stopping_and_random_weights(setting):
    from dataclasses import replace

    from eval.classify import fine_tune

    s = setting
    patient = fine_tune(s["classifier"], s["setting"], s["select"], s["labels"],
                        replace(s["settings"], max_epochs=8, patience=1), 1, "macro_f1")
    assert patient["stopped"] == min(8, patient["epoch"] + 1) and len(patient["history"]) == patient["stopped"]
    assert patient["stopped"] <= 6   # so that min_epochs below must keep it going
    at_least = fine_tune(s["classifier"], s["setting"], s["select"], s["labels"],
                         replace(s["settings"], max_epochs=8, patience=1, min_epochs=patient["stopped"] + 2), 1,
                         "macro_f1")
    assert at_least["stopped"] == max(patient["stopped"] + 2, min(8, at_least["epoch"] + 1)) > patient["stopped"]
    assert at_least["history"][:patient["stopped"]] == patient["history"]
    pretrained = s["classifier"].new_model(s["labels"], s["setting"].rows)
    import torch

    torch.manual_seed(5)
    random = s["classifier"].new_model(s["labels"], s["setting"].rows, "random")
    torch.manual_seed(5)
    again = s["classifier"].new_model(s["labels"], s["setting"].rows, "random")
    name = "roberta.encoder.layer.0.attention.self.query.weight"
    weights = lambda model: dict(model.named_parameters())[name]  # noqa: E731
    assert torch.equal(weights(random), weights(again)) and not torch.equal(weights(random), weights(pretrained))


def test_the_random_control_from_the_initial_checkpoint_is_the_one_from_the_trained_export(mini_build):
    """EvaluateClassification(model=random) reads InitCheckpoint, so that it need not wait for
    training: the same configuration, token ids and drawn weights as from the trained export."""
    import torch

    import pipeline
    from eval.classify import Classifier
    from eval.datasets import read_labelled

    with in_env(mini_build["env"]):
        init = Classifier(pipeline.InitCheckpoint(langs=LANGS).output().path)
        export = Classifier(pipeline.ExportHF(langs=LANGS).output().path)
    metadata = ("architectures", "_name_or_path", "dtype", "torch_dtype", "transformers_version")
    config = lambda c: {k: v for k, v in c.config.to_dict().items() if k not in metadata}  # noqa: E731
    assert config(init) == config(export)
    texts = [text for lang in ("bo", "ug", "zh") for text in read_labelled(SIB / lang / "dev.tsv").texts]
    assert init.encode(texts, 64) == export.encode(texts, 64)
    labels = ["a", "b"]
    a, b = init.new_model(labels, init="random", seed=3), export.new_model(labels, init="random", seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_the_fasttext_baseline_is_tuned_on_selection_data_and_reproducible():
    from eval.classify import check_labels, hold_out
    from eval.datasets import read_labelled
    from eval.fasttext_baseline import fasttext_baseline

    train, test = read_labelled(SIB / "zh" / "train.tsv"), read_labelled(SIB / "zh" / "dev.tsv")
    labels = check_labels(train, [test])
    train, select = hold_out(train)
    runs = [fasttext_baseline(train, select, {"dev": test}, labels, 2, (0.1, 1.0), (50,), "macro_f1", {"dev": [0, 1, 2]})
            for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0]["recipe"]["lr"] == max(runs[0]["sweep"], key=lambda r: r["select"]["macro_f1"])["lr"]
    assert runs[0]["tests"]["dev"]["aggregate"]["macro_f1"]["mean"] > 0.5   # fastText learns SIB-200 zh
    assert runs[0]["tests"]["dev"]["unseen"]["items"] == 3   # scored apart: the items at the indices given


@pytest.mark.parametrize("change,problem", [
    (lambda lines: lines[:-1] + ["text\tnot-a-topic"], "label(s) not in the training set"),
    (lambda lines: [l for l in lines if not l.endswith("\tsports")], "never occur here: sports"),
])
def test_bad_test_labels_are_one_clear_error(outputs, tmp_path, change, problem):
    lines = (SIB / "bo" / "dev.tsv").read_text(encoding="utf-8").splitlines()
    test = tmp_path / "test.tsv"
    test.write_text("\n".join(change(lines)) + "\n", encoding="utf-8")
    done = classify(["--model", outputs["export"].path, "--train", SIB / "bo" / "train.tsv", "--test", test,
                     "--out", tmp_path / "out"])
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"ERROR: {test}: ") and problem in line and "; fix: " in line


def test_every_model_and_baseline_on_every_setting_and_the_kept_language(outputs):
    results = outputs["evaluation"].stats()["results"]
    assert results["source"] == "zh" and results["kept"] == ["zh"] and results["seeds"] == 3
    assert results["sets"] == ["sib200", "tncc-title"]
    assert [(row["set"], row["lang"], row["evaluated_on"]) for row in results["in_language"]] == \
        [("sib200", "bo", "dev"), ("sib200", "ug", "dev"), ("sib200", "zh", "dev"), ("tncc-title", "bo", "dev")]
    assert [(row["lang"], row["source"]) for row in results["zero_shot"]] == [("bo", "zh"), ("ug", "zh")]   # SIB-200 only
    (tncc,) = [row for row in results["in_language"] if row["set"] == "tncc-title"]
    assert (tncc["train_items"]["used"], tncc["train_items"]["declared"]) == (800, 7422)   # luigi-test.cfg caps it
    assert 0.05 < tncc["in_train"] / tncc["items"] < 0.2   # TNCC repeats train titles in dev (93 of 927)
    assert tncc["unseen"] is not None and 0 <= tncc["unseen"]["cino"]["mean"] <= 1
    for row in results["in_language"] + results["zero_shot"]:
        for model in ("random", "base", "cino"):
            assert 0.0 <= row[model]["mean"] <= 1.0 and row[model]["std"] >= 0.0 and "learned" in row[model]
        assert row["metric"] == ("macro_f1" if row in results["in_language"] else "weighted_f1")
    assert all(row["fasttext"]["mean"] > 0.3 for row in results["in_language"])   # the bar to clear
    assert {(r["set"], r["lang"], r["model"]) for r in results["recipes"]} == \
        {(name, lang, model) for name, lang in (("sib200", "bo"), ("sib200", "ug"), ("sib200", "zh"), ("tncc-title", "bo"))
         for model in ("random", "base", "cino", "fasttext")}
    assert all(len(r["sweep"]) == 2 for r in results["recipes"])   # tests/luigi-test.cfg: two learning rates (fastText: two epochs)
    mlm = results["mlm"]
    assert sorted(mlm) == ["bo", "mn", "ug", "zh"]   # the kept language's loss: what training cost it
    assert mlm["bo"]["base"]["unk_share"] > 0.3 and mlm["bo"]["cino"]["unk_share"] < 0.01
    assert mlm["zh"]["cino"]["unk_share"] < 0.01   # zh kept in the vocabulary
    assert all(0 < mlm[lang][model]["loss_per_char"] < 50 for lang in mlm for model in ("base", "cino"))


def _metrics(mean: float, std: float, majority: float = 0.1) -> dict:
    aggregate = {m: {"mean": mean, "std": std} for m in ("accuracy", "macro_f1", "weighted_f1")}
    scored = {"aggregate": aggregate, "majority_baseline": {m: majority for m in aggregate}}
    return {"train_items": 10, "selection": "dev", "select_metric": "macro_f1", "recipe": {"lr": 1e-3, "batch_size": 16},
            "runs": [{"best_epoch": 1}], "sweep": [],
            "tests": {"bo/dev": {**scored, "items": 20, "unseen": {"items": 15, **scored}}}}


def _fasttext(mean: float) -> dict:
    aggregate = {m: {"mean": mean, "std": 0.0} for m in ("accuracy", "macro_f1")}
    return {"fasttext": {"recipe": {"lr": 0.5, "epoch": 50}, "sweep": [],
                         "tests": {"bo/dev": {"aggregate": aggregate, "unseen": {"aggregate": aggregate}}}}}


@pytest.mark.parametrize("base,cino,within,learned", [((0.50, 0.05), (0.60, 0.02), False, True),
                                                      ((0.50, 0.05), (0.54, 0.02), True, True),
                                                      ((0.50, 0.00), (0.50, 0.00), True, True),
                                                      ((0.12, 0.03), (0.11, 0.02), True, False)])
def test_a_delta_within_the_two_spreads_is_noise_and_a_score_near_the_majority_did_not_learn(base, cino, within,
                                                                                              learned):
    from eval.report import evaluation_results

    fasttext = _fasttext(0.6)
    results = evaluation_results({"sib200/base/bo": _metrics(*base), "sib200/cino/bo": _metrics(*cino), "sib200/random/bo": _metrics(0.3, 0.1)},
                                 {"sib200/bo": fasttext}, {}, 3, "zh", [], [], {"in_language": "macro_f1", "zero_shot": "weighted_f1"})
    (row,) = results["in_language"]
    assert row["within_spread"] is within and row["delta"] == pytest.approx(cino[0] - base[0])
    assert row["cino"]["learned"] is learned and row["fasttext"]["learned"] is True


def test_the_report_is_self_contained_with_plots_and_says_what_is_noise(outputs):
    html = next(outputs["build"].path.glob("report.html")).read_text(encoding="utf-8")
    assert html.count('src="data:image/png;base64,') == 5   # funnel, tokenizers, sampling, validation, evaluation
    assert not re.search(r'(src|href)="(https?:|//)', html)   # opens offline
    for text in ("within the two standard deviations", "did not learn", "fastText", "random init", "Zero-shot",
                 "Recipes, chosen on selection data", "Replayed", "zh (kept)"):
        assert text in html, text
    card = (outputs["package"].path / "README.md").read_text(encoding="utf-8")
    assert "## Evaluation: what continued pretraining changed" in card
    assert (outputs["package"].path / "model.safetensors").stat().st_size > 0


def test_a_gain_between_models_that_did_not_learn_is_not_counted_as_a_gain():
    from eval.report import evaluation_markdown, evaluation_results

    fasttext = _fasttext(0.6)
    results = evaluation_results({"sib200/base/bo": _metrics(0.10, 0.0, 0.3), "sib200/cino/bo": _metrics(0.25, 0.0, 0.3),
                                  "sib200/random/bo": _metrics(0.2, 0.0, 0.3)}, {"sib200/bo": fasttext},
                                 {"cino": {}, "base": {}}, 3, "zh", [], [],
                                 {"in_language": "macro_f1", "zero_shot": "weighted_f1"})
    markdown = evaluation_markdown(results)
    assert "neither learned" in markdown and "beats the base by more than the seeds' spread in 0;" in markdown
