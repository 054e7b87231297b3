"""The vocabulary half: base model -> per-script tokenizers -> merge -> prune -> initial checkpoint,
and the tokenizer report. torch is imported inside the tasks that use it, so that every Luigi
worker (and `python -m pipeline.langid`) starts without it."""
import logging
import shutil
from dataclasses import asdict

import luigi

from common.errors import InputError
from common.fingerprint import fingerprint
from common.progress import Progress
from pipeline import config
from pipeline.manifest import parse_lang_list
from pipeline.params import LangListParameter
from pipeline.tasks.base import LanguageListTask, StageTask
from pipeline.tasks.corpus import Split
from training.standin import StandInSettings, build_standin
from vocab import fairseq_ids
from vocab.merge import CodePoints, load_proto, merge
from vocab.prune import PruneSettings, count_pieces, prune, verify
from vocab.script_model import ScriptModelSettings, train_script_model

log = logging.getLogger("luigi-interface")
BASE_FILES = ("model.pt", "dict.txt", "sentencepiece.bpe.model")


def own_scripts(langs) -> dict:
    """{script code: [languages]} of the chosen languages whose script gets its own model."""
    catalog = config.catalog()
    scripts = {}
    for code in langs:
        script = catalog.languages[code].script
        if catalog.scripts[script].own_tokenizer:
            scripts.setdefault(script, []).append(code)
    return scripts


def code_points(scripts) -> CodePoints:
    """Code points owned by the given own-model scripts (against every script without a model)."""
    catalog = config.catalog()
    return CodePoints.of([catalog.scripts[code] for code in sorted(scripts)],
                         [s for _, s in sorted(catalog.scripts.items()) if not s.own_tokenizer])


class ExternalBase(luigi.Task):
    """A base model directory the user provides ([vocab] base_model_dir): fairseq's xlmr.base,
    xlmr.large, or any model in that layout. Fingerprinted by file sizes and times, not content.
    It is never built: if a file is missing, running it says which and how to fix it."""

    def model_dir(self):
        return config.base_model_dir()

    def output(self):
        return [luigi.LocalTarget(str(self.model_dir() / name)) for name in BASE_FILES]

    def run(self):
        missing = [name for name in BASE_FILES if not (self.model_dir() / name).is_file()]
        raise InputError(self.model_dir(), f"base model directory lacks {', '.join(missing)}",
                         "point [vocab] base_model_dir (or CINO_BASE_MODEL_DIR) at an extracted xlmr.base or "
                         "xlmr.large, or leave it empty to build the stand-in")

    def fingerprint(self) -> str:
        stamps = [(name, (self.model_dir() / name).stat().st_size, (self.model_dir() / name).stat().st_mtime_ns)
                  for name in BASE_FILES if (self.model_dir() / name).exists()]
        return fingerprint(str(self.model_dir()), stamps)


class StandInBase(StageTask):
    """XLM-R's real vocabulary on a small RoBERTa pretrained briefly on base-covered demo text."""
    stage = "standin_base"

    def scope(self):
        return "xlmr-vocab"

    def langs(self) -> tuple:
        return parse_lang_list(config.vocab().standin_langs, config.catalog())

    def requires(self):
        return [Split(lang=code) for code in self.langs()]

    def settings(self):
        vocab_dir = config.base_vocab_dir()
        stamps = [(n, (vocab_dir / n).stat().st_size) for n in BASE_FILES[1:] if (vocab_dir / n).exists()]
        return {"standin": asdict(config.settings_of(config.standin(), StandInSettings)), "vocab_files": stamps}

    def model_dir(self):
        return self.output_dir()

    def produce(self, tmp):
        settings = config.settings_of(config.standin(), StandInSettings)
        scratch = tmp / "scratch"
        scratch.mkdir()

        def on_record(kind, values):
            if kind == "train_inner":
                done = int(values["num_updates"])
                self.report(int(100 * done / settings.max_update),
                            f"stand-in base: update {done}/{settings.max_update}, loss {values['loss']}")

        splits = self.requires()
        stats = build_standin(config.base_vocab_dir(), [s.split_file("train") for s in splits],
                              [s.split_file("valid") for s in splits], tmp, scratch, settings, on_record)
        shutil.rmtree(scratch)
        return {"stage": "standin_base", "languages": list(self.langs()), **stats}


