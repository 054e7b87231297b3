"""What several task modules read from the manifests and from upstream outputs: a language's
entries, its evaluation files, the shards of an Ingest output, the text no stage trained on.

Plain helpers over the configured catalog (pipeline.config); no task lives here, so task modules
import this and the task classes they require, never each other's helpers.
"""
import unicodedata

from common.jsonio import read_json
from common.xlmr import MASK
from corpus.lines import read_shards
from corpus.manifest import parse_lang_list
from corpus.split import refs_path, split_path
from eval.protocol import EvaluationProfile
from pipeline import config
from training.profile import TrainSettings
from vocab.normalizer import RULES_VERSION

# What a task that calls `kept_langs` or `training_langs` reads (its `reads` names these).
KEEPING = (TrainSettings.only("replay_langs"), EvaluationProfile.only("source_lang"))
REPLAYING = (TrainSettings.only("replay_langs", "replay_share"), EvaluationProfile.only("source_lang"))


def language(code: str):
    return config.catalog().languages[code]


def script(code: str):
    """The script entry of language `code`."""
    return config.catalog().scripts[language(code).script]


def kept_langs(langs, train, evaluation) -> tuple:
    """The languages the vocabulary keeps besides the run's own `langs`: the evaluation's source
    language (zero-shot fine-tunes on it: it must not be read piece by piece), if it has a
    manifest, and `[train] replay_langs`. `train`, `evaluation`: the task's reads of
    TrainSettings and EvaluationProfile."""
    catalog = config.catalog()
    source = [evaluation.source_lang] if evaluation.source_lang in catalog.languages else []
    listed = parse_lang_list(train.replay_langs, catalog, "[train] replay_langs") if train.replay_langs else ()
    return tuple(sorted((set(source) | set(listed)) - set(langs)))


def training_langs(langs, train, evaluation) -> tuple:
    """The languages continued pretraining samples: the run's own, and the kept ones when replayed."""
    return tuple(sorted({*langs, *(kept_langs(langs, train, evaluation) if train.replay_share > 0 else ())}))


def script_definition(code: str) -> dict:
    """What the tokenizer rules of script `code` are made from (for fingerprints)."""
    entry = config.catalog().scripts[code]
    return {"ranges": entry.ranges, "keep_format": entry.keep_format, "normalization": entry.normalization,
            "add_base_encodable_pieces": entry.add_base_encodable_pieces, "rules_version": RULES_VERSION,
            "unicode": unicodedata.unidata_version}   # the rules follow Python's Unicode data


def eval_files(code: str, eval_set: str = None, splits: tuple = None) -> dict:
    """A language's evaluation files as fingerprint material: {"set/split": {path, sha256}}; only
    those of `eval_set` and of `splits` where given."""
    return {f"{name}/{split}": {"path": f.path, "sha256": f.sha256}
            for name, files in sorted(language(code).eval_sets.items()) if eval_set in (None, name)
            for split, f in sorted(files.items()) if splits is None or split in splits}


SCORED_SPLITS = ("dev", "test")   # what the evaluation scores on or selects with; train splits are not contamination


def same_script_langs(code: str) -> list:
    """The language and every other language written in its script (zh and yue, ug and kk): all
    their corpora go into training, so each is checked against all their evaluation texts."""
    catalog = config.catalog()
    return [code] + sorted(other for other, lang in catalog.languages.items()
                           if other != code and lang.script == catalog.languages[code].script)


def scored_files(code: str) -> dict:
    """The dev and test files of every evaluation set of the languages in `code`'s script, as
    fingerprint material."""
    return {f"{lang} {name}": entry for lang in same_script_langs(code)
            for name, entry in eval_files(lang, splits=SCORED_SPLITS).items()}


def scored_texts(code: str) -> dict:
    """{"set/split:line": text} of the dev and test splits of every evaluation set of the language,
    and {"lang set/split:line": text} of those of the other languages in its script."""
    from eval.datasets import read_labelled, resolve

    texts = {}
    for lang in same_script_langs(code):
        prefix = "" if lang == code else f"{lang} "
        for name, splits in sorted(language(lang).eval_sets.items()):
            for split, eval_file in sorted(splits.items()):
                if split in SCORED_SPLITS:
                    data = read_labelled(resolve(eval_file, config.eval_root()), eval_file.sha256)
                    texts.update({f"{prefix}{name}/{split}:{line}": text for line, text in enumerate(data.texts, 1)})
    return texts


def eval_texts(code: str):
    """Every text of a language's evaluation sets, all splits (none was used for training)."""
    from eval.datasets import read_labelled, resolve

    for splits in language(code).eval_sets.values():
        for eval_file in splits.values():
            yield from read_labelled(resolve(eval_file, config.eval_root()), eval_file.sha256).texts


def shard_files(ingested) -> list:
    """The shard files of an Ingest output, in order."""
    return [ingested.path / s["file"] for s in read_json(ingested.path / "shards.json")]


def language_texts(code: str, split, ingested, with_eval: bool = True) -> dict:
    """A language's text that no stage trained on, from its Split and Ingest outputs:
    {"held-out": cleaned valid and test lines, "raw test": the raw source lines (before any
    cleaning) of the test split, found through their refs, "eval": its evaluation sentences
    (with `with_eval`)}."""
    from eval.tokenizer_report import read_lines

    test_refs = set(refs_path(split.path, "test").read_text(encoding="utf-8").split("\n"))
    texts = {"held-out": read_lines([split_path(split.path, "valid"), split_path(split.path, "test")]),
             "raw test": [text for ref, text in read_shards(shard_files(ingested)) if ref in test_refs]}
    if with_eval and language(code).eval_sets:
        texts["eval"] = list(eval_texts(code))
    return texts


def masked(lines: list) -> list:
    """The lines with their middle word (or character, without spaces) replaced by <mask>."""
    result = []
    for line in lines:
        words = line.split(" ")
        if len(words) > 2:
            result.append(" ".join(words[:len(words) // 2] + [MASK] + words[len(words) // 2 + 1:]))
        elif len(line) > 2:
            result.append(line[:len(line) // 2] + MASK + line[len(line) // 2 + 1:])
    return result
