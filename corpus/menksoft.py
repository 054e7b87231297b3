"""Traditional Mongolian in the Menksoft legacy encoding to Unicode.

Menksoft fonts store glyph shapes, not letters: Private Use Area codes U+E234-U+E34F for each
letter's isolate, initial, medial and final forms and their variants, punctuation and digits.
One letter has several codes, and some codes stand for several letters (T/D, Q/G, S/SH); the
reading of a code depends on its place in the word and on the word's vowels.

The facts are data (corpus/data/menksoft_glyphs.tsv: each code alone and inside a word, its
shape and class; corpus/data/menksoft_words.tsv: words read whole), taken from the public-domain
suragch/mongol_code (CC0 1.0). The rules below are written here:
- Words are the runs of codes between other characters; U+E262 is a space and U+E263, Menksoft's
  no-break space before a suffix, becomes the run's suffix separator (`suffix_separator`: U+202F
  as the shipped mn corpus writes it, or U+180E as GB/T 25914-2023 does) when a letter follows.
- A word of one code is the glyph alone (U+180A nirugu keeps a joined shape); a word in the table
  of whole words is read from it; any other word code by code, each read in context: its position
  (first, inner, last letter), the letters beside it (vowel or consonant), and vowel harmony (whether
  the word holds a masculine vowel: a, o, u).
- Variant glyphs keep their free variation selector (U+180B-U+180D, U+180F) where Unicode needs it
  to draw that shape, and lose it where the position already gives the shape.
- A code of the script's legacy ranges that the table has no reading for is an error for the line
  (`Unconvertible`, naming it), never a guess.

`python -m corpus.menksoft [FILE]` converts a file or stdin line by line.
"""
import argparse
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from common.settings import Settings, setting

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1

FIRST, LAST = 0xE234, 0xE34F   # the codes the table reads
SPACE, SUFFIX_SPACE = "\ue262", "\ue263"
NIRUGU, MVS = "\u180a", "\u180e"
FVS1, FVS2, FVS3 = "\u180b", "\u180c", "\u180d"
SEPARATORS = {"U+202F": "\u202f", "U+180E": MVS}
DATA = Path(__file__).resolve().parent / "data"
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
PRIVATE_USE = ((0xE000, 0xF8FF),)   # by default every private-use character is a code to read (or an error)


@dataclass(frozen=True)
class MenksoftSettings(Settings):
    suffix_separator: str = setting("U+202F", "what Menksoft's no-break space before a suffix (U+E263) becomes: "
                                              "U+202F as the shipped mn corpus writes suffixes, or U+180E "
                                              "(GB/T 25914-2023)", choices=tuple(SEPARATORS))


class Unconvertible(ValueError):
    """A code point of the legacy encoding without a reading: the line cannot be converted."""

    def __init__(self, char: str, column: int):
        self.char, self.column = char, column
        super().__init__(f"U+{ord(char):04X} at column {column} is a Menksoft code without a known reading")


@dataclass(frozen=True)
class Glyph:
    alone: str     # the Unicode of the glyph standing alone
    in_word: str   # its reading inside a word, before the rules
    shape: str     # isolate, initial, medial, final
    kind: str      # masculine, feminine, neutral (vowels), consonant, punct, space


def _hex(cells: str) -> str:
    return "".join(chr(int(cell, 16)) for cell in cells.split())


def _rows(name: str):
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if not line.startswith("#")]
    return rows[1:]   # the header


@lru_cache(maxsize=None)
def converter_fingerprint() -> dict:
    """What the conversion of a line depends on beyond this module's code: its tables' content
    (read once a process: Ingest's fingerprint is taken in every walk of the graph)."""
    from common.fingerprint import sha256_file

    return {name: sha256_file(DATA / name) for name in ("menksoft_glyphs.tsv", "menksoft_words.tsv")}


@lru_cache(maxsize=None)
def glyphs() -> dict:
    return {chr(int(code, 16)): Glyph(_hex(alone), _hex(in_word), shape, kind)
            for code, alone, in_word, shape, kind in _rows("menksoft_glyphs.tsv")}


@lru_cache(maxsize=None)
def whole_words() -> dict:
    return {_hex(menksoft): _hex(unicode) for menksoft, unicode in _rows("menksoft_words.tsv")}


def is_menksoft(char: str) -> bool:
    return FIRST <= ord(char) <= LAST


def _codes(*names) -> frozenset:
    return frozenset(chr(code) for name in names for code in (range(int(name[:4], 16), int(name[-4:], 16) + 1)))


