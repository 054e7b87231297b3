"""Every model stage at xlmr.base's and xlmr.large's real size, beside a floor measured in the same run.

    python bench/model_scale.py [--sizes base,large] [--dir /tmp/cino-bench-scale] [--lines 400]

A randomly initialised model with exactly the released architecture and XLM-R's real
vocabulary (`RealSizeBase`, built once and cached in --dir) is the base of a small real-text
run of bo, mn and ug (the first --lines lines of each demo source). Each stage runs as users
run it, `luigi --module pipeline <Task>` on an otherwise finished work dir, in a child process
whose peak memory (its own and its children's: fairseq runs as a child) is measured:
- InitCheckpoint (embedding surgery) beside torch.load + torch.save of the same checkpoint;
- ContinuePretraining, 3 updates of the `cino-base`/`cino-large` architecture (batch shrunk to
  2 x 128 tokens, bench/scale.cfg), beside plain fairseq-train with the same arguments and data;
- ExportHF (weights, tokenizer, parity with fairseq) beside reading the checkpoint and writing
  safetensors, and the export alone (the time ExportHF logs before its parity check; peak RSS is
  the whole task's);
- one evaluation fine-tuning step (eval.classify on 16 examples, batch 16) beside one bare
  forward and backward pass on the same batch.
Prints wall time, peak RSS, the ratio to the floor and peak RSS over the checkpoint's size.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import logged_fairseq_command, print_table, real_size_base_dir  # noqa: E402
from common.xlmr import LM_WEIGHT, MODEL_FILE  # noqa: E402
from corpus.sample import sample_corpus  # noqa: E402
from training.launch import environment  # noqa: E402

LANGS = "bo,mn,ug"
SHARED = REPO.parent / "shared"


def measured(command: list, env: dict) -> dict:
    """Run `command` in a child that reports its wall time and peak RSS (itself and descendants)."""
    probe = ("import json, resource, subprocess, sys, time; t = time.perf_counter(); "
             "code = subprocess.run(sys.argv[1:]).returncode; "
             "print(json.dumps({'code': code, 'seconds': time.perf_counter() - t, "
             "'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))")
    done = subprocess.run([sys.executable, "-c", probe, *map(str, command)], cwd=REPO, env={**os.environ, **env},
                          capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{done.stderr[-3000:]}")
    return {**result, "log": done.stderr}


def luigi(*args) -> list:
    return [str(Path(sys.executable).parent / "luigi"), "--module", "pipeline", *args, "--local-scheduler"]


def python(code: str, *args) -> list:
    return [sys.executable, "-c", code, *map(str, args)]


FLOOR_SURGERY = ("import sys, torch; m = torch.load(sys.argv[1], map_location='cpu', weights_only=False); "
                 "torch.save(m, sys.argv[2])")
FLOOR_EXPORT = ("import sys, torch; from safetensors.torch import save_file; "
                "m = torch.load(sys.argv[1], map_location='cpu', weights_only=False, mmap=True)['model']; "
                f"save_file({{k: v.contiguous() for k, v in m.items() if k != {LM_WEIGHT!r}}}, sys.argv[2])")
FLOOR_STEP = """
import sys, torch
from eval.classify import Classifier, _batches, encode_setting
from eval.datasets import Labelled, read_labelled
torch.manual_seed(1); torch.set_num_threads(2)
data = read_labelled(sys.argv[2]); labels = sorted(set(data.labels))
part = Labelled(data.path, data.texts[:16], data.labels[:16])
classifier = Classifier(sys.argv[1]); setting = encode_setting(classifier, part, part, {}, labels, 128)
model = classifier.new_model(labels, setting.rows); model.train()
for tokens, mask, target in _batches(setting.train, setting.train_y, 16, list(range(16))):
    model(input_ids=tokens, attention_mask=mask, labels=target).loss.backward()
"""
STEP = """
import sys
from eval.classify import Classifier, FineTuneSettings, encode_setting, fine_tune
from eval.datasets import Labelled, read_labelled
data = read_labelled(sys.argv[2]); labels = sorted(set(data.labels))
part = Labelled(data.path, data.texts[:16], data.labels[:16])
classifier = Classifier(sys.argv[1])
fine_tune(classifier, encode_setting(classifier, part, part, {}, labels, 128), part, labels,
          FineTuneSettings(lr=1e-5, batch_size=16, max_epochs=1, max_length=128, threads=2), 1, "macro_f1")
