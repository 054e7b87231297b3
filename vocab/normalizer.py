"""A tokenizer normaliser that cleans the new scripts as the cleaning stage does, and
leaves every other text to the base model's normaliser.

XLM-R's SentencePiece model normalises with `nmt_nfkc` before matching pieces: it turns
U+202F into a space, keeps ZWJ, leaves precomposed Tibetan letters. A merged model must keep that
normaliser (base languages must tokenize as before), while raw text in the new scripts must
reach the new pieces as the cleaned training text did. SentencePiece's normaliser is a
longest-match rewrite over strings (a precompiled charsmap: a darts-clone double-array trie
of UTF-8 keys plus a blob of replacements), so rules can depend on context: "a Mongolian
letter followed by U+202F" can map to the letter and a stand-in while a lone U+202F stays
the base's space. We decode every base rule, keep those that agree with the cleaning,
drop those touching a new script's letters that do not, add the rules that make the
rewrite of every letter, letter-beside-joiner, letter-beside-invisible and context string
(tsheg runs) equal to the cleaning's, and let SentencePiece compile them
(`normalization_rule_tsv`). Decoding and recompiling all base rules reproduces the
original bytes exactly.
"""
import re
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

from common.charclass import char_class
from corpus.normalize import INVISIBLE, Normalizer
from vocab.codepoints import ScriptChars, script_chars

RULES_VERSION = 3   # bump when the rules generated for a script change
_SPACES = re.compile(" {2,}")
_LEAF_BIT = 1 << 8
_VALUE_MASK = (1 << 31) - 1
_LABEL_MASK = (1 << 31) | 0xFF
_BYTE_STRINGS = [bytes([b]) for b in range(256)]


def decode_charsmap(blob: bytes) -> dict:
    """All normalisation rules of a precompiled charsmap: {source str: replacement str}.

    In the double array, the children of a node lie at its base XOR their byte, and a unit's
    label is the byte that leads to it, so every unit names its parent's base (position XOR
    label). The trie is walked one depth at a time from that index, all nodes of a depth at
    once (a node at a time, testing 255 bytes each, took seconds on a merged model)."""
    if not blob:
        return {}
    size = struct.unpack("<I", blob[:4])[0]
    units = np.frombuffer(blob[4:4 + size], dtype="<u4").astype(np.int64)
    strings = blob[4 + size:]
    labels = units & _LABEL_MASK
    bases_of = np.arange(len(units)) ^ ((units >> 10) << ((units & (1 << 9)) >> 6))
    labelled = np.flatnonzero((labels >= 1) & (labels <= 255))
    parent_base = labelled ^ labels[labelled]
    order = np.argsort(parent_base, kind="stable")
    by_parent, children_sorted = parent_base[order], labelled[order]
    rules = {}
    bases, prefixes = bases_of[:1], [b""]
    while len(bases):
        first = np.searchsorted(by_parent, bases, "left")
        counts = np.searchsorted(by_parent, bases, "right") - first
        parent = np.repeat(np.arange(len(bases)), counts)
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        child = children_sorted[np.repeat(first, counts) + within]
        prefixes = [prefixes[p] + _BYTE_STRINGS[b] for p, b in zip(parent.tolist(), labels[child].tolist())]
        bases = bases_of[child]
        for i in np.flatnonzero(units[child] & _LEAF_BIT).tolist():
            start = int(units[bases[i]]) & _VALUE_MASK
            rules[prefixes[i].decode("utf-8")] = strings[start:strings.index(b"\0", start)].decode("utf-8")
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


