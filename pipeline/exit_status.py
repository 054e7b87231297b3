"""The exit status of `luigi --module pipeline TASK ...` says whether TASK is complete.

Luigi derives its exit status from its worker's summary, in which a task another worker ran looks
like a task nobody ran. Workers that share work under a central scheduler therefore pass
`--retcode-not-run 0` (and `--retcode-already-running 0`, `--retcode-missing-data 0`), and then a
job whose own target was never made (an upstream task disabled after failing on another worker,
a target another worker could not finish) exits 0 too. So when the command ends, the task it was
asked for is checked: if it is not complete, one ERROR line names it and the process exits with
`[retcode] task_failed`, whatever the sharing flags say.
"""
import atexit
import os
import sys

from luigi.cmdline_parser import CmdlineParser
from luigi.retcodes import retcode


def is_luigi_command(argv: list) -> bool:
    """The `luigi` command (or `python -m luigi`) running tasks, not asked for help."""
    program = argv[0].replace(os.sep, "/")
    return (program.endswith("/luigi") or program == "luigi" or program.endswith("luigi/__main__.py")) \
        and not {"--help", "--help-all", "-h"} & set(argv[1:])


def check_target_at_exit() -> None:
    if is_luigi_command(sys.argv):
        atexit.register(fail_unless_complete, sys.argv[1:])


def fail_unless_complete(args: list) -> None:
    try:
        with CmdlineParser.global_instance(args) as parser:
            task = parser.get_task_obj()
            complete, code = task.complete(), retcode().task_failed
    except Exception:   # the command line or a setting is wrong: luigi has said so and exits non-zero
        return
    if not complete:
        where = task.output().path if hasattr(task.output(), "path") else task.output()
        print(f"ERROR: {task} was asked for and is not complete ({where}); fix: see the errors above (another "
              "worker's failed or disabled task, a killed job), then run the same command again", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 1)   # the status Luigi chose is already set: only leaving now replaces it
