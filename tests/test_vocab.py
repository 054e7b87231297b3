"""Vocabulary contracts: the normaliser, script models, a merge that leaves base languages
alone (and the score-0 recipe that does not), pruning, dict.txt and id maps."""
from pathlib import Path

import numpy as np
import pytest
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

from corpus.manifest import load_catalog
from corpus.normalize import Normalizer
from tests.helpers import BASE_SPM, MANIFESTS, REPO, real_lines, unescape
from vocab import fairseq_ids
from vocab.merge import merge_vocabulary
from vocab.normalizer import compile_rules, decode_charsmap, script_rewrite, script_rules
from vocab.pieces import load_proto
from vocab.prune import PruneSettings, compare_tokenization, count_pieces, prune
from vocab.script_model import ScriptModelSettings, train_script_model

CATALOG = load_catalog(MANIFESTS)
TESTS_DIR = REPO / "tests"
NNBSP = "\u202f"


def rewrites(*scripts) -> dict:
    return {code: script_rewrite(CATALOG, code) for code in scripts}


def merged(script_models: dict):
    """The base merged with the given script model files, as MergeVocabulary does it."""
    return merge_vocabulary(BASE_SPM, {s: load_proto(p) for s, p in script_models.items()}, rewrites(*script_models))


@pytest.fixture(scope="module")
def base() -> pb.ModelProto:
    return load_proto(BASE_SPM)


@pytest.fixture(scope="module")
def script_models(tmp_path_factory) -> dict:
    """Small real Tibetan and Mongolian models (the nanhai text has digits, Latin and '+')."""
    root = tmp_path_factory.mktemp("script-models")
    models = {}
    for script, source, size in (("Tibt", "bo/nanhai.txt", 3000), ("Mong", "mn/cmilbench.txt", 3000)):
        text = root / f"{script}.txt"
        text.write_text("\n".join(real_lines(source, 3000)) + "\n", encoding="utf-8")
        train_script_model([text], root / f"{script}.model", size, ScriptModelSettings(),
                           script_rules(script_rewrite(CATALOG, script)))
        models[script] = root / f"{script}.model"
    return models


def pieces(model, lines) -> list:
    processor = spm.SentencePieceProcessor(model_proto=model.SerializeToString()) \
        if isinstance(model, pb.ModelProto) else spm.SentencePieceProcessor(model_file=str(model))
    return processor.encode(lines, out_type=str)


def test_charsmap_decodes_and_recompiles_to_the_same_bytes(base):
    rules = decode_charsmap(base.normalizer_spec.precompiled_charsmap)
    assert len(rules) > 200_000 and rules[NNBSP] == " " and rules["\u0f0c"] == "\u0f0b"
    assert compile_rules(rules) == base.normalizer_spec.precompiled_charsmap


def test_script_models_are_deterministic_wherever_they_are_trained(tmp_path):
    for script, source in (("Tibt", "bo/nanhai.txt"), ("Mong", "mn/cmilbench.txt")):
        text = tmp_path / f"{script}.txt"
        text.write_text("\n".join(real_lines(source, 800)) + "\n", encoding="utf-8")
        for name in ("a", "b"):
            (tmp_path / name).mkdir(exist_ok=True)
            train_script_model([text], tmp_path / name / f"{script}.model", 1000, ScriptModelSettings(),
                               script_rules(script_rewrite(CATALOG, script)))
        assert (tmp_path / "a" / f"{script}.model").read_bytes() == (tmp_path / "b" / f"{script}.model").read_bytes()


def test_script_model_keeps_tibetan_as_written(tmp_path):
    text = tmp_path / "bo.txt"
    text.write_text("\n".join(real_lines("bo/nanhai.txt", 800)) + "\n", encoding="utf-8")
    train_script_model([text], tmp_path / "a.model", 1000, ScriptModelSettings(), {})
    processor = spm.SentencePieceProcessor(model_file=str(tmp_path / "a.model"))
    unusual = "ཀ\u0f72\u0f71 བཀྲ་ཤིས"  # vowel signs in an order NFC would change
    assert processor.decode(processor.encode(unusual)) == unusual