def apply_rules(rules: dict, text: str, longest: int) -> str:
    """SentencePiece's rewrite of `text` by `rules`: at each position the longest matching key
    (at most `longest` characters) is replaced, else the character is kept."""
    out, i = [], 0
    while i < len(text):
        for size in range(min(longest, len(text) - i), 0, -1):
            replacement = rules.get(text[i:i + size])
            if replacement is not None:
                out.append(replacement)
                i += size
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class ScriptRewrite:
    """What cleaning does to the text of one script, in the form a tokenizer's normaliser needs.

    `rewrite` is the cleaning normalisation of a string of this script (corpus.normalize,
    without space collapsing); `context_keys` are the strings it changes only as a whole (a
    run of tshegs before a shad). In the script's context, a joiner (a character the script
    keeps outside its ranges: ZWJ, ZWNJ, U+202F) becomes its private-use stand-in, so that the
    base model's treatment of that character elsewhere stays as it was."""
    chars: ScriptChars
    rewrite: Callable[[str], str]
    context_keys: tuple = ()
    context_patterns: tuple = ()   # the same context steps as (regex, replacement), for other tokenizers
    invisibles: tuple = ()         # characters the cleaning removes or spaces: beside a letter it decides

    def target(self, key: str) -> str:
        # SentencePiece collapses spaces between rewrites, not inside one replacement
        return _SPACES.sub(" ", self.rewrite(key)).translate(self.chars.standin_table())

    def keys(self) -> list:
        """Every string whose rewriting the normaliser must reproduce: each letter of the script
        with up to two joiners on either side, each letter beside an invisible character, the
        context keys. (A third joiner in a row keeps the base's treatment.)"""
        letters, joiners = self.chars.letters(), self.chars.joiners()
        runs = ["", *joiners, *(a + b for a in joiners for b in joiners)]
        windows = [before + c + after for c in letters for before in runs for after in runs]
        invisible = [x for x in self.invisibles if x not in joiners]
        pairs = [pair for c in letters for x in invisible for pair in (c + x, x + c)]
        return windows + pairs + list(self.context_keys)

    def patterns(self) -> list:
        """The context part of the rewrite as ordered (regex, replacement) pairs, for a tokenizer
        whose normaliser matches rules within a grapheme only (Hugging Face tokenizers'
        `Precompiled`): a joiner within two joiners of a letter becomes its stand-in; an
        invisible character beside a letter becomes what the cleaning makes of it; then the
        context steps. Joiners go first: an invisible character between a letter and a joiner
        keeps the joiner out of the letter's context, as the longest-match rules do."""
        letters = char_class(self.chars.letters())
        joiners = self.chars.joiners()
        near = char_class([*joiners, *self.chars.restore_table()])   # joiners already replaced count too
        result = [(f"(?<={letters}){j}|(?<={letters}{near}){j}|{j}(?={letters})|{j}(?={near}{letters})", standin)
                  for j, standin in ((j, self.chars.standin_table()[ord(j)]) for j in joiners)]
        by_target = {}
        for x in self.invisibles:
            if x not in joiners and self.rewrite(x) != x:
                by_target.setdefault(self.rewrite(x), []).append(x)
        for target, chars in sorted(by_target.items()):
            invisible = char_class(chars)
            result.append((f"(?<={letters}){invisible}|{invisible}(?={letters})", target))
        return result + list(self.context_patterns)


def script_rewrite(catalog, code: str) -> ScriptRewrite:
    """The cleaning of script `code` in the form the tokenizer's normaliser is compiled from."""
    script = catalog.scripts[code]
    normalizer = Normalizer(script.normalization, script.keep_format)
    return ScriptRewrite(script_chars(catalog, code), normalizer.rewrite, normalizer.context_keys(),
                         normalizer.context_patterns(), INVISIBLE)


def script_rules(script: ScriptRewrite, rules: dict = None) -> dict:
    """`rules` (default: none) plus what makes SentencePiece's longest-match rewrite turn every
    key of `script` into its target. Keys go by length, so a longer key never undoes a
    shorter one; a key is added only where the rules so far give another result.
    SentencePiece refuses a rule that maps a string to itself: a key that would need one is an
    error (the script's keys must be chosen so that none does)."""
    rules = dict(rules or {})
    longest = max(map(len, rules), default=1)
    for key in sorted(set(script.keys()), key=lambda k: (len(k), k)):
        target = script.target(key)
        if apply_rules(rules, key, max(longest, len(key))) != target:
            if target == key:
                raise ValueError(f"script {script.chars.code}: {key!r} would need a rule mapping it to itself")
            rules[key] = target
            longest = max(longest, len(key))
    return rules


def merged_rules(base_rules: dict, scripts: list) -> tuple:
    """The base normaliser's rules with the cleaning of every script in `scripts` compiled in.
    A base rule whose key holds a letter of such a script is kept where it agrees with the
    cleaning, dropped where it does not; no other base rule changes, so text without those
    letters is normalised exactly as the base does it. Returns (rules, stats)."""
    rules, stats = dict(base_rules), {}
    for script in scripts:
        own = [key for key in rules if any(script.chars.contains(ch) for ch in key)]
        disagree = [key for key in own if script.target(key) != rules[key]]
        for key in disagree:
            del rules[key]
        before = len(rules)
        rules = script_rules(script, rules)
        stats[script.chars.code] = {"base_rules_kept": len(own) - len(disagree), "base_rules_dropped": len(disagree),
                                    "rules_added": len(rules) - before}
    return rules, stats


def hf_normaliser(rules: dict, base_rules: dict, scripts: list) -> tuple:
    """(charsmap, patterns) for a tokenizer whose normaliser matches rules within a grapheme only
    (Hugging Face's `Precompiled`): the single-character rules and the base's own rules as a
    charsmap, the scripts' context rules as regex patterns (ScriptRewrite.patterns), to apply first."""
    kept = {key: value for key, value in rules.items() if len(key) == 1 or base_rules.get(key) == value}
    return compile_rules(kept), [pattern for script in scripts for pattern in script.patterns()]
