"""Training hyperparameters: one field each, with its default and its fairseq-train flag.

The defaults are CINO's recipe for its base model (Yang et al., 2022): effective batch 4,096
sequences of 256 tokens (32 per GPU x update_freq 16 x 8 GPUs), warmup 10k, 150k updates,
lr 2e-4, MLM probability 0.2, Adam eps 1e-8, betas (0.9, 0.999), clip 1.0, weight decay 0,
sampling alpha 0.7. A profile (`[train.<name>]` in luigi.cfg) lists only what differs.

A field with `fairseq=` metadata becomes that fairseq-train flag (training/command.py derives
the command line from these fields): adding a training option is adding one field here.
`fairseq_task=True` marks the multilingual task's own options, which the stand-in's plain
masked-LM run does not take. The effective batch is stated, not derived: sequences per
process x update_freq x world size must multiply to it (checked), so moving a profile to
another number of GPUs without adjusting update_freq is an error, not a silently smaller batch.
"""
import ast
from dataclasses import dataclass, replace

from common.errors import InputError
from common.settings import Settings, setting

BREAK_MODES = ("complete", "none", "eos")


@dataclass(frozen=True)
class TrainSettings(Settings):
    batch_size: int = setting(32, "sequences per process (GPU) per step", fairseq="--batch-size")
    update_freq: int = setting(16, "gradient accumulation steps", fairseq="--update-freq")
    world_size: int = setting(8, "processes (GPUs) in all")
    effective_batch: int = setting(4096, "must equal batch_size x update_freq x world_size")
    max_update: int = setting(150_000, "updates in all", fairseq=("--total-num-update", "--max-update"))
    warmup: int = setting(10_000, "linear warm-up updates", fairseq="--warmup-updates")
    lr: float = setting(2e-4, "peak learning rate (polynomial decay after warm-up)", fairseq="--lr")
    tokens_per_sample: int = setting(256, "tokens per sequence; longer lines are cut at binarisation",
                                     fairseq="--tokens-per-sample")
    mask_prob: float = setting(0.2, "share of tokens masked", fairseq="--mask-prob")
    adam_eps: float = setting(1e-8, "Adam epsilon", fairseq="--adam-eps")
    adam_betas: str = setting("(0.9,0.999)", "Adam betas, as fairseq writes them", fairseq="--adam-betas")
    clip_norm: float = setting(1.0, "gradient clipping norm", fairseq="--clip-norm")
    weight_decay: float = setting(0.0, "weight decay", fairseq="--weight-decay")
    alpha: float = setting(0.7, "language sampling exponent: q_i ~ p_i^alpha", fairseq="--multilang-sampling-alpha",
                           fairseq_task=True)
    replay_langs: str = setting("", "languages kept besides the evaluation's source language (which always is): "
                                    "codes, comma-separated; their pieces stay in the vocabulary and they are "
                                    "replayed in continued pretraining")
    replay_share: float = setting(0.2, "share of the sequences drawn from the kept languages, so that the model "
                                       "does not forget them (0: vocabulary only, no replay)",
                                  fairseq="--replay-share", fairseq_task=True)
    sample_break_mode: str = setting("complete", "how fairseq cuts the text into sequences", choices=BREAK_MODES,
                                     fairseq="--sample-break-mode")
    seed: int = setting(1, "fairseq's random seed", fairseq="--seed")
    cpu: bool = setting(False, "train on the CPU", fairseq="--cpu")
    fp16: bool = setting(True, "mixed precision (GPUs)", fairseq="--fp16")
    save_interval_updates: int = setting(2000, "a checkpoint (to resume from) every so many updates; fairseq "
                                              "also validates there (the history in stats.json, not the model)",
                                         fingerprint=False, fairseq="--save-interval-updates")
    validate_interval_updates: int = setting(2000, "per-language validation every so many updates: the validation "
                                                   "history in stats.json and the report follow it, the model "
                                                   "does not", fingerprint=False,
                                             fairseq="--validate-interval-updates")
    log_interval: int = setting(100, "a training log record every so many updates", fingerprint=False,
                                fairseq="--log-interval")
    num_workers: int = setting(4, "data-loading processes per training process", fingerprint=False,
                               fairseq="--num-workers")
    threads: int = setting(4, "CPU threads per process (OMP_NUM_THREADS); they can change the last bits of "
                              "the weights, yet are left out of the fingerprint so that a preempted run "
                              "resumes on a machine with other cores (a resumed run is not bit-identical "
                              "to an uninterrupted one anyway)", fingerprint=False)

    def checked(self, where: str) -> "TrainSettings":
        """Itself, checked, with adam_betas written one way (`(0.9, 0.999)` and `(0.9,0.999)` are one
        setting, one fingerprint)."""
        super().checked(where)
        product = self.batch_size * self.update_freq * self.world_size
        if product != self.effective_batch:
            raise InputError(where, f"batch_size x update_freq x world_size = {product}, not effective_batch "
                                    f"{self.effective_batch}", "adjust update_freq for your number of GPUs")
        try:
            betas = ast.literal_eval(self.adam_betas)
            valid = isinstance(betas, tuple) and len(betas) == 2 and all(isinstance(b, float) for b in betas)
        except (ValueError, SyntaxError):
            valid = False
        if not 0.0 <= self.replay_share < 1.0:
            raise InputError(f"{where} replay_share", f"{self.replay_share} is not a share below 1",
                             "use 0 (no replay) up to, say, 0.3: the run's own languages get the rest")
        if not valid:
            raise InputError(f"{where} adam_betas", f"{self.adam_betas!r} is not two numbers",
                             "write them as fairseq does, e.g. (0.9,0.999)")
        return replace(self, adam_betas=f"({betas[0]},{betas[1]})")
