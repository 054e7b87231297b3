"""training/slurm/cino.sbatch on a real single-node SLURM cluster (slurmctld + slurmd + munge from
Debian's packages, started by ../shared/tools/slurm/start-slurm.sh): a preemption mid-training
(`scontrol requeue`) resumes from the last checkpoint and ends with the model an uninterrupted run
ends with, byte for byte; a job whose data stages fail ends with a non-zero exit code that `scontrol` reports."""
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from common.jsonio import read_json
from tests.helpers import REPO, SHARED
from tests.helpers.workdirs import clone_build

SLURM_TOOLS = SHARED / "tools" / "slurm"
SBATCH = REPO / "training" / "slurm" / "cino.sbatch"
RESUMED = re.compile(r"Loaded checkpoint \S*checkpoint_last\.pt \(epoch \d+ @ (\d+) updates\)")


@pytest.fixture(scope="module")
def slurm():
    started = subprocess.run(["bash", str(SLURM_TOOLS / "start-slurm.sh")], capture_output=True, text=True, timeout=600)
    if started.returncode != 0:
        reason = (started.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"SLURM could not be started here, the SLURM tests are skipped: {reason}")
        pytest.skip(f"SLURM could not be started: {reason}")
    yield
    subprocess.run(["bash", str(SLURM_TOOLS / "stop-slurm.sh")], capture_output=True, timeout=120)


def job_field(job: str, field: str) -> str:
    shown = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True).stdout
    match = re.search(rf"\b{field}=(\S+)", shown)
    return match.group(1) if match else ""


def in_queue(job: str) -> bool:
    return bool(subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True).stdout.strip())


def submit(env: dict, output: Path, task: str = "ContinuePretraining") -> str:
    job_env = {**os.environ, **env, "CINO_HOME": str(REPO), "LANGS": "bo,mn,ug", "PROFILE": "test-cpu", "TASK": task,
               "LUIGID_PORT": str(18000 + os.getpid() % 1000)}
    done = subprocess.run(["sbatch", "--parsable", "--cpus-per-task=2", f"--output={output}", "--time=00:30:00",
                           str(SBATCH)], env=job_env, capture_output=True, text=True, check=True)
    return done.stdout.strip().split(";")[0]


def wait(predicate, timeout: float, step: float = 0.5) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def test_a_preempted_job_resumes_from_its_last_checkpoint(slurm, mini_build, tmp_path):
    """The job starts from a clone of the session build without the data of training (binarised
    languages, the sampling plan) and training: what it runs is those stages."""
    env = clone_build(mini_build, tmp_path / "work", leave_out=("binarize", "sampling_plan", "train", "build"))
    output = tmp_path / "job.out"
    timeline = {"submitted": time.time()}
    job = submit(env, output)
    logs = lambda: list((tmp_path / "work").glob("train/*.run/train.log"))  # noqa: E731
    saved = lambda: bool(logs()) and "Saved checkpoint" in logs()[0].read_text(errors="replace")  # noqa: E731
    assert wait(lambda: saved() or not in_queue(job), 900) and saved(), \
        output.read_text(errors="replace")[-3000:] if output.exists() else "no job output"
    timeline["requeued"] = time.time()
    subprocess.run(["scontrol", "requeue", job], check=True)
    assert wait(lambda: job_field(job, "Restarts") == "1" and job_field(job, "JobState") == "RUNNING", 120)
    timeline["running again"] = time.time()
    assert wait(lambda: not in_queue(job), 1200), output.read_text(errors="replace")[-3000:]
    timeline["finished"] = time.time()
    assert (job_field(job, "JobState"), job_field(job, "ExitCode")) == ("COMPLETED", "0:0"), \
        output.read_text(errors="replace")[-3000:]
    (log,) = logs()
    launches = log.read_text(errors="replace").split("$ ")[1:]
    assert len(launches) == 2   # the preempted launch and the resumed one
    resumed_at = int(RESUMED.search(launches[1]).group(1))
    assert resumed_at >= 10   # from the checkpoint, not from scratch
    (stats,) = (tmp_path / "work").glob("train/*/stats.json")
    assert read_json(stats)["num_updates"] == 30
    # The data of training and the trained model are byte-identical to the uninterrupted run's:
    # fairseq restores the data iterator and the random states from checkpoint_last.pt. The model's
    # stats.json differs in how it was made only: the launcher (slurm here, local there), which it records.
    made = [p for stage in ("binarize", "sampling_plan", "train") for p in (tmp_path / "work" / stage).rglob("*")
            if p.is_file() and p.suffix != ".lock" and not p.relative_to(tmp_path / "work").parts[1].endswith(".run")]
    assert {p.name for p in made} >= {"model.pt", "stats.json", "dict.txt", "train.bin", "sampling.json"}
    for produced in made:
        relative = produced.relative_to(tmp_path / "work")
        if produced.name == "stats.json" and relative.parts[0] == "train":
            here, there = read_json(produced), read_json(mini_build["work"] / relative)
            assert (here["provenance"]["settings"]["train"].pop("launcher"),
                    there["provenance"]["settings"]["train"].pop("launcher")) == ("slurm", "local")
            assert here == there
        elif produced.name != "_SUCCESS" or relative.parts[0] != "train":   # train's lists stats.json's sha256
            assert produced.read_bytes() == (mini_build["work"] / relative).read_bytes(), relative
    text = output.read_text(errors="replace")
    assert text.count("cino.sbatch: job") == 3 and "restart=1" in text   # start, restart, done
    print("SLURM preemption timeline (s after submit): " + ", ".join(
        f"{name} {moment - timeline['submitted']:.0f}" for name, moment in timeline.items())
        + f"; resumed at update {resumed_at} of 30")


def test_a_job_whose_data_stages_fail_ends_with_a_non_zero_exit_code(slurm, mini_corpus, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(mini_corpus["CINO_DATA_ROOT"], data)
    manifests = tmp_path / "manifests"
    shutil.copytree(mini_corpus["CINO_MANIFESTS_DIR"], manifests)
    with open(data / "ug" / "maqal.txt", "a", encoding="utf-8") as handle:
        handle.write("ئۆزگەرتىلگەن قۇر\n")   # the file no longer matches its sha256
    env = {"CINO_DATA_ROOT": str(data), "CINO_MANIFESTS_DIR": str(manifests), "CINO_WORK_DIR": str(tmp_path / "work")}
    output = tmp_path / "job.out"
    job = submit(env, output)
    assert wait(lambda: not in_queue(job), 600)
    assert job_field(job, "JobState") == "FAILED"
    assert job_field(job, "ExitCode").split(":")[0] not in ("", "0")
    assert "maqal.txt: sha256 mismatch" in output.read_text(errors="replace")
    assert yaml.safe_load((manifests / "ug.yaml").read_text(encoding="utf-8"))["code"] == "ug"
