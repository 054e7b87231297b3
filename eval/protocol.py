"""The CINO evaluation protocol and its settings (`[evaluation]`; a profile's `[evaluation.<name>]` of
luigi.cfg lists what differs from the defaults below, which are CINO's).

CINO (Yang et al., COLING 2022, and its repository's README and fine-tuning scripts):
- WCM is zero-shot only: fine-tune on the Chinese training set, pick the epoch on the Chinese
  dev set, test on every other language unchanged; weighted F1; lr 7e-6, batch 32.
- TNCC is in-language (Tibetan, its own 8:1:1 split): macro F1; lr 5e-6, batch 16.
- The epoch with the best dev score is kept; CINO ran single runs without seeds. Here every
  setting runs `seeds` times (mean and standard deviation) beside a majority-class baseline,
  and gradient accumulation is not used (their scripts' accumulation never accumulated).
"""
from dataclasses import dataclass

from common.settings import Settings, setting
from eval.classify import METRICS, FineTuneSettings


@dataclass(frozen=True)
class EvaluationProfile(Settings):
    source_lang: str = setting("zh", "zero-shot: the language fine-tuned on (CINO: zh)")
    eval_set: str = setting("sib200", "which `eval:` set of the manifests")
    seeds: int = setting(3, "fine-tuning runs per setting (>= 3 for a standard deviation)")
    epochs: int = setting(5, "fine-tuning epochs (CINO's example parameters)")
    max_length: int = setting(512, "tokens per text, capped at the model's positions")
    warmup: float = setting(0.1, "share of the updates spent warming up")
    weight_decay: float = setting(1e-4, "AdamW weight decay")
    threads: int = setting(4, "CPU threads per fine-tuning run (they can change the last bits of a result)")
    zero_shot_lr: float = setting(7e-6, "zero-shot learning rate (CINO WCM)")
    zero_shot_batch_size: int = setting(32, "zero-shot batch size (CINO WCM)")
    zero_shot_metric: str = setting("weighted_f1", "picks the epoch and heads the report (CINO WCM)", choices=METRICS)
    in_language_lr: float = setting(5e-6, "in-language learning rate (CINO TNCC)")
    in_language_batch_size: int = setting(16, "in-language batch size (CINO TNCC)")
    in_language_metric: str = setting("macro_f1", "CINO TNCC's metric", choices=METRICS)
    mlm_lines: int = setting(2000, "test-split lines per language for the masked-LM loss")

    def fine_tune(self, protocol: str) -> FineTuneSettings:
        prefix = "zero_shot" if protocol == "zero-shot" else "in_language"
        return FineTuneSettings(lr=getattr(self, f"{prefix}_lr"), batch_size=getattr(self, f"{prefix}_batch_size"),
                                epochs=self.epochs, max_length=self.max_length, warmup=self.warmup,
                                weight_decay=self.weight_decay, threads=self.threads)

    def metric(self, protocol: str) -> str:
        return self.zero_shot_metric if protocol == "zero-shot" else self.in_language_metric
