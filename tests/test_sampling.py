"""The alpha = 0.7 sampling plan: the formula on CINO's corpus sizes, the replay share, and
equality with what the task fairseq trains with computes on the same binarised data."""
import argparse

import numpy as np
import pytest

from tests.helpers import in_env
from training import sampling
from training.profile import TrainSettings

# CINO's pretraining corpus, tokens per language (Yang et al., 2022).
CINO_TOKENS = {"bo": 130e6, "kk": 238e6, "ko": 170e6, "mn": 337e6, "yue": 276e6, "za": 23e6, "zh": 1.2e9}
# q_i = p_i^0.7 / sum_j p_j^0.7, worked out once by hand from the sizes above.
CINO_Q = {"bo": 0.0806, "kk": 0.1230, "ko": 0.0972, "mn": 0.1569, "yue": 0.1365, "za": 0.0240, "zh": 0.3818}


def test_formula_on_cino_corpus_sizes():
    result = sampling.plan(CINO_TOKENS, alpha=0.7, updates=150_000, sequences_per_update=4096)
    rows = result["languages"]
    assert {lang: round(row["q"], 4) for lang, row in rows.items()} == CINO_Q
    assert sum(row["q"] for row in rows.values()) == pytest.approx(1.0)
    assert rows["za"]["ratio"] == pytest.approx(2.474, abs=1e-3)  # Zhuang, the smallest, upsampled most
    assert rows["zh"]["ratio"] == pytest.approx(0.755, abs=1e-3)  # Chinese downsampled
    assert [lang for lang, _ in sorted(rows.items(), key=lambda kv: kv[1]["q"])] == \
        [lang for lang, _ in sorted(CINO_TOKENS.items(), key=lambda kv: kv[1])]  # order kept
    passes = rows["za"]["expected_passes"]
    assert passes == pytest.approx(0.0240 * 150_000 * 4096 / 23e6, rel=5e-3)  # q_za * sequences / n_za


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_alpha_extremes(alpha):
    q = sampling.smoothed([10, 30, 60], alpha)
    expected = [1 / 3] * 3 if alpha == 0.0 else [0.1, 0.3, 0.6]
    assert np.allclose(q, expected)


def test_replayed_languages_get_their_share_and_the_others_the_rest():
    q = sampling.probabilities({"bo": 100, "mn": 300, "zh": 10_000, "yue": 2_000}, 0.7, ("zh", "yue"), 0.2)
    assert q["zh"] + q["yue"] == pytest.approx(0.2) and q["bo"] + q["mn"] == pytest.approx(0.8)
    assert q["bo"] / q["mn"] == pytest.approx((100 / 300) ** 0.7) and q["yue"] / q["zh"] == pytest.approx(0.2 ** 0.7)
    plain = sampling.probabilities({"bo": 100, "mn": 300}, 0.7, ("zh",), 0.2)   # nothing replayed: alpha alone
    assert plain == pytest.approx(dict(zip(("bo", "mn"), sampling.smoothed([100, 300], 0.7))))
    assert sampling.probabilities({"bo": 100, "zh": 300}, 0.7, ("zh",), 0.0) == \
        pytest.approx(dict(zip(("bo", "zh"), sampling.smoothed([100, 300], 0.7))))


def test_plan_equals_what_fairseq_computes(mini_build):
    """Load the training data-bin with the task fairseq trains with (multilingual_masked_lm and the
    replay share of our plugin) and compare its per-language block counts, probabilities and
    resampled sizes with the plan the pipeline wrote."""
    from fairseq import utils

    from pipeline import ContinuePretraining, SamplingPlan, config
    from training.command import PLUGIN

    with in_env(mini_build["env"]):
        data = ContinuePretraining(langs="bo,mn,ug").run_dir() / "data-bin"
        plan = SamplingPlan(langs="bo,mn,ug").output().stats()
        settings = config.settings(TrainSettings)
    utils.import_user_module(argparse.Namespace(user_dir=str(PLUGIN)))
    from cino_fairseq import MultilingualMaskedLMByLanguage

    assert [lang for lang, row in plan["languages"].items() if row["replayed"]] == ["zh"]
    fairseq_task = MultilingualMaskedLMByLanguage.setup_task(_args(data, settings))
    fairseq_task.load_dataset("train")
    resampled = fairseq_task.datasets["train"].dataset.datasets  # SortDataset > ConcatDataset > one per language
    for (lang, row), dataset in zip(sorted(plan["languages"].items()), resampled):
        assert len(dataset.dataset) == row["blocks"]
        assert len(dataset) == row["blocks_per_epoch"]
    counts = np.array([len(d.dataset) for d in resampled], dtype=float)
    assert np.allclose(fairseq_task._get_sample_prob(counts), [row["q"] for _, row in sorted(plan["languages"].items())])


def _args(data, settings):
    return argparse.Namespace(replay_langs="zh", replay_share=settings.replay_share,
        data=str(data), sample_break_mode=settings.sample_break_mode, tokens_per_sample=settings.tokens_per_sample,
        mask_prob=settings.mask_prob, leave_unmasked_prob=0.1, random_token_prob=0.1,
        freq_weighted_replacement=False, mask_whole_words=False, multilang_sampling_alpha=settings.alpha,
        seed=settings.seed, dataset_impl="mmap", train_subset="train", valid_subset="valid", bpe=None)
