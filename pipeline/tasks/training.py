"""The training half: Binarize -> SamplingPlan -> ContinuePretraining (resumable fairseq MLM).
torch (training.checkpoint) is imported where used, keeping Luigi workers light.

The vocabulary reaches training by one route: the initial checkpoint's XLM-R directory
(its sentencepiece.bpe.model encodes the data, its dict.txt binarises it and goes into the
data-bin and the final model)."""
import logging
import os
import shutil
import time

import luigi

from common.atomic import output_lock
from common.jsonio import write_json
from common.xlmr import DICT_FILE, MODEL_FILE, SPM_FILE
from corpus.split import split_path
from eval.protocol import EvaluationProfile
from pipeline import config
from pipeline.inputs import training_langs
from pipeline.params import LangListParameter
from pipeline.tasks.base import FAIRSEQ, TORCH, LanguageListTask, StageTask, XlmrDir
from pipeline.tasks.corpus import Split
from pipeline.tasks.vocab import InitCheckpoint, PruneVocabulary
from training import sampling
from training.binarize import encode_file, preprocess
from training.command import architecture, train_args
from training.fairseq_run import tail, validation_history
from training.launch import LaunchSettings, launch
from training.profile import TrainSettings
from training.report import sampling_text

log = logging.getLogger("luigi-interface")
LAST = "checkpoint_last.pt"


class BinarizeLanguage(StageTask):
    """One language's train and valid splits as pieces of the run's vocabulary, binarised by fairseq."""
    stage = "binarize"
    logic = ("training.binarize",)
    reads = (TrainSettings.only("tokens_per_sample"),)
    lang = luigi.Parameter()
    vocab_langs = LangListParameter()   # the language list the vocabulary (and the run) is for

    def scope(self):
        return f"{self.lang}-for-{'_'.join(self.vocab_langs)}"

    def requires(self):
        return {"model": InitCheckpoint(langs=self.vocab_langs), "split": Split(lang=self.lang)}

    def upstream(self):
        # The output depends on the vocabulary, not on how new embedding rows start: fingerprint
        # by the pruning (whose files the initial checkpoint holds), so changing [vocab]
        # embedding_init retrains without binarising again.
        return [PruneVocabulary(langs=self.vocab_langs), Split(lang=self.lang)]

    def produce(self, tmp):
        model, split = self.input()["model"], self.input()["split"]
        max_tokens = self.read(TrainSettings).tokens_per_sample - 2  # room for <s> and </s>
        stats = {}
        for name in ("train", "valid"):
            self.report(10 if name == "train" else 60, f"encoding {self.lang} {name}")
            stats[name] = encode_file(model.spm, split_path(split.path, name), tmp / f"{name}.pieces", max_tokens)
        self.report(80, f"fairseq-preprocess {self.lang}")
        preprocess(model.dict, tmp, tmp / "train.pieces", tmp / "valid.pieces")
        for name in ("train.pieces", "valid.pieces", "preprocess.log"):
            (tmp / name).unlink(missing_ok=True)
        return {"lang": self.lang, **stats}


class TrainingLanguages:
    """A task over the languages continued pretraining samples: the run's own and the replayed ones."""
    def training_langs(self) -> tuple:
        return training_langs(self.langs, self.read(TrainSettings), self.read(EvaluationProfile))

    def replayed(self) -> tuple:
        return tuple(code for code in self.training_langs() if code not in self.langs)

    def binarized(self) -> dict:
        return {code: BinarizeLanguage(lang=code, vocab_langs=self.langs) for code in self.training_langs()}


class SamplingPlan(TrainingLanguages, LanguageListTask):
    """alpha-smoothed language sampling over token blocks, as fairseq will do it, written down
    (replayed languages at their fixed share)."""
    stage = "sampling_plan"
    logic = ("training.sampling",)
    preload = FAIRSEQ
    version = 2   # 2: replayed languages
    reads = (TrainSettings.only("alpha", "tokens_per_sample", "sample_break_mode", "max_update", "effective_batch",
                                "replay_langs", "replay_share"), EvaluationProfile.only("source_lang"))

    def requires(self):
        return self.binarized()

    def produce(self, tmp):
        s = self.read(TrainSettings)
        blocks = {code: sampling.count_blocks(out.path / "train", s.tokens_per_sample, s.sample_break_mode)
                  for code, out in self.input().items()}
        result = sampling.plan(blocks, s.alpha, s.max_update, s.effective_batch, self.replayed(), s.replay_share)
        write_json(tmp / "sampling.json", result)
        log.info("Language sampling plan (alpha %.2f, %d updates of %d sequences):\n%s",
                 s.alpha, s.max_update, s.effective_batch, sampling_text(result))
        return result


