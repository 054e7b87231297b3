"""fairseq-train command lines: the masked-LM arguments every run here shares, and the
continued multilingual pretraining run built on them (the stand-in base uses the same core).

The hyperparameters come from TrainSettings' fields, each of which names its flag
(`fairseq=` metadata): a new training option is a new field there, nothing here.
"""
from dataclasses import fields
from pathlib import Path

from training.profile import TrainSettings

PLUGIN = Path(__file__).resolve().parent / "fairseq_user_dir" / "cino_fairseq"
TASK = "multilingual_masked_lm_by_language"  # registered by the plugin
# The base's dropout too: fairseq's defaults would otherwise replace it, and the exports (and the
# random-init control, built from the initial checkpoint) take it from the checkpoint.
ARCH_FIELDS = ("encoder_layers", "encoder_embed_dim", "encoder_ffn_embed_dim", "encoder_attention_heads",
               "max_positions", "dropout", "attention_dropout")
# What every run here does the same way: fairseq's Adam with polynomial decay, JSON logs, one
# checkpoint kept, no per-epoch checkpoints, any batch size (tiny demo sets), long valid lines skipped.
FIXED = ["--criterion", "masked_lm", "--optimizer", "adam", "--lr-scheduler", "polynomial_decay",
         "--required-batch-size-multiple", 1, "--no-epoch-checkpoints", "--keep-interval-updates", 1,
         "--log-format", "json", "--skip-invalid-size-inputs-valid-test"]


def architecture(base_checkpoint: dict) -> list:
    """--arch and sizes of the base model, read from its checkpoint (xlmr.base, large or the stand-in)."""
    model = base_checkpoint["cfg"]["model"]
    get = (lambda k: getattr(model, k)) if not isinstance(model, dict) else model.__getitem__
    args = ["--arch", get("arch")]
    for name in ARCH_FIELDS:
        args += [f"--{name.replace('_', '-')}", get(name)]
    return args


def settings_args(s: TrainSettings, task_options: bool) -> list:
    """The flags of the fields that name one (`fairseq=`): the shared ones, or with
    `task_options` the multilingual task's own. A true bool is a bare flag, a false one absent."""
    args = []
    for f in fields(s):
        flags, value = f.metadata.get("fairseq"), getattr(s, f.name)
        if not flags or f.metadata.get("fairseq_task", False) != task_options:
            continue
        for flag in (flags,) if isinstance(flags, str) else flags:
            args += ([flag] if value else []) if isinstance(value, bool) else [flag, value]
    return args


def mlm_args(save_dir, s: TrainSettings) -> list:
    """Batch, masking, optimiser, schedule, logging and checkpointing of a masked-LM run."""
    return [*FIXED, *settings_args(s, task_options=False), "--save-dir", str(save_dir)]


def train_args(data_dir, save_dir, init_checkpoint, langs, replayed, arch: list, s: TrainSettings) -> list:
    """Continued multilingual MLM pretraining from `init_checkpoint` with per-language validation;
    `langs`: every language in `data_dir`, `replayed` those of them sampled at `replay_share`."""
    args = [
        str(data_dir), "--user-dir", str(PLUGIN), "--task", TASK,
        "--valid-subset", ",".join(["valid"] + [f"valid_{lang}" for lang in langs]),
        *settings_args(s, task_options=True), "--replay-langs", ",".join(replayed), *arch,
        "--finetune-from-model", str(init_checkpoint),  # used by fairseq on the first launch only
        *mlm_args(save_dir, s),
    ]
    return [str(a) for a in args]
