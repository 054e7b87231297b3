"""Checkpoint surgery: strict fairseq load, kept rows untouched (same MLM logits on
base-covered text), and each initialisation strategy for the new rows."""
import shutil

import pytest
import torch

from common.xlmr import EMBED, LM_BIAS, LM_WEIGHT
from corpus.manifest import load_catalog
from tests.helpers import MANIFESTS, real_lines
from training import checkpoint
from vocab import fairseq_ids
from vocab.embeddings import base_tokenizer, new_rows
from vocab.merge import merge_vocabulary
from vocab.normalizer import script_rewrite
from vocab.pieces import load_proto
from vocab.prune import PruneSettings, count_pieces, prune
from vocab.script_model import ScriptModelSettings, train_script_model

CHINESE = real_lines("zh/peoples-daily-1998.txt", 5)


@pytest.fixture(scope="module")
def vocabulary(tiny_base, tmp_path_factory):
    """Pruned vocabulary: the tiny base's (XLM-R's) pieces plus a small Tibetan model."""
    root = tmp_path_factory.mktemp("surgery")
    text = root / "bo.txt"
    text.write_text("\n".join(real_lines("bo/nanhai.txt", 600)) + "\n", encoding="utf-8")
    train_script_model([text], root / "bo.model", 800, ScriptModelSettings(), {})
    base = load_proto(tiny_base / "sentencepiece.bpe.model")
    merged, _ = merge_vocabulary(tiny_base / "sentencepiece.bpe.model", {"Tibt": load_proto(root / "bo.model")},
                                 {"Tibt": script_rewrite(load_catalog(MANIFESTS), "Tibt")})
    (root / "merged.model").write_bytes(merged.SerializeToString())
    train = root / "train.txt"
    train.write_text("\n".join(real_lines("bo/nanhai.txt", 300) + real_lines("zh/peoples-daily-1998.txt", 300))
                     + "\n", encoding="utf-8")
    counts = count_pieces(root / "merged.model", [train], PruneSettings(workers=1))
    pruned, kept = prune(merged, counts, PruneSettings())
    (root / "pruned.model").write_bytes(pruned.SerializeToString())
    fairseq_ids.write_dict(pruned, counts[kept], root / "dict.txt")
    return root, fairseq_ids.id_map(pruned, base)


def surgery(tiny_base, vocabulary, strategy, target):
    root, rows = vocabulary
    base_ids_of = base_tokenizer(tiny_base / "sentencepiece.bpe.model")
    base = checkpoint.load(tiny_base / "model.pt")
    weight, bias, stats = new_rows(base["model"][EMBED], base["model"][LM_BIAS], rows,
                                   strategy, base_ids_of, seed=7)
    target.mkdir()
    checkpoint.save(checkpoint.replace_vocabulary(base, weight, bias), target / "model.pt")
    shutil.copy(root / "dict.txt", target / "dict.txt")
    shutil.copy(root / "pruned.model", target / "sentencepiece.bpe.model")
    return weight, bias, stats, base_ids_of


@pytest.mark.parametrize("strategy", ["mean_subtokens", "script_mean", "random"])
def test_surgered_checkpoint_loads_strictly_with_unchanged_kept_rows(tiny_base, vocabulary, tmp_path, strategy):
    _, rows = vocabulary
    weight, bias, stats, base_ids_of = surgery(tiny_base, vocabulary, strategy, tmp_path / "model")
    assert stats["kept"] + stats["new"] == len(rows) and stats["new"] > 100
    assert torch.isfinite(weight).all() and torch.isfinite(bias).all()
    base_state = checkpoint.load(tiny_base / "model.pt")["model"]
    new_state = checkpoint.load(tmp_path / "model" / "model.pt")["model"]
    for new_id, base_id, _ in rows:
        if base_id >= 0:
            assert torch.equal(new_state[EMBED][new_id], base_state[EMBED][base_id])
    assert new_state[LM_WEIGHT].data_ptr() == new_state[EMBED].data_ptr()  # still tied
    hub = checkpoint.hub_model(tmp_path / "model")  # fairseq loads state dicts strictly
    assert len(hub.task.source_dictionary) == len(rows)
    if strategy == "mean_subtokens":
        new_id, _, symbol = next(r for r in rows if r[1] < 0 and [i for i in base_ids_of(r[2]) if i != 3])
        known = [i for i in base_ids_of(symbol) if i != 3]
        assert torch.allclose(weight[new_id], base_state[EMBED][known].mean(dim=0))


