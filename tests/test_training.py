"""Continued pretraining: the final model, per-language validation, resume after
SIGKILL, and fairseq's distributed path with two CPU processes (gloo)."""
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from luigi.cmdline_parser import CmdlineParser

from common.jsonio import read_json
from tests.helpers import REPO, in_env, luigi_command, run_luigi

LANGS = "bo,mn,ug"
TIBETAN = "ཕྱིས་སུ་མི་རྣམས་ཀྱིས་རང་བྱུང་ཁམས་ལ་ <mask> བྱེད་པའི་བྱ་རིམ་ཁྲོད་ནས།"
MONGOLIAN = "ᠶᠤᠸᠠᠨ ᠤᠯᠤᠰ\u202fᠤᠨ <mask> ᠳᠡ ᠨᠢᠩ ᠵᠠᠮ ᠴᠢᠬᠤᠯᠠ ᠦᠢᠯᠡᠳᠦᠯ ᠭᠠᠷᠭᠠᠵᠠᠶ ᠃"


def task_stats(env: dict, name: str = "ContinuePretraining") -> dict:
    import pipeline

    with in_env(env):
        task = getattr(pipeline, name)(langs=LANGS)
        return {"stats": task.output().stats(), "model_dir": task.output().path, "run_dir": task.run_dir()}


def copy_without_training(source: Path, target: Path) -> dict:
    """A work dir with every finished stage before training, as a fresh place to train again."""
    shutil.copytree(source, target, symlinks=True, ignore=lambda d, names: [n for n in names if Path(d) == source
                                                                            and n in ("train", "build", "timings")])
    return target


def test_final_model_is_an_xlmr_directory_that_fills_masks(mini_build):
    from training import checkpoint

    result = task_stats(mini_build["env"])
    assert sorted(p.name for p in result["model_dir"].iterdir()) == \
        ["_SUCCESS", "dict.txt", "model.pt", "sentencepiece.bpe.model", "stats.json"]
    model = checkpoint.hub_model(result["model_dir"])
    for sentence in (TIBETAN, MONGOLIAN):
        predictions = model.fill_mask(sentence, topk=3)
        assert 1 <= len(predictions) <= 3   # fairseq's fill_mask leaves out </s> when it is among the top 3
        for filled, probability, token in predictions:
            assert "<mask>" not in filled and token not in ("<unk>", "") and 0.0 < probability <= 1.0
            assert not [ch for ch in filled + token if ord(ch) >= 0xF0000]   # stand-ins decode to what they stand for
    tokens = model.encode(MONGOLIAN.replace(" <mask>", ""))
    assert 3 not in tokens.tolist()  # U+202F reaches its pieces: no <unk>


def test_every_validation_is_recorded_per_language_and_loss_falls(mini_build):
    stats = task_stats(mini_build["env"])["stats"]
    assert stats["num_updates"] == 30
    for lang in LANGS.split(","):
        history = stats["validation"][f"valid_{lang}"]
        assert [step for step, _ in history] == [10, 20, 30]
    for lang in ("bo", "mn"):
        first_last = stats["validation_first_last"][f"valid_{lang}"]
        assert first_last["last"][1] < first_last["first"][1]


def trainer_processes(run_dir: Path) -> list:
    """Live fairseq training processes writing into `run_dir`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"fairseq_cli.train" in words and any(str(run_dir).encode() in w for w in words):
            found.append(cmdline.parent.name)
    return found


def kill_worker_after_first_checkpoint(work: Path, env: dict, profile: str) -> dict:
    """Start `ContinuePretraining` as a user does, SIGKILL the Luigi process (only it: its
    trainers must die with it) once fairseq saved a checkpoint; return the run's paths."""
    command = luigi_command(["ContinuePretraining", "--langs", LANGS, "--train-profile", profile])
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **env}, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with in_env({**env, "CINO_WORK_DIR": str(work)}):
        import pipeline

        with CmdlineParser.global_instance(["ContinuePretraining", "--langs", LANGS, "--train-profile", profile]):
            task = pipeline.ContinuePretraining(langs=LANGS)
            run_dir, final = task.run_dir(), task.output().path
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        log = run_dir / "train.log"
        if log.exists() and "Saved checkpoint" in log.read_text(encoding="utf-8", errors="replace"):
            break
        time.sleep(0.2)
    assert process.poll() is None, "training finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.time() + 20
    while trainer_processes(run_dir) and time.time() < deadline:
        time.sleep(0.2)
    assert trainer_processes(run_dir) == [], "a trainer outlived the Luigi worker that started it"
    assert not (final / "_SUCCESS").exists()  # not complete without the final model
    return {"run_dir": run_dir, "final": final, "command": ["ContinuePretraining", "--langs", LANGS,
                                                               "--train-profile", profile]}


