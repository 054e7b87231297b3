"""Work dirs shared by many tests: a finished build is made once per session and every test that
runs anything on it gets its own clone; a snapshot proves at the end that no test changed it.

Published stage outputs are never written in place (a stage writes a temporary sibling and
renames it; an output found damaged is replaced, not edited), so a clone hardlinks their files
and costs next to nothing. What is written in place is copied (a resumable stage's `.run` dir,
where fairseq rewrites checkpoint_last.pt and appends to train.log) or left out (lock files,
which each holder rewrites, and wall times, which are written again)."""
import os
import shutil
from pathlib import Path

IN_PLACE = ("timings",)   # top-level dirs rewritten in place: left out of clones


CORPUS_HALF = ("ingest", "langid_model", "langid", "clean", "dedup", "decontaminate", "split")


def clone_work(source: Path, target: Path, leave_out=(), only=None) -> Path:
    """`source` (a work dir) under `target`: files hardlinked, `.run` dirs copied; lock files,
    temporary dirs, wall times and the top-level stages in `leave_out` or not in `only` left out."""
    target.mkdir(parents=True, exist_ok=True)
    for stage in sorted(source.iterdir()):
        if stage.name in IN_PLACE or stage.name in leave_out or (only and stage.name not in only) or not stage.is_dir():
            continue
        for entry in sorted(stage.iterdir()):
            if entry.suffix == ".lock" or ".tmp-" in entry.name:
                continue
            copy = shutil.copy2 if entry.name.endswith(".run") else os.link
            if entry.is_dir():   # shard outputs have lock files of their own
                shutil.copytree(entry, target / stage.name / entry.name, symlinks=True, copy_function=copy,
                                ignore=shutil.ignore_patterns("*.lock", "*.tmp-*"))
            else:
                (target / stage.name).mkdir(exist_ok=True)
                copy(entry, target / stage.name / entry.name)
    return target


def snapshot(root: Path) -> dict:
    """{relative path: (size, mtime)} of every file: a write through any hardlink changes it."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() or p.is_symlink()}


def changes(before: dict, root: Path) -> list:
    """What differs from `before` under `root`: files added, removed or written."""
    after = snapshot(root)
    return sorted({*[f"added {p}" for p in after.keys() - before.keys()],
                   *[f"removed {p}" for p in before.keys() - after.keys()],
                   *[f"changed {p}" for p in before.keys() & after.keys() if before[p] != after[p]]})


def clone_build(build: dict, target: Path, leave_out=(), only=None) -> dict:
    """The environment of a session build (conftest's `mini_build`) with a clone of its work dir."""
    return {**build["env"], "CINO_WORK_DIR": str(clone_work(build["work"], target, leave_out, only))}
