"""Short content fingerprints for stage settings and inputs.

A stage's output directory carries the fingerprint of its significant settings plus its
inputs' fingerprints, so a changed threshold gives a new directory and reruns exactly
what depends on it instead of silently reusing stale output.
"""
import hashlib
import json


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