def base_model():
    """The base model task: the user's directory, or the stand-in built from XLM-R's vocabulary."""
    return ExternalBase() if config.base_model_dir() else StandInBase()


class TrainScriptTokenizer(StageTask):
    """SentencePiece unigram for one script, on the cleaned train split of its languages."""
    stage = "script_tokenizer"
    script = luigi.Parameter()
    lang = LangListParameter()   # the chosen languages written in this script

    def scope(self):
        return f"{self.script}-{'_'.join(self.lang)}"

    def requires(self):
        return [Split(lang=code) for code in self.lang]

    def settings(self):
        script = config.catalog().scripts[self.script]
        return {"model": asdict(config.settings_of(config.script_model(), ScriptModelSettings)),
                "vocab_size": script.vocab_size, "standins": code_points([self.script]).standins()}

    def model_file(self):
        return self.output_dir() / "spm.model"

    def produce(self, tmp):
        script = config.catalog().scripts[self.script]
        self.report(0, f"training a {script.vocab_size}-piece SentencePiece model for {self.script}")
        stats = train_script_model([s.split_file("train") for s in self.requires()], tmp / "spm.model",
                                   script.vocab_size, config.settings_of(config.script_model(), ScriptModelSettings),
                                   code_points([self.script]).standins())
        return {"stage": "script_tokenizer", "script": self.script, "languages": list(self.lang), **stats}


class MergeVocabulary(LanguageListTask):
    """Base SentencePiece model + script models -> one merged model (see vocab/merge.py)."""
    stage = "merge_vocab"

    def requires(self):
        return {"base": base_model(),
                "scripts": {script: TrainScriptTokenizer(script=script, lang=langs)
                            for script, langs in sorted(own_scripts(self.lang).items())}}

    def upstream(self):
        return [base_model(), *self.requires()["scripts"].values()]

    def model_file(self):
        return self.output_dir() / "sentencepiece.bpe.model"

    def produce(self, tmp):
        base_file = base_model().model_dir() / "sentencepiece.bpe.model"
        base = load_proto(base_file)
        fairseq_ids.check_layout(base, base_file)
        scripts = {code: load_proto(task.model_file()) for code, task in self.requires()["scripts"].items()}
        merged, stats = merge(base, scripts, code_points(scripts))
        (tmp / "sentencepiece.bpe.model").write_bytes(merged.SerializeToString())
        sizes = {"base": len(base.pieces) + 2, "merged": len(merged.pieces) + 2}  # fairseq: +<pad>, +<mask>
        log.info("Merged vocabulary: %s fairseq symbols (base %s)", sizes["merged"], sizes["base"])
        return {"stage": "merge_vocab", "fairseq_symbols": sizes, **stats}


class PruneVocabulary(LanguageListTask):
    """Keep the pieces the chosen languages' training text uses; dict.txt with real counts; id map."""
    stage = "prune_vocab"

    def requires(self):
        return {"merge": MergeVocabulary(lang=self.lang), "base": base_model(),
                "splits": [Split(lang=code) for code in self.lang]}

    def upstream(self):
        return [self.requires()["merge"], *self.requires()["splits"]]

    def settings(self):
        return asdict(config.settings_of(config.prune(), PruneSettings))

    def model_file(self):
        return self.output_dir() / "sentencepiece.bpe.model"

    def produce(self, tmp):
        settings = config.settings_of(config.prune(), PruneSettings)
        merged_file = self.requires()["merge"].model_file()
        files = [s.split_file("train") for s in self.requires()["splits"]]
        with Progress(None, "counting pieces", self.report, unit="chunk") as progress:
            counts = count_pieces(merged_file, files, settings, progress)
        merged = load_proto(merged_file)
        pruned, kept = prune(merged, counts, settings)
        (tmp / "sentencepiece.bpe.model").write_bytes(pruned.SerializeToString())
        fairseq_ids.write_dict(pruned, counts[kept], tmp / "dict.txt")
        base = load_proto(base_model().model_dir() / "sentencepiece.bpe.model")
        rows = fairseq_ids.id_map(pruned, base)
        fairseq_ids.write_id_map(rows, tmp / "idmap.tsv")
        self.report(80, "checking that pruning changes no training line")
        check = verify(merged_file, tmp / "sentencepiece.bpe.model", files, settings)
        if settings.min_count <= 1 and check["lines_tokenized_differently"]:
            raise RuntimeError(f"pruning changed the tokenization of {check['lines_tokenized_differently']} "
                               "training lines; this is a bug")
        sizes = {"base": len(base.pieces) + 2, "merged": len(merged.pieces) + 2, "pruned": len(pruned.pieces) + 2}
        log.info("Vocabulary sizes (fairseq symbols): base %(base)s, merged %(merged)s, pruned %(pruned)s", sizes)
        return {"stage": "prune_vocab", "fairseq_symbols": sizes, "tokens_counted": int(counts.sum()),
                "pieces_used": int((counts > 0).sum()), "new_pieces_kept": sum(1 for _, b, _ in rows if b < 0),
                "verification": check}


