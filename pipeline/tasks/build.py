"""BuildCINO: the whole job for the chosen languages (`--lang bo,mn,ug` or `--lang all`)."""
import logging

from common.jsonio import open_text
from pipeline import config
from pipeline.params import LangListParameter
from pipeline.tasks.base import StageTask
from pipeline.tasks.report import CorpusReport

log = logging.getLogger("luigi-interface")


class BuildCINO(StageTask):
    stage = "build"
    lang = LangListParameter()

    def scope(self):
        return "_".join(self.lang)

    def requires(self):
        return {"corpus": CorpusReport(lang=self.lang)}

    def produce(self, tmp):
        corpus = self.requires()["corpus"]
        text = corpus.table_text()
        print(f"\nCorpus for {', '.join(self.lang)}: lines and characters in and kept, stage by stage\n{text}\n", flush=True)
        with open_text(tmp / "report.md", "w") as handle:
            handle.write(f"# CINO build: {', '.join(self.lang)}\n\n")
            handle.write((corpus.output_dir() / "corpus.md").read_text(encoding="utf-8"))
        return {"stage": "build", "languages": list(self.lang),
                "corpus_report": str(corpus.output_dir().relative_to(config.work_dir()))}