"""


def one_size(size: str, root: Path, corpus: dict) -> list:
    work = root / f"work-{size}"
    config = {**corpus, "LUIGI_CONFIG_PATH": str(REPO / "bench" / "scale.cfg"), "CINO_WORK_DIR": str(work)}
    measured(luigi("RealSizeBase", "--size", size), config)
    base = real_size_base_dir(work, size)
    env = {**config, "CINO_BASE_MODEL_DIR": str(base)}
    checkpoint_mb = (base / MODEL_FILE).stat().st_size / 2**20
    measured(luigi("PruneVocabulary", "--langs", LANGS, "--workers", "2"), env)   # not measured: size-independent
    for stage in ("init_checkpoint", "train", "export_hf"):   # measured: run afresh every time
        shutil.rmtree(work / stage, ignore_errors=True)
    rows = []
    surgery = measured(luigi("InitCheckpoint", "--langs", LANGS), env)
    floor = measured(python(FLOOR_SURGERY, base / MODEL_FILE, root / "floor.pt"), env)
    rows.append(("surgery (InitCheckpoint)", surgery, floor))
    measured(luigi("SamplingPlan", "--langs", LANGS, "--workers", "2"), env)
    training = measured(luigi("ContinuePretraining", "--langs", LANGS), env)
    (run_dir,) = [p for p in work.glob("train/*.run") if p.is_dir()]
    plain_dir = root / f"plain-{size}"
    shutil.rmtree(plain_dir, ignore_errors=True)
    floor = measured(logged_fairseq_command(run_dir, plain_dir), {**env, **environment(threads=2)})
    shutil.rmtree(plain_dir, ignore_errors=True)
    rows.append(("3 updates (ContinuePretraining)", training, floor))
    export = measured(luigi("ExportHF", "--langs", LANGS), env)
    (trained,) = [p for p in work.glob("train/*") if p.is_dir() and not p.name.endswith(".run")]
    floor = measured(python(FLOOR_EXPORT, trained / MODEL_FILE, root / "floor.safetensors"), env)
    rows.append(("export with parity (ExportHF)", export, floor))
    # ExportHF logs the export's own time (weights and tokenizer, before the parity check)
    alone = float(re.search(r"Hugging Face export of \S+ in ([0-9.]+) s", export["log"]).group(1))
    rows.append(("export alone (ExportHF, its log)", {**export, "seconds": alone}, floor))
    (hf,) = [p for p in work.glob("export_hf/*-cino-*") if p.is_dir()]
    sib = SHARED / "eval" / "sib200" / "bo" / "train.tsv"
    step = measured(python(STEP, hf, sib), env)
    floor = measured(python(FLOOR_STEP, hf, sib), env)
    rows.append(("fine-tuning step (eval.classify)", step, floor))
    for path in (root / "floor.pt", root / "floor.safetensors"):
        path.unlink(missing_ok=True)
    return [{"size": size, "stage": stage, "seconds": ours["seconds"], "floor_seconds": floor["seconds"],
             "peak_mb": ours["peak_mb"], "floor_peak_mb": floor["peak_mb"], "checkpoint_mb": checkpoint_mb}
            for stage, ours, floor in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="base,large")
    parser.add_argument("--dir", default="/tmp/cino-bench-scale", type=Path)
    parser.add_argument("--lines", type=int, default=400)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    corpus = {k: v for k, v in sample_corpus(args.dir / "corpus", REPO / "corpora_manifests", SHARED / "corpora", lines=args.lines).items() if k != "CINO_WORK_DIR"}
    rows = []
    for size in args.sizes.split(","):
        started = time.perf_counter()
        rows += one_size(size, args.dir, corpus)
        print(f"xlmr.{size}: {time.perf_counter() - started:.0f} s in all", flush=True)
    print_table(["size", "stage", "seconds", "floor s", "vs floor", "peak MB", "floor peak MB", "checkpoint MB",
                 "peak / checkpoint"],
                [[r["size"], r["stage"], f"{r['seconds']:.1f}", f"{r['floor_seconds']:.1f}",
                  f"{r['seconds'] / r['floor_seconds']:.2f}", f"{r['peak_mb']:.0f}", f"{r['floor_peak_mb']:.0f}",
                  f"{r['checkpoint_mb']:.0f}", f"{r['peak_mb'] / r['checkpoint_mb']:.2f}"] for r in rows])
    (args.dir / "results.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
