"""Continued pretraining: the final model, per-language validation, resume after
SIGKILL (past a truncated checkpoint too), and fairseq's distributed path with two CPU processes (gloo)."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from luigi.cmdline_parser import CmdlineParser

from common.jsonio import read_json
from tests.helpers import REPO, in_env, luigi_command, run_luigi
from tests.helpers.workdirs import clone_build

LANGS = "bo,mn,ug"
TIBETAN = "ཕྱིས་སུ་མི་རྣམས་ཀྱིས་རང་བྱུང་ཁམས་ལ་ <mask> བྱེད་པའི་བྱ་རིམ་ཁྲོད་ནས།"
MONGOLIAN = "ᠶᠤᠸᠠᠨ ᠤᠯᠤᠰ\u202fᠤᠨ <mask> ᠳᠡ ᠨᠢᠩ ᠵᠠᠮ ᠴᠢᠬᠤᠯᠠ ᠦᠢᠯᠡᠳᠦᠯ ᠭᠠᠷᠭᠠᠵᠠᠶ ᠃"


def task_stats(env: dict, name: str = "ContinuePretraining") -> dict:
    import pipeline

    with in_env(env):
        task = getattr(pipeline, name)(langs=LANGS)
        return {"stats": task.output().stats(), "model_dir": task.output().path, "run_dir": task.run_dir()}


def without_training(build: dict, target: Path) -> dict:
    """The environment of a clone of `build` with every finished stage before training: a fresh place to train."""
    return clone_build(build, target, leave_out=("train", "build"))


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


def resumed_at(run: dict) -> int:
    """The update the second launch resumed from (fairseq also prints "Loaded checkpoint" for
    --finetune-from-model, so the update count it names is what proves a resume)."""
    log = (run["run_dir"] / "train.log").read_text(encoding="utf-8", errors="replace")
    return int(RESUMED.search(log.split("$ ")[2]).group(1))


def test_one_trainer_killed_then_resumed_past_a_truncated_checkpoint_ends_as_the_uninterrupted_run(mini_build,
                                                                                                  tmp_path):
    """The local launcher with one process: the trainer dies with the worker. fairseq copies
    checkpoint_last.pt non-atomically (a kill during the copy truncates it), so it is cut in half
    here: the rerun says so, resumes from the newest readable checkpoint, and ends with the
    uninterrupted run's model, byte for byte. (Resuming from an intact checkpoint_last.pt: the
    two-process test below and tests/test_slurm.py.)"""
    env = without_training(mini_build, tmp_path / "work")
    run = kill_worker_after_first_checkpoint(Path(env["CINO_WORK_DIR"]), env, "test-cpu")
    last = run["run_dir"] / "checkpoints" / "checkpoint_last.pt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    done = run_luigi(run["command"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    (warning,) = [line for line in (done.stdout + done.stderr).splitlines() if "is unreadable" in line]
    assert "checkpoint_last.pt is unreadable" in warning and "resuming from checkpoint_" in warning
    assert read_json(run["final"] / "stats.json")["num_updates"] == 30 and resumed_at(run) > 0
    uninterrupted = task_stats(mini_build["env"])["model_dir"]
    for name in ("model.pt", "stats.json"):
        assert (run["final"] / name).read_bytes() == (uninterrupted / name).read_bytes(), name


def test_two_trainers_on_cpu_killed_then_resumed_from_checkpoint_last(mini_build, tmp_path):
    """fairseq's distributed path with two CPU processes (gloo): both trainers die with the worker,
    and the rerun resumes from checkpoint_last.pt with the same effective batch."""
    env = without_training(mini_build, tmp_path / "work")
    run = kill_worker_after_first_checkpoint(Path(env["CINO_WORK_DIR"]), env, "test-ddp")
    done = run_luigi(run["command"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    stats = read_json(run["final"] / "stats.json")
    assert stats["num_updates"] == 6 and stats["effective_batch"] == 4 and resumed_at(run) > 0
    assert "initialized host" in (run["run_dir"] / "rank1.log").read_text(encoding="utf-8")
    log = (run["run_dir"] / "train.log").read_text(encoding="utf-8")
    assert "distributed init (rank 0)" in log and '"bsz": "4"' in log  # 2 processes x 2 sequences