def test_too_small_corpus_caps_the_model_size(tmp_path):
    text = tmp_path / "za.txt"
    text.write_text("\n".join(real_lines("za/udhr.txt", 94)) + "\n", encoding="utf-8")
    stats = train_script_model([text], tmp_path / "za.model", 16000, ScriptModelSettings(), {})
    assert stats["capped"] and stats["vocab_size_requested"] == 16000 and stats["vocab_size"] < 16000
    assert spm.SentencePieceProcessor(model_file=str(tmp_path / "za.model")).get_piece_size() == stats["vocab_size"]


def test_score_zero_recipe_breaks_base_languages_and_the_safe_merge_does_not(base, script_models):
    """The nanhai-trained Tibetan model also learned pieces such as "1.", "4.", "192", "Kh",
    "（": appended with score 0 they beat XLM-R's pieces in Korean law text ("▁1." -> "▁" +
    "1."), Chinese and Uyghur; the safe merge adds none of them."""
    tibetan = load_proto(script_models["Tibt"])
    naive = pb.ModelProto()
    naive.CopyFrom(base)
    known = {p.piece for p in base.pieces}
    for piece in tibetan.pieces[3:]:
        if piece.piece not in known:
            naive.pieces.add(piece=piece.piece, score=0.0, type=piece.type)
    naive.trainer_spec.vocab_size = len(naive.pieces)
    safe, stats = merged({"Tibt": script_models["Tibt"]})
    assert stats["scripts"]["Tibt"]["touch_other_scripts"] > 0
    lines = real_lines("zh/peoples-daily-1998.txt", 300) + real_lines("ko/konlpy-law.txt", 300) \
        + real_lines("ug/gnome-ui.txt", 300)
    expected = pieces(base, lines)
    naive_changed = sum(a != b for a, b in zip(expected, pieces(naive, lines)))
    assert naive_changed >= 5
    assert pieces(safe, lines) == expected


def test_merge_covers_new_scripts_and_keeps_u202f(base, script_models):
    model, stats = merged(script_models)
    added = sum(s["added"] + s["fallback_characters"] for s in stats["scripts"].values())
    assert len(model.pieces) == len(base.pieces) + added
    assert len({p.piece for p in model.pieces}) == len(model.pieces)  # nothing added twice
    assert not [p.piece for p in model.pieces[len(base.pieces):] if any(ch.isspace() for ch in p.piece)]
    new_scores = [p.score for p in model.pieces[len(base.pieces):]]
    base_scores = [p.score for p in base.pieces[3:]]
    assert min(base_scores) <= min(new_scores) and max(new_scores) <= max(base_scores)
    processor = spm.SentencePieceProcessor(model_proto=model.SerializeToString())
    mongolian = [line for line in real_lines("mn/cmilbench.txt", 5000)[3000:] if NNBSP in line][:200]
    tibetan = real_lines("bo/nanhai.txt", 3300)[3000:]
    for lines, base_unk in ((mongolian, 0.3), (tibetan, 0.3)):
        ids = processor.encode(lines)
        unk = sum(i == 0 for line in ids for i in line) / sum(map(len, ids))
        assert unk < 0.005
        base_ids = spm.SentencePieceProcessor(model_file=str(BASE_SPM)).encode(lines)
        assert sum(i == 0 for line in base_ids for i in line) / sum(map(len, base_ids)) > base_unk
    encoded = processor.encode(mongolian[0], out_type=str)
    assert chr(0xF202F) in "".join(encoded) and NNBSP not in "".join(encoded)
    base_encoded = spm.SentencePieceProcessor(model_file=str(BASE_SPM)).encode(mongolian[0], out_type=str)
    assert chr(0xF202F) not in "".join(base_encoded)  # the base turns U+202F into a space


