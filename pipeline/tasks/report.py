"""CorpusReport: per-language accounting of the corpus half, as CSV and markdown."""
import logging

from common.jsonio import open_text
from pipeline.reporting import corpus_table, rejected_table
from pipeline.tasks.base import LanguageListTask
from pipeline.tasks.corpus import Split, stage_totals

log = logging.getLogger("luigi-interface")


def _language_stats(split: Split) -> dict:
    dedup = split.requires()
    cleans = dedup.cleans()
    return {
        "ingest": dedup.requires().stats(),
        "langid": stage_totals([c.requires() for c in cleans]),
        "clean": stage_totals(cleans),
        "dedup": dedup.stats(),
        "split": split.stats()["splits"],
    }


class CorpusReport(LanguageListTask):
    stage = "corpus_report"

    def requires(self):
        return [Split(lang=code) for code in self.lang]

    def produce(self, tmp):
        per_language = {split.lang: _language_stats(split) for split in self.requires()}
        table, rejected = corpus_table(per_language), rejected_table(per_language)
        table.to_csv(tmp / "corpus.csv")
        rejected.to_csv(tmp / "rejected.csv")
        with open_text(tmp / "corpus.md", "w") as handle:
            handle.write("# Corpus: lines and characters in and kept, stage by stage\n\n")
            handle.write(table.to_markdown() + "\n\n## Rejected lines by stage and reason\n\n")
            handle.write(rejected.to_markdown() + "\n")
        return {"stage": "corpus_report", "languages": list(self.lang), "per_language": per_language}

    def table_text(self) -> str:
        import pandas as pd

        table = pd.read_csv(self.output_dir() / "corpus.csv", header=[0, 1], index_col=0)
        with pd.option_context("display.width", 250, "display.max_columns", 50):
            return table.to_string()
