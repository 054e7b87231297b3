"""BuildCINO: the whole job for the chosen languages (`--lang bo,mn,ug` or `--lang all`)."""
from common.jsonio import open_text
from eval import report
from pipeline import config
from pipeline.params import LangListParameter
from pipeline.tasks.base import StageTask, list_scope
from pipeline.tasks.corpus import TrainLangID
from pipeline.tasks.evaluate import EvaluationReport
from pipeline.tasks.export import ExportHF, PackageModel
from pipeline.tasks.report import CorpusReport, TokenizerReport
from pipeline.tasks.training import ContinuePretraining, SamplingPlan
from pipeline.tasks.vocab import PruneVocabulary


class BuildCINO(StageTask):
    """Everything, then report.md and report.html (plots embedded). `--lang bo,mn,ug` is the
    users' command line; the stages call the same sorted language list `langs`."""
    stage = "build"
    lang = LangListParameter()

    def scope(self) -> str:
        return list_scope(self.lang)

    def requires(self):
        return {"corpus": CorpusReport(langs=self.lang), "langid": TrainLangID(), "tokenizers": TokenizerReport(langs=self.lang),
                "vocab": PruneVocabulary(langs=self.lang), "plan": SamplingPlan(langs=self.lang),
                "model": ContinuePretraining(langs=self.lang), "hf": ExportHF(langs=self.lang),
                "hf_base": ExportHF(langs=self.lang, model="base"), "evaluation": EvaluationReport(langs=self.lang),
                "package": PackageModel(langs=self.lang)}

    def produce(self, tmp):
        from eval import plots

        needs = self.input()
        table = report.read_corpus_table(needs["corpus"].path / "corpus.csv")
        print(f"\nCorpus for {', '.join(self.lang)}: lines and characters in and kept, stage by stage\n"
              f"{report.corpus_text(table)}\n", flush=True)
        sizes = needs["vocab"].stats()["fairseq_symbols"]
        training, plan, results = needs["model"].stats(), needs["plan"].stats(), needs["evaluation"].stats()["results"]
        print(report.vocabulary_markdown(sizes) + "\n" + report.training_markdown(training, plan), flush=True)
        print(report.evaluation_markdown(results), flush=True)
        relative = lambda out: str(out.path.relative_to(config.work_dir()))  # noqa: E731
        exports = (f"## Hugging Face models\n\nIn the work directory: the model to ship (with the evaluation in its "
                   f"model card) `{relative(needs['package'])}`, its export `{relative(needs['hf'])}`, the base it "
                   f"started from `{relative(needs['hf_base'])}` (load with `AutoModelForMaskedLM.from_pretrained(PATH)`)."
                   "\n\n" + report.parity_markdown(needs["hf"].stats()["parity"]))
        print(f"Hugging Face model: {needs['package'].path}\n", flush=True)
        tokenizer_langs = needs["tokenizers"].stats()["languages"]
        sections = [
            ((needs["corpus"].path / "corpus.md").read_text(encoding="utf-8"),
             [plots.corpus_funnel(needs["corpus"].stats()["per_language"])]),
            (report.langid_markdown(needs["langid"].stats(), self.lang), []),
            (report.vocabulary_markdown(sizes), []),
            ((needs["tokenizers"].path / "tokenizers.md").read_text(encoding="utf-8"),
             [plots.tokenizers(needs["tokenizers"].stats()["rows"], tokenizer_langs)]),
            (report.training_markdown(training, plan), [plots.sampling(plan), plots.validation(training["validation"])]),
            (report.evaluation_markdown(results), [plots.evaluation(results)]),
            (exports, []),
        ]
        with open_text(tmp / "report.md", "w") as handle:
            handle.write(report.build_markdown(self.lang, [markdown for markdown, _ in sections]))
        with open_text(tmp / "report.html", "w") as handle:
            handle.write(report.html_page(f"CINO build: {', '.join(self.lang)}", sections))
        return {"languages": list(self.lang), **{f"{name}_dir": relative(out) for name, out in needs.items()}}
