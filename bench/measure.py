"""Shared by the benchmarks: peak memory of a process image, child-process runs, and the
plain fairseq-train command a training run of ours logged."""
import json
import subprocess
import sys
from pathlib import Path


def peak_rss_mb() -> float:
    """VmHWM of this process image (ru_maxrss would include the parent's memory before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def run_child(script: str, args: list) -> dict:
    """Run `script --child ...` in a fresh interpreter; its last stdout line is a JSON result."""
    done = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(headers: list, rows: list) -> None:
    """Right-aligned columns; `rows` hold strings."""
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths)))
    for row in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))


def logged_fairseq_command(run_dir: Path, save_dir: Path) -> list:
    """The fairseq-train command line our run wrote to run_dir/train.log (its first launch), saving
    checkpoints to `save_dir` instead: plain fairseq with identical arguments on identical data."""
    logged = (run_dir / "train.log").read_text(encoding="utf-8").split("$ ", 1)[1].splitlines()[0].split(" ")
    return [arg if arg != str(run_dir / "checkpoints") else str(save_dir) for arg in logged]


def real_size_base_dir(work: Path, size: str) -> Path:
    """The finished `RealSizeBase --size <size>` directory (current layout) in work dir `work`."""
    (base,) = [p for p in (work / "real_size_base").glob(f"xlmr-{size}-current-*") if p.is_dir() and ".tmp-" not in p.name]
    return base
