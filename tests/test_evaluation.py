"""CINO-style evaluation: the command for any model and data, bad evaluation data, and the
stages BuildCINO runs (both models on the same protocol, the report with its plots)."""
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


def test_the_command_evaluates_any_exported_model_on_given_files(outputs, tmp_path):
    test = SIB / "bo" / "dev.tsv"
    done = classify(["--model", outputs["export"].path, "--train", SIB / "bo" / "train.tsv", "--test", test,
                     "--seeds", 3, "--epochs", 1, "--lr", 1e-3, "--max-length", 64, "--out", tmp_path])
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    row = metrics["tests"][str(test)]
    assert [run["seed"] for run in row["seeds"]] == [1, 2, 3] and row["items"] == 99
    assert set(row["aggregate"]) == {"accuracy", "macro_f1", "weighted_f1"}
    assert row["majority_baseline"]["label"] == "science/technology"   # SIB-200's most frequent topic
    assert metrics["selection"].startswith("a tenth of train")
    rows = (tmp_path / "predictions.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "file\tline\tgold\tpredicted\tseed" and len(rows) == 1 + 99 * 3
    assert all(r.split("\t")[0] == str(test) for r in rows[1:])
    assert str(test) in done.stdout and "±" in done.stdout


def test_a_fairseq_model_directory_works_too(mini_build, tmp_path):
    (model_dir,) = [p for p in mini_build["work"].glob("train/*") if p.is_dir() and not p.name.endswith(".run")]
    done = classify(["--model", model_dir, "--train", SIB / "ug" / "train.tsv", "--dev", SIB / "ug" / "dev.tsv",
                     "--test", SIB / "ug" / "dev.tsv", "--seeds", 1, "--epochs", 1, "--max-length", 32, "--out", tmp_path])
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))["selection"] == "dev"


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


def test_both_models_on_every_setting_with_seeds_and_a_baseline(outputs):
    results = outputs["evaluation"].stats()["results"]
    settings = {(row["protocol"], row["lang"]) for row in results["classification"]}
    assert settings == {("zero-shot", "bo"), ("zero-shot", "ug"), ("in-language", "bo"), ("in-language", "ug")}
    for row in results["classification"]:
        assert row["evaluated_on"] == "dev"   # SIB-200 here has no test split: the report says so
        assert row["metric"] == ("weighted_f1" if row["protocol"] == "zero-shot" else "macro_f1")
        for model in ("base", "cino"):
            assert 0.0 <= row[model]["mean"] <= 1.0 and row[model]["std"] >= 0.0
    mlm = results["mlm"]
    assert sorted(mlm) == ["bo", "mn", "ug"]
    assert mlm["bo"]["base"]["unk_share"] > 0.3 and mlm["bo"]["cino"]["unk_share"] < 0.01
    assert all(0 < mlm[lang][model]["loss_per_char"] < 50 for lang in mlm for model in ("base", "cino"))


def test_the_report_is_self_contained_with_plots_and_says_what_is_noise(outputs):
    html = next(outputs["build"].path.glob("report.html")).read_text(encoding="utf-8")
    assert html.count('src="data:image/png;base64,') == 5   # funnel, tokenizers, sampling, validation, evaluation
    assert not re.search(r'(src|href)="(https?:|//)', html)   # opens offline
    assert "within the seeds' spread" in html and "majority-class baseline" in html
    card = (outputs["package"].path / "README.md").read_text(encoding="utf-8")
    assert "## Evaluation: the base model and the trained model" in card
    assert (outputs["package"].path / "model.safetensors").stat().st_size > 0


def _metrics(mean: float, std: float) -> dict:
    aggregate = {m: {"mean": mean, "std": std} for m in ("accuracy", "macro_f1", "weighted_f1")}
    return {"train_items": 10, "selection": "dev",
            "tests": {"bo/dev": {"aggregate": aggregate, "majority_baseline": {m: 0.1 for m in aggregate}}}}


@pytest.mark.parametrize("base,cino,within", [((0.50, 0.05), (0.60, 0.02), False), ((0.50, 0.05), (0.54, 0.02), True),
                                              ((0.50, 0.00), (0.50, 0.00), True)])
def test_a_delta_within_the_two_spreads_is_called_noise(base, cino, within):
    from eval.report import evaluation_results

    results = evaluation_results({"base/in-language/bo": _metrics(*base), "cino/in-language/bo": _metrics(*cino)},
                                 {}, 3, {"in-language": "macro_f1"})
    (row,) = results["classification"]
    assert row["within_spread"] is within and row["delta"] == pytest.approx(cino[0] - base[0])
