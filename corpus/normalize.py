"""Per-script text normalisation: the one definition behind cleaning, the tokenizer's
normaliser for the scripts with their own pieces, and language ID's view of a line.

There is deliberately no global NFKC: it turns U+202F (Mongolian narrow no-break space)
into a space and splits Kazakh U+0675-0678, and NFC reorders Tibetan vowel signs.
Each script lists, in corpora_manifests/scripts.yaml, the steps it needs from STEPS, and
the invisible characters it must keep (Mongolian FVS/MVS/NNBSP, ZWJ/ZWNJ in Arabic).
Everything else invisible is removed (format controls) or becomes a plain space.

The merged tokenizer compiles `Normalizer.rewrite` of the new scripts into SentencePiece
rules (vocab/normalizer.py): every character, and `CONTEXT_KEYS` for the steps whose
result depends on neighbouring characters, so raw text and cleaned text tokenize alike.
"""
import itertools
import re
import sys
import unicodedata

from common.charclass import char_class


def _in_ranges(cp: int, ranges) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


def _table(ranges, convert) -> dict:
    """str.translate table: every code point in `ranges` whose conversion differs."""
    table = {}
    for lo, hi in ranges:
        for cp in range(lo, hi + 1):
            out = convert(chr(cp))
            if out != chr(cp):
                table[cp] = out
    return table


def _full_decomposition(ch: str) -> str:
    """Recursive (compatibility) decomposition without canonical reordering."""
    decomposition = unicodedata.decomposition(ch)
    if not decomposition:
        return ch
    parts = [p for p in decomposition.split() if not p.startswith("<")]
    return "".join(_full_decomposition(chr(int(p, 16))) for p in parts)


def _presentation_form(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch) if unicodedata.decomposition(ch) else ch


_TIBETAN_DECOMPOSE = _table([(0x0F00, 0x0FFF)], _full_decomposition)
_ARABIC_FORMS = _table([(0xFB50, 0xFDFF), (0xFE70, 0xFEFE)], _presentation_form)
_FULLWIDTH_ALNUM = {cp: cp - 0xFEE0 for lo, hi in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
                    for cp in range(lo, hi + 1)}
_TSHEG, _NB_TSHEG, _NGA = "\u0F0B", "\u0F0C", "\u0F44"
_SHADS = "\u0F0D\u0F0E\u0F0F\u0F10\u0F11\u0F14"
_TSHEG_RUN = re.compile("\u0F0B{2,}")
_TSHEG_BEFORE_SHAD = re.compile(f"(?<!{_NGA})\u0F0B(?= *[{_SHADS}])")

# Steps that map character by character, as translation tables (their results also make
# language ID's view).
CHARACTER_MAPS = {
    # Arabic presentation forms (FB50-FDFF, FE70-FEFE) to base letters, and nothing else:
    # NFKC restricted to those blocks leaves Kazakh U+0675-0678 intact.
    "arabic_presentation_forms": _ARABIC_FORMS,
    # Tatweel (kashida) is typographic elongation, not a letter.
    "remove_tatweel": {0x0640: None},
    # Precomposed and discouraged Tibetan letters (U+0F43, U+0F73, U+0F77, U+0F81, ...) and the
    # non-breaking tsheg U+0F0C to their parts, in stored order: no NFC/NFD reordering.
    "tibetan_decompose": _TIBETAN_DECOMPOSE,
    # Full-width digits and Latin letters (common in Chinese text) to ASCII; punctuation stays.
    "fullwidth_alnum": _FULLWIDTH_ALNUM,
}
CHARACTER_STEPS = tuple(CHARACTER_MAPS)

STEPS = {
    # Canonical composition: safe for Latin, Hangul (jamo -> syllables), Han, Arabic.
    "nfc": lambda text: unicodedata.normalize("NFC", text),
    # One tsheg between syllables; no tsheg before a shad except after nga (the ང་། spelling).
    "tibetan_tsheg": lambda text: _TSHEG_BEFORE_SHAD.sub("", _TSHEG_RUN.sub("\u0F0B", text)),
    **{name: (lambda text, table=table: text.translate(table)) for name, table in CHARACTER_MAPS.items()},
}


def _tsheg_keys():
    """What tibetan_tsheg rewrites as a whole: tsheg runs (either tsheg character, up to 4),
    and such a run followed by up to two spaces and a shad, after a space or any Tibetan
    character but nga and the marks themselves. (After nga the tsheg stays: no rule is the
    rule. A tsheg before a shad after anything else, a digit say, is left as it is: SentencePiece
    refuses a rule that maps a string to itself, which the exception would need.)"""
    runs = ["".join(run) for n in range(1, 5) for run in itertools.product((_TSHEG, _NB_TSHEG), repeat=n)]
    yield from (run for run in runs if len(run) > 1)
    marks = {_TSHEG, _NB_TSHEG, _NGA, *_SHADS}
    before = [" "] + [chr(cp) for cp in range(0x0F00, 0x1000)
                      if unicodedata.category(chr(cp)) != "Cn" and chr(cp) not in marks]
    for ch, run, spaces, shad in itertools.product(before, runs, ("", " ", "  "), _SHADS):
        yield ch + run + spaces + shad


