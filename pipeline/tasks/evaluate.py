"""The evaluation of a run (eval/protocol.py): the trained model beside the base it started from,
the same architecture from random weights, a fastText classifier and the majority class.

EvaluateClassification fine-tunes one model (`--model cino`, `base` or `random`) on one language's
training set, the recipe chosen on that language's selection data, and tests it on the language's
own test data and, when the language is the evaluation's source language (CINO's zh), on every
other language of the run unchanged (zero-shot). BaselineClassification trains the fastText
baseline on the same data. EvaluateMLM measures the masked-LM loss per character on each
language's test split, the kept languages included (what continued pretraining cost them).
EvaluationReport puts everything side by side. Settings: `[evaluation]` (CINO's protocol by
default; the profile's `[evaluation.<name>]` lists what it changes).
"""
import logging
from typing import NamedTuple

import luigi

from common.errors import InputError
from common.jsonio import open_text, read_json, write_json
from common.progress import Progress
from corpus.split import split_path
from eval.protocol import EvaluationProfile
from eval.report import evaluation_markdown, evaluation_results
from pipeline import config
from pipeline.inputs import KEEPING, REPLAYING, eval_files, kept_langs, training_langs
from pipeline.tasks.base import TRANSFORMERS, LanguageListTask, list_scope
from pipeline.tasks.corpus import Split
from pipeline.tasks.export import ExportHF
from pipeline.tasks.smaller import DistillStudent, PruneForLanguage
from pipeline.tasks.vocab import InitCheckpoint
from training.profile import TrainSettings

log = logging.getLogger("luigi-interface")
MODELS = ("base", "cino", "random")   # random: the trained model's architecture and tokenizer, random weights
SMALLER = ("pruned", "student")       # the trained model for the fine-tuning language, its student
DEFAULT_SET = "sib200"


def eval_split(code: str, split: str, eval_set: str):
    """The Labelled data of split `split` of evaluation set `eval_set` of a language, or None."""
    from eval.datasets import read_labelled, resolve

    eval_file = config.catalog().languages[code].eval_sets.get(eval_set, {}).get(split)
    return read_labelled(resolve(eval_file, config.eval_root()), eval_file.sha256) if eval_file else None


def has_split(code: str, split: str, eval_set: str) -> bool:
    return split in config.catalog().languages[code].eval_sets.get(eval_set, {})


def test_split(code: str, eval_set: str):
    """The split a language is scored on: test, or dev where there is no test (then a share of
    train selects the recipe); None without either."""
    return next((name for name in ("test", "dev") if has_split(code, name, eval_set)), None)


def evaluation_sets(langs, profile) -> list:
    """Every evaluation set that a language of the run or the source language declares."""
    catalog = config.catalog()
    return sorted({name for code in {profile.source_lang, *langs} if code in catalog.languages
                   for name in catalog.languages[code].eval_sets})


def not_evaluated(langs, profile) -> dict:
    """{"set/lang": why} of the sets a language of the run declares that it is not fine-tuned on."""
    catalog, result = config.catalog(), {}
    for code in sorted({*langs, profile.source_lang} & set(catalog.languages)):
        for name in sorted(catalog.languages[code].eval_sets):
            if code not in fine_tuning_langs(langs, profile, name):
                result[f"{name}/{code}"] = "no train split" if not has_split(code, "train", name) \
                    else "no dev or test split to score"
    return result


def fine_tuning_langs(langs, profile, eval_set: str) -> list:
    """The languages fine-tuned on set `eval_set`: the source language (in-language and
    zero-shot), and every language of the run with a training set and something to test on."""
    candidates = {profile.source_lang, *langs}
    return sorted(code for code in candidates if code in config.catalog().languages
                  and has_split(code, "train", eval_set) and test_split(code, eval_set))


class SettingData(NamedTuple):
    train: object        # Labelled, capped at the profile's max_train_items
    dev: object          # Labelled or None
    tests: dict          # {test name: Labelled}
    unseen: dict         # {test name: indices of its items not in the (whole) training split}
    train_declared: int  # items of the set's training split


