"""The shape every pipeline stage shares.

A stage task is thin: parameters, `requires()`, `settings()` (what changes its output)
and `produce(tmp_dir)`, which calls plain functions. This base class gives it:
- an output directory `work_dir/<stage>/<scope>-<fingerprint>` whose fingerprint covers
  the stage's version, settings and the fingerprints of its inputs;
- atomic completion (written to a temporary sibling, renamed last, `_SUCCESS` inside);
- `stats.json` with settings and counts; wall time goes to `work_dir/timings/` so that
  outputs stay byte-identical from run to run;
- progress reporting to the Luigi UI.
"""
import logging
import time

import luigi

from common.atomic import atomic_dir, is_complete
from common.errors import InputError
from common.fingerprint import fingerprint
from common.jsonio import read_json, write_json
from pipeline import config
from pipeline.params import LangListParameter

log = logging.getLogger("luigi-interface")


class CompleteDir(luigi.Target):
    """A directory that counts as existing only once its `_SUCCESS` marker is there."""

    def __init__(self, path):
        self.path = path

    def exists(self) -> bool:
        return is_complete(self.path)


class StageTask(luigi.Task):
    stage = None   # directory name under work_dir
    version = 1    # bump when the stage's logic changes what it writes

    def scope(self) -> str:
        return self.lang

    def settings(self) -> dict:
        return {}

    def upstream(self) -> list:
        """Tasks whose fingerprints feed this one (default: the static requirements)."""
        return luigi.task.flatten(self.requires())

    def fingerprint(self) -> str:
        """Recomputed on every call (cheap): luigi caches task instances, settings may change."""
        return fingerprint(self.stage, self.version, self.settings(),
                           [task.fingerprint() for task in self.upstream()])

    def base_dir(self):
        return config.work_dir() / self.stage / f"{self.scope()}-{self.fingerprint()}"

    def output_dir(self):
        return self.base_dir()

    def output(self):
        return CompleteDir(self.output_dir())

    def stats(self) -> dict:
        return read_json(self.output_dir() / "stats.json")

    def report(self, percent: int, message: str) -> None:
        if self.set_progress_percentage:
            self.set_progress_percentage(percent)
        if self.set_status_message:
            self.set_status_message(message)

    def run(self):
        self.write_outputs()

    def write_outputs(self, started: float = None) -> None:
        """Run the subclass's `produce(tmp)` (writes outputs, returns stats) atomically;
        the wall time since `started` (default: now) goes to work_dir/timings/."""
        started = started or time.time()
        target = self.output_dir()
        with atomic_dir(target) as tmp:
            stats = self.produce(tmp)
            stats["settings"] = self.settings()
            write_json(tmp / "stats.json", stats)
        timing = config.work_dir() / "timings" / target.relative_to(config.work_dir())
        timing.parent.mkdir(parents=True, exist_ok=True)
        write_json(timing.with_suffix(".json"), {"task": self.task_id, "seconds": round(time.time() - started, 3)})


class LanguageListTask(StageTask):
    """A stage over the chosen languages (`--lang bo,mn,ug`), scoped by their sorted codes."""
    lang = LangListParameter()

    def scope(self) -> str:
        return "_".join(self.lang)


class ShardTask(StageTask):
    """A stage that runs once per (language, shard); all shards share one fingerprint."""
    lang = luigi.Parameter()
    shard = luigi.IntParameter()

    def output_dir(self):
        return self.base_dir() / f"shard-{self.shard:05d}"


class _OneLineInputErrors(logging.Filter):
    """Show bad input as the one line the user must act on, not as a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], InputError):
            record.msg = f"{record.getMessage()}\nERROR: {record.exc_info[1]}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


log.addFilter(_OneLineInputErrors())
