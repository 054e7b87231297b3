"""Running fairseq's command-line programs as subprocesses, with their JSON logs parsed.

fairseq is run as a child process (not imported and called) so that its global state,
signal handling and distributed setup stay out of the Luigi worker, and so that a kill
of the worker can be resumed from fairseq's own checkpoints.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

_JSON_LINE = re.compile(r"\| (train_inner|train|valid(?:_\w+)?) \| (\{.*\})\s*$")


def parse_log_line(line: str):
    """(kind, record) for a fairseq JSON log line (train_inner, train, valid, valid_<subset>), else None."""
    match = _JSON_LINE.search(line)
    if not match:
        return None
    return match.group(1), json.loads(match.group(2))


def run(args: list, log_file: Path, env: dict = None, on_record=None, program: str = "fairseq_cli.train") -> int:
    """Run `python -m <program> args`, appending its output to log_file; call
    on_record(kind, record) for every JSON log record. Returns the exit code."""
    full_env = {**os.environ, **(env or {})}
    command = [sys.executable, "-m", program, *[str(a) for a in args]]
    with open(log_file, "a", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env=full_env, bufsize=1)
        for line in process.stdout:
            log.write(line)
            parsed = parse_log_line(line)
            if parsed and on_record:
                on_record(*parsed)
        return process.wait()


def tail(log_file: Path, lines: int = 5) -> str:
    text = Path(log_file).read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])
