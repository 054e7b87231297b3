"""Script-aware text units for shingles, repetition, script shares and the language-ID view.

One Unicode rule serves every script: a unit is a run of letters, marks, digits and the
joiners a script needs, and every Han character is a unit of its own. In Tibetan the
tsheg and shad are punctuation, so units are syllables; in whitespace scripts, words.
Counting units rather than letters weighs scripts fairly: an English word in a Chinese
line counts once, like one Han character, not once per letter.
"""
import regex

_UNIT = regex.compile(r"\p{Han}|[[\p{L}\p{M}\p{N}\u200c\u200d\u180e\u202f]--\p{Han}]+", regex.V1)


def units(text: str) -> list:
    return _UNIT.findall(text)
