"""Atomic, locked, verifiable stage outputs.

A stage writes into a temporary sibling directory and renames it into place as its very
last step, after writing `_SUCCESS`, which lists every file it holds with its size and
sha256. So:
- a stage killed at any moment leaves either nothing or a `*.tmp-*` directory that never
  looks complete;
- two processes writing the same output (two `--local-scheduler` runs of overlapping
  commands, a user's resubmission) never meet: each takes an exclusive lock on
  `<output>.lock` (fcntl: released by the kernel when the process dies, however it dies)
  before it cleans leftovers or writes, and the second, once it gets the lock, finds the
  output complete and does nothing;
- an output whose files were changed afterwards (a bad disk, a user's edit) is not trusted:
  `is_complete` compares every file's size on each call (cheap), `find_damage` every sha256.
"""
import errno
import fcntl
import logging
import os
import shutil
import socket
import uuid
from contextlib import contextmanager
from pathlib import Path

from common.errors import InputError
from common.fingerprint import sha256_file
from common.jsonio import dumps, read_json

SUCCESS = "_SUCCESS"
log = logging.getLogger("luigi-interface")


def _listing(directory: Path) -> dict:
    return {str(p.relative_to(directory)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != SUCCESS}


def _recorded(path: Path):
    """The `_SUCCESS` listing, or None where there is none (or it is not one: older or damaged)."""
    try:
        listing = read_json(path / SUCCESS)
    except (OSError, ValueError):
        return None
    if not isinstance(listing, dict) or not all(isinstance(v, dict) and {"bytes", "sha256"} <= v.keys() for v in listing.values()):
        return None
    return listing


def recorded_files(path) -> dict:
    """{file: {"bytes", "sha256"}} that the `_SUCCESS` of a published output lists; {} if none."""
    return _recorded(Path(path)) or {}


def is_complete(path) -> bool:
    """Published, and every listed file still has its recorded size."""
    path = Path(path)
    listing = _recorded(path)
    if listing is None:
        return False
    try:
        return all((path / name).stat().st_size == entry["bytes"] for name, entry in listing.items())
    except OSError:
        return False


def find_damage(path) -> list:
    """What is wrong with a published output: missing, changed or unlisted files (empty: nothing)."""
    path = Path(path)
    listing = _recorded(path)
    if listing is None:
        return [f"{path / SUCCESS}: missing or not a file listing"]
    problems = []
    for name, entry in sorted(listing.items()):
        file = path / name
        if not file.is_file():
            problems.append(f"{file}: missing")
        elif file.stat().st_size != entry["bytes"] or sha256_file(file) != entry["sha256"]:
            problems.append(f"{file}: changed since it was written (size or sha256)")
    problems += [f"{p}: not written by the stage" for p in sorted(path.rglob("*"))
                 if p.is_file() and p.name != SUCCESS and str(p.relative_to(path)) not in listing]
    return problems


@contextmanager
def output_lock(final):
    """Hold the exclusive lock of one output (waits for another process that holds it). The
    holder writes its host and pid into the lock file, so a wait names whom it waits for.
    The lock is only as good as the file system's flock: on a cluster, the work dir must be on
    one whose locks every node sees (NFSv4, or Lustre/BeeGFS mounted with global flock)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.with_name(final.name + ".lock"), "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            log.info("Waiting for %s, which is writing %s", holder, final)
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as exc:   # ENOLCK, EOPNOTSUPP, ENOSYS: a file system without flock
            raise InputError(final.parent, f"the file system does not support file locks ({exc.strerror})",
                             "put the work dir ([cino] work_dir, CINO_WORK_DIR) on a file system with flock "
                             "locks that every node sees (NFSv4; Lustre or BeeGFS mounted with flock)") from exc
        handle.truncate(0)
        handle.write(f"{socket.gethostname()} pid {os.getpid()}\n")
        handle.flush()
        yield


@contextmanager
def atomic_dir(final):
    """Yield a fresh temporary directory; on success it becomes `final`, on failure it is removed.
    Call it holding `output_lock(final)`: leftovers of dead writers are removed here."""
    final = Path(final)
    for stale in final.parent.glob(final.name + ".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = final.parent / f"{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        (tmp / SUCCESS).write_text(dumps(_listing(tmp)), encoding="utf-8")
        if final.exists():   # an output that is not (or no longer) complete: replaced
            shutil.rmtree(final)
        os.rename(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno == errno.ENOSPC:
            raise InputError(final.parent, "no space left on device while writing the stage's output",
                             "free space, or point [cino] work_dir (CINO_WORK_DIR) at a larger file system; "
                             "run the same command again to resume") from exc
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
