"""Topic classification fine-tuned end to end, as CINO evaluated its models, with the recipe chosen
on selection data.

    python -m eval.classify --model DIR --train TSV [--dev TSV] --test TSV [--test TSV ...] --out DIR \
        [--profile NAME] [--seeds 3] [--lrs 1e-4,3e-4] [--batch-sizes 16] [--max-epochs 20] \
        [--patience 3] [--min-epochs 1] [--max-length 128] [--select macro_f1] [--init random]

DIR is an exported Hugging Face directory (ExportHF) or a fairseq XLM-R directory (model.pt,
dict.txt, sentencepiece.bpe.model: tokenized with its SentencePiece model, weights mapped as
ExportHF maps them). TSV files are `text<TAB>label`. The model is the encoder with a
classification head on `<s>` (XLMRobertaForSequenceClassification), trained with AdamW, linear
warm-up and decay over `max_epochs`, gradients clipped at 1.

The recipe is chosen on the selection data, never on a test file: every learning rate x batch size
of the grid trains with the first seed, stopping when the selection score has not improved for
`patience` epochs (once `min_epochs` are done), and the pair whose best epoch scored highest is
kept (the first of equals); every other seed then trains with it. Each run keeps the test
predictions of its best selection epoch. The selection data is --dev, or without it a tenth of
--train chosen by hash (never trained on). `--profile NAME` takes these settings from
`[evaluation.NAME]` of luigi.cfg (--config), as the pipeline's evaluation stages do; flags given
here win. `--init random` fine-tunes the same architecture and tokenizer from random weights: the
control that says whether pretraining added anything.

Only the embedding rows of pieces that the setting's texts contain take part (a row no text reads
gets no gradient and changes no prediction): with XLM-R's 250,002 rows, AdamW's dense step over
all of them was most of a run's time (4x at 2 x 64). The classification head is initialised and
dropout seeded after the model is built, so a pretrained model's run equals the one over every
row up to float rounding (gradient clipping sums the same squares in another order; tested); a
random-weights run draws its embedding rows for the rows it has, so it is another random draw.

Writes metrics.json (the sweep, the recipe, per test file the scores per seed, their mean and
standard deviation, the majority-class baseline) and predictions.tsv (`file line gold predicted
seed`, `file` as given, one row per test line and seed). The Luigi evaluation stages call
`evaluate`.
"""
import argparse
import configparser
import hashlib
import math
import os
import sys
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from common.errors import InputError
from common.jsonio import open_text, write_json
from common.settings import from_profile
from common.xlmr import BOS, EMBED, EOS, MODEL_FILE, PAD, SPECIALS, SPM_FILE
from eval.datasets import Labelled, capped, read_labelled, unseen_items
from eval.metrics import METRICS, aggregate, learned, majority_baseline, scores, unseen_scores
from eval.protocol import EvaluationProfile

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 3   # 2: recipe chosen on selection data, early stopping, random-init control; 3: scores on unseen items


INITS = ("pretrained", "random")
WORD_EMBEDDINGS = "roberta.embeddings.word_embeddings.weight"


@dataclass(frozen=True)
class FineTuneSettings:
    """One run's hyperparameters (EvaluationProfile holds the grid they are chosen from)."""
    lr: float = 1e-5
    batch_size: int = 16
    max_epochs: int = 10
    patience: int = 3
    min_epochs: int = 1         # no early stop before
    max_length: int = 512       # capped at the model's positions
    warmup: float = 0.1         # share of the updates of max_epochs
    weight_decay: float = 1e-4
    threads: int = 4


def check_labels(train: Labelled, others: list) -> list:
    """The label set (sorted); a file whose labels differ from the training set's is an error."""
    labels = sorted(set(train.labels))
    if len(labels) < 2:
        raise InputError(train.path, f"only {len(labels)} label(s) in the training set", "give at least two labels")
    for data in others:
        unknown, missing = sorted(set(data.labels) - set(labels)), sorted(set(labels) - set(data.labels))
        if unknown:
            raise InputError(data.path, f"label(s) not in the training set {train.path}: {', '.join(unknown)}",
                             "use the training set's labels (check spelling and case)")
        if missing:
            raise InputError(data.path, f"label(s) of the training set {train.path} never occur here: "
                                        f"{', '.join(missing)}", "evaluate on a set with the same label set")
    return labels


