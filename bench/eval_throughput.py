"""Fine-tuning and inference throughput of the evaluation, beside a floor measured in the same run.

    python bench/eval_throughput.py [--model DIR] [--lang bo] [--epochs 1] [--batch-size 16] [--threads 2]

DIR: an exported Hugging Face model (default: the newest `export_hf/*` under CINO_WORK_DIR or
./work_dir, i.e. after `make demo`). On the language's SIB-200 training set:
- fine-tuning: eval.classify.fine_tune, one seed (training with AdamW over the embedding rows
  the texts use, scoring the selection set after each epoch, predicting the test set at the
  best epoch), examples/s of the training set per epoch;
- its floor: a bare forward and backward pass of the same model over the same batches (no
  optimizer, no scoring);
- inference: eval.classify.predict on the training set, beside a bare forward pass under
  no_grad over the same batches.
Prints examples/s and the ratio to the floor.
"""
import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import print_table  # noqa: E402

SIB = REPO.parent / "shared" / "eval" / "sib200"


def newest_export() -> Path:
    work = Path(os.environ.get("CINO_WORK_DIR", REPO / "work_dir"))
    exports = sorted(work.glob("export_hf/*-cino-*/config.json"), key=lambda p: p.stat().st_mtime)
    if not exports:
        sys.exit(f"no exported model under {work}/export_hf: run `make demo` first or pass --model")
    return exports[-1].parent


def main() -> None:
    import torch

    from eval.classify import (
        Classifier,
        FineTuneSettings,
        _batches,
        check_labels,
        encode_setting,
        fine_tune,
        hold_out,
        predict,
    )
    from eval.datasets import read_labelled

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--lang", default="bo")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    model_dir = args.model or newest_export()
    data = read_labelled(SIB / args.lang / "train.tsv")
    labels = check_labels(data, [])
    train, select = hold_out(data)
    settings = FineTuneSettings(lr=1e-3, batch_size=args.batch_size, max_epochs=args.epochs, patience=args.epochs,
                                max_length=128, threads=args.threads)
    classifier = Classifier(model_dir)
    setting = encode_setting(classifier, train, select, {"select": select}, labels, settings.max_length)
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    fine_tune(classifier, setting, select, labels, settings, 1, "macro_f1")
    tuned = len(train) * args.epochs / (time.perf_counter() - started)

    model = classifier.new_model(labels, setting.rows)
    model.train()
    started = time.perf_counter()
    for _ in range(args.epochs):
        for tokens, mask, target in _batches(setting.train, setting.train_y, args.batch_size,
                                             list(range(len(setting.train)))):
            model(input_ids=tokens, attention_mask=mask, labels=target).loss.backward()
    floor = len(train) * args.epochs / (time.perf_counter() - started)

    started = time.perf_counter()
    predict(model, setting.train, 64)
    inferred = len(setting.train) / (time.perf_counter() - started)
    model.eval()
    started = time.perf_counter()
    with torch.no_grad():
        for tokens, mask, _ in _batches(setting.train, None, 64, list(range(len(setting.train)))):
            model(input_ids=tokens, attention_mask=mask)
    bare = len(setting.train) / (time.perf_counter() - started)

    print(f"model {model_dir}, {len(train)} training examples ({args.lang}), batch {args.batch_size}, "
          f"{args.threads} threads, {len(setting.rows)} embedding rows of {classifier.config.vocab_size}")
    print_table(["stage", "examples/s", "floor examples/s", "vs floor"], [
        ["fine-tuning (per epoch)", f"{tuned:.1f}", f"{floor:.1f}", f"{tuned / floor:.3f}"],
        ["inference", f"{inferred:.1f}", f"{bare:.1f}", f"{inferred / bare:.3f}"]])


if __name__ == "__main__":
    main()
