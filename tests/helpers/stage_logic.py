"""What every stage runs, and the versions that guard it. A stage's code is in two parts: the plain
modules it lists in `logic` (each with a `VERSION` beside its code; the part is the module and every
project module it imports), and the rest, guarded by the task class's `version`: its own class and
bases, the pipeline/ functions it calls, and any other project module it uses outside its logic
modules. tests/golden/stage_logic.json records each part's version with a hash of what the code
does (the syntax tree, comments and docstrings aside: tests/helpers/code.py);
tests/test_stage_versions.py fails when code changes and its version does not.

When it fails: bump the version beside the code if the change can change what a stage writes (its
outputs are rebuilt), or record that it cannot (`python -m tests.helpers.stage_logic`, then commit
the file: its diff is the decision)."""
from pathlib import Path

import pipeline  # noqa: F401  (registers every task class)
from common.jsonio import read_json, write_json
from pipeline.tasks.base import StageTask, module_version
from tests.helpers.code import class_logic, closure, modules_logic

RECORD = Path(__file__).resolve().parents[1] / "golden" / "stage_logic.json"


def stage_classes() -> list:
    found, todo = [], list(StageTask.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("pipeline.tasks") and cls.stage:
            found.append(cls)
    return sorted(found, key=lambda cls: cls.__name__)


def current() -> dict:
    """{unit: {"version": ..., "logic": hash}}: every stage task class with the code its version
    guards, and every module a stage lists in `logic` with the modules it imports."""
    units = {}
    for cls in stage_classes():
        units[f"task {cls.__name__}"] = {"version": cls.version, "logic": class_logic(cls, closure(cls.logic), StageTask)}
        for name in cls.logic:
            units[f"module {name}"] = {"version": module_version(name), "logic": modules_logic(closure([name]))}
    return dict(sorted(units.items()))


def recorded() -> dict:
    return read_json(RECORD) if RECORD.exists() else {}


if __name__ == "__main__":
    write_json(RECORD, current())
    print(f"recorded {len(current())} versions and logic hashes in {RECORD}")
