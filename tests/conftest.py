"""Shared fixtures: real data from ../shared, small real-data corpora, isolated work dirs.

Tests never download anything. `mini_corpus` copies the first lines of every shipped
source (real text) with manifests rewritten to the copies' sha256, so the whole corpus
half runs in seconds; `make_corpus` builds such a tree with extra languages or changes.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import luigi
import pytest
import yaml

from common.fingerprint import sha256_file

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


def run_luigi(args, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    """The user's command line, in a subprocess, from the repository root."""
    full_env = {**os.environ, **env}
    command = [str(Path(sys.executable).parent / "luigi"), "--module", "pipeline", *args, "--local-scheduler"]
    return subprocess.run(command, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout)


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
