"""Running fairseq's command-line programs as subprocesses, with their JSON logs parsed.

fairseq is run as a child process (not imported and called) so that its global state,
signal handling and distributed setup stay out of the Luigi worker, and so that a kill
of the worker can be resumed from fairseq's own checkpoints.
"""
import ctypes
import ctypes.util
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

_PR_SET_PDEATHSIG = 1

_JSON_LINE = re.compile(r"\| (train_inner|train|valid(?:_\w+)?) \| (\{.*\})\s*$")


def parse_log_line(line: str):
    """(kind, record) for a fairseq JSON log line (train_inner, train, valid, valid_<subset>), else None."""
    match = _JSON_LINE.search(line)
    if not match:
        return None
    return match.group(1), json.loads(match.group(2))


def validation_history(log_file) -> dict:
    """{subset: [(num_updates, loss)]} from every validation in a training log (all launches)."""
    history = {}
    if not Path(log_file).exists():
        return history
    for line in Path(log_file).read_text(encoding="utf-8", errors="replace").splitlines():
        parsed = parse_log_line(line)
        if parsed and parsed[0].startswith("valid"):
            kind, record = parsed
            history.setdefault(kind, {})[int(record[f"{kind}_num_updates"])] = float(record[f"{kind}_loss"])
    return {kind: sorted(points.items()) for kind, points in sorted(history.items())}


TRAIN = [sys.executable, "-m", "fairseq_cli.train"]


def die_with_parent() -> None:
    """Linux: the child gets SIGKILL when the process that started it dies, so a killed Luigi
    worker never leaves a fairseq run behind that would write into the resumed run's files."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError, TypeError):
        pass


def start(command: list, env: dict, output) -> subprocess.Popen:
    return subprocess.Popen([str(c) for c in command], stdout=output, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **env}, preexec_fn=die_with_parent)


def run(args: list, log_file: Path, env: dict = None, on_record=None, prefix: list = None) -> int:
    """Run `prefix + args` (default: python -m fairseq_cli.train), appending its output to
    log_file; call on_record(kind, record) for every JSON log record. Returns the exit code."""
    command = [str(c) for c in (prefix or TRAIN) + list(args)]
    with open(log_file, "a", encoding="utf-8", buffering=1) as log:  # line-buffered: readable while running
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        process = start(command, env or {}, subprocess.PIPE)
        for line in process.stdout:
            log.write(line)
            parsed = parse_log_line(line)
            if parsed and on_record:
                on_record(*parsed)
        return process.wait()


def tail(log_file: Path, lines: int = 5) -> str:
    text = Path(log_file).read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])
