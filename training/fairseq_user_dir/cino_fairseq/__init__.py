"""fairseq plugin (`--user-dir training/fairseq_user_dir/cino_fairseq`): per-language validation.

fairseq's `multilingual_masked_lm` builds `valid_<lang>` datasets while loading `valid`
and tries to append them to `args.valid_subset`, but with fairseq's dataclass
configuration the trainer never sees that change, so only the mixed `valid` loss is
logged. This task is the same task, except that asking for `valid_<lang>` (pass
`--valid-subset valid,valid_bo,valid_mn`) returns the per-language dataset that loading
`valid` registered, so every validation logs a `valid_<lang>` record.
"""
from fairseq.tasks import register_task
from fairseq.tasks.multilingual_masked_lm import MultiLingualMaskedLMTask

from training.command import TASK
from training.fairseq_run import die_with_parent

# Every training process loads this plugin: each dies with the process that started it
# (torchrun, srun's step, or our launcher), so a killed Luigi worker leaves no rank behind.
die_with_parent()


@register_task(TASK)
class MultilingualMaskedLMByLanguage(MultiLingualMaskedLMTask):
    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        base, _, lang = split.partition("_")
        if lang and base in ("valid", "test"):
            if split not in self.datasets:
                super().load_dataset(base, epoch=epoch, combine=combine, **kwargs)
            if split not in self.datasets:
                raise FileNotFoundError(f"no language '{lang}' in the data directory for subset {split}")
            return
        super().load_dataset(split, epoch=epoch, combine=combine, **kwargs)
