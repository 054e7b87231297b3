"""Language ID from the command line: `python -m pipeline.langid MODEL < lines`.

Prints `label<TAB>probability` for every input line, using the classifier that the
TrainLangID task wrote (work_dir/langid_model/all-*/model.bin).
"""
import argparse
import sys

from corpus.lid import LanguageIdentifier


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.langid", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="model.bin written by TrainLangID")
    parser.add_argument("--batch", type=int, default=4096, help="lines per prediction batch")
    args = parser.parse_args(argv)
    try:
        identifier = LanguageIdentifier(args.model)
    except ValueError as exc:
        print(f"error: {args.model}: cannot load the fastText model ({exc}); fix: pass the model.bin "
              f"of a finished TrainLangID task", file=sys.stderr)
        return 2
    stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", newline="\n", closefd=False)
    batch = []
    for line in stdin:
        batch.append(line.rstrip("\n"))
        if len(batch) >= args.batch:
            _emit(identifier, batch)
    _emit(identifier, batch)
    return 0


def _emit(identifier, batch: list) -> None:
    for label, prob in identifier.predict(batch):
        sys.stdout.write(f"{label}\t{prob:.4f}\n")
    batch.clear()


if __name__ == "__main__":
    sys.exit(main())
