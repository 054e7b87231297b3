"""ExportHF: a model directory as a Hugging Face `transformers` model, with parity checked.

`--model cino` (default) exports the trained model; `--model base` the base it started from
(the stand-in or the real XLM-R), which the evaluation compares it with. Parity against
fairseq is checked inside the stage and fails it when broken ([export] settings): token ids
on every held-out, raw and evaluation line of every language (and lines with <mask>), logits
within 1e-4 on the first lines of each.
"""
import logging
import time

import luigi

from common.jsonio import open_text
from common.provenance import provenance_markdown
from corpus.report import corpus_summary_markdown, read_corpus_table
from eval.tokenizer_report import vocabulary_markdown
from pipeline import config
from pipeline.inputs import language_texts, masked
from pipeline.tasks.base import FAIRSEQ, TRANSFORMERS, LanguageListTask, list_scope
from pipeline.tasks.corpus import Ingest, Split
from pipeline.tasks.report import CorpusReport
from pipeline.tasks.training import ContinuePretraining, SamplingPlan
from pipeline.tasks.vocab import PruneVocabulary, base_model
from training.hf_export import ParitySettings
from training.model_card import model_card, parity_markdown
from training.report import settings_markdown, training_markdown
from vocab.codepoints import own_scripts
from vocab.normalizer import script_rewrite

log = logging.getLogger("luigi-interface")


class ExportHF(LanguageListTask):
    preload = (*FAIRSEQ, *TRANSFORMERS)
    stage = "export_hf"
    logic = ("training.hf_export", "training.model_card")
    reads = (ParitySettings,)
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

    def produce(self, tmp):
        from training.hf_export import check_parity, export, parity

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
            # corpus text only: the evaluation sets are data of their own (adding one reruns no export)
            for name, lines in language_texts(code, needs["splits"][code], needs["ingests"][code], False).items():
                texts[f"{code}/{name}"] = lines
            texts[f"{code}/masked"] = masked(texts[f"{code}/held-out"][:200])
        self.report(40, "checking parity with fairseq")
        limits = self.read(ParitySettings)
        checked = parity(model_dir.path, tmp, texts, limits.logit_lines)
        check_parity(checked, limits)
        title = f"CINO-style model: {', '.join(self.langs)}" if self.model == "cino" else "Base model"
        with open_text(tmp / "README.md", "w") as handle:
            handle.write(model_card(title, self.langs, self._about(), self._sections(checked)))
        log.info("Hugging Face export of %s in %.1f s; parity:\n%s", model_dir.path, seconds,
                 parity_markdown(checked))
        return {**stats, "parity": checked}

    def _about(self) -> str:
        if self.model == "base":
            return ("The base model this pipeline continued pretraining from, exported with the same converter so "
                    "that evaluations compare the two on one footing.")
        return ("XLM-R continued with fairseq's multilingual masked-LM on the languages above, after its SentencePiece "
                "vocabulary was extended with per-script pieces and pruned to the corpus (CINO, Yang et al., "
                "COLING 2022, built with this pipeline).")

    def _sections(self, checked: dict) -> list:
        if self.model == "base":
            return [parity_markdown(checked), provenance_markdown(self.provenance())]
        needs = self.input()
        corpus = read_corpus_table(needs["corpus"].path / "corpus.csv")
        return [corpus_summary_markdown(corpus),
                vocabulary_markdown(needs["vocab"].stats()["fairseq_symbols"]),
                training_markdown(needs["model"].stats(), needs["plan"].stats()),
                settings_markdown(needs["model"].stats()["settings"]["train"]),
                parity_markdown(checked), provenance_markdown(self.provenance())]

