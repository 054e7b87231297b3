"""Unicode script detection against the ranges in corpora_manifests/scripts.yaml.

Two measures, both over a line's units (common.units.units):
- `share_of_lettered`: of the line's units (words, Tibetan syllables, Han characters) that
  contain a letter, how many are written in a script (language ID, layer a; seed selection);
- `share_of_all`: of all units, numbers included, how many start with a character in the
  script's ranges (the cleaning filter's script ratio), so numbers, Latin words and foreign
  text lower it.
"""
import bisect
import re
import sys
import unicodedata
from collections import Counter
from operator import itemgetter

_first = itemgetter(0)
UNIT_MEMO = 200_000   # units (words, syllables) whose script is remembered, about 40 MB at most,
UNIT_MEMO_CHARS = 24  # of up to this many characters


class _Memo(dict):
    """A dict that computes a missing key's value: `map(memo.__getitem__, keys)` then runs in C
    for every key seen before (a Python call per character or unit was most of language ID's and
    cleaning's time). Keeps at most `limit` keys of at most `longest` characters (units have
    no length limit), so that its memory is bounded on any corpus."""

    def __init__(self, compute, limit: int, longest: int = 1):
        super().__init__()
        self._compute, self._limit, self._longest = compute, limit, longest

    def __missing__(self, key: str):
        value = self._compute(key)
        if len(key) <= self._longest and len(self) < self._limit:
            self[key] = value
        return value


class LegacyEncoding:
    """A script's pre-Unicode encoding in the Private Use Area (Menksoft for Mongolian): its name
    and how many of its codes a text holds."""

    def __init__(self, name: str, ranges):
        self.name = name
        self._codes = re.compile("[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges) + "]")

    def count(self, text: str) -> int:
        return len(self._codes.findall(text))


class ScriptTable:
    def __init__(self, scripts: dict):
        self._legacy = {code: LegacyEncoding(s.legacy_name, s.legacy_ranges)
                        for code, s in scripts.items() if s.legacy_ranges}
        spans = sorted((lo, hi, code) for code, script in scripts.items() for lo, hi in script.ranges)
        self._starts = [lo for lo, _, _ in spans]
        self._spans = spans
        self._scripts = _Memo(self._find_script, sys.maxunicode + 1)
        self._letters = _Memo(self._find_letter_script, sys.maxunicode + 1)
        self._units = _Memo(self._find_unit_script, UNIT_MEMO, UNIT_MEMO_CHARS)

    def legacy(self, code: str):
        """The legacy encoding of script `code`, or None."""
        return self._legacy.get(code)

    def _find_script(self, ch: str):
        i = bisect.bisect_right(self._starts, ord(ch)) - 1
        return self._spans[i][2] if i >= 0 and ord(ch) <= self._spans[i][1] else None

    def _find_letter_script(self, ch: str):
        script = self._scripts[ch]
        category = unicodedata.category(ch)
        is_letter = category[0] == "L" or (script is not None and category == "Cn")
        return (script or "") if is_letter else None

    def _find_unit_script(self, unit: str):
        return next((s for s in map(self._letters.__getitem__, unit) if s is not None), None)

    def unit_scripts(self, seq: list) -> list:
        """The script of each unit's first letter ("" for a letter of no known script), None
        for a unit without letters."""
        return list(map(self._units.__getitem__, seq))

    def dominant(self, seq: list):
        """(script code or None, its share of the units `seq`, number of units with letters)."""
        counts = Counter(self.unit_scripts(seq))
        counts.pop(None, None)
        total = sum(counts.values())
        if not total:
            return None, 0.0, 0
        code, count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        return (code or None), count / total, total

    def share_of_lettered(self, seq: list, code: str):
        """(share of the units `seq` that hold a letter whose first letter is in script `code`,
        number of units that hold a letter): numbers and punctuation do not count."""
        heads = self.unit_scripts(seq)
        total = len(heads) - heads.count(None)
        return (heads.count(code) / total if total else 0.0), total

    def share_of_all(self, seq: list, code: str) -> float:
        """Share of all the units `seq` (see units()), numbers included, that start with a
        character in the script's ranges: numbers, Latin words and foreign text lower it."""
        if not seq:
            return 0.0
        return list(map(self._scripts.__getitem__, map(_first, seq))).count(code) / len(seq)
