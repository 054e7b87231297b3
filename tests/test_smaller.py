"""Smaller models to ship, on the tests' small run: the model for one language (same pieces and
logits as the full model on its text), the distilled student (fewer layers, resumable to the same
weights), and the report that compares them with the trained model."""
import json

import pytest

from tests.helpers import build, in_env

LANGS = "bo,mn,ug"


@pytest.fixture(scope="module")
def smaller(mini_build):
    import pipeline

    build([pipeline.SmallerModels(langs=LANGS, lang="bo")], mini_build["env"])
    with in_env(mini_build["env"]):
        return {"pruned": pipeline.PruneForLanguage(langs=LANGS, lang="bo").output(),
                "student": pipeline.DistillStudent(langs=LANGS).output(),
                "teacher": pipeline.ExportHF(langs=LANGS).output(),
                "report": pipeline.SmallerModels(langs=LANGS, lang="bo").output()}


def test_the_model_for_a_language_reads_its_text_as_the_full_model_does(smaller):
    stats = smaller["pruned"].stats()
    symbols = stats["fairseq_symbols"]
    assert symbols["for_language"] < symbols["full"] / 2
    for name, row in stats["compared"].items():
        assert row["pieces_identical"] == row["lines"] > 0, name
        assert row["max_abs_logit_difference"] <= 1e-4 and row["logit_lines"] > 0, name
    assert set(stats["compared"]) == {"held-out", "raw test"}
    assert stats["bytes"]["for_language"] < stats["bytes"]["full"]


def test_the_smaller_models_load_and_fill_masks_as_users_load_them(smaller):
    from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

    for name in ("pruned", "student"):
        path = smaller[name].path
        fill = pipeline("fill-mask", model=AutoModelForMaskedLM.from_pretrained(path, local_files_only=True),
                        tokenizer=AutoTokenizer.from_pretrained(path, local_files_only=True))
        assert len(fill("ཕྱིས་སུ་མི་རྣམས་ཀྱིས་རང་བྱུང་ཁམས་ལ་ <mask> བྱེད་པ", top_k=2)) == 2, name


def test_the_student_has_fewer_layers_taken_from_the_teacher(smaller):
    stats = smaller["student"].stats()
    teacher = json.loads((smaller["teacher"].path / "config.json").read_text(encoding="utf-8"))
    student = json.loads((smaller["student"].path / "config.json").read_text(encoding="utf-8"))
    assert stats["student_layers"] == student["num_hidden_layers"] < teacher["num_hidden_layers"]
    assert stats["parameters"] < smaller["teacher"].stats()["parameters"]
    assert sorted(stats["q"]) == ["bo", "mn", "ug", "zh"]   # the run's languages and the replayed one


def test_a_distillation_resumed_from_its_checkpoint_ends_with_the_same_weights(smaller, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from training.distill import DistillSettings, distill

    teacher = smaller["teacher"].path
    tokenizer = AutoTokenizer.from_pretrained(teacher, local_files_only=True)
    encoded = {"bo": tokenizer(["ཕྱིས་སུ་མི་རྣམས་ཀྱིས་རང་བྱུང་ཁམས་ལ་", "བྱེད་པ་ཡིན་ནོ།"] * 4)["input_ids"]}
    settings = DistillSettings(steps=6, batch_size=4, save_interval=3, threads=1)
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    for path in (whole, broken, whole / "run", broken / "run"):
        path.mkdir()
    distill(teacher, encoded, {"bo": 1.0}, whole, whole / "run", settings)

    def stop_at_4(step, steps, loss):
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        distill(teacher, encoded, {"bo": 1.0}, broken, broken / "run", settings, stop_at_4)
    assert (broken / "run" / "distill_last.pt").exists()
    distill(teacher, encoded, {"bo": 1.0}, broken, broken / "run", settings)
    a, b = load_file(whole / "model.safetensors"), load_file(broken / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_report_puts_size_scores_and_retention_side_by_side(smaller):
    stats = smaller["report"].stats()
    rows = stats["models"]
    assert set(rows) == {"cino", "pruned", "student"} and stats["metric"] == "macro_f1"
    assert rows["pruned"]["bytes"] < rows["cino"]["bytes"] and rows["student"]["parameters"] < rows["cino"]["parameters"]
    for row in rows.values():
        (test,) = row["scores"]
        assert test == "bo/dev" and 0 <= row["scores"][test]["mean"] <= 1
        assert row["retention"][test] == pytest.approx(row["scores"][test]["mean"] / rows["cino"]["scores"][test]["mean"])
    markdown = (smaller["report"].path / "smaller_models.md").read_text(encoding="utf-8")
    assert "retention" in markdown and "vocabulary of one language" in markdown and "student" in markdown
