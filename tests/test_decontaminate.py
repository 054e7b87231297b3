"""Decontamination (corpus/decontaminate.py): which lines overlap an evaluation text, on the
units the rule compares, and the accounting of what it removes."""
import unicodedata

import pytest

from corpus.decontaminate import DecontaminationSettings, EvaluationIndex, decontaminate, text_units
from corpus.lines import KEPT_FILE, REJECTED_FILE, read_rejections
from tests.helpers import SHARED

TNCC = SHARED / "eval" / "tncc-title"
SETTINGS = DecontaminationSettings(min_units=10, run_units=13)


def _titles(count: int) -> list:
    """Real TNCC-title dev titles of 14 syllables or more (a run of 13 fits inside each)."""
    lines = (TNCC / "dev.tsv").read_text(encoding="utf-8").splitlines()
    titles = [line.split("\t")[0] for line in lines]
    return [title for title in titles if len(text_units(title)) >= 14][:count]


def _syllables(text: str, start: int, end: int) -> str:
    return "་".join(text_units(text)[start:end]) + "་"


def test_a_line_that_contains_a_whole_evaluation_text_goes_and_names_it():
    title = _titles(1)[0]
    index = EvaluationIndex({"tncc-title/test:7": title}, SETTINGS)
    reject = index.overlap(text_units(f"ཁ་སང་གི་གསར་འགྱུར། {title} ཞེས་བརྗོད།"))
    assert reject.reason == "evaluation_overlap"
    assert reject.detail.startswith("tncc-title/test:7: ") and "units" in reject.detail


def test_a_long_shared_run_goes_and_a_shorter_one_stays():
    title = _titles(1)[0]
    index = EvaluationIndex({"tncc-title/dev:1": title}, SETTINGS)
    assert index.overlap(text_units("ཁ་སང་། " + _syllables(title, 0, 13))).detail == "tncc-title/dev:1: a run of 13 units"
    assert index.overlap(text_units("ཁ་སང་། " + _syllables(title, 0, 12))) is None


def test_short_evaluation_texts_match_only_whole_and_never_below_min_units():
    short = "བོད་ལྗོངས་ཀྱི་སློབ་གསོ་ཐད་ཀྱི་གསར་འགྱུར་ཁག་གཅིག"   # 11 syllables: whole text only
    tiny = "བོད་ལྗོངས་ཀྱི་སློབ་གསོ"                                # 5: never matched (a phrase, not a text)
    index = EvaluationIndex({"s/dev:1": short, "s/dev:2": tiny}, SETTINGS)
    assert index.too_short == 1
    assert index.overlap(text_units("ད་ལོ། " + short + "། ལགས།")) is not None
    assert index.overlap(text_units("ད་ལོ། " + _syllables(short, 0, 10))) is None   # not whole, run below 13
    assert index.overlap(text_units("ད་ལོ། " + tiny + "། ལགས།")) is None


def test_combining_marks_are_kept_and_nfc_is_the_only_normalisation():
    title = _titles(1)[0]
    assert text_units("བསྒྲུབས་") == ("བསྒྲུབས",) != text_units("བསབས་")   # datatrove's Mn stripping would equate them
    without_marks = "".join(c for c in unicodedata.normalize("NFD", title) if unicodedata.category(c) != "Mn")
    index = EvaluationIndex({"t/dev:1": title}, SETTINGS)
    assert index.overlap(text_units(without_marks)) is None
    decomposed = unicodedata.normalize("NFD", "Café à la carte " * 3)   # NFD and NFC of one text match
    assert EvaluationIndex({"x/dev:1": unicodedata.normalize("NFC", decomposed)}, SETTINGS).overlap(
        text_units(decomposed)) is not None


@pytest.mark.parametrize("text,line", [
    ("中华人民共和国教育部今天发布新的规定", "据报道，中华人民共和国教育部今天发布新的规定。"),   # Han: one unit a character
    ("ئۇيغۇر تىلى ۋە ئەدەبىياتى بويىچە يېڭى كىتاب نەشر قىلىندى بۈگۈن ئۈرۈمچىدە ئېلان قىلىندى",
     "خەۋەر: ئۇيغۇر تىلى ۋە ئەدەبىياتى بويىچە يېڭى كىتاب نەشر قىلىندى بۈگۈن ئۈرۈمچىدە ئېلان قىلىندى."),
])
def test_other_scripts_match_on_their_own_units(text, line):
    index = EvaluationIndex({"sib200/dev:3": text}, SETTINGS)
    assert index.overlap(text_units(line)) is not None
    assert index.overlap(text_units(line[: len(line) // 2])) is None


def test_every_line_is_kept_or_rejected_with_its_reason(tmp_path):
    titles = _titles(3)
    shard = tmp_path / "shard-00000.tsv"
    lines = [f"ཁ་སང་། {titles[0]}", "གཞན་ཞིག་ཡིན།", f"{titles[2]} ཞེས་བཤད།", "ད་དུང་གཞན་ཞིག"]
    shard.write_text("".join(f"src:{i}\t{text}\n" for i, text in enumerate(lines, 1)), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    index = EvaluationIndex({f"tncc-title/test:{i}": t for i, t in enumerate(titles, 1)}, SETTINGS)
    stats = decontaminate([shard], out, index)
    assert stats["lines_in"] == 4 and stats["lines_kept"] == 2 and stats["rejected"] == {"evaluation_overlap": 2}
    assert stats["evaluation_texts"] == 3
    rejected = read_rejections(out / REJECTED_FILE)
    assert [row["ref"] for row in rejected] == ["src:1", "src:3"]
    assert [row["detail"].split(":")[0:2] for row in rejected] == [["tncc-title/test", "1"], ["tncc-title/test", "3"]]
    assert (out / KEPT_FILE).read_text(encoding="utf-8").count("\n") == 2
