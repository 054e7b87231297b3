"""Smaller models to ship: the trained model pruned to one language's vocabulary, and a student with
fewer layers distilled from it; both exported for Hugging Face like the trained model, and
compared with it on the evaluation's protocol.

    luigi --module pipeline PruneForLanguage --langs bo,mn,ug --lang bo --local-scheduler
    luigi --module pipeline DistillStudent --langs bo,mn,ug --local-scheduler
    luigi --module pipeline SmallerModels --langs bo,mn,ug --lang bo --local-scheduler   # both, and the report

(SmallerModels, the comparison, is in pipeline/tasks/smaller_report.py: it reads their evaluations.)
"""
import logging

import luigi

from common.atomic import output_lock
from common.jsonio import open_text, read_json
from corpus.split import SPLITS, split_path
from pipeline import config
from pipeline.inputs import language, language_texts
from pipeline.tasks.base import LanguageListTask, list_scope
from pipeline.tasks.corpus import Ingest, Split
from pipeline.tasks.export import ExportHF
from pipeline.tasks.training import ContinuePretraining, SamplingPlan
from pipeline.tasks.vocab import base_model
from training.distill import DistillSettings
from training.hf_export import ParitySettings
from training.model_card import comparison_markdown, model_card
from vocab.codepoints import own_scripts, script_chars
from vocab.normalizer import script_rewrite

log = logging.getLogger("luigi-interface")


class PruneForLanguage(LanguageListTask):
    """The trained model for one language of the run (`--lang`): the pieces its text uses (every
    split, cleaned and raw), the special tokens and its script's single characters; the rows of
    every other piece removed. Exported for Hugging Face with the same normaliser, and compared
    with the full model inside the stage: the same pieces on every held-out and raw line, the
    same logits at the kept pieces ([export] max_logit_difference)."""
    stage = "model_for_language"
    reads = (ParitySettings,)
    lang = luigi.Parameter()

    def scope(self):
        return f"{list_scope(self.langs)}-{self.lang}"

    def requires(self):
        return {"model": ContinuePretraining(langs=self.langs), "export": ExportHF(langs=self.langs),
                "split": Split(lang=self.lang), "ingest": Ingest(lang=self.lang), "base": base_model()}

    def produce(self, tmp):
        from training.hf_export import export
        from training.smaller import compare, prune_model

        needs, catalog = self.input(), config.catalog()
        texts = language_texts(self.lang, needs["split"], needs["ingest"])
        texts.pop("eval", None)   # evaluation sentences are not the language's corpus
        lines = [line for name in SPLITS for line in split_path(needs["split"].path, name).read_text(
            encoding="utf-8").split("\n") if line] + texts["raw test"]
        script = language(self.lang).script
        fairseq_dir = tmp / "fairseq"
        fairseq_dir.mkdir()
        self.report(10, f"keeping the pieces of {self.lang}")
        stats = prune_model(needs["model"].path, fairseq_dir, lines, script_chars(catalog, script).allowed)
        scripts = [script_rewrite(catalog, code) for code in own_scripts(catalog, [self.lang])]
        self.report(40, "writing the Hugging Face model and tokenizer")
        exported = export(fairseq_dir, tmp, scripts, needs["base"].spm)
        self.report(60, "comparing with the full model")
        limits = self.read(ParitySettings)
        checked = compare(needs["export"].path, tmp, texts, limits.logit_lines)
        worst = max(row["max_abs_logit_difference"] for row in checked.values())
        differing = [line for row in checked.values() for line in row["first_differences"]]
        if differing or worst > limits.max_logit_difference:
            raise RuntimeError(f"the model for {self.lang} differs from the full model on its own text: max abs logit "
                               f"difference {worst:.2e}, lines tokenized differently: {differing[:3]}")
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
    continues from its last checkpoint (`<output>.run/`)."""
    stage = "student"
    reads = (DistillSettings,)

    def requires(self):
        plan = SamplingPlan(langs=self.langs)   # the languages it samples, and their shares
        return {"teacher": ExportHF(langs=self.langs), "plan": plan,
                "splits": {code: Split(lang=code) for code in plan.training_langs()}}

    def run_dir(self):
        return self.output_dir().with_name(self.output_dir().name + ".run")

    def run(self):
        with output_lock(self.run_dir()):   # one distillation per run directory
            if not self.complete():
                self.run_dir().mkdir(exist_ok=True)
                self.write_outputs()

    def produce(self, tmp):
        from transformers import AutoTokenizer

        from training.distill import distill
        from training.smaller import copy_tokenizer_files

        needs, settings = self.input(), self.read(DistillSettings)
        teacher = needs["teacher"].path
        tokenizer = AutoTokenizer.from_pretrained(teacher, local_files_only=True)
        encoded = {}
        for code, split in needs["splits"].items():
            self.report(5, f"tokenizing {code}")
            lines = [line for line in split_path(split.path, "train").read_text(encoding="utf-8").split("\n") if line]
            encoded[code] = tokenizer(lines, truncation=True, max_length=settings.tokens_per_sample)["input_ids"]
        q = {code: row["q"] for code, row in read_json(needs["plan"].path / "sampling.json")["languages"].items()}
        stats = distill(teacher, encoded, q, tmp, self.run_dir(), settings,
                        lambda step, steps, loss: self.report(int(100 * step / steps), f"update {step}/{steps}, "
                                                                                      f"loss {loss:.3f}"))
        copy_tokenizer_files(teacher, tmp)
        with open_text(tmp / "README.md", "w") as handle:
            handle.write(model_card(f"CINO-style student: {', '.join(self.langs)}", self.langs,
                                    f"{stats['student_layers']} of the trained model's {stats['teacher_layers']} layers, "
                                    "distilled from it (logits at a temperature and hidden states, as TextBrewer and "
                                    "DistilBERT do).", []))
        return {"languages": list(self.langs), "q": q, **stats, "bytes": (tmp / "model.safetensors").stat().st_size}
