"""ExportHF: a model directory as a Hugging Face `transformers` model, with parity checked.

`--model cino` (default) exports the trained model; `--model base` the base it started from
(the stand-in or the real XLM-R), which the evaluation compares it with. Parity against
fairseq is checked inside the stage and fails it when broken: token ids on every held-out,
raw and evaluation line of every language (and lines with <mask>), logits within 1e-4.
"""
import logging
import time

import luigi

from common.jsonio import open_text
from eval import report
from pipeline import config
from pipeline.tasks.base import LanguageListTask, list_scope
from pipeline.tasks.corpus import Ingest, Split, eval_files, language_texts
from pipeline.tasks.report import CorpusReport
from pipeline.tasks.training import ContinuePretraining, SamplingPlan
from pipeline.tasks.vocab import PruneVocabulary, base_model
from pipeline.text.normalize import script_rewrite
from vocab.codepoints import own_scripts
from vocab.fairseq_ids import MASK

log = logging.getLogger("luigi-interface")
MAX_LOGIT_DIFFERENCE = 1e-4   # float32
MIN_IDS_IDENTICAL = 0.999     # share of lines; the rest are listed in stats.json
LOGIT_LINES = 2               # per text, compared through both models (token ids: every line)


def masked(lines: list) -> list:
    """The lines with their middle word (or character, without spaces) replaced by <mask>."""
    result = []
    for line in lines:
        words = line.split(" ")
        if len(words) > 2:
            result.append(" ".join(words[:len(words) // 2] + [MASK] + words[len(words) // 2 + 1:]))
        elif len(line) > 2:
            result.append(line[:len(line) // 2] + MASK + line[len(line) // 2 + 1:])
    return result


class ExportHF(LanguageListTask):
    stage = "export_hf"
    model = luigi.ChoiceParameter(choices=("cino", "base"), default="cino")

    def scope(self):
        return f"{list_scope(self.langs)}-{self.model}"

    def requires(self):
        needs = {"base": base_model(), "splits": {code: Split(lang=code) for code in self.langs},
                 "ingests": {code: Ingest(lang=code) for code in self.langs}}
        if self.model == "cino":
            needs.update(model=ContinuePretraining(langs=self.langs), corpus=CorpusReport(langs=self.langs),
                         vocab=PruneVocabulary(langs=self.langs), plan=SamplingPlan(langs=self.langs))
        return needs

    def settings(self):
        return {"model": self.model, "eval_sets": {code: eval_files(code) for code in self.langs},
                "max_logit_difference": MAX_LOGIT_DIFFERENCE, "min_ids_identical": MIN_IDS_IDENTICAL,
                "logit_lines": LOGIT_LINES}

    def produce(self, tmp):
        from training.hf_export import export, parity

        needs, catalog = self.input(), config.catalog()
        model_dir = needs["model"] if self.model == "cino" else needs["base"]
        scripts = [script_rewrite(catalog, code) for code in own_scripts(catalog, self.langs)] \
            if self.model == "cino" else []
        started = time.time()
        self.report(10, "writing the Hugging Face model and tokenizer")
        stats = export(model_dir.path, tmp, scripts, needs["base"].spm)
        seconds = time.time() - started   # in the log and work_dir/timings, not in stats.json (byte-identical outputs)
        texts = {}
        for code in self.langs:
            for name, lines in language_texts(code, needs["splits"][code], needs["ingests"][code]).items():
                texts[f"{code}/{name}"] = lines
            texts[f"{code}/masked"] = masked(texts[f"{code}/held-out"][:200])
        self.report(40, "checking parity with fairseq")
        checked = parity(model_dir.path, tmp, texts, LOGIT_LINES)
        self._check(checked)
        title = f"CINO-style model: {', '.join(self.langs)}" if self.model == "cino" else "Base model"
        with open_text(tmp / "README.md", "w") as handle:
            handle.write(report.model_card(title, self.langs, self._about(), self._sections(checked)))
        log.info("Hugging Face export of %s in %.1f s; parity:\n%s", model_dir.path, seconds,
                 report.parity_markdown(checked))
        return {**stats, "parity": checked}

    @staticmethod
    def _check(checked: dict) -> None:
        worst = max(row["max_abs_logit_difference"] for row in checked.values())
        identical = sum(row["ids_identical"] for row in checked.values()) / sum(row["lines"] for row in checked.values())
        if worst > MAX_LOGIT_DIFFERENCE or identical < MIN_IDS_IDENTICAL:
            examples = [line for row in checked.values() for line in row["first_mismatches"]][:3]
            raise RuntimeError(f"Hugging Face export differs from fairseq: max abs logit difference {worst:.2e} "
                               f"(limit {MAX_LOGIT_DIFFERENCE}), token ids identical on {identical:.4%} of lines "
                               f"(limit {MIN_IDS_IDENTICAL:.1%}); first differing lines: {examples}")

    def _about(self) -> str:
        if self.model == "base":
            return ("The base model this pipeline continued pretraining from, exported with the same converter so "
                    "that evaluations compare the two on one footing.")
        return ("XLM-R continued with fairseq's multilingual masked-LM on the languages above, after its SentencePiece "
                "vocabulary was extended with per-script pieces and pruned to the corpus (CINO, Yang et al., "
                "COLING 2022, built with this pipeline).")

    def _sections(self, checked: dict) -> list:
        if self.model == "base":
            return [report.parity_markdown(checked)]
        needs = self.input()
        corpus = report.read_corpus_table(needs["corpus"].path / "corpus.csv")
        return [report.corpus_summary_markdown(corpus),
                report.vocabulary_markdown(needs["vocab"].stats()["fairseq_symbols"]),
                report.training_markdown(needs["model"].stats(), needs["plan"].stats()),
                report.profile_markdown(config.settings(config.LaunchSettings).profile,
                                        needs["model"].stats()["settings"]["profile"]),
                report.parity_markdown(checked)]


class PackageModel(LanguageListTask):
    """The trained model as it ships: the Hugging Face export with the evaluation in its model
    card (files hard-linked from the export where the file system allows)."""
    stage = "model"

    def requires(self):
        from pipeline.tasks.evaluate import EvaluationReport

        return {"export": ExportHF(langs=self.langs), "evaluation": EvaluationReport(langs=self.langs)}

    def produce(self, tmp):
        import os
        import shutil

        export, evaluation = self.input()["export"], self.input()["evaluation"]
        for path in sorted(export.path.iterdir()):
            if path.name in ("README.md", "stats.json", "_SUCCESS"):
                continue
            try:
                os.link(path, tmp / path.name)
            except OSError:
                shutil.copy(path, tmp / path.name)
        card = (export.path / "README.md").read_text(encoding="utf-8")
        with open_text(tmp / "README.md", "w") as handle:
            handle.write(card + "\n" + report.evaluation_markdown(evaluation.stats()["results"]))
        return {"export": str(export.path.relative_to(config.work_dir()))}
