"""Throughput of the training step, and the share of wall time spent outside fairseq's update loop.

    python bench/train_throughput.py [--langs bo,mn,ug] [--dir /tmp/cino-bench-train] [--profile demo-cpu]

Builds everything training needs with the real DAG (kept in --dir, so a second run goes
straight to training), deletes any previous training, then times
`luigi --module pipeline ContinuePretraining` as a user runs it. From fairseq's JSON log:
tokens/s (fairseq's "wps" counts tokens), the time fairseq spent inside training steps
(`train_wall`), and its own wall time. Words/s is tokens/s divided by the tokens per word
(Tibetan: per syllable) of the pruned tokenizer, weighted by the sampling plan's q.
Outside-the-loop share = 1 - train_wall / task wall time: Luigi, data-bin preparation,
fairseq start-up and data loading, validation, checkpointing and the final export.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--langs", default="bo,mn,ug")
    parser.add_argument("--dir", default="/tmp/cino-bench-train")
    parser.add_argument("--profile", default="demo-cpu")
    args = parser.parse_args()
    env = {**os.environ, "CINO_WORK_DIR": args.dir}
    luigi = [str(Path(sys.executable).parent / "luigi"), "--module", "pipeline", "--local-scheduler",
             "--train-profile", args.profile]
    for task in ("SamplingPlan", "TokenizerReport", "InitCheckpoint"):
        subprocess.run(luigi + [task, "--langs", args.langs, "--workers", "2"], cwd=REPO, env=env, check=True,
                       capture_output=True)
    for old in Path(args.dir).glob("train/*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    started = time.perf_counter()
    subprocess.run(luigi + ["ContinuePretraining", "--langs", args.langs], cwd=REPO, env=env, check=True,
                   capture_output=True)
    task_wall = time.perf_counter() - started
    report(Path(args.dir), args.langs, task_wall)


def report(work: Path, langs: str, task_wall: float) -> None:
    from common.jsonio import read_json
    from training.fairseq_run import parse_log_line

    (run_dir,) = work.glob("train/*.run")
    records = [parse_log_line(line) for line in (run_dir / "train.log").read_text(encoding="utf-8").splitlines()]
    inner = [r for kind, r in filter(None, records) if kind == "train_inner"]
    final = [r for kind, r in filter(None, records) if kind == "train"][-1]
    tokens_per_second = float(final["train_wps"])
    (plan_file,) = work.glob(f"sampling_plan/{langs.replace(',', '_')}-*/stats.json")
    (report_file,) = work.glob(f"tokenizer_report/{langs.replace(',', '_')}-*/stats.json")
    plan, rows = read_json(plan_file)["languages"], read_json(report_file)["rows"]
    tokens_per_word = sum(row["q"] * rows[f"{lang}/pruned"]["tokens_per_unit"] for lang, row in plan.items())
    train_wall, fairseq_wall = float(final["train_train_wall"]), float(final["train_wall"])
    print(f"updates                      {int(final['train_num_updates'])}")
    print(f"tokens per update            {float(final['train_wpb']):.0f}")
    print(f"tokens/s (fairseq wps)       {tokens_per_second:.0f}")
    print(f"tokens per word (q-weighted) {tokens_per_word:.3f}")
    print(f"words/s                      {tokens_per_second / tokens_per_word:.0f}")
    print(f"updates/s (mean of logs)     {sum(float(r['ups']) for r in inner) / len(inner):.2f}")
    print(f"task wall time               {task_wall:.1f} s")
    print(f"fairseq wall time            {fairseq_wall:.1f} s")
    print(f"inside training steps        {train_wall:.1f} s")
    print(f"outside the update loop      {1 - train_wall / task_wall:.1%} of the task's wall time "
          f"({task_wall - fairseq_wall:.1f} s before/after fairseq, {fairseq_wall - train_wall:.1f} s inside "
          f"fairseq but outside steps: start-up, data loading, validation, checkpoints)")


if __name__ == "__main__":
    main()
