"""Training throughput of our ContinuePretraining beside plain fairseq-train with identical
arguments on identical data, on whatever device is there.

    python bench/train_throughput.py [--profile demo-cpu|cino-base|cino-large] [--updates N] [--batch-size B]
                                     [--num-workers W] [--langs bo,mn,ug] [--dir /tmp/cino-bench-train]

The profile's section of luigi.cfg is run as it is, adapted to the device only: on GPUs its
fp16 and per-GPU batch, one update per batch (update_freq 1) on every visible GPU; on CPU
fp32 and a batch of --batch-size (default: a CPU profile's own, else 4). `cino-base` / `cino-large` start from a randomly
initialised model of xlmr.base's / xlmr.large's exact size (RealSizeBase), other profiles from
the configured base. Everything training needs is built with the real DAG and kept in --dir;
then `luigi --module pipeline ContinuePretraining` runs as a user runs it, and the command it
logged runs again as plain `fairseq-train` into a fresh directory. Printed for both: tokens/s
(fairseq's wps, mean over the logged intervals after the first, which holds start-up), updates/s,
GPU memory at its peak (fairseq's gb_free against the card's size), wall time; and the ratio.
Words/s divides tokens/s by the tokens per word of the pruned tokenizer, weighted by the
sampling plan's q.
"""
import argparse
import configparser
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import logged_fairseq_command, print_table, real_size_base_dir  # noqa: E402
from training.fairseq_run import parse_log_line  # noqa: E402
from training.launch import environment  # noqa: E402

REAL_SIZE = {"cino-base": "base", "cino-large": "large"}


def device() -> dict:
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {"gpus": torch.cuda.device_count(), "name": props.name, "memory_gb": props.total_memory / 2**30}
    return {"gpus": 0, "name": f"CPU ({os.cpu_count()} cores)", "memory_gb": None}


