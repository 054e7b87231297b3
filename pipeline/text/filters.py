"""Line filters of the cleaning stage: length, script ratio, repetition.

Defaults come from luigi.cfg ([filters]); a manifest may override any of them for its
language under `filters:`. Each check returns the reason a line is rejected, or None.
"""
from dataclasses import dataclass, fields, replace
from typing import Optional



@dataclass(frozen=True)
class FilterSettings:
    min_chars: int = 10            # shorter lines (after cleaning) carry too little text
    max_chars: int = 5000          # longer ones are usually concatenated pages or tables
    min_script_ratio: float = 0.5  # share of units (words, numbers) in the language's script
    max_repetition: float = 0.4    # share of repeated unit n-grams within the line

    @classmethod
    def names(cls) -> list:
        return [f.name for f in fields(cls)]

    def with_overrides(self, overrides: dict) -> "FilterSettings":
        typed = {f.name: f.type(overrides[f.name]) if f.type is int else float(overrides[f.name])
                 for f in fields(self) if f.name in overrides}
        return replace(self, **typed)


def repetition(seq: list, n: int) -> float:
    """Share of the n-grams of units `seq` that repeat an earlier n-gram of the line (0 = none)."""
    grams = [tuple(seq[i:i + n]) for i in range(len(seq) - n + 1)]
    if len(grams) < 2:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def check(text: str, seq: list, script_ratio: float, shingle: int, settings: FilterSettings) -> Optional[str]:
    """Reason to reject a cleaned line (with units `seq`), or None to keep it."""
    if not text:
        return "empty_after_cleaning"
    if len(text) < settings.min_chars:
        return "too_short"
    if len(text) > settings.max_chars:
        return "too_long"
    if script_ratio < settings.min_script_ratio:
        return "low_script_ratio"
    if repetition(seq, shingle) > settings.max_repetition:
        return "repetitive"
    return None
