"""fairseq checkpoints: loading our own, writing model-only copies, and vocabulary surgery.

fairseq loads state dicts strictly, so a changed vocabulary needs the three
vocabulary-sized tensors rewritten offline: the token embeddings, the output projection
tied to them, and the output bias. Everything else is copied untouched.
"""
import torch

EMBED = "encoder.sentence_encoder.embed_tokens.weight"
LM_WEIGHT = "encoder.lm_head.weight"
LM_BIAS = "encoder.lm_head.bias"


def load(path) -> dict:
    """A checkpoint written by fairseq (holds configuration objects, hence weights_only=False:
    only for checkpoints we wrote or the base model the user chose)."""
    return torch.load(path, map_location="cpu", weights_only=False)


def model_only(checkpoint: dict) -> dict:
    """The checkpoint without optimizer state: what `--finetune-from-model` and
    `XLMRModel.from_pretrained` need."""
    slim = {key: value for key, value in checkpoint.items() if key != "last_optimizer_state"}
    slim["last_optimizer_state"] = None
    return slim


def _relative(value, prefix: str):
    if isinstance(value, dict):
        return {k: _relative(v, prefix) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v, prefix) for v in value]
    if isinstance(value, str) and prefix in value:
        return value.replace(prefix, ".")
    return value


def portable(checkpoint: dict, run_dir) -> dict:
    """Model-only, with the configuration's paths under `run_dir` made relative, so the file
    does not depend on where (in which temporary directory) it was trained."""
    slim = model_only(checkpoint)
    slim["cfg"] = _relative(slim["cfg"], str(run_dir))
    return slim


def save(checkpoint: dict, path) -> None:
    torch.save(checkpoint, path)


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
