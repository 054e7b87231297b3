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
from common.markdown import table as markdown_table
from common.units import units
from vocab.pieces import SPACE

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


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


PIVOT_MEASURES = {"unk_rate": "<unk> rate", "tokens_per_char": "tokens/char", "units_split_share": "units split",
                  "identical_to_base_share": "same as base", "same_as_cleaned_share": "same as cleaned"}


def tokenizer_markdown(table: pd.DataFrame) -> str:
    """One row per language and text, the tokenizers side by side for each measure (the full table,
    with counts, is tokenizers.csv)."""
    wide = table[list(PIVOT_MEASURES)].unstack("tokenizer")
    wide = wide[[(m, t) for m in PIVOT_MEASURES for t in table.index.unique("tokenizer") if (m, t) in wide
                 and not (m == "identical_to_base_share" and t == "base")]]   # the base is always itself
    wide.columns = [f"{PIVOT_MEASURES[m]}: {t}" for m, t in wide.columns]
    wide.insert(0, "lines", table["lines"].xs(table.index.unique("tokenizer")[0], level="tokenizer"))
    return ("# Tokenizers\n\n`held-out`: the cleaned valid and test splits; `raw test`: the raw source lines of "
            "the test split, before any cleaning; `eval`: the raw sentences of the evaluation sets. "
            "`same as cleaned`: raw lines tokenized exactly as their cleaned form (– for cleaned text); "
            "`units split`: words (Tibetan syllables, Han characters) cut into more than one piece.\n\n"
            + markdown_table(wide) + "\n")


def tokenizer_rows(table: pd.DataFrame) -> dict:
    """The tokenizer table as plain JSON values: {"lang/text/tokenizer": {measure: value}}
    (a measure that does not apply, NaN in the table, is left out)."""
    return {"/".join(key): {k: (float(v) if isinstance(v, float) else int(v)) for k, v in row.items() if v == v}
            for key, row in table.iterrows()}


def vocabulary_markdown(sizes: dict) -> str:
    return "## Vocabulary (fairseq symbols)\n\nbase {base:,} · merged {merged:,} · pruned {pruned:,}\n".format(**sizes)


def tokenizers_plot(rows: dict, langs: list, text: str = "raw test") -> bytes:
    """<unk> rate and tokens per character of the base, merged and pruned tokenizers."""
    from common.plots import MODEL_COLOURS, bars, plt, png

    figure, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for axis, measure, title in ((axes[0], "unk_rate", "<unk> rate"), (axes[1], "tokens_per_char", "tokens per character")):
        series = {name: [rows[f"{l}/{text}/{name}"][measure] for l in langs] for name in ("base", "merged", "pruned")}
        bars(axis, langs, series, MODEL_COLOURS)
        axis.set_title(f"{title} ({text} lines)")
        axis.legend(fontsize=8)
    return png(figure)
