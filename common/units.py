"""Script-aware text units for shingles, repetition, script shares and the language-ID view.

One Unicode rule serves every script: a unit is a run of letters, marks, digits and the
joiners a script needs, and every Han character is a unit of its own. In Tibetan the
tsheg and shad are punctuation, so units are syllables; in whitespace scripts, words.
Counting units rather than letters weighs scripts fairly: an English word in a Chinese
line counts once, like one Han character, not once per letter.
"""
import re

import regex

from common.charclass import char_class

_HAN = r"\p{Han}"
_UNIT_CHAR = r"[[\p{L}\p{M}\p{N}\u200c\u200d\u180e\u202f]--\p{Han}]"
_UNIT = regex.compile(f"{_HAN}|{_UNIT_CHAR}+", regex.V1)


def _bmp_class(pattern: str) -> str:
    """The Basic Multilingual Plane characters of a `regex` character class, as an `re` class
    (surrogates left out: they are no characters of text)."""
    bmp = "".join(chr(cp) for cp in range(0x10000) if not 0xD800 <= cp <= 0xDFFF)
    return char_class(regex.findall(pattern, bmp, regex.V1))


# The same rule for lines without characters beyond U+FFFF (nearly all), in `re`, which tests
# a BMP class against a bitmap: about twice as fast as `regex` here. Lines with astral
# characters (CJK extensions, emoji) take `regex`, whose astral ranges `re` scans one by one.
_BMP_UNIT = re.compile(f"{_bmp_class(_HAN)}|{_bmp_class(_UNIT_CHAR)}+")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def units(text: str) -> list:
    if _ASTRAL.search(text):
        return _UNIT.findall(text)
    return _BMP_UNIT.findall(text)
