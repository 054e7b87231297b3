"""The exit status of `luigi --module pipeline TASK ...` says whether TASK is complete.

Luigi derives its exit status from its worker's summary, in which a task another worker ran looks
like a task nobody ran. Workers that share work under a central scheduler therefore pass
`--retcode-not-run 0` (and `--retcode-already-running 0`, `--retcode-missing-data 0`), and then a
job whose own target was never made (an upstream task disabled after failing on another worker)
exits 0 too. So where Luigi would end the command with status 0, the task it was asked for is
checked first: if it is not complete, one ERROR line names it and the status is
`[retcode] task_failed`. Any other status Luigi chose stands, with its own messages.

Luigi's command line ends in `luigi.retcodes.run_with_retcodes`, which calls `sys.exit(status)`;
this module gives that function a `sys` whose `exit` checks first (the narrowest hook Luigi has:
nothing else runs between its summary and its exit).
"""
import os
import sys

import luigi.retcodes
from luigi.cmdline_parser import CmdlineParser


def is_luigi_command(argv: list) -> bool:
    """The `luigi` command (or `python -m luigi`) running tasks, not asked for help."""
    program = argv[0].replace(os.sep, "/")
    return (program.endswith("/luigi") or program == "luigi" or program.endswith("luigi/__main__.py")) \
        and not {"--help", "--help-all", "-h"} & set(argv[1:])


class _ExitChecked:
    """`sys` for luigi.retcodes: `exit(0)` first checks that the task asked for is complete."""

    def __init__(self, args: list):
        self.args = args

    def __getattr__(self, name):
        return getattr(sys, name)

    def exit(self, status=0):
        sys.exit(status or status_of_target(self.args))


def check_target_at_exit() -> None:
    if is_luigi_command(sys.argv):
        luigi.retcodes.sys = _ExitChecked(sys.argv[1:])


def status_of_target(args: list) -> int:
    """0 if the task `args` ask for is complete (or cannot be made from them: Luigi said why);
    else one ERROR line naming it, and [retcode] task_failed."""
    try:
        with CmdlineParser.global_instance(args) as parser:
            task = parser.get_task_obj()
            complete, status = task.complete(), luigi.retcodes.retcode().task_failed
    except Exception:
        return 0
    if complete:
        return 0
    where = getattr(task.output(), "path", task.output())
    print(f"ERROR: {task} was asked for and is not complete ({where}); fix: see the messages above (a task "
          "another worker failed, or one left to other workers), then run the same command again", file=sys.stderr)
    return status or 1
