"""BuildCINO: the whole job for the chosen languages (`--lang bo,mn,ug` or `--lang all`)."""
from common.jsonio import open_text
from common.markdown import html_page, markdown_page
from corpus import report as corpus_report
from eval.report import evaluation_markdown, evaluation_plot
from eval.tokenizer_report import tokenizers_plot, vocabulary_markdown
from pipeline import config
from pipeline.params import LangListParameter
from pipeline.tasks.base import StageTask, list_scope
from pipeline.tasks.corpus import LangIDReport
from pipeline.tasks.evaluate import EvaluationReport
from pipeline.tasks.export import ExportHF
from pipeline.tasks.package import PackageModel
from pipeline.tasks.report import CorpusReport, TokenizerReport
from pipeline.tasks.training import ContinuePretraining, SamplingPlan
from pipeline.tasks.vocab import PruneVocabulary
from training.model_card import parity_markdown
from training.report import sampling_plot, training_markdown, validation_plot


class BuildCINO(StageTask):
    """Everything, then report.md (its plots in figures/) and report.html (plots embedded). The users' command line is
    `--lang bo,mn,ug`, hence the parameter's name; the code reads the list as `langs`, as every
    task over a language list calls it."""
    stage = "build"
    logic = ("corpus.report", "eval.report", "eval.tokenizer_report", "training.report", "common.markdown")
    version = 2   # 2: report.md's plots in figures/
    lang = LangListParameter(description="the languages to build: codes separated by commas, or all")

    @property
    def langs(self) -> tuple:
        return self.lang

    def scope(self) -> str:
        return list_scope(self.langs)

    def requires(self):
        return {"corpus": CorpusReport(langs=self.langs), "langid": LangIDReport(), "tokenizers": TokenizerReport(langs=self.langs),
                "vocab": PruneVocabulary(langs=self.langs), "plan": SamplingPlan(langs=self.langs),
                "model": ContinuePretraining(langs=self.langs), "hf": ExportHF(langs=self.langs),
                "hf_base": ExportHF(langs=self.langs, model="base"), "evaluation": EvaluationReport(langs=self.langs),
                "package": PackageModel(langs=self.langs)}

    def produce(self, tmp):
        needs = self.input()
        table = corpus_report.read_corpus_table(needs["corpus"].path / "corpus.csv")
        print(f"\nCorpus for {', '.join(self.langs)}: lines and characters in and kept, stage by stage\n"
              f"{corpus_report.corpus_text(table)}\n", flush=True)
        sizes = needs["vocab"].stats()["fairseq_symbols"]
        training, plan, results = needs["model"].stats(), needs["plan"].stats(), needs["evaluation"].stats()["results"]
        print(vocabulary_markdown(sizes) + "\n" + training_markdown(training, plan), flush=True)
        print(evaluation_markdown(results), flush=True)
        relative = lambda out: str(out.path.relative_to(config.work_dir()))  # noqa: E731
        exports = (f"## Hugging Face models\n\nIn the work directory: the model to ship (with the evaluation in its "
                   f"model card) `{relative(needs['package'])}`, its export `{relative(needs['hf'])}`, the base it "
                   f"started from `{relative(needs['hf_base'])}` (load with `AutoModelForMaskedLM.from_pretrained(PATH)`)."
                   "\n\n" + parity_markdown(needs["hf"].stats()["parity"]))
        print(f"Hugging Face model: {needs['package'].path}\n", flush=True)
        tokenizer_langs = needs["tokenizers"].stats()["languages"]
        sections = [
            ((needs["corpus"].path / "corpus.md").read_text(encoding="utf-8"),
             [corpus_report.funnel_plot(needs["corpus"].stats()["per_language"])]),
            (corpus_report.langid_markdown(needs["langid"].stats(), self.langs), []),
            (vocabulary_markdown(sizes), []),
            ((needs["tokenizers"].path / "tokenizers.md").read_text(encoding="utf-8"),
             [tokenizers_plot(needs["tokenizers"].stats()["rows"], tokenizer_langs)]),
            (training_markdown(training, plan), [sampling_plot(plan), validation_plot(training["validation"])]),
            (evaluation_markdown(results), [evaluation_plot(results)]),
            (exports, []),
        ]
        with open_text(tmp / "report.md", "w") as handle:
            handle.write(markdown_page(f"CINO build: {', '.join(self.langs)}", sections, tmp / "figures"))
        with open_text(tmp / "report.html", "w") as handle:
            handle.write(html_page(f"CINO build: {', '.join(self.langs)}", sections))
        return {"languages": list(self.langs), **{f"{name}_dir": relative(out) for name, out in needs.items()}}
