"""A stand-in base model: XLM-R's real vocabulary on a small RoBERTa, briefly pretrained.

XLM-R's weights cannot ship with the project, so demos and tests start from this: the
real `sentencepiece.bpe.model` and `dict.txt` (250,002 symbols), a RoBERTa with a few
small layers, trained with fairseq's `masked_lm` on the demo text of languages XLM-R
covers (zh, yue, ko, ug, kk) so its embeddings carry some signal. The result has
exactly the layout of fairseq's `xlmr.base` directory, so everything downstream runs the
same code path on the real model (set `[vocab] base_model_dir`).

It trains on the rows of the pieces its text uses only (about 30,000 of the 250,002): Adam's
dense step and the output softmax over every row were most of its time (2 layers x 64: 0.46 s
an update on 2 cores with all rows, 0.08 s with 40,000). The trained rows are then put back at
their XLM-R ids; the rows of pieces its text never uses keep fairseq's initialisation
(N(0, 0.02)) and an output bias UNSEEN_BIAS below the lowest trained one: with every row in the
softmax they would have been pushed down, and with bias 0 the ~220,000 of them would take most
of the probability (a base model's masked-LM loss three nats per token too high).
"""
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from common.errors import InputError
from common.settings import Settings, setting
from common.xlmr import (DICT_FILE, EMB_NORM, EMBED, ENCODER, LM_BIAS, LM_HEAD, LM_WEIGHT, MODEL_FILE, MODEL_PREFIX,
                         PAD, POSITIONS, RELEASE_2019_EMB_NORM, RELEASE_2019_PREFIX, SPECIALS, SPM_FILE)
from training import fairseq_run
from training.binarize import encode_file, preprocess
from training.command import mlm_args
from training.profile import TrainSettings

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


@dataclass(frozen=True)
class StandInSettings(Settings):
    layers: int = setting(2, "encoder layers of the stand-in base")
    embed_dim: int = setting(64, "its width")
    ffn_dim: int = setting(256, "its feed-forward width")
    heads: int = setting(2, "its attention heads")
    tokens_per_sample: int = setting(128, "tokens per sequence (also its positions)")
    batch_size: int = setting(8, "sequences per update")
    max_update: int = setting(600, "pretraining updates")
    lr: float = setting(0.001, "peak learning rate")
    warmup: int = setting(60, "warm-up updates")
    seed: int = setting(1, "fairseq's random seed")
    threads: int = setting(2, "CPU threads (they can change the last bits of the weights)")
    lines_per_language: int = setting(4000, "text per language; 600 updates of 8 x 128 tokens see about 600K "
                                            "tokens, about one pass over it")


def _head(files, lines: int, target: Path) -> Path:
    """The first `lines` lines of every file, concatenated."""
    with open(target, "wb") as out:
        for path in files:
            with open(path, "rb") as handle:
                for _, line in zip(range(lines), handle):
                    out.write(line)
    return target


def profile(s: StandInSettings) -> TrainSettings:
    """The stand-in's training settings in the form every masked-LM run here takes: RoBERTa's
    masking and Adam (Liu et al., 2019), one CPU process."""
    return replace(
        TrainSettings(), batch_size=s.batch_size, update_freq=1, world_size=1, effective_batch=s.batch_size,
        max_update=s.max_update, warmup=s.warmup, lr=s.lr, tokens_per_sample=s.tokens_per_sample, mask_prob=0.15,
        adam_eps=1e-6, adam_betas="(0.9,0.98)", save_interval_updates=s.max_update,
        validate_interval_updates=s.max_update, log_interval=10, cpu=True, fp16=False, num_workers=0,
        threads=s.threads, seed=s.seed)


def train_args(data_dir, save_dir, s: StandInSettings) -> list:
    """fairseq's masked_lm task on a freshly initialised RoBERTa of the stand-in's size."""
    args = [str(data_dir), "--task", "masked_lm", "--arch", "roberta_base", "--encoder-layers", s.layers,
            "--encoder-embed-dim", s.embed_dim, "--encoder-ffn-embed-dim", s.ffn_dim,
            "--encoder-attention-heads", s.heads, "--max-positions", s.tokens_per_sample,
            *mlm_args(save_dir, profile(s))]
    return [str(a) for a in args]


