"""The corpus half: Ingest -> TrainLangID -> IdentifyLanguage -> Clean -> Dedup -> Split.

IdentifyLanguage and Clean run once per (language, shard); Dedup gathers a language's
shards (as dynamic dependencies, since the shard count is known only after Ingest).
"""
import csv
import logging
from collections import Counter
from dataclasses import asdict

import luigi
import pandas as pd

from common.errors import InputError
from common.jsonio import open_text, read_json, write_json
from common.progress import Progress
from pipeline import config
from pipeline.tasks.base import ShardTask, StageTask
from pipeline.text import lid
from pipeline.text.clean import clean_shard
from pipeline.text.dedup import DedupSettings, dedup_language
from pipeline.text.ingest import ingest_language, resolve_source
from pipeline.text.scripts import ScriptTable
from pipeline.text.split import SplitSettings, split_language

log = logging.getLogger("luigi-interface")


def _language(code: str):
    return config.catalog().languages[code]


def _script(code: str):
    return config.catalog().scripts[_language(code).script]


class Ingest(StageTask):
    """Resolve, verify (sha256) and decode a language's sources into shards."""
    stage = "ingest"
    lang = luigi.Parameter()

    def requires(self):
        return []

    def settings(self):
        sources = [{k: v for k, v in asdict(s).items() if k in ("id", "sha256", "format", "text_field")}
                   for s in _language(self.lang).sources]
        return {"shard_mb": config.ingest().shard_mb, "sources": sources}

    def shard_files(self) -> list:
        return [self.output_dir() / s["file"] for s in read_json(self.output_dir() / "shards.json")]

    def produce(self, tmp):
        lang = _language(self.lang)
        paths = [resolve_source(s, lang.manifest, config.data_root(), config.mirror_dir(), config.download_cache())
                 for s in lang.sources]
        result = ingest_language(lang, paths, tmp, int(config.ingest().shard_mb * 2**20), self.report)
        write_json(tmp / "shards.json", result["shards"])
        return result["stats"]


class TrainLangID(StageTask):
    """fastText language classifier over every manifest language, from reserved seed lines."""
    stage = "langid_model"

    def scope(self):
        return "all"

    def requires(self):
        return [Ingest(lang=code) for code in sorted(config.catalog().languages)]

    def settings(self):
        catalog = config.catalog()
        langs = {c: {"script": l.script, "min_script_share": l.min_script_share, "threshold": l.lid_threshold}
                 for c, l in sorted(catalog.languages.items())}
        scripts = {c: {"ranges": s.ranges, "borrowed": s.borrowed} for c, s in sorted(catalog.scripts.items())}
        seeds = config.settings_of(config.lid(), lid.SeedSettings)
        fasttext = config.settings_of(config.lid(), lid.FastTextSettings)
        return {"languages": langs, "scripts": scripts, **lid.settings_dict(seeds, fasttext)}

    def model_file(self):
        return self.output_dir() / "model.bin"

    def produce(self, tmp):
        catalog = config.catalog()
        table = ScriptTable(catalog.scripts)
        shards = {task.lang: task.shard_files() for task in self.requires()}
        seeds_cfg = config.settings_of(config.lid(), lid.SeedSettings)
        with Progress(None, "langid seeds", self.report) as progress:
            seeds = lid.collect_seeds(catalog.languages, shards, table, catalog.scripts, seeds_cfg, progress)
        train, heldout = lid.split_seeds(seeds, seeds_cfg.heldout_percent)
        for name, lines in (("seeds.train.txt", train), ("seeds.heldout.txt", heldout)):
            with open_text(tmp / name, "w") as handle:
                handle.writelines(line + "\n" for line in lines)
        self.report(50, f"training fastText on {len(train)} seed lines")
        lid.train_classifier(tmp / "seeds.train.txt", tmp / "model.bin",
                             config.settings_of(config.lid(), lid.FastTextSettings))
        identifier = lid.LanguageIdentifier(tmp / "model.bin")
        thresholds = {c: l.lid_threshold for c, l in catalog.languages.items()}
        evaluation = lid.evaluate(identifier, heldout, thresholds)
        table_text = pd.DataFrame(evaluation["per_label"]).T.to_string(float_format="{:.4f}".format)
        confusion = pd.DataFrame(evaluation["confusion"]).T.fillna(0).astype(int).to_string()
        log.info("Language ID on %d held-out seed lines: accuracy %.4f\n%s\nconfusion (rows: true, columns: predicted)\n%s",
                 len(heldout), evaluation["accuracy"], table_text, confusion)
        seed_counts = {label: len(items) for label, items in seeds.items()}
        return {"stage": "langid_model", "seed_lines": seed_counts, "train_lines": len(train),
                "heldout_lines": len(heldout), **evaluation}


