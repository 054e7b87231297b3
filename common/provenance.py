"""How an output was made, beside what it is made of: the commit of this checkout and the versions
of the packages that shape what the stages write. Every stage's stats.json holds them with all the
settings it ran with (the fingerprint holds only what can change a result), so that months later
one can say exactly how a model was made. Asked once per process."""
import functools
import subprocess
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Distributions (not import names: fairseq and fasttext are installed as these builds).
PACKAGES = ("torch", "fairseq-fixed", "sentencepiece", "fasttext-numpy2", "transformers")


@functools.lru_cache(maxsize=None)
def checkout() -> dict:
    """{commit, modified}: HEAD of this checkout and whether tracked files differ from it."""
    def git(*args):
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=60)

    try:
        head = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "modified": None}
    return {"commit": head.stdout.strip() or None, "modified": bool(changed) if head.returncode == 0 else None}


@functools.lru_cache(maxsize=None)
def packages() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance_markdown(record: dict) -> str:
    """The model card's section: the commit and the package versions of a stage's stats.json."""
    commit = record.get("commit") or "unknown (not a git checkout)"
    state = " (with uncommitted changes)" if record.get("modified") else ""
    versions = ", ".join(f"{name} {version}" for name, version in record["packages"].items())
    return f"## How it was made\n\nPipeline commit `{commit}`{state}; {versions}.\n"
