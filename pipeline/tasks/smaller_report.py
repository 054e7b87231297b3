"""SmallerModels: the trained model, its model for one language and the student side by side on
that language's evaluation settings.

    luigi --module pipeline SmallerModels --langs bo,mn,ug --lang bo --local-scheduler
"""
import luigi

from common.jsonio import read_json
from eval.protocol import EvaluationProfile
from pipeline.tasks.base import LanguageListTask, list_scope
from pipeline.tasks.evaluate import DEFAULT_SET, BaselineClassification, EvaluateClassification
from pipeline.tasks.export import ExportHF
from pipeline.tasks.smaller import DistillStudent, PruneForLanguage
from training.report import smaller_markdown, smaller_plot, with_retention


class SmallerModels(LanguageListTask):
    """The trained model, its model for one language and the student side by side on that
    language's evaluation settings: scores with spread, retention (score / the trained model's),
    size. (CPU speed: bench/smaller_models.py, which measures it beside this report.)"""
    stage = "smaller_models"
    logic = ("training.report",)
    reads = (EvaluationProfile.only("source_lang", "in_language_metric"),)
    lang = luigi.Parameter()
    eval_set = luigi.Parameter(default=DEFAULT_SET, description="the evaluation set the models are compared on")

    def scope(self):
        return f"{list_scope(self.langs)}-{self.eval_set}-{self.lang}"

    def requires(self):
        # a language without evaluation data fails in EvaluateClassification, with a one-line error
        return {"models": {"cino": ExportHF(langs=self.langs), "pruned": PruneForLanguage(langs=self.langs, lang=self.lang),
                           "student": DistillStudent(langs=self.langs)},
                "scores": {model: EvaluateClassification(langs=self.langs, model=model, lang=self.lang,
                                                         eval_set=self.eval_set)
                           for model in ("cino", "pruned", "student")},
                "fasttext": BaselineClassification(langs=self.langs, lang=self.lang, eval_set=self.eval_set)}

    def produce(self, tmp):
        needs, metric = self.input(), self.read(EvaluationProfile).in_language_metric
        tests = {model: {test: row for test, row in read_json(output.path / "metrics.json")["tests"].items()
                         if test.startswith(f"{self.lang}/")} for model, output in needs["scores"].items()}
        rows = {model: {"bytes": (output.path / "model.safetensors").stat().st_size,
                        "parameters": output.stats()["parameters"],
                        "scores": {test: row["aggregate"][metric] for test, row in tests[model].items()}}
                for model, output in needs["models"].items()}
        # a score means little alone: the same data's majority class and fastText beside it
        fasttext = needs["fasttext"].stats()["tests"]
        baselines = {test: {"majority": row["majority_baseline"][metric], "fasttext": fasttext[test][metric]}
                     for test, row in tests["cino"].items()}
        rows = with_retention(rows)
        (tmp / "smaller_models.md").write_text(smaller_markdown(self.lang, metric, rows, baselines), encoding="utf-8")
        (tmp / "smaller_models.png").write_bytes(smaller_plot(self.lang, metric, rows, baselines))
        return {"lang": self.lang, "metric": metric, "models": rows, "baselines": baselines}
