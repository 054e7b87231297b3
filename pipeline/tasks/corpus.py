"""The corpus half: Ingest -> TrainLangID -> IdentifyLanguage -> Clean -> Dedup -> Decontaminate ->
Split, and LangIDReport (the classifier's accuracy) beside it.

IdentifyLanguage and Clean run once per (language, shard); Dedup gathers a language's
shards (as dynamic dependencies, since the shard count is known only after Ingest) and
records the totals of every stage before it, which CorpusReport reads.
"""
import logging
from collections import Counter

import luigi
import pandas as pd

from common.atomic import recorded_files
from common.errors import InputError
from common.jsonio import open_text, write_json
from common.progress import Progress
from corpus import lid
from corpus.clean import clean_shard
from corpus.decontaminate import DecontaminationSettings, EvaluationIndex, decontaminate
from corpus.dedup import DedupSettings, dedup_language
from corpus.filters import FilterSettings
from corpus.ingest import IngestSettings, has_converter, ingest_language, legacy_converter, resolve_source
from corpus.menksoft import SEPARATORS, MenksoftSettings, converter_fingerprint
from corpus.lines import KEPT_FILE, totals
from corpus.scripts import ScriptTable
from corpus.split import SplitSettings, split_language
from pipeline import config
from pipeline.inputs import eval_files, eval_texts, language, scored_files, scored_texts, script, shard_files
from pipeline.tasks.base import ShardTask, StageTask

log = logging.getLogger("luigi-interface")


class Ingest(StageTask):
    """Resolve, verify (sha256) and decode a language's sources into shards."""
    stage = "ingest"
    logic = ("corpus.ingest", "corpus.menksoft")   # the tables the converter reads: external_inputs
    lang = luigi.Parameter()

    @property
    def reads(self) -> tuple:
        """The Menksoft setting only for a script whose legacy encoding is converted: changing it
        reruns Mongolian's corpus, not every language's."""
        return (IngestSettings, MenksoftSettings) if has_converter(script(self.lang)) else (IngestSettings,)

    def requires(self):
        return []

    def _legacy(self):
        if not has_converter(script(self.lang)):
            return None
        return legacy_converter(script(self.lang), SEPARATORS[self.read(MenksoftSettings).suffix_separator])

    def external_inputs(self):
        return {"sources": [{"id": s.id, "sha256": s.sha256, "format": s.format, "text_field": s.text_field,
                             "id_field": s.id_field, "keep_rows": s.keep_rows} for s in language(self.lang).sources],
                "legacy": [script(self.lang).legacy_name, script(self.lang).legacy_ranges],
                **({"converter": converter_fingerprint()} if has_converter(script(self.lang)) else {})}

    def produce(self, tmp):
        lang = language(self.lang)
        paths = [resolve_source(s, lang.manifest, config.data_root(), config.mirror_dir(), config.download_cache())
                 for s in lang.sources]
        with Progress(None, f"ingest {lang.code}", self.report) as progress:
            result = ingest_language(lang, paths, tmp, self.read(IngestSettings), progress, self._legacy())
        write_json(tmp / "shards.json", result["shards"])
        return result["stats"]


class TrainLangID(StageTask):
    """fastText language classifier over every manifest language, from seed lines sampled from
    every source. Its fingerprint covers what the seeds and the classifier are made from (the
    sources, each language's script and script share, the scripts' ranges, the seed and fastText
    settings): a language's threshold belongs to its IdentifyLanguage, and the accuracy on held-out
    seeds and on evaluation sentences to LangIDReport."""
    stage = "langid_model"
    logic = ("corpus.lid",)
    version = 3   # 2: the classifier sees the normalised view of a line; 3: its accuracy in LangIDReport
    reads = (lid.SeedSettings, lid.FastTextSettings)

    def scope(self):
        return "all"

    def requires(self):
        return {code: Ingest(lang=code) for code in sorted(config.catalog().languages)}

    def external_inputs(self):
        catalog = config.catalog()
        langs = {c: {"script": l.script, "min_script_share": l.min_script_share}
                 for c, l in sorted(catalog.languages.items())}
        scripts = {c: {"ranges": s.ranges, "borrowed": s.borrowed} for c, s in sorted(catalog.scripts.items())}
        return {"languages": langs, "scripts": scripts}

    def produce(self, tmp):
        catalog = config.catalog()
        shards = {code: shard_files(ingested) for code, ingested in self.input().items()}
        seed_settings = self.read(lid.SeedSettings)
        with Progress(None, "langid seeds", self.report) as progress:
            seeds = lid.collect_seeds(catalog.languages, shards, ScriptTable(catalog.scripts), catalog.scripts,
                                      seed_settings, progress)
        train, heldout = lid.split_seeds(seeds, seed_settings.heldout_percent)
        for name, lines in ((lid.SEEDS_TRAIN_FILE, train), (lid.SEEDS_HELDOUT_FILE, heldout)):
            with open_text(tmp / name, "w") as handle:
                handle.writelines(line + "\n" for line in lines)
        self.report(50, f"training fastText on {len(train)} seed lines")
        lid.train_classifier(tmp / lid.SEEDS_TRAIN_FILE, tmp / lid.LID_MODEL_FILE, self.read(lid.FastTextSettings))
        return {"seed_lines": {label: len(items) for label, items in seeds.items()}, "train_lines": len(train),
                "heldout_lines": len(heldout)}


