"""Atomic stage outputs.

A stage writes into a temporary sibling directory and renames it into place as its very
last step, after writing `_SUCCESS` (which lists the sha256 of every file it holds).
A stage killed at any moment therefore leaves either nothing or a `*.tmp-*` directory
that never looks complete; the next attempt removes such leftovers and starts over.
"""
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

from common.fingerprint import sha256_file
from common.jsonio import dumps

SUCCESS = "_SUCCESS"


def is_complete(path) -> bool:
    return (Path(path) / SUCCESS).is_file()


def _listing(directory: Path) -> dict:
    return {
        str(p.relative_to(directory)): sha256_file(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != SUCCESS
    }


@contextmanager
def atomic_dir(final):
    """Yield a fresh temporary directory; on success it becomes `final`, on failure it is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(final.name + ".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = final.parent / f"{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        (tmp / SUCCESS).write_text(dumps(_listing(tmp)), encoding="utf-8")
        if final.exists() and not is_complete(final):
            shutil.rmtree(final)
        if final.exists():  # another worker finished the same deterministic output first
            shutil.rmtree(tmp)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
