"""Fixtures: real data from ../shared, small real-data corpora, isolated work dirs.

Tests never download anything. `mini_corpus` copies the first lines of every shipped
source (real text) with manifests rewritten to the copies' sha256, so the whole corpus
half runs in seconds. A session build (`mini_build`, `kyrgyz_build`) is made once, by one
pytest-xdist worker while the others wait for it (`once`); a test that runs anything on it
works on its own clone (tests/helpers/workdirs.py), and the build's teardown fails if any file
of it changed. The terminal summary lists what each session or module fixture took to set up,
since pytest counts it in the setup of the first test that uses it.
Helpers shared by test modules are in tests/helpers/.
"""
import os
import shutil
import time
from pathlib import Path

TEST_CONFIG = Path(__file__).resolve().parent / "luigi-test.cfg"
os.environ["LUIGI_CONFIG_PATH"] = str(TEST_CONFIG)  # read by luigi.configuration at import

import pytest  # noqa: E402
from filelock import FileLock  # noqa: E402

from common.jsonio import read_json, write_json  # noqa: E402
from tests.helpers import DATA_ROOT, MANIFESTS, SHARED, build_corpus, kyrgyz_corpus, run_luigi  # noqa: E402
from tests.helpers.workdirs import changes, snapshot  # noqa: E402


class FixtureTimes:
    """Reports the session and module fixtures that took a second or more to set up. A plugin, not
    conftest hooks: pytest asks a conftest below the rootdir only about the fixtures of its own
    directory's nodes, and session fixtures belong to the session. The time travels in the first
    test's report (user_properties), so that under pytest-xdist the controller prints it too."""

    def __init__(self):
        self.seconds = {}   # "scope fixture (worker, first used by test)": seconds

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        started = time.time()
        yield
        seconds = time.time() - started
        if fixturedef.scope in ("session", "module") and seconds >= 1.0:
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            name = f"{fixturedef.scope} {fixturedef.argname} ({worker}, first used by {request._pyfuncitem.nodeid})"
            request._pyfuncitem.user_properties.append(("fixture_setup_seconds", (name, seconds)))

    def pytest_runtest_logreport(self, report):
        for key, value in report.user_properties:
            if key == "fixture_setup_seconds":
                self.seconds[value[0]] = value[1]

    def pytest_terminal_summary(self, terminalreporter):
        if self.seconds:
            terminalreporter.write_sep("=", "shared fixtures: set-up time (inside the setup time of their first test; "
                                            "a worker that waited for another's build counts the wait)")
            for name, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]):
                terminalreporter.write_line(f"{seconds:8.2f}s {name}")


def pytest_configure(config):
    config.pluginmanager.register(FixtureTimes(), "cino-fixture-times")


def once(tmp_path_factory, name: str, make) -> dict:
    """What `make(directory)` returns (JSON), made once per session in a directory every pytest-xdist
    worker sees: the first worker to get here makes it, the others wait for it and reuse it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent   # the session's base temp, above the workers' own
    directory, made = root / name, root / f"{name}.json"
    with FileLock(str(root / f"{name}.lock")):
        if not made.exists():
            shutil.rmtree(directory, ignore_errors=True)   # a worker that died while making it
            directory.mkdir()
            write_json(made, make(directory))
    return read_json(made)


def unchanged(build: dict):
    """Teardown of a shared build: no test may have written into it, nor into its corpus."""
    roots = [build["work"], Path(build["env"]["CINO_DATA_ROOT"]), Path(build["env"]["CINO_MANIFESTS_DIR"])]
    before = [snapshot(root) for root in roots]
    yield build
    changed = [change for root, files in zip(roots, before) for change in changes(files, root)]
    assert not changed, f"a test changed the shared build {build['work']} or its corpus (copy it first): {changed[:10]}"


@pytest.fixture(scope="session")
def mini_corpus(tmp_path_factory) -> dict:
    """The shipped manifests over the first 1,500 lines of every source (real text). Its work dir
    is a place no fixture builds in: a test that runs luigi on it sets a work dir of its own."""
    return once(tmp_path_factory, "mini-corpus", lambda root: build_corpus(root, 1500))


def finished_build(tmp_path_factory, name: str, env: dict, args: list):
    """A session build, made once: `luigi args` on `env` with a work dir of its own."""
    def make(root):
        done = run_luigi(args, {**env, "CINO_WORK_DIR": str(root / "work")})
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return {"work": str(root / "work"), "output": done.stdout + done.stderr}

    made = once(tmp_path_factory, name, make)
    yield from unchanged({"env": {**env, "CINO_WORK_DIR": made["work"]}, "output": made["output"],
                          "work": Path(made["work"])})


@pytest.fixture(scope="session")
def mini_build(tmp_path_factory, mini_corpus) -> dict:
    """One uninterrupted `BuildCINO --lang bo,mn,ug` on the mini corpus (test profiles). Read it;
    to run anything on it, clone it (tests.helpers.workdirs.clone_build)."""
    yield from finished_build(tmp_path_factory, "mini-build", mini_corpus,
                              ["BuildCINO", "--lang", "bo,mn,ug", "--workers", "2"])


# Kyrgyz in Cyrillic with a tokenizer of its own: XLM-R already encodes every Cyrillic letter, so
# the pieces are added only by this deliberate opt-in (tests/test_vocab_pipeline.py).
KYRGYZ_TOKENIZER = {"own_model": True, "vocab_size": 1000, "add_base_encodable_pieces": True}


@pytest.fixture(scope="session")
def kyrgyz_build(tmp_path_factory) -> dict:
    """`BuildCINO --lang ky,mn` with Kyrgyz added as data only (one manifest, one scripts.yaml
    entry) on 300 lines of every source."""
    env = once(tmp_path_factory, "kyrgyz-corpus", lambda root: kyrgyz_corpus(root, 300, KYRGYZ_TOKENIZER))
    yield from finished_build(tmp_path_factory, "kyrgyz-build", env, ["BuildCINO", "--lang", "ky,mn", "--workers", "2"])


@pytest.fixture(scope="session")
def full_env(tmp_path_factory) -> dict:
    """The shipped manifests over the full shared corpora, in a work dir all workers share (the
    stages' locks keep two workers building into it apart)."""
    work = once(tmp_path_factory, "full-work", lambda root: {"work": str(root)})["work"]
    return {"CINO_WORK_DIR": work, "CINO_DATA_ROOT": str(DATA_ROOT), "CINO_MANIFESTS_DIR": str(MANIFESTS)}


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A stand-in base model (XLM-R's real vocabulary, one tiny layer, 4 updates) from real text."""
    def make(root):
        from training.standin import StandInSettings, build_standin

        out, scratch = root / "model", root / "scratch"
        out.mkdir()
        scratch.mkdir()
        sources = [DATA_ROOT / p for p in ("zh/peoples-daily-1998.txt", "ko/klue-nli-premises.txt", "ug/maqal.txt")]
        settings = StandInSettings(layers=1, embed_dim=16, ffn_dim=32, heads=1, tokens_per_sample=64, batch_size=4,
                                   max_update=4, warmup=1, lines_per_language=300)
        build_standin(SHARED / "base" / "xlmr", sources, sources, out, scratch, settings)
        return {"model": str(out)}

    return Path(once(tmp_path_factory, "tiny-base", make)["model"])