class LangIDReport(StageTask):
    """The language classifier's accuracy: on its held-out seed lines (labelled by their own
    source; accepted at each language's threshold), and on the manifests' evaluation sets
    (real sentences no corpus contains, e.g. SIB-200). A threshold tuned or an evaluation file
    added reruns this report, not the classifier."""
    stage = "langid_report"
    logic = ("corpus.lid",)

    def scope(self):
        return "all"

    def requires(self):
        return TrainLangID()

    def external_inputs(self):
        langs = sorted(config.catalog().languages)
        return {"thresholds": {code: language(code).lid_threshold for code in langs},
                "eval_sets": {code: eval_files(code) for code in langs}}

    def produce(self, tmp):
        catalog = config.catalog()
        identifier = lid.LanguageIdentifier(self.input().path / lid.LID_MODEL_FILE)
        with open_text(self.input().path / lid.SEEDS_HELDOUT_FILE) as handle:
            heldout = [line.rstrip("\n") for line in handle]
        thresholds = {c: l.lid_threshold for c, l in catalog.languages.items()}
        evaluation = lid.evaluate(identifier, heldout, thresholds)
        table_text = pd.DataFrame(evaluation["per_label"]).T.to_string(float_format="{:.4f}".format)
        confusion = pd.DataFrame(evaluation["confusion"]).T.fillna(0).astype(int).to_string()
        log.info("Language ID on %d held-out seed lines: accuracy %.4f\n%s\nconfusion (rows: true, columns: predicted)\n%s",
                 len(heldout), evaluation["accuracy"], table_text, confusion)
        texts = {code: list(eval_texts(code)) for code, lang in catalog.languages.items() if lang.eval_sets}
        on_eval_sets = lid.evaluate_texts(identifier, texts, thresholds)
        log.info("Language ID on the evaluation sets' sentences (never used for training):\n%s",
                 pd.DataFrame(on_eval_sets).T.drop(columns="predicted").to_string(float_format="{:.4f}".format))
        return {"heldout_lines": len(heldout), **evaluation, "eval_sets": on_eval_sets}


class IdentifyLanguage(ShardTask):
    """Keep a shard's lines that are in the language (script share, classifier, threshold)."""
    stage = "langid"
    logic = ("corpus.lid",)

    def requires(self):
        return {"ingest": Ingest(lang=self.lang), "model": TrainLangID()}

    def external_inputs(self):
        lang = language(self.lang)
        return {"script": lang.script, "ranges": script(self.lang).ranges, "legacy": script(self.lang).legacy_ranges,
                "threshold": lang.lid_threshold, "min_script_share": lang.min_script_share}

    def produce(self, tmp):
        shard = shard_files(self.input()["ingest"])[self.shard]
        identifier = lid.LanguageIdentifier(self.input()["model"].path / lid.LID_MODEL_FILE)
        with Progress(None, f"langid {self.lang}/{self.shard}", self.report) as progress:
            stats = lid.identify_shard(shard, tmp, language(self.lang), ScriptTable(config.catalog().scripts),
                                       identifier, progress)
        return {"lang": self.lang, "shard": self.shard, **stats}


class Clean(ShardTask):
    """Markup stripping, per-script normalisation and line filters for one shard."""
    stage = "clean"
    logic = ("corpus.clean",)
    reads = (FilterSettings,)

    def requires(self):
        return IdentifyLanguage(lang=self.lang, shard=self.shard)

    def external_inputs(self):
        lang, entry = language(self.lang), script(self.lang)
        return {"filter_overrides": lang.filters, "normalization": entry.normalization,
                "keep_format": entry.keep_format, "ranges": entry.ranges, "shingle": entry.shingle,
                "markup": {s.id: s.markup for s in lang.sources}}

    def produce(self, tmp):
        lang = language(self.lang)
        filters = self.read(FilterSettings).with_overrides(lang.filters)
        with Progress(None, f"clean {self.lang}/{self.shard}", self.report) as progress:
            stats = clean_shard(self.input().path / KEPT_FILE, tmp, lang, script(self.lang),
                                ScriptTable(config.catalog().scripts), filters, progress)
        return {"lang": self.lang, "shard": self.shard, **stats}


