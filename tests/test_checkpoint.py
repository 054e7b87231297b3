"""Checkpoint surgery: strict fairseq load, kept rows untouched (same MLM logits on
base-covered text), and each initialisation strategy for the new rows."""
import shutil

import pytest
import torch

from pipeline.manifest import load_catalog
from pipeline.text.normalize import script_rewrite
from tests.helpers import MANIFESTS, real_lines
from training import checkpoint
from vocab import fairseq_ids
from vocab.embeddings import base_tokenizer, new_rows
from vocab.merge import merge_vocabulary
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
    weight, bias, stats = new_rows(base["model"][checkpoint.EMBED], base["model"][checkpoint.LM_BIAS], rows,
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
            assert torch.equal(new_state[checkpoint.EMBED][new_id], base_state[checkpoint.EMBED][base_id])
    assert new_state[checkpoint.LM_WEIGHT].data_ptr() == new_state[checkpoint.EMBED].data_ptr()  # still tied
    hub = checkpoint.hub_model(tmp_path / "model")  # fairseq loads state dicts strictly
    assert len(hub.task.source_dictionary) == len(rows)
    if strategy == "mean_subtokens":
        new_id, _, symbol = next(r for r in rows if r[1] < 0 and [i for i in base_ids_of(r[2]) if i != 3])
        known = [i for i in base_ids_of(symbol) if i != 3]
        assert torch.allclose(weight[new_id], base_state[checkpoint.EMBED][known].mean(dim=0))


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
