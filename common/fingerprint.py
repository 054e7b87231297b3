"""Short content fingerprints for stage settings and inputs.

A stage's output directory carries the fingerprint of its significant settings plus its
inputs' fingerprints, so a changed threshold gives a new directory and reruns exactly
what depends on it instead of silently reusing stale output.
"""
import hashlib
import json
import os
from pathlib import Path


def fingerprint(*parts, length: int = 12) -> str:
    """Hash any JSON-serialisable parts into a short hex string (order of dict keys ignored)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


def sha256_file(path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


_MEMO = {}   # (path, size, mtime, inode) -> sha256, for this process


def sha256_cached(path, beside: bool = True) -> str:
    """The sha256 of a file the user provides (a base model of gigabytes), computed once for its
    size, mtime and inode: kept for this process and, with `beside`, in `<file>.sha256` beside it,
    so that a finished run checks it in milliseconds, and a copy (a new inode and mtime) or a
    changed file is hashed again. Where the directory is read-only it is kept for this process."""
    path = Path(path)
    stat = path.stat()
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}
    key = (str(path.resolve()), *stamp.values())
    if key in _MEMO:
        return _MEMO[key]
    cache = path.with_name(path.name + ".sha256")
    digest = _recorded(cache, stamp) if beside else None
    if digest is None:
        digest = sha256_file(path)
        if beside:
            _record(cache, stamp, digest)
    _MEMO[key] = digest
    return digest


def _recorded(cache: Path, stamp: dict):
    try:
        recorded = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    matches = isinstance(recorded, dict) and {k: recorded.get(k) for k in stamp} == stamp
    return recorded.get("sha256") if matches else None


def _record(cache: Path, stamp: dict, digest: str) -> None:
    tmp = cache.with_name(f"{cache.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps({**stamp, "sha256": digest}), encoding="utf-8")
        os.replace(tmp, cache)
    except OSError:   # a read-only directory: the next process hashes the file again
        tmp.unlink(missing_ok=True)
