"""The language sampling plan of fairseq's `multilingual_masked_lm`, computed and logged.

fairseq counts each language's data in token blocks (TokenBlockDataset with block size
tokens_per_sample - 1 and the sample break mode), takes p_i = n_i / sum(n), smooths
q_i = p_i^alpha / sum_j p_j^alpha, and resamples every language each epoch to
q_i * sum(n) blocks (ratio q_i * sum(n) / n_i; with replacement when upsampled). Its own
log line for these numbers prints nothing, so this module computes them the same way, on
the same binarised data, and adds what a user plans with: the passes over each language's
data that `max_update` updates of `batch` sequences will make.

Replay. Languages the base already knows (the evaluation's source language, zh, and any
`[train] replay_langs`) can be trained beside the run's own, so that continued pretraining
does not make the model forget them: they get a fixed share of the sequences (`replay_share`),
alpha-smoothed among themselves, and the run's languages the rest, alpha-smoothed among
themselves. Our fairseq plugin task samples with exactly these q (`probabilities`).
"""
import numpy as np

from common.xlmr import EOS, PAD

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


def smoothed(counts, alpha: float) -> np.ndarray:
    """q_i = p_i^alpha / sum_j p_j^alpha with p_i = n_i / sum(n)."""
    counts = np.asarray(counts, dtype=float)
    prob = counts / counts.sum()
    weighted = prob ** alpha
    return weighted / weighted.sum()


def probabilities(blocks: dict, alpha: float, replay=(), share: float = 0.0) -> dict:
    """{language: q}: alpha-smoothed over the languages not in `replay`, scaled to 1 - share, and
    over those in `replay`, scaled to share (plain alpha smoothing without replayed languages)."""
    replayed = sorted(lang for lang in blocks if lang in replay)
    own = sorted(lang for lang in blocks if lang not in replay)
    if not replayed or not own or share <= 0:
        return dict(zip(sorted(blocks), smoothed([blocks[lang] for lang in sorted(blocks)], alpha)))
    q = dict(zip(own, (1 - share) * smoothed([blocks[lang] for lang in own], alpha)))
    q.update(zip(replayed, share * smoothed([blocks[lang] for lang in replayed], alpha)))
    return q


def plan(blocks: dict, alpha: float, updates: int, sequences_per_update: int, replay=(), share: float = 0.0) -> dict:
    """Per language: blocks n_i, p_i, q_i, up/down-sampling ratio, blocks per epoch after
    resampling, and the expected passes over its data in `updates` updates; replayed languages
    share `share` of the sequences (see above)."""
    langs = sorted(blocks)
    counts = np.array([blocks[lang] for lang in langs], dtype=float)
    p = counts / counts.sum()
    sampled_q = probabilities(blocks, alpha, replay, share)
    q = np.array([sampled_q[lang] for lang in langs])
    ratio = q * counts.sum() / counts
    sampled = updates * sequences_per_update
    rows = {}
    for i, lang in enumerate(langs):
        rows[lang] = {"blocks": int(counts[i]), "p": float(p[i]), "q": float(q[i]), "ratio": float(ratio[i]),
                      "blocks_per_epoch": int(np.ceil(counts[i] * ratio[i])),
                      "expected_passes": float(q[i] * sampled / counts[i]), "replayed": lang in replay}
    return {"alpha": alpha, "updates": updates, "sequences_per_update": sequences_per_update,
            "replay_share": share if any(lang in replay for lang in langs) else 0.0, "languages": rows}


def count_blocks(data_prefix, tokens_per_sample: int, break_mode: str) -> int:
    """Blocks of one binarised split exactly as multilingual_masked_lm builds them."""
    from fairseq.data import TokenBlockDataset
    from fairseq.data.indexed_dataset import MMapIndexedDataset

    dataset = MMapIndexedDataset(str(data_prefix))
    blocks = TokenBlockDataset(dataset, dataset.sizes, tokens_per_sample - 1, pad=PAD, eos=EOS, break_mode=break_mode)
    return len(blocks)
