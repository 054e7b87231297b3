"""fairseq-train command lines: the masked-LM arguments every run here shares, and the
continued multilingual pretraining run built on them (the stand-in base uses the same core)."""
from pathlib import Path

from training.profile import TrainSettings

PLUGIN = Path(__file__).resolve().parent / "fairseq_user_dir" / "cino_fairseq"
TASK = "multilingual_masked_lm_by_language"  # registered by the plugin
ARCH_FIELDS = ("encoder_layers", "encoder_embed_dim", "encoder_ffn_embed_dim", "encoder_attention_heads",
               "max_positions")


def architecture(base_checkpoint: dict) -> list:
    """--arch and sizes of the base model, read from its checkpoint (xlmr.base, large or the stand-in)."""
    model = base_checkpoint["cfg"]["model"]
    get = (lambda k: getattr(model, k)) if not isinstance(model, dict) else model.__getitem__
    args = ["--arch", get("arch")]
    for name in ARCH_FIELDS:
        args += [f"--{name.replace('_', '-')}", get(name)]
    return args


def mlm_args(save_dir, s: TrainSettings) -> list:
    """Batch, masking, optimiser, schedule, logging and checkpointing of a masked-LM run."""
    args = [
        "--criterion", "masked_lm", "--mask-prob", s.mask_prob,
        "--tokens-per-sample", s.tokens_per_sample, "--sample-break-mode", s.sample_break_mode,
        "--batch-size", s.batch_size, "--update-freq", s.update_freq, "--required-batch-size-multiple", 1,
        "--optimizer", "adam", "--adam-betas", f"({s.adam_beta1},{s.adam_beta2})", "--adam-eps", s.adam_eps,
        "--clip-norm", s.clip_norm, "--weight-decay", s.weight_decay,
        "--lr", s.lr, "--lr-scheduler", "polynomial_decay", "--warmup-updates", s.warmup,
        "--total-num-update", s.max_update, "--max-update", s.max_update,
        "--save-dir", str(save_dir), "--no-epoch-checkpoints", "--save-interval-updates", s.save_interval_updates,
        "--keep-interval-updates", 1, "--validate-interval-updates", s.validate_interval_updates,
        "--log-format", "json", "--log-interval", s.log_interval, "--seed", s.seed,
        "--num-workers", s.num_workers, "--skip-invalid-size-inputs-valid-test",
    ]
    if s.cpu:
        args.append("--cpu")
    if s.fp16:
        args.append("--fp16")
    return args


def train_args(data_dir, save_dir, init_checkpoint, langs, arch: list, s: TrainSettings) -> list:
    """Continued multilingual MLM pretraining from `init_checkpoint` with per-language validation."""
    args = [
        str(data_dir), "--user-dir", str(PLUGIN), "--task", TASK,
        "--valid-subset", ",".join(["valid"] + [f"valid_{lang}" for lang in langs]),
        "--multilang-sampling-alpha", s.alpha, *arch,
        "--finetune-from-model", str(init_checkpoint),  # used by fairseq on the first launch only
        *mlm_args(save_dir, s),
    ]
    return [str(a) for a in args]
