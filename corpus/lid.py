"""Layered language identification.

Layer (a): of the line's units (words, Tibetan syllables, Han characters) that hold a letter,
the share written in the language's script, against the manifest's `min_script_share`.
Layer (b): a fastText supervised classifier trained by the pipeline itself from seed lines
sampled (by hash) from every manifest's sources (one label per manifest language, plus
`other` for foreign material), because off-the-shelf models (lid.176) know no traditional
Mongolian, no Arabic-script Kazakh and no Zhuang. It separates languages that share a
script: ug/kk (Arabic), zh/yue (Han). Seed lines stay in the corpus: they are a sample for
the classifier, not held back from pretraining.
Layer (c): the language's probability threshold from its manifest.
"""
import hashlib
import heapq
import itertools
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass

from common.jsonio import open_text
from common.settings import Settings, setting
from common.units import units
from corpus.lines import KEPT_FILE, REJECTED_FILE, Ledger, Reject, RejectionLog, read_shard, read_shards, write_pair
from corpus.markup import strip_any_markup
from corpus.normalize import VIEW

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


LID_MODEL_FILE = "model.bin"   # the classifier in TrainLangID's output
SEEDS_TRAIN_FILE, SEEDS_HELDOUT_FILE = "seeds.train.txt", "seeds.heldout.txt"   # beside it: what it was trained and tested on
OTHER = "other"
LABEL = "__label__"
_DIGITS = re.compile(r"\d")


def lid_units(text: str) -> list:
    """What the classifier sees, as units: markup gone, the character-for-character
    normalisation of every script (corpus.normalize.VIEW: presentation forms, precomposed
    Tibetan, full-width letters, invisible characters), lower case, digits as 0. Han characters
    and Tibetan syllables are units, so word n-grams mean something."""
    text = strip_any_markup(text)
    # Spaces do not matter here (units are what is between them): rewrite, not VIEW(text).
    return units(_DIGITS.sub("0", VIEW.rewrite(text).lower()))


def lid_view(text: str) -> str:
    return " ".join(lid_units(text))


def _key(view: str) -> int:
    return int.from_bytes(hashlib.blake2b(view.encode("utf-8"), digest_size=8).digest(), "big")


@dataclass(frozen=True)
class SeedSettings(Settings):
    seed_lines: int = setting(3000, "seed lines per language (and for `other`), chosen by hash: stable, no RNG")
    heldout_percent: int = setting(10, "share of the seed lines kept out of training for the accuracy report")
    min_seed_chars: int = setting(15, "shorter lines say too little about their language to be seeds")
    scan_lines: int = setting(2_000_000, "per language, seeds come from the first lines only")


class _BottomK:
    """The k distinct views with the smallest hash: a deterministic, order-free sample."""

    def __init__(self, k: int):
        self.k, self.heap, self.keys = k, [], set()

    def offer(self, view: str) -> None:
        key = _key(view)
        if key in self.keys or (len(self.heap) >= self.k and -self.heap[0][0] <= key):
            return
        heapq.heappush(self.heap, (-key, view))
        self.keys.add(key)
        if len(self.heap) > self.k:
            dropped, _ = heapq.heappop(self.heap)
            self.keys.discard(-dropped)

    def sorted(self) -> list:
        return sorted((-neg, view) for neg, view in self.heap)


def collect_seeds(languages: dict, shard_paths: dict, table, scripts: dict, settings: SeedSettings, progress=None):
    """Seed lines per label: {label: [(hash, view), ...]} from every language's ingest shards.

    A line whose dominant script is its language's script is a seed for that language; a
    line dominated by a script no manifest language uses, or by a `borrowed` script (Latin
    inside Chinese UI text), is a seed for `other`.
    """
    samples = {code: _BottomK(settings.seed_lines) for code in languages}
    samples[OTHER] = _BottomK(settings.seed_lines)
    for code, lang in sorted(languages.items()):
        for _, text in itertools.islice(read_shards(shard_paths[code]), settings.scan_lines):
            seq = lid_units(text)
            view = " ".join(seq)
            if len(view) < settings.min_seed_chars:
                continue
            script, share, _ = table.dominant(seq)
            if script == lang.script and share >= lang.min_script_share:
                samples[code].offer(view)
            elif script is None or (script != lang.script and scripts[script].borrowed):
                samples[OTHER].offer(view)
            if progress:
                progress.update(1)
    return {label: sample.sorted() for label, sample in samples.items()}


