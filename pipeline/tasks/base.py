"""The shape every pipeline stage shares, and the outputs tasks read each other through.

A stage task is thin: parameters, `requires()`, `reads` (the settings it reads),
`external_inputs()` (what it reads from outside the work dir: manifest entries, evaluation
files) and `produce(tmp_dir)`, which reads its inputs through `self.input()`, its settings
through `self.read(Dataclass)`, and calls plain functions. This base class (as gokart's
TaskOnKart) gives it:
- an output directory `work_dir/<stage>/<scope>-<fingerprint>` whose fingerprint covers
  the stage's version, the settings it reads that can change a result (derived from `reads`
  and the fields' metadata: no task writes its settings by hand), its external inputs and
  the fingerprints of its upstream tasks;
- atomic completion (written to a temporary sibling, renamed last, `_SUCCESS` inside);
- `stats.json` with the stage name, counts and settings; wall time goes to
  `work_dir/timings/` so that outputs stay byte-identical from run to run;
- progress reporting to the Luigi UI.

Tasks read upstream results only through the targets their requirements return:
`StageOutput` (a directory and its stats) and `XlmrDir` (a model directory in fairseq's
XLM-R layout, returned by every task that produces one: the base, the initial checkpoint,
the trained model).
"""
import ast
import functools
import importlib
import importlib.util
import logging
import socket
import time
from dataclasses import fields
from pathlib import Path

import luigi
from luigi.task import task_id_str

from common.atomic import atomic_dir, is_complete, output_lock
from common.errors import InputError
from common.fingerprint import fingerprint
from common.jsonio import read_json, write_json
from common.provenance import checkout, packages
from common.settings import Reads
from common.xlmr import DICT_FILE, MODEL_FILE, SPM_FILE
from pipeline import config
from pipeline.params import LangListParameter

log = logging.getLogger("luigi-interface")


class StageOutput(luigi.Target):
    """A stage's output directory: it exists once its `_SUCCESS` marker is there."""

    def __init__(self, path):
        self.path = Path(path)

    def exists(self) -> bool:
        return is_complete(self.path)

    def stats(self) -> dict:
        return read_json(self.path / "stats.json")