def hold_out(train: Labelled, percent: int = 10):
    """(training part, selection part) of a training set, by a hash of each text."""
    chosen = [int(hashlib.blake2b(t.encode("utf-8"), digest_size=8).hexdigest(), 16) % 100 < percent
              for t in train.texts]
    part = lambda keep: Labelled(train.path, tuple(t for t, c in zip(train.texts, chosen) if c == keep),  # noqa: E731
                                 tuple(l for l, c in zip(train.labels, chosen) if c == keep))
    return part(False), part(True)


class Classifier:
    """A model directory (Hugging Face or fairseq) as a tokenizer, a configuration and encoder
    weights, from which fresh classification models are made."""

    def __init__(self, model_dir):
        self.model_dir = Path(model_dir)
        self.fairseq = (self.model_dir / MODEL_FILE).is_file() and not (self.model_dir / "config.json").is_file()
        if not self.fairseq and not (self.model_dir / "config.json").is_file():
            raise InputError(self.model_dir, "neither a Hugging Face model (config.json) nor a fairseq XLM-R "
                                             "directory (model.pt)", "pass the output of ExportHF or ContinuePretraining")
        if self.fairseq:
            import sentencepiece as spm

            from training import checkpoint
            from training.hf_export import hf_config, hf_state

            loaded = checkpoint.load_base(self.model_dir / MODEL_FILE)
            self.sp = spm.SentencePieceProcessor(model_file=str(self.model_dir / SPM_FILE))
            self.config = hf_config(loaded["cfg"]["model"], loaded["model"][EMBED].shape[0])
            self.encoder = hf_state(loaded["model"], self.config.num_hidden_layers)
        else:
            from transformers import AutoConfig, AutoTokenizer

            self.config = AutoConfig.from_pretrained(self.model_dir, local_files_only=True)
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            self.encoder = _hf_weights(self.model_dir)
        self.encoder = {k: v for k, v in self.encoder.items() if k.startswith("roberta.")}
        self.positions = self.config.max_position_embeddings - 2

    def encode(self, texts, max_length: int) -> list:
        """Token ids with <s> and </s>, at most max_length (and the model's positions) long."""
        limit = min(max_length, self.positions)
        if self.fairseq:   # fairseq ids: SentencePiece id k >= 3 is k + 1, <unk> 3
            from vocab.fairseq_ids import fairseq_id

            return [[BOS] + [fairseq_id(i) for i in ids][:limit - 2] + [EOS] for ids in self.sp.encode(list(texts))]
        return [self.tokenizer(text, truncation=True, max_length=limit)["input_ids"] for text in texts]

    def new_model(self, labels: list, rows: list = None, init: str = "pretrained", seed: int = 1):
        """The encoder over the embedding rows `rows` (ids of the full vocabulary, the specials
        first; None: every row), its weights pretrained or random (drawn from `seed`), with a
        classification head drawn from `seed` whatever the rows."""
        import torch
        from transformers import XLMRobertaForSequenceClassification

        config = replace_config(self.config, num_labels=len(labels),
                                vocab_size=len(rows) if rows is not None else self.config.vocab_size)
        torch.manual_seed(seed)
        model = XLMRobertaForSequenceClassification(config)
        generator = torch.Generator().manual_seed(seed)
        for module in (model.classifier.dense, model.classifier.out_proj):   # as transformers initialises them
            module.weight.data = torch.randn(module.weight.shape, generator=generator) * config.initializer_range
            module.bias.data.zero_()
        if init == "pretrained":
            encoder = dict(self.encoder)
            if rows is not None:
                encoder[WORD_EMBEDDINGS] = encoder[WORD_EMBEDDINGS][rows]
            missing, unexpected = model.load_state_dict(encoder, strict=False)
            if unexpected or [k for k in missing if not k.startswith("classifier.")]:
                raise ValueError(f"encoder weights not mapped: missing {missing}, unexpected {unexpected}")
        return model


def _hf_weights(model_dir: Path) -> dict:
    """The weights of a Hugging Face XLM-R directory (model.safetensors, or the model loaded)."""
    if (model_dir / "model.safetensors").is_file():
        from safetensors.torch import load_file

        return load_file(model_dir / "model.safetensors")
    from transformers import AutoModelForMaskedLM

    return AutoModelForMaskedLM.from_pretrained(model_dir, local_files_only=True).state_dict()


def replace_config(config, **changes):
    """A copy of a transformers configuration with some attributes changed."""
    copy = config.__class__.from_dict(config.to_dict())
    for name, value in changes.items():
        setattr(copy, name, value)
    return copy