def test_prune_keeps_every_training_segmentation_and_writes_dict_and_id_map(tmp_path, base, script_models):
    model, _ = merged(script_models)
    merged_file = tmp_path / "merged.model"
    merged_file.write_bytes(model.SerializeToString())
    train = tmp_path / "train.txt"
    train.write_text("\n".join(real_lines("bo/nanhai.txt", 2000) + real_lines("mn/cmilbench.txt", 2000)
                               + real_lines("ug/maqal.txt", 2000)) + "\n", encoding="utf-8")
    settings = PruneSettings(chunk_mb=1)
    counts = count_pieces(merged_file, [train], settings)
    pruned, kept = prune(model, counts, settings)
    assert len(pruned.pieces) < len(model.pieces) // 2
    pruned_file = tmp_path / "pruned.model"
    pruned_file.write_bytes(pruned.SerializeToString())
    assert compare_tokenization(merged_file, pruned_file, [train], settings) == {"lines": 6000, "lines_tokenized_differently": 0}
    fairseq_ids.write_dict(pruned, counts[kept], tmp_path / "dict.txt")
    entries = (tmp_path / "dict.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(entries) == len(pruned.pieces) - 3
    assert sum(int(e.rsplit(" ", 1)[1]) for e in entries) == counts.sum() - counts[:3].sum()
    rows = fairseq_ids.id_map(pruned, base)
    base_symbols = fairseq_ids.symbols(base)
    assert rows[:4] == [(0, 0, "<s>"), (1, 1, "<pad>"), (2, 2, "</s>"), (3, 3, "<unk>")]
    assert rows[-1] == (len(pruned.pieces) + 1, len(base_symbols) - 1, "<mask>")
    assert all(base_symbols[b] == symbol for _, b, symbol in rows if b >= 0)
    assert sum(1 for _, b, _ in rows if b < 0) > 1000  # the new Tibetan and Mongolian pieces


def test_counting_is_the_same_in_any_number_of_chunks_and_workers(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text("\n".join(real_lines("zh/peoples-daily-1998.txt", 3000)) + "\n", encoding="utf-8")
    one = count_pieces(BASE_SPM, [train], PruneSettings(workers=1, chunk_mb=64))
    many = count_pieces(BASE_SPM, [train], PruneSettings(workers=2, chunk_mb=1))
    assert np.array_equal(one, many) and one.sum() > 100_000


def test_base_layout_is_checked(tmp_path, script_models):
    from common.errors import InputError

    with pytest.raises(InputError, match="XLM-R layout"):
        fairseq_ids.check_layout(load_proto(script_models["Tibt"]).__class__(), Path("x.model"))


def golden_tokenizer_lines(kind: str) -> list:
    rows = [line.split("\t") for line in (TESTS_DIR / "golden" / "tokenizer.tsv").read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    return [pytest.param(lang, unescape(text), id=f"{lang}: {why[:50]}") for lang, k, text, why in rows if k == kind]


@pytest.fixture(scope="module")
def merged_processor(script_models):
    model, _ = merged(script_models)
    return spm.SentencePieceProcessor(model_proto=model.SerializeToString())


@pytest.mark.parametrize("lang,text", golden_tokenizer_lines("base"))
def test_base_language_raw_lines_tokenize_exactly_as_xlmr(merged_processor, lang, text):
    base = spm.SentencePieceProcessor(model_file=str(BASE_SPM))
    assert merged_processor.encode(text) == base.encode(text)   # the base's pieces keep their ids


@pytest.mark.parametrize("lang,text", golden_tokenizer_lines("new"))
def test_raw_lines_of_new_scripts_tokenize_as_their_cleaned_form(merged_processor, lang, text):
    script = CATALOG.scripts[CATALOG.languages[lang].script]
    cleaned = Normalizer(script.normalization, script.keep_format)(text)
    ids = merged_processor.encode(text)
    assert merged_processor.unk_id() not in ids
    assert ids == merged_processor.encode(cleaned)
    assert merged_processor.decode(ids) == cleaned   # stand-ins decode to the characters they stand for
