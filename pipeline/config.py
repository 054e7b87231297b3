"""Every setting, in one place: the luigi.cfg sections and the plain settings they fill.

Each setting is defined once, as a field (with its default) of a settings dataclass beside
the code that uses it (FilterSettings in pipeline/text/filters.py, DedupSettings in
pipeline/text/dedup.py, ...), as fairseq declares its options. SECTIONS says which
luigi.cfg section holds which dataclasses' fields; a luigi.Config class per section is
derived from them, so `[filters] min_chars = 8` in luigi.cfg and `--filters-min-chars 8` on
the command line both work, and `settings(FilterSettings)` gives the plain value a task
passes to plain code. `python -m pipeline.show_settings` prints every section, option and
default (docs/SETTINGS.md is that output; a test keeps it current).

Training hyperparameters are named profiles instead, `[profile.<name>]` sections of
luigi.cfg with every field of training.profile.TrainSettings, chosen by `[train] profile`;
the same profile's `[evaluation.<name>]` section holds the evaluation's (eval.protocol).

Paths are resolved against the current directory; the environment variables
CINO_WORK_DIR, CINO_DATA_ROOT, CINO_EVAL_ROOT, CINO_MANIFESTS_DIR, CINO_MIRROR_DIR,
CINO_DOWNLOAD_CACHE, CINO_BASE_MODEL_DIR and CINO_BASE_VOCAB_DIR override luigi.cfg.
"""
import os
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

import luigi

from common.errors import InputError
from common.sections import load_section
from eval.protocol import EvaluationProfile
from pipeline.manifest import load_catalog
from pipeline.text.dedup import DedupSettings
from pipeline.text.filters import FilterSettings
from pipeline.text.ingest import IngestSettings
from pipeline.text.lid import FastTextSettings, SeedSettings
from pipeline.text.split import SplitSettings
from training.launch import LaunchSettings
from training.profile import TrainSettings, load_profile
from training.standin import StandInSettings
from vocab.embeddings import EmbeddingSettings
from vocab.prune import PruneSettings
from vocab.script_model import ScriptModelSettings


@dataclass(frozen=True)
class PathSettings:
    work_dir: str = "work_dir"                 # everything a run produces (CINO_WORK_DIR)
    data_root: str = "../shared/corpora"       # manifest source paths are relative to it (CINO_DATA_ROOT)
    eval_root: str = "../shared/eval"          # manifest eval paths are relative to it (CINO_EVAL_ROOT)
    manifests_dir: str = "corpora_manifests"   # one YAML per language + scripts.yaml (CINO_MANIFESTS_DIR)
    mirror_dir: str = ""                       # searched first for URL sources (CINO_MIRROR_DIR)
    download_cache: str = ""                   # URL sources land here once; empty: <work_dir>/downloads


@dataclass(frozen=True)
class BaseModelSettings:
    base_model_dir: str = ""                        # fairseq XLM-R layout (xlmr.base ...); empty: build the stand-in
    base_vocab_dir: str = "../shared/base/xlmr"     # XLM-R's real vocabulary, for the stand-in
    standin_langs: str = "zh,yue,ko,ug,kk"          # text the stand-in is pretrained on
    report_langs: str = "zh,yue,ko,ug,kk"           # always in the tokenizer report (identity with the base)


SECTIONS = {
    "cino": (PathSettings,),
    "ingest": (IngestSettings,),
    "lid": (SeedSettings, FastTextSettings),
    "filters": (FilterSettings,),
    "dedup": (DedupSettings,),
    "split": (SplitSettings,),
    "vocab": (BaseModelSettings, EmbeddingSettings),
    "script_model": (ScriptModelSettings,),
    "prune": (PruneSettings,),
    "standin": (StandInSettings,),
    "train": (LaunchSettings,),
}
_PARAMETERS = {int: luigi.IntParameter, float: luigi.FloatParameter, str: luigi.Parameter, bool: luigi.BoolParameter}


def _default(f):
    return f.default if f.default is not MISSING else f.default_factory()