def bench_profile(name: str, on: dict, args) -> dict:
    """The profile's training settings, adapted to the device `on` and to a run of `args.updates` updates."""
    from pipeline.config import profile_values
    from training.profile import TrainSettings

    parser = configparser.ConfigParser()
    parser.read(REPO / "luigi.cfg", encoding="utf-8")
    values = asdict(profile_values(TrainSettings, parser, name))
    if on["gpus"]:
        values.update(cpu=False, world_size=on["gpus"])
    else:   # a GPU profile's batch would take minutes per update here: --batch-size, 4 by default
        cpu_batch = args.batch_size or (values["batch_size"] if values["cpu"] else 4)
        values.update(cpu=True, fp16=False, world_size=1, batch_size=cpu_batch, threads=os.cpu_count())
    if args.num_workers is not None:
        values["num_workers"] = args.num_workers
    values.update(update_freq=1, max_update=args.updates, warmup=max(1, args.updates // 10),
                  save_interval_updates=args.updates, validate_interval_updates=args.updates,
                  log_interval=max(1, args.updates // 10))
    values["effective_batch"] = values["batch_size"] * values["world_size"]
    return values


def write_config(path: Path, values: dict) -> Path:
    lines = ["[train]", "profile = throughput", "", "[train.throughput]",
             *(f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def timed(command: list, env: dict, log: Path) -> float:
    os.sync()   # the checkpoints just written must not be flushed to disk while a run is timed
    started = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed: see {log}")
    return time.perf_counter() - started


def figures(log: Path, wall: float, memory_gb) -> dict:
    """Throughput from a fairseq JSON log: intervals after the first (start-up, first batches)."""
    records = [parsed for parsed in map(parse_log_line, log.read_text(encoding="utf-8").splitlines()) if parsed]
    inner = [r for kind, r in records if kind == "train_inner"]
    steady = inner[1:] or inner
    free = [float(r["gb_free"]) for r in inner if "gb_free" in r]
    return {"tokens_per_s": sum(float(r["wps"]) for r in steady) / len(steady),
            "updates_per_s": sum(float(r["ups"]) for r in steady) / len(steady),
            "tokens_per_update": float(steady[-1]["wpb"]), "wall_s": wall,
            "gpu_peak_gb": memory_gb - min(free) if free and memory_gb else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo-cpu")
    parser.add_argument("--updates", type=int, help="default: 300 on GPUs, 12 on CPU")
    parser.add_argument("--batch-size", type=int, help="sequences per update on CPU (default: a CPU profile's, else 4)")
    parser.add_argument("--num-workers", type=int, help="data-loading workers (default: the profile's)")
    parser.add_argument("--langs", default="bo,mn,ug")
    parser.add_argument("--dir", default="/tmp/cino-bench-train", type=Path)
    args = parser.parse_args()
    on = device()
    args.updates = args.updates or (300 if on["gpus"] else 12)
    args.dir.mkdir(parents=True, exist_ok=True)
    values = bench_profile(args.profile, on, args)
    env = {**os.environ, "CINO_WORK_DIR": str(args.dir / "work"),
           "LUIGI_CONFIG_PATH": str(write_config(args.dir / "throughput.cfg", values))}
    luigi = [str(Path(sys.executable).parent / "luigi"), "--module", "pipeline", "--local-scheduler"]
    if args.profile in REAL_SIZE:
        timed(luigi + ["RealSizeBase", "--size", REAL_SIZE[args.profile]], env, args.dir / "base.log")
        env["CINO_BASE_MODEL_DIR"] = str(real_size_base_dir(args.dir / "work", REAL_SIZE[args.profile]))
    for task in ("SamplingPlan", "TokenizerReport", "InitCheckpoint"):
        timed(luigi + [task, "--langs", args.langs, "--workers", "2"], env, args.dir / f"{task}.log")
    for old in (args.dir / "work").glob("train/*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    ours_wall = timed(luigi + ["ContinuePretraining", "--langs", args.langs], env, args.dir / "ours.log")
    (run_dir,) = (args.dir / "work").glob("train/*.run")
    plain_dir = args.dir / "plain"
    shutil.rmtree(plain_dir, ignore_errors=True)
    plain_wall = timed(logged_fairseq_command(run_dir, plain_dir), {**env, **environment(int(values["threads"]))},
                       args.dir / "plain.log")
    shutil.rmtree(plain_dir, ignore_errors=True)
    ours = figures(run_dir / "train.log", ours_wall, on["memory_gb"])
    plain = figures(args.dir / "plain.log", plain_wall, on["memory_gb"])
    report(args, on, values, ours, plain)


def report(args, on: dict, values: dict, ours: dict, plain: dict) -> None:
    from common.jsonio import read_json

    work, scope = args.dir / "work", args.langs.replace(",", "_")
    (plan_file,) = work.glob(f"sampling_plan/{scope}-*/stats.json")
    (report_file,) = work.glob(f"tokenizer_report/{scope}-*/stats.json")
    plan, rows = read_json(plan_file)["languages"], read_json(report_file)["rows"]
    tokens_per_word = sum(row["q"] * rows[f"{lang}/held-out/pruned"]["tokens_per_unit"] for lang, row in plan.items())
    print(f"profile {args.profile} on {on['name']} x {max(1, on['gpus'])}: {args.updates} updates of "
          f"{values['batch_size']} x {values['tokens_per_sample']} tokens per device, fp16 {values['fp16']}, "
          f"data-loading workers {values['num_workers']}")
    gb = lambda v: f"{v:.1f}" if v is not None else "-"  # noqa: E731
    print_table(["run", "tokens/s", "words/s", "updates/s", "tokens/update", "GPU peak GB", "wall s"], [
        [name, f"{r['tokens_per_s']:.0f}", f"{r['tokens_per_s'] / tokens_per_word:.0f}", f"{r['updates_per_s']:.2f}",
         f"{r['tokens_per_update']:.0f}", gb(r["gpu_peak_gb"]), f"{r['wall_s']:.1f}"]
        for name, r in (("ContinuePretraining (ours)", ours), ("plain fairseq-train", plain))])
    print(f"ours / plain fairseq-train: tokens/s {ours['tokens_per_s'] / plain['tokens_per_s']:.3f}, "
          f"wall time {ours['wall_s'] / plain['wall_s']:.2f} (ours includes Luigi, the data-bin check and the export)")


if __name__ == "__main__":
    main()
