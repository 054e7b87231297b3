"""Smaller models to ship: the trained model pruned to one language's vocabulary, and a student with
fewer layers distilled from it; both exported for Hugging Face like the trained model, and
compared with it on the evaluation's protocol.

    luigi --module pipeline PruneForLanguage --langs bo,mn,ug --lang bo --local-scheduler
    luigi --module pipeline DistillStudent --langs bo,mn,ug --local-scheduler
    luigi --module pipeline SmallerModels --langs bo,mn,ug --lang bo --local-scheduler   # both, and the report

(SmallerModels, the comparison, is in pipeline/tasks/smaller_report.py: it reads their evaluations.)
"""
import logging
import shutil

import luigi

from common.atomic import output_lock
from common.errors import InputError
from common.jsonio import open_text, read_json
from common.xlmr import SPM_FILE
from corpus.split import SPLITS, split_path
from eval.protocol import EvaluationProfile
from pipeline import config
from pipeline.inputs import eval_files, language, language_texts, masked, training_langs
from pipeline.tasks.base import TRANSFORMERS, LanguageListTask, list_scope
from pipeline.tasks.corpus import Ingest, Split
from pipeline.tasks.export import ExportHF
from pipeline.tasks.training import ContinuePretraining, SamplingPlan
from pipeline.tasks.vocab import base_model
from training.distill import DistillSettings
from training.hf_export import ParitySettings
from training.model_card import comparison_markdown, model_card
from training.profile import TrainSettings
from vocab.codepoints import own_scripts, script_chars
from vocab.normalizer import script_rewrite
from vocab.prune import PruneSettings

log = logging.getLogger("luigi-interface")


class PruneForLanguage(LanguageListTask):
    """The trained model for one language of the run (`--lang`): the pieces its text uses (every
    split, cleaned and raw), the special tokens and its script's single characters; the rows of
    every other piece removed. Exported for Hugging Face with the same normaliser, and compared
    with the full model inside the stage: the same pieces on every held-out and raw line, the
    same logits at the kept pieces ([export] max_logit_difference)."""
    preload = TRANSFORMERS
    stage = "model_for_language"
    logic = ("training.smaller", "training.hf_export")
    reads = (ParitySettings, PruneSettings.only("workers", "chunk_mb"))
    lang = luigi.Parameter()

    def scope(self):
        return f"{list_scope(self.langs)}-{self.lang}"

    def requires(self):
        if self.lang not in self.langs:
            raise InputError("--lang", f"{self.lang!r} is not a language of the run ({', '.join(self.langs)})",
                             "choose one of --langs")
        return {"model": ContinuePretraining(langs=self.langs), "export": ExportHF(langs=self.langs),
                "split": Split(lang=self.lang), "ingest": Ingest(lang=self.lang), "base": base_model()}

    def external_inputs(self):
        return {"eval_files": eval_files(self.lang)}   # its pieces are compared on the evaluation texts too

    def produce(self, tmp):
        from training.hf_export import export
        from training.smaller import check_same, compare, hf_pieces, language_counts, prune_model

        needs, catalog = self.input(), config.catalog()
        texts = language_texts(self.lang, needs["split"], needs["ingest"])
        own = [name for name in texts if name != "eval"]   # the language's corpus; its evaluation sentences are not
        texts["masked"] = masked(texts["held-out"][:200])
        self.report(5, f"counting the pieces of {self.lang}")
        full_pieces = hf_pieces(needs["export"].path, texts)
        seen = [piece for name in own for line in full_pieces[name] for piece in line]
        counts = language_counts(needs["model"].path / SPM_FILE, [split_path(needs["split"].path, name) for name in SPLITS],
                                 texts["raw test"], seen, script_chars(catalog, language(self.lang).script).allowed,
                                 self.read(PruneSettings))
        fairseq_dir = tmp / "fairseq"
        fairseq_dir.mkdir()
        self.report(10, f"keeping the pieces of {self.lang}")
        stats = prune_model(needs["model"].path, fairseq_dir, counts)
        # the full model's normaliser (every script of the run): raw lines mix in other scripts' context characters
        scripts = [script_rewrite(catalog, code) for code in own_scripts(catalog, self.langs)]
        self.report(40, "writing the Hugging Face model and tokenizer")
        exported = export(fairseq_dir, tmp, scripts, needs["base"].spm)
        self.report(60, "comparing with the full model")
        limits = self.read(ParitySettings)
        checked = compare(needs["export"].path, tmp, texts, full_pieces, limits.logit_lines)
        check_same(checked, [*own, "masked"], limits.max_logit_difference, self.lang)
        sizes = {name: (path / "model.safetensors").stat().st_size for name, path in
                 (("full", needs["export"].path), ("for_language", tmp))}
        with open_text(tmp / "README.md", "w") as handle:
            handle.write(model_card(f"CINO-style model for {self.lang}", [self.lang],
                                    f"The model trained on {', '.join(self.langs)}, keeping only the vocabulary of "
                                    f"{self.lang} (as TextPruner prunes a vocabulary).", [comparison_markdown(checked)]))
        log.info("Model for %s: %s fairseq symbols of %s, %.1f MB of %.1f MB", self.lang,
                 stats["fairseq_symbols"]["for_language"], stats["fairseq_symbols"]["full"],
                 sizes["for_language"] / 2**20, sizes["full"] / 2**20)
        return {"lang": self.lang, **stats, "parameters": exported["parameters"], "bytes": sizes, "compared": checked}


