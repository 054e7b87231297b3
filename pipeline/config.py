"""Every setting, in one place: the luigi.cfg sections and the plain settings they fill.

Each setting is defined once, as a field of a settings dataclass beside the code that uses it
(FilterSettings in corpus/filters.py, TrainSettings in training/profile.py, ...): its default,
a help line, and whether it can change a result (common/settings.py). SECTIONS says which
luigi.cfg section holds which dataclasses' fields; a luigi.Config class per section is derived
from them, so `[filters] min_chars = 8` in luigi.cfg and `--filters-min-chars 8` on the command
line both work, and `settings(FilterSettings)` gives the plain value a task passes to plain code.

Profiles. `[standin]`, `[train]` and `[evaluation]` also take their values from the profile
`[train] profile` names (`--train-profile cino-base`): its sections `[train.<name>]`,
`[evaluation.<name>]` and `[standin.<name>]` list only what differs from the defaults. What you
set yourself wins over the profile: `[train] lr` in luigi.cfg or `--train-lr 1e-4`,
`--evaluation-seeds 5` on the command line.
`python -m pipeline.show_settings` prints every section, option, default and profile
(docs/SETTINGS.md is that output; a test keeps it current).

Paths are resolved against the current directory; the environment variables
CINO_WORK_DIR, CINO_DATA_ROOT, CINO_EVAL_ROOT, CINO_MANIFESTS_DIR, CINO_MIRROR_DIR,
CINO_DOWNLOAD_CACHE, CINO_BASE_MODEL_DIR and CINO_BASE_VOCAB_DIR override luigi.cfg.
"""
import configparser
import os
from dataclasses import dataclass, fields
from pathlib import Path

import luigi

from common.errors import InputError
from common.settings import Reads, Settings, default_of, from_profile, setting
from corpus.decontaminate import DecontaminationSettings
from corpus.dedup import DedupSettings
from corpus.filters import FilterSettings
from corpus.ingest import IngestSettings
from corpus.menksoft import MenksoftSettings
from corpus.lid import FastTextSettings, SeedSettings
from corpus.manifest import load_catalog
from corpus.split import SplitSettings
from eval.protocol import EvaluationProfile
from training.distill import DistillSettings
from training.hf_export import ParitySettings
from training.launch import LaunchSettings
from training.profile import TrainSettings
from training.standin import StandInSettings
from vocab.embeddings import EmbeddingSettings
from vocab.prune import PruneSettings
from vocab.script_model import ScriptModelSettings

REPO_CFG = Path(__file__).resolve().parents[1] / "luigi.cfg"


@dataclass(frozen=True)
class PathSettings(Settings):
    work_dir: str = setting("work_dir", "everything a run produces (CINO_WORK_DIR)", fingerprint=False)
    data_root: str = setting("../shared/corpora", "manifest source paths are relative to it (CINO_DATA_ROOT)",
                             fingerprint=False)
    eval_root: str = setting("../shared/eval", "manifest eval paths are relative to it (CINO_EVAL_ROOT)",
                             fingerprint=False)
    manifests_dir: str = setting("corpora_manifests", "one YAML per language + scripts.yaml (CINO_MANIFESTS_DIR)",
                                 fingerprint=False)
    mirror_dir: str = setting("", "searched first for URL sources (CINO_MIRROR_DIR)", fingerprint=False)
    download_cache: str = setting("", "URL sources land here once; empty: <work_dir>/downloads", fingerprint=False)


@dataclass(frozen=True)
class BaseModelSettings(Settings):
    base_model_dir: str = setting("", "fairseq XLM-R layout (xlmr.base ...); empty: build the stand-in "
                                      "(CINO_BASE_MODEL_DIR; fingerprinted by its files)", fingerprint=False)
    base_vocab_dir: str = setting("../shared/base/xlmr", "XLM-R's real vocabulary, for the stand-in "
                                  "(CINO_BASE_VOCAB_DIR; fingerprinted by its files)", fingerprint=False)
    standin_langs: str = setting("zh,yue,ko,ug,kk", "text the stand-in is pretrained on")
    report_langs: str = setting("zh,yue,ko,ug,kk", "always in the tokenizer report (identity with the base)")


