"""How well and how fast Menksoft converts (corpus/menksoft.py), on the public cases and words.

    python bench/menksoft.py [--work-dir work_dir]

1. cases.tsv (369 Menksoft strings with the Unicode a public-domain converter's tests expect):
   the share converted exactly, by kind (isolates, punctuation, suffixes, words), the suffix
   separator compared as U+180E (the cases' convention); every difference listed.
2. words.txt (16,361 real words): the share converted without error, with no private-use code
   left; then the words joined into lines of 12, as running text, and the share of those lines
   that the language-ID model of a finished build (work dir's langid_model) labels mn, and at
   mn's threshold.
3. Throughput: converting words.txt (1x) and ten copies of it (10x), beside reading and
   splitting the same bytes into lines (the floor); the ratio is the claim.
"""
import argparse
import csv
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import print_table  # noqa: E402
from corpus.menksoft import Unconvertible, convert  # noqa: E402

MENKSOFT = REPO.parent / "shared" / "legacy" / "menksoft"
KINDS = ("isolates", "punctuation", "suffix", "word")
PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def codes(text: str) -> str:
    return " ".join(f"{ord(ch):04X}" for ch in text)


def cases() -> None:
    with open(MENKSOFT / "cases.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, dialect="excel-tab", quoting=csv.QUOTE_NONE))
    right, total, wrong = Counter(), Counter(), []
    for row in rows:
        kind = next(k for k in KINDS if k in row["source"].lower())
        total[kind] += 1
        try:
            got = convert(row["menksoft"], "\u180e")
        except Unconvertible as error:
            got = f"error: {error}"
        if got == row["unicode"]:
            right[kind] += 1
        else:
            wrong.append((kind, row, got))
    print("cases.tsv: converted exactly as expected (suffix separator U+180E)")
    print_table(["kind", "cases", "exact", "share"],
                [[k, str(total[k]), str(right[k]), f"{right[k] / total[k]:.3f}"] for k in KINDS]
                + [["all", str(len(rows)), str(sum(right.values())), f"{sum(right.values()) / len(rows):.3f}"]])
    for kind, row, got in wrong:
        print(f"  {kind} {row['source']}: {codes(row['menksoft'])} expected {codes(row['unicode'])} got {codes(got)}")


def words(work_dir: Path) -> None:
    lines = (MENKSOFT / "words.txt").read_text(encoding="utf-8").splitlines()
    failed, converted = 0, []
    for line in lines:
        try:
            converted.append(convert(line))
        except Unconvertible:
            failed += 1
    left = sum(bool(PRIVATE_USE.search(text)) for text in converted)
    print(f"\nwords.txt: {len(lines)} words, {len(lines) - failed} converted without error "
          f"({(len(lines) - failed) / len(lines):.4f}), {left} with a private-use code left")
    models = sorted((work_dir / "langid_model").glob("all-*/model.bin"))
    if not models:
        print(f"  language ID: no langid_model in {work_dir} (run `make demo` first)")
        return
    from corpus.lid import LanguageIdentifier
    from corpus.manifest import load_catalog

    joined = [" ".join(converted[i:i + 12]) for i in range(0, len(converted), 12)]
    predictions = LanguageIdentifier(models[-1]).predict(joined)
    threshold = load_catalog(REPO / "corpora_manifests").languages["mn"].lid_threshold
    mn = [prob for label, prob in predictions if label == "mn"]
    print(f"  joined into {len(joined)} lines of 12 words: labelled mn {len(mn) / len(joined):.4f}, "
          f"at mn's threshold {threshold} {sum(p >= threshold for p in mn) / len(joined):.4f} "
          f"(model {models[-1].parent.name}); labels: {dict(Counter(label for label, _ in predictions))}")


def throughput() -> None:
    text, rows = (MENKSOFT / "words.txt").read_text(encoding="utf-8"), []
    with tempfile.TemporaryDirectory() as tmp:
        for copies in (1, 10):
            path = Path(tmp) / f"words-{copies}x.txt"
            path.write_text(text * copies, encoding="utf-8")
            started = time.perf_counter()
            lines = path.read_text(encoding="utf-8").splitlines()   # the floor: reading the same file
            floor = time.perf_counter() - started
            started = time.perf_counter()
            out = [convert(line) for line in path.read_text(encoding="utf-8").splitlines()]
            seconds = time.perf_counter() - started
            size = path.stat().st_size / 1e6
            rows.append([f"{copies}x", str(len(lines)), f"{size:.1f}", f"{floor:.4f}", f"{seconds:.3f}",
                         f"{size / seconds:.2f}", f"{seconds / floor:.0f}"])
            assert len(out) == len(lines)
    print("\nthroughput (one process): reading the file and converting each line, beside reading it (the floor)")
    print_table(["size", "lines", "MB", "read s (floor)", "convert s", "convert MB/s", "convert / floor"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=REPO / "work_dir")
    args = parser.parse_args()
    cases()
    words(args.work_dir)
    throughput()


if __name__ == "__main__":
    main()
