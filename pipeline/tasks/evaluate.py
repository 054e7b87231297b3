"""CINO-style evaluation of the trained model and of the base it started from, on one protocol.

EvaluateClassification fine-tunes one exported model (`--model cino` or `base`) on one setting:
zero-shot (fine-tune on the source language, CINO's zh, test every other language of the run
unchanged) or in-language (fine-tune and test on one language). EvaluateMLM measures the
masked-LM loss per character on each language's test split. EvaluationReport puts both
models side by side: the delta is the result, and a delta within the seeds' spread says so.
Hyperparameters: `[evaluation]` (CINO's protocol by default; the profile's `[evaluation.<name>]`
lists what it changes).
"""
import logging

import luigi

from common.errors import InputError
from common.jsonio import open_text, read_json, write_json
from common.progress import Progress
from corpus.split import split_path
from eval.report import evaluation_markdown, evaluation_results
from eval.protocol import EvaluationProfile
from pipeline import config
from pipeline.inputs import eval_files
from pipeline.tasks.base import LanguageListTask, list_scope
from pipeline.tasks.corpus import Split
from pipeline.tasks.export import ExportHF

log = logging.getLogger("luigi-interface")
MODELS = ("base", "cino")
PROTOCOLS = ("zero-shot", "in-language")


def eval_split(code: str, split: str, profile: EvaluationProfile):
    """The Labelled data of split `split` of the profile's evaluation set for a language, or None."""
    from eval.datasets import read_labelled, resolve

    eval_file = config.catalog().languages[code].eval_sets.get(profile.eval_set, {}).get(split)
    return read_labelled(resolve(eval_file, config.eval_root()), eval_file.sha256) if eval_file else None


def has_split(code: str, split: str, profile: EvaluationProfile) -> bool:
    return split in config.catalog().languages[code].eval_sets.get(profile.eval_set, {})


def zero_shot_targets(langs, profile: EvaluationProfile) -> list:
    return [code for code in langs if code != profile.source_lang
            and (has_split(code, "test", profile) or has_split(code, "dev", profile))]


def settings_list(langs, profile: EvaluationProfile) -> list:
    """(protocol, language) of every classification setting the run's languages allow."""
    found = [("zero-shot", "")] if zero_shot_targets(langs, profile) else []
    return found + [("in-language", code) for code in langs if has_split(code, "train", profile)]


class EvaluateClassification(LanguageListTask):
    stage = "eval_classification"
    reads = (EvaluationProfile.without("mlm_lines"),)
    model = luigi.ChoiceParameter(choices=MODELS, default="cino")
    protocol = luigi.ChoiceParameter(choices=PROTOCOLS, default="zero-shot")
    lang = luigi.Parameter(default="")   # in-language: the language fine-tuned and tested

    def scope(self):
        return "-".join(filter(None, (list_scope(self.langs), self.model, self.protocol, self.lang)))

    def requires(self):
        return ExportHF(langs=self.langs, model=self.model)

    def _languages(self) -> list:
        profile = self.read(EvaluationProfile)
        return [profile.source_lang, *zero_shot_targets(self.langs, profile)] \
            if self.protocol == "zero-shot" else [self.lang]

    def external_inputs(self):
        return {"eval_sets": {code: eval_files(code) for code in self._languages()}}

    def _data(self):
        """(train, dev or None, {test name: data}) of this setting."""
        profile = self.read(EvaluationProfile)
        if self.protocol == "zero-shot":
            source = profile.source_lang
            if source not in config.catalog().languages or not has_split(source, "train", profile):
                raise InputError("[evaluation] source_lang",
                                 f"no '{profile.eval_set}' training set for {source!r} in the manifests",
                                 f"declare one under eval: in corpora_manifests/{source}.yaml or choose another source")
            tests = {}
            for code in zero_shot_targets(self.langs, profile):
                name = "test" if has_split(code, "test", profile) else "dev"
                tests[f"{code}/{name}"] = eval_split(code, name, profile)
            return eval_split(source, "train", profile), eval_split(source, "dev", profile), tests
        split = lambda name: eval_split(self.lang, name, profile)  # noqa: E731
        if has_split(self.lang, "test", profile):
            return split("train"), split("dev"), {f"{self.lang}/test": split("test")}
        # No test split: test on dev, and let a tenth of train (not trained on) pick the epoch.
        return split("train"), None, {f"{self.lang}/dev": split("dev")}

    def produce(self, tmp):
        from eval.classify import evaluate

        profile = self.read(EvaluationProfile)
        train, dev, tests = self._data()
        settings = profile.fine_tune(self.protocol)
        steps = profile.seeds * settings.epochs * -(-len(train) // settings.batch_size)
        with Progress(steps, f"{self.protocol} {self.lang or 'transfer'} ({self.model})", self.report,
                      unit="step") as progress:
            result = evaluate(self.input().path, train, dev, tests, profile.seeds, settings,
                              profile.metric(self.protocol), tmp, progress)
        result["model"] = self.model   # not the path: outputs stay byte-identical across work dirs
        write_json(tmp / "metrics.json", result)
        return {"protocol": self.protocol, "lang": self.lang, "model": self.model,
                "tests": {name: row["aggregate"] for name, row in result["tests"].items()}}


class EvaluateMLM(LanguageListTask):
    stage = "eval_mlm"
    reads = (EvaluationProfile.only("mlm_lines", "threads"),)
    model = luigi.ChoiceParameter(choices=MODELS, default="cino")

    def scope(self):
        return f"{list_scope(self.langs)}-{self.model}"

    def requires(self):
        return {"model": ExportHF(langs=self.langs, model=self.model),
                "splits": {code: Split(lang=code) for code in self.langs}}

    def produce(self, tmp):
        from eval.mlm import mlm_loss
        from eval.tokenizer_report import read_lines

        profile, result = self.read(EvaluationProfile), {}
        for i, (code, split) in enumerate(self.input()["splits"].items()):
            self.report(int(100 * i / len(self.langs)), f"masked-LM loss on {code} ({self.model})")
            lines = read_lines([split_path(split.path, "test")])[:profile.mlm_lines]
            result[code] = mlm_loss(self.input()["model"].path, lines, threads=profile.threads)
        return {"model": self.model, "languages": result}


class EvaluationReport(LanguageListTask):
    """Both models on every setting and the masked-LM loss: evaluation.json and evaluation.md."""
    stage = "evaluation"
    reads = (EvaluationProfile.only("seeds", "zero_shot_metric", "in_language_metric", "source_lang", "eval_set"),)

    def requires(self):
        return {"classification": {f"{model}/{protocol}/{lang}": EvaluateClassification(
                    langs=self.langs, model=model, protocol=protocol, lang=lang)
                    for model in MODELS for protocol, lang in settings_list(self.langs, self.read(EvaluationProfile))},
                "mlm": {model: EvaluateMLM(langs=self.langs, model=model) for model in MODELS}}

    def produce(self, tmp):
        needs, profile = self.input(), self.read(EvaluationProfile)
        metrics = {key: read_json(out.path / "metrics.json") for key, out in needs["classification"].items()}
        results = evaluation_results(metrics, {m: out.stats()["languages"] for m, out in needs["mlm"].items()},
                                            profile.seeds, {p: profile.metric(p) for p in PROTOCOLS})
        write_json(tmp / "evaluation.json", results)
        with open_text(tmp / "evaluation.md", "w") as handle:
            handle.write(evaluation_markdown(results))
        log.info("Evaluation:\n%s", evaluation_markdown(results))
        return {"results": results}