SECTIONS = {
    "cino": (PathSettings,),
    "ingest": (IngestSettings,),
    "menksoft": (MenksoftSettings,),
    "lid": (SeedSettings, FastTextSettings),
    "filters": (FilterSettings,),
    "dedup": (DedupSettings,),
    "decontaminate": (DecontaminationSettings,),
    "split": (SplitSettings,),
    "vocab": (BaseModelSettings, EmbeddingSettings),
    "script_model": (ScriptModelSettings,),
    "prune": (PruneSettings,),
    "standin": (StandInSettings,),
    "train": (LaunchSettings, TrainSettings),
    "evaluation": (EvaluationProfile,),
    "export": (ParitySettings,),
    "distill": (DistillSettings,),
}
PROFILED = (StandInSettings, TrainSettings, EvaluationProfile, DistillSettings)   # defaults < profile < cfg / command line
_SECTION_OF = {dc: section for section, dataclasses in SECTIONS.items() for dc in dataclasses}
_PARAMETERS = {int: luigi.IntParameter, float: luigi.FloatParameter, str: luigi.Parameter, bool: luigi.BoolParameter}
_OPTIONAL = {int: luigi.OptionalIntParameter, float: luigi.OptionalFloatParameter, str: luigi.OptionalParameter,
             bool: luigi.OptionalBoolParameter}
# `--train-fp16 false` as well as `--train-cpu true`: a bare flag could switch a setting on only.
_EXPLICIT = {bool: {"parsing": luigi.BoolParameter.EXPLICIT_PARSING}}


def section_of(dataclass) -> str:
    return _SECTION_OF[dataclass]


def _config_class(section: str, dataclasses: tuple):
    attrs = {"__doc__": f"[{section}] in luigi.cfg: fields of {', '.join(d.__name__ for d in dataclasses)}.",
             "__module__": __name__}
    for dc in dataclasses:
        for f in fields(dc):
            help_text = f.metadata.get("help", "")
            explicit = _EXPLICIT.get(f.type, {})
            if dc in PROFILED:   # None: the profile's value
                attrs[f.name] = _OPTIONAL[f.type](default=None, description=f"{help_text} (default: the profile's)",
                                                  **explicit)
            else:
                attrs[f.name] = _PARAMETERS[f.type](default=default_of(f), description=help_text, **explicit)
    return type(section, (luigi.Config,), attrs)


CONFIGS = {section: _config_class(section, dataclasses) for section, dataclasses in SECTIONS.items()}


def profile_names(parser) -> list:
    """The profiles a config parser defines: the names of its `[train.<name>]` sections (a profile
    may add `[evaluation.<name>]` and the sections of the other profiled settings)."""
    return sorted(s.split(".", 1)[1] for s in parser.sections() if s.startswith(f"{section_of(TrainSettings)}."))


def check_profiles(parser) -> None:
    """Sections of the old layout are an error, not silently ignored: `[profile.<name>]` became
    `[train.<name>]`; a profile's other sections need its `[train.<name>]`."""
    names = profile_names(parser)
    for section in parser.sections():
        kind, dot, name = section.partition(".")
        if kind == "profile" and dot:
            raise InputError(f"luigi.cfg [{section}]", "profile sections are now named [train.<name>] and list only "
                                                       "what differs from the defaults",
                             f"rename it [train.{name}] (docs/SETTINGS.md shows the defaults)")
        if dot and kind in {section_of(dc) for dc in PROFILED} and name not in names:
            raise InputError(f"luigi.cfg [{section}]", f"no [train.{name}] section: {name!r} is not a profile",
                             f"add [train.{name}] (it may be empty) or fix the name")


def profile_values(dataclass, parser, name: str) -> Settings:
    """The defaults of `dataclass` with the profile's section applied."""
    check_profiles(parser)
    if name not in profile_names(parser):
        raise InputError("[train] profile", f"no profile {name!r} in luigi.cfg",
                         f"use one of {', '.join(profile_names(parser))}, or add [train.{name}]")
    return from_profile(dataclass, parser, f"{section_of(dataclass)}.{name}")


