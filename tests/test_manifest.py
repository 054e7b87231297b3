"""Manifest validation: the shipped manifests load; every bad one fails with file and field."""
import shutil
from pathlib import Path

import pytest
import yaml

from common.errors import InputError
from corpus.manifest import load_catalog, parse_lang_list
from tests.helpers import MANIFESTS, SHARED
from tests.helpers.sources import edit, error_of

ALL = ["bo", "kk", "ko", "mn", "ug", "yue", "za", "zh"]


@pytest.fixture
def manifests(tmp_path) -> Path:
    target = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, target)
    return target


def test_shipped_manifests_describe_the_shared_corpora():
    catalog = load_catalog(MANIFESTS)
    assert sorted(catalog.languages) == ALL
    assert catalog.scripts["Tibt"].own_tokenizer and catalog.scripts["Mong"].own_tokenizer
    assert not catalog.scripts["Han"].own_tokenizer
    sources = SHARED / "corpora" / "SOURCES.md"
    listed = sources.read_text(encoding="utf-8")
    for lang in catalog.languages.values():
        for source in lang.sources:
            assert source.sha256 in listed, f"{lang.code}/{source.id} sha256 not in SOURCES.md"
            assert (SHARED / "corpora" / source.path).is_file()


def test_malformed_yaml(manifests):
    (manifests / "bo.yaml").write_text("code: bo\nsources: [\n  - id: x\n", encoding="utf-8")
    message = error_of(manifests)
    assert "bo.yaml line" in message and "malformed YAML" in message


def test_missing_field(manifests):
    edit(manifests / "ug.yaml", lambda d: d["sources"][1].pop("sha256"))
    message = error_of(manifests)
    assert "ug.yaml: field 'sources[1].sha256'" in message and "missing" in message


def test_mistyped_field_name_suggests_the_right_one(manifests):
    edit(manifests / "kk.yaml", lambda d: d.update(sorces=d.pop("sources")))
    message = error_of(manifests)
    assert "kk.yaml: field 'sorces'" in message and "did you mean 'sources'" in message


def test_wrong_type_and_range(manifests):
    edit(manifests / "za.yaml", lambda d: d["lid"].update(threshold="high"))
    assert "za.yaml: field 'lid.threshold'" in error_of(manifests)
    edit(manifests / "za.yaml", lambda d: d["lid"].update(threshold=1.5))
    assert "must be between 0 and 1" in error_of(manifests)


def test_bad_sha256_and_format(manifests):
    edit(manifests / "ko.yaml", lambda d: d["sources"][0].update(sha256="abc"))
    assert "ko.yaml: field 'sources[0].sha256'" in error_of(manifests)
    edit(manifests / "ko.yaml", lambda d: d["sources"][0].update(sha256="0" * 64, format="docx"))
    assert "unknown format 'docx'" in error_of(manifests)


def test_two_manifests_claim_one_code(manifests):
    shutil.copy(manifests / "bo.yaml", manifests / "tibetan.yaml")
    message = error_of(manifests)
    assert "tibetan.yaml: field 'code'" in message and "also claimed by" in message and "bo.yaml" in message


def test_source_listed_twice(manifests):
    edit(manifests / "zh.yaml", lambda d: d["sources"].append(dict(d["sources"][0], id="again")))
    message = error_of(manifests)
    assert "zh.yaml" in message and "source listed twice" in message


def test_unknown_script(manifests):
    edit(manifests / "mn.yaml", lambda d: d.update(script="Mongolian"))
    message = error_of(manifests)
    assert "mn.yaml: field 'script'" in message and "unknown script 'Mongolian'" in message and "Mong" in message


def test_unknown_normalisation_step_in_scripts(manifests):
    edit(manifests / "scripts.yaml", lambda d: d["Tibt"].update(normalization=["nfkc"]))
    assert "scripts.yaml: field 'Tibt.normalization'" in error_of(manifests)


def test_normalisation_in_a_language_manifest_points_to_the_script(manifests):
    """Normalisation belongs to the script (the tokenizer compiles it per script): a language
    manifest that sets it is refused, not silently ignored."""
    edit(manifests / "ug.yaml", lambda d: d.update(normalization=["nfc"]))
    message = error_of(manifests)
    assert "ug.yaml: field 'normalization'" in message and "scripts.yaml" in message and "'Arab'" in message


def test_unknown_filter_override(manifests):
    edit(manifests / "yue.yaml", lambda d: d["filters"].update(min_char=3))
    assert "yue.yaml: field 'filters.min_char'" in error_of(manifests)


@pytest.mark.parametrize("value,problem", [(7.5, "expected int, got 7.5"), (True, "expected int, got True"),
                                           ("10", "expected int, got '10'")])
def test_a_filter_override_of_the_wrong_type_is_one_line_naming_the_field(manifests, value, problem):
    """Checked as the [filters] setting is: `min_chars: 7.5` was truncated to 7 without a word."""
    edit(manifests / "yue.yaml", lambda d: d["filters"].update(min_chars=value))
    message = error_of(manifests)
    assert "yue.yaml: field 'filters.min_chars'" in message and problem in message


@pytest.mark.parametrize("given", ["ug,bo,mn", "bo,mn,ug", " mn , ug,bo,bo ", ["ug", "mn", "bo"]])
def test_lang_list_is_order_free(given):
    assert parse_lang_list(given, load_catalog(MANIFESTS)) == ("bo", "mn", "ug")


def test_lang_all_and_unknown_codes():
    catalog = load_catalog(MANIFESTS)
    assert list(parse_lang_list("all", catalog)) == ALL
    with pytest.raises(InputError, match=r"unknown language code\(s\) xx.*corpora_manifests: bo, kk, ko, mn, ug, yue, za, zh"):
        parse_lang_list("bo,xx", catalog)
