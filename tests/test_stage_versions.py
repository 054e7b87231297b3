"""A stage's version sits beside the logic it guards (VERSION in a plain module, `version` in a
task class), and it changes when that logic changes: otherwise finished outputs made by the old
code would be reused as if the new code had made them (tests/helpers/stage_logic.py)."""
from pipeline.tasks.base import StageTask
from tests.helpers.stage_logic import current, recorded, stage_classes


def test_a_change_of_logic_changes_its_version_or_is_recorded_as_leaving_outputs_as_they_were():
    was, now = recorded(), current()
    problems = []
    for unit, state in now.items():
        before = was.get(unit)
        if before is None:
            problems.append(f"{unit}: not recorded yet")
        elif before["logic"] != state["logic"] and before["version"] == state["version"]:
            problems.append(f"{unit}: its code changed and its version ({state['version']}) did not: bump it if "
                            "the change can change what the stage writes, else record that it cannot")
        elif before != state:
            problems.append(f"{unit}: version {before['version']} -> {state['version']}: record it")
    problems += [f"{unit}: recorded, but no stage runs it any more" for unit in sorted(set(was) - set(now))]
    assert not problems, "\n".join(problems) + "\nto record: .venv/bin/python -m tests.helpers.stage_logic"


def test_every_stage_that_runs_plain_code_names_it():
    """A stage whose code lives in a plain module lists the module (pipeline's own report and
    orchestration code is guarded by the task's version)."""
    assert all(isinstance(cls.logic, tuple) for cls in stage_classes())
    assert [cls.__name__ for cls in stage_classes() if not cls.logic] == []
    assert StageTask.logic == ()
