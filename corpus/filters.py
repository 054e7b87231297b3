"""Line filters of the cleaning stage: length, script ratio, repetition.

Defaults come from FilterSettings (luigi.cfg `[filters]` or the command line may change
them); a manifest may override any of them for its language under `filters:`. Each filter
looks at one cleaned line and returns the `Reject` that drops it, or None to keep it.
"""
from dataclasses import dataclass, fields, replace
from typing import Optional

from common.settings import Settings, setting
from corpus.lines import Reject


@dataclass(frozen=True)
class FilterSettings(Settings):
    min_chars: int = setting(10, "shorter lines (after cleaning) carry too little text", bounds=(0, 10**9))
    max_chars: int = setting(5000, "longer ones are usually concatenated pages or tables", bounds=(1, 10**9))
    min_script_ratio: float = setting(0.5, "least share of units (words, numbers) in the language's script",
                                      bounds=(0.0, 1.0))
    max_repetition: float = setting(0.4, "largest share of repeated unit n-grams within the line", bounds=(0.0, 1.0))

    @classmethod
    def names(cls) -> list:
        return [f.name for f in fields(cls)]

    def with_overrides(self, overrides: dict) -> "FilterSettings":
        typed = {f.name: f.type(overrides[f.name]) if f.type is int else float(overrides[f.name])
                 for f in fields(self) if f.name in overrides}
        return replace(self, **typed)


@dataclass(frozen=True)
class Doc:
    """A cleaned line and what the filters measure on it."""
    text: str
    units: list           # common.units.units(text)
    script_ratio: float   # share of units in the language's script
    shingle: int          # units per n-gram (the script's dedup shingle) for repetition


def repetition(seq: list, n: int) -> float:
    """Share of the n-grams of units `seq` that repeat an earlier n-gram of the line (0 = none)."""
    grams = list(zip(*(seq[i:] for i in range(n))))
    if len(grams) < 2:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def length(doc: Doc, settings: FilterSettings) -> Optional[Reject]:
    if not doc.text:
        return Reject("empty_after_cleaning", "0 chars")
    if len(doc.text) < settings.min_chars:
        return Reject("too_short", f"{len(doc.text)} chars")
    if len(doc.text) > settings.max_chars:
        return Reject("too_long", f"{len(doc.text)} chars")
    return None


def script_ratio(doc: Doc, settings: FilterSettings) -> Optional[Reject]:
    if doc.script_ratio < settings.min_script_ratio:
        return Reject("low_script_ratio", f"script_ratio {doc.script_ratio:.2f}")
    return None


def repetitive(doc: Doc, settings: FilterSettings) -> Optional[Reject]:
    share = repetition(doc.units, doc.shingle)
    if share > settings.max_repetition:
        return Reject("repetitive", f"repetition {share:.2f}")
    return None


FILTERS = (length, script_ratio, repetitive)


def check(doc: Doc, settings: FilterSettings) -> Optional[Reject]:
    """The first filter that drops the line, in FILTERS order, or None to keep it."""
    for line_filter in FILTERS:
        rejection = line_filter(doc, settings)
        if rejection:
            return rejection
    return None
