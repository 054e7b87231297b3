"""Rows of a new embedding matrix (and output bias) after the vocabulary changed.

Kept tokens keep their exact rows. New tokens, by strategy:
- `mean_subtokens`: mean of the base rows of the piece's base tokenization, ignoring
  <unk> (a Tibetan piece the base splits into known characters starts near them); pieces
  the base cannot tokenize at all fall back to `script_mean`;
- `script_mean`: a sample from a Gaussian with the mean and covariance of the base
  embeddings (for scripts the base never saw: plausible, not informative);
- `random`: N(0, 0.02), fairseq's own initialisation (the CINO-like baseline).
Output bias: the mean bias of the sub-tokens, or the mean bias of the base.
"""
from dataclasses import dataclass

import sentencepiece as spm

from common.settings import Settings, setting
from common.xlmr import UNK
from vocab.fairseq_ids import fairseq_id
from vocab.pieces import SPACE

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


STRATEGIES = ("mean_subtokens", "script_mean", "random")


@dataclass(frozen=True)
class EmbeddingSettings(Settings):
    embedding_init: str = setting("mean_subtokens", "how the embedding rows of new pieces start: the mean of "
                                  "the base rows of their base tokenization, a sample with the base rows' mean "
                                  "and covariance, or N(0, 0.02)", choices=STRATEGIES)
    seed: int = setting(1234, "seed of the sampled and random rows")


def base_tokenizer(base_spm_file):
    """symbol -> base fairseq ids of the symbol's text: how the base model read a new piece.
    A piece without a leading word boundary loses the dummy prefix SentencePiece adds."""
    processor = spm.SentencePieceProcessor(model_file=str(base_spm_file))
    space = processor.piece_to_id(SPACE)

    def base_ids_of(symbol: str) -> list:
        ids = processor.encode(symbol.replace(SPACE, " "))
        if not symbol.startswith(SPACE) and ids and ids[0] == space:
            ids = ids[1:]
        return [fairseq_id(i) for i in ids]

    return base_ids_of


def _gaussian_sampler(weight, generator):
    import torch  # here, not at the top: the settings above are read by every Luigi worker

    mean = weight.mean(dim=0)
    centred = weight - mean
    covariance = centred.T @ centred / (weight.shape[0] - 1)
    jitter = 1e-6 * torch.eye(weight.shape[1], dtype=weight.dtype)
    factor = torch.linalg.cholesky(covariance + jitter)
    return lambda: mean + factor @ torch.randn(weight.shape[1], generator=generator, dtype=weight.dtype)


def new_rows(weight, bias, rows: list, strategy: str, base_ids_of, seed: int):
    """(new weight, new bias, stats) for id map `rows` [(new_id, base_id or -1, symbol)]; weight
    and bias are the base's torch tensors. `base_ids_of(symbol)` gives the base fairseq ids of a
    new piece's text."""
    import torch

    if strategy not in STRATEGIES:
        raise ValueError(f"unknown embedding strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    generator = torch.Generator().manual_seed(seed)
    out_weight = torch.empty(len(rows), weight.shape[1], dtype=weight.dtype)
    out_bias = torch.empty(len(rows), dtype=bias.dtype)
    sample = _gaussian_sampler(weight, generator) if strategy != "random" else None
    mean_bias = bias.mean()
    kept = torch.tensor([(new_id, base_id) for new_id, base_id, _ in rows if base_id >= 0], dtype=torch.long)
    out_weight[kept[:, 0]], out_bias[kept[:, 0]] = weight[kept[:, 1]], bias[kept[:, 1]]
    stats = {"kept": len(kept), "new": 0, "from_subtokens": 0, "from_gaussian": 0, "random": 0}
    for new_id, base_id, symbol in rows:
        if base_id >= 0:
            continue
        stats["new"] += 1
        if strategy == "random":
            out_weight[new_id] = torch.randn(weight.shape[1], generator=generator, dtype=weight.dtype) * 0.02
            out_bias[new_id] = 0.0
            stats["random"] += 1
            continue
        known = [i for i in base_ids_of(symbol) if i != UNK] if strategy == "mean_subtokens" else []
        if known:
            out_weight[new_id] = weight[known].mean(dim=0)
            out_bias[new_id] = bias[known].mean()
            stats["from_subtokens"] += 1
        else:
            out_weight[new_id] = sample()
            out_bias[new_id] = mean_bias
            stats["from_gaussian"] += 1
    return out_weight, out_bias, stats
