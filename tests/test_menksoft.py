"""Traditional Mongolian in the Menksoft legacy encoding (corpus/menksoft.py): converted to
Unicode as the public cases expect, from the command line, and through the DAG into training."""
import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from common.fingerprint import sha256_file
from common.jsonio import read_json
from corpus.lines import read_rejections, read_shard
from corpus.menksoft import Unconvertible, convert, convert_line
from tests.helpers import REPO, SHARED, copy_corpus, run_luigi
from tests.helpers.sources import edit
from tests.helpers.workdirs import clone_build

MENKSOFT = SHARED / "legacy" / "menksoft"
PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def _cases() -> list:
    with open(MENKSOFT / "cases.tsv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, dialect="excel-tab", quoting=csv.QUOTE_NONE))


def test_at_least_95_percent_of_the_cases_convert_exactly_with_the_gb_separator():
    cases = _cases()
    assert len(cases) == 369
    wrong = [case for case in cases if convert(case["menksoft"], "\u180e") != case["unicode"]]
    assert len(wrong) <= 0.05 * len(cases), [case["source"] for case in wrong][:10]


def test_the_suffix_separator_is_a_setting():
    suffixes = [case for case in _cases() if case["menksoft"].startswith("\ue263") and case["unicode"].startswith("\u180e")]
    assert len(suffixes) > 20
    for case in suffixes:   # the separator before a suffix follows the setting; a final a/e's U+180E stays
        assert convert(case["menksoft"], "\u202f") == "\u202f" + convert(case["menksoft"], "\u180e")[1:]


def test_every_word_converts_with_no_private_use_code_left():
    words = (MENKSOFT / "words.txt").read_text(encoding="utf-8").splitlines()
    assert len(words) == 16361
    converted = [convert(word) for word in words]
    assert not [word for word in converted if PRIVATE_USE.search(word)]
    assert all(re.search("[\u1820-\u1842]", word) for word, raw in zip(converted, words)
               if re.search("[\ue264-\ue34f]", raw))   # a word with letter glyphs has Mongolian letters


def test_mixed_lines_keep_their_unicode_convert_menksoft_punctuation_and_drop_font_symbols():
    line = "1\ue010 \u1832\u1820\u1837\u1822 \ue261 \u182e\u1823\u1829\u182d"
    done = convert_line(line, "\u202f", ((0xE234, 0xE71D),))
    assert done.text == "1 \u1832\u1820\u1837\u1822 \ufe31 \u182e\u1823\u1829\u182d" and done.removed == 1
    assert done.marks and not done.letters   # a Unicode line with a stray Menksoft punctuation code
    assert convert_line("\u182e\u1823\u1829\u182d", "\u202f", ()) == ("\u182e\u1823\u1829\u182d", False, False, 0)
    # a Menksoft code touching Unicode letters is read inside their word: no nirugu of a lone glyph
    assert convert_line("\u182e\u1820\ue2b5", "\u202f", ()).text == "\u182e\u1820\u1828"
    assert convert("\ue2b5\ue263\ue28d") == "\u1828\u202f\u1824"   # a one-glyph stem before its suffix
    # a suffix takes its harmony from the stem it is written after
    masculine, feminine = convert("\ue2f1\ue26c\ue2b5\ue263\ue27a\ue2e7"), convert("\ue2f1\ue276\ue2b5\ue263\ue27a\ue2e7")
    assert masculine.endswith("\u182d") and feminine.endswith("\u182d\u180b")
    with pytest.raises(Unconvertible, match="U\\+E400 at column 3"):
        convert_line("\u1820 \ue400", "\u202f", ((0xE234, 0xE71D),))
    with pytest.raises(Unconvertible, match="U\\+E400 at column 2"):   # convert() reads every private-use code
        convert("\ue2b1\ue400\ue276")


def test_the_command_converts_one_line_per_line_and_names_what_it_cannot(tmp_path):
    words = (MENKSOFT / "words.txt").read_text(encoding="utf-8").splitlines()[:50]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(words[:20]) + "\n\ue400 bad\n" + "\n".join(words[20:]) + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "corpus.menksoft", str(source)], cwd=REPO, capture_output=True,
                          text=True, encoding="utf-8")
    assert done.returncode == 1
    out = done.stdout.split("\n")[:-1]
    assert len(out) == 51 and out[:20] == [convert(word) for word in words[:20]]
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
    assert error.startswith(f"ERROR: {source}:21: U+E400 at column 1") and "; fix: " in error
    piped = subprocess.run([sys.executable, "-m", "corpus.menksoft", "--suffix-separator", "U+180E"], cwd=REPO,
                           input="\n".join(words) + "\n", capture_output=True, text=True, encoding="utf-8")
    assert piped.returncode == 0 and piped.stdout.split("\n")[:-1] == [convert(w, "\u180e") for w in words]
    broken = tmp_path / "broken.txt"   # a line that is not UTF-8, and a last line without its newline
    broken.write_bytes(words[0].encode("utf-8") + b"\n\xff\xfe\n" + words[1].encode("utf-8"))
    done = subprocess.run([sys.executable, "-m", "corpus.menksoft", str(broken)], cwd=REPO, capture_output=True)
    assert done.returncode == 1 and done.stdout == (convert(words[0]) + "\n").encode() + b"\xff\xfe\n" + \
        convert(words[1]).encode()
    assert f"ERROR: {broken}:2: not UTF-8".encode() in done.stderr
    missing = subprocess.run([sys.executable, "-m", "corpus.menksoft", str(tmp_path / "nowhere.txt")], cwd=REPO,
                             capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.startswith("ERROR: ") and "Traceback" not in missing.stderr


def _menksoft_lines(count: int) -> list:
    """Real Menksoft words joined into lines of 12, as a web page would run them."""
    words = [w for w in (MENKSOFT / "words.txt").read_text(encoding="utf-8").splitlines() if re.search("[\ue264-\ue34f]", w)]
    return [" ".join(words[i:i + 12]) for i in range(0, 12 * count, 12)]


def test_menksoft_text_added_to_mn_reaches_its_training_split_as_unicode(mini_build, tmp_path):
    env = {**clone_build(mini_build, tmp_path / "work", only=("ingest",)), **copy_corpus(mini_build["env"], tmp_path)}
    data, manifests = Path(env["CINO_DATA_ROOT"]), Path(env["CINO_MANIFESTS_DIR"])
    lines = _menksoft_lines(300)
    (data / "mn" / "menksoft.txt").write_text("\n".join(lines) + "\n\ue400\ue264\n", encoding="utf-8")
    edit(manifests / "mn.yaml", lambda doc: doc["sources"].append(
        {"id": "menksoft", "path": "mn/menksoft.txt", "sha256": sha256_file(data / "mn" / "menksoft.txt"),
         "format": "txt", "license": "CC0-1.0", "origin": "suragch/mongol_code test/word_bank.dart"}))

    done = run_luigi(["CorpusReport", "--langs", "mn"], env)
    assert done.returncode == 0, done.stderr[-3000:]

    work = Path(env["CINO_WORK_DIR"])
    (ingest,) = [p for p in work.glob("ingest/mn-*") if (p / "legacy.tsv").exists()
                 and "menksoft" in read_json(p / "stats.json")["sources"]]
    stats = read_json(ingest / "stats.json")["sources"]["menksoft"]
    assert stats["converted_legacy"] == 300 and stats["rejected"] == {"legacy_unconvertible": 1}
    (rejected,) = [row for row in read_rejections(ingest / "rejected.tsv") if row["ref"] == "menksoft:301"]
    assert "U+E400" in rejected["detail"] and "; fix: " in rejected["detail"]
    originals = dict(read_shard(ingest / "legacy.tsv"))
    assert [originals[f"menksoft:{i}"] for i in range(1, 301)] == lines   # kept beside, for audit
    (split,) = [p for p in work.glob("split/mn-*") if p.is_dir()]
    training = (split / "train.txt").read_text(encoding="utf-8").splitlines()
    converted = {convert(line) for line in lines}
    assert len(converted & set(training)) > 200   # language ID, cleaning and dedup let most of them through
    assert not any(PRIVATE_USE.search(line) for name in ("train", "valid", "test")
                   for line in (split / f"{name}.txt").read_text(encoding="utf-8").splitlines())
    (report,) = work.glob("corpus_report/mn-*/stats.json")
    assert read_json(report)["converted_legacy"]["mn/menksoft"] == 300
    assert "Legacy encodings converted" in next(work.glob("corpus_report/mn-*/corpus.md")).read_text(encoding="utf-8")


def test_the_exported_tokenizer_does_not_convert_menksoft_input_users_convert_it_first(mini_build):
    """What users type: the exported tokenizer reads Unicode only (Menksoft's glyph codes are
    <unk>); `python -m corpus.menksoft` or corpus.menksoft.convert first gives the model's pieces."""
    from transformers import AutoTokenizer

    import pipeline
    from tests.helpers import in_env

    with in_env(mini_build["env"]):
        export = pipeline.ExportHF(langs=("bo", "mn", "ug")).output().path
    tokenizer = AutoTokenizer.from_pretrained(export, local_files_only=True)
    line = _menksoft_lines(1)[0]
    raw, converted = tokenizer(line)["input_ids"], tokenizer(convert(line))["input_ids"]
    assert raw.count(tokenizer.unk_token_id) >= 10   # one <unk> a word or more
    assert tokenizer.unk_token_id not in converted
