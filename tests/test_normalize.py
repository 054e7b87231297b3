"""Per-script normalisation: golden lines for every script, and the pitfalls of DESIGN.md."""
import unicodedata
from pathlib import Path

import pytest

from corpus.manifest import load_scripts
from corpus.normalize import VIEW, Normalizer
from tests.helpers import unescape

GOLDEN = Path(__file__).parent / "golden" / "normalize.tsv"
SCRIPTS = load_scripts(Path(__file__).resolve().parents[1] / "corpora_manifests" / "scripts.yaml")


def golden_cases():
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            script, given, expected, why = line.split("\t")
            yield pytest.param(script, unescape(given), unescape(expected), id=f"{script}: {why[:60]}")


def normalizer(code: str) -> Normalizer:
    script = SCRIPTS[code]
    return Normalizer(script.normalization, script.keep_format)


@pytest.mark.parametrize("script,given,expected", list(golden_cases()))
def test_golden_lines(script, given, expected):
    assert normalizer(script)(given) == expected


def test_every_script_has_golden_lines():
    covered = {case.values[0] for case in golden_cases()}
    assert covered == set(SCRIPTS)


def test_nfkc_pitfalls_are_avoided():
    mongolian = "ᠤᠯᠤᠰ\u202fᠤᠨ"
    assert unicodedata.normalize("NFKC", mongolian) != mongolian  # NFKC turns U+202F into a space
    assert normalizer("Mong")(mongolian) == mongolian
    kazakh = "\u0675\u0676\u0677\u0678"
    assert unicodedata.normalize("NFKC", kazakh) != kazakh  # NFKC splits them
    assert normalizer("Arab")(kazakh) == kazakh
    tibetan = "ཀ\u0f72\u0f71"
    assert unicodedata.normalize("NFC", tibetan) != tibetan  # NFC reorders vowel signs
    assert normalizer("Tibt")(tibetan) == tibetan


def test_invisible_characters_outside_a_script_are_dropped():
    # ZWJ is kept for Mongolian and Arabic only; Han text loses it.
    assert normalizer("Han")("中\u200d文") == "中文"
    assert normalizer("Mong")("ᠮ\u200dᠣ") == "ᠮ\u200dᠣ"


def test_unknown_step_is_refused():
    with pytest.raises(ValueError, match="unknown normalisation step"):
        Normalizer(["nfkc_everything"])


def test_the_composed_table_is_applied_to_every_character():
    # Normalizer applies its table with a regular expression of the keys, not str.translate.
    everything = "".join(chr(cp) for cp in range(0x30000) if not 0xD800 <= cp <= 0xDFFF) + "\U000E0001\U000E007F"
    dense = "".join(map(chr, VIEW.table)) + "ab"   # a line full of them takes str.translate
    for text in (everything, dense, "", "plain text"):
        assert VIEW.rewrite(text) == text.translate(VIEW.table)