RESUMED = re.compile(r"Loaded checkpoint \S*checkpoint_last\.pt \(epoch \d+ @ (\d+) updates\)")


@pytest.mark.parametrize("profile,updates", [("test-cpu", 30), ("test-ddp", 6)])
def test_sigkill_of_the_worker_stops_its_trainers_and_a_rerun_resumes(mini_build, tmp_path, profile, updates):
    """For the local launcher with one process and with two (gloo): the trainers die with the
    worker, and the second launch resumes from checkpoint_last.pt (fairseq also prints "Loaded
    checkpoint" for --finetune-from-model, so the update count it names is what proves it)."""
    work = copy_without_training(mini_build["work"], tmp_path / "work")
    env = {**mini_build["env"], "CINO_WORK_DIR": str(work)}
    run = kill_worker_after_first_checkpoint(work, env, profile)
    done = run_luigi(run["command"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert read_json(run["final"] / "stats.json")["num_updates"] == updates
    log = (run["run_dir"] / "train.log").read_text(encoding="utf-8", errors="replace")
    second_launch = log.split("$ ")[2]
    assert int(RESUMED.search(second_launch).group(1)) > 0
    if profile == "test-cpu":   # one process: the resumed model is the uninterrupted one, byte for byte
        uninterrupted = task_stats(mini_build["env"])["model_dir"]
        for name in ("model.pt", "stats.json"):
            assert (run["final"] / name).read_bytes() == (uninterrupted / name).read_bytes(), name


def test_a_truncated_checkpoint_last_falls_back_to_the_newest_readable_one(mini_build, tmp_path):
    """fairseq copies checkpoint_last.pt non-atomically: a kill during the copy truncates it."""
    work = copy_without_training(mini_build["work"], tmp_path / "work")
    env = {**mini_build["env"], "CINO_WORK_DIR": str(work)}
    run = kill_worker_after_first_checkpoint(work, env, "test-cpu")
    last = run["run_dir"] / "checkpoints" / "checkpoint_last.pt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    done = run_luigi(run["command"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    (warning,) = [line for line in (done.stdout + done.stderr).splitlines() if "is unreadable" in line]
    assert "checkpoint_last.pt is unreadable" in warning and "resuming from checkpoint_" in warning
    assert read_json(run["final"] / "stats.json")["num_updates"] == 30
    log = (run["run_dir"] / "train.log").read_text(encoding="utf-8", errors="replace")
    assert int(RESUMED.search(log.split("$ ")[2]).group(1)) > 0


def test_two_process_distributed_training_on_cpu(mini_build, tmp_path):
    work = copy_without_training(mini_build["work"], tmp_path / "work")
    env = {**mini_build["env"], "CINO_WORK_DIR": str(work)}
    done = run_luigi(["ContinuePretraining", "--langs", LANGS, "--train-profile", "test-ddp"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    (stats_file,) = work.glob("train/*/stats.json")
    stats = read_json(stats_file)
    assert stats["num_updates"] == 6 and stats["effective_batch"] == 4
    run_dir = stats_file.parent.with_name(stats_file.parent.name + ".run")
    assert "initialized host" in (run_dir / "rank1.log").read_text(encoding="utf-8")
    log = (run_dir / "train.log").read_text(encoding="utf-8")
    assert "distributed init (rank 0)" in log and '"bsz": "4"' in log  # 2 processes x 2 sequences
