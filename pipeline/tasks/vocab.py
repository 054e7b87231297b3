"""The vocabulary half: base model -> per-script tokenizers -> merge -> prune -> initial checkpoint.
torch is imported inside the tasks that use it, so that every Luigi worker (and
`python -m pipeline.langid`) starts without it."""
import logging
import shutil

import luigi

from common.atomic import is_complete, recorded_files
from common.errors import InputError
from common.fingerprint import fingerprint, sha256_cached
from common.progress import Progress
from common.xlmr import DICT_FILE, EMBED, IDMAP_FILE, LM_BIAS, LM_WEIGHT, MODEL_FILE, SPM_FILE
from corpus.manifest import SCRIPTS_FILE, parse_lang_list
from corpus.split import split_path
from eval.protocol import EvaluationProfile
from pipeline import config
from pipeline.config import BaseModelSettings
from pipeline.inputs import KEEPING, kept_langs, script_definition
from pipeline.params import LangListParameter
from pipeline.tasks.base import TORCH, Identified, LanguageListTask, StageTask, XlmrDir
from pipeline.tasks.corpus import Split
from training.profile import TrainSettings
from training.standin import StandInSettings, build_standin, profile as standin_profile
from vocab import fairseq_ids
from vocab.codepoints import own_scripts
from vocab.embeddings import EmbeddingSettings
from vocab.merge import check_pieces_added, merge_vocabulary
from vocab.normalizer import script_rewrite, script_rules
from vocab.pieces import load_proto
from vocab.prune import PruneSettings, compare_tokenization, count_pieces, prune
from vocab.script_model import SCRIPT_MODEL_FILE, ScriptModelSettings, train_script_model

log = logging.getLogger("luigi-interface")


class UserXlmrDir(XlmrDir):
    """A model directory the user provides: complete when its three files are there."""

    def exists(self) -> bool:
        return not self.missing()


class ExternalBase(Identified, luigi.Task):
    """A base model directory the user provides ([vocab] base_model_dir): fairseq's xlmr.base,
    xlmr.large, or any model in that layout. Fingerprinted by the content of its files, wherever
    they are (a copy to node-local disk reruns nothing; one changed byte reruns every stage that
    reads it). It is never built: if a file is missing, running it says which and how to fix it."""

    def output(self):
        return UserXlmrDir(config.base_model_dir())

    def run(self):
        raise InputError(self.output().path, f"base model directory lacks {', '.join(self.output().missing())}",
                         "point [vocab] base_model_dir (or CINO_BASE_MODEL_DIR) at an extracted xlmr.base or "
                         "xlmr.large, or leave it empty to build the stand-in")

    def fingerprint(self, known: dict = None) -> str:
        root = self.output().path
        # a stage's output (RealSizeBase for the benchmarks) lists every file's sha256 in its _SUCCESS, and
        # nothing may be written into it
        listed = recorded_files(root) if is_complete(root) else {}
        return fingerprint([(name, listed[name]["sha256"] if name in listed else sha256_cached(root / name))
                            for name in XlmrDir.FILES if (root / name).is_file()])


class StandInBase(StageTask):
    """XLM-R's real vocabulary on a small RoBERTa pretrained briefly on base-covered demo text."""
    preload = TORCH
    stage = "standin_base"
    logic = ("training.standin",)
    output_class = XlmrDir
    reads = (StandInSettings, BaseModelSettings.only("standin_langs"))

    def scope(self):
        return "xlmr-vocab"

    def requires(self):
        langs = parse_lang_list(self.read(BaseModelSettings).standin_langs, config.catalog(), "[vocab] standin_langs")
        return {code: Split(lang=code) for code in langs}

    def external_inputs(self):
        vocab_dir = config.base_vocab_dir()
        # what it trains with beyond [standin]: TrainSettings' defaults, which are not luigi.cfg's [train]
        return {"vocab_files": [(n, sha256_cached(vocab_dir / n, beside=False)) for n in (DICT_FILE, SPM_FILE)
                                if (vocab_dir / n).is_file()],
                "training": standin_profile(self.read(StandInSettings)).fingerprint_values()}

    def produce(self, tmp):
        settings = self.read(StandInSettings)
        scratch = tmp / "scratch"
        scratch.mkdir()

        def on_record(kind, values):
            if kind == "train_inner":
                done = int(values["num_updates"])
                self.report(int(100 * done / settings.max_update),
                            f"stand-in base: update {done}/{settings.max_update}, loss {values['loss']}")

        splits = self.input().values()
        stats = build_standin(config.base_vocab_dir(), [split_path(s.path, "train") for s in splits],
                              [split_path(s.path, "valid") for s in splits], tmp, scratch, settings, on_record)
        shutil.rmtree(scratch)
        return {"languages": list(self.input()), **stats}


