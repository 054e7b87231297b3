"""Settings: luigi.cfg sections (overridable on the command line) turned into plain values.

Each settings dataclass of the plain code (FilterSettings, DedupSettings, ...) is mirrored
by a luigi.Config class of the same fields, so `[filters] min_chars=8` in luigi.cfg or
`--filters-min-chars 8` on the command line both work, and the dataclass stays the one
place where a setting and its built-in default are defined.
Paths are resolved against the current directory; the environment variables
CINO_WORK_DIR, CINO_DATA_ROOT, CINO_EVAL_ROOT, CINO_MANIFESTS_DIR, CINO_BASE_MODEL_DIR and
CINO_BASE_VOCAB_DIR override luigi.cfg.
"""
import os
from dataclasses import MISSING, fields
from pathlib import Path

import luigi

from pipeline.manifest import load_catalog
from pipeline.text.dedup import DedupSettings
from pipeline.text.filters import FilterSettings
from pipeline.text.lid import FastTextSettings, SeedSettings
from pipeline.text.split import SplitSettings
from training.standin import StandInSettings
from vocab.prune import PruneSettings
from vocab.script_model import ScriptModelSettings

_PARAMETERS = {int: luigi.IntParameter, float: luigi.FloatParameter, str: luigi.Parameter, bool: luigi.BoolParameter}


def _config_class(section: str, *dataclasses):
    attrs = {"__doc__": f"[{section}] in luigi.cfg: fields of {', '.join(d.__name__ for d in dataclasses)}."}
    for dc in dataclasses:
        for f in fields(dc):
            default = f.default if f.default is not MISSING else f.default_factory()
            attrs[f.name] = _PARAMETERS[f.type](default=default)
    return type(section, (luigi.Config,), attrs)


class cino(luigi.Config):
    """[cino]: where things are."""
    work_dir = luigi.Parameter(default="work_dir")
    data_root = luigi.Parameter(default="../shared/corpora")
    eval_root = luigi.Parameter(default="../shared/eval")
    manifests_dir = luigi.Parameter(default="corpora_manifests")
    mirror_dir = luigi.Parameter(default="")
    download_cache = luigi.Parameter(default="")


class ingest(luigi.Config):
    """[ingest]: shard size in MB of UTF-8 text."""
    shard_mb = luigi.FloatParameter(default=64.0)


filters = _config_class("filters", FilterSettings)
lid = _config_class("lid", SeedSettings, FastTextSettings)
dedup = _config_class("dedup", DedupSettings)
split = _config_class("split", SplitSettings)
script_model = _config_class("script_model", ScriptModelSettings)
prune = _config_class("prune", PruneSettings)
standin = _config_class("standin", StandInSettings)


class vocab(luigi.Config):
    """[vocab]: the base model and how the vocabulary is extended."""
    base_model_dir = luigi.Parameter(default="")        # fairseq XLM-R layout; empty: build the stand-in
    base_vocab_dir = luigi.Parameter(default="../shared/base/xlmr")  # XLM-R's real vocabulary, for the stand-in
    standin_langs = luigi.Parameter(default="zh,yue,ko,ug,kk")      # text the stand-in is pretrained on
    report_langs = luigi.Parameter(default="zh,yue,ko,ug,kk")       # always in the tokenizer report (identity check)
    embedding_init = luigi.Parameter(default="mean_subtokens")      # mean_subtokens | script_mean | random
    seed = luigi.IntParameter(default=1234)


def settings_of(config, dataclass, **overrides):
    values = {f.name: getattr(config, f.name) for f in fields(dataclass)}
    values.update(overrides)
    return dataclass(**values)


def _path(option: str, env: str, section=None) -> Path:
    value = os.environ.get(env) or getattr(section or cino(), option)
    return Path(value).expanduser().absolute() if value else None


def work_dir() -> Path:
    return _path("work_dir", "CINO_WORK_DIR")


def data_root() -> Path:
    return _path("data_root", "CINO_DATA_ROOT")


def eval_root() -> Path:
    return _path("eval_root", "CINO_EVAL_ROOT")


def manifests_dir() -> Path:
    return _path("manifests_dir", "CINO_MANIFESTS_DIR")


def mirror_dir():
    return _path("mirror_dir", "CINO_MIRROR_DIR")


def base_model_dir():
    return _path("base_model_dir", "CINO_BASE_MODEL_DIR", vocab())


def base_vocab_dir() -> Path:
    return _path("base_vocab_dir", "CINO_BASE_VOCAB_DIR", vocab())


def download_cache() -> Path:
    return _path("download_cache", "CINO_DOWNLOAD_CACHE") or work_dir() / "downloads"


_catalogs = {}


def catalog():
    """The validated manifests, reloaded when any manifest file changes."""
    root = manifests_dir()
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(root.glob("*.yaml"))) \
        if root.is_dir() else ()
    key = (str(root), stamp)
    if key not in _catalogs:
        _catalogs.clear()
        _catalogs[key] = load_catalog(root)
    return _catalogs[key]


def filter_settings(lang) -> FilterSettings:
    return settings_of(filters(), FilterSettings).with_overrides(lang.filters)