def split_seeds(seeds: dict, heldout_percent: int):
    """Training and held-out lines, `__label__x view`, in hash order (a fixed shuffle)."""
    train, heldout = [], []
    for label, items in seeds.items():
        for key, view in items:
            (heldout if key % 100 < heldout_percent else train).append((key, label, view))
    fmt = lambda rows: [f"{LABEL}{label} {view}" for _, label, view in sorted(rows)]
    return fmt(train), fmt(heldout)


@dataclass(frozen=True)
class FastTextSettings(Settings):
    dim: int = setting(32, "fastText vector size of the language classifier")
    epoch: int = setting(25, "fastText training epochs")
    lr: float = setting(0.5, "fastText learning rate")
    word_ngrams: int = setting(2, "fastText word n-grams (units: words, syllables, Han characters)")
    minn: int = setting(1, "shortest character n-gram")
    maxn: int = setting(4, "longest character n-gram")
    bucket: int = setting(200_000, "hash buckets for n-grams")
    seed: int = setting(1234, "fastText's random seed (training runs on one thread: reproducible)")


# fasttext-numpy2 keeps matrices in uninitialised aligned memory, and with thread=1 it
# initialises only the first tenth of the input matrix (DenseMatrix::uniform). The rest is
# whatever the allocator hands out: zero pages from mmap in a fresh process, recycled heap
# garbage once the process has freed large blocks - then training differs from run to run
# or diverges ("Encountered NaN"). So training runs in a fresh interpreter whose glibc
# serves every allocation of 128 KiB or more with fresh, zeroed mmap pages.
_TRAIN = "import fasttext, json, sys; a = json.loads(sys.argv[1]); " \
         "fasttext.train_supervised(**a['params']).save_model(a['model'])"