def base_model():
    """The base model task: the user's directory, or the stand-in built from XLM-R's vocabulary."""
    return ExternalBase() if config.base_model_dir() else StandInBase()


class TrainScriptTokenizer(StageTask):
    """SentencePiece unigram for one script, on the cleaned train split of its languages."""
    stage = "script_tokenizer"
    logic = ("vocab.script_model",)
    reads = (ScriptModelSettings,)
    script = luigi.Parameter()
    langs = LangListParameter()   # the chosen languages written in this script

    def scope(self):
        return f"{self.script}-{'_'.join(self.langs)}"

    def requires(self):
        return [Split(lang=code) for code in self.langs]

    def external_inputs(self):
        return {"vocab_size": self._script().vocab_size, "script": script_definition(self.script)}

    def _script(self):
        return config.catalog().scripts[self.script]

    def produce(self, tmp):
        size = self._script().vocab_size
        self.report(0, f"training a {size}-piece SentencePiece model for {self.script}")
        stats = train_script_model([split_path(s.path, "train") for s in self.input()], tmp / SCRIPT_MODEL_FILE, size,
                                   self.read(ScriptModelSettings),
                                   script_rules(script_rewrite(config.catalog(), self.script)))
        return {"script": self.script, "languages": list(self.langs), **stats}


class MergeVocabulary(LanguageListTask):
    """Base SentencePiece model + script models -> one merged model (see vocab/merge.py)."""
    stage = "merge_vocab"
    logic = ("vocab.merge",)

    def requires(self):
        return {"base": base_model(),
                "scripts": {script: TrainScriptTokenizer(script=script, langs=langs)
                            for script, langs in sorted(own_scripts(config.catalog(), self.langs).items())}}

    def external_inputs(self):
        return {"scripts": {code: script_definition(code) for code in own_scripts(config.catalog(), self.langs)}}

    def produce(self, tmp):
        base_file, catalog = self.input()["base"].spm, config.catalog()
        base = load_proto(base_file)
        fairseq_ids.check_layout(base, base_file)
        models = {code: load_proto(out.path / SCRIPT_MODEL_FILE) for code, out in self.input()["scripts"].items()}
        self.report(10, "compiling the normaliser and merging the pieces")
        merged, stats = merge_vocabulary(base_file, models, {code: script_rewrite(catalog, code) for code in models},
                                         {code for code in models if catalog.scripts[code].add_base_encodable_pieces})
        check_pieces_added(stats, config.manifests_dir() / SCRIPTS_FILE)
        (tmp / SPM_FILE).write_bytes(merged.SerializeToString())
        sizes = {"base": fairseq_ids.symbol_count(base), "merged": fairseq_ids.symbol_count(merged)}
        log.info("Merged vocabulary: %s fairseq symbols (base %s)", sizes["merged"], sizes["base"])
        return {"fairseq_symbols": sizes, **stats}