# Codes that the rules below read differently from the table's in-word reading (groups of shapes).
DOTTED_N = _codes("E2B7", "E2B9", "E2BF")          # N + FVS1 before a consonant, else N
UNDOTTED_N = _codes("E2B8", "E2BA", "E2C0")        # N + FVS2 between two vowels, else N
TWO_TEETH_Q = _codes("E2D8", "E2DC")               # G before a consonant, else Q
FEMININE_Q = _codes("E2DA", "E2DD", "E2DF")        # G + FVS2 in a masculine word before a consonant
FEMININE_G = _codes("E2EB", "E2ED", "E2EF", "E2F0")
LOOP_D = _codes("E310", "E313")                    # D + FVS1 before a consonant (inside a word)
PLAIN_D = _codes("E314")                           # D + FVS1 before a vowel
LONG_TOOTH = _codes("E27E", "E27F", "E280", "E321")
FIRST_VOWEL_FVS1 = _codes("E29C", "E29D", "E2A9", "E2AA")   # OE/UE: no FVS1 in the first syllable
SUFFIX_INITIAL = _codes("E291", "E292", "E2AB", "E2AC")     # U/UE medial shapes that begin a word
SWIRL_FINAL = {"\ue285": FVS2, "\ue28d": FVS2, "\ue296": FVS3, "\ue2a3": FVS3}   # in a word of two codes
MVS_FINAL = {"\ue26a": MVS + "\u1820", "\ue274": MVS + "\u1821"}   # final a/e after the vowel separator
LAST_READINGS = {**MVS_FINAL,
                 "\ue2d7": "\u182d" + FVS2 + NIRUGU, "\ue2d9": "\u182d" + NIRUGU,
                 "\ue2ea": "\u182d" + FVS1 + NIRUGU, "\ue2df": "\u182d" + FVS3 + NIRUGU,
                 "\ue31c": "\u1822", "\ue32b": "\u1838" + FVS1, "\ue281": "\u1836\u1822"}
FIRST_READINGS = {"\ue34c": NIRUGU + "\u1840", "\ue34d": NIRUGU + "\u1840", "\ue281": "\u1836\u1822",
                  "\ue267": "\u1820"}
FINAL_G = {"\ue2e7": (FVS1, ""), "\ue2e8": ("", FVS2)}   # {code: (after a feminine or no vowel, after a masculine)}
MASCULINE_LETTERS, FEMININE_LETTERS = set("\u1820\u1823\u1824"), set("\u1821\u1825\u1826\u1827")
VOWEL_LETTERS = MASCULINE_LETTERS | FEMININE_LETTERS | {"\u1822"}
LETTERS = "\ue264"   # the first letter code: those below are punctuation, digits and spaces


def _vowels(text: str) -> tuple:
    """(whether `text` has a vowel letter, its last vowel of a gender or None): a, o, u masculine;
    e, oe, ue, ee feminine; i neutral."""
    gendered = next((ch for ch in reversed(text) if ch in MASCULINE_LETTERS | FEMININE_LETTERS), None)
    return any(ch in VOWEL_LETTERS for ch in text), gendered


