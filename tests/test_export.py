"""Real XLM-R in, Hugging Face out: fairseq's 2019 release layout as a base model (end to end
through training), bad base directories, and the transformers export with parity."""
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from common.jsonio import read_json
from common.xlmr import DICT_FILE, MODEL_FILE, SPM_FILE
from tests.helpers import REPO, error_lines, in_env, run_luigi
from tests.helpers.workdirs import CORPUS_HALF, clone_build
from training import checkpoint

LANGS = "bo,mn,ug"
MONGOLIAN = "ᠶᠤᠸᠠᠨ ᠤᠯᠤᠰ\u202fᠤᠨ <mask> ᠳᠡ ᠨᠢᠩ ᠵᠠᠮ ᠴᠢᠬᠤᠯᠠ ᠦᠢᠯᠡᠳᠦᠯ ᠭᠠᠷᠭᠠᠵᠠᠶ ᠃"


def write_2019_release(model_dir, target):
    """`model_dir` (a stand-in base, current fairseq format) laid out as fairseq's 2019
    xlmr.base.tar.gz is: torch's legacy serialization, an `args` Namespace and no `cfg`, weights
    under `decoder.*` with `emb_layer_norm`, and the released dict.txt (no <mask>)."""
    from training.standin import as_2019_release

    target.mkdir()
    torch.save(as_2019_release(checkpoint.load(model_dir / MODEL_FILE)), target / MODEL_FILE,
               _use_new_zipfile_serialization=False)
    assert "<mask>" not in (model_dir / DICT_FILE).read_text(encoding="utf-8")
    for name in (DICT_FILE, SPM_FILE):
        shutil.copy(model_dir / name, target / name)
    return target


def test_2019_layout_is_read_as_fairseq_reads_it(tiny_base, tmp_path):
    release = write_2019_release(tiny_base, tmp_path / "xlmr.base")
    with pytest.raises(RuntimeError, match="mmap"):   # what a plain memory-mapped load does with it
        torch.load(release / MODEL_FILE, mmap=True, weights_only=False)
    upgraded, current = checkpoint.load_base(release / MODEL_FILE), checkpoint.load(tiny_base / MODEL_FILE)
    assert sorted(upgraded["model"]) == sorted(current["model"])
    assert all(torch.equal(upgraded["model"][key], current["model"][key]) for key in current["model"])
    assert upgraded["cfg"]["model"].arch == current["cfg"]["model"].arch


