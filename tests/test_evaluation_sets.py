"""Evaluation sets as data, and training text cleared of evaluation text (issue 26): a declared
test split never reaches a split file, and adding a set to a finished build reruns only the
stages that evaluate or report."""
from pathlib import Path

from common.fingerprint import sha256_file
from common.jsonio import read_json
from corpus.decontaminate import text_units
from corpus.lines import read_rejections
from tests.helpers import SHARED, copy_corpus, run_luigi
from tests.helpers.sources import edit
from tests.helpers.workdirs import CORPUS_HALF, clone_build

TNCC_LABELS = ("Politics", "Education", "Economics", "Culture")


def _outputs(work: Path, stage: str) -> set:
    return {p for p in work.glob(f"{stage}/*") if p.is_dir() and ".tmp-" not in p.name}


def _run_of(units: tuple) -> str:
    return "་".join(units)


def _titles_inside(split_dir: Path, count: int) -> list:
    """`count` 'titles' cut from the middle of real bo training lines (16 syllables each): a test
    split whose texts the corpus holds, as TNCC's does."""
    lines = (split_dir / "train.txt").read_text(encoding="utf-8").splitlines()
    return [_run_of(text_units(line)[2:18]) for line in lines if len(text_units(line)) >= 24][:count]


def _declare(manifests: Path, lang: str, name: str, splits: dict) -> None:
    """Declare evaluation set `name` for `lang` with the files {split: path}."""
    edit(manifests / f"{lang}.yaml", lambda doc: doc["eval"].update(
        {name: {split: {"path": str(path), "sha256": sha256_file(path)} for split, path in splits.items()}}))


def _write_labelled(path: Path, texts: list) -> Path:
    path.write_text("".join(f"{text}\t{TNCC_LABELS[i % len(TNCC_LABELS)]}\n" for i, text in enumerate(texts)),
                    encoding="utf-8")
    return path


def test_a_declared_test_split_never_reaches_a_split_file_and_its_removals_are_counted(mini_build, tmp_path):
    env = {**clone_build(mini_build, tmp_path / "work", only=CORPUS_HALF), **copy_corpus(mini_build["env"], tmp_path)}
    work = Path(env["CINO_WORK_DIR"])
    splits_before = _outputs(work, "split")
    (split_before,) = work.glob("split/bo-*")
    titles = _titles_inside(split_before, 20)
    assert len(titles) == 20
    tncc = Path(mini_build["env"]["CINO_MANIFESTS_DIR"]).joinpath("bo.yaml").read_text(encoding="utf-8")
    assert "tncc-title" in tncc   # the shipped bo manifest declares train and dev; a user adds test
    test_file = _write_labelled(tmp_path / "tncc-test.tsv", titles)
    edit(Path(env["CINO_MANIFESTS_DIR"]) / "bo.yaml",
         lambda doc: doc["eval"]["tncc-title"].update(test={"path": str(test_file), "sha256": sha256_file(test_file)}))

    done = run_luigi(["CorpusReport", "--langs", "bo,mn,ug"], env)
    assert done.returncode == 0, done.stderr[-3000:]

    (split_dir,) = _outputs(work, "split") - splits_before
    runs = [_run_of(text_units(title)) for title in titles]
    for name in ("train", "valid", "test"):
        for line in (split_dir / f"{name}.txt").read_text(encoding="utf-8").splitlines():
            assert not any(run in _run_of(text_units(line)) for run in runs), (name, line)
    (decontaminated,) = [p for p in work.glob("decontaminate/bo-*") if (p / "stats.json").exists()
                         and read_json(p / "stats.json")["rejected"].get("evaluation_overlap", 0) > 0]
    rejected = [row for row in read_rejections(decontaminated / "rejected.tsv") if row["detail"].startswith("tncc-title/test:")]
    assert len(rejected) >= 20 and all(row["reason"] == "evaluation_overlap" for row in rejected)
    (report,) = work.glob("corpus_report/*/stats.json")
    counted = read_json(report)["per_language"]["bo"]["decontaminate"]["rejected"]["evaluation_overlap"]
    assert counted == read_json(decontaminated / "stats.json")["rejected"]["evaluation_overlap"] >= 20
    assert split_dir.name.startswith("bo-")   # mn's and ug's splits stay


def _sib200_part(tmp_path: Path) -> dict:
    """A third set for bo: a part of SIB-200 bo (real text no corpus holds), every label in each split."""
    files = {}
    for split, count in (("train", 140), ("dev", 60)):
        lines = (SHARED / "eval" / "sib200" / "bo" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[:count]
        files[split] = tmp_path / f"part-{split}.tsv"
        files[split].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return files


def test_adding_a_set_to_a_finished_build_reruns_only_evaluation_and_reports(mini_build, tmp_path):
    env = {**clone_build(mini_build, tmp_path / "work"), **copy_corpus(mini_build["env"], tmp_path)}
    work = Path(env["CINO_WORK_DIR"])
    before = {p for p in work.glob("*/*") if p.parent.name != "timings" and p.suffix != ".lock"}
    _declare(Path(env["CINO_MANIFESTS_DIR"]), "bo", "sib200-part", _sib200_part(tmp_path))

    done = run_luigi(["BuildCINO", "--lang", "bo,mn,ug", "--workers", "2"], env)
    assert done.returncode == 0, done.stderr[-3000:]

    added = {p for p in work.glob("*/*") if p.parent.name != "timings" and p.suffix != ".lock"} - before
    assert {p.parent.name for p in added} == {"decontaminate", "eval_classification", "eval_baseline", "evaluation",
                                              "langid_report", "tokenizer_report", "model", "build"}
    # bo's decontamination scanned its corpus again and kept every line: no split, vocabulary or model after it
    assert [p.name.split("-")[0] for p in added if p.parent.name == "decontaminate"] == ["bo"]
    assert all("-sib200-part-" in p.name for p in added if p.parent.name in ("eval_classification", "eval_baseline"))
    (evaluation,) = [p for p in added if p.parent.name == "evaluation"]
    results = read_json(evaluation / "stats.json")["results"]
    assert results["sets"] == ["sib200", "sib200-part", "tncc-title"]
    assert {(row["set"], row["lang"]) for row in results["in_language"] if row["set"] == "sib200-part"} == \
        {("sib200-part", "bo")}
    assert all(row["set"] == "sib200" for row in results["zero_shot"])   # only SIB-200's labels are shared


def test_a_cap_keeps_every_label_and_a_larger_cap_only_adds_items():
    from eval.datasets import capped, read_labelled

    train = read_labelled(SHARED / "eval" / "tncc-title" / "train.tsv")
    small, larger = capped(train, 20), capped(train, 200)
    assert len(small) == 20 and set(small.labels) == set(train.labels)   # 12 classes, one rare (Language)
    assert set(small.texts) <= set(larger.texts) and capped(train, 20) == small


def test_scores_on_the_unseen_part_average_over_the_labels_it_has():
    from eval.datasets import Labelled
    from eval.metrics import unseen_scores

    train = Labelled("train", ("a", "b", "c", "d"), ("x", "y", "z", "x"))
    test = Labelled("dev", ("a", "e", "f", "g"), ("x", "y", "y", "z"))   # "a" is a training item
    result = unseen_scores(train, test, [1, 2], [["x", "y", "y", "z"]], ["x", "y", "z"])
    assert result["items"] == 2 and result["aggregate"]["macro_f1"]["mean"] == 1.0   # perfect on it: 1, not 1/3
    assert result["majority_baseline"]["label"] == "x" and result["majority_baseline"]["accuracy"] == 0.0
