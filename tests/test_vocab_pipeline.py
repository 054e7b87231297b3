"""The vocabulary half on the full demo corpora: the numbers the issue asks for, from the DAG."""
import shutil

import pytest

from common.jsonio import read_json
from tests.helpers import error_lines, in_env, run_luigi
from tests.helpers.sources import edit
from tests.helpers.workdirs import CORPUS_HALF, clone_build

LANGS = "bo,mn,ug"


@pytest.fixture(scope="module")
def vocab_build(full_env):
    from pipeline import InitCheckpoint, PruneVocabulary, TokenizerReport

    for task in ("InitCheckpoint", "TokenizerReport"):   # as users run them: two workers
        done = run_luigi([task, "--langs", LANGS, "--workers", "2"], full_env)
        assert done.returncode == 0, done.stderr[-3000:]
    with in_env(full_env):
        yield {"report": TokenizerReport(langs=LANGS).output().stats()["rows"],
               "prune": PruneVocabulary(langs=LANGS).output().stats(), "init": InitCheckpoint(langs=LANGS).output()}


@pytest.mark.parametrize("lang,text", [("bo", "held-out"), ("bo", "raw test"), ("bo", "eval"), ("mn", "held-out"),
                                       ("mn", "raw test")])
def test_new_scripts_have_almost_no_unk_after_pruning(vocab_build, lang, text):
    """Cleaned held-out lines, the raw source lines of the test split and the raw SIB-200
    sentences (bo; SIB-200 has no traditional Mongolian)."""
    rows = vocab_build["report"]
    assert rows[f"{lang}/{text}/base"]["unk_rate"] > 0.3  # XLM-R cannot read them
    assert rows[f"{lang}/{text}/pruned"]["unk_rate"] < 0.001


@pytest.mark.parametrize("key", ["bo/raw test/pruned", "bo/raw test/merged", "bo/eval/pruned", "mn/raw test/pruned",
                                 "mn/raw test/merged"])   # SIB-200 has no traditional Mongolian
def test_raw_lines_tokenize_exactly_as_their_cleaned_form(vocab_build, key):
    assert vocab_build["report"][key]["same_as_cleaned_share"] == 1.0


@pytest.mark.parametrize("lang", ["zh", "yue", "ko", "ug", "kk"])
def test_base_languages_tokenize_exactly_as_the_base(vocab_build, lang):
    """Held-out, raw and SIB-200 lines: by construction, not approximately."""
    for text in ("held-out", "raw test", "eval"):
        assert vocab_build["report"][f"{lang}/{text}/merged"]["identical_to_base_share"] == 1.0, text


def test_sizes_counts_and_the_pruning_guarantee(vocab_build):
    stats = vocab_build["prune"]
    sizes = stats["fairseq_symbols"]
    assert sizes["base"] == 250_002 and sizes["merged"] > sizes["base"] + 20_000 and sizes["pruned"] < sizes["merged"]
    assert stats["verification"]["lines_tokenized_differently"] == 0
    assert stats["verification"]["lines"] > 60_000  # every training line of bo, mn and ug
    dict_lines = vocab_build["init"].dict.read_text(encoding="utf-8").split("\n")[:-1]
    assert len(dict_lines) == sizes["pruned"] - 5  # <s> <pad> </s> <unk> and <mask> are fairseq's own


def test_initial_checkpoint_is_an_xlmr_directory(vocab_build):
    from training import checkpoint

    model = checkpoint.hub_model(vocab_build["init"].path)
    assert len(model.task.source_dictionary) == vocab_build["prune"]["fairseq_symbols"]["pruned"]
    tokens = model.encode("ཕྱིས་སུ་མི་རྣམས་ཀྱིས་རང་བྱུང་ཁམས་ལ་སྒྱུར་བཀོད་བྱེད་པ")
    assert 3 not in tokens.tolist()  # no <unk> in Tibetan any more


def test_missing_base_model_file_is_one_clear_error(tmp_path, mini_build):
    (tmp_path / "xlmr.base").mkdir()
    (tmp_path / "xlmr.base" / "dict.txt").write_text("a 1\n", encoding="utf-8")
    env = {**clone_build(mini_build, tmp_path / "w", only=CORPUS_HALF), "CINO_BASE_MODEL_DIR": str(tmp_path / "xlmr.base")}
    done = run_luigi(["MergeVocabulary", "--langs", "bo"], env)
    assert done.returncode == 30
    (line,) = [l for l in error_lines(done) if "base model directory lacks" in l]
    assert "Traceback" not in done.stderr
    assert "model.pt, sentencepiece.bpe.model" in line and "base_model_dir" in line


def test_a_script_the_base_already_covers_needs_a_deliberate_opt_in(kyrgyz_build, tmp_path):
    """Kyrgyz in Cyrillic with its own model: XLM-R encodes every Cyrillic letter, so by default
    no piece may be added (it would change Russian, Kazakh, ... tokenization): one clear error.
    Opted in (the session's Kyrgyz build), the pieces are added and the tokenizer report shows
    what it costs Kyrgyz."""
    work = kyrgyz_build["work"]
    (merge_stats,) = work.glob("merge_vocab/ky_mn-*/stats.json")
    assert read_json(merge_stats)["scripts"]["Cyrl"]["added"] > 100
    (report,) = work.glob("tokenizer_report/ky_mn-*/stats.json")
    rows = read_json(report)["rows"]
    assert rows["ky/held-out/merged"]["identical_to_base_share"] < 0.9   # the cost, shown
    assert rows["zh/held-out/merged"]["identical_to_base_share"] == 1.0   # other scripts untouched
    manifests = tmp_path / "manifests"   # the same data without the opt-in
    shutil.copytree(kyrgyz_build["env"]["CINO_MANIFESTS_DIR"], manifests)
    edit(manifests / "scripts.yaml", lambda doc: doc["Cyrl"]["tokenizer"].pop("add_base_encodable_pieces"))
    env = {**clone_build(kyrgyz_build, tmp_path / "work"), "CINO_MANIFESTS_DIR": str(manifests)}
    done = run_luigi(["MergeVocabulary", "--langs", "ky"], env)
    assert done.returncode == 30 and "Traceback" not in done.stderr
    (line,) = [l for l in error_lines(done) if "script 'Cyrl'" in l]
    assert "scripts.yaml" in line and "already encodes" in line and "add_base_encodable_pieces: true" in line
    # without a model of its own, the new script is read with the base's pieces: nothing added, nothing asked
    edit(manifests / "scripts.yaml", lambda doc: doc["Cyrl"].update(tokenizer={"own_model": False}))
    done = run_luigi(["TokenizerReport", "--langs", "ky"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    (merge_stats,) = (tmp_path / "work").glob("merge_vocab/ky-*/stats.json")
    assert "Cyrl" not in read_json(merge_stats)["scripts"]
    (report,) = (tmp_path / "work").glob("tokenizer_report/ky-*/stats.json")
    assert read_json(report)["rows"]["ky/held-out/merged"]["identical_to_base_share"] == 1.0
