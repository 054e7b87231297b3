"""Fixtures: real data from ../shared, small real-data corpora, isolated work dirs.

Tests never download anything. `mini_corpus` copies the first lines of every shipped
source (real text) with manifests rewritten to the copies' sha256, so the whole corpus
half runs in seconds. Helpers shared by test modules are in tests/helpers.py.
"""
import os
import time
from pathlib import Path

TEST_CONFIG = Path(__file__).resolve().parent / "luigi-test.cfg"
os.environ["LUIGI_CONFIG_PATH"] = str(TEST_CONFIG)  # read by luigi.configuration at import

import pytest  # noqa: E402

from tests.helpers import DATA_ROOT, MANIFESTS, SHARED, build_corpus, run_luigi  # noqa: E402


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