_FRESH_PAGES = {"MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}


def train_classifier(train_file, model_file, settings: FastTextSettings) -> None:
    """fastText supervised, single thread (multi-threaded Hogwild training is not reproducible)."""
    params = {"input": str(train_file), "dim": settings.dim, "epoch": settings.epoch, "lr": settings.lr,
              "wordNgrams": settings.word_ngrams, "minn": settings.minn, "maxn": settings.maxn,
              "bucket": settings.bucket, "thread": 1, "seed": settings.seed, "verbose": 0}
    done = subprocess.run([sys.executable, "-c", _TRAIN, json.dumps({"params": params, "model": str(model_file)})],
                          env={**os.environ, **_FRESH_PAGES}, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"fastText training failed: {last}")


class LanguageIdentifier:
    """The trained classifier: `predict(texts)` -> [(label, probability)]."""

    def __init__(self, model_file):
        import fasttext

        self.model = fasttext.load_model(str(model_file))

    def predict_views(self, views: list) -> list:
        labels, probs = self.model.predict(views, k=1)
        return [(label[0][len(LABEL):], min(float(prob[0]), 1.0)) for label, prob in zip(labels, probs)]

    def predict(self, texts: list) -> list:
        return self.predict_views([lid_view(t) for t in texts])


def evaluate(identifier: LanguageIdentifier, heldout: list, thresholds: dict) -> dict:
    """Accuracy per true label, share accepted at the language's threshold, confusion counts."""
    truth = [line.split(" ", 1)[0][len(LABEL):] for line in heldout]
    views = [line.split(" ", 1)[1] if " " in line else "" for line in heldout]
    confusion = defaultdict(Counter)
    accepted = Counter()
    for true, (pred, prob) in zip(truth, identifier.predict_views(views)):
        confusion[true][pred] += 1
        if pred == true and prob >= thresholds.get(true, 0.0):
            accepted[true] += 1
    per_label = {}
    for label, row in sorted(confusion.items()):
        n = sum(row.values())
        per_label[label] = {"lines": n, "accuracy": row[label] / n, "accepted_at_threshold": accepted[label] / n}
    total = sum(v["lines"] for v in per_label.values())
    return {
        "accuracy": sum(confusion[l][l] for l in confusion) / total if total else 0.0,
        "per_label": per_label,
        "confusion": {t: dict(sorted(row.items())) for t, row in sorted(confusion.items())},
    }


def evaluate_texts(identifier: "LanguageIdentifier", texts: dict, thresholds: dict) -> dict:
    """Accuracy on labelled text the classifier was not trained from: {lang: [text, ...]} ->
    {lang: lines, accuracy, accepted_at_threshold, predicted (label counts)}."""
    results = {}
    for lang, lines in sorted(texts.items()):
        predictions = identifier.predict(lines)
        correct = [label == lang for label, _ in predictions]
        accepted = [ok and prob >= thresholds.get(lang, 0.0) for ok, (_, prob) in zip(correct, predictions)]
        results[lang] = {"lines": len(lines), "accuracy": sum(correct) / len(lines),
                         "accepted_at_threshold": sum(accepted) / len(lines),
                         "predicted": dict(Counter(label for label, _ in predictions).most_common())}
    return results


def identify_shard(in_path, out_dir, lang, table, identifier, progress=None, batch: int = 2048) -> dict:
    """out_dir/kept.tsv: the lines of `lang`; the rest in rejected.tsv with reason, label and probability.
    A line with at least as many codes of its script's legacy encoding (Private Use Area glyphs) as letters is
    `legacy_encoding`; kept lines with some of them are counted (`lines_with_legacy_characters`)."""
    rejected_labels = Counter()
    legacy = table.legacy(lang.script)
    legacy_lines = 0

    def script_layer(text: str, seq: list):
        codes = legacy.count(text) if legacy else 0
        if codes and codes >= sum(map(str.isalpha, text)):
            return Reject("legacy_encoding", f"{codes} {legacy.name} code points (Private Use Area)")
        share, letters = table.share_of_lettered(seq, lang.script)
        if letters == 0:
            return Reject("no_letters")
        if share < lang.min_script_share:
            script, dominant_share, _ = table.dominant(seq)
            return Reject("script_mismatch", f"{script or 'unknown'} {dominant_share:.2f}")
        return None

    def classify(pending, ledger, out):
        nonlocal legacy_lines
        for (ref, text, _), (label, prob) in zip(pending, identifier.predict_views([v for _, _, v in pending])):
            if label != lang.code:
                rejected_labels[label] += 1
                ledger.reject(ref, text, "lid_other_language", f"{label} {prob:.4f}")
            elif prob < lang.lid_threshold:
                ledger.reject(ref, text, "lid_low_confidence", f"{label} {prob:.4f}")
            else:
                ledger.keep(text)
                write_pair(out, ref, text)
                legacy_lines += bool(legacy and legacy.count(text))
        pending.clear()

    with open_text(out_dir / KEPT_FILE, "w") as out, RejectionLog(out_dir / REJECTED_FILE) as rejections:
        ledger, pending = Ledger(rejections), []
        for ref, text in read_shard(in_path):
            seq = lid_units(text)
            rejection = script_layer(text, seq)
            if rejection:
                ledger.reject(ref, text, rejection.reason, rejection.detail)
            else:
                pending.append((ref, text, " ".join(seq)))
                if len(pending) >= batch:
                    classify(pending, ledger, out)
            if progress:
                progress.update(1)
        classify(pending, ledger, out)
    return {**ledger.as_stats(), "rejected_labels": dict(sorted(rejected_labels.items())),
            "lines_with_legacy_characters": legacy_lines}