def _everything_rejected(lang, funnel: dict) -> InputError:
    """The error for a language left with no line: which stage and filter removed it all."""
    tasks = {"ingest": "Ingest", "langid": "IdentifyLanguage", "clean": "Clean"}
    for stage, counts in funnel.items():
        if counts["lines_kept"] == 0:
            reasons = ", ".join(f"{r} {n}" for r, n in Counter(counts["rejected"]).most_common())
            return InputError(lang.manifest, f"every line of '{lang.code}' was rejected by {tasks[stage]} "
                                             f"({counts['lines_in']} in: {reasons or 'no lines'})",
                              "check the sources and the lid/filters settings of this manifest "
                              "(see rejected.tsv of that stage)")
    raise AssertionError("called although lines were kept")


class Dedup(StageTask):
    """Exact and MinHash near-duplicate removal across all sources and shards of a language.
    Its stats also hold `funnel`: the totals of the ingest, langid and clean stages it read."""
    stage = "dedup"
    logic = ("corpus.dedup",)
    version = 2   # 2: stats record the funnel
    reads = (DedupSettings,)
    lang = luigi.Parameter()

    def requires(self):
        return Ingest(lang=self.lang)

    def upstream(self):
        return [Clean(lang=self.lang, shard=0)]  # all shards share Clean's fingerprint

    def external_inputs(self):
        return {"shingle": script(self.lang).shingle}

    def shards(self) -> dict:
        """The per-shard tasks whose outputs Dedup reads (known once Ingest has run)."""
        count = len(shard_files(self.input()))
        return {"langid": [IdentifyLanguage(lang=self.lang, shard=i) for i in range(count)],
                "clean": [Clean(lang=self.lang, shard=i) for i in range(count)]}

    def run(self):
        outputs = yield self.shards()
        self.write_outputs(shards=outputs)

    def produce(self, tmp, shards):
        lang, outputs = language(self.lang), shards
        funnel = {"ingest": totals([self.input().stats()]),
                  "langid": totals(out.stats() for out in outputs["langid"]),
                  "clean": totals(out.stats() for out in outputs["clean"])}
        if funnel["clean"]["lines_kept"] == 0:
            raise _everything_rejected(lang, funnel)
        scratch = tmp / "scratch"
        scratch.mkdir()
        with Progress(funnel["clean"]["lines_kept"], f"dedup {self.lang}", self.report) as progress:
            stats = dedup_language([out.path / KEPT_FILE for out in outputs["clean"]], tmp, scratch,
                                   script(self.lang).shingle, self.read(DedupSettings), progress)
        for path in scratch.iterdir():
            path.unlink()
        scratch.rmdir()
        return {"lang": self.lang, "shards": len(outputs["clean"]), "funnel": funnel, **stats}


class Decontaminate(StageTask):
    """Remove the lines that overlap a text the evaluation scores on or selects with (the dev and
    test splits of every set the language declares), so that no split file holds one
    (corpus/decontaminate.py has the rule, docs/DECONTAMINATION.md its figures)."""
    stage = "decontaminate"
    logic = ("corpus.decontaminate",)
    reads = (DecontaminationSettings,)
    lang = luigi.Parameter()

    def requires(self):
        return Dedup(lang=self.lang)

    def external_inputs(self):
        return {"scored_files": scored_files(self.lang)}

    def handoff(self, known: dict) -> str:
        """What Split's fingerprint takes from it: once it is written, the content of its kept lines,
        so that an evaluation set added, fixed or removed whose texts overlap no line changes no
        split, vocabulary, model or export (only this stage reruns, a scan of the corpus). Before
        that, its fingerprint: the stages after it are scheduled and, when they run, find their
        outputs already made under the content."""
        own = self.fingerprint(known)
        output = self.output_class(self.output_dir(own))
        if output.exists():
            return "kept lines " + recorded_files(output.path)[KEPT_FILE]["sha256"]
        return own

    def produce(self, tmp):
        index = EvaluationIndex(scored_texts(self.lang), self.read(DecontaminationSettings))
        with Progress(self.input().stats()["lines_kept"], f"decontaminate {self.lang}", self.report) as progress:
            stats = decontaminate(sorted(self.input().path.glob("shard-*.tsv")), tmp, index, progress)
        return {"lang": self.lang, **stats}


class Split(StageTask):
    """Deterministic train/valid/test files for a language, by a hash of each line."""
    stage = "split"
    logic = ("corpus.split",)
    reads = (SplitSettings,)
    lang = luigi.Parameter()

    def requires(self):
        return Decontaminate(lang=self.lang)

    def produce(self, tmp):
        kept = self.input()
        with Progress(kept.stats()["lines_kept"], f"split {self.lang}", self.report) as progress:
            stats = split_language([kept.path / KEPT_FILE], tmp, self.read(SplitSettings), progress)
        return {"lang": self.lang, **stats}