class _Word:
    """One run of letter codes, read code by code. `stem`: the Unicode of the word a suffix is
    written after (its vowels decide the suffix's harmony); `alone`: whether a one-code word stands
    by itself (its glyph's isolate reading, nirugu kept) rather than inside or after other text."""

    def __init__(self, codes: str, stem: str = "", alone: bool = True):
        self.codes, self.stem, self.alone = codes, stem, alone
        self.kinds = [glyphs()[c].kind for c in codes]
        self.masculine = "masculine" in self.kinds or any(ch in MASCULINE_LETTERS for ch in stem)

    def vowel(self, i: int) -> bool:
        return 0 <= i < len(self.codes) and self.kinds[i] in ("masculine", "feminine", "neutral")

    def consonant(self, i: int) -> bool:
        return 0 <= i < len(self.codes) and self.kinds[i] == "consonant"

    def read(self) -> str:
        if len(self.codes) == 1 and self.alone:
            return glyphs()[self.codes].alone
        out, (seen, gendered) = [], _vowels(self.stem)
        for i, code in enumerate(self.codes):
            letter = self.letter(i, code, seen, gendered)
            out.append(letter)
            has, last = _vowels(letter)
            seen, gendered = seen or has, last or gendered
        return "".join(out)

    def letter(self, i: int, code: str, seen: bool, gendered) -> str:
        """The Unicode of code `i`; `seen`: whether a vowel came before it in the word, `gendered`:
        the last vowel before it that has a gender (or None)."""
        first, last = i == 0, i == len(self.codes) - 1
        reading = glyphs()[code].in_word
        if last and code in LAST_READINGS:
            return LAST_READINGS[code]
        if first and code in FIRST_READINGS:
            return FIRST_READINGS[code]
        if i == len(self.codes) - 2 and self.codes[-1] in MVS_FINAL:
            return reading[0]   # a final shape before the separated final a/e: the letter's plain form
        if last and code in SWIRL_FINAL and len(self.codes) == 2:
            return reading[0] + SWIRL_FINAL[code]
        if first and code in SUFFIX_INITIAL:
            return reading[0] + FVS1
        if code in FIRST_VOWEL_FVS1 and not seen:
            return reading[0]
        if code in DOTTED_N:
            return "\u1828" + (FVS1 if self.consonant(i + 1) else "")
        if code in UNDOTTED_N:
            return "\u1828" + (FVS2 if self.vowel(i - 1) and self.vowel(i + 1) else "")
        if code in TWO_TEETH_Q:
            return "\u182d" if self.consonant(i + 1) else "\u182c"
        if code in FEMININE_Q:
            return "\u182d" + FVS2 if self.masculine and self.consonant(i + 1) else "\u182c"
        if code in FEMININE_G:
            harmony = self.masculine and self.kinds[i + 1:i + 2] not in (["feminine"], ["neutral"]) \
                and (self.vowel(i - 1) or self.vowel(i + 1))
            return "\u182d" + (FVS2 if harmony else "")
        if code in LOOP_D and not first:
            return "\u1833" + (FVS1 if self.consonant(i + 1) else "")
        if code in PLAIN_D:
            return "\u1833" + (FVS1 if self.vowel(i + 1) else "")
        if code in LONG_TOOTH and not first and self.vowel(i - 1) and i + 1 < len(self.codes) \
                and self.codes[i + 1] in LONG_TOOTH:
            return ""   # the first tooth of a diphthong's two (ai, ei, oi)
        if code == "\ue27e" and self.codes[i - 1:i] and glyphs()[self.codes[i - 1]].in_word[:1] == "\u1820" \
                and self.codes[i + 1:i + 2] and glyphs()[self.codes[i + 1]].in_word[:1] == "\u182e":
            return "\u1822" + FVS3   # NAIMA
        if code in FINAL_G:   # by the harmony of the nearest gendered vowel before it (i is neutral)
            return "\u182d" + FINAL_G[code][gendered in MASCULINE_LETTERS]
        if code == "\ue31c":
            return "\u1835"
        return reading


def _tokens(run: str) -> list:
    """A run of codes as [(kind, codes)]: "punct" and "space" one code each, "word" a run of
    letter codes (a suffix's word begins with its U+E263)."""
    tokens, letters = [], ""
    for code in run:
        kind = glyphs()[code].kind
        if kind == "punct" or code in (SPACE, SUFFIX_SPACE):
            if letters:
                tokens.append(("word", letters))
            letters = SUFFIX_SPACE if code == SUFFIX_SPACE else ""
            if code != SUFFIX_SPACE:
                tokens.append(("punct" if kind == "punct" else "space", code))
        else:
            letters += code
    if letters:
        tokens.append(("word", letters))
    return tokens


def _word(run: str, separator: str, joined_before: bool = False, joined_after: bool = False) -> str:
    """A run of Menksoft codes with no other character inside: punctuation, spaces, words.
    `joined_before`/`joined_after`: whether a letter of other text touches the run there."""
    out, stem, tokens, table = [], "", _tokens(run), whole_words()
    for n, (kind, codes) in enumerate(tokens):
        if kind != "word":
            out.append(glyphs()[codes].alone if kind == "punct" else " ")
            stem = ""
            continue
        lead = codes[0] == SUFFIX_SPACE
        body = codes[1:] if lead else codes
        suffix_follows = n + 1 < len(tokens) and tokens[n + 1][1][0] == SUFFIX_SPACE
        touching = (n == 0 and joined_before) or (n == len(tokens) - 1 and joined_after)
        whole = table.get(codes)
        if whole is not None:
            word = whole.replace(MVS, separator, 1) if lead and whole.startswith(MVS) else whole
        elif not body:
            word = " "   # a no-break space with no letter after it
        else:
            word = (separator if lead else "") + _Word(body, stem if lead else "",
                                                       alone=not (lead or suffix_follows or touching)).read()
        out.append(word)
        stem = stem + word if lead else word
    return "".join(out)


