"""SentencePiece unigram models for the scripts that get their own pieces (Tibetan and
traditional Mongolian in CINO, 16K pieces each).

The text is already normalised per script by the cleaning stage, so the model uses the
`identity` rule (SentencePiece's default `nmt_nfkc` would destroy U+202F and reorder
Tibetan), except for whitespace the script needs (U+202F), which becomes its
private-use stand-in as in the merged model. Training is deterministic: fixed seed, sentences sampled by SentencePiece's
seeded reservoir when the corpus exceeds `input_sentence_size`, fixed thread count (the
model depends on the number of threads, not on their timing).
When the corpus cannot support the requested size, the size is capped to what
SentencePiece reports as possible, logged and recorded.
"""
import logging
import re
from dataclasses import dataclass

from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

from common.jsonio import open_text
from vocab.normalizer import write_rules

log = logging.getLogger(__name__)
MODEL_FILE = "spm.model"   # a script model in TrainScriptTokenizer's output
_TOO_LARGE = re.compile(r"Vocabulary size (?:is )?too high \((\d+)\)\. Please set it to a value <= (\d+)")


@dataclass(frozen=True)
class ScriptModelSettings:
    input_sentence_size: int = 2_000_000   # sentences sampled for training (bounded memory)
    character_coverage: float = 1.0        # every character of the script gets a piece
    max_sentence_length: int = 16384       # bytes; longer lines are skipped by SentencePiece
    seed: int = 1234
    threads: int = 2                       # EM statistics are summed in a fixed order: threads do not change the model


def _lines(files):
    for path in files:
        with open_text(path) as handle:
            for line in handle:
                line = line.rstrip("\n")
                if line:
                    yield line


def train_script_model(files, model_file, vocab_size: int, settings: ScriptModelSettings, standins: dict) -> dict:
    """Train on the lines of `files`; returns requested and actual sizes. `standins` maps
    characters the model must see replaced (see vocab.codepoints.CodePoints.standins)."""
    spm.set_random_generator_seed(settings.seed)
    size = vocab_size
    rules = write_rules(standins, Path(model_file).with_suffix(".rules.tsv")) if standins else None
    normalization = {"normalization_rule_tsv": str(rules)} if rules else {"normalization_rule_name": "identity"}
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
    if rules:  # SentencePiece records the rule file's path; the compiled rules are in the model
        proto = pb.ModelProto()
        proto.ParseFromString(Path(model_file).read_bytes())
        proto.normalizer_spec.ClearField("normalization_rule_tsv")
        Path(model_file).write_bytes(proto.SerializeToString())
    return {"vocab_size_requested": vocab_size, "vocab_size": size, "capped": size != vocab_size}
