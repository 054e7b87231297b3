"""Training hyperparameter profiles (`[profile.<name>]` sections of luigi.cfg).

`cino-base` and `cino-large` carry CINO's numbers (Yang et al., 2022): effective batch
4,096 / 8,192 sequences of 256 tokens, warmup 10k / 5k, 150k / 75k updates, lr 2e-4 / 1e-4,
MLM probability 0.2, Adam eps 1e-8, betas 0.9/0.999, clip 1.0, weight decay 0, sampling
alpha 0.7. The effective batch is sequences per process x update_freq x world size; a
profile states it and is refused when its parts do not multiply to it.
"""
from dataclasses import dataclass

from common.errors import InputError
from common.sections import load_section


@dataclass(frozen=True)
class TrainSettings:
    batch_size: int            # sequences per process (GPU) per step
    update_freq: int           # gradient accumulation steps
    world_size: int            # processes (GPUs) in all
    effective_batch: int       # must equal batch_size * update_freq * world_size
    max_update: int
    warmup: int
    lr: float
    tokens_per_sample: int
    mask_prob: float
    adam_eps: float
    adam_beta1: float
    adam_beta2: float
    clip_norm: float
    weight_decay: float
    alpha: float               # language sampling exponent
    sample_break_mode: str     # complete | none | eos
    save_interval_updates: int
    validate_interval_updates: int
    log_interval: int
    cpu: bool
    fp16: bool
    num_workers: int
    threads: int               # CPU threads per process (OMP_NUM_THREADS)
    seed: int


def load_profile(values: dict, where: str) -> TrainSettings:
    """TrainSettings from a config section's {option: text}; every field required, none unknown,
    and the batch sizes must multiply to effective_batch."""
    settings = load_section(TrainSettings, values, where, "[profile.demo-cpu]")
    product = settings.batch_size * settings.update_freq * settings.world_size
    if product != settings.effective_batch:
        raise InputError(where, f"batch_size x update_freq x world_size = {product}, not effective_batch "
                                f"{settings.effective_batch}", "adjust update_freq for your number of GPUs")
    return settings
