"""PackageModel: the trained model as it ships, the Hugging Face export with the evaluation in its
model card (the export cannot wait for an evaluation of itself: the evaluation reads it)."""
import os
import shutil

from common.jsonio import open_text
from eval.report import evaluation_markdown
from pipeline import config
from pipeline.tasks.base import LanguageListTask
from pipeline.tasks.evaluate import EvaluationReport
from pipeline.tasks.export import ExportHF


class PackageModel(LanguageListTask):
    """The export's files hard-linked (copied where the file system cannot link), its model card
    with the evaluation added."""
    stage = "model"
    logic = ("eval.report",)

    def requires(self):
        return {"export": ExportHF(langs=self.langs), "evaluation": EvaluationReport(langs=self.langs)}

    def produce(self, tmp):
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
            handle.write(card + "\n" + evaluation_markdown(evaluation.stats()["results"]))
        return {"export": str(export.path.relative_to(config.work_dir()))}