def setting_data(lang: str, langs, profile, eval_set: str) -> SettingData:
    """The data of fine-tuning on `lang` with set `eval_set`: its own
    test data, and on the source language also every other language of the run that has the set
    (zero-shot: the same set, the same labels). Training items beyond the profile's
    `max_train_items` are left out, the last by hash (eval.datasets.capped)."""
    from eval.datasets import capped, unseen_items

    split = lambda code, name: eval_split(code, name, eval_set)  # noqa: E731
    targets = [code for code in langs if code != lang and test_split(code, eval_set)] \
        if lang == profile.source_lang else []
    tests = {f"{code}/{test_split(code, eval_set)}": split(code, test_split(code, eval_set)) for code in [lang, *targets]}
    dev = split(lang, "dev") if test_split(lang, eval_set) == "test" else None
    train = split(lang, "train")   # unseen: measured against the whole training split, whatever the cap
    return SettingData(capped(train, profile.max_train_items), dev, tests, unseen_items(train, tests), len(train))


class _Setting(LanguageListTask):
    """A task over one language's setting of one evaluation set (`--lang`: the language fine-tuned
    on; `--eval-set`: a set its manifest declares)."""
    lang = luigi.Parameter()
    eval_set = luigi.Parameter(default=DEFAULT_SET, description="an evaluation set the manifests declare (eval:)")

    def _profile(self):
        profile = self.read(EvaluationProfile)
        if self.lang not in fine_tuning_langs(self.langs, profile, self.eval_set):
            raise InputError("--lang", f"no '{self.eval_set}' training and test data for {self.lang!r}",
                             f"declare them under eval: in corpora_manifests/{self.lang}.yaml, or choose one of "
                             f"{', '.join(fine_tuning_langs(self.langs, profile, self.eval_set)) or 'no language'}")
        return profile

    def setting_scope(self) -> str:
        return f"{list_scope(self.langs)}-{self.eval_set}-{self.lang}"

    def external_inputs(self):
        profile = self.read(EvaluationProfile)
        langs = [self.lang, *(self.langs if self.lang == profile.source_lang else ())]
        return {"eval_sets": {code: eval_files(code, self.eval_set) for code in sorted(set(langs))}}


class EvaluateClassification(_Setting):
    stage = "eval_classification"
    logic = ("eval.classify",)
    preload = (*TRANSFORMERS, "sklearn.metrics")
    reads = (EvaluationProfile.without("mlm_lines", "fasttext_lrs", "fasttext_epochs"),)
    model = luigi.ChoiceParameter(choices=MODELS + SMALLER, default="cino")

    def scope(self):
        return f"{list_scope(self.langs)}-{self.model}-{self.eval_set}-{self.lang}"

    def requires(self):
        if self.model == "pruned":
            return PruneForLanguage(langs=self.langs, lang=self.lang)
        if self.model == "student":
            return DistillStudent(langs=self.langs)
        if self.model == "random":   # the trained model's architecture and tokenizer, before training: it need not wait
            return InitCheckpoint(langs=self.langs)
        return ExportHF(langs=self.langs, model=self.model)

    def produce(self, tmp):
        from eval.classify import evaluate, profile_settings

        profile = self._profile()
        # the model pruned to one language reads no other: no zero-shot tests for it
        data = setting_data(self.lang, [self.lang] if self.model == "pruned" else self.langs, profile, self.eval_set)
        chosen = profile_settings(profile)
        with Progress(None, f"fine-tuning {self.model} on {self.lang} ({self.eval_set})", self.report,
                      unit="step") as progress:
            result = evaluate(self.input().path, data.train, data.dev, data.tests, chosen["seeds"], chosen["base"],
                              chosen["lrs"], chosen["batch_sizes"], profile.metric(self.lang == profile.source_lang),
                              tmp, "random" if self.model == "random" else "pretrained", chosen["selection_percent"],
                              progress, data.unseen)
        result.update(model=self.model, eval_set=self.eval_set,   # not the path: byte-identical across work dirs
                      train_cap={"cap": profile.max_train_items, "declared": data.train_declared,
                                 "used": len(data.train)})
        write_json(tmp / "metrics.json", result)
        return {"lang": self.lang, "model": self.model, "eval_set": self.eval_set, "recipe": result["recipe"],
                "sweep": result["sweep"], "tests": {name: row["aggregate"] for name, row in result["tests"].items()}}


