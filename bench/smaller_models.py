"""CPU inference speed of the trained model, its model for one language and its student, measured
side by side (same lines, batch and threads), with the SmallerModels report's sizes and scores.

    python bench/smaller_models.py [--langs bo,mn,ug] [--lang bo] [--profile demo-cpu] [--batch 32] [--threads 2]
        [any setting the run was built with: --distill-steps 600 ...]

Builds `SmallerModels --langs LANGS --lang LANG --train-profile PROFILE` if it is not finished (in
CINO_WORK_DIR or ./work_dir), then times, for each model, the language's held-out lines (the first
--lines), tokenized beforehand, run through the encoder (what a classifier runs) and through the encoder
and the masked-LM head (what fill-mask runs; the head's size is where the model for one language
saves), best of three passes. Prints sentences/s and the ratio to the trained model beside size,
parameters, score and retention.
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import print_table  # noqa: E402


def speed(model_dir: Path, lines: list, batch: int, threads: int) -> dict:
    """Best-of-three sentences/s of the encoder and of the encoder with the MLM head."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForMaskedLM.from_pretrained(model_dir, local_files_only=True).eval()
    limit = model.config.max_position_embeddings - 2
    batches = [tokenizer(lines[start:start + batch], padding=True, truncation=True, max_length=limit,
                         return_tensors="pt") for start in range(0, len(lines), batch)]   # not timed: the models differ
    result = {}
    for name, run in (("encoder", lambda x: model.roberta(**x)), ("fill-mask", lambda x: model(**x))):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            with torch.no_grad():
                for inputs in batches:
                    run(inputs)
            times.append(time.perf_counter() - started)
        result[name] = len(lines) / min(times)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--langs", default="bo,mn,ug")
    parser.add_argument("--lang", default="bo")
    parser.add_argument("--profile", default="demo-cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lines", type=int, default=512)
    args, settings = parser.parse_known_args()   # the rest: settings the run was built with (--distill-steps 600)
    os.chdir(REPO)
    settings = ["--train-profile", args.profile, *settings]
    command = [str(Path(sys.executable).parent / "luigi"), "--module", "pipeline", "SmallerModels", "--langs", args.langs,
               "--lang", args.lang, *settings, "--local-scheduler", "--workers", "2"]
    if subprocess.run(command).returncode != 0:
        sys.exit("SmallerModels failed; see its output above")
    from luigi.cmdline_parser import CmdlineParser

    import pipeline
    from corpus.split import split_path

    with CmdlineParser.global_instance(["SmallerModels", *settings]):
        report = pipeline.SmallerModels(langs=args.langs, lang=args.lang).output().stats()
        dirs = {"cino": pipeline.ExportHF(langs=args.langs).output().path,
                "pruned": pipeline.PruneForLanguage(langs=args.langs, lang=args.lang).output().path,
                "student": pipeline.DistillStudent(langs=args.langs).output().path}
        held_out = pipeline.Split(lang=args.lang).output().path
    lines = [line for name in ("valid", "test") for line in split_path(held_out, name).read_text(
        encoding="utf-8").split("\n") if line][:args.lines]
    speeds = {model: speed(path, lines, args.batch, args.threads) for model, path in dirs.items()}
    rows = []
    for model, row in report["models"].items():
        (test,) = row["scores"]
        rows.append([model, f"{row['bytes'] / 2**20:.1f}", f"{row['parameters']:,}",
                     f"{row['scores'][test]['mean']:.3f} ± {row['scores'][test]['std']:.3f}",
                     f"{row['retention'][test]:.1%}",
                     *(f"{speeds[model][kind]:.0f} ({speeds[model][kind] / speeds['cino'][kind]:.2f}x)"
                       for kind in ("encoder", "fill-mask"))])
    print(f"{args.lang}, profile {args.profile}: {len(lines)} held-out lines, batch {args.batch}, {args.threads} threads; "
          f"score: {report['metric']} on {test}")
    print_table(["model", "MB", "parameters", "score", "retention", "encoder sent/s", "fill-mask sent/s"], rows)


if __name__ == "__main__":
    main()
