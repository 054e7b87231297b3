"""The training half: Binarize -> SamplingPlan -> ContinuePretraining (resumable fairseq MLM).
torch (training.checkpoint) is imported where used, keeping Luigi workers light."""
import logging
import os
import shutil
import time
from dataclasses import asdict

import luigi

from common.errors import InputError
from common.jsonio import write_json
from pipeline.params import LangListParameter
from pipeline.tasks.base import LanguageListTask, StageTask
from pipeline.tasks.corpus import Split
from pipeline.tasks.vocab import InitCheckpoint, PruneVocabulary
from training import sampling
from training.binarize import encode_file, preprocess
from training.command import architecture, train_args
from training.fairseq_run import parse_log_line, tail
from training.launch import launch
from training.profile import load_profile

log = logging.getLogger("luigi-interface")


class train(luigi.Config):
    """[train]: which profile ([profile.<name>]) and how to launch."""
    profile = luigi.Parameter(default="demo-cpu")
    launcher = luigi.Parameter(default="local")   # local | torchrun | slurm


def profile():
    name = train().profile
    section = f"profile.{name}"
    parser = luigi.configuration.get_config()
    if not parser.has_section(section):
        raise InputError("[train] profile", f"no section [{section}] in luigi.cfg",
                         "use demo-cpu, cino-base or cino-large, or add the section")
    return load_profile(dict(parser.items(section)), f"luigi.cfg [{section}]")


class BinarizeLanguage(StageTask):
    """One language's train and valid splits as pruned-vocabulary pieces, binarised by fairseq."""
    stage = "binarize"
    lang = luigi.Parameter()
    vocab = LangListParameter()   # the language list the vocabulary was built for

    def scope(self):
        return f"{self.lang}-for-{'_'.join(self.vocab)}"

    def requires(self):
        return {"vocab": PruneVocabulary(lang=self.vocab), "split": Split(lang=self.lang)}

    def settings(self):
        return {"tokens_per_sample": profile().tokens_per_sample}

    def produce(self, tmp):
        needs = self.requires()
        model, dictionary = needs["vocab"].model_file(), needs["vocab"].output_dir() / "dict.txt"
        max_tokens = profile().tokens_per_sample - 2  # room for <s> and </s>
        stats = {}
        for split in ("train", "valid"):
            self.report(10 if split == "train" else 60, f"encoding {self.lang} {split}")
            stats[split] = encode_file(model, needs["split"].split_file(split), tmp / f"{split}.pieces", max_tokens)
        self.report(80, f"fairseq-preprocess {self.lang}")
        preprocess(dictionary, tmp, tmp / "train.pieces", tmp / "valid.pieces")
        for name in ("train.pieces", "valid.pieces", "preprocess.log"):
            (tmp / name).unlink(missing_ok=True)
        return {"stage": "binarize", "lang": self.lang, **stats}


def _binarized(langs) -> dict:
    return {code: BinarizeLanguage(lang=code, vocab=langs) for code in langs}


class SamplingPlan(LanguageListTask):
    """alpha-smoothed language sampling over token blocks, as fairseq will do it, written down."""
    stage = "sampling_plan"

    def requires(self):
        return _binarized(self.lang)

    def settings(self):
        s = profile()
        return {"alpha": s.alpha, "tokens_per_sample": s.tokens_per_sample, "sample_break_mode": s.sample_break_mode,
                "max_update": s.max_update, "effective_batch": s.effective_batch}

    def produce(self, tmp):
        s = profile()
        blocks = {code: sampling.count_blocks(task.output_dir() / "train", s.tokens_per_sample, s.sample_break_mode)
                  for code, task in self.requires().items()}
        result = sampling.plan(blocks, s.alpha, s.max_update, s.effective_batch)
        write_json(tmp / "sampling.json", result)
        log.info("Language sampling plan (alpha %.2f, %d updates of %d sequences):\n%s",
                 s.alpha, s.max_update, s.effective_batch, sampling.table(result))
        return {"stage": "sampling_plan", **result}