def _config_class(section: str, dataclasses: tuple):
    attrs = {"__doc__": f"[{section}] in luigi.cfg: fields of {', '.join(d.__name__ for d in dataclasses)}.",
             "__module__": __name__}
    for dc in dataclasses:
        for f in fields(dc):
            attrs[f.name] = _PARAMETERS[f.type](default=_default(f))
    return type(section, (luigi.Config,), attrs)


CONFIGS = {section: _config_class(section, dataclasses) for section, dataclasses in SECTIONS.items()}
_SECTION_OF = {dc: section for section, dataclasses in SECTIONS.items() for dc in dataclasses}


def settings(dataclass, **overrides):
    """The plain settings value of `dataclass` as luigi.cfg and the command line set it."""
    config = CONFIGS[_SECTION_OF[dataclass]]()
    values = {f.name: getattr(config, f.name) for f in fields(dataclass)}
    values.update(overrides)
    return dataclass(**values)


def _profile_section(kind: str) -> tuple:
    """({option: text}, where) of the `[<kind>.<profile>]` section `[train] profile` names."""
    section = f"{kind}.{settings(LaunchSettings).profile}"
    parser = luigi.configuration.get_config()
    if not parser.has_section(section):
        raise InputError("[train] profile", f"no section [{section}] in luigi.cfg",
                         "use demo-cpu, cino-base or cino-large, or add the section")
    return dict(parser.items(section)), f"luigi.cfg [{section}]"


def profile() -> TrainSettings:
    """The training profile `[train] profile` names: its `[profile.<name>]` section of luigi.cfg."""
    return load_profile(*_profile_section("profile"))


def evaluation_profile() -> EvaluationProfile:
    """The evaluation settings of the same profile: its `[evaluation.<name>]` section of luigi.cfg."""
    return load_section(EvaluationProfile, *_profile_section("evaluation"), "[evaluation.demo-cpu]")


def _path(value: str, env: str):
    value = os.environ.get(env) or value
    return Path(value).expanduser().absolute() if value else None


def work_dir() -> Path:
    return _path(settings(PathSettings).work_dir, "CINO_WORK_DIR")


def data_root() -> Path:
    return _path(settings(PathSettings).data_root, "CINO_DATA_ROOT")


def eval_root() -> Path:
    return _path(settings(PathSettings).eval_root, "CINO_EVAL_ROOT")


def manifests_dir() -> Path:
    return _path(settings(PathSettings).manifests_dir, "CINO_MANIFESTS_DIR")


def mirror_dir():
    return _path(settings(PathSettings).mirror_dir, "CINO_MIRROR_DIR")


def download_cache() -> Path:
    return _path(settings(PathSettings).download_cache, "CINO_DOWNLOAD_CACHE") or work_dir() / "downloads"


def base_model_dir():
    return _path(settings(BaseModelSettings).base_model_dir, "CINO_BASE_MODEL_DIR")


def base_vocab_dir() -> Path:
    return _path(settings(BaseModelSettings).base_vocab_dir, "CINO_BASE_VOCAB_DIR")


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
    """[filters] with the language manifest's `filters:` overrides."""
    return settings(FilterSettings).with_overrides(lang.filters)


def reference() -> str:
    """Markdown: every luigi.cfg section, its options, defaults and where they are defined."""
    lines = ["# Settings", "", "Generated by `python -m pipeline.show_settings` from the settings dataclasses (the one",
             "definition of each setting and its default). Set any of them in luigi.cfg or on the command",
             "line (`--<section>-<option> VALUE`, underscores as dashes). Training hyperparameters are the",
             "`[profile.<name>]` sections of luigi.cfg (every field of `training.profile.TrainSettings`).", ""]
    for section, dataclasses in SECTIONS.items():
        lines += [f"## [{section}]", "", "| option | type | default | defined in |", "|---|---|---|---|"]
        for dc in dataclasses:
            for f in fields(dc):
                lines.append(f"| `{f.name}` | {f.type.__name__} | `{_default(f)!r}` | `{dc.__module__}.{dc.__name__}` |")
        lines.append("")
    return "\n".join(lines)
