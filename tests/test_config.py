"""Settings as data: one definition each (with a help line and whether it is part of the
fingerprint), profiles as partial overrides, the generated reference current, and, for every
task and every setting, the output path changes exactly when a setting it reads that can
change a result changes."""
import configparser
import json
import os
import shutil
from dataclasses import dataclass, fields, replace

import luigi
import pytest
from luigi.cmdline_parser import CmdlineParser

import pipeline
from common.errors import InputError
from common.settings import Reads, setting
from corpus.filters import FilterSettings
from pipeline import config
from pipeline.tasks.base import StageTask
from tests.helpers import REPO, SHARED, in_env, run_luigi
from tests.helpers.sources import edit
from training.command import mlm_args, settings_args
from training.profile import TrainSettings
from training.standin import StandInSettings

LUIGI_SECTIONS = {"core", "worker", "retcode", "resources", "scheduler", "task_history"}
LANGS = "bo,mn,ug"
# Instances of every stage task, each kind of instance once (a test fails when a task is added without one).
SAMPLES = {
    "Ingest": {"lang": "bo"}, "TrainLangID": {}, "LangIDReport": {}, "IdentifyLanguage": {"lang": "bo", "shard": 0},
    "Clean": {"lang": "bo", "shard": 0}, "Dedup": {"lang": "bo"}, "Decontaminate": {"lang": "bo"}, "Split": {"lang": "bo"},
    "StandInBase": {},
    "RealSizeBase": {"size": "base"}, "TrainScriptTokenizer": {"script": "Tibt", "langs": "bo"},
    "MergeVocabulary": {"langs": LANGS}, "PruneVocabulary": {"langs": LANGS}, "InitCheckpoint": {"langs": LANGS},
    "BinarizeLanguage": {"lang": "bo", "vocab_langs": LANGS}, "SamplingPlan": {"langs": LANGS},
    "ContinuePretraining": {"langs": LANGS}, "CorpusReport": {"langs": LANGS}, "TokenizerReport": {"langs": LANGS},
    "ExportHF": {"langs": LANGS}, "ExportHF/base": {"langs": LANGS, "model": "base"},
    "EvaluateClassification": {"langs": LANGS, "lang": "bo"},
    "EvaluateClassification/tncc": {"langs": LANGS, "lang": "bo", "eval_set": "tncc-title"},
    "EvaluateClassification/source": {"langs": LANGS, "model": "base", "lang": "zh"},
    "EvaluateClassification/random": {"langs": LANGS, "model": "random", "lang": "ug"},
    "BaselineClassification": {"langs": LANGS, "lang": "bo"},
    "EvaluateMLM": {"langs": LANGS}, "EvaluateMLM/base": {"langs": LANGS, "model": "base"},
    "EvaluationReport": {"langs": LANGS}, "PackageModel": {"langs": LANGS}, "BuildCINO": {"lang": LANGS},
    "PruneForLanguage": {"langs": LANGS, "lang": "bo"}, "DistillStudent": {"langs": LANGS},
    "SmallerModels": {"langs": LANGS, "lang": "bo"},
    "EvaluateClassification/pruned": {"langs": LANGS, "model": "pruned", "lang": "bo"},
}


def sample_tasks() -> dict:
    return {name: getattr(pipeline, name.split("/")[0])(**params) for name, params in SAMPLES.items()}
# Fields whose change is not a value but a choice of other values, tested on their own below:
# the profile chooses the [train] and [evaluation] values; base_model_dir chooses ExternalBase
# (fingerprinted by its files) over the stand-in.
SELECTORS = {("train", "profile"), ("vocab", "base_model_dir")}


