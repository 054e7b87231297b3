"""Launching fairseq-train: one process, several on this machine, torchrun, or srun under SLURM.

- world_size 1: one `python -m fairseq_cli.train`.
- `local` with world_size N > 1: N processes on this machine, rank r with
  `--distributed-init-method tcp://127.0.0.1:<port> --distributed-rank r --distributed-no-spawn`
  (gloo on CPU, NCCL on GPU). fairseq's own torchrun support assumes CUDA (it divides by
  the GPU count), so this is also the CPU path that tests exercise.
- `torchrun` (one GPU node): `torchrun --nproc_per_node N -m fairseq_cli.train ...`.
- `slurm` (many nodes, inside an sbatch allocation): `srun python -m fairseq_cli.train ...
  --distributed-port P`; fairseq derives ranks and the master from SLURM's variables.
Every launch resumes from `checkpoint_last.pt` in the save directory when it exists.
TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 is set for these processes only: torch >= 2.6 refuses
fairseq's own checkpoints otherwise (they hold argparse/omegaconf objects).
"""
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from common.settings import Settings, setting
from training import fairseq_run

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


LAUNCHERS = ("local", "torchrun", "slurm")


@dataclass(frozen=True)
class LaunchSettings(Settings):
    profile: str = setting("demo-cpu", "the profile: [train.<name>] and [evaluation.<name>] of luigi.cfg override "
                                       "the defaults of [train] and [evaluation]", fingerprint=False)
    launcher: str = setting("local", "how fairseq-train starts: processes on this machine, torchrun (one GPU node) "
                                     "or srun inside a SLURM allocation", fingerprint=False, choices=LAUNCHERS)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(threads: int) -> dict:
    return {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def launch(args: list, world_size: int, launcher: str, cpu: bool, run_dir: Path, threads: int, on_record=None) -> int:
    """Run the training; returns the exit code of rank 0 (or of the launcher)."""
    log, env = run_dir / "train.log", environment(threads)
    backend = ["--distributed-backend", "gloo" if cpu else "nccl", "--distributed-world-size", str(world_size)]
    if world_size == 1:
        return fairseq_run.run(args, log, env, on_record)
    if launcher == "torchrun":
        prefix = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(world_size),
                  "-m", "fairseq_cli.train"]
        return fairseq_run.run(args + backend, log, env, on_record, prefix=prefix)
    if launcher == "slurm":
        prefix = ["srun", "--kill-on-bad-exit=1", sys.executable, "-m", "fairseq_cli.train"]
        return fairseq_run.run(args + backend + ["--distributed-port", str(_free_port())], log, env, on_record,
                               prefix=prefix)
    init = ["--distributed-init-method", f"tcp://127.0.0.1:{_free_port()}", "--distributed-no-spawn"] + backend
    if cpu:
        init += ["--ddp-backend", "legacy_ddp"]
    others = []
    for rank in range(1, world_size):
        with open(run_dir / f"rank{rank}.log", "a", encoding="utf-8") as output:
            others.append(fairseq_run.start(fairseq_run.TRAIN + args + init + ["--distributed-rank", str(rank)],
                                            env, output))
    code = fairseq_run.run(args + init + ["--distributed-rank", "0"], log, env, on_record)
    for process in others:
        try:
            code = code or process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            code = code or 1
    return code
