"""fairseq checkpoints: loading our own, writing model-only copies, and vocabulary surgery.

fairseq loads state dicts strictly, so a changed vocabulary needs the three
vocabulary-sized tensors rewritten offline: the token embeddings, the output projection
tied to them, and the output bias. Everything else is copied untouched.
"""
import argparse
import os
import pickle
import shutil
import sys
from contextlib import contextmanager

import torch

from common.errors import InputError
from common.xlmr import (EMB_NORM, EMBED, LM_BIAS, LM_WEIGHT, MODEL_FILE, MODEL_PREFIX, RELEASE_2019_EMB_NORM,
                         RELEASE_2019_PREFIX)

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


def load(path) -> dict:
    """A checkpoint written by fairseq (holds configuration objects, hence weights_only=False:
    only for checkpoints we wrote or the base model the user chose). Tensors are memory-mapped,
    so reading the configuration or the update count of an xlmr.large checkpoint costs no
    copy of its weights."""
    return torch.load(path, map_location="cpu", weights_only=False, mmap=True)


def load_base(path) -> dict:
    """A base model's checkpoint in the format fairseq 0.12 writes (`cfg`, `encoder.*` keys).

    Accepted: what fairseq >= 0.10 writes (our own runs, the stand-in base), and fairseq's 2019
    RoBERTa/XLM-R releases (`xlmr.base.tar.gz`, `xlmr.large.tar.gz`): torch's legacy (non-zip)
    serialization, which cannot be memory-mapped; an `args` Namespace instead of `cfg`; weights
    under `decoder.sentence_encoder.*`, `decoder.lm_head.*` and `emb_layer_norm`. Those are
    upgraded as fairseq upgrades them when it loads a model itself (checkpoint_utils and
    RobertaModel.upgrade_state_dict_named), so the surgery and the export see one layout.
    Anything else is one clear error naming the file and what was found."""
    fix = "point [vocab] base_model_dir at an extracted xlmr.base or xlmr.large (or a model fairseq wrote)"
    try:
        try:
            checkpoint = load(path)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)   # legacy serialization
    except (pickle.UnpicklingError, RuntimeError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(path, f"not a torch checkpoint ({str(exc).splitlines()[0][:120]})", fix)
    found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise InputError(path, f"no 'model' weights in the checkpoint (found {found})", fix)
    if checkpoint.get("cfg") is None and checkpoint.get("args") is not None:
        checkpoint = _upgrade_2019(checkpoint)
    if checkpoint.get("cfg") is None:
        raise InputError(path, f"neither 'cfg' (fairseq >= 0.10) nor 'args' (the 2019 release) in the checkpoint "
                               f"(found {found})", fix)
    if EMBED not in checkpoint["model"]:
        names = ", ".join(sorted(checkpoint["model"])[:3])
        raise InputError(path, f"no RoBERTa/XLM-R encoder weights ({EMBED} missing; found {names}, ...)", fix)
    return checkpoint


def _upgrade_2019(checkpoint: dict) -> dict:
    from fairseq import checkpoint_utils
    from fairseq.dataclass.utils import omegaconf_no_object_check
    from omegaconf import OmegaConf

    upgraded = checkpoint_utils._upgrade_state_dict(dict(checkpoint))   # args -> cfg, old fields
    with omegaconf_no_object_check():
        cfg = OmegaConf.to_container(upgraded["cfg"])
    state = {}
    for key, value in checkpoint["model"].items():   # RobertaModel.upgrade_state_dict_named
        if key.startswith(RELEASE_2019_PREFIX):
            key = MODEL_PREFIX + key[len(RELEASE_2019_PREFIX):]
        state[key.replace(f".{RELEASE_2019_EMB_NORM}.", f".{EMB_NORM}.")] = value
    return {**upgraded, "cfg": cfg, "args": None, "model": state}


def model_only(checkpoint: dict) -> dict:
    """The checkpoint without optimizer state: what `--finetune-from-model` and
    `XLMRModel.from_pretrained` need."""
    slim = {key: value for key, value in checkpoint.items() if key != "last_optimizer_state"}
    slim["last_optimizer_state"] = None
    return slim


def _relative(value, prefix: str, replacement: str = "."):
    """`value` (a configuration) with the path `prefix` written as `replacement` wherever it occurs."""
    if isinstance(value, argparse.Namespace):
        return argparse.Namespace(**_relative(vars(value), prefix, replacement))
    if isinstance(value, dict):
        return {k: _relative(v, prefix, replacement) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v, prefix, replacement) for v in value]
    if isinstance(value, str):   # whole path components only: /scratch/w is not in /scratch/w2
        return replacement if value == prefix else value.replace(prefix.rstrip("/") + "/", replacement + "/")
    return value


def portable(checkpoint: dict, run_dir) -> dict:
    """Model-only, with the configuration's paths under `run_dir` made relative and the
    run's timing meters dropped, so the bytes depend on the weights and settings only."""
    slim = model_only(checkpoint)
    slim["cfg"] = _relative(slim["cfg"], str(run_dir))
    slim["extra_state"] = {k: v for k, v in slim.get("extra_state", {}).items()
                           if k not in ("metrics", "previous_training_time")}
    return slim


