"""Labelled evaluation sets: `text<TAB>label` files (SIB-200, WCM, TNCC style), one item a line.

Evaluation sets are data like corpora: declared in a language's manifest under `eval:` with
their sha256, read strictly. Every problem is one InputError naming the file (and line).
"""
import hashlib
from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError
from common.fingerprint import sha256_file
from corpus.decontaminate import text_units


@dataclass(frozen=True)
class Labelled:
    path: Path
    texts: tuple
    labels: tuple

    def __len__(self) -> int:
        return len(self.texts)


def read_labelled(path, sha256: str = None) -> Labelled:
    """The items of a `text<TAB>label` file; `sha256`, when given, must match."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "evaluation file not found", "check the path in the manifest's eval: section and "
                                                            "[cino] eval_root (or CINO_EVAL_ROOT)")
    if sha256 and sha256_file(path) != sha256:
        raise InputError(path, f"sha256 mismatch: expected {sha256}, actual {sha256_file(path)}",
                         "restore the file, or update its sha256 in the manifest if the change is intended")
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 (byte {exc.start + 1})", "save the file as UTF-8")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise InputError(path, "empty evaluation file", "give one `text<TAB>label` item per line")
    texts, labels = [], []
    for number, line in enumerate(lines, 1):
        columns = line.split("\t")
        if len(columns) != 2 or not columns[0].strip() or not columns[1].strip():
            raise InputError(f"{path}:{number}", f"expected `text<TAB>label`, got {len(columns)} column(s)"
                             + ("" if len(columns) != 2 else " with an empty field"),
                             "write one item per line: the text, one tab, the label")
        texts.append(columns[0])
        labels.append(columns[1].strip())
    return Labelled(path, tuple(texts), tuple(labels))


def resolve(eval_file, eval_root) -> Path:
    """The file of a manifest's EvalFile: absolute, or relative to eval_root."""
    path = Path(eval_file.path)
    return path if path.is_absolute() else Path(eval_root) / path


def subset(data: Labelled, indices) -> Labelled:
    """The items of `data` at `indices`, in order."""
    return Labelled(data.path, tuple(data.texts[i] for i in indices), tuple(data.labels[i] for i in indices))


def capped(train: Labelled, most: int) -> Labelled:
    """At most `most` items of a training set (0: all), in their order: first the smallest-hash
    item of every label (a cap never drops a label the tests have), then the others by the hash of
    their text: a fixed choice that a larger cap only extends."""
    if not most or len(train) <= most:
        return train
    rank = sorted(range(len(train)), key=lambda i: hashlib.blake2b(train.texts[i].encode("utf-8"), digest_size=8).digest())
    first = {}
    for i in rank:
        first.setdefault(train.labels[i], i)
    chosen = list(first.values())[:most]
    taken = set(chosen)
    chosen += [i for i in rank if i not in taken][:most - len(chosen)]
    return subset(train, sorted(chosen))


def unseen_items(train: Labelled, tests: dict) -> dict:
    """{test name: indices of its items whose normalised text (NFC script units, as decontamination
    compares) is no training item's}: what a score on them is not lookup of. TNCC repeats titles
    across its splits (102 of its 927 dev titles are train titles so normalised; 93 exactly)."""
    seen = {text_units(text) for text in train.texts}
    return {name: [i for i, text in enumerate(data.texts) if text_units(text) not in seen] for name, data in tests.items()}