class XlmrDir(StageOutput):
    """A model directory in fairseq's XLM-R layout (model.pt, dict.txt, sentencepiece.bpe.model)."""
    FILES = (MODEL_FILE, DICT_FILE, SPM_FILE)

    @property
    def model(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def dict(self) -> Path:
        return self.path / DICT_FILE

    @property
    def spm(self) -> Path:
        return self.path / SPM_FILE

    def missing(self) -> list:
        return [name for name in self.FILES if not (self.path / name).is_file()]


class _Declared:
    """A settings value of which only the declared fields can be read."""

    def __init__(self, value, names: set, task: str):
        self._value, self._names, self._task = value, names, task

    def __getattr__(self, name: str):
        if name not in self._names and name in {f.name for f in fields(self._value)}:
            raise TypeError(f"{self._task} reads {type(self._value).__name__}.{name} without declaring it in `reads`")
        return getattr(self._value, name)


# What the stages that load, train or evaluate models import (for `preload`): 1-4 s a process.
TORCH = ("torch",)
FAIRSEQ = ("torch", "fairseq")
TRANSFORMERS = ("torch", "transformers.models.xlm_roberta.modeling_xlm_roberta")


def _import_leaving_logging_alone(modules) -> None:
    """Import `modules` with the root logger kept as it was: fairseq's text-to-speech tasks call
    logging.basicConfig when imported, and Luigi's messages would then be printed twice."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        for module in modules:
            importlib.import_module(module)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@functools.lru_cache(maxsize=None)
def module_version(name: str) -> int:
    """The VERSION a plain module declares beside its logic, read from its source: the scheduler
    fingerprints every stage without importing torch or fairseq."""
    tree = ast.parse(Path(importlib.util.find_spec(name).origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["VERSION"]:
            return ast.literal_eval(node.value)
    raise TypeError(f"{name} declares no VERSION (a stage lists it in `logic`)")


class Identified:
    """A task whose Luigi id carries the fingerprint of what it reads (gokart keys tasks by hashed
    parameters the same way). Luigi names a task by its class and parameters, and a central
    scheduler merges tasks of one name; our settings, manifests and upstream outputs are not Luigi
    parameters, so without the fingerprint two runs with other settings (a sweep over
    --filters-min-chars) would be merged into one task that writes only one run's output. The
    fingerprint is taken once, when the task is made (tasks made upstream of it are made first
    and lend theirs); the command line and `luigi --help` stay as they are. Luigi keeps one
    instance per class and parameters in a process, so a process that changes settings between
    builds (the tests) clears that cache (`luigi.task_register.Register.clear_instance_cache`);
    output paths are recomputed on every call (fingerprint) and follow the settings regardless."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        try:
            self.identity = self.fingerprint({task.task_id: task.identity for task in self.upstream()
                                              if isinstance(task, Identified) and task.identity})
        except InputError:   # a bad setting or manifest entry: complete() and requires() report it, as one line
            self.identity = None
            return
        params = self.to_str_params(only_significant=True, only_public=True)
        self.task_id = task_id_str(self.get_task_family(), {"fingerprint": self.identity, **params})

    def __hash__(self):
        return hash(self.task_id)

    def upstream(self) -> list:
        """Tasks whose fingerprints feed this one (default: the static requirements)."""
        return luigi.task.flatten(self.requires())

    def handoff(self, known: dict) -> str:
        """What the fingerprints of the tasks after it take from it: its own fingerprint (a stage
        whose outputs may stay the same under a changed fingerprint passes on their content)."""
        return self.fingerprint(known)


class StageTask(Identified, luigi.Task):
    stage = None   # directory name under work_dir
    version = 1    # bump when the stage's logic changes what it writes
    output_class = StageOutput
    reads = ()     # settings dataclasses it reads, or `Dataclass.only("field", ...)` for some fields
    logic = ()     # the plain modules it runs ("corpus.clean"): their VERSION is in its fingerprint
    preload = ()   # modules its run imports that take seconds to import (TORCH, ...): see complete()

    def complete(self) -> bool:
        """Luigi's check of the output; for a task that will run, its `preload` modules are imported
        here first. The scheduling process asks complete() of every task before it forks a worker
        process per task (--workers N): forked workers inherit the modules instead of importing
        torch, fairseq and transformers once per task (a fifth of the tests' small build). A
        finished run imports nothing and checks in seconds."""
        done = super().complete()
        if not done:
            _import_leaving_logging_alone(self.preload)
        return done

    def scope(self) -> str:
        return self.lang

    def read(self, kind):
        """The settings value of dataclass `kind`, which this task must declare in `reads`; declared
        with `only(...)`, a view whose other fields cannot be read (the fingerprint would miss them)."""
        declared = [item for item in self.reads if kind is getattr(item, "kind", item)]
        if not declared:
            raise TypeError(f"{type(self).__name__} reads {kind.__name__} without declaring it in `reads`")
        names = set().union(*(set(item.names) if isinstance(item, Reads) else {f.name for f in fields(kind)}
                              for item in declared))
        value = config.settings(kind)
        return value if len(names) == len(fields(kind)) else _Declared(value, names, type(self).__name__)

    def settings(self) -> dict:
        """The settings it reads that can change its output: in its fingerprint and stats.json."""
        return config.fingerprint_settings(self.reads)

    def external_inputs(self) -> dict:
        """What it reads from outside the work dir besides settings (manifest entries, evaluation
        files), as fingerprint material."""
        return {}

    def fingerprint(self, known: dict = None) -> str:
        """Recomputed on every call (the output path follows the settings even where luigi's
        instance cache returns a task made under other settings; its id does not, see Identified). `known` ({task_id: fingerprint}) is shared by one walk of the upstream graph, so each
        task in it is fingerprinted once per call, not once per path to it (tens of thousands of
        settings() calls for BuildCINO otherwise: a finished DAG took a minute to check)."""
        known = {} if known is None else known
        if self.task_id not in known:
            known[self.task_id] = fingerprint(self.stage, self.version, {name: module_version(name) for name in self.logic},
                                              self.settings(), self.external_inputs(),
                                              [task.handoff(known) for task in self.upstream()])
        return known[self.task_id]

    def output_dir(self, fingerprint: str = None) -> Path:
        """Where it writes; `fingerprint`: one taken in a walk of the graph already (else taken now)."""
        return config.work_dir() / self.stage / f"{self.scope()}-{fingerprint or self.fingerprint()}"

    def output(self):
        return self.output_class(self.output_dir())

    def run_dir(self) -> Path:
        """Where a resumable stage keeps its work in progress (checkpoints), beside its output."""
        return self.output_dir().with_name(self.output_dir().name + ".run")

    def report(self, percent: int, message: str) -> None:
        if self.set_progress_percentage:
            self.set_progress_percentage(percent)
        if self.set_status_message:
            self.set_status_message(message)

    def run(self):
        self.write_outputs()

    def write_outputs(self, started: float = None, **inputs) -> None:
        """Run the subclass's `produce(tmp, **inputs)` (writes outputs, returns stats) atomically;
        the wall time since `started` (default: now) goes to work_dir/timings/. `inputs` are
        outputs of dynamic requirements, which `self.input()` does not hold."""
        started = started or time.time()
        target = self.output_dir()
        with output_lock(target):
            if is_complete(target):   # another process wrote it while this one waited for the lock
                log.info("%s: written meanwhile by another run", target)
                return
            with atomic_dir(target) as tmp:
                stats = {"stage": self.stage, **self.produce(tmp, **inputs), "settings": self.settings(),
                         "provenance": self.provenance()}
                write_json(tmp / "stats.json", stats)
        timing = config.work_dir() / "timings" / target.relative_to(config.work_dir())
        timing.parent.mkdir(parents=True, exist_ok=True)
        write_json(timing.with_suffix(".json"), {"task": self.task_id, "seconds": round(time.time() - started, 3),
                                                 "host": socket.gethostname(), "luigi_workers": luigi.interface.core().workers})

    def provenance(self) -> dict:
        """How it was made: every setting it read (in the fingerprint or not), the commit and the
        packages. Where it ran, its wall time and Luigi's worker count go to work_dir/timings/."""
        return {"settings": config.run_settings(self.reads), **checkout(), "packages": packages()}


def list_scope(langs) -> str:
    """The output directory prefix of a stage over a language list: the sorted codes."""
    return "_".join(langs)


class LanguageListTask(StageTask):
    """A stage over the chosen languages (`--langs bo,mn,ug`), scoped by their sorted codes."""
    langs = LangListParameter()

    def scope(self) -> str:
        return list_scope(self.langs)


class ShardTask(StageTask):
    """A stage that runs once per (language, shard); all shards share one fingerprint."""
    lang = luigi.Parameter()
    shard = luigi.IntParameter()

    def output_dir(self, fingerprint: str = None) -> Path:
        return super().output_dir(fingerprint) / f"shard-{self.shard:05d}"


class _OneLineInputErrors(logging.Filter):
    """Show bad input as the one line the user must act on, not as a traceback: in a failed task's
    record, and in the traceback text Luigi writes into its message when a bad setting fails a
    task's complete() or requires() while it schedules."""
    FORMATTED = f"{InputError.__module__}.{InputError.__name__}: "

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], InputError):
            record.msg = f"{record.getMessage()}\nERROR: {record.exc_info[1]}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        elif "Traceback (most recent call last)" in str(record.msg):
            head, _, trace = record.getMessage().partition("Traceback (most recent call last)")
            last = trace.rstrip().splitlines()[-1]
            if last.startswith(self.FORMATTED):
                record.msg, record.args = f"{head.rstrip()}\nERROR: {last[len(self.FORMATTED):]}", ()
        return True


log.addFilter(_OneLineInputErrors())
