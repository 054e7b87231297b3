"""Unicode script detection against the ranges in corpora_manifests/scripts.yaml.

Two measures, both over a line's units (common.units.units):
- unit share: of the line's units (words, Tibetan syllables, Han characters) that contain
  a letter, how many are written in a script (language ID, layer a; seed selection);
- script ratio: of all units, numbers included, how many start with a character in the
  script's ranges (cleaning filter), so numbers, Latin words and foreign text lower it.
"""
import bisect
import unicodedata
from collections import Counter
from operator import itemgetter

_first = itemgetter(0)


class _Memo(dict):
    """A dict that computes a missing character's value once: `map(memo.__getitem__, chars)`
    then runs in C for every character seen before (per-character Python calls were most of
    language ID's and cleaning's time). Keys are characters, so it stays small."""

    def __init__(self, compute):
        super().__init__()
        self._compute = compute

    def __missing__(self, ch: str):
        value = self[ch] = self._compute(ch)
        return value


class ScriptTable:
    def __init__(self, scripts: dict):
        spans = sorted((lo, hi, code) for code, script in scripts.items() for lo, hi in script.ranges)
        self._starts = [lo for lo, _, _ in spans]
        self._spans = spans
        self._scripts = _Memo(self._find_script)
        self._letters = _Memo(self._find_letter_script)

    def _find_script(self, ch: str):
        i = bisect.bisect_right(self._starts, ord(ch)) - 1
        return self._spans[i][2] if i >= 0 and ord(ch) <= self._spans[i][1] else None

    def _find_letter_script(self, ch: str):
        script = self._scripts[ch]
        category = unicodedata.category(ch)
        is_letter = category[0] == "L" or (script is not None and category == "Cn")
        return (script or "") if is_letter else None

    def script_of(self, ch: str):
        """Script code of a character, or None outside every range."""
        return self._scripts[ch]

    def unit_scripts(self, seq: list) -> list:
        """The script of each unit's first letter ("" for a letter of no known script), None
        for a unit without letters."""
        letters = self._letters
        heads = list(map(letters.__getitem__, map(_first, seq)))
        if None in heads:
            # Units that open with a digit or a mark: look further for their first letter.
            heads = [head if head is not None else next((s for s in map(letters.__getitem__, unit) if s is not None), None)
                     for unit, head in zip(seq, heads)]
        return heads

    def dominant(self, seq: list):
        """(script code or None, its share of the units `seq`, number of units with letters)."""
        counts = Counter(self.unit_scripts(seq))
        counts.pop(None, None)
        total = sum(counts.values())
        if not total:
            return None, 0.0, 0
        code, count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        return (code or None), count / total, total

    def share(self, seq: list, code: str):
        """(share of the units `seq` written in script `code`, number of units with letters)."""
        heads = self.unit_scripts(seq)
        total = len(heads) - heads.count(None)
        return (heads.count(code) / total if total else 0.0), total

    def ratio(self, seq: list, code: str) -> float:
        """Share of the units `seq` (see units()) that start with a character in the script's
        ranges: numbers, Latin words and foreign text lower it."""
        if not seq:
            return 0.0
        return list(map(self._scripts.__getitem__, map(_first, seq))).count(code) / len(seq)
