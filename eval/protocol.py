"""The CINO evaluation protocol and its settings (`[evaluation.<profile>]` sections of luigi.cfg).

CINO (Yang et al., COLING 2022, and its repository's README and fine-tuning scripts):
- WCM is zero-shot only: fine-tune on the Chinese training set, pick the epoch on the Chinese
  dev set, test on every other language unchanged; weighted F1; lr 7e-6, batch 32.
- TNCC is in-language (Tibetan, its own 8:1:1 split): macro F1; lr 5e-6, batch 16.
- The epoch with the best dev score is kept; CINO ran single runs without seeds. Here every
  setting runs `seeds` times (mean and standard deviation) beside a majority-class baseline,
  and gradient accumulation is not used (their scripts' accumulation never accumulated).
"""
from dataclasses import dataclass

from eval.classify import FineTuneSettings


@dataclass(frozen=True)
class EvaluationProfile:
    source_lang: str             # zero-shot: the language fine-tuned on (CINO: zh)
    eval_set: str                # which `eval:` set of the manifests (sib200)
    seeds: int                   # runs per setting (>= 3 for a standard deviation)
    epochs: int
    max_length: int              # tokens, capped at the model's positions
    warmup: float                # share of the updates
    weight_decay: float
    threads: int                 # CPU threads per fine-tuning run
    zero_shot_lr: float
    zero_shot_batch_size: int
    zero_shot_metric: str        # picks the epoch and heads the report (CINO WCM: weighted_f1)
    in_language_lr: float
    in_language_batch_size: int
    in_language_metric: str      # CINO TNCC: macro_f1
    mlm_lines: int               # test-split lines per language for the masked-LM loss

    def fine_tune(self, protocol: str) -> FineTuneSettings:
        prefix = "zero_shot" if protocol == "zero-shot" else "in_language"
        return FineTuneSettings(lr=getattr(self, f"{prefix}_lr"), batch_size=getattr(self, f"{prefix}_batch_size"),
                                epochs=self.epochs, max_length=self.max_length, warmup=self.warmup,
                                weight_decay=self.weight_decay, threads=self.threads)

    def metric(self, protocol: str) -> str:
        return self.zero_shot_metric if protocol == "zero-shot" else self.in_language_metric