@dataclass(frozen=True)
class Setting:
    """One setting's data as token ids over the rows its texts use: `rows` (full-vocabulary ids,
    the specials first), the training ids and label indices, the selection and test ids."""
    rows: list
    train: list
    train_y: list
    select: list
    tests: dict


def encode_setting(classifier: Classifier, train: Labelled, select: Labelled, tests: dict, labels: list,
                   max_length: int) -> Setting:
    encoded = {"train": classifier.encode(train.texts, max_length), "select": classifier.encode(select.texts, max_length),
               **{f"test:{name}": classifier.encode(data.texts, max_length) for name, data in tests.items()}}
    used = sorted({i for lists in encoded.values() for ids in lists for i in ids} - set(range(len(SPECIALS))))
    rows = list(range(len(SPECIALS))) + used
    index = {old: new for new, old in enumerate(rows)}
    remapped = {key: [[index[i] for i in ids] for ids in lists] for key, lists in encoded.items()}
    return Setting(rows, remapped["train"], [labels.index(label) for label in train.labels], remapped["select"],
                   {name: remapped[f"test:{name}"] for name in tests})


def _batches(ids: list, labels: list, size: int, order: list):
    import torch

    for start in range(0, len(order), size):
        chosen = order[start:start + size]
        width = max(len(ids[i]) for i in chosen)
        tokens = torch.full((len(chosen), width), PAD, dtype=torch.long)
        for row, i in enumerate(chosen):
            tokens[row, :len(ids[i])] = torch.tensor(ids[i])
        yield tokens, (tokens != PAD).long(), torch.tensor([labels[i] for i in chosen]) if labels else None


def predict(model, ids: list, batch_size: int = 64) -> list:
    import torch

    model.eval()
    predicted = []
    with torch.no_grad():
        for tokens, mask, _ in _batches(ids, None, batch_size, list(range(len(ids)))):
            predicted.extend(model(input_ids=tokens, attention_mask=mask).logits.argmax(-1).tolist())
    return predicted


def fine_tune(classifier: Classifier, setting: Setting, select: Labelled, labels: list, settings: FineTuneSettings,
              seed: int, select_metric: str, init: str = "pretrained", progress=None) -> dict:
    """One run: train up to max_epochs, score the selection data after each epoch, stop after
    `patience` epochs without a better score (not before min_epochs), keep the test predictions of
    the best epoch."""
    import torch

    torch.set_num_threads(settings.threads)
    model = classifier.new_model(labels, setting.rows, init, seed)
    torch.manual_seed(seed)   # dropout, whatever building the model drew
    steps = settings.max_epochs * math.ceil(len(setting.train) / settings.batch_size)
    no_decay = ("bias", "LayerNorm.weight")
    groups = [{"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
               "weight_decay": settings.weight_decay},
              {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=settings.lr, fused=True)
    warmup = max(1, int(settings.warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / max(1, steps - warmup))))
    generator = torch.Generator().manual_seed(seed)
    best, history = None, []
    for epoch in range(1, settings.max_epochs + 1):
        model.train()
        order = torch.randperm(len(setting.train), generator=generator).tolist()
        losses = []
        for tokens, mask, gold in _batches(setting.train, setting.train_y, settings.batch_size, order):
            loss = model(input_ids=tokens, attention_mask=mask, labels=gold).loss
            losses.append(loss.item())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            if progress:
                progress.update(1)
        selected = scores(list(select.labels), [labels[i] for i in predict(model, setting.select)], labels)
        history.append({"epoch": epoch, "train_loss": sum(losses) / len(losses), **selected})
        if best is None or selected[select_metric] > best["select"][select_metric]:
            best = {"epoch": epoch, "select": selected,
                    "predictions": {name: [labels[i] for i in predict(model, ids)] for name, ids in setting.tests.items()}}
        elif epoch - best["epoch"] >= settings.patience and epoch >= settings.min_epochs:
            break
    return {**best, "stopped": len(history), "history": history}


def choose_recipe(classifier, setting, select, labels, base: FineTuneSettings, lrs, batch_sizes, select_metric,
                  init, progress=None) -> tuple:
    """(chosen settings, its first-seed run, the sweep): every lr x batch size with seed 1, the one
    whose best selection score is highest (the first of equals)."""
    sweep = []
    for lr in lrs:
        for batch_size in batch_sizes:
            settings = replace(base, lr=lr, batch_size=batch_size)
            sweep.append((settings, fine_tune(classifier, setting, select, labels, settings, 1, select_metric,
                                              init, progress)))
    chosen, run = max(sweep, key=lambda item: item[1]["select"][select_metric])
    rows = [{"lr": s.lr, "batch_size": s.batch_size, "best_epoch": r["epoch"], "stopped": r["stopped"],
             "select": r["select"]} for s, r in sweep]
    return chosen, run, rows


