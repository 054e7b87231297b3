"""fairseq ids of a SentencePiece vocabulary in XLM-R's layout, and id maps between vocabularies.

SentencePiece ids 0-2 are <unk>, <s>, </s>; fairseq's Dictionary starts with <s>=0
<pad>=1 </s>=2 <unk>=3, `dict.txt` line i (piece of SentencePiece id i+3) becomes id i+4,
and the masked-LM task appends <mask>. So SentencePiece id k >= 3 is fairseq id k + 1.
"""
from common.errors import InputError
from common.jsonio import open_text
from common.xlmr import MASK, SPECIALS, SPM_CONTROLS, SPM_OFFSET, UNK


def fairseq_id(spm_id: int) -> int:
    """SentencePiece id k >= 3 is fairseq id k + 1; SentencePiece's <unk> (0) and the control
    pieces <s>, </s> (1, 2) only ever come out of encoding as <unk>."""
    return spm_id + SPM_OFFSET if spm_id >= len(SPM_CONTROLS) else UNK


def symbol_count(proto) -> int:
    """fairseq symbols of a SentencePiece vocabulary in XLM-R's layout: its pieces, <pad> and <mask>."""
    return len(SPECIALS) + len(proto.pieces) - len(SPM_CONTROLS) + 1   # + <mask>


def check_layout(proto, where) -> None:
    """The base must follow XLM-R's layout, or every id below would be off."""
    first = tuple(p.piece for p in proto.pieces[:len(SPM_CONTROLS)])
    if first != SPM_CONTROLS:
        raise InputError(where, f"SentencePiece ids 0-2 are {first}, not {SPM_CONTROLS} (XLM-R layout)",
                         "use a base model directory in fairseq's XLM-R layout (model.pt, dict.txt, sentencepiece.bpe.model)")


def symbols(proto) -> list:
    """fairseq symbols in id order, <mask> included (symbol_count(proto) of them)."""
    return list(SPECIALS) + [p.piece for p in proto.pieces[len(SPM_CONTROLS):]] + [MASK]


def write_dict(proto, counts, path) -> None:
    """fairseq dict.txt: `piece count` for SentencePiece ids 3.. (counts indexed by SentencePiece id)."""
    with open_text(path, "w") as handle:
        for spm_id in range(len(SPM_CONTROLS), len(proto.pieces)):
            handle.write(f"{proto.pieces[spm_id].piece} {int(counts[spm_id])}\n")


def id_map(new_proto, base_proto) -> list:
    """[(new fairseq id, base fairseq id or -1 for a piece the base lacks, symbol)]."""
    base_ids = {symbol: i for i, symbol in enumerate(symbols(base_proto))}
    return [(i, base_ids.get(symbol, -1), symbol) for i, symbol in enumerate(symbols(new_proto))]


def write_id_map(rows, path) -> None:
    with open_text(path, "w") as handle:
        handle.write("new_id\tbase_id\tsymbol\n")
        handle.writelines(f"{new}\t{base}\t{symbol}\n" for new, base, symbol in rows)


def read_id_map(path) -> list:
    with open_text(path) as handle:
        next(handle)
        rows = []
        for line in handle:
            new, base, symbol = line.rstrip("\n").split("\t", 2)
            rows.append((int(new), int(base), symbol))
    return rows
