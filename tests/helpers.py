"""Helpers shared by the tests (fixtures live in conftest.py): paths to the real data,
small real-data corpus trees, the user's command line, and in-process builds."""
import itertools
import os
import subprocess
import sys
from pathlib import Path

import luigi
import pytest
import yaml

from common.fingerprint import sha256_file
from common.jsonio import open_text

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MANIFESTS = REPO / "corpora_manifests"
DATA_ROOT = SHARED / "corpora"
TESTS_DATA = REPO / "tests" / "data"
BASE_SPM = SHARED / "base" / "xlmr" / "sentencepiece.bpe.model"


def real_lines(relative: str, n: int, min_chars: int = 1) -> list:
    """The first `n` lines of at least `min_chars` characters of a shared corpus file."""
    with open_text(DATA_ROOT / relative) as handle:
        lines = (line.rstrip("\n") for line in handle)
        return list(itertools.islice((line for line in lines if len(line) >= min_chars), n))


def build_corpus(root: Path, max_lines: int, extra_manifests: dict = None, extra_files: dict = None,
                 scripts_extra: dict = None) -> dict:
    """Real text, truncated to `max_lines` per source, under root/data with manifests under root/manifests;
    returns the environment that points the pipeline at it (work dir root/work).

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
                out.writelines(itertools.islice(src, max_lines))
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


def luigi_command(args) -> list:
    """The user's command line (`luigi --module pipeline ... --local-scheduler`) from this venv."""
    return [str(Path(sys.executable).parent / "luigi"), "--module", "pipeline", *args, "--local-scheduler"]


def run_luigi(args, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    """The user's command line, in a subprocess, from the repository root."""
    return subprocess.run(luigi_command(args), cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout)


def error_lines(done: subprocess.CompletedProcess) -> list:
    """The one-line `ERROR: ...` messages a luigi run printed."""
    return [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("ERROR: ")]


class in_env:
    """Context manager: environment variables set for in-process luigi builds and task queries
    (luigi's instance cache cleared on the way in and out)."""

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