def dict_symbols(dictionary: Path) -> int:
    """fairseq symbols of a masked-LM model over dict.txt: the specials, its lines, <mask>."""
    with open(dictionary, encoding="utf-8") as handle:
        return len(SPECIALS) + sum(1 for _ in handle) + 1


def used_rows(dictionary: Path, pieces_files, target: Path) -> list:
    """Write `target`, the lines of dict.txt `dictionary` whose piece the pieces files use (in its
    order); return the full model's fairseq id of every row of a model over `target`: the
    specials, the used lines, <mask>."""
    seen = set()
    for path in pieces_files:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                seen.update(line.split())
    ids = list(range(len(SPECIALS)))
    with open(dictionary, encoding="utf-8") as lines, open(target, "w", encoding="utf-8", newline="\n") as out:
        for number, line in enumerate(lines):
            if line.split(" ", 1)[0] in seen:
                out.write(line)
                ids.append(len(SPECIALS) + number)
    return ids + [dict_symbols(dictionary) - 1]


UNSEEN_BIAS = 10.0   # nats below the lowest trained bias: 220,000 such rows share about e^-10 x 220,000 = 1%


def all_rows(weight, bias, used: list, size: int, seed: int):
    """(embedding, output bias) over all `size` rows: the trained rows at their ids `used`, the rest
    initialised as fairseq does (N(0, 0.02), the padding row 0) with a bias UNSEEN_BIAS below the
    lowest trained one."""
    import torch

    full = torch.randn(size, weight.shape[1], generator=torch.Generator().manual_seed(seed), dtype=weight.dtype) * 0.02
    full[PAD] = 0
    full_bias = torch.full((size,), float(bias.min()) - UNSEEN_BIAS, dtype=bias.dtype)
    index = torch.tensor(used)
    full[index], full_bias[index] = weight, bias
    return full, full_bias


def build_standin(vocab_dir: Path, train_files, valid_files, out_dir: Path, scratch: Path, settings: StandInSettings,
                  on_record=None) -> dict:
    """Write model.pt, dict.txt and sentencepiece.bpe.model into out_dir; returns stats."""
    spm_model, dictionary = vocab_dir / SPM_FILE, vocab_dir / DICT_FILE
    for required in (spm_model, dictionary):
        if not required.is_file():
            raise InputError(required, "missing from the base vocabulary directory",
                             "point [vocab] base_vocab_dir at XLM-R's sentencepiece.bpe.model and dict.txt")
    max_tokens = settings.tokens_per_sample - 2
    encoded = {}
    for split, files in (("train", train_files), ("valid", valid_files)):
        raw = _head(files, settings.lines_per_language, scratch / f"{split}.txt")
        encoded[split] = encode_file(spm_model, raw, scratch / f"{split}.pieces", max_tokens)
    data = scratch / "data-bin"
    used = used_rows(dictionary, [scratch / "train.pieces", scratch / "valid.pieces"], scratch / DICT_FILE)
    preprocess(scratch / DICT_FILE, data, scratch / "train.pieces", scratch / "valid.pieces")
    records = []

    def record(kind, values):
        records.append((kind, values))
        if on_record:
            on_record(kind, values)

    log = scratch / "train.log"
    env = {"OMP_NUM_THREADS": str(settings.threads), "MKL_NUM_THREADS": str(settings.threads)}
    code = fairseq_run.run(train_args(data, scratch / "checkpoints", settings), log, env, record)
    if code != 0:
        raise RuntimeError(f"fairseq-train of the stand-in base model failed ({code}): {fairseq_run.tail(log)}")
    from training import checkpoint  # torch: imported when used, so importing settings stays light

    trained = checkpoint.portable(checkpoint.load(scratch / "checkpoints" / "checkpoint_last.pt"), scratch)
    weight, bias = all_rows(trained["model"][EMBED], trained["model"][LM_BIAS], used, dict_symbols(dictionary),
                            settings.seed)
    checkpoint.save(checkpoint.replace_vocabulary(trained, weight, bias), out_dir / MODEL_FILE)
    shutil.copy(dictionary, out_dir / DICT_FILE)
    shutil.copy(spm_model, out_dir / SPM_FILE)
    losses = [float(v["loss"]) for kind, v in records if kind == "train_inner"]
    valid = [float(v["valid_loss"]) for kind, v in records if kind == "valid"]
    return {"encoded": encoded, "updates": settings.max_update, "trained_rows": len(used),
            "train_loss_first": losses[0] if losses else None,
            "train_loss_last": losses[-1] if losses else None, "valid_loss": valid[-1] if valid else None}


