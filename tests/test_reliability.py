"""Running as a cluster runs it: two runs without a central scheduler on one work dir, a
central scheduler with racing workers (one killed mid-task), published outputs changed
afterwards, and a full disk."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from common.atomic import SUCCESS, find_damage
from tests.helpers import REPO, build_corpus, error_lines, in_env, luigi_command, run_luigi

TARGET = ["CorpusReport", "--langs", "bo,mn,ug"]
SHARING = ["--worker-keep-alive", "--retcode-already-running", "0", "--retcode-not-run", "0", "--retcode-missing-data", "0"]


def produced(work: Path) -> dict:
    """Every file of every published output (bytes), wall times aside."""
    return {str(p.relative_to(work)): p.read_bytes() for p in sorted(work.rglob("*"))
            if p.is_file() and p.relative_to(work).parts[0] != "timings" and not p.name.endswith(".lock")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small real corpus and one uninterrupted single-worker run of TARGET on it."""
    root = tmp_path_factory.mktemp("reliability")
    env = build_corpus(root, 400)
    done = run_luigi(TARGET, env)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"env": env, "reference": produced(Path(env["CINO_WORK_DIR"]))}


def start(args, env, log: Path) -> subprocess.Popen:
    with open(log, "w") as handle:
        return subprocess.Popen(args, cwd=REPO, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


def assert_nothing_half_published(work: Path) -> None:
    assert not list(work.rglob("*.tmp-*"))
    for marker in work.rglob(SUCCESS):
        assert find_damage(marker.parent) == [], marker.parent


def test_two_runs_without_a_central_scheduler_on_one_work_dir(corpus, tmp_path):
    """Different command lines sharing tasks (Luigi's process lock only refuses identical ones)."""
    env = {**corpus["env"], "CINO_WORK_DIR": str(tmp_path / "work")}
    runs = [start(luigi_command(["CorpusReport", "--langs", langs, "--workers", "2"]), env, tmp_path / f"{i}.log")
            for i, langs in enumerate(("bo,mn,ug", "ug,mn,bo"))]
    assert [run.wait(timeout=900) for run in runs] == [0, 0], [(tmp_path / f"{i}.log").read_text()[-2000:] for i in (0, 1)]
    work = Path(env["CINO_WORK_DIR"])
    assert_nothing_half_published(work)
    assert produced(work) == corpus["reference"]


def test_a_changed_or_truncated_published_file_is_rebuilt_not_trusted(corpus, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(corpus["env"]["CINO_WORK_DIR"], work)
    env = {**corpus["env"], "CINO_WORK_DIR": str(work)}
    (train,) = work.glob("split/mn-*/train.txt")
    (kept,) = work.glob("clean/bo-*/shard-00000/kept.tsv")
    original = train.read_bytes()
    train.write_bytes(original[:-2] + b"X\n")   # same size: only the sha256 tells
    kept.write_bytes(kept.read_bytes()[:1000])   # truncated: complete() sees it at once
    done = subprocess.run([sys.executable, "-m", "pipeline.verify", "--work-dir", work], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 1
    damaged = [line for line in done.stdout.splitlines() if line.startswith("DAMAGED")]
    assert len(damaged) == 2 and any("split/mn-" in line and "train.txt" in line for line in damaged)
    with in_env(env):
        import pipeline

        assert not pipeline.Clean(lang="bo", shard=0).complete()   # sizes: checked on every run
        assert pipeline.Split(lang="mn").complete()                # same size: only pipeline.verify can tell
    subprocess.run([sys.executable, "-m", "pipeline.verify", "--work-dir", work, "--repair"], cwd=REPO, check=False)
    # Outputs built from the good files stay valid (the stages are deterministic); the damaged
    # ones are rebuilt by the next run that needs them.
    for args in (["Split", "--lang", "mn"], ["Clean", "--lang", "bo", "--shard", "0"]):
        done = run_luigi(args, env)
        assert done.returncode == 0 and "Did not run any tasks" not in done.stderr, done.stderr[-3000:]
    assert train.read_bytes() == original
    assert produced(work) == corpus["reference"]


def test_a_full_disk_is_one_clear_error_and_damages_nothing(corpus, tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("a tmpfs cannot be mounted here (needs root): the full-disk case is not exercised")
    try:
        env = {**corpus["env"], "CINO_WORK_DIR": str(mount / "work")}
        done = run_luigi(["Ingest", "--lang", "bo"], env)
        assert done.returncode == 30 and "Traceback" not in done.stderr
        (line,) = [l for l in error_lines(done) if "no space left on device" in l]
        assert "CINO_WORK_DIR" in line
        assert not list((mount / "work").rglob("*.tmp-*")) and not list((mount / "work").rglob(SUCCESS))
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# luigid, pruning dead workers every second: the server looks for them every 60 s (a constant of
# luigi.server.run), and a worker killed mid-task holds its task until then. Its own state file,
# so that no test reads the scheduler state another left.
LUIGID = ("import sys, tornado.ioloop\n"
          "from luigi.cmdline import luigid\n"
          "every = tornado.ioloop.PeriodicCallback\n"
          "tornado.ioloop.PeriodicCallback = lambda callback, ms, *rest: every(callback, min(ms, 1000), *rest)\n"
          "luigid(sys.argv[1:])\n")


@contextmanager
def central_scheduler(tmp_path, **options):
    """luigid on the loopback address that notices a dead worker within seconds ([scheduler] `options`
    added); yields the workers' flags that point at it."""
    port = free_port()
    config = tmp_path / "luigid.cfg"
    settings = {"worker_disconnect_delay": 3, "retry_delay": 1, "remove_delay": 600, **options}
    config.write_text("[scheduler]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()), encoding="utf-8")
    server = subprocess.Popen([sys.executable, "-c", LUIGID, "--address", "127.0.0.1", "--port", str(port),
                               "--logdir", str(tmp_path), "--state-path", str(tmp_path / "luigid-state.pickle")],
                              env={**os.environ, "LUIGI_CONFIG_PATH": str(config)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    try:
        yield ["--scheduler-host", "127.0.0.1", "--scheduler-port", str(port)]
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.fixture
def luigid(tmp_path):
    with central_scheduler(tmp_path) as flags:
        yield flags


def worker(scheduler: list, target: list = TARGET) -> list:
    """A worker as on a cluster node (cino.sbatch): it waits for tasks other workers hold instead of
    leaving, and tasks that others ran are no failure (`--no-lock`: here the "nodes" share one
    machine, where Luigi refuses identical command lines)."""
    return [str(Path(sys.executable).parent / "luigi"), "--module", "pipeline", *target, "--workers", "1",
            *SHARING, "--worker-wait-interval", "0.5", "--no-lock", *scheduler]


def test_racing_workers_under_a_central_scheduler_run_every_task_once(corpus, luigid, tmp_path):
    env = {**corpus["env"], "CINO_WORK_DIR": str(tmp_path / "work")}
    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    workers = [start(worker(luigid), env, log) for log in logs]
    codes = [w.wait(timeout=900) for w in workers]
    assert codes == [0, 0, 0], (codes, [log.read_text()[-1500:] for log in logs])
    ran = [line.split(" done ", 1)[1].strip() for log in logs for line in log.read_text().splitlines()
           if ") done   " in line]
    assert len(ran) == len(set(ran)) > 10   # every task once, spread over the workers
    assert sum(1 for log in logs if ") done   " in log.read_text()) >= 2
    assert produced(Path(env["CINO_WORK_DIR"])) == corpus["reference"]


def test_a_worker_killed_mid_task_is_replaced_and_nothing_is_half_published(corpus, luigid, tmp_path):
    env = {**corpus["env"], "CINO_WORK_DIR": str(tmp_path / "work")}
    victim = start(worker(luigid), env, tmp_path / "victim.log")
    deadline = time.time() + 300
    while time.time() < deadline and " running   Clean(" not in (tmp_path / "victim.log").read_text():
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)   # the worker and the task it runs, mid-task
    victim.wait()
    survivor = start(worker(luigid), env, tmp_path / "survivor.log")
    assert survivor.wait(timeout=900) == 0, (tmp_path / "survivor.log").read_text()[-2000:]
    work = Path(env["CINO_WORK_DIR"])
    assert_nothing_half_published(work)
    assert produced(work) == corpus["reference"]


def test_two_runs_with_other_settings_on_one_central_scheduler_each_make_their_own_output(corpus, luigid, tmp_path):
    """A sweep over a setting: the scheduler must not merge the runs' tasks (a task's id carries its
    fingerprint), and each job exits 0 only with its own report written."""
    env = {**corpus["env"], "CINO_WORK_DIR": str(tmp_path / "work")}
    runs = {chars: start(worker(luigid, ["CorpusReport", "--langs", "ug,kk", "--filters-min-chars", chars]), env,
                         tmp_path / f"min-chars-{chars}.log") for chars in ("10", "40")}
    codes = {chars: run.wait(timeout=900) for chars, run in runs.items()}
    assert codes == {"10": 0, "40": 0}, [(tmp_path / f"min-chars-{c}.log").read_text()[-2000:] for c in runs]
    reports = sorted((tmp_path / "work").glob("corpus_report/kk_ug-*/corpus.csv"))
    assert len(reports) == 2 and reports[0].read_bytes() != reports[1].read_bytes()
    assert len(list((tmp_path / "work").glob("langid_model/*/" + SUCCESS))) == 1   # what both read is made once
    assert_nothing_half_published(tmp_path / "work")


def test_a_job_whose_target_was_not_made_exits_non_zero_whatever_the_sharing_flags(tmp_path):
    """Worker A fails a task (every line of a language rejected) and the scheduler disables it;
    worker B, asked for the same target, has nothing it may run. Luigi's summary calls that "not
    run", which the sharing flags map to 0: B must still fail, naming its target."""
    korean_as_tibetan = {"code": "xbo", "name": "mislabelled", "script": "Tibt",
                         "sources": [{"id": "law", "path": "ko/konlpy-law.txt", "format": "txt",
                                      "license": "GPL-3.0+", "origin": "konlpy"}]}
    env = build_corpus(tmp_path, 200, extra_manifests={"xbo": korean_as_tibetan})
    with central_scheduler(tmp_path, retry_count=1) as scheduler:
        command = worker(scheduler, ["CorpusReport", "--langs", "xbo"])
        first, second = (subprocess.run(command, cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True,
                                        timeout=600) for _ in range(2))
    assert first.returncode == second.returncode == 30, second.stderr[-2000:]
    (line,) = [line for line in error_lines(second) if "was asked for and is not complete" in line]
    assert line.startswith("ERROR: CorpusReport(langs=xbo) ") and "corpus_report/xbo-" in line and "; fix: " in line