def evaluate(model_dir, train: Labelled, dev: Labelled, tests: dict, seeds: int, base: FineTuneSettings, lrs,
             batch_sizes, select_metric: str, out_dir, init: str = "pretrained", selection_percent: int = 10,
             progress=None, unseen: dict = None) -> dict:
    """Choose the recipe on the selection data, fine-tune `seeds` times with it; metrics.json and
    predictions.tsv into out_dir; returns the metrics. `tests`: {name as the user gave it:
    Labelled}. Without `dev`, `selection_percent` of `train` (by hash) selects. `unseen`: {test
    name: indices of the items not in the training split (eval.datasets.unseen_items)}, scored
    apart too (default: `train`'s own)."""
    if select_metric not in METRICS:
        raise InputError("--select", f"unknown metric {select_metric!r}", f"use one of {', '.join(METRICS)}")
    if init not in INITS:
        raise InputError("--init", f"unknown initialisation {init!r}", f"use one of {', '.join(INITS)}")
    unseen = unseen_items(train, tests) if unseen is None else unseen
    labels = check_labels(train, [d for d in (dev, *tests.values()) if d is not None])
    selection = "dev" if dev is not None else f"{selection_percent}% of train (by hash)"
    if dev is None:
        train, dev = hold_out(train, selection_percent)
    classifier = Classifier(model_dir)
    setting = encode_setting(classifier, train, dev, tests, labels, base.max_length)
    chosen, first, sweep = choose_recipe(classifier, setting, dev, labels, base, lrs, batch_sizes, select_metric,
                                         init, progress)
    runs = [first] + [fine_tune(classifier, setting, dev, labels, chosen, seed, select_metric, init, progress)
                      for seed in range(2, seeds + 1)]
    result = {"model": str(model_dir), "init": init, "labels": labels, "train_items": len(train),
              "selection": selection, "select_items": len(dev), "select_metric": select_metric,
              "embedding_rows": len(setting.rows), "sweep": sweep, "recipe": asdict(chosen),
              "runs": [{"seed": seed, "best_epoch": run["epoch"], "stopped": run["stopped"]}
                       for seed, run in enumerate(runs, 1)], "tests": {}}
    with open_text(Path(out_dir) / "predictions.tsv", "w") as handle:
        handle.write("file\tline\tgold\tpredicted\tseed\n")
        for name, data in tests.items():
            per_seed = []
            for seed, run in enumerate(runs, 1):
                predicted = run["predictions"][name]
                per_seed.append({"seed": seed, "best_epoch": run["epoch"], **scores(list(data.labels), predicted, labels)})
                handle.writelines(f"{name}\t{line}\t{gold}\t{guess}\t{seed}\n"
                                  for line, (gold, guess) in enumerate(zip(data.labels, predicted), 1))
            row = {"items": len(data), "seeds": per_seed, "aggregate": aggregate(per_seed),
                   "majority_baseline": majority_baseline(train, data, labels),
                   "unseen": unseen_scores(train, data, unseen[name], [run["predictions"][name] for run in runs],
                                           labels)}
            # on the selection metric: above the majority class by more than the seeds' spread
            row["learned"] = learned(row["aggregate"][select_metric], row["majority_baseline"][select_metric])
            result["tests"][name] = row
    result["selection_history"] = [run["history"] for run in runs]
    write_json(Path(out_dir) / "metrics.json", result)
    return result


def profile_settings(profile: EvaluationProfile) -> dict:
    """What a profile sets of this command: the run's settings, the grid, the seeds."""
    return {"base": FineTuneSettings(max_epochs=profile.max_epochs, patience=profile.patience,
                                     min_epochs=profile.min_epochs,
                                     max_length=profile.max_length, warmup=profile.warmup,
                                     weight_decay=profile.weight_decay, threads=profile.threads),
            "lrs": profile.lr_grid(), "batch_sizes": profile.batch_size_grid(), "seeds": profile.seeds,
            "selection_percent": profile.selection_percent}