def _interned(value):
    """Equal strings made one object: pickle writes a back-reference for an object it has
    seen, so whether two equal strings were one object would otherwise change the bytes."""
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, argparse.Namespace):
        return argparse.Namespace(**_interned(vars(value)))
    if isinstance(value, dict):
        return {_interned(k): _interned(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_interned(v) for v in value)
    return value


def save(checkpoint: dict, path) -> None:
    """torch.save with byte-identical output for identical content."""
    torch.save(_interned(checkpoint), path)


def replace_vocabulary(checkpoint: dict, weight: torch.Tensor, bias: torch.Tensor) -> dict:
    """A model-only checkpoint whose vocabulary-sized tensors are `weight` (tied) and `bias`."""
    state = dict(checkpoint["model"])
    if state[EMBED].shape[1] != weight.shape[1]:
        raise ValueError(f"embedding width {weight.shape[1]} != model width {state[EMBED].shape[1]}")
    weight = weight.contiguous()
    state[EMBED] = weight
    state[LM_WEIGHT] = weight  # tied, as fairseq's RoBERTa saves it
    state[LM_BIAS] = bias.contiguous()
    return {**model_only(checkpoint), "model": state}


def export(trained: dict, run_dir, work_dir, task: str = "multilingual_masked_lm") -> dict:
    """A final model for `XLMRModel.from_pretrained`: portable, naming fairseq's own task and
    no plugin directory, so loading it needs nothing of this project. Its bytes do not depend on
    where the work dir is (other paths in it, the initial checkpoint's, are written as
    `$CINO_WORK_DIR/...`) nor on how often training was interrupted: fairseq appends one
    optimizer-history entry per launch, and only the last one (the final update count, what
    fairseq reads) is kept, so a resumed run's model equals an uninterrupted run's."""
    final = portable(trained, run_dir)
    final["cfg"] = _relative(final["cfg"], str(work_dir), "$CINO_WORK_DIR")
    final["optimizer_history"] = final["optimizer_history"][-1:]
    legacy = isinstance(final["cfg"]["task"], argparse.Namespace)  # legacy tasks name themselves in `task`
    renamed = {"_name": task, "task": task} if legacy else {"_name": task}
    final["cfg"] = {**final["cfg"], "task": _with(final["cfg"]["task"], **renamed),
                    "common": _with(final["cfg"]["common"], user_dir=None)}
    return final


def _with(section, **changes):
    """A configuration section (dict, or argparse.Namespace for legacy tasks) with changes."""
    if isinstance(section, argparse.Namespace):
        return argparse.Namespace(**{**vars(section), **changes})
    return {**section, **changes}


def num_updates(trained: dict) -> int:
    return int(trained["optimizer_history"][-1]["num_updates"])


def _updates_of(path) -> int:
    return num_updates(load(path))


def resume_point(save_dir, warn) -> int:
    """The update a launch in `save_dir` resumes from (0: a fresh start), making sure fairseq can
    read checkpoint_last.pt. fairseq writes it by copying the newest checkpoint_E_U.pt, not
    atomically: a kill during the copy leaves it truncated, and every later launch would fail.
    Then the newest readable checkpoint_E_U.pt takes its place (`warn` says so), or, if none
    is readable, the run starts again from the initial checkpoint."""
    from pathlib import Path

    save_dir = Path(save_dir)
    last = save_dir / "checkpoint_last.pt"
    if not last.exists():
        return 0
    try:
        return _updates_of(last)
    except Exception as exc:  # noqa: BLE001 - any unreadable file: truncated zip, bad pickle, ...
        problem = f"{last} is unreadable ({type(exc).__name__}: {str(exc).splitlines()[0][:100]})"
    candidates = sorted(save_dir.glob("checkpoint_*_*.pt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]), reverse=True)
    for candidate in candidates:
        try:
            updates = _updates_of(candidate)
        except Exception:  # noqa: BLE001
            continue
        partial = last.with_name(last.name + ".partial")
        shutil.copyfile(candidate, partial)
        os.replace(partial, last)
        warn(f"{problem}; resuming from {candidate.name} (update {updates})")
        return updates
    last.unlink()
    warn(f"{problem} and no other checkpoint is readable; training starts again from the initial checkpoint")
    return 0


@contextmanager
def trusted_fairseq_checkpoints():
    """torch >= 2.6 loads with weights_only=True and refuses fairseq's checkpoints
    ("Unsupported global: argparse.Namespace"); fairseq has no switch for it. Only for
    checkpoints this pipeline wrote or the base model the user chose."""
    previous = os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")
    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"]
        else:
            os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = previous


def hub_model(model_dir, checkpoint_file: str = MODEL_FILE):
    """fairseq's XLMRModel (strict state-dict load) for a directory in XLM-R's layout, in eval mode.

    fairseq's SentencePiece decoding joins piece strings itself, so the private-use stand-ins
    of the merged vocabulary (U+F202F for U+202F, ...) would reach the text; here decoding is
    SentencePiece's own, whose denormaliser turns them back into the characters they stand for."""
    from fairseq.models.roberta import XLMRModel

    with trusted_fairseq_checkpoints():
        model = XLMRModel.from_pretrained(str(model_dir), checkpoint_file=checkpoint_file)
    processor = model.bpe.sp
    model.bpe.decode = lambda pieces: processor.decode_pieces(pieces.split(" "))
    return model.eval()
