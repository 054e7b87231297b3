"""A base model's normaliser, minus the code points of the scripts we add.

XLM-R's SentencePiece model normalises with `nmt_nfkc` before matching pieces: it turns
U+202F (Mongolian NNBSP) into a space, U+0F0C into U+0F0B, decomposes Tibetan stacks.
A merged model must keep that normaliser (base languages must tokenize as before), but
text in the new scripts must reach the new pieces unchanged. The precompiled charsmap is
a darts-clone double-array trie of UTF-8 keys plus a blob of replacement strings; we
decode every (key, replacement) rule, drop the rules whose key contains a protected code
point, and let SentencePiece compile the rest (`normalization_rule_tsv`) into a new
charsmap. Decoding and recompiling all rules reproduces the original bytes exactly.
"""
import struct
import tempfile
from pathlib import Path

import numpy as np
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

_LEAF_BIT = 1 << 8
_VALUE_MASK = (1 << 31) - 1
_LABEL_MASK = np.uint32((1 << 31) | 0xFF)


def _offset(unit: int) -> int:
    return (unit >> 10) << ((unit & (1 << 9)) >> 6)


def decode_charsmap(blob: bytes) -> dict:
    """All normalisation rules of a precompiled charsmap: {source str: replacement str}."""
    if not blob:
        return {}
    size = struct.unpack("<I", blob[:4])[0]
    units = np.frombuffer(blob[4:4 + size], dtype="<u4")
    strings = blob[4 + size:]
    labels = units & _LABEL_MASK
    candidates = np.arange(1, 256, dtype=np.int64)
    rules = {}
    stack = [(_offset(int(units[0])), b"")]
    while stack:
        pos, prefix = stack.pop()
        children = pos ^ candidates
        inside = children < len(units)
        children, wanted = children[inside], candidates[inside]
        hit = labels[children] == wanted
        for child, byte in zip(children[hit], wanted[hit]):
            unit = int(units[child])
            after, key = child ^ _offset(unit), prefix + bytes([int(byte)])
            if unit & _LEAF_BIT:
                start = int(units[after]) & _VALUE_MASK
                rules[key.decode("utf-8")] = strings[start:strings.index(b"\0", start)].decode("utf-8")
            stack.append((after, key))
    return rules


def _hex(text: str) -> str:
    return " ".join(f"{ord(ch):X}" for ch in text)


def write_rules(rules: dict, path) -> Path:
    """SentencePiece's rule TSV: source and replacement as hex code points."""
    Path(path).write_text("".join(f"{_hex(k)}\t{_hex(v)}\n" for k, v in sorted(rules.items())), encoding="utf-8")
    return Path(path)


def compile_rules(rules: dict) -> bytes:
    """SentencePiece's own compiler, run through a throwaway training, gives the charsmap bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        tsv = write_rules(rules, Path(tmp) / "rules.tsv")
        model = Path(tmp) / "throwaway.model"
        with open(model, "wb") as writer:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(["abc def ghi"] * 10), model_writer=writer, vocab_size=20,
                model_type="unigram", normalization_rule_tsv=str(tsv), hard_vocab_limit=False, minloglevel=2)
        proto = pb.ModelProto()
        proto.ParseFromString(model.read_bytes())
        return proto.normalizer_spec.precompiled_charsmap


def protect(rules: dict, protected) -> dict:
    """The rules whose source touches no protected code point (`protected(cp) -> bool`)."""
    return {k: v for k, v in rules.items() if not any(protected(ord(ch)) for ch in k)}