def stage_tasks() -> set:
    found, todo = set(), list(StageTask.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("pipeline.tasks") and cls.stage:
            found.add(cls.__name__)
    return found


def reads_closure(task) -> dict:
    """{(section, option)} that the task or any task upstream of it declares it reads."""
    found, todo, seen = set(), [task], set()
    while todo:
        current = todo.pop()
        if current.task_id in seen:
            continue
        seen.add(current.task_id)
        for item in getattr(current, "reads", ()):
            kind, names = (item.kind, item.names) if isinstance(item, Reads) else (item, None)
            found |= {(config.section_of(kind), f.name) for f in fields(kind) if names is None or f.name in names}
        todo += current.upstream() if isinstance(current, StageTask) else []
    return found


BATCH = ("batch_size", "update_freq", "world_size", "effective_batch")


def alternative(section: str, f, tmp_path) -> dict:
    """A different valid value of a field, as {option: cfg text}: with its companion where a value
    alone cannot change (the batch sizes must multiply to effective_batch)."""
    value = config.settings(next(dc for dc in config.SECTIONS[section] if f in fields(dc)))
    current = getattr(value, f.name)
    choices = f.metadata.get("choices", ())
    if section == "train" and f.name in BATCH:
        companion = "batch_size" if f.name == "effective_batch" else "effective_batch"
        return {f.name: str(current * 2), companion: str(getattr(value, companion) * 2)}
    if choices:
        return {f.name: str(choices[(choices.index(current) + 1) % len(choices)])}
    if f.type is bool:
        return {f.name: str(not current).lower()}
    if f.name == "replay_share":   # a share below 1
        return {f.name: str(current / 2)}
    if f.type in (int, float):
        low, high = f.metadata.get("bounds") or (None, None)
        if high is not None and current + 1 > high:   # within the field's bounds: halfway down (or one less)
            return {f.name: str((current + low) / 2 if f.type is float else current - 1)}
        return {f.name: str(current + 1)}
    if section == "cino":   # locations: an empty directory, or a copy of the manifests
        if f.name == "manifests_dir":
            return {f.name: str(shutil.copytree(config.manifests_dir(), tmp_path / "manifests-copy"))}
        return {f.name: str(tmp_path / f.name)}
    if f.name == "base_vocab_dir":
        return {f.name: str(shutil.copytree(SHARED / "base" / "xlmr", tmp_path / "vocab-copy"))}
    return {f.name: {"salt": "another-salt", "standin_langs": "zh,ko", "report_langs": "zh", "source_lang": "yue",
                     "adam_betas": "(0.9,0.98)", "replay_langs": "ko", "lrs": "1e-4",
                     "batch_sizes": "8", "fasttext_lrs": "0.25", "fasttext_epochs": "5"}[f.name]}


def paths(tasks: dict) -> dict:
    """{task name: (scope, fingerprint)}: the output path below work_dir, one walk of the graph."""
    known = {}
    return {name: (task.scope(), task.fingerprint(known)) for name, task in tasks.items()}


def test_every_setting_of_every_task_changes_its_output_path_exactly_when_it_can_change_the_result(full_env, tmp_path):
    assert {name.split("/")[0] for name in SAMPLES} == stage_tasks()
    with in_env(full_env):
        tasks = sample_tasks()
        closures = {name: reads_closure(task) for name, task in tasks.items()}
        before = paths(tasks)
        parser, checked = luigi.configuration.get_config(), 0
        fingerprinted = {(section, f.name): f.metadata["fingerprint"]
                         for section, dcs in config.SECTIONS.items() for dc in dcs for f in fields(dc)}
        for section, dataclasses in config.SECTIONS.items():
            for f in (f for dc in dataclasses for f in fields(dc)):
                if (section, f.name) in SELECTORS:
                    continue
                changes = alternative(section, f, tmp_path)
                if not parser.has_section(section):
                    parser.add_section(section)
                had = {name: parser.get(section, name, fallback=None) for name in changes}
                for name, value in changes.items():
                    parser.set(section, name, value)
                try:
                    after = paths(tasks)
                finally:
                    for name, value in had.items():
                        parser.remove_option(section, name) if value is None else parser.set(section, name, value)
                for name in tasks:
                    expected = any(fingerprinted[(section, option)] and (section, option) in closures[name]
                                   for option in changes)
                    assert (after[name] != before[name]) == expected, (name, section, changes)
                    checked += 1
    assert checked > 2000   # tasks x settings (the closing note reports the number)


def closure(task) -> list:
    """The task and every task upstream of it."""
    found, todo = {}, [task]
    while todo:
        current = todo.pop()
        key = (current.get_task_family(), tuple(sorted(current.to_str_params().items())))
        if key not in found:
            found[key] = current
            todo += current.upstream() if isinstance(current, StageTask) else []
    return list(found.values())


def reads_field(task, readers: list) -> bool:
    """Whether `task` is one of `readers`: (task family, parameters it must have)."""
    params = task.to_str_params()
    return any(task.get_task_family() == family and all(params.get(k) == v for k, v in wanted.items())
               for family, wanted in readers)


# Manifest fields and evaluation files, and the stages that read them (the specification the
# fingerprints must follow): every output whose upstream holds one of these changes, and no other.
# Decontaminate reads the dev and test files: before it has run, what follows it takes its
# fingerprint; once it has, the content of its kept lines (test_dag_runs: an added set then
# reruns no split, vocabulary, training or export stage).
EVAL_READERS = [("Decontaminate", {"lang": "bo"}), ("LangIDReport", {}), ("TokenizerReport", {}), ("ExportHF", {}),
                ("BaselineClassification", {"lang": "bo"}),
                ("EvaluateClassification", {"lang": "bo"}), ("EvaluateClassification", {"lang": "zh"})]   # zh: zero-shot on bo
MANIFEST_FIELDS = {
    "bo lid.threshold": ("bo", lambda doc: doc["lid"].update(threshold=0.6),
                         [("IdentifyLanguage", {"lang": "bo"}), ("LangIDReport", {})]),
    "mn lid.threshold": ("mn", lambda doc: doc["lid"].update(threshold=0.6),
                         [("IdentifyLanguage", {"lang": "mn"}), ("LangIDReport", {})]),
    "bo lid.min_script_share": ("bo", lambda doc: doc["lid"].update(min_script_share=0.6),
                                [("TrainLangID", {}), ("IdentifyLanguage", {"lang": "bo"})]),
    "bo filters": ("bo", lambda doc: doc.update(filters={"min_chars": 40}), [("Clean", {"lang": "bo"})]),
    "bo source sha256": ("bo", lambda doc: doc["sources"][0].update(sha256="0" * 64), [("Ingest", {"lang": "bo"})]),
    "bo eval file fixed": ("bo", lambda doc: doc["eval"]["sib200"]["dev"].update(sha256="0" * 64), EVAL_READERS),
    "bo eval set added": ("bo", lambda doc: doc["eval"].update(second=doc["eval"]["sib200"]),   # sib200's baseline stays
                          [reader for reader in EVAL_READERS if reader[0] != "BaselineClassification"]),
}


@pytest.mark.parametrize("name", sorted(MANIFEST_FIELDS))
def test_every_manifest_field_changes_exactly_the_outputs_that_read_it(full_env, tmp_path, name):
    """A tuned threshold reruns that language's IdentifyLanguage onward, never the classifier or
    another language; an evaluation file added or fixed reruns no stage before decontamination."""
    lang, change, readers = MANIFEST_FIELDS[name]
    manifests = shutil.copytree(full_env["CINO_MANIFESTS_DIR"], tmp_path / "manifests")
    with in_env({**full_env, "CINO_MANIFESTS_DIR": str(manifests)}):
        before = paths(sample_tasks())
        edit(manifests / f"{lang}.yaml", change)
        tasks = sample_tasks()
        after = paths(tasks)
        expected = {task_name for task_name, task in tasks.items()
                    if any(reads_field(upstream, readers) for upstream in closure(task))}
    changed = {task_name for task_name in tasks if before[task_name] != after[task_name]}
    assert changed == expected
    if "eval" in name:
        assert not changed & {"Ingest", "TrainLangID", "IdentifyLanguage", "Clean", "Dedup"}


def test_every_setting_that_can_change_a_result_is_read_by_some_task(full_env):
    with in_env(full_env):
        read = set().union(*map(reads_closure, sample_tasks().values()))
    unread = {(section, f.name) for section, dcs in config.SECTIONS.items() for dc in dcs for f in fields(dc)
              if f.metadata["fingerprint"] and (section, f.name) not in read}
    assert unread == set()


def test_a_task_cannot_read_a_setting_it_does_not_declare(full_env):
    with in_env(full_env):
        with pytest.raises(TypeError, match="Split reads FilterSettings without declaring it"):
            pipeline.Split(lang="bo").read(FilterSettings)
        binarize = pipeline.BinarizeLanguage(lang="bo", vocab_langs=LANGS)
        assert binarize.read(TrainSettings).tokens_per_sample == 64
        with pytest.raises(TypeError, match=r"BinarizeLanguage reads TrainSettings.lr without declaring it"):
            binarize.read(TrainSettings).lr


def test_the_base_model_directory_chooses_the_base_and_its_files_content_fingerprint_it(full_env, tmp_path):
    """base_model_dir is outside the fingerprint: ExternalBase's fingerprint covers its files' bytes,
    wherever they are. A copy elsewhere (other mtimes and inodes) changes no output; one changed
    byte changes every output that reads the base, and nothing before it."""
    base, copy = tmp_path / "xlmr.base", tmp_path / "node-local" / "xlmr.base"
    base.mkdir()
    for name in ("model.pt", "dict.txt", "sentencepiece.bpe.model"):
        (base / name).write_bytes(b"a stand-in for a real file " + name.encode())
    copy.parent.mkdir()
    shutil.copytree(base, copy, copy_function=shutil.copyfile)   # new mtimes, as rsync without -t
    outputs = {}
    for name, directory in (("first", base), ("copy", copy)):
        with in_env({**full_env, "CINO_BASE_MODEL_DIR": str(directory)}):
            outputs[name] = {name: task.output_dir() for name, task in sample_tasks().items()}
    with open(base / "dict.txt", "r+b") as handle:   # one byte, same size
        handle.write(b"A")
    with in_env({**full_env, "CINO_BASE_MODEL_DIR": str(base)}):
        outputs["changed"] = {name: task.output_dir() for name, task in sample_tasks().items()}
    with in_env(full_env):
        outputs["standin"] = {name: task.output_dir() for name, task in sample_tasks().items()}
    first = outputs["first"]
    assert outputs["copy"] == first
    on_base = {"InitCheckpoint", "ContinuePretraining", "ExportHF", "ExportHF/base", "BuildCINO", "MergeVocabulary"}
    assert on_base <= {name for name in SAMPLES if first[name] != outputs["standin"][name]
                       and first[name] != outputs["changed"][name]}
    assert first["Split"] == outputs["changed"]["Split"] == outputs["standin"]["Split"]


def test_a_file_is_hashed_once_for_its_size_mtime_and_inode(tmp_path):
    """The sha256 of a base model file is kept beside it; a copy or a touched file is hashed again,
    and a read-only directory only loses the cache."""
    from common.fingerprint import _MEMO, sha256_cached, sha256_file

    path = tmp_path / "model.pt"
    path.write_bytes(b"weights")
    assert sha256_cached(path) == sha256_file(path)
    record = json.loads((tmp_path / "model.pt.sha256").read_text(encoding="utf-8"))
    (tmp_path / "model.pt.sha256").write_text(json.dumps({**record, "sha256": "recorded"}), encoding="utf-8")
    _MEMO.clear()
    assert sha256_cached(path) == "recorded"   # read from beside the file, not hashed again
    os.utime(path, ns=(record["mtime_ns"] + 10**9, record["mtime_ns"] + 10**9))
    assert sha256_cached(path) == sha256_file(path)   # touched: hashed again
    (tmp_path / "model.pt.sha256").unlink()
    (tmp_path / "model.pt.sha256").mkdir()   # the cache cannot be written (as in a read-only directory)
    _MEMO.clear()
    assert sha256_cached(path) == sha256_file(path) and not list(tmp_path.glob("*.tmp-*"))


def test_the_profile_chooses_values_and_the_fingerprint_follows_the_values(full_env, tmp_path):
    """Another profile with other values retrains; a profile with the same values (another name)
    does not; a value set on the command line wins over the profile."""
    cfg = tmp_path / "copy.cfg"
    cfg.write_text("[train.same-as-test-cpu]\n" + "\n".join(
        f"{k} = {v}" for k, v in luigi.configuration.get_config().items("train.test-cpu")) + "\n", encoding="utf-8")
    with in_env(full_env):
        luigi.configuration.get_config().read(str(cfg))
        path = pipeline.ContinuePretraining(langs=LANGS).output_dir()
        with CmdlineParser.global_instance(["Split", "--lang", "bo", "--train-profile", "same-as-test-cpu"]):
            assert pipeline.ContinuePretraining(langs=LANGS).output_dir() == path
        with CmdlineParser.global_instance(["Split", "--lang", "bo", "--train-profile", "test-ddp"]):
            assert pipeline.ContinuePretraining(langs=LANGS).output_dir() != path
            assert config.settings(TrainSettings).world_size == 2
        with CmdlineParser.global_instance(["Split", "--lang", "bo", "--train-lr", "0.25", "--evaluation-seeds", "5"]):
            assert config.settings(TrainSettings).lr == 0.25 and config.settings(TrainSettings).max_update == 30
            assert config.settings(config.EvaluationProfile).seeds == 5
            assert pipeline.ContinuePretraining(langs=LANGS).output_dir() != path


def test_profiles_list_only_what_differs_and_a_value_common_to_all_is_the_default():
    parser = configparser.ConfigParser()
    parser.read(REPO / "luigi.cfg", encoding="utf-8")
    names = config.profile_names(parser)
    assert {"demo-cpu", "cino-base", "cino-large"} <= set(names)
    for dc in config.PROFILED:
        section = config.section_of(dc)
        for f in fields(dc):
            values = [parser.get(f"{section}.{n}", f.name, fallback=None) for n in names]
            restated = [n for n, v in zip(names, values) if v is not None
                        and dc().overridden({f.name: v}, "cfg") == dc()]
            assert restated == [], (section, f.name, "restates the default")
            assert None in values or len(set(values)) > 1, (section, f.name, "equal in every profile: make it the default")


def test_cino_profiles_carry_cinos_numbers(tmp_path):
    parser = configparser.ConfigParser()
    parser.read(REPO / "luigi.cfg", encoding="utf-8")
    base = config.profile_values(TrainSettings, parser, "cino-base").checked("base")
    large = config.profile_values(TrainSettings, parser, "cino-large").checked("large")
    assert (base.effective_batch, base.max_update, base.warmup, base.lr, base.tokens_per_sample) == (4096, 150_000, 10_000, 2e-4, 256)
    assert (large.effective_batch, large.max_update, large.warmup, large.lr) == (8192, 75_000, 5_000, 1e-4)
    assert base.mask_prob == large.mask_prob == 0.2 and base.alpha == 0.7 and base.adam_eps == 1e-8


@pytest.mark.parametrize("args,where,problem", [
    (["--train-update-freq", "2"], "[train] (profile test-cpu)", "not effective_batch 4"),
    (["--train-sample-break-mode", "lines"], "[train] (profile test-cpu) sample_break_mode", "'lines' is not allowed"),
    (["--train-adam-betas", "0.9"], "[train] (profile test-cpu) adam_betas", "is not two numbers"),
    (["--train-profile", "cino-small"], "[train] profile", "no profile 'cino-small'"),
])
def test_a_bad_setting_is_one_clear_error_naming_its_place(mini_corpus, tmp_path, args, where, problem):
    done = run_luigi(["ContinuePretraining", "--langs", "bo", *args], {**mini_corpus, "CINO_WORK_DIR": str(tmp_path)})
    assert done.returncode != 0 and "Traceback" not in done.stdout + done.stderr
    (line,) = [l for l in (done.stdout + done.stderr).splitlines() if l.startswith("ERROR: ") and problem in l]
    assert line.startswith(f"ERROR: {where}: ") and "; fix: " in line


@pytest.mark.parametrize("section,problem", [("profile.test-cpu", r"rename it \[train.test-cpu\]"),
                                             ("evaluation.mine", r"no \[train.mine\] section")])
def test_sections_of_the_old_layout_or_of_no_profile_are_errors(section, problem):
    with in_env({}):
        parser = luigi.configuration.get_config()
        parser.add_section(section)
        parser.set(section, "lr", "1")
        try:
            with pytest.raises(InputError, match=problem):
                config.settings(TrainSettings)
        finally:
            parser.remove_section(section)


def test_a_bool_is_set_either_way_on_the_command_line_and_cfg_errors_are_one_line(full_env):
    with in_env(full_env):
        with CmdlineParser.global_instance(["Split", "--lang", "bo", "--train-profile", "cino-base", "--train-fp16",
                                            "false", "--prune-keep-single-chars", "false"]):
            assert config.settings(TrainSettings).fp16 is False
            assert config.settings(config.PruneSettings).keep_single_chars is False
        parser = luigi.configuration.get_config()
        parser.set("prune", "keep_single_chars", "yes")
        try:
            with pytest.raises(InputError, match=r"^\[prune\]: "):
                config.settings(config.PruneSettings)
        finally:
            parser.remove_option("prune", "keep_single_chars")


def test_a_new_training_option_is_one_field():
    """A field with its fairseq flag reaches the command line with nothing else changed."""
    @dataclass(frozen=True)
    class WithDropout(TrainSettings):
        dropout: float = setting(0.1, "dropout", fairseq="--dropout")

    args = [str(a) for a in mlm_args("/save", WithDropout(cpu=True))]
    assert args[args.index("--dropout") + 1] == "0.1" and "--cpu" in args and "--fp16" in args
    assert "--multilang-sampling-alpha" not in args   # the multilingual task's own option
    assert settings_args(replace(WithDropout(), fp16=False), task_options=False).count("--fp16") == 0
    assert [str(a) for a in settings_args(TrainSettings(), task_options=True)] == \
        ["--multilang-sampling-alpha", "0.7", "--replay-share", "0.2"]


def test_every_setting_has_a_help_line_and_no_option_is_defined_twice_in_a_section():
    for section, dataclasses in config.SECTIONS.items():
        names = [f.name for dc in dataclasses for f in fields(dc)]
        assert len(names) == len(set(names)), section
        assert all(f.metadata.get("help") for dc in dataclasses for f in fields(dc)), section


def test_settings_reference_in_docs_is_current():
    assert (REPO / "docs" / "SETTINGS.md").read_text(encoding="utf-8") == config.reference()


def test_cfg_files_set_only_known_options():
    for path in (REPO / "luigi.cfg", REPO / "tests" / "luigi-test.cfg", REPO / "bench" / "scale.cfg"):
        parser = configparser.ConfigParser()
        parser.read(path)
        for section in parser.sections():
            if section in LUIGI_SECTIONS:
                continue
            kind = section.split(".", 1)[0]
            known = {f.name for dc in config.SECTIONS[kind] for f in fields(dc)
                     if "." not in section or dc in config.PROFILED}
            assert set(parser.options(section)) <= known, (path, section)


def test_a_setting_comes_from_the_environment_the_cfg_file_the_command_line_or_its_default(tmp_path):
    with in_env({"CINO_WORK_DIR": str(tmp_path)}):
        assert config.work_dir() == tmp_path
        assert config.settings(FilterSettings) == FilterSettings()
        assert config.settings(StandInSettings).embed_dim == 16 != StandInSettings().embed_dim  # tests/luigi-test.cfg
        assert config.settings(TrainSettings).max_update == 30   # [train] profile = test-cpu there
        with CmdlineParser.global_instance(["Split", "--lang", "bo", "--filters-min-chars", "8",
                                            "--train-profile", "test-ddp"]):
            assert config.settings(FilterSettings).min_chars == 8
            assert config.settings(TrainSettings).world_size == 2


def test_tasks_read_settings_only_through_their_declarations():
    """`self.read(Dataclass)` (base.py), never `config.settings(...)`: what a task reads is what it declares."""
    import ast

    calls = [f"{path.name}:{node.lineno}" for path in sorted((REPO / "pipeline" / "tasks").glob("*.py"))
             if path.name != "base.py"
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Attribute) and node.attr == "settings" and getattr(node.value, "id", "") == "config"]
    assert calls == []
