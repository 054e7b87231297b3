"""The evaluation protocol and its settings (`[evaluation]`; a profile's `[evaluation.<name>]` of
luigi.cfg lists what differs from the defaults below).

CINO (Yang et al., COLING 2022, and its repository's README and fine-tuning scripts):
- WCM is zero-shot only: fine-tune on the Chinese training set, pick the epoch on the Chinese
  dev set, test on every other language unchanged; weighted F1; lr 7e-6, batch 32.
- TNCC is in-language (Tibetan, its own 8:1:1 split): macro F1; lr 5e-6, batch 16.
- The epoch with the best dev score is kept; CINO ran single runs without seeds.

Here, so that a score can be told from noise and from a recipe that did not learn:
- the learning rate and batch size are chosen from a small grid and the epochs by early
  stopping (`patience`, not before `min_epochs`), on selection data only: the dev split when a
  test split exists, else `selection_percent` of the training set by hash (the dev split is then
  the test);
- every setting runs `seeds` times (mean and standard deviation);
- beside every in-language score: the majority class, a fastText classifier trained and tuned on
  the same data, and the same architecture fine-tuned from random weights.
One fine-tuning on the source language gives both its in-language score (did continued
pretraining make the model forget it?) and the zero-shot scores of the other languages.
"""
from dataclasses import dataclass

from common.errors import InputError
from common.settings import Settings, setting
from eval.metrics import METRICS


@dataclass(frozen=True)
class EvaluationProfile(Settings):
    source_lang: str = setting("zh", "zero-shot: the language fine-tuned on (CINO: zh); kept in the vocabulary")
    max_train_items: int = setting(0, "at most so many training items per set and language, chosen by hash (0: all); "
                                      "the report states the cap beside the scores", bounds=(0, 10**9))
    seeds: int = setting(3, "fine-tuning runs per setting with the chosen recipe (>= 3 for a standard deviation)",
                         bounds=(1, 1000))
    lrs: str = setting("5e-6,1e-5,2e-5", "learning rates tried on the selection data (CINO used 5e-6 and 7e-6)")
    batch_sizes: str = setting("16,32", "batch sizes tried on the selection data (CINO used 16 and 32)")
    max_epochs: int = setting(10, "at most so many epochs (CINO ran 5)", bounds=(1, 10_000))
    patience: int = setting(3, "stop after so many epochs without a better selection score",
                            bounds=(1, 10_000))
    min_epochs: int = setting(1, "no early stop before so many epochs: a slow start (a random-init control) is not "
                                 "cut off by patience", bounds=(1, 10_000))
    selection_percent: int = setting(10, "without a test split: share of the training set (by hash) that selects "
                                         "the recipe, never trained on; the dev split is then the test",
                                     bounds=(1, 50))
    max_length: int = setting(512, "tokens per text, capped at the model's positions", bounds=(8, 100_000))
    warmup: float = setting(0.1, "share of the updates of max_epochs spent warming up", bounds=(0.0, 0.99))
    weight_decay: float = setting(1e-4, "AdamW weight decay")
    threads: int = setting(4, "CPU threads per fine-tuning run (they can change the last bits of a result)",
                           bounds=(1, 1024))
    zero_shot_metric: str = setting("weighted_f1", "chooses the source language's recipe and heads the zero-shot "
                                                   "rows (CINO WCM)", choices=METRICS)
    in_language_metric: str = setting("macro_f1", "chooses the other recipes and heads the in-language rows "
                                                  "(CINO TNCC)", choices=METRICS)
    fasttext_lrs: str = setting("0.1,0.5,1.0", "the fastText baseline's learning rates tried on the selection data")
    fasttext_epochs: str = setting("10,50", "the fastText baseline's epochs tried on the selection data")
    mlm_lines: int = setting(2000, "test-split lines per language for the masked-LM loss")

    def lr_grid(self) -> tuple:
        return _numbers(self.lrs, float)

    def batch_size_grid(self) -> tuple:
        return _numbers(self.batch_sizes, int)

    def fasttext_grid(self) -> tuple:
        return _numbers(self.fasttext_lrs, float), _numbers(self.fasttext_epochs, int)

    def metric(self, source: bool) -> str:
        """The metric that chooses the recipe of a fine-tuning on the source language or another one."""
        return self.zero_shot_metric if source else self.in_language_metric

    def checked(self, where: str) -> "EvaluationProfile":
        super().checked(where)
        if self.min_epochs > self.max_epochs:
            raise InputError(f"{where} min_epochs", f"{self.min_epochs} is more than max_epochs {self.max_epochs}",
                             "set min_epochs at most max_epochs")
        for name, kind in (("lrs", float), ("batch_sizes", int), ("fasttext_lrs", float), ("fasttext_epochs", int)):
            try:
                values = _numbers(getattr(self, name), kind)
            except ValueError:
                values = ()
            if not values or min(values) <= 0:
                raise InputError(f"{where} {name}", f"{getattr(self, name)!r} is not a list of positive "
                                                    f"{kind.__name__}s", "write numbers separated by commas, e.g. 1e-5,2e-5")
        return self


def _numbers(text: str, kind) -> tuple:
    return tuple(kind(part) for part in text.split(",") if part.strip())