class InitCheckpoint(LanguageListTask):
    """The base checkpoint with its vocabulary-sized tensors rebuilt for the pruned vocabulary."""
    stage = "init_checkpoint"

    def requires(self):
        return {"prune": PruneVocabulary(lang=self.lang), "base": base_model()}

    def settings(self):
        return {"embedding_init": config.vocab().embedding_init, "seed": config.vocab().seed}

    def model_dir(self):
        return self.output_dir()

    def produce(self, tmp):
        from training import checkpoint
        from vocab.embeddings import STRATEGIES, base_tokenizer, new_rows

        strategy = config.vocab().embedding_init
        if strategy not in STRATEGIES:
            raise InputError("[vocab] embedding_init", f"unknown strategy {strategy!r}", f"use one of {', '.join(STRATEGIES)}")
        prune_dir, base_dir = self.requires()["prune"].output_dir(), self.requires()["base"].model_dir()
        base_ids_of = base_tokenizer(base_dir / "sentencepiece.bpe.model")
        self.report(10, "loading the base checkpoint")
        base = checkpoint.load(base_dir / "model.pt")
        rows = fairseq_ids.read_id_map(prune_dir / "idmap.tsv")
        weight, bias, stats = new_rows(base["model"][checkpoint.EMBED], base["model"][checkpoint.LM_BIAS], rows,
                                       strategy, base_ids_of, config.vocab().seed)
        checkpoint.save(checkpoint.replace_vocabulary(base, weight, bias), tmp / "model.pt")
        for name in ("dict.txt", "sentencepiece.bpe.model", "idmap.tsv"):
            shutil.copy(prune_dir / name, tmp / name)
        return {"stage": "init_checkpoint", "strategy": strategy, "rows": stats,
                "embedding_shape": list(weight.shape)}


class TokenizerReport(LanguageListTask):
    """<unk> rate, tokens per character and unit, split units, identity with the base: base,
    merged and pruned tokenizers on the held-out split (valid + test) of every language."""
    stage = "tokenizer_report"

    def report_langs(self) -> tuple:
        extra = parse_lang_list(config.vocab().report_langs, config.catalog()) if config.vocab().report_langs else ()
        return tuple(sorted(set(self.lang) | set(extra)))

    def requires(self):
        return {"base": base_model(), "merge": MergeVocabulary(lang=self.lang), "prune": PruneVocabulary(lang=self.lang),
                "splits": {code: Split(lang=code) for code in self.report_langs()}}

    def produce(self, tmp):
        from eval.tokenizer_report import tokenizer_report

        needs = self.requires()
        models = {"base": needs["base"].model_dir() / "sentencepiece.bpe.model",
                  "merged": needs["merge"].model_file(), "pruned": needs["prune"].model_file()}
        files = {code: [split.split_file("valid"), split.split_file("test")] for code, split in needs["splits"].items()}
        with Progress(len(files) * len(models), "tokenizer report", self.report, unit="measure") as progress:
            table = tokenizer_report(models, files, progress)
        table.to_csv(tmp / "tokenizers.csv", float_format="%.6f")
        with open(tmp / "tokenizers.md", "w", encoding="utf-8") as handle:
            handle.write("# Tokenizers on the held-out split (valid + test)\n\n")
            handle.write(table.to_markdown(floatfmt=".4f") + "\n")
        log.info("Tokenizers on the held-out split:\n%s", table.to_string(float_format="{:.4f}".format))
        rows = {f"{lang}/{name}": {k: (float(v) if isinstance(v, float) else int(v)) for k, v in row.items()}
                for (lang, name), row in table.iterrows()}
        return {"stage": "tokenizer_report", "languages": list(self.report_langs()), "rows": rows}
