"""SentencePiece unigram models for the scripts that get their own pieces (Tibetan and
traditional Mongolian in CINO, 16K pieces each).

The text is already normalised per script by the cleaning stage, so the model's normaliser
is the script's part of the merged tokenizer's (vocab/normalizer.py: `script_rules`), not
SentencePiece's default `nmt_nfkc` (which would destroy U+202F and reorder Tibetan): on
cleaned text it only turns the script's joiners into their stand-ins, as the merged model will.

Training is deterministic: fixed seed, sentences sampled by SentencePiece's seeded reservoir
when the corpus exceeds `input_sentence_size`, a fixed thread count. The model depends on the
number of threads (1, 2 and 4 threads give three different models on the same Tibetan text),
not on their timing, so `threads` is part of the fingerprint.
When the corpus cannot support the requested size, the size is capped to what
SentencePiece reports as possible, logged and recorded.
"""
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

from common.jsonio import open_text
from common.settings import Settings, setting
from vocab.normalizer import write_rules

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


log = logging.getLogger(__name__)
SCRIPT_MODEL_FILE = "spm.model"   # a script model in TrainScriptTokenizer's output
_TOO_LARGE = re.compile(r"Vocabulary size (?:is )?too high \((\d+)\)\. Please set it to a value <= (\d+)")


@dataclass(frozen=True)
class ScriptModelSettings(Settings):
    input_sentence_size: int = setting(2_000_000, "sentences sampled for training (bounded memory)")
    character_coverage: float = setting(1.0, "1.0: every character of the script gets a piece")
    max_sentence_length: int = setting(16384, "bytes; SentencePiece skips longer lines")
    seed: int = setting(1234, "SentencePiece's random seed")
    threads: int = setting(2, "SentencePiece threads; the model depends on their number (measured)")


def _lines(files):
    for path in files:
        with open_text(path) as handle:
            for line in handle:
                line = line.rstrip("\n")
                if line:
                    yield line


def train_script_model(files, model_file, vocab_size: int, settings: ScriptModelSettings, rules: dict) -> dict:
    """Train on the lines of `files`; returns requested and actual sizes. `rules`: the
    normaliser ({source: replacement}; empty: identity)."""
    with tempfile.TemporaryDirectory() as tmp:
        rules_file = write_rules(rules, Path(tmp) / "rules.tsv") if rules else None
        normalization = {"normalization_rule_tsv": str(rules_file)} if rules else {"normalization_rule_name": "identity"}
        size = _train(files, model_file, vocab_size, settings, normalization)
    if rules:  # SentencePiece records the rule file's path; the compiled rules are in the model
        proto = pb.ModelProto()
        proto.ParseFromString(Path(model_file).read_bytes())
        proto.normalizer_spec.ClearField("normalization_rule_tsv")
        Path(model_file).write_bytes(proto.SerializeToString())
    return {"vocab_size_requested": vocab_size, "vocab_size": size, "capped": size != vocab_size}


def _train(files, model_file, vocab_size: int, settings: ScriptModelSettings, normalization: dict) -> int:
    """SentencePiece training, capped to the size the corpus supports; returns the size used."""
    spm.set_random_generator_seed(settings.seed)
    size = vocab_size
    while True:
        try:
            with open(model_file, "wb") as writer:
                spm.SentencePieceTrainer.train(
                    sentence_iterator=_lines(files), model_writer=writer, model_type="unigram",
                    vocab_size=size, character_coverage=settings.character_coverage,
                    input_sentence_size=settings.input_sentence_size, **normalization,
                    shuffle_input_sentence=True, max_sentence_length=settings.max_sentence_length,
                    num_threads=settings.threads, minloglevel=2)
            break
        except RuntimeError as exc:
            match = _TOO_LARGE.search(str(exc))
            if not match or int(match.group(2)) >= size:
                raise
            size = int(match.group(2))
            log.warning("corpus too small for %d pieces: capping the script model at %d", vocab_size, size)
    return size
