"""fairseq plugin (`--user-dir training/fairseq_user_dir/cino_fairseq`): per-language validation
and replayed languages.

fairseq's `multilingual_masked_lm` builds `valid_<lang>` datasets while loading `valid`
and tries to append them to `args.valid_subset`, but with fairseq's dataclass
configuration the trainer never sees that change, so only the mixed `valid` loss is
logged. This task is the same task, except that asking for `valid_<lang>` (pass
`--valid-subset valid,valid_bo,valid_mn`) returns the per-language dataset that loading
`valid` registered, so every validation logs a `valid_<lang>` record; and that the languages
named by `--replay-langs` get `--replay-share` of the sampled sequences (training.sampling).
"""
import os

import numpy as np
from fairseq import utils
from fairseq.tasks import register_task
from fairseq.tasks.multilingual_masked_lm import MultiLingualMaskedLMTask

from training import sampling
from training.command import TASK
from training.fairseq_run import die_with_parent

# Every training process loads this plugin: each dies with the process that started it
# (torchrun, srun's step, or our launcher), so a killed Luigi worker leaves no rank behind.
die_with_parent()


@register_task(TASK)
class MultilingualMaskedLMByLanguage(MultiLingualMaskedLMTask):
    @staticmethod
    def add_args(parser):
        MultiLingualMaskedLMTask.add_args(parser)
        parser.add_argument("--replay-langs", default="", help="languages (comma-separated) sampled at a fixed share")
        parser.add_argument("--replay-share", type=float, default=0.0, help="their share of the sequences")

    def _get_sample_prob(self, dataset_lens):
        q = sampling.probabilities(dict(zip(self.languages, dataset_lens)), self.args.multilang_sampling_alpha,
                                   [lang for lang in self.args.replay_langs.split(",") if lang],
                                   self.args.replay_share)
        return np.array([q[lang] for lang in self.languages])

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        base, _, lang = split.partition("_")
        if lang and base in ("valid", "test"):
            if split not in self.datasets:
                super().load_dataset(base, epoch=epoch, combine=combine, **kwargs)
            if split not in self.datasets:
                raise FileNotFoundError(f"no language '{lang}' in the data directory for subset {split}")
            return
        paths = utils.split_paths(self.args.data)   # the languages in the order fairseq's load_dataset takes them
        data_path = paths[(epoch - 1) % len(paths)]
        self.languages = sorted(name for name in os.listdir(data_path) if os.path.isdir(os.path.join(data_path, name)))
        super().load_dataset(split, epoch=epoch, combine=combine, **kwargs)