class BaselineClassification(_Setting):
    """The fastText baseline of one setting: trained on the same data, its learning rate and epochs
    chosen on the same selection data, tested on the language's own test data."""
    stage = "eval_baseline"
    logic = ("eval.fasttext_baseline",)
    preload = ("fasttext", "sklearn.metrics")
    reads = (EvaluationProfile.only("source_lang", "seeds", "selection_percent", "fasttext_lrs", "fasttext_epochs",
                                    "zero_shot_metric", "in_language_metric", "max_train_items"),)

    def scope(self):
        return self.setting_scope()

    def produce(self, tmp):
        from eval.classify import check_labels, hold_out
        from eval.fasttext_baseline import fasttext_baseline

        profile = self._profile()
        data = setting_data(self.lang, self.langs, profile, self.eval_set)
        own = {name: test for name, test in data.tests.items() if name.startswith(f"{self.lang}/")}
        train, dev = data.train, data.dev
        labels = check_labels(train, [d for d in (dev, *own.values()) if d is not None])
        if dev is None:
            train, dev = hold_out(train, profile.selection_percent)
        self.report(10, f"fastText on {self.lang} ({self.eval_set})")
        result = {"fasttext": fasttext_baseline(train, dev, own, labels, profile.seeds, *profile.fasttext_grid(),
                                                profile.metric(self.lang == profile.source_lang), data.unseen)}
        write_json(tmp / "metrics.json", result)
        return {"lang": self.lang, "eval_set": self.eval_set, "recipe": result["fasttext"]["recipe"],
                "tests": {name: row["aggregate"] for name, row in result["fasttext"]["tests"].items()}}


class EvaluateMLM(LanguageListTask):
    """Masked-LM loss per character on the test split of the run's languages and the kept ones."""
    preload = TRANSFORMERS
    stage = "eval_mlm"
    logic = ("eval.mlm",)
    version = 2   # 2: kept languages
    reads = (EvaluationProfile.only("mlm_lines", "threads"), *KEEPING)
    model = luigi.ChoiceParameter(choices=("base", "cino"), default="cino")

    def scope(self):
        return f"{list_scope(self.langs)}-{self.model}"

    def requires(self):
        kept = kept_langs(self.langs, self.read(TrainSettings), self.read(EvaluationProfile))
        return {"model": ExportHF(langs=self.langs, model=self.model),
                "splits": {code: Split(lang=code) for code in sorted({*self.langs, *kept})}}

    def produce(self, tmp):
        from eval.mlm import mlm_loss
        from eval.tokenizer_report import read_lines

        profile, result = self.read(EvaluationProfile), {}
        for i, (code, split) in enumerate(self.input()["splits"].items()):
            self.report(int(100 * i / len(self.input()["splits"])), f"masked-LM loss on {code} ({self.model})")
            lines = read_lines([split_path(split.path, "test")])[:profile.mlm_lines]
            result[code] = mlm_loss(self.input()["model"].path, lines, threads=profile.threads)
        return {"model": self.model, "languages": result}


class EvaluationReport(LanguageListTask):
    """Every model and baseline on every setting and the masked-LM loss: evaluation.json and .md."""
    stage = "evaluation"
    logic = ("eval.report",)
    reads = (EvaluationProfile.only("seeds", "zero_shot_metric", "in_language_metric", "source_lang"), *REPLAYING)

    def requires(self):
        profile = self.read(EvaluationProfile)
        settings = [(name, lang) for name in evaluation_sets(self.langs, profile)
                    for lang in fine_tuning_langs(self.langs, profile, name)]
        return {"classification": {f"{name}/{model}/{lang}": EvaluateClassification(langs=self.langs, model=model,
                                                                                      lang=lang, eval_set=name)
                                   for name, lang in settings for model in MODELS},
                "baselines": {f"{name}/{lang}": BaselineClassification(langs=self.langs, lang=lang, eval_set=name)
                              for name, lang in settings},
                "mlm": {model: EvaluateMLM(langs=self.langs, model=model) for model in ("base", "cino")}}

    def external_inputs(self):   # the declared sets it cannot evaluate, which it names
        return {"not_evaluated": not_evaluated(self.langs, self.read(EvaluationProfile))}

    def produce(self, tmp):
        needs, profile = self.input(), self.read(EvaluationProfile)
        results = evaluation_results(
            {key: read_json(out.path / "metrics.json") for key, out in needs["classification"].items()},
            {key: read_json(out.path / "metrics.json") for key, out in needs["baselines"].items()},
            {model: out.stats()["languages"] for model, out in needs["mlm"].items()}, profile.seeds,
            profile.source_lang, kept_langs(self.langs, self.read(TrainSettings), profile),
            [code for code in training_langs(self.langs, self.read(TrainSettings), profile) if code not in self.langs],
            {"in_language": profile.in_language_metric, "zero_shot": profile.zero_shot_metric})
        results["not_evaluated"] = not_evaluated(self.langs, profile)
        write_json(tmp / "evaluation.json", results)
        with open_text(tmp / "evaluation.md", "w") as handle:
            handle.write(evaluation_markdown(results))
        log.info("Evaluation:\n%s", evaluation_markdown(results))
        return {"results": results}