class PruneVocabulary(LanguageListTask):
    """Keep the pieces the training text uses, of the chosen languages and of the kept ones (the
    evaluation's source language, replayed languages); dict.txt with real counts; id map."""
    stage = "prune_vocab"
    logic = ("vocab.prune",)
    reads = (PruneSettings, *KEEPING)

    def requires(self):
        kept = kept_langs(self.langs, self.read(TrainSettings), self.read(EvaluationProfile))
        return {"merge": MergeVocabulary(langs=self.langs), "base": base_model(),
                "splits": [Split(lang=code) for code in sorted({*self.langs, *kept})]}

    def upstream(self):
        return [self.requires()["merge"], *self.requires()["splits"]]  # the base is in the merge's fingerprint

    def produce(self, tmp):
        settings = self.read(PruneSettings)
        merged_file = self.input()["merge"].path / SPM_FILE
        files = [split_path(s.path, "train") for s in self.input()["splits"]]
        with Progress(None, "counting pieces", self.report, unit="chunk") as progress:
            counts = count_pieces(merged_file, files, settings, progress)
        merged = load_proto(merged_file)
        pruned, kept = prune(merged, counts, settings)
        (tmp / SPM_FILE).write_bytes(pruned.SerializeToString())
        fairseq_ids.write_dict(pruned, counts[kept], tmp / DICT_FILE)
        base = load_proto(self.input()["base"].spm)
        rows = fairseq_ids.id_map(pruned, base)
        fairseq_ids.write_id_map(rows, tmp / IDMAP_FILE)
        self.report(80, "checking that pruning changes no training line")
        check = compare_tokenization(merged_file, tmp / SPM_FILE, files, settings)
        if settings.min_count <= 1 and check["lines_tokenized_differently"]:
            raise RuntimeError(f"pruning changed the tokenization of {check['lines_tokenized_differently']} "
                               "training lines; this is a bug")
        sizes = {name: fairseq_ids.symbol_count(proto) for name, proto in
                 (("base", base), ("merged", merged), ("pruned", pruned))}
        log.info("Vocabulary sizes (fairseq symbols): base %(base)s, merged %(merged)s, pruned %(pruned)s", sizes)
        return {"fairseq_symbols": sizes, "languages": [s.path.name.split("-")[0] for s in self.input()["splits"]],
                "tokens_counted": int(counts.sum()),
                "pieces_used": int((counts > 0).sum()), "new_pieces_kept": sum(1 for _, b, _ in rows if b < 0),
                "verification": check}


class InitCheckpoint(LanguageListTask):
    """The base checkpoint with its vocabulary-sized tensors rebuilt for the pruned vocabulary:
    the XLM-R directory that binarisation and training start from."""
    preload = TORCH
    stage = "init_checkpoint"
    logic = ("vocab.embeddings", "training.checkpoint")
    output_class = XlmrDir
    reads = (EmbeddingSettings,)

    def requires(self):
        return {"prune": PruneVocabulary(langs=self.langs), "base": base_model()}

    def produce(self, tmp):
        from training import checkpoint
        from vocab.embeddings import base_tokenizer, new_rows

        settings = self.read(EmbeddingSettings)
        pruned, base_dir = self.input()["prune"].path, self.input()["base"]
        base_ids_of = base_tokenizer(base_dir.spm)
        self.report(10, "loading the base checkpoint")
        base = checkpoint.load_base(base_dir.model)
        rows = fairseq_ids.read_id_map(pruned / IDMAP_FILE)
        weight, bias, stats = new_rows(base["model"][EMBED], base["model"][LM_BIAS], rows,
                                       settings.embedding_init, base_ids_of, settings.seed)
        checkpoint.save(checkpoint.replace_vocabulary(base, weight, bias), tmp / MODEL_FILE)
        for name in (DICT_FILE, SPM_FILE, IDMAP_FILE):
            shutil.copy(pruned / name, tmp / name)
        return {"strategy": settings.embedding_init, "rows": stats, "embedding_shape": list(weight.shape)}


class RealSizeBase(StageTask):
    """A randomly initialised base with exactly xlmr.base's or xlmr.large's architecture and XLM-R's
    real vocabulary, in the 2019 release's layout or the current fairseq format: what
    bench/model_scale.py measures every model stage on (`[vocab] base_model_dir` = its output).
    Built on demand, cached under the work dir like every stage."""
    preload = TORCH
    stage = "real_size_base"
    logic = ("training.standin",)
    output_class = XlmrDir
    size = luigi.ChoiceParameter(choices=("base", "large"))
    layout = luigi.ChoiceParameter(choices=("current", "2019"), default="current")

    def scope(self):
        return f"xlmr-{self.size}-{self.layout}"

    def requires(self):
        return StandInBase()

    def produce(self, tmp):
        import torch

        from training import checkpoint
        from training.standin import XLMR_SIZES, as_2019_release, real_size

        template = self.input()
        self.report(10, f"initialising an xlmr.{self.size}-sized model")
        model = real_size(checkpoint.load(template.model), self.size)
        if self.layout == "2019":
            torch.save(as_2019_release(model), tmp / MODEL_FILE, _use_new_zipfile_serialization=False)
        else:
            checkpoint.save(model, tmp / MODEL_FILE)
        for name in (DICT_FILE, SPM_FILE):
            shutil.copy(template.path / name, tmp / name)
        return {"size": self.size, "layout": self.layout, "architecture": XLMR_SIZES[self.size],
                "parameters": sum(t.numel() for k, t in model["model"].items() if k != LM_WEIGHT)}   # tied to the embeddings
