"""Unicode script detection against the ranges in corpora_manifests/scripts.yaml.

Two measures, both per line:
- unit share: of the line's units (words, Tibetan syllables, Han characters) that contain
  a letter, how many are written in a script (language ID, layer a; seed selection);
- script ratio: of all units, numbers included, how many have a character in the
  script's ranges (cleaning filter), so numbers, Latin words and foreign text lower it.
"""
import bisect
import unicodedata
from collections import Counter

from pipeline.text.units import units


class ScriptTable:
    def __init__(self, scripts: dict):
        spans = sorted((lo, hi, code) for code, script in scripts.items() for lo, hi in script.ranges)
        self._starts = [lo for lo, _, _ in spans]
        self._spans = spans
        self._letters = {}

    def script_of(self, ch: str):
        """Script code of a character, or None outside every range."""
        i = bisect.bisect_right(self._starts, ord(ch)) - 1
        if i >= 0 and ord(ch) <= self._spans[i][1]:
            return self._spans[i][2]
        return None

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

    def unit_counts(self, text: str) -> Counter:
        """Units per script ("" for letters of no known script); units without letters are skipped."""
        counts = Counter()
        for unit in units(text):
            for ch in unit:
                script = self._letter_script(ch)
                if script is not None:
                    counts[script] += 1
                    break
        return counts

    def dominant(self, text: str):
        """(script code or None, its share of units, number of units with letters)."""
        counts = self.unit_counts(text)
        total = sum(counts.values())
        if not total:
            return None, 0.0, 0
        code, count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        return (code or None), count / total, total

    def share(self, text: str, code: str):
        """(share of units written in script `code`, number of units with letters)."""
        counts = self.unit_counts(text)
        total = sum(counts.values())
        return (counts.get(code, 0) / total if total else 0.0), total

    def ratio(self, text: str, code: str) -> float:
        """Share of units (words, syllables, Han characters, numbers) with a character in the
        script's ranges: numbers, Latin words and foreign text lower it."""
        seq = units(text)
        if not seq:
            return 0.0
        return sum(1 for unit in seq if any(self.script_of(ch) == code for ch in unit)) / len(seq)
