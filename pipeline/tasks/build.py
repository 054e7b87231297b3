"""BuildCINO: the whole job for the chosen languages (`--lang bo,mn,ug` or `--lang all`)."""
from common.jsonio import open_text
from eval import report
from pipeline import config
from pipeline.params import LangListParameter
from pipeline.tasks.base import StageTask, list_scope
from pipeline.tasks.corpus import TrainLangID
from pipeline.tasks.export import ExportHF
from pipeline.tasks.report import CorpusReport, TokenizerReport
from pipeline.tasks.training import ContinuePretraining, SamplingPlan
from pipeline.tasks.vocab import PruneVocabulary


class BuildCINO(StageTask):
    """Everything, then report.md. `--lang bo,mn,ug` is the users' command line; the stages
    call the same sorted language list `langs`."""
    stage = "build"
    lang = LangListParameter()

    def scope(self) -> str:
        return list_scope(self.lang)

    def requires(self):
        return {"corpus": CorpusReport(langs=self.lang), "langid": TrainLangID(), "tokenizers": TokenizerReport(langs=self.lang),
                "vocab": PruneVocabulary(langs=self.lang), "plan": SamplingPlan(langs=self.lang),
                "model": ContinuePretraining(langs=self.lang), "hf": ExportHF(langs=self.lang),
                "hf_base": ExportHF(langs=self.lang, model="base")}

    def produce(self, tmp):
        needs = self.input()
        table = report.read_corpus_table(needs["corpus"].path / "corpus.csv")
        print(f"\nCorpus for {', '.join(self.lang)}: lines and characters in and kept, stage by stage\n"
              f"{report.corpus_text(table)}\n", flush=True)
        sizes = needs["vocab"].stats()["fairseq_symbols"]
        training = report.training_markdown(needs["model"].stats(), needs["plan"].stats())
        print(report.vocabulary_markdown(sizes) + "\n" + training, flush=True)
        relative = lambda out: str(out.path.relative_to(config.work_dir()))  # noqa: E731
        exports = (f"## Hugging Face models\n\nIn the work directory: the trained model `{relative(needs['hf'])}`, the "
                   f"base it started from `{relative(needs['hf_base'])}` (load with "
                   "`AutoModelForMaskedLM.from_pretrained(PATH)`; each has a model card, README.md).\n\n"
                   + report.parity_markdown(needs["hf"].stats()["parity"]))
        print(f"Hugging Face model: {needs['hf'].path}\n", flush=True)
        sections = [(needs["corpus"].path / "corpus.md").read_text(encoding="utf-8"),
                    report.langid_markdown(needs["langid"].stats(), self.lang), report.vocabulary_markdown(sizes),
                    (needs["tokenizers"].path / "tokenizers.md").read_text(encoding="utf-8"), training, exports]
        with open_text(tmp / "report.md", "w") as handle:
            handle.write(report.build_markdown(self.lang, sections))
        return {"languages": list(self.lang), **{f"{name}_dir": relative(out) for name, out in needs.items()}}