class DistillStudent(LanguageListTask):
    """A student with fewer layers distilled from the trained model on the run's corpus, sampled as
    continued pretraining samples it ([distill]; training/distill.py). Resumable: a killed run
    continues from its last checkpoint (`<output>.run/`, removed once the student is written)."""
    preload = TRANSFORMERS
    stage = "student"
    logic = ("training.distill",)
    reads = (DistillSettings, TrainSettings.only("replay_langs", "replay_share"), EvaluationProfile.only("source_lang"))

    def requires(self):
        codes = training_langs(self.langs, self.read(TrainSettings), self.read(EvaluationProfile))
        return {"teacher": ExportHF(langs=self.langs), "plan": SamplingPlan(langs=self.langs),
                "splits": {code: Split(lang=code) for code in codes}}

    def run(self):
        with output_lock(self.run_dir()):   # one distillation per run directory
            if not self.complete():
                self.run_dir().mkdir(exist_ok=True)
                self.write_outputs()
                shutil.rmtree(self.run_dir())   # its checkpoint (student and optimiser) is not needed any more

    def produce(self, tmp):
        from training.distill import distill, drawn_lines
        from training.smaller import copy_tokenizer_files

        needs, settings = self.input(), self.read(DistillSettings)
        q = {code: row["q"] for code, row in read_json(needs["plan"].path / "sampling.json")["languages"].items()}
        self.report(2, "reading the lines the updates draw")
        batches = drawn_lines({code: split_path(split.path, "train") for code, split in needs["splits"].items()}, q,
                              settings)
        stats = distill(needs["teacher"].path, batches, tmp, self.run_dir(), settings,
                        lambda step, steps, loss: self.report(int(100 * step / steps), f"update {step}/{steps}, "
                                                                                      f"loss {loss:.3f}"))
        copy_tokenizer_files(needs["teacher"].path, tmp)
        with open_text(tmp / "README.md", "w") as handle:
            handle.write(model_card(f"CINO-style student: {', '.join(self.langs)}", self.langs,
                                    f"{stats['student_layers']} of the trained model's {stats['teacher_layers']} layers, "
                                    "distilled from it (logits at a temperature and hidden states, as TextBrewer and "
                                    "DistilBERT do).", []))
        return {"languages": list(self.langs), "q": q, **stats, "bytes": (tmp / "model.safetensors").stat().st_size}
