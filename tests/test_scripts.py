"""Script detection: unit shares (language ID) and script ratio (cleaning filter)."""
from pathlib import Path

from common.units import units
from corpus.manifest import load_scripts
from corpus.scripts import ScriptTable

TABLE = ScriptTable(load_scripts(Path(__file__).resolve().parents[1] / "corpora_manifests" / "scripts.yaml"))


def test_units_are_syllables_words_and_han_characters():
    assert units("བཀྲ་ཤིས་བདེ་ལེགས།") == ["བཀྲ", "ཤིས", "བདེ", "ལེགས"]
    assert units("检查AbuseLog项目") == ["检", "查", "AbuseLog", "项", "目"]
    assert units("ᠤᠯᠤᠰ\u202fᠤᠨ ᠦᠶ\u180eᠡ") == ["ᠤᠯᠤᠰ\u202fᠤᠨ", "ᠦᠶ\u180eᠡ"]


def test_english_words_in_chinese_count_once_each():
    script, share, units_with_letters = TABLE.dominant(units("佢成日講啲唔make sense嘅嘢"))
    assert script == "Han" and units_with_letters == 10 and share == 8 / 10


def test_share_of_a_script():
    assert TABLE.share_of_lettered(units("ئۇيغۇر تىلى AT-SPI"), "Arab") == (0.5, 4)
    assert TABLE.share_of_lettered(units("123 ..."), "Arab") == (0.0, 0)


def test_script_ratio_counts_numbers_against_the_script():
    assert TABLE.share_of_all(units("발의연월일 : 2010. 11. 12."), "Hang") == 0.25
    assert TABLE.share_of_all(units("ལོ ༢༠༡༥ ལོར"), "Tibt") == 1.0  # Tibetan digits are in the script's block
    assert TABLE.share_of_all([], "Tibt") == 0.0


def test_unknown_letters_are_their_own_group():
    script, share, _ = TABLE.dominant(units("Ελληνικά κείμενα"))
    assert script is None and share == 1.0


def test_units_fast_path_agrees_with_the_unicode_rule_on_every_character():
    # units() takes `re` for lines within the BMP and `regex` otherwise: both must cut alike.
    from common.units import _UNIT
    bmp = "".join(chr(cp) for cp in range(0x10000) if not 0xD800 <= cp <= 0xDFFF)
    assert units(bmp) == _UNIT.findall(bmp)
    astral = "𠀀𠀁 ab𝐀𝐁 ᠤ 😀x"
    assert units(astral) == _UNIT.findall(astral) == ["𠀀", "𠀁", "ab𝐀𝐁", "ᠤ", "x"]


def test_a_unit_opening_with_a_digit_takes_its_first_letters_script():
    assert TABLE.share_of_lettered(units("3ئۇيغۇر 2010 تىلى"), "Arab") == (1.0, 2)