class IdentifyLanguage(ShardTask):
    """Keep a shard's lines that are in the language (script share, classifier, threshold)."""
    stage = "langid"

    def requires(self):
        return {"ingest": Ingest(lang=self.lang), "model": TrainLangID()}

    def settings(self):
        lang = _language(self.lang)
        return {"script": lang.script, "ranges": _script(self.lang).ranges,
                "threshold": lang.lid_threshold, "min_script_share": lang.min_script_share}

    def produce(self, tmp):
        lang = _language(self.lang)
        shard = self.requires()["ingest"].shard_files()[self.shard]
        identifier = lid.LanguageIdentifier(self.requires()["model"].model_file())
        with open_text(tmp / "rejected.tsv", "w") as handle, \
                Progress(None, f"langid {self.lang}/{self.shard}", self.report) as progress:
            rejected = csv.writer(handle, dialect="excel-tab", lineterminator="\n")
            rejected.writerow(["ref", "reason", "detail", "text"])
            stats = lid.identify_shard(shard, tmp / "kept.tsv", rejected, lang,
                                       ScriptTable(config.catalog().scripts), identifier, progress)
        return {"stage": "langid", "lang": self.lang, "shard": self.shard, **stats}


class Clean(ShardTask):
    """Markup stripping, per-script normalisation and line filters for one shard."""
    stage = "clean"

    def requires(self):
        return IdentifyLanguage(lang=self.lang, shard=self.shard)

    def settings(self):
        lang, script = _language(self.lang), _script(self.lang)
        return {"filters": asdict(config.filter_settings(lang)), "normalization": script.normalization,
                "keep_format": script.keep_format, "ranges": script.ranges, "shingle": script.shingle,
                "markup": {s.id: s.markup for s in lang.sources}}

    def produce(self, tmp):
        lang = _language(self.lang)
        with Progress(None, f"clean {self.lang}/{self.shard}", self.report) as progress:
            stats = clean_shard(self.requires().output_dir() / "kept.tsv", tmp / "kept.tsv", tmp / "rejected.tsv",
                                lang, _script(self.lang), ScriptTable(config.catalog().scripts),
                                config.filter_settings(lang), progress)
        return {"stage": "clean", "lang": self.lang, "shard": self.shard, **stats}


def stage_totals(tasks) -> dict:
    """Sum the line and character counts of per-shard stats."""
    totals, reasons = Counter(), Counter()
    for task in tasks:
        stats = task.stats()
        totals.update({k: stats[k] for k in ("lines_in", "lines_kept", "chars_in", "chars_kept")})
        reasons.update(stats["rejected"])
    return {**totals, "rejected": dict(sorted(reasons.items()))}


def _everything_rejected(lang, stages) -> InputError:
    """The error for a language left with no line: which stage and filter removed it all."""
    for name, totals in stages:
        if totals["lines_kept"] == 0:
            reasons = ", ".join(f"{r} {n}" for r, n in Counter(totals["rejected"]).most_common())
            return InputError(lang.manifest, f"every line of '{lang.code}' was rejected by {name} "
                                             f"({totals['lines_in']} in: {reasons or 'no lines'})",
                              "check the sources and the lid/filters settings of this manifest "
                              "(see rejected.tsv of that stage)")
    raise AssertionError("called although lines were kept")


class Dedup(StageTask):
    """Exact and MinHash near-duplicate removal across all sources and shards of a language."""
    stage = "dedup"
    lang = luigi.Parameter()

    def requires(self):
        return Ingest(lang=self.lang)

    def upstream(self):
        return [Clean(lang=self.lang, shard=0)]  # all shards share Clean's fingerprint

    def settings(self):
        return {"dedup": asdict(config.settings_of(config.dedup(), DedupSettings)), "shingle": _script(self.lang).shingle}

    def cleans(self) -> list:
        return [Clean(lang=self.lang, shard=i) for i in range(len(self.requires().shard_files()))]

    def run(self):
        yield self.cleans()
        self.write_outputs()

    def produce(self, tmp):
        lang, cleans = _language(self.lang), self.cleans()
        ingest = self.requires().stats()
        langid = stage_totals([c.requires() for c in cleans])
        clean = stage_totals(cleans)
        if clean["lines_kept"] == 0:
            raise _everything_rejected(lang, [("Ingest", ingest), ("IdentifyLanguage", langid), ("Clean", clean)])
        scratch = tmp / "scratch"
        scratch.mkdir()
        with Progress(clean["lines_kept"], f"dedup {self.lang}", self.report) as progress:
            stats = dedup_language([c.output_dir() / "kept.tsv" for c in cleans], tmp, scratch,
                                   _script(self.lang).shingle, config.settings_of(config.dedup(), DedupSettings),
                                   progress)
        for path in scratch.iterdir():
            path.unlink()
        scratch.rmdir()
        return {"stage": "dedup", "lang": self.lang, "shards": len(cleans), **stats}


class Split(StageTask):
    """Deterministic train/valid/test files for a language, by a hash of each line."""
    stage = "split"
    lang = luigi.Parameter()

    def requires(self):
        return Dedup(lang=self.lang)

    def settings(self):
        return asdict(config.settings_of(config.split(), SplitSettings))

    def split_file(self, name: str):
        return self.output_dir() / f"{name}.txt"

    def produce(self, tmp):
        dedup = self.requires()
        shards = sorted(dedup.output_dir().glob("shard-*.tsv"))
        with Progress(dedup.stats()["lines_kept"], f"split {self.lang}", self.report) as progress:
            stats = split_language(shards, tmp, config.settings_of(config.split(), SplitSettings), progress)
        return {"stage": "split", "lang": self.lang, **stats}