class ContinuePretraining(TrainingLanguages, LanguageListTask):
    """fairseq multilingual MLM from the surgered checkpoint; resumable; complete only with the final model.

    The run directory (`<output>.run/`: data-bin links, checkpoints, log) survives kills;
    a rerun continues from checkpoint_last.pt. The output directory, written atomically
    at the end, holds the final model in XLM-R's layout.
    """
    preload = TORCH
    stage = "train"
    logic = ("training.launch", "training.checkpoint")
    resources = {"gpu": 1}
    # The longest task on the critical path: the scheduler (and its dependencies, by luigi's
    # priority propagation) starts it before the base model's evaluations, which can wait.
    priority = 10
    output_class = XlmrDir
    # What changes the trained model; how it is launched and logged does not (fields outside the
    # fingerprint), so a job moved from torchrun to SLURM after a preemption resumes its run.
    reads = (TrainSettings, LaunchSettings, EvaluationProfile.only("source_lang"))

    def requires(self):
        return {"init": InitCheckpoint(langs=self.langs), "plan": SamplingPlan(langs=self.langs),
                "data": self.binarized()}

    def upstream(self):
        return [self.requires()["init"], self.requires()["plan"]]

    def _prepare(self, run_dir):
        data = run_dir / "data-bin"
        if data.exists():
            shutil.rmtree(data)
        data.mkdir(parents=True)
        shutil.copy(self.input()["init"].dict, data / DICT_FILE)
        for code, out in self.input()["data"].items():
            os.symlink(out.path, data / code)
        return data

    def run(self):
        from training import checkpoint

        started = time.time()
        s, launcher = self.read(TrainSettings), self.read(LaunchSettings).launcher
        run_dir, init = self.run_dir(), self.input()["init"]

        def on_record(kind, values):
            if kind == "train_inner":
                done = int(values["num_updates"])
                self.report(min(99, int(100 * done / s.max_update)),
                            f"update {done}/{s.max_update}, loss {values['loss']}")

        with output_lock(run_dir):   # one trainer per run directory, whoever started it
            if self.complete():
                return
            data = self._prepare(run_dir)
            updates = checkpoint.resume_point(run_dir / "checkpoints", log.warning)
            if updates < s.max_update:
                # fairseq resumes from checkpoint_last.pt; launched at max_update it would still take a step
                arch = architecture(checkpoint.load(init.model))
                args = train_args(data, run_dir / "checkpoints", init.model, self.training_langs(), self.replayed(),
                                  arch, s)
                code = launch(args, s.world_size, launcher, s.cpu, run_dir, s.threads, on_record)
                if code != 0 or not (run_dir / "checkpoints" / LAST).exists():
                    raise RuntimeError(f"fairseq-train exited with {code}: {tail(run_dir / 'train.log')}")
            self.write_outputs(started)

    def produce(self, tmp):
        from training import checkpoint

        s, run_dir, init = self.read(TrainSettings), self.run_dir(), self.input()["init"]
        trained = checkpoint.load(run_dir / "checkpoints" / LAST)
        if checkpoint.num_updates(trained) < s.max_update:
            raise RuntimeError(f"training stopped at update {checkpoint.num_updates(trained)} of {s.max_update}")
        checkpoint.save(checkpoint.export(trained, run_dir, config.work_dir()), tmp / MODEL_FILE)
        for name in (DICT_FILE, SPM_FILE):
            shutil.copy(init.path / name, tmp / name)
        history = validation_history(run_dir / "train.log")
        first_last = {kind: {"first": points[0], "last": points[-1]} for kind, points in history.items()}
        log.info("Validation loss, first and last validation: %s", first_last)
        return {"num_updates": checkpoint.num_updates(trained), "validation": history,
                "validation_first_last": first_last, "effective_batch": s.effective_batch}
