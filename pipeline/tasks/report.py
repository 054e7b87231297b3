"""Report stages: the corpus funnel and the tokenizer comparison. The tables and markdown
come from eval/report.py; these tasks gather the stats they require and write the files."""
import logging

from common.jsonio import open_text
from common.progress import Progress
from eval import report
from pipeline import config
from pipeline.manifest import parse_lang_list
from pipeline.tasks.base import LanguageListTask
from pipeline.tasks.corpus import Dedup, Split
from pipeline.tasks.vocab import MergeVocabulary, PruneVocabulary, base_model
from pipeline.text.split import split_path
from vocab.fairseq_ids import SPM_FILE

log = logging.getLogger("luigi-interface")


class CorpusReport(LanguageListTask):
    """Per-language accounting of the corpus half, as CSV and markdown."""
    stage = "corpus_report"

    def requires(self):
        return {code: {"dedup": Dedup(lang=code), "split": Split(lang=code)} for code in self.langs}

    def produce(self, tmp):
        per_language = {code: report.language_funnel(outs["dedup"].stats(), outs["split"].stats())
                        for code, outs in self.input().items()}
        table, rejected = report.corpus_table(per_language), report.rejected_table(per_language)
        table.to_csv(tmp / "corpus.csv")
        rejected.to_csv(tmp / "rejected.csv")
        with open_text(tmp / "corpus.md", "w") as handle:
            handle.write(report.corpus_markdown(table, rejected))
        return {"languages": list(self.langs), "per_language": per_language}


class TokenizerReport(LanguageListTask):
    """<unk> rate, tokens per character and unit, split units, identity with the base: base,
    merged and pruned tokenizers on the held-out split (valid + test) of every language."""
    stage = "tokenizer_report"

    def report_langs(self) -> tuple:
        extra = config.settings(config.BaseModelSettings).report_langs
        listed = parse_lang_list(extra, config.catalog(), "[vocab] report_langs") if extra else ()
        return tuple(sorted(set(self.langs) | set(listed)))

    def requires(self):
        return {"base": base_model(), "merge": MergeVocabulary(langs=self.langs), "prune": PruneVocabulary(langs=self.langs),
                "splits": {code: Split(lang=code) for code in self.report_langs()}}

    def produce(self, tmp):
        from eval.tokenizer_report import tokenizer_report

        needs = self.input()
        models = {"base": needs["base"].spm, "merged": needs["merge"].path / SPM_FILE,
                  "pruned": needs["prune"].path / SPM_FILE}
        files = {code: [split_path(out.path, "valid"), split_path(out.path, "test")] for code, out in needs["splits"].items()}
        with Progress(len(files) * len(models), "tokenizer report", self.report, unit="measure") as progress:
            table = tokenizer_report(models, files, progress)
        table.to_csv(tmp / "tokenizers.csv", float_format="%.6f")
        with open_text(tmp / "tokenizers.md", "w") as handle:
            handle.write(report.tokenizer_markdown(table))
        log.info("Tokenizers on the held-out split:\n%s", table.to_string(float_format="{:.4f}".format))
        return {"languages": list(self.report_langs()), "rows": report.tokenizer_rows(table)}