def _grid(kind):
    return lambda text: tuple(kind(x) for x in text.split(",") if x.strip())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.classify", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="exported Hugging Face directory or fairseq XLM-R directory")
    parser.add_argument("--train", required=True, help="training set, text<TAB>label")
    parser.add_argument("--dev", help="selection set (default: a tenth of --train)")
    parser.add_argument("--test", action="append", required=True, help="test set (repeat for several)")
    parser.add_argument("--out", required=True, help="directory for metrics.json and predictions.tsv")
    parser.add_argument("--profile", help="take the recipe from [evaluation.PROFILE] of --config (default: CINO's)")
    parser.add_argument("--config", action="append",
                        help="configuration file(s) with the profiles (default: as luigi reads them, ./luigi.cfg "
                             "then $LUIGI_CONFIG_PATH)")
    parser.add_argument("--select", help=f"metric that picks the recipe and epoch: {', '.join(METRICS)} (default: the "
                                         "profile's in-language metric, as the pipeline picks every language's but "
                                         "the source's)")
    parser.add_argument("--init", default="pretrained", help="pretrained, or random: the architecture alone")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--lrs", type=_grid(float), help="learning rates tried, comma-separated")
    parser.add_argument("--batch-sizes", type=_grid(int), help="batch sizes tried, comma-separated")
    parser.add_argument("--max-train-items", type=int, help="at most so many training items, chosen by hash "
                                                           "(0: all; default: the profile's)")
    for f in fields(FineTuneSettings):
        if f.name not in ("lr", "batch_size"):
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=f.type)
    args = parser.parse_args(argv)
    try:
        profile = _profile(args.profile, args.config or ["luigi.cfg", *filter(None, [os.environ.get("LUIGI_CONFIG_PATH")])])
        given = {f.name: getattr(args, f.name) for f in fields(FineTuneSettings) if f.name not in ("lr", "batch_size")}
        # the flags over the profile, checked together (--min-epochs above --max-epochs is an error)
        grids = {"seeds": args.seeds, "lrs": args.lrs and ",".join(map(str, args.lrs)),
                 "batch_sizes": args.batch_sizes and ",".join(map(str, args.batch_sizes)),
                 "max_train_items": args.max_train_items}
        profile = replace(profile, **{k: v for k, v in {**given, **grids}.items() if v is not None}).checked("command line")
        chosen = profile_settings(profile)
        args.select = args.select or profile.in_language_metric
        tests = {path: read_labelled(path) for path in args.test}
        Path(args.out).mkdir(parents=True, exist_ok=True)
        train = read_labelled(args.train)
        result = evaluate(args.model, capped(train, profile.max_train_items), read_labelled(args.dev) if args.dev else None,
                          tests, chosen["seeds"], chosen["base"], chosen["lrs"], chosen["batch_sizes"], args.select,
                          args.out, args.init, chosen["selection_percent"], unseen=unseen_items(train, tests))
    except InputError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    print(f"recipe (chosen on {result['selection']}): lr {result['recipe']['lr']}, batch {result['recipe']['batch_size']}, "
          f"best epochs {[run['best_epoch'] for run in result['runs']]}")
    for name, row in result["tests"].items():
        summary = ", ".join(f"{m} {row['aggregate'][m]['mean']:.4f} ± {row['aggregate'][m]['std']:.4f}" for m in METRICS)
        verdict = "" if row["learned"] else \
            "; did not learn: not above the majority class by more than the spread"
        print(f"{name}: {summary} (majority baseline {row['majority_baseline'][args.select]:.4f} {args.select}{verdict})")
    return 0


def _profile(name, config_paths: list) -> EvaluationProfile:
    """The evaluation settings as the pipeline resolves them from the configuration files: the
    defaults (CINO's), the profile's [evaluation.NAME], then [evaluation]."""
    parser = configparser.ConfigParser()
    read = parser.read(config_paths, encoding="utf-8")
    where = ", ".join(map(str, config_paths))
    if name and not read:
        raise InputError(where, "no such configuration file", "pass --config luigi.cfg (with the profiles)")
    if name and not parser.has_section(f"train.{name}"):
        raise InputError(f"{where} [train.{name}]", f"no profile {name!r}", "use a profile luigi.cfg defines")
    profile = from_profile(EvaluationProfile, parser, f"evaluation.{name}", where) if name else EvaluationProfile()
    given = dict(parser.items("evaluation")) if parser.has_section("evaluation") else {}
    return profile.overridden(given, f"{where} [evaluation]").checked(f"[evaluation.{name or 'defaults'}]")


if __name__ == "__main__":
    sys.exit(main())
