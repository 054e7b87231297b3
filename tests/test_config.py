"""Settings: one definition each, the generated reference is current, and the cfg files
name only options that exist."""
import configparser

from pipeline import config
from pipeline.text.filters import FilterSettings
from tests.helpers import REPO, in_env

LUIGI_SECTIONS = {"core", "worker", "retcode", "resources", "scheduler", "task_history"}


def test_settings_reference_in_docs_is_current():
    assert (REPO / "docs" / "SETTINGS.md").read_text(encoding="utf-8") == config.reference()


def test_cfg_files_set_only_known_options():
    for path in (REPO / "luigi.cfg", REPO / "tests" / "luigi-test.cfg"):
        parser = configparser.ConfigParser()
        parser.read(path)
        for section in parser.sections():
            if section in LUIGI_SECTIONS or section.startswith("profile."):
                continue
            known = {f for dc in config.SECTIONS[section] for f in dc.__dataclass_fields__}
            assert set(parser.options(section)) <= known, (path, section)


def test_a_setting_comes_from_the_environment_config_and_defaults(tmp_path):
    with in_env({"CINO_WORK_DIR": str(tmp_path)}):
        assert config.work_dir() == tmp_path
        assert config.settings(FilterSettings) == FilterSettings()
        assert config.profile().max_update == 30   # tests/luigi-test.cfg [profile.test-cpu]