def _valid_history(log_file) -> dict:
    """{subset: [(num_updates, loss)]} from every validation in the training log (all launches)."""
    history = {}
    if not log_file.exists():
        return history
    for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines():
        parsed = parse_log_line(line)
        if parsed and parsed[0].startswith("valid"):
            kind, record = parsed
            history.setdefault(kind, {})[int(record[f"{kind}_num_updates"])] = float(record[f"{kind}_loss"])
    return {kind: sorted(points.items()) for kind, points in sorted(history.items())}


class ContinuePretraining(LanguageListTask):
    """fairseq multilingual MLM from the surgered checkpoint; resumable; complete only with the final model.

    The run directory (`<output>.run/`: data-bin links, checkpoints, log) survives kills;
    a rerun continues from checkpoint_last.pt. The output directory, written atomically
    at the end, holds the final model in XLM-R's layout.
    """
    stage = "train"
    resources = {"gpu": 1}

    def requires(self):
        return {"init": InitCheckpoint(lang=self.lang), "plan": SamplingPlan(lang=self.lang),
                "data": _binarized(self.lang)}

    def upstream(self):
        return [self.requires()["init"], self.requires()["plan"]]

    def settings(self):
        return {"profile": asdict(profile()), "launcher": train().launcher}

    def run_dir(self):
        return self.output_dir().with_name(self.output_dir().name + ".run")

    def model_dir(self):
        return self.output_dir()

    def _prepare(self, run_dir):
        data = run_dir / "data-bin"
        if data.exists():
            shutil.rmtree(data)
        data.mkdir(parents=True)
        init_dir = self.requires()["init"].model_dir()
        shutil.copy(init_dir / "dict.txt", data / "dict.txt")
        for code, task in self.requires()["data"].items():
            os.symlink(task.output_dir(), data / code)
        return data, init_dir

    def run(self):
        from training import checkpoint

        started = time.time()
        s, launcher = profile(), train().launcher
        run_dir = self.run_dir()
        data, init_dir = self._prepare(run_dir)

        def on_record(kind, values):
            if kind == "train_inner":
                done = int(values["num_updates"])
                self.report(min(99, int(100 * done / s.max_update)),
                            f"update {done}/{s.max_update}, loss {values['loss']}")

        last = run_dir / "checkpoints" / "checkpoint_last.pt"
        if not last.exists() or checkpoint.num_updates(checkpoint.load(last)) < s.max_update:
            # fairseq resumes from checkpoint_last.pt; launched at max_update it would still take a step
            arch = architecture(checkpoint.load(init_dir / "model.pt"))
            args = train_args(data, run_dir / "checkpoints", init_dir / "model.pt", self.lang, arch, s)
            code = launch(args, s.world_size, launcher, s.cpu, run_dir, s.threads, on_record)
            if code != 0 or not last.exists():
                raise RuntimeError(f"fairseq-train exited with {code}: {tail(run_dir / 'train.log')}")
        self.write_outputs(started)

    def produce(self, tmp):
        from training import checkpoint

        s, run_dir = profile(), self.run_dir()
        trained = checkpoint.load(run_dir / "checkpoints" / "checkpoint_last.pt")
        if checkpoint.num_updates(trained) < s.max_update:
            raise RuntimeError(f"training stopped at update {checkpoint.num_updates(trained)} of {s.max_update}")
        checkpoint.save(checkpoint.export(trained, run_dir), tmp / "model.pt")
        init_dir = self.requires()["init"].model_dir()
        for name in ("dict.txt", "sentencepiece.bpe.model"):
            shutil.copy(init_dir / name, tmp / name)
        history = _valid_history(run_dir / "train.log")
        first_last = {kind: {"first": points[0], "last": points[-1]} for kind, points in history.items()}
        log.info("Validation loss, first and last validation: %s", first_last)
        return {"stage": "train", "num_updates": checkpoint.num_updates(trained), "validation": history,
                "validation_first_last": first_last,
                "effective_batch": s.batch_size * s.update_freq * s.world_size}
