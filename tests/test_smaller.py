"""Smaller models to ship, on the tests' small run: the model for one language (same pieces and
logits as the full model on its text), the distilled student (fewer layers, resumable to the same
weights), and the report that compares them with the trained model."""
import json

import pytest

from tests.helpers import build, in_env
from tests.helpers.workdirs import clone_build

LANGS = "bo,mn,ug"


@pytest.fixture(scope="module")
def smaller(mini_build, tmp_path_factory):
    import pipeline

    env = clone_build(mini_build, tmp_path_factory.mktemp("smaller") / "work")
    build([pipeline.SmallerModels(langs=LANGS, lang="bo")], env)
    with in_env(env):
        return {"pruned": pipeline.PruneForLanguage(langs=LANGS, lang="bo").output(),
                "student": pipeline.DistillStudent(langs=LANGS).output(),
                "teacher": pipeline.ExportHF(langs=LANGS).output(),
                "report": pipeline.SmallerModels(langs=LANGS, lang="bo").output()}


def test_the_model_for_a_language_reads_its_text_as_the_full_model_does(smaller):
    stats = smaller["pruned"].stats()
    symbols = stats["fairseq_symbols"]
    assert symbols["for_language"] < symbols["full"] / 2
    assert set(stats["compared"]) == {"held-out", "raw test", "masked", "eval"}
    for name in ("held-out", "raw test", "masked"):   # its own text: the stage fails on any difference
        row = stats["compared"][name]
        assert row["pieces_identical"] == row["lines"] > 0, name
        assert row["max_abs_logit_difference"] <= 1e-4 and row["logit_lines"] > 0, name
    unseen = stats["compared"]["eval"]   # SIB-200 sentences no corpus contains: measured, not enforced
    assert unseen["lines"] > 0 and 0.0 <= unseen["pieces_identical_share"] <= 1.0
    assert stats["bytes"]["for_language"] < stats["bytes"]["full"]


def test_the_smaller_models_load_and_fill_masks_as_users_load_them(smaller):
    from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

    text = "ཕྱིས་སུ་མི་རྣམས་ཀྱིས་རང་བྱུང་ཁམས་ལ་ <mask> བྱེད་པ"
    answers = {}
    for name in ("teacher", "pruned", "student"):
        path = smaller[name].path
        fill = pipeline("fill-mask", model=AutoModelForMaskedLM.from_pretrained(path, local_files_only=True),
                        tokenizer=AutoTokenizer.from_pretrained(path, local_files_only=True))
        answers[name] = [row["token_str"] for row in fill(text, top_k=5)]
    # the same logits at the kept pieces: the full model's ranking without the pieces bo does not use
    kept = [answer for answer in answers["teacher"] if answer in answers["pruned"]]
    assert kept and answers["pruned"][:len(kept)] == kept
    assert len(answers["student"]) == 5


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
    from training.distill import DistillSettings, distill

    teacher = smaller["teacher"].path
    settings = DistillSettings(steps=6, batch_size=4, tokens_per_sample=64, save_interval=3, threads=1)
    batches = [["ཕྱིས་སུ་མི་རྣམས་ཀྱིས་རང་བྱུང་ཁམས་ལ་", "བྱེད་པ་ཡིན་ནོ།"] * 2] * settings.steps
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    for path in (whole, broken, whole / "run", broken / "run"):
        path.mkdir()
    distill(teacher, batches, whole, whole / "run", settings)

    def stop_at_4(step, steps, loss):
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        distill(teacher, batches, broken, broken / "run", settings, stop_at_4)
    assert (broken / "run" / "distill_last.pt").exists()
    distill(teacher, batches, broken, broken / "run", settings)
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
    baselines = stats["baselines"]["bo/dev"]   # beside the scores: the same data's majority class and fastText
    assert set(baselines) == {"majority", "fasttext"} and 0 <= baselines["majority"] <= 1
    assert 0 <= baselines["fasttext"]["mean"] <= 1
    markdown = (smaller["report"].path / "smaller_models.md").read_text(encoding="utf-8")
    assert "retention" in markdown and "vocabulary of one language" in markdown and "student" in markdown
    assert f"majority class {baselines['majority']:.3f}" in markdown and "fastText" in markdown


def test_the_student_layers_are_spread_evenly_over_the_teacher_and_fewer():
    from common.errors import InputError
    from training.distill import teacher_layers

    assert teacher_layers(12, 6) == [1, 3, 5, 7, 9, 11] and teacher_layers(12, 8) == [0, 2, 3, 5, 6, 8, 9, 11]
    assert teacher_layers(2, 1) == [1]
    for student in (0, 12, 13):
        with pytest.raises(InputError, match="layers"):
            teacher_layers(12, student)


def test_the_lines_each_update_draws_are_seeded_and_only_those_are_read(tmp_path):
    from training.distill import DistillSettings, drawn_lines

    files = {}
    for lang, count in (("bo", 50), ("zh", 5)):
        files[lang] = tmp_path / f"{lang}.txt"
        files[lang].write_text("".join(f"{lang} line {i}\n\n" for i in range(count)), encoding="utf-8")
    settings = DistillSettings(steps=40, batch_size=8)
    batches = drawn_lines(files, {"bo": 0.9, "zh": 0.1}, settings)
    assert batches == drawn_lines(files, {"bo": 0.9, "zh": 0.1}, settings)
    assert len(batches) == 40 and all(len(batch) == 8 for batch in batches)
    drawn = [line for batch in batches for line in batch]
    assert all(line.strip() for line in drawn)   # blank lines between documents are never drawn
    assert 0.8 < sum(line.startswith("bo") for line in drawn) / len(drawn) < 0.97
    assert batches != drawn_lines(files, {"bo": 0.9, "zh": 0.1}, DistillSettings(steps=40, batch_size=8, seed=2))


def test_masking_never_touches_specials_and_masks_every_line():
    from common.xlmr import PAD, SPECIALS
    from training.distill import mask_batch

    ids = [[0, 5, 6, 7, 2], [0, 9, 2], [0, 3, 2]]   # the last: <s> <unk> </s>, nothing to mask
    inputs, attention, masked = mask_batch(ids, 99, 0.01, 1, 0)
    assert masked[0].any() and masked[1].any() and not masked[2].any()
    assert not masked[inputs.new_tensor([[i < len(SPECIALS) for i in row + [PAD] * (5 - len(row))]
                                         for row in ids]).bool()].any()
    assert attention.tolist() == [[1] * 5, [1, 1, 1, 0, 0], [1, 1, 1, 0, 0]]


def test_distillation_settings_out_of_range_are_one_line_errors():
    from common.errors import InputError
    from training.distill import DistillSettings

    for bad in ({"temperature": 0.0}, {"mask_prob": 1.0}, {"layers": -1}, {"steps": 0}):
        with pytest.raises(InputError, match=list(bad)[0]):
            DistillSettings(**bad).checked("[distill]")


def test_a_model_for_a_language_outside_the_run_is_refused():
    import pipeline
    from common.errors import InputError

    with pytest.raises(InputError, match="not a language of the run"):
        pipeline.PruneForLanguage(langs=LANGS, lang="kk").requires()
