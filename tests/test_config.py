"""Settings: one definition each, the generated reference is current, and the cfg files
name only options that exist."""
import configparser
from dataclasses import fields

from luigi.cmdline_parser import CmdlineParser

from pipeline import config
from pipeline.text.filters import FilterSettings
from training.standin import StandInSettings
from tests.helpers import REPO, in_env

LUIGI_SECTIONS = {"core", "worker", "retcode", "resources", "scheduler", "task_history"}


def test_settings_reference_in_docs_is_current():
    assert (REPO / "docs" / "SETTINGS.md").read_text(encoding="utf-8") == config.reference()


def test_cfg_files_set_only_known_options():
    for path in (REPO / "luigi.cfg", REPO / "tests" / "luigi-test.cfg"):
        parser = configparser.ConfigParser()
        parser.read(path)
        for section in parser.sections():
            if section in LUIGI_SECTIONS or section.startswith(("profile.", "evaluation.")):
                continue
            known = {f for dc in config.SECTIONS[section] for f in dc.__dataclass_fields__}
            assert set(parser.options(section)) <= known, (path, section)


def test_no_option_is_defined_twice_in_a_section():
    for section, dataclasses in config.SECTIONS.items():
        names = [f.name for dc in dataclasses for f in fields(dc)]
        assert len(names) == len(set(names)), section


def test_a_setting_comes_from_the_environment_the_cfg_file_the_command_line_or_its_default(tmp_path):
    with in_env({"CINO_WORK_DIR": str(tmp_path)}):
        assert config.work_dir() == tmp_path
        assert config.settings(FilterSettings) == FilterSettings()
        assert config.settings(StandInSettings).layers == 1 != StandInSettings().layers  # tests/luigi-test.cfg
        assert config.profile().max_update == 30   # [train] profile = test-cpu there
        with CmdlineParser.global_instance(["Split", "--lang", "bo", "--filters-min-chars", "8",
                                            "--train-profile", "test-ddp"]):
            assert config.settings(FilterSettings).min_chars == 8
            assert config.profile().world_size == 2
