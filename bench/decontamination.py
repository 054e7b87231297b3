"""What the decontamination rule catches, and wrongly catches, on the shipped corpora, for several
lengths: the figures behind DecontaminationSettings' defaults (docs/DECONTAMINATION.md).

    python bench/decontamination.py [--lengths 4:13,8:13,10:13,10:10,10:20,12:13]

For each language with evaluation sets and each (min_units, run_units), the lines of its whole
shipped corpus (as read, before any stage) that the rule removes:
- for the texts it must catch: the dev splits (TNCC-title and SIB-200), with how many of their
  items matched; TNCC-title's train titles beside them, to show how often real titles recur;
- for the other languages written in the same script (their corpora train the same model), the
  dev splits of their SIB-200 sets, which Decontaminate checks too;
- for texts it must not catch: SIB-200 dev and train sentences (FLORES: no shipped corpus holds
  them, so every line they remove is a wrong catch), and TNCC-title's dev titles with their
  syllables shuffled (the same units in an order no text has: chance matches).
Then every TNCC-title dev title found whole inside a line, by length: how often, and how often
it stands as a sentence of its own there (bounded by the line's ends or a shad) rather than
inside other text (a name that is also a title, such as a university's, is the wrong catch a
too short minimum makes).
"""
import argparse
import random
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import print_table  # noqa: E402
from corpus.decontaminate import DecontaminationSettings, EvaluationIndex, text_units  # noqa: E402
from corpus.manifest import load_catalog  # noqa: E402
from eval.datasets import read_labelled  # noqa: E402

SHARED = REPO.parent / "shared"
CATALOG = load_catalog(REPO / "corpora_manifests")


def texts(relative: str) -> list:
    return list(read_labelled(SHARED / "eval" / relative).texts)


def shuffled(items: list, seed: int = 1) -> list:
    rng = random.Random(seed)
    out = []
    for text in items:
        units = list(text_units(text))
        rng.shuffle(units)
        out.append("་".join(units))
    return out


def corpus_lines(lang: str) -> list:
    """Every line of every source a language's manifest lists (all shipped sources are plain text)."""
    lines = []
    for source in CATALOG.languages[lang].sources:
        with open(SHARED / "corpora" / source.path, encoding="utf-8-sig", errors="replace") as handle:
            lines += [line.rstrip("\n") for line in handle]
    return lines


def removed(lines_units: list, items: list, settings: DecontaminationSettings) -> tuple:
    """(lines removed, distinct evaluation items that removed one)."""
    index = EvaluationIndex({f"item:{i}": text for i, text in enumerate(items, 1)}, settings)
    hits = [index.overlap(seq) for seq in lines_units]
    return sum(hit is not None for hit in hits), len({hit.detail.split(":")[1].split(" ")[0] for hit in hits if hit})


def standing(lines: list, titles: list) -> list:
    """[(length in units, occurrences inside lines, of which standing as a sentence)] of titles found whole."""
    normal = [unicodedata.normalize("NFC", line) for line in lines]
    counts, alone = Counter(), Counter()
    for title in titles:
        core = unicodedata.normalize("NFC", title).strip("་། ")
        length = len(text_units(title))
        for line in normal:
            at = line.find(core)
            if at < 0:
                continue
            before, after = line[:at].rstrip("་ "), line[at + len(core):].lstrip("་ ")
            counts[length] += 1
            alone[length] += (not before or before.endswith("།")) and (not after or after.startswith("།"))
    return [(length, counts[length], alone[length]) for length in sorted(counts)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="4:13,6:13,8:13,10:13,10:10,10:20,12:13",
                        help="min_units:run_units pairs, comma-separated")
    args = parser.parse_args()
    lengths = [tuple(map(int, pair.split(":"))) for pair in args.lengths.split(",")]
    rows = []
    for lang in sorted(code for code, language in CATALOG.languages.items() if language.eval_sets):
        started = time.time()
        lines = corpus_lines(lang)
        units = [text_units(line) for line in lines]
        sets = {"sib200 dev": texts(f"sib200/{lang}/dev.tsv"),
                "sib200 dev+train (must not match)": texts(f"sib200/{lang}/dev.tsv") + texts(f"sib200/{lang}/train.tsv")}
        script = CATALOG.languages[lang].script
        for other in sorted(code for code, language in CATALOG.languages.items()
                            if code != lang and language.script == script and language.eval_sets):
            sets[f"{other} sib200 dev (same script)"] = texts(f"sib200/{other}/dev.tsv")
        if lang == "bo":
            sets = {"tncc-title dev": texts("tncc-title/dev.tsv"), "tncc-title train": texts("tncc-title/train.tsv"),
                    "tncc-title dev shuffled (must not match)": shuffled(texts("tncc-title/dev.tsv")), **sets}
        for min_units, run_units in lengths:
            settings = DecontaminationSettings(min_units=min_units, run_units=run_units)
            for name, items in sets.items():
                lines_removed, items_matched = removed(units, items, settings)
                rows.append([lang, str(len(lines)), f"{min_units}/{run_units}", name, str(len(items)),
                             str(items_matched), str(lines_removed)])
        print(f"{lang}: {len(lines)} lines, {sum(map(len, units))} units, {time.time() - started:.1f} s", flush=True)
    print_table(["lang", "corpus lines", "min/run units", "evaluation texts", "items", "items matched",
                 "lines removed"], rows)
    bo = corpus_lines("bo")
    print("\nTNCC-title dev titles found whole in bo's corpus, by length in units:")
    print_table(["units", "occurrences", "standing as a sentence"],
                [list(map(str, row)) for row in standing(bo, texts("tncc-title/dev.tsv"))])


if __name__ == "__main__":
    main()
