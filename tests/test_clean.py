"""The line-stage core (ledger, rejection log), the cleaning filters one by one, and the
cleaning step on real lines."""
from dataclasses import replace

import pytest

from common.jsonio import open_text
from common.units import units
from corpus import filters
from corpus.clean import Cleaner, clean_shard
from corpus.filters import Doc, FilterSettings
from corpus.lines import Ledger, Reject, RejectionLog, read_rejections, read_shard, run_step, totals, write_pair
from corpus.manifest import load_catalog
from corpus.scripts import ScriptTable
from tests.helpers import MANIFESTS, real_lines

CATALOG = load_catalog(MANIFESTS)
TABLE = ScriptTable(CATALOG.scripts)
SETTINGS = FilterSettings()


def doc(text: str, script: str = "Arab") -> Doc:
    seq = units(text)
    return Doc(text, seq, TABLE.share_of_all(seq, script), CATALOG.scripts[script].shingle)


def language(code: str, markup=()):
    """A shipped language whose sources all carry `markup`."""
    lang = CATALOG.languages[code]
    return replace(lang, sources=tuple(replace(s, markup=tuple(markup)) for s in lang.sources))


def test_ledger_counts_every_line_once_and_logs_rejections(tmp_path):
    with RejectionLog(tmp_path / "rejected.tsv") as log:
        ledger = Ledger(log)
        ledger.keep("abc", "ab")
        ledger.reject("s:2", 'tab\there "quoted"', "too_short", "3 chars")
        ledger.reject("s:3", "x", "too_short")
        ledger.count("changed")
    stats = ledger.as_stats()
    assert stats == {"lines_in": 3, "lines_kept": 1, "chars_in": 3 + 17 + 1, "chars_kept": 2,
                     "rejected": {"too_short": 2}, "changed": 1}
    rows = read_rejections(tmp_path / "rejected.tsv")
    assert [(r["ref"], r["reason"], r["detail"], r["text"]) for r in rows] == \
        [("s:2", "too_short", "3 chars", 'tab\there "quoted"'), ("s:3", "too_short", "", "x")]
    assert totals([stats, stats]) == {"lines_in": 6, "lines_kept": 2, "chars_in": 42, "chars_kept": 4,
                                      "rejected": {"too_short": 4}}


def test_run_step_keeps_changed_text_and_rejects_with_reason(tmp_path):
    pairs = [("a:1", "keep me"), ("a:2", "drop me")]
    step = lambda ref, text: Reject("dropped", ref) if "drop" in text else text.upper()  # noqa: E731
    with RejectionLog(tmp_path / "rejected.tsv") as log, open_text(tmp_path / "kept.tsv", "w") as out:
        ledger = Ledger(log)
        run_step(pairs, step, ledger, out)
    assert list(read_shard(tmp_path / "kept.tsv")) == [("a:1", "KEEP ME")]
    assert [(r["reason"], r["detail"]) for r in read_rejections(tmp_path / "rejected.tsv")] == [("dropped", "a:2")]


@pytest.mark.parametrize("text,reason", [
    ("", "empty_after_cleaning"),
    ("ئۇيغۇر", "too_short"),
    ("ئۇيغۇر " * 1000, "too_long"),
])
def test_length_filter(text, reason):
    assert filters.length(doc(text), SETTINGS).reason == reason


def test_length_filter_keeps_a_real_line():
    assert filters.length(doc("«تۇر،تۇر» كۆپ بولسا، ئۇيقۇدا مەززە يوق."), SETTINGS) is None


def test_script_ratio_filter_counts_numbers_and_latin_against_the_script():
    mostly_latin = doc("GNOME AT-SPI D-Bus 2.38 ئۇيغۇر")
    rejection = filters.script_ratio(mostly_latin, SETTINGS)
    assert rejection.reason == "low_script_ratio" and rejection.detail.startswith("script_ratio 0.")
    assert filters.script_ratio(doc("ئۇيغۇر تىلى بىزنىڭ ئانا تىلىمىز"), SETTINGS) is None


def test_repetition_filter_on_repeated_ngrams():
    repeated = doc("ياخشى كۈن " * 6)
    assert filters.repetitive(repeated, SETTINGS).reason == "repetitive"
    assert filters.repetitive(doc("ئۇيغۇر تىلى بىزنىڭ ئانا تىلىمىز بولۇپ"), SETTINGS) is None
    assert filters.repetition(["a", "b", "a", "b", "a", "b"], 2) == pytest.approx(1 - 2 / 5)


def test_check_reports_the_first_failing_filter_and_overrides_apply():
    short_and_latin = doc("abc 12")
    assert filters.check(short_and_latin, SETTINGS).reason == "too_short"
    assert filters.check(short_and_latin, SETTINGS.with_overrides({"min_chars": 2})).reason == "low_script_ratio"
    assert filters.check(short_and_latin, SETTINGS.with_overrides({"min_chars": 2, "min_script_ratio": 0})) is None


def test_cleaner_strips_markup_normalises_and_filters_real_lines():
    cleaner = Cleaner(language("ug", markup=["wiki"]), CATALOG.scripts["Arab"], TABLE, SETTINGS)
    proverb = real_lines("ug/maqal.txt", 1)[0]
    assert cleaner("maqal:1", proverb) == proverb
    assert cleaner("maqal:2", f"[[ئۇيغۇر|{proverb}]]\u200e") == proverb   # link text kept, LRM removed
    assert cleaner("maqal:3", "\ufefb \ufe8d\ufeae\ufeec\ufeea ئۇيغۇر تىلى") == "\u0644\u0627 \u0627\u0631\u0647\u0647 ئۇيغۇر تىلى"
    assert cleaner("maqal:4", "{{PLURAL:$1|x}}").reason == "too_short"
    assert cleaner.changed == 2


def test_clean_shard_accounts_for_every_line(tmp_path):
    lines = real_lines("ug/gnome-ui.txt", 300)
    with open_text(tmp_path / "in.tsv", "w") as handle:
        for i, line in enumerate(lines, 1):
            write_pair(handle, f"gnome-ui:{i}", line)
    stats = clean_shard(tmp_path / "in.tsv", tmp_path, language("ug"), CATALOG.scripts["Arab"], TABLE, SETTINGS)
    kept = list(read_shard(tmp_path / "kept.tsv"))
    rejected = read_rejections(tmp_path / "rejected.tsv")
    assert stats["lines_in"] == len(lines) == len(kept) + len(rejected)
    assert stats["lines_kept"] == len(kept) and sum(stats["rejected"].values()) == len(rejected) > 0
    assert {r["reason"] for r in rejected} <= {"too_short", "low_script_ratio", "repetitive", "empty_after_cleaning"}
    assert stats["chars_kept"] == sum(len(text) for _, text in kept)
