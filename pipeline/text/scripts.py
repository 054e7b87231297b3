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


class ScriptTable:
    def __init__(self, scripts: dict):
        spans = sorted((lo, hi, code) for code, script in scripts.items() for lo, hi in script.ranges)
        self._starts = [lo for lo, _, _ in spans]
        self._spans = spans
        self._scripts = {}
        self._letters = {}

    def script_of(self, ch: str):
        """Script code of a character, or None outside every range."""
        try:
            return self._scripts[ch]
        except KeyError:
            i = bisect.bisect_right(self._starts, ord(ch)) - 1
            found = self._spans[i][2] if i >= 0 and ord(ch) <= self._spans[i][1] else None
            self._scripts[ch] = found
            return found

    def _letter_script(self, ch: str):
        """Script of a letter ("" when in no known script); None when not a letter."""
        try:
            return self._letters[ch]
        except KeyError:
            script = self.script_of(ch)
            category = unicodedata.category(ch)
            is_letter = category[0] == "L" or (script is not None and category == "Cn")
            value = (script or "") if is_letter else None
            self._letters[ch] = value
            return value

    def unit_counts(self, seq: list) -> Counter:
        """Units per script ("" for letters of no known script); units without letters are skipped."""
        counts = Counter()
        for unit in seq:
            for ch in unit:
                script = self._letter_script(ch)
                if script is not None:
                    counts[script] += 1
                    break
        return counts

    def dominant(self, seq: list):
        """(script code or None, its share of the units `seq`, number of units with letters)."""
        counts = self.unit_counts(seq)
        total = sum(counts.values())
        if not total:
            return None, 0.0, 0
        code, count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        return (code or None), count / total, total

    def share(self, seq: list, code: str):
        """(share of the units `seq` written in script `code`, number of units with letters)."""
        counts = self.unit_counts(seq)
        total = sum(counts.values())
        return (counts.get(code, 0) / total if total else 0.0), total

    def ratio(self, seq: list, code: str) -> float:
        """Share of the units `seq` (see units()) that start with a character in the script's
        ranges: numbers, Latin words and foreign text lower it."""
        if not seq:
            return 0.0
        script_of = self.script_of
        return sum(1 for unit in seq if script_of(unit[0]) == code) / len(seq)
