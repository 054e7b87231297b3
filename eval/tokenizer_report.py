"""How a tokenizer treats each language: the numbers that justify extending a vocabulary,
on the text users have.

Per language, text and tokenizer (base, merged, pruned): <unk> rate (a run of unknown
characters is one <unk>, as SentencePiece emits it), tokens per character, tokens per
unit (word; syllable for Tibetan; character for Han: see common.units), the share of units
split into more than one piece, the share of lines tokenized exactly as the base tokenizes
them, and, on raw text, the share of lines tokenized exactly as their cleaned form (the
contract of the merged tokenizer's normaliser). Texts: `held-out` (cleaned valid + test
splits), `raw test` (the raw source lines, before any cleaning, of the test split) and
`eval` (the raw sentences of the language's evaluation sets, which no corpus contains).
"""
import pandas as pd
import sentencepiece as spm

from common.jsonio import open_text
from common.units import units
from vocab.pieces import SPACE

RAW_TEXTS = ("raw test", "eval")


def read_lines(files) -> list:
    lines = []
    for path in files:
        with open_text(path) as handle:
            lines.extend(line.rstrip("\n") for line in handle if line.strip())
    return lines


def measure(processor: spm.SentencePieceProcessor, lines: list, base_pieces: list, cleaned: list = None) -> dict:
    """Metrics of one tokenizer on `lines`; base_pieces: the base tokenizer's pieces per line;
    cleaned: the lines as the cleaning stage would write them (raw texts only)."""
    ids = processor.encode(lines)
    pieces = [processor.id_to_piece(line_ids) for line_ids in ids]
    unk = processor.unk_id()
    tokens = sum(len(line_ids) for line_ids in ids)
    chars = sum(len(line) for line in lines)
    seq = [u for line in lines for u in units(line)]
    distinct = sorted(set(seq))
    split = {u: len([p for p in processor.encode(u, out_type=str) if p != SPACE]) > 1 for u in distinct}
    share = lambda hits: sum(hits) / len(lines) if lines else 0.0  # noqa: E731
    return {
        "lines": len(lines), "chars": chars, "units": len(seq), "tokens": tokens,
        "unk_rate": sum(i == unk for line_ids in ids for i in line_ids) / tokens if tokens else 0.0,
        "tokens_per_char": tokens / chars if chars else 0.0,
        "tokens_per_unit": tokens / len(seq) if seq else 0.0,
        "units_split_share": sum(split[u] for u in seq) / len(seq) if seq else 0.0,
        "identical_to_base_share": share(a == b for a, b in zip(pieces, base_pieces)),
        "same_as_cleaned_share": share(a == b for a, b in zip(ids, processor.encode(cleaned)))
        if cleaned is not None else float("nan"),
    }


def tokenizer_report(models: dict, texts: dict, clean: dict, progress=None) -> pd.DataFrame:
    """`models`: {name: SentencePiece model file}, the first one the base; `texts`:
    {(lang, text name): [lines]}; `clean`: {lang: the cleaning normalisation of a line}.
    One row per (lang, text, tokenizer)."""
    processors = {name: spm.SentencePieceProcessor(model_file=str(path)) for name, path in models.items()}
    base = next(iter(processors.values()))
    rows = []
    for (lang, text), lines in sorted(texts.items()):
        base_pieces = [base.id_to_piece(ids) for ids in base.encode(lines)]
        cleaned = [clean[lang](line) for line in lines] if text in RAW_TEXTS else None
        for name, processor in processors.items():
            rows.append({"lang": lang, "text": text, "tokenizer": name,
                         **measure(processor, lines, base_pieces, cleaned)})
            if progress:
                progress.update(1)
    return pd.DataFrame(rows).set_index(["lang", "text", "tokenizer"])
