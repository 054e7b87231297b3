"""Fixtures: real data from ../shared, small real-data corpora, isolated work dirs.

Tests never download anything. `mini_corpus` copies the first lines of every shipped
source (real text) with manifests rewritten to the copies' sha256, so the whole corpus
half runs in seconds. A session build (`mini_build`) is made once; a test that runs
anything on it works on its own clone (tests/helpers/workdirs.py), and the build's teardown
fails if any file of it changed. The terminal summary lists what each session or module
fixture took to build, since pytest counts it in the setup of the first test that uses it.
Helpers shared by test modules are in tests/helpers/.
"""
import os
import time
from pathlib import Path

TEST_CONFIG = Path(__file__).resolve().parent / "luigi-test.cfg"
os.environ["LUIGI_CONFIG_PATH"] = str(TEST_CONFIG)  # read by luigi.configuration at import

import pytest  # noqa: E402

from tests.helpers import DATA_ROOT, MANIFESTS, SHARED, build_corpus, kyrgyz_corpus, run_luigi  # noqa: E402
from tests.helpers.workdirs import changes, snapshot  # noqa: E402

class FixtureTimes:
    """Reports the session and module fixtures that took a second or more to build. A plugin, not
    conftest hooks: pytest asks a conftest below the rootdir only about the fixtures of its own
    directory's nodes, and session fixtures belong to the session."""

    def __init__(self):
        self.seconds = {}   # "scope fixture (first used by test)": seconds

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        started = time.time()
        yield
        seconds = time.time() - started
        if fixturedef.scope in ("session", "module") and seconds >= 1.0:
            self.seconds[f"{fixturedef.scope} {fixturedef.argname} (first used by {request._pyfuncitem.nodeid})"] = seconds

    def pytest_terminal_summary(self, terminalreporter):
        if self.seconds:
            terminalreporter.write_sep("=", "shared fixtures, built once (in the setup time of their first test)")
            for name, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]):
                terminalreporter.write_line(f"{seconds:8.2f}s {name}")


def pytest_configure(config):
    config.pluginmanager.register(FixtureTimes(), "cino-fixture-times")


def unchanged(build: dict):
    """Teardown of a shared build: no test may have written into it."""
    before = snapshot(build["work"])
    yield build
    changed = changes(before, build["work"])
    assert not changed, f"a test changed the shared build {build['work']} (clone it first): {changed[:10]}"


@pytest.fixture(scope="session")
def mini_corpus(tmp_path_factory) -> dict:
    """The shipped manifests over the first 1,500 lines of every source (real text)."""
    return build_corpus(tmp_path_factory.mktemp("mini"), 1500)


@pytest.fixture(scope="session")
def mini_build(mini_corpus) -> dict:
    """One uninterrupted `BuildCINO --lang bo,mn,ug` on the mini corpus (test profiles). Read it;
    to run anything on it, clone it (tests.helpers.workdirs.clone_build)."""
    started = time.time()
    done = run_luigi(["BuildCINO", "--lang", "bo,mn,ug", "--workers", "2"], mini_corpus)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield from unchanged({"env": mini_corpus, "seconds": time.time() - started, "output": done.stdout + done.stderr,
                          "work": Path(mini_corpus["CINO_WORK_DIR"])})


# Kyrgyz in Cyrillic with a tokenizer of its own: XLM-R already encodes every Cyrillic letter, so
# the pieces are added only by this deliberate opt-in (tests/test_vocab_pipeline.py).
KYRGYZ_TOKENIZER = {"own_model": True, "vocab_size": 1000, "add_base_encodable_pieces": True}


@pytest.fixture(scope="session")
def kyrgyz_build(tmp_path_factory) -> dict:
    """`BuildCINO --lang ky,mn` with Kyrgyz added as data only (one manifest, one scripts.yaml
    entry) on 300 lines of every source."""
    env = kyrgyz_corpus(tmp_path_factory.mktemp("kyrgyz"), 300, KYRGYZ_TOKENIZER)
    done = run_luigi(["BuildCINO", "--lang", "ky,mn", "--workers", "2"], env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield from unchanged({"env": env, "output": done.stdout + done.stderr, "work": Path(env["CINO_WORK_DIR"])})


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
