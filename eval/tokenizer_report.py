"""How a tokenizer treats each language: the numbers that justify extending a vocabulary.

Per language and tokenizer (base, merged, pruned): <unk> rate (a run of unknown
characters is one <unk>, as SentencePiece emits it), tokens per character, tokens per
unit (word; syllable for Tibetan; character for Han: see common.units), the share
of units split into more than one piece, and the share of lines tokenized exactly as the
base tokenizes them.
"""
import pandas as pd
import sentencepiece as spm

from common.jsonio import open_text
from common.units import units
from vocab.pieces import SPACE


def _lines(files) -> list:
    lines = []
    for path in files:
        with open_text(path) as handle:
            lines.extend(line.rstrip("\n") for line in handle if line.strip())
    return lines


def measure(processor: spm.SentencePieceProcessor, lines: list, base_pieces: list) -> dict:
    """Metrics of one tokenizer on `lines`; base_pieces: the base tokenizer's pieces per line."""
    ids = processor.encode(lines)
    pieces = [processor.id_to_piece(line_ids) for line_ids in ids]
    unk = processor.unk_id()
    tokens = sum(len(line_ids) for line_ids in ids)
    chars = sum(len(line) for line in lines)
    seq = [u for line in lines for u in units(line)]
    distinct = sorted(set(seq))
    split = {u: len([p for p in processor.encode(u, out_type=str) if p != SPACE]) > 1 for u in distinct}
    return {
        "lines": len(lines), "chars": chars, "units": len(seq), "tokens": tokens,
        "unk_rate": sum(i == unk for line_ids in ids for i in line_ids) / tokens if tokens else 0.0,
        "tokens_per_char": tokens / chars if chars else 0.0,
        "tokens_per_unit": tokens / len(seq) if seq else 0.0,
        "units_split_share": sum(split[u] for u in seq) / len(seq) if seq else 0.0,
        "identical_to_base_share": sum(a == b for a, b in zip(pieces, base_pieces)) / len(lines) if lines else 0.0,
    }


def tokenizer_report(models: dict, files_by_lang: dict, progress=None) -> pd.DataFrame:
    """`models`: {name: SentencePiece model file}, the first one the base. One row per (lang, tokenizer)."""
    processors = {name: spm.SentencePieceProcessor(model_file=str(path)) for name, path in models.items()}
    base = next(iter(processors.values()))
    rows = []
    for lang, files in sorted(files_by_lang.items()):
        lines = _lines(files)
        base_pieces = [base.id_to_piece(ids) for ids in base.encode(lines)]
        for name, processor in processors.items():
            rows.append({"lang": lang, "tokenizer": name, **measure(processor, lines, base_pieces)})
            if progress:
                progress.update(1)
    return pd.DataFrame(rows).set_index(["lang", "tokenizer"])
