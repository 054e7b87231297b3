"""Shared fixtures: real data from ../shared, small real-data corpora, isolated work dirs.

Tests never download anything. `mini_corpus` copies the first lines of every shipped
source (real text) with manifests rewritten to the copies' sha256, so the whole corpus
half runs in seconds; `make_corpus` builds such a tree with extra languages or changes.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

TEST_CONFIG = Path(__file__).resolve().parent / "luigi-test.cfg"
os.environ["LUIGI_CONFIG_PATH"] = str(TEST_CONFIG)  # read by luigi.configuration at import

import luigi  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from common.fingerprint import sha256_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MANIFESTS = REPO / "corpora_manifests"
DATA_ROOT = SHARED / "corpora"
TESTS_DATA = REPO / "tests" / "data"


def build_corpus(root: Path, max_lines: int, extra_manifests: dict = None, extra_files: dict = None,
                 scripts_extra: dict = None) -> dict:
    """Real text, truncated to `max_lines` per source, under root/data with manifests under root/manifests.

    extra_manifests: {code: manifest dict} whose sources' `path` are keys of extra_files
    ({relative path: bytes}); their sha256 is filled in. scripts_extra: entries added to scripts.yaml.
    """
    data, manifests = root / "data", root / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    scripts = yaml.safe_load((MANIFESTS / "scripts.yaml").read_text(encoding="utf-8"))
    scripts.update(scripts_extra or {})
    (manifests / "scripts.yaml").write_text(yaml.safe_dump(scripts, allow_unicode=True), encoding="utf-8")
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name == "scripts.yaml":
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for source in doc["sources"]:
            target = data / source["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(DATA_ROOT / source["path"], "rb") as src, open(target, "wb") as out:
                for i, line in enumerate(src):
                    if i >= max_lines:
                        break
                    out.write(line)
            source["sha256"] = sha256_file(target)
        (manifests / path.name).write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    for rel, content in (extra_files or {}).items():
        target = data / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    for code, doc in (extra_manifests or {}).items():
        for source in doc["sources"]:
            if "sha256" not in source and (data / source["path"]).exists():
                source["sha256"] = sha256_file(data / source["path"])
        (manifests / f"{code}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return {"CINO_DATA_ROOT": str(data), "CINO_MANIFESTS_DIR": str(manifests), "CINO_WORK_DIR": str(root / "work")}


@pytest.fixture
def cino_env(monkeypatch):
    """Point the pipeline at a corpus tree (env vars) for in-process luigi runs; clears luigi's caches."""

    def apply(env: dict) -> dict:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        luigi.task_register.Register.clear_instance_cache()
        return env

    yield apply
    luigi.task_register.Register.clear_instance_cache()


@pytest.fixture(scope="session")
def mini_corpus(tmp_path_factory) -> dict:
    """The shipped manifests over the first 1,500 lines of every source (real text)."""
    return build_corpus(tmp_path_factory.mktemp("mini"), 1500)


@pytest.fixture(scope="session")
def mini_build(mini_corpus) -> dict:
    """One uninterrupted `BuildCINO --lang bo,mn,ug` on the mini corpus (test profiles)."""
    started = time.time()
    done = run_luigi(["BuildCINO", "--lang", "bo,mn,ug", "--workers", "2"], mini_corpus)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"env": mini_corpus, "seconds": time.time() - started, "output": done.stdout + done.stderr,
            "work": Path(mini_corpus["CINO_WORK_DIR"])}


def run_luigi(args, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    """The user's command line, in a subprocess, from the repository root."""
    full_env = {**os.environ, **env}
    command = [str(Path(sys.executable).parent / "luigi"), "--module", "pipeline", *args, "--local-scheduler"]
    return subprocess.run(command, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout)




class in_env:
    """Context manager: environment variables set for in-process luigi builds and task queries."""

    def __init__(self, env: dict):
        self.env, self.patch = env, pytest.MonkeyPatch()

    def __enter__(self):
        for key, value in self.env.items():
            self.patch.setenv(key, value)
        luigi.task_register.Register.clear_instance_cache()
        return self.env

    def __exit__(self, *exc):
        self.patch.undo()
        luigi.task_register.Register.clear_instance_cache()


def build(tasks, env: dict) -> None:
    """luigi.build in this process, failing the test if any task fails."""
    with in_env(env):
        assert luigi.build(tasks, local_scheduler=True, workers=1, log_level="WARNING")


@pytest.fixture(scope="session")
def full_env(tmp_path_factory) -> dict:
    """The shipped manifests over the full shared corpora, in a session work dir."""
    return {"CINO_WORK_DIR": str(tmp_path_factory.mktemp("full-work")), "CINO_DATA_ROOT": str(DATA_ROOT),
            "CINO_MANIFESTS_DIR": str(MANIFESTS)}


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A stand-in base model (XLM-R's real vocabulary, one tiny layer, 4 updates) from real text."""
    from training.standin import StandInSettings, build_standin

    root = tmp_path_factory.mktemp("tiny-base")
    out, scratch = root / "model", root / "scratch"
    out.mkdir()
    scratch.mkdir()
    sources = [DATA_ROOT / p for p in ("zh/peoples-daily-1998.txt", "ko/klue-nli-premises.txt", "ug/maqal.txt")]
    settings = StandInSettings(layers=1, embed_dim=16, ffn_dim=32, heads=1, tokens_per_sample=64, batch_size=4,
                               max_update=4, warmup=1, lines_per_language=300)
    build_standin(SHARED / "base" / "xlmr", sources, sources, out, scratch, settings)
    return out