# Strings that context-dependent steps rewrite as a whole (tokenizer rules; see the module doc).
CONTEXT_KEYS = {"tibetan_tsheg": tuple(_tsheg_keys())}
# The same, as ordered (regex, replacement) pairs for tokenizers without longest-match rules
# (Hugging Face's): exactly what the keys above do, limits included.
_BEFORE_SHAD = "[ " + "".join(sorted({ch for key in CONTEXT_KEYS["tibetan_tsheg"] if key[-1] in _SHADS
                                      for ch in key[0]} - {" "})) + "]"
CONTEXT_PATTERNS = {"tibetan_tsheg": (
    (f"(?<={_BEFORE_SHAD})[{_TSHEG}{_NB_TSHEG}]{{1,4}}(?= {{0,2}}[{_SHADS}])", ""),
    (f"[{_TSHEG}{_NB_TSHEG}]{{2,4}}", _TSHEG),
)}

_SPACE_RUN = re.compile(" {2,}")
_INVISIBLE = [cp for cp in range(sys.maxunicode + 1)
              if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Zs", "Zl", "Zp") and cp not in (0x20, 0x0A)]
# Invisible characters whose treatment beside a letter the tokenizer must reproduce (NUL
# cannot be a normaliser key; Ingest refuses it anyway).
INVISIBLE = tuple(chr(cp) for cp in _INVISIBLE if cp)


def _through(tables: list, text: str) -> str:
    """`text` translated by each table in turn."""
    for table in tables:
        text = text.translate(table)
    return text


class Normalizer:
    """Normalise one line for a script: invisible characters, the script's steps, spaces."""

    def __init__(self, steps, keep_format=()):
        unknown = [s for s in steps if s not in STEPS]
        if unknown:
            raise ValueError(f"unknown normalisation step(s): {unknown}")
        self.step_names = tuple(steps)
        invisible = {}
        for cp in _INVISIBLE:
            if _in_ranges(cp, keep_format):
                continue
            category = unicodedata.category(chr(cp))
            # Tabs, line and paragraph separators, NBSP and other spaces become a plain space;
            # other controls and format characters (ZWSP, BOM, bidi marks, soft hyphen) go.
            spacing = category in ("Zs", "Zl", "Zp") or cp in (0x09, 0x0B, 0x0C, 0x0D, 0x85)
            invisible[cp] = " " if spacing else None
        # The invisible characters and the leading character-for-character steps, composed into
        # one table applied in one pass (four passes were most of language ID's time), by a
        # regular expression of its keys: most lines hold none or a few of them, which re finds
        # about 4x faster than str.translate looks up every character. (A line made of them,
        # presentation forms from a PDF say, is about 3x slower this way; splitting the two cases
        # cost more on ordinary text than it saved.)
        leading = list(itertools.takewhile(lambda name: name in CHARACTER_MAPS, steps))
        tables = [invisible] + [CHARACTER_MAPS[name] for name in leading]
        self.table = {cp: _through(tables, chr(cp)) for cp in set().union(*tables)}
        self._mapped = re.compile(char_class(map(chr, self.table)))
        self.steps = [STEPS[s] for s in steps[len(leading):]]

    def _replace(self, match) -> str:
        return self.table[ord(match.group())]

    def rewrite(self, text: str) -> str:
        """Invisible characters and the script's steps, spaces left as they are."""
        text = self._mapped.sub(self._replace, text)
        for step in self.steps:
            text = step(text)
        return text

    def __call__(self, text: str) -> str:
        # Only plain spaces are left to strip: every other space became one, or is kept (U+202F)
        return _SPACE_RUN.sub(" ", self.rewrite(text)).strip(" ")

    def context_keys(self) -> tuple:
        return tuple(key for name in self.step_names for key in CONTEXT_KEYS.get(name, ()))

    def context_patterns(self) -> tuple:
        return tuple(pattern for name in self.step_names for pattern in CONTEXT_PATTERNS.get(name, ()))


# Language ID's view of any line: every character-for-character step and no invisible
# character, whatever the script, so presentation forms, precomposed Tibetan letters and
# full-width letters do not decide the label.
VIEW = Normalizer(CHARACTER_STEPS)