def test_same_mlm_logits_as_the_base_for_every_kept_token(tiny_base, vocabulary, tmp_path):
    _, rows = vocabulary
    surgery(tiny_base, vocabulary, "mean_subtokens", tmp_path / "model")
    base, new = checkpoint.hub_model(tiny_base), checkpoint.hub_model(tmp_path / "model")
    kept = [(n, b) for n, b, _ in rows if b >= 0]
    new_cols, base_cols = torch.tensor([n for n, _ in kept]), torch.tensor([b for _, b in kept])
    base_of = dict(kept)
    for line in CHINESE:
        base_tokens, new_tokens = base.encode(line), new.encode(line)
        assert [base_of[int(t)] for t in new_tokens] == base_tokens.tolist()  # same pieces, mapped ids
        with torch.no_grad():
            base_logits = base.model(base_tokens.unsqueeze(0))[0][0]
            new_logits = new.model(new_tokens.unsqueeze(0))[0][0]
        assert torch.allclose(new_logits[:, new_cols], base_logits[:, base_cols], atol=1e-5)


def test_a_real_size_stand_in_has_xlmr_base_architecture_in_both_layouts(tiny_base, tmp_path):
    """RealSizeBase's model: exactly xlmr.base's shapes on XLM-R's vocabulary; fairseq loads it
    strictly, and its 2019-release layout reads back (load_base) to the same weights."""
    from training.standin import as_2019_release, real_size

    model = real_size(checkpoint.load(tiny_base / "model.pt"), "base")
    state = model["model"]
    assert state[EMBED].shape == (250_002, 768)
    assert len({key.split(".")[3] for key in state if ".layers." in key}) == 12
    assert state["encoder.sentence_encoder.layers.11.fc1.weight"].shape == (3072, 768)
    parameters = sum(t.numel() for key, t in state.items() if key != LM_WEIGHT)   # tied to EMBED
    # transformers' xlm-roberta-base has 278,043,648: the same encoder, plus a pooler (590,592) and a
    # token-type row (768) fairseq lacks, less the LM head's dense, norm and bias (842,130)
    assert parameters == 278_043_648 - 590_592 - 768 + 842_130
    current, release = tmp_path / "current", tmp_path / "release.pt"
    current.mkdir()
    checkpoint.save(model, current / "model.pt")
    for name in ("dict.txt", "sentencepiece.bpe.model"):
        shutil.copy(tiny_base / name, current / name)
    hub = checkpoint.hub_model(current)   # strict state-dict load into fairseq's roberta_base
    assert sum(1 for _ in hub.model.encoder.sentence_encoder.layers) == 12
    torch.save(as_2019_release(model), release, _use_new_zipfile_serialization=False)
    upgraded = checkpoint.load_base(release)["model"]
    assert sorted(upgraded) == sorted(state)
    assert all(torch.equal(upgraded[key], state[key]) for key in state)


def test_the_stand_in_trains_the_rows_its_text_uses_and_keeps_xlmrs_250002(tiny_base):
    """Trained on the rows of the pieces in its text, then laid out over XLM-R's whole vocabulary:
    those rows at their XLM-R ids, every other row as fairseq initialises it; fairseq loads it."""
    from training.standin import StandInSettings, all_rows, used_rows

    scratch = tiny_base.parent / "scratch"
    used = used_rows(tiny_base / "dict.txt", [scratch / "train.pieces", scratch / "valid.pieces"], scratch / "check.txt")
    state = checkpoint.load(tiny_base / "model.pt")["model"]
    assert state[EMBED].shape == (250_002, 16) and state[LM_BIAS].shape == (250_002,)
    assert 3_000 < len(used) < 50_000 and used[-1] == 250_001   # <mask> last
    untrained, _ = all_rows(torch.zeros(len(used), 16), torch.zeros(len(used)), used, 250_002, StandInSettings().seed)
    others = torch.ones(250_002, dtype=torch.bool)
    others[torch.tensor(used)] = False
    assert torch.equal(state[EMBED][others], untrained[others])
    lowest = state[LM_BIAS][torch.tensor(used)].min()
    assert torch.allclose(state[LM_BIAS][others], lowest - 10)   # far below every trained row
    assert (state[EMBED][torch.tensor(used)] != untrained[torch.tensor(used)]).any(dim=1).all()   # trained
    model = checkpoint.hub_model(tiny_base)
    assert len(model.task.source_dictionary) == 250_002
    assert model.fill_mask("中国 <mask>", topk=1)
