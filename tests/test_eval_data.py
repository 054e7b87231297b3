"""Labelled evaluation sets: declared in manifests with sha256, read strictly, one clear error each."""
import pytest
import yaml

from common.errors import InputError
from common.fingerprint import sha256_file
from corpus.manifest import load_catalog
from eval.datasets import read_labelled, resolve
from tests.helpers import MANIFESTS, SHARED, build_corpus

SIB = SHARED / "eval" / "sib200"


def test_manifests_declare_sib200_with_sha256_that_match():
    catalog = load_catalog(MANIFESTS)
    declared = {code: lang.eval_sets["sib200"] for code, lang in catalog.languages.items() if lang.eval_sets}
    assert sorted(declared) == ["bo", "kk", "ko", "ug", "yue", "zh"]
    for code, splits in declared.items():
        assert sorted(splits) == ["dev", "train"]
        for split, eval_file in splits.items():
            data = read_labelled(resolve(eval_file, SHARED / "eval"), eval_file.sha256)
            assert len(data) == {"train": 701, "dev": 99}[split]
            assert len(set(data.labels)) == 7


@pytest.mark.parametrize("content,problem", [
    (b"", "empty evaluation file"),
    (b"text only\n", "expected `text<TAB>label`, got 1 column(s)"),
    (b"a\tb\tc\n", "got 3 column(s)"),
    (b"good\tsports\n\tsports\n", "with an empty field"),
    (b"\xff\xfe\tx\n", "not UTF-8"),
])
def test_bad_evaluation_files_are_one_clear_error(tmp_path, content, problem):
    path = tmp_path / "dev.tsv"
    path.write_bytes(content)
    with pytest.raises(InputError) as error:
        read_labelled(path)
    assert problem in str(error.value) and str(path) in str(error.value) and "\n" not in str(error.value)


def test_changed_evaluation_file_is_refused(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_bytes((SIB / "bo" / "dev.tsv").read_bytes() + "extra\tsports\n".encode())
    with pytest.raises(InputError, match="sha256 mismatch"):
        read_labelled(path, sha256_file(SIB / "bo" / "dev.tsv"))


def test_manifest_eval_entries_are_validated(tmp_path):
    env = build_corpus(tmp_path, 10)
    manifest = tmp_path / "manifests" / "bo.yaml"
    doc = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    doc["eval"]["sib200"]["dev"] = "sib200/bo/dev.tsv"   # the old form, without sha256
    manifest.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InputError, match=r"field 'eval.sib200.dev': expected dict"):
        load_catalog(env["CINO_MANIFESTS_DIR"])
    doc["eval"]["sib200"]["dev"] = {"path": "sib200/bo/dev.tsv"}
    manifest.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InputError, match=r"field 'eval.sib200.dev.sha256': missing"):
        load_catalog(env["CINO_MANIFESTS_DIR"])
