"""The characters of the scripts that get their own SentencePiece model.

The catalog (corpus.manifest.Catalog, passed in: this module does not read manifests)
says which scripts get their own model (`tokenizer: own_model`), their Unicode ranges and
the invisible characters each keeps (`keep_format`). A kept character outside the script's
own ranges (ZWJ, ZWNJ and U+202F for Mongolian) is a *joiner*: other scripts use it too
(U+202F is a narrow no-break space in French, ZWNJ a Persian letter joiner), so inside the
script's text the tokenizer turns it into a private-use *stand-in* (U+F0000 + code point)
and leaves it alone everywhere else. Stand-ins also keep fairseq, which splits token strings
on any Python whitespace, from cutting a piece with U+202F apart.
"""
import unicodedata
from dataclasses import dataclass

_STANDIN = 0xF0000  # private-use plane 15: U+202F -> U+F202F


def standin(ch: str) -> str:
    return chr(_STANDIN + ord(ch))


def _in(ranges, cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


@dataclass(frozen=True)
class ScriptChars:
    code: str
    ranges: tuple        # ((lo, hi), ...) the script's own code points
    keep_format: tuple   # ((lo, hi), ...) invisible characters the script keeps

    def contains(self, ch: str) -> bool:
        return _in(self.ranges, ord(ch))

    def letters(self) -> list:
        """The script's assigned characters."""
        return [chr(cp) for lo, hi in self.ranges for cp in range(lo, hi + 1)
                if unicodedata.category(chr(cp)) != "Cn"]

    def joiners(self) -> tuple:
        return tuple(chr(cp) for lo, hi in self.keep_format for cp in range(lo, hi + 1) if not _in(self.ranges, cp))

    def standin_table(self) -> dict:
        """str.translate table: joiner -> its stand-in."""
        return {ord(j): standin(j) for j in self.joiners()}

    def restore_table(self) -> dict:
        """stand-in -> joiner: the tokenizer's decoding rules."""
        return {standin(j): j for j in self.joiners()}

    def allowed(self, ch: str) -> bool:
        """May a new piece of this script hold `ch`? Its letters and its stand-ins."""
        return self.contains(ch) or ch in self.restore_table()


def script_chars(catalog, code: str) -> ScriptChars:
    script = catalog.scripts[code]
    return ScriptChars(code, script.ranges, script.keep_format)


def own_scripts(catalog, langs) -> dict:
    """{script code: [languages]} of the languages `langs` whose script gets its own model."""
    scripts = {}
    for code in langs:
        script = catalog.languages[code].script
        if catalog.scripts[script].own_tokenizer:
            scripts.setdefault(script, []).append(code)
    return scripts