def settings(dataclass):
    """The plain settings value of `dataclass` as luigi.cfg, the profile and the command line set it."""
    section = section_of(dataclass)
    try:
        config = CONFIGS[section]()
    except ValueError as exc:   # luigi's parse error of a cfg value, e.g. `cpu = yes`
        raise InputError(f"[{section}]", str(exc).splitlines()[0], "fix the value in luigi.cfg") from exc
    values = {f.name: getattr(config, f.name) for f in fields(dataclass)}
    if dataclass not in PROFILED:
        return dataclass(**values).checked(f"[{section}]")
    name = settings(LaunchSettings).profile
    profiled = profile_values(dataclass, luigi.configuration.get_config(), name)
    return profiled.overridden({k: v for k, v in values.items() if v is not None}, f"[{section}]") \
        .checked(f"[{section}] (profile {name})")


def fingerprint_settings(reads) -> dict:
    """{section: {option: value}} of the settings a task reads (`reads`: dataclasses, or
    `Dataclass.only(...)` for some of their fields) that can change a result."""
    result = {}
    for item in reads:
        kind, names = (item.kind, item.names) if isinstance(item, Reads) else (item, None)
        result.setdefault(section_of(kind), {}).update(settings(kind).fingerprint_values(names))
    return result


def run_settings(reads) -> dict:
    """{section: {option: value}} of every setting a task reads, outside the fingerprint too
    (threads, workers, the launcher): how its output was made, for stats.json."""
    result = {}
    for item in reads:
        kind, names = (item.kind, item.names) if isinstance(item, Reads) else (item, None)
        value = settings(kind)
        result.setdefault(section_of(kind), {}).update(
            {f.name: getattr(value, f.name) for f in fields(kind) if names is None or f.name in names})
    return result


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


def _cell(value) -> str:
    return f"`{value!r}`"


def reference() -> str:
    """Markdown: every luigi.cfg section, its options, defaults, help, and luigi.cfg's profiles."""
    lines = ["# Settings", "", "Generated by `python -m pipeline.show_settings` from the settings dataclasses (the one",
             "definition of each setting: its default, what it does, whether it is part of the fingerprint of",
             "the outputs that read it) and the profiles of luigi.cfg. Set any option in luigi.cfg or on the",
             "command line: `--<section>-<option> VALUE`, underscores as dashes (`--dedup-workers 4`).",
             "A setting outside the fingerprint changes how work is done (processes, threads, how training",
             "is launched, logged and validated), not the data or model a stage makes: changing it reuses",
             "finished outputs.", "",
             "**Profiles.** `[train] profile` (`--train-profile NAME`) chooses one; its sections",
             "`[train.NAME]`, `[evaluation.NAME]` and `[standin.NAME]` list only what differs from the",
             "defaults of `[train]`, `[evaluation]` and `[standin]`. What you set yourself wins over the",
             "profile: `[train] lr = ...` in luigi.cfg, or `--train-lr 1e-4` / `--evaluation-seeds 5` on",
             "the command line.", ""]
    for section, dataclasses in SECTIONS.items():
        default = "default (where the profile sets none)" if any(dc in PROFILED for dc in dataclasses) else "default"
        lines += [f"## [{section}]", "", f"| option | type | {default} | fingerprint | what it does | defined in |",
                  "|---|---|---|---|---|---|"]
        for dc in dataclasses:
            for name, kind, default, help_text, in_fingerprint, choices in dc.field_info():
                what = help_text + (f" (one of {', '.join(map(str, choices))})" if choices else "")
                lines.append(f"| `{name}` | {kind.__name__} | {_cell(default)} | {'yes' if in_fingerprint else 'no'} | "
                             f"{what} | `{dc.__module__}.{dc.__name__}` |")
        lines.append("")
    parser = configparser.ConfigParser()
    parser.read(REPO_CFG, encoding="utf-8")
    names = profile_names(parser)
    lines += ["## Profiles in luigi.cfg", "",
              "Each profile's values; **bold** where its section sets them, the rest are the defaults.", ""]
    for dc in PROFILED:
        section = section_of(dc)
        lines += [f"### [{section}.NAME]", "", "| option | default | " + " | ".join(names) + " |",
                  "|---|---|" + "---|" * len(names)]
        profiles = {name: profile_values(dc, parser, name) for name in names}
        for name, _, default, *_ in dc.field_info():
            cells = [f"**{getattr(p, name)!r}**" if getattr(p, name) != default else repr(default)
                     for p in profiles.values()]
            lines.append(f"| `{name}` | {_cell(default)} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
