"""Which code points the scripts with their own SentencePiece model own.

The catalog (pipeline.manifest.Catalog, passed in: this module does not read manifests)
says which scripts get their own model (`tokenizer: own_model`) and which invisible
characters each script keeps. From that:

- protected: a code point inside such a script's ranges, an invisible character only such
  scripts keep (Mongolian FVS/MVS/NNBSP), or the private-use stand-in of one (below);
- allowed: protected, or kept by such a script although others keep it too (ZWJ/ZWNJ,
  shared with Arabic).
"""
from dataclasses import dataclass

_STANDIN = 0xF0000  # private-use plane 15: U+202F -> U+F202F


@dataclass(frozen=True)
class CodePoints:
    protected: tuple
    allowed: tuple

    @classmethod
    def of(cls, own_scripts: list, other_scripts: list) -> "CodePoints":
        others = [r for s in other_scripts for r in s.keep_format]
        kept = [r for s in own_scripts for r in s.keep_format]
        protected = [r for s in own_scripts for r in s.ranges]
        protected += [(lo, hi) for lo, hi in kept if not any(olo <= lo and hi <= ohi for olo, ohi in others)]
        protected += [(cp + _STANDIN, cp + _STANDIN) for lo, hi in protected for cp in range(lo, hi + 1)
                      if chr(cp).isspace()]
        return cls(tuple(sorted(protected)), tuple(sorted(set(protected) | set(kept))))

    def is_protected(self, cp: int) -> bool:
        return any(lo <= cp <= hi for lo, hi in self.protected)

    def is_allowed(self, cp: int) -> bool:
        return any(lo <= cp <= hi for lo, hi in self.allowed)

    def standins(self) -> dict:
        """Protected characters that Python calls whitespace (U+202F), each mapped to a
        private-use stand-in (U+F0000 + code point). fairseq splits token strings on any
        Python whitespace, so a piece holding U+202F would be cut apart in dict.txt,
        fairseq-preprocess and the hub interface; the tokenizer's normaliser maps it."""
        return {chr(cp): chr(_STANDIN + cp) for lo, hi in self.protected for cp in range(lo, hi + 1)
                if chr(cp).isspace()}


def own_scripts(catalog, langs) -> dict:
    """{script code: [languages]} of the languages `langs` whose script gets its own model."""
    scripts = {}
    for code in langs:
        script = catalog.languages[code].script
        if catalog.scripts[script].own_tokenizer:
            scripts.setdefault(script, []).append(code)
    return scripts


def code_points(catalog, scripts) -> CodePoints:
    """The code points owned by the own-model scripts `scripts`, against every script without a model."""
    return CodePoints.of([catalog.scripts[code] for code in sorted(scripts)],
                         [s for _, s in sorted(catalog.scripts.items()) if not s.own_tokenizer])
