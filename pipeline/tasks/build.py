"""BuildCINO: the whole job for the chosen languages (`--lang bo,mn,ug` or `--lang all`)."""
import logging

from common.jsonio import open_text
from pipeline import config
from pipeline.tasks.base import LanguageListTask
from pipeline.tasks.report import CorpusReport
from pipeline.tasks.training import ContinuePretraining
from pipeline.tasks.vocab import InitCheckpoint, TokenizerReport

log = logging.getLogger("luigi-interface")


class BuildCINO(LanguageListTask):
    stage = "build"

    def requires(self):
        return {"corpus": CorpusReport(lang=self.lang), "tokenizers": TokenizerReport(lang=self.lang),
                "checkpoint": InitCheckpoint(lang=self.lang), "model": ContinuePretraining(lang=self.lang)}

    def produce(self, tmp):
        needs = self.requires()
        corpus, tokenizers, init, model = needs["corpus"], needs["tokenizers"], needs["checkpoint"], needs["model"]
        text = corpus.table_text()
        print(f"\nCorpus for {', '.join(self.lang)}: lines and characters in and kept, stage by stage\n{text}\n", flush=True)
        sizes = init.requires()["prune"].stats()["fairseq_symbols"]
        print("Vocabulary (fairseq symbols): base {base}, merged {merged}, pruned {pruned}\n".format(**sizes), flush=True)
        with open_text(tmp / "report.md", "w") as handle:
            handle.write(f"# CINO build: {', '.join(self.lang)}\n\n")
            handle.write((corpus.output_dir() / "corpus.md").read_text(encoding="utf-8"))
            handle.write("\n## Vocabulary (fairseq symbols)\n\n"
                         "base {base} · merged {merged} · pruned {pruned}\n\n".format(**sizes))
            handle.write((tokenizers.output_dir() / "tokenizers.md").read_text(encoding="utf-8"))
            handle.write("\n" + training_section(model.stats(), model.requires()["plan"].stats()))
        print(training_section(model.stats(), model.requires()["plan"].stats()), flush=True)
        relative = lambda task: str(task.output_dir().relative_to(config.work_dir()))  # noqa: E731
        return {"stage": "build", "languages": list(self.lang), "corpus_report": relative(corpus),
                "tokenizer_report": relative(tokenizers), "initial_checkpoint": relative(init),
                "model": relative(model)}


def training_section(train_stats: dict, plan: dict) -> str:
    """Markdown: the sampling plan and the first and last validation loss per language."""
    lines = [f"## Continued pretraining: {train_stats['num_updates']} updates of {train_stats['effective_batch']} "
             f"sequences\n", "| language | blocks | p | q (alpha {alpha}) | sampling ratio | expected passes | "
             "first valid loss | last valid loss |".format(alpha=plan["alpha"]), "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for lang, row in plan["languages"].items():
        losses = train_stats["validation_first_last"].get(f"valid_{lang}", {})
        first, last = losses.get("first", (None, None))[1], losses.get("last", (None, None))[1]
        lines.append(f"| {lang} | {row['blocks']} | {row['p']:.4f} | {row['q']:.4f} | {row['ratio']:.2f} | "
                     f"{row['expected_passes']:.2f} | {first} | {last} |")
    return "\n".join(lines) + "\n"
