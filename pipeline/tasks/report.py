"""Report stages: the corpus funnel and the tokenizer comparison. The tables and markdown
come from corpus/report.py and eval/tokenizer_report.py; these tasks gather the stats they
require and write the files."""
import logging

from common.jsonio import open_text
from common.progress import Progress
from common.xlmr import SPM_FILE
from corpus import report as corpus_report
from corpus.manifest import parse_lang_list
from corpus.normalize import Normalizer
from pipeline import config
from pipeline.config import BaseModelSettings
from pipeline.inputs import eval_files, language_texts
from pipeline.tasks.base import LanguageListTask
from pipeline.tasks.corpus import Decontaminate, Dedup, Ingest, Split
from pipeline.tasks.vocab import MergeVocabulary, PruneVocabulary, base_model
from vocab.codepoints import own_scripts

log = logging.getLogger("luigi-interface")


class CorpusReport(LanguageListTask):
    """Per-language accounting of the corpus half, as CSV and markdown."""
    stage = "corpus_report"
    logic = ("corpus.report",)

    def requires(self):
        return {code: {"ingest": Ingest(lang=code), "dedup": Dedup(lang=code), "decontaminate": Decontaminate(lang=code),
                       "split": Split(lang=code)}
                for code in self.langs}

    def produce(self, tmp):
        per_language = {code: corpus_report.language_funnel(outs["dedup"].stats(), outs["decontaminate"].stats(),
                                                            outs["split"].stats())
                        for code, outs in self.input().items()}
        table, rejected = corpus_report.corpus_table(per_language), corpus_report.rejected_table(per_language)
        legacy = corpus_report.legacy_table({code: outs["ingest"].stats() for code, outs in self.input().items()})
        table.to_csv(tmp / "corpus.csv")
        rejected.to_csv(tmp / "rejected.csv")
        legacy.to_csv(tmp / "legacy.csv")
        with open_text(tmp / "corpus.md", "w") as handle:
            handle.write(corpus_report.corpus_markdown(table, rejected, legacy))
        return {"languages": list(self.langs), "per_language": per_language,
                "converted_legacy": {f"{code}/{source}": int(row["converted_legacy"])
                                     for (code, source), row in legacy.iterrows()}}


class TokenizerReport(LanguageListTask):
    """<unk> rate, tokens per character and unit, split units, identity with the base and with
    the cleaned text: base, merged and pruned tokenizers on held-out, raw and evaluation text.
    Languages: the chosen ones, `[vocab] report_langs`, and every manifest language written in
    a script this vocabulary extends (its base languages: what an extension may cost them)."""
    stage = "tokenizer_report"
    logic = ("eval.tokenizer_report",)
    version = 2   # 2: raw test lines and evaluation sentences beside the cleaned held-out split
    reads = (BaseModelSettings.only("report_langs"),)

    def report_langs(self) -> tuple:
        catalog = config.catalog()
        extra = self.read(BaseModelSettings).report_langs
        listed = parse_lang_list(extra, catalog, "[vocab] report_langs") if extra else ()
        extended = own_scripts(catalog, self.langs)
        same_script = [code for code, lang in catalog.languages.items() if lang.script in extended]
        return tuple(sorted({*self.langs, *listed, *same_script}))

    def requires(self):
        return {"base": base_model(), "merge": MergeVocabulary(langs=self.langs), "prune": PruneVocabulary(langs=self.langs),
                "splits": {code: Split(lang=code) for code in self.report_langs()},
                "ingests": {code: Ingest(lang=code) for code in self.report_langs()}}

    def external_inputs(self):
        return {"eval_sets": {code: eval_files(code) for code in self.report_langs()}}

    def produce(self, tmp):
        from eval.tokenizer_report import tokenizer_markdown, tokenizer_report, tokenizer_rows

        needs, catalog = self.input(), config.catalog()
        models = {"base": needs["base"].spm, "merged": needs["merge"].path / SPM_FILE,
                  "pruned": needs["prune"].path / SPM_FILE}
        texts, clean = {}, {}
        for code, split in needs["splits"].items():
            for name, lines in language_texts(code, split, needs["ingests"][code]).items():
                texts[(code, name)] = lines
            script = catalog.scripts[catalog.languages[code].script]
            clean[code] = Normalizer(script.normalization, script.keep_format)
        with Progress(len(texts) * len(models), "tokenizer report", self.report, unit="measure") as progress:
            table = tokenizer_report(models, texts, clean, progress)
        table.to_csv(tmp / "tokenizers.csv", float_format="%.6f")
        with open_text(tmp / "tokenizers.md", "w") as handle:
            handle.write(tokenizer_markdown(table))
        log.info("Tokenizers:\n%s", table.to_string(float_format="{:.4f}".format))
        return {"languages": list(self.report_langs()), "rows": tokenizer_rows(table)}
