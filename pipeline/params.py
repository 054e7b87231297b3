"""`--lang bo,mn,ug` (BuildCINO) and `--langs bo,mn,ug` (the stages over a language list): a
comma list that gives the same task whatever the order.

luigi.ListParameter parses JSON only. This parameter splits on commas, strips, dedupes
and sorts, accepts `all` for every manifest, and validates the codes against the
manifests at once (the error lists the known codes), so `ug,bo,mn` and `bo,mn,ug` are
one task id.
"""
import luigi

from corpus.manifest import parse_lang_list
from pipeline import config


class LangListParameter(luigi.Parameter):
    def parse(self, x):
        return parse_lang_list(x, config.catalog())

    def normalize(self, x):
        return parse_lang_list(x, config.catalog())

    def serialize(self, x):
        return ",".join(x)