def _joins(char: str) -> bool:
    """Whether a character of other text beside a run is part of its word (a letter, digit, mark
    or format character such as a variation selector or U+202F), not a space or punctuation."""
    return char.isalnum() or unicodedata.category(char) in ("Mn", "Mc", "Cf") or char == "\u202f"


def convert(text: str, separator: str = "\u202f", legacy_ranges=None) -> str:
    """`text` with every run of Menksoft codes in Unicode; characters outside the codes as they
    are. Raises Unconvertible for a code in `legacy_ranges` ((first, last) code points; by default
    the whole Private Use Area) that the table has no reading for."""
    ranges = PRIVATE_USE if legacy_ranges is None else legacy_ranges
    out, start = [], None
    for column, char in enumerate(text, 1):
        if is_menksoft(char):
            start = column - 1 if start is None else start
            continue
        if _PRIVATE_USE.match(char) and any(low <= ord(char) <= high for low, high in ranges):
            raise Unconvertible(char, column)   # legacy ranges lie in the Private Use Area (corpus/manifest.py)
        if start is not None:
            out.append(_word(text[start:column - 1], separator, start > 0 and _joins(text[start - 1]), _joins(char)))
            start = None
        out.append(char)
    if start is not None:
        out.append(_word(text[start:], separator, start > 0 and _joins(text[start - 1])))
    return "".join(out)


class Converted(NamedTuple):
    text: str
    letters: bool      # Menksoft letter codes were converted (the line was, wholly or partly, Menksoft)
    marks: bool        # Menksoft punctuation or digit codes were converted
    removed: int       # private-use characters outside the legacy ranges removed


def convert_line(text: str, separator: str, legacy_ranges) -> Converted:
    """A corpus line of Mongolian script, as Ingest converts it. The rule for mixed lines: every run
    of Menksoft codes is converted, in a Unicode line as in a Menksoft one (the shipped corpus's
    stray codes are mostly Menksoft punctuation: U+E261, U+E255, U+E256, U+E260); a private-use
    character outside the legacy ranges belongs to no encoding we know (U+E010 after list numbers,
    U+E004 at line starts: a font's own symbols) and is removed, since it carries no letter and
    would reach the vocabulary as one; a legacy-range code without a reading raises Unconvertible."""
    if not _PRIVATE_USE.search(text):
        return Converted(text, False, False, 0)
    converted = convert(text, separator, legacy_ranges)
    kept = _PRIVATE_USE.sub("", converted)
    codes = [char for char in text if is_menksoft(char)]
    return Converted(kept, any(char >= LETTERS for char in codes), any(char < LETTERS for char in codes),
                     len(converted) - len(kept))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m corpus.menksoft",
        description="Convert Menksoft-encoded traditional Mongolian to Unicode: one line out per line in (UTF-8). "
                    "Exit status 0: every line converted; 1: some lines could not be (written unchanged, named on "
                    "stderr); 2: the input could not be read.")
    parser.add_argument("file", nargs="?", help="a UTF-8 text file (default: stdin)")
    parser.add_argument("--suffix-separator", choices=tuple(SEPARATORS), default="U+202F",
                        help="what U+E263 before a suffix becomes (default U+202F, as [menksoft] suffix_separator's "
                             "default and the shipped mn corpus; U+180E: GB/T 25914-2023)")
    args = parser.parse_args(argv)
    from tqdm import tqdm

    name = args.file or "<stdin>"
    try:
        source = open(args.file, "rb") if args.file else open(sys.stdin.fileno(), "rb", closefd=False)
    except OSError as error:
        print(f"ERROR: {name}: cannot read it ({error.strerror}); fix: give the path of a readable UTF-8 file",
              file=sys.stderr)
        return 2
    out, failed = sys.stdout.buffer, 0
    with source:
        for number, raw in enumerate(tqdm(source, desc="menksoft", unit=" lines", disable=None, file=sys.stderr), 1):
            body = raw.rstrip(b"\r\n")
            try:
                converted = convert(body.decode("utf-8"), SEPARATORS[args.suffix_separator])
            except (UnicodeDecodeError, Unconvertible) as error:
                failed += 1
                problem = f"not UTF-8 ({error.reason} at byte {error.start + 1})" \
                    if isinstance(error, UnicodeDecodeError) else str(error)
                print(f"ERROR: {name}:{number}: {problem}; fix: replace that character in the input (the line is "
                      "written as it was)", file=sys.stderr)
                out.write(raw)
                continue
            out.write(converted.encode("utf-8") + raw[len(body):])
    out.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
