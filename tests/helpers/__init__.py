"""Helpers shared by the tests (fixtures live in conftest.py): paths to the real data,
small real-data corpus trees, the user's command line, and in-process builds."""
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

import luigi
import pytest
import yaml

from common.fingerprint import sha256_file
from common.jsonio import open_text
from corpus.sample import sample_corpus

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
MANIFESTS = REPO / "corpora_manifests"
DATA_ROOT = SHARED / "corpora"
TESTS_DATA = REPO / "tests" / "data"
BASE_SPM = SHARED / "base" / "xlmr" / "sentencepiece.bpe.model"


def unescape(text: str) -> str:
    """Golden files write invisible characters as \\uXXXX and tabs as \\t."""
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return text.replace("\\t", "\t")


def real_lines(relative: str, n: int, min_chars: int = 1) -> list:
    """The first `n` lines of at least `min_chars` characters of a shared corpus file."""
    with open_text(DATA_ROOT / relative) as handle:
        lines = (line.rstrip("\n") for line in handle)
        return list(itertools.islice((line for line in lines if len(line) >= min_chars), n))


def build_corpus(root: Path, max_lines: int, extra_manifests: dict = None, extra_files: dict = None,
                 scripts_extra: dict = None) -> dict:
    """The shipped manifests over the first `max_lines` lines of every source (corpus.sample), plus
    extra_manifests ({code: manifest dict} whose sources' `path` are keys of extra_files
    ({relative path: bytes}); their sha256 is filled in) and scripts_extra (entries added to
    scripts.yaml); returns the environment that points the pipeline at it (work dir root/work)."""
    env = sample_corpus(root, MANIFESTS, DATA_ROOT, lines=max_lines)
    data, manifests = Path(env["CINO_DATA_ROOT"]), Path(env["CINO_MANIFESTS_DIR"])
    if scripts_extra:
        scripts = yaml.safe_load((manifests / "scripts.yaml").read_text(encoding="utf-8"))
        (manifests / "scripts.yaml").write_text(yaml.safe_dump({**scripts, **scripts_extra}, allow_unicode=True),
                                                encoding="utf-8")
    for rel, content in (extra_files or {}).items():
        target = data / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    for code, doc in (extra_manifests or {}).items():
        for source in doc["sources"]:
            if "sha256" not in source and (data / source["path"]).exists():
                source["sha256"] = sha256_file(data / source["path"])
        (manifests / f"{code}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return env


def copy_corpus(env: dict, root: Path) -> dict:
    """A copy of the data and manifests `env` points at, for a test that changes them (work dir unset)."""
    copies = {"CINO_DATA_ROOT": root / "data", "CINO_MANIFESTS_DIR": root / "manifests"}
    for key, target in copies.items():
        shutil.copytree(env[key], target)
    return {key: str(target) for key, target in copies.items()}


def kyrgyz_corpus(root: Path, max_lines: int, tokenizer: dict) -> dict:
    """build_corpus plus Kyrgyz in Cyrillic (real Debian message catalogues), added as data only:
    one manifest and a `Cyrl` scripts.yaml entry with the given `tokenizer:` section."""
    cyrillic = {"Cyrl": {"name": "Cyrillic", "ranges": ["0400-04FF", "0500-052F"], "normalization": ["nfc"],
                         "keep_format": [], "shingle": 3, "tokenizer": tokenizer}}
    ky = {"code": "ky", "name": "Kyrgyz", "script": "Cyrl", "lid": {"threshold": 0.5},
          "sources": [{"id": "gettext-ui", "path": "ky/gettext-ui.txt", "format": "txt", "markup": ["gettext"],
                       "license": "GPL-3+ (tar, grep) and others, see tests/data/ky/SOURCES.md",
                       "origin": "Debian 12 message catalogues"}]}
    files = {"ky/gettext-ui.txt": (TESTS_DATA / "ky" / "gettext-ui.txt").read_bytes()}
    return build_corpus(root, max_lines, extra_manifests={"ky": ky}, extra_files=files, scripts_extra=cyrillic)


# Luigi refuses a command line another process on this machine runs (a pid file per command in
# its lock directory): each pytest-xdist worker keeps its own, so two test files never meet there.
LOCKS = Path(tempfile.gettempdir()) / f"cino-test-luigi-locks-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def luigi_command(args) -> list:
    """The user's command line (`luigi --module pipeline ... --local-scheduler`) from this venv."""
    return [str(Path(sys.executable).parent / "luigi"), "--module", "pipeline", *args, "--local-scheduler",
            "--lock-pid-dir", str(LOCKS)]


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


def _arabic_forms() -> dict:
    """{(letter, form): presentation form} for every single-letter form in FB50-FDFF, FE70-FEFE."""
    forms = {}
    for cp in [*range(0xFB50, 0xFE00), *range(0xFE70, 0xFEFF)]:
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and parts[0] in ("<isolated>", "<final>", "<initial>", "<medial>"):
            forms.setdefault((chr(int(parts[1], 16)), parts[0][1:-1]), chr(cp))
    return forms


_FORMS = _arabic_forms()


def presentation_forms(text: str) -> str:
    """Arabic-script text written with contextual presentation forms, as older web text has it."""
    joins_next = lambda ch: (ch, "initial") in _FORMS  # noqa: E731  (dual-joining letters)
    has_forms = lambda ch: (ch, "isolated") in _FORMS or (ch, "final") in _FORMS  # noqa: E731
    out = []
    for i, ch in enumerate(text):
        before = i > 0 and joins_next(text[i - 1])
        after = i + 1 < len(text) and has_forms(text[i + 1])
        for form in (("medial",) if before and after else ()) + (("final",) if before else ()) \
                + (("initial",) if after else ()) + ("isolated",):
            if (ch, form) in _FORMS:
                out.append(_FORMS[(ch, form)])
                break
        else:
            out.append(ch)
    return "".join(out)