# fairseq's released XLM-R architectures (xlmr.base.tar.gz, xlmr.large.tar.gz).
XLMR_SIZES = {
    "base": {"arch": "roberta_base", "encoder_layers": 12, "encoder_embed_dim": 768, "encoder_ffn_embed_dim": 3072,
             "encoder_attention_heads": 12, "max_positions": 512},
    "large": {"arch": "roberta_large", "encoder_layers": 24, "encoder_embed_dim": 1024, "encoder_ffn_embed_dim": 4096,
              "encoder_attention_heads": 16, "max_positions": 512},
}


def real_size(template: dict, size: str, seed: int = 1) -> dict:
    """A randomly initialised checkpoint with exactly xlmr.base's or xlmr.large's architecture and
    the vocabulary of `template` (a stand-in base checkpoint, XLM-R's 250,002 symbols), in the
    current fairseq format: for measuring every model stage at the real size without the real
    weights. N(0, 0.02) weights as fairseq initialises them, zero biases, unit layer norms."""
    import argparse

    import torch

    shape = XLMR_SIZES[size]
    width, ffn, vocab = shape["encoder_embed_dim"], shape["encoder_ffn_embed_dim"], \
        template["model"][EMBED].shape[0]
    generator = torch.Generator().manual_seed(seed)
    normal = lambda *dims: torch.randn(*dims, generator=generator) * 0.02  # noqa: E731
    norm = lambda prefix: {f"{prefix}.weight": torch.ones(width), f"{prefix}.bias": torch.zeros(width)}  # noqa: E731
    linear = lambda prefix, out, inp: {f"{prefix}.weight": normal(out, inp), f"{prefix}.bias": torch.zeros(out)}  # noqa: E731
    embed = normal(vocab, width)
    positions = normal(shape["max_positions"] + 2, width)
    positions[PAD] = 0   # the padding position
    state = {EMBED: embed, POSITIONS: positions, **norm(f"{ENCODER}{EMB_NORM}")}
    for i in range(shape["encoder_layers"]):
        layer = f"{ENCODER}layers.{i}."
        for projection in ("q_proj", "k_proj", "v_proj", "out_proj"):
            state.update(linear(f"{layer}self_attn.{projection}", width, width))
        state.update({**norm(f"{layer}self_attn_layer_norm"), **linear(f"{layer}fc1", ffn, width),
                      **linear(f"{layer}fc2", width, ffn), **norm(f"{layer}final_layer_norm")})
    state.update({LM_WEIGHT: embed, LM_BIAS: torch.zeros(vocab),
                  **linear(f"{LM_HEAD}dense", width, width), **norm(f"{LM_HEAD}layer_norm")})
    args = argparse.Namespace(**{**vars(template["cfg"]["model"]), **shape, "max_source_positions": shape["max_positions"],
                                 "tokens_per_sample": shape["max_positions"], "_name": shape["arch"]})
    return {**template, "cfg": {**template["cfg"], "model": args}, "model": state,
            "optimizer_history": [{**template["optimizer_history"][-1], "num_updates": 0}]}


def as_2019_release(checkpoint: dict) -> dict:
    """A current-format checkpoint laid out as fairseq's 2019 XLM-R release is: an `args`
    Namespace and no `cfg`, weights under `decoder.*` with `emb_layer_norm` (save it with
    torch.save(..., _use_new_zipfile_serialization=False), the legacy serialization)."""
    state = {}
    for key, value in checkpoint["model"].items():
        key = RELEASE_2019_PREFIX + key[len(MODEL_PREFIX):] if key.startswith(MODEL_PREFIX) else key
        state[key.replace(f".{EMB_NORM}.", f".{RELEASE_2019_EMB_NORM}.")] = value
    return {"args": checkpoint["cfg"]["model"], "model": state, "optimizer_history": checkpoint["optimizer_history"],
            "extra_state": {}, "last_optimizer_state": None}