def test_2019_release_as_base_model_runs_through_training(tiny_base, mini_build, tmp_path):
    """StandInBase's replacement path: ExternalBase -> MergeVocabulary -> InitCheckpoint -> ContinuePretraining,
    from the corpus half of the session build."""
    work = tmp_path / "work"
    env = {**clone_build(mini_build, work, only=CORPUS_HALF),
           "CINO_BASE_MODEL_DIR": str(write_2019_release(tiny_base, tmp_path / "xlmr.base"))}
    done = run_luigi(["ContinuePretraining", "--langs", "bo,ug"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not list(work.glob("standin_base/*"))   # the user's base, not the stand-in
    (init,) = work.glob("init_checkpoint/*/model.pt")
    (trained,) = [p for p in work.glob("train/*/stats.json")]
    assert read_json(trained)["num_updates"] == 30
    surgered = checkpoint.load(init)["model"]
    base = checkpoint.load(tiny_base / MODEL_FILE)["model"]
    layer = "encoder.sentence_encoder.layers.0.fc1.weight"
    assert torch.equal(surgered[layer], base[layer])   # the 2019 weights went into the surgery untouched
    # The same files copied elsewhere (new mtimes and inodes, no hash cache): the base is known by content
    moved = shutil.copytree(tmp_path / "xlmr.base", tmp_path / "node-local" / "xlmr.base",
                            copy_function=shutil.copyfile, ignore=shutil.ignore_patterns("*.sha256"))
    done = run_luigi(["ContinuePretraining", "--langs", "bo,ug"], {**env, "CINO_BASE_MODEL_DIR": str(moved)})
    assert done.returncode == 0 and "Did not run any tasks" in done.stdout + done.stderr, done.stderr[-3000:]


@pytest.mark.parametrize("content,problem", [(b"a 1\nb 1\n", "not a torch checkpoint"), (None, "no 'model' weights")])
def test_a_base_directory_in_neither_format_is_one_clear_error(tiny_base, mini_build, tmp_path, content, problem):
    base = tmp_path / "base"
    shutil.copytree(tiny_base, base)
    if content is None:
        torch.save({"weights": torch.zeros(2)}, base / MODEL_FILE)
    else:
        (base / MODEL_FILE).write_bytes(content)
    env = {**clone_build(mini_build, tmp_path / "work", only=CORPUS_HALF), "CINO_BASE_MODEL_DIR": str(base)}
    done = run_luigi(["InitCheckpoint", "--langs", "ug"], env)
    assert done.returncode == 30 and "Traceback" not in done.stderr
    (line,) = [l for l in error_lines(done) if problem in l]
    assert str(base / MODEL_FILE) in line and "base_model_dir" in line


def test_mapped_weights_give_fairseqs_logits(tiny_base):
    from training.hf_export import hf_model

    hub = checkpoint.hub_model(tiny_base)
    model = hf_model(checkpoint.load(tiny_base / MODEL_FILE))
    ids = hub.encode("中文的句子和한국어 문장")
    with torch.no_grad():
        assert torch.equal(hub.model(ids.unsqueeze(0))[0], model(input_ids=ids.unsqueeze(0)).logits)
    # fairseq ties the LM head's projection to the embeddings; so must the export (one copy in the file)
    assert model.lm_head.decoder.weight is model.roberta.embeddings.word_embeddings.weight


@pytest.fixture(scope="module")
def exports(mini_build):
    import pipeline

    with in_env(mini_build["env"]):
        return {name: pipeline.ExportHF(langs=LANGS, model=name).output() for name in ("cino", "base")}


@pytest.mark.parametrize("name", ["cino", "base"])
def test_export_holds_what_transformers_needs_and_parity_is_checked(exports, name):
    out = exports[name]
    assert {p.name for p in out.path.iterdir()} >= {"config.json", "model.safetensors", "sentencepiece.bpe.model",
                                                     "tokenizer.json", "tokenizer_config.json",
                                                     "special_tokens_map.json", "README.md"}
    parity = out.stats()["parity"]
    for lang in LANGS.split(","):
        for text in ("held-out", "raw test", "masked"):
            row = parity[f"{lang}/{text}"]
            assert row["lines"] >= 10 and row["max_abs_logit_difference"] <= 1e-4
            assert row["ids_identical_share"] == 1.0, (lang, text, row)
    config = json.loads((out.path / "config.json").read_text(encoding="utf-8"))
    assert config["max_position_embeddings"] == 66 and out.stats()["max_length"] == 64   # test stand-in: 64 positions


def test_a_suffix_separator_right_before_a_mask_is_kept_where_fairseqs_fill_mask_drops_it(exports, mini_build):
    """fairseq's fill_mask strips the text before <mask> with str.rstrip(), U+202F included; the
    export keeps the Mongolian suffix separator, and parity compares with that documented rule."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

    import pipeline as cino
    from training.hf_export import fairseq_ids_of, fill_mask_drops

    text = "ᠴᠢᠩᠭᠢᠰ\u202f<mask>ᠨ ᠦᠢ"
    with in_env(mini_build["env"]):
        hub = checkpoint.hub_model(cino.ContinuePretraining(langs=LANGS).output().path)
    tokenizer = AutoTokenizer.from_pretrained(exports["cino"].path, local_files_only=True)
    assert tokenizer(text)["input_ids"] == fairseq_ids_of(hub, text)
    assert fill_mask_drops(text) and not fill_mask_drops(text.replace("\u202f", " "))
    # fairseq's own fill_mask (fairseq/models/roberta/hub_interface.py) encodes the parts with str.rstrip()
    own = " <mask> ".join(hub.bpe.encode(span.rstrip()) for span in text.split("<mask>")).strip()
    own_ids = hub.task.source_dictionary.encode_line(f"<s> {own} </s>", append_eos=False,
                                                     add_if_not_exist=False).tolist()
    stand_in = tokenizer.convert_tokens_to_ids("\U000f202f")   # the vocabulary's stand-in of U+202F
    assert stand_in in tokenizer(text)["input_ids"] and stand_in not in own_ids
    fill = pipeline("fill-mask", model=AutoModelForMaskedLM.from_pretrained(exports["cino"].path, local_files_only=True),
                    tokenizer=tokenizer)
    assert "\u202f" in fill(text, top_k=1)[0]["sequence"]
    assert "fill_mask` strips the text before each `<mask>`" in (exports["cino"].path / "README.md").read_text(
        encoding="utf-8")


def test_parity_is_checked_per_text():
    """A small text pooled with a large one must not hide its differences."""
    from training.hf_export import ParitySettings, check_parity

    row = lambda lines, same: {"lines": lines, "ids_identical": same, "ids_identical_share": same / lines,  # noqa: E731
                               "max_abs_logit_difference": 0.0, "first_mismatches": ["ᠬᠠᠳᠠᠨ\u202f<mask>"]}
    check_parity({"mn/held-out": row(60_000, 60_000), "mn/masked": row(200, 200)}, ParitySettings())
    with pytest.raises(RuntimeError, match=r"mn/masked: .* identical on 98\.0000% of 200 lines"):
        check_parity({"mn/held-out": row(60_000, 60_000), "mn/masked": row(200, 196)}, ParitySettings())


def test_a_user_loads_the_export_offline_and_fills_masks(exports):
    """What a user types, in a fresh process, with the hub unreachable."""
    script = (
        "import sys\n"
        "from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline\n"
        "path = sys.argv[1]\n"
        "tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)\n"
        "model = AutoModelForMaskedLM.from_pretrained(path, local_files_only=True)\n"
        "fill = pipeline('fill-mask', model=model, tokenizer=tokenizer)\n"
        "for guess in fill(sys.argv[2], top_k=3):\n"
        "    print(repr(guess['token_str']), repr(guess['sequence']))\n"
        "ids = tokenizer('ᠤᠯᠤᠰ\\u202fᠤᠨ ᠮᠣᠩ\\u200dᠭᠣᠯ')['input_ids']\n"
        "print(tokenizer.unk_token_id in ids, repr(tokenizer.decode(ids, skip_special_tokens=True)))\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script, str(exports["cino"].path), MONGOLIAN], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 4 and "<mask>" not in "".join(lines[:3])
    assert not [ch for ch in done.stdout if ord(ch) >= 0xF0000]   # stand-ins decode to what they stand for
    assert lines[3] == "False 'ᠤᠯᠤᠰ\\u202fᠤᠨ ᠮᠣᠩ\\u200dᠭᠣᠯ'"


def test_model_card_states_the_run(exports):
    card = (exports["cino"].path / "README.md").read_text(encoding="utf-8")
    for heading in ("## Use", "## Corpus", "## Vocabulary", "## Continued pretraining", "## Training settings",
                    "## Parity with fairseq", "## How it was made"):
        assert heading in card
    assert card.startswith("---\nlanguage: [bo, mn, ug]")
    made = exports["cino"].stats()["provenance"]   # how it was made, as every stage's stats.json records it
    assert f"Pipeline commit `{made['commit']}`" in card and len(made["commit"]) == 40
    assert {"torch", "fairseq-fixed", "sentencepiece", "fasttext-numpy2", "transformers"} == set(made["packages"])
    assert all(f"{name} {version}" in card for name, version in made["packages"].items())
