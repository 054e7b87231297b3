"""What every stage runs, and the version that guards it: each plain module a stage lists in
`logic` (its VERSION) and each stage task class (its `version`), with a hash of what the code
does (tests/helpers/code.py: the syntax tree, comments and docstrings aside; a module with every
project module it imports). tests/golden/stage_logic.json records them; test_stage_versions.py
fails when code changes and its version does not.

When it fails: bump the version beside the code if the change can change what a stage writes (its
outputs are rebuilt), or record that it cannot (`python -m tests.helpers.stage_logic`, then commit
the file: the diff is the decision)."""
from pathlib import Path

import pipeline  # noqa: F401  (registers every task class)
from common.jsonio import read_json, write_json
from pipeline.tasks.base import StageTask, module_version
from tests.helpers.code import class_logic, module_logic

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
    """{unit: {"version": ..., "logic": hash}} for every stage task class and every module in a `logic`."""
    units = {}
    for cls in stage_classes():
        units[f"task {cls.__name__}"] = {"version": cls.version, "logic": class_logic(cls)}
        for name in cls.logic:
            units[f"module {name}"] = {"version": module_version(name), "logic": module_logic(name)}
    return dict(sorted(units.items()))


def recorded() -> dict:
    return read_json(RECORD) if RECORD.exists() else {}


if __name__ == "__main__":
    write_json(RECORD, current())
    print(f"recorded {len(current())} versions and logic hashes in {RECORD}")
