"""A fairseq XLM-R directory as a Hugging Face `transformers` model: XLMRobertaForMaskedLM.

Weights are mapped name by name, one function per group (embeddings, one encoder layer,
the LM head), from fairseq 0.12's RoBERTa to transformers' XLM-R; transformers' own
conversion script does not fit (it hard-codes 514 positions, old layer-norm names and
GPT-2 BPE). The tokenizer is built from our SentencePiece model directly: its pieces in
fairseq's id order (SentencePiece id k >= 3 is id k + 1, `<mask>` last), its scores, its
normaliser (the precompiled charsmap, with the new scripts' rules) and a decoder that turns
the private-use stand-ins back into the characters they stand for.

transformers and torch are imported inside the functions: this module is read by Luigi
workers that never export.
"""
import json
from dataclasses import dataclass
from pathlib import Path

from common.settings import Settings, setting
from common.xlmr import (BOS, EMB_NORM, EMBED, ENCODER, EOS, LM_BIAS, LM_HEAD, LM_WEIGHT, MASK, MODEL_FILE, PAD,
                         POSITIONS, SPECIALS, SPM_FILE)
from vocab import fairseq_ids
from vocab.pieces import load_proto

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 2   # 2: parity per text; a U+202F right before <mask> kept (fairseq's fill_mask drops it)


@dataclass(frozen=True)
class ParitySettings(Settings):
    max_logit_difference: float = setting(1e-4, "largest absolute difference of the MLM logits allowed (float32)")
    min_ids_identical: float = setting(0.999, "least share of each text's lines tokenized exactly as fairseq does "
                                              "(the rest are listed in stats.json)")
    logit_lines: int = setting(2, "lines per text whose logits are compared through both models (token ids: "
                                  "every line); the weights are mapped as whole matrices, so two lines show any "
                                  "mapping error")


def hf_config(model_cfg, vocab_size: int):
    """XLMRobertaConfig for fairseq's model configuration (a dict or a Namespace)."""
    from transformers import XLMRobertaConfig

    get = (lambda k: getattr(model_cfg, k)) if not isinstance(model_cfg, dict) else model_cfg.__getitem__
    return XLMRobertaConfig(
        vocab_size=vocab_size, hidden_size=get("encoder_embed_dim"), num_hidden_layers=get("encoder_layers"),
        num_attention_heads=get("encoder_attention_heads"), intermediate_size=get("encoder_ffn_embed_dim"),
        max_position_embeddings=get("max_positions") + 2,   # fairseq's positions start after the padding index
        type_vocab_size=1, pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS, hidden_act="gelu", layer_norm_eps=1e-5,
        hidden_dropout_prob=get("dropout"), attention_probs_dropout_prob=get("attention_dropout"),
        tie_word_embeddings=True)


def _linear(state: dict, source: str, target: str) -> dict:
    return {f"{target}.weight": state[f"{source}.weight"], f"{target}.bias": state[f"{source}.bias"]}


def embeddings(state: dict) -> dict:
    """embed_tokens, embed_positions, layernorm_embedding -> roberta.embeddings.*"""
    import torch

    width = state[EMBED].shape[1]
    return {"roberta.embeddings.word_embeddings.weight": state[EMBED],
            "roberta.embeddings.position_embeddings.weight": state[POSITIONS],
            "roberta.embeddings.token_type_embeddings.weight": torch.zeros(1, width),   # RoBERTa has no segments
            **_linear(state, f"{ENCODER}{EMB_NORM}", "roberta.embeddings.LayerNorm")}


def encoder_layer(state: dict, i: int) -> dict:
    """layers.i.{self_attn.{q,k,v,out}_proj, self_attn_layer_norm, fc1, fc2, final_layer_norm}
    -> roberta.encoder.layer.i.{attention.self.{query,key,value}, attention.output.{dense,LayerNorm},
    intermediate.dense, output.{dense,LayerNorm}}"""
    fs, hf = f"{ENCODER}layers.{i}.", f"roberta.encoder.layer.{i}."
    pairs = [("self_attn.q_proj", "attention.self.query"), ("self_attn.k_proj", "attention.self.key"),
             ("self_attn.v_proj", "attention.self.value"), ("self_attn.out_proj", "attention.output.dense"),
             ("self_attn_layer_norm", "attention.output.LayerNorm"), ("fc1", "intermediate.dense"),
             ("fc2", "output.dense"), ("final_layer_norm", "output.LayerNorm")]
    return {key: value for source, target in pairs for key, value in _linear(state, fs + source, hf + target).items()}


def lm_head(state: dict) -> dict:
    """encoder.lm_head.{dense,layer_norm,weight,bias} -> lm_head.{dense,layer_norm,decoder.weight,bias}"""
    return {**_linear(state, f"{LM_HEAD}dense", "lm_head.dense"),
            **_linear(state, f"{LM_HEAD}layer_norm", "lm_head.layer_norm"),
            "lm_head.decoder.weight": state[LM_WEIGHT], "lm_head.bias": state[LM_BIAS]}


def hf_state(state: dict, layers: int) -> dict:
    mapped = {**embeddings(state), **lm_head(state)}
    for i in range(layers):
        mapped.update(encoder_layer(state, i))
    return mapped


def hf_model(checkpoint: dict):
    """XLMRobertaForMaskedLM with a fairseq checkpoint's weights (strict: every weight mapped)."""
    from transformers import XLMRobertaForMaskedLM
    from transformers.initialization import no_init_weights

    state = checkpoint["model"]
    config = hf_config(checkpoint["cfg"]["model"], state[EMBED].shape[0])
    with no_init_weights():   # every weight is loaded below (strict): a random init would be wasted seconds
        model = XLMRobertaForMaskedLM(config)
    model.tie_weights()   # skipped with the init above: the LM head's projection is the embedding matrix
    mapped = hf_state(state, config.num_hidden_layers)
    mapped["lm_head.decoder.bias"] = mapped["lm_head.bias"]   # transformers ties the decoder's bias to lm_head.bias
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    if missing or unexpected:
        raise ValueError(f"weights not mapped: missing {missing}, unexpected {unexpected}")
    return model.eval()


def hf_tokenizer(spm_file, max_length: int, charsmap: bytes, patterns: list, restore: dict):
    """A fast XLM-R tokenizer for a SentencePiece model in XLM-R's layout: its pieces and scores in
    fairseq's id order; a normaliser of the context `patterns` ((regex, replacement), applied in
    order) then the `charsmap` (Hugging Face's `Precompiled` matches rules within a grapheme only,
    so context rules come as patterns: see vocab.normalizer.hf_normaliser); a decoder that maps
    each stand-in back to its character (`restore`)."""
    from tokenizers import Regex, decoders, normalizers
    from transformers import XLMRobertaTokenizer

    proto = load_proto(spm_file)
    fairseq_ids.check_layout(proto, spm_file)
    vocab = [(symbol, 0.0) for symbol in SPECIALS] + [(p.piece, p.score) for p in proto.pieces[3:]] \
        + [(MASK, 0.0)]
    tokenizer = XLMRobertaTokenizer(vocab=vocab, model_max_length=max_length)
    backend = tokenizer.backend_tokenizer
    backend.normalizer = normalizers.Sequence([normalizers.Replace(Regex(pattern), replacement)
                                               for pattern, replacement in patterns]
                                              + [normalizers.Precompiled(charsmap)])
    backend.decoder = decoders.Sequence([decoders.Replace(standin, char) for standin, char in sorted(restore.items())]
                                        + [backend.decoder])
    return tokenizer


def export(model_dir, out_dir, scripts: list, base_spm_file) -> dict:
    """Write the Hugging Face directory of the fairseq XLM-R directory `model_dir` into `out_dir`:
    config.json, model.safetensors, sentencepiece.bpe.model, tokenizer.json, tokenizer_config.json,
    special_tokens_map.json. `scripts`: the ScriptRewrite of every script the vocabulary extends
    (none for a base model); `base_spm_file`: the base model's SentencePiece model, whose own
    multi-character rules Hugging Face's normaliser keeps."""
    import shutil

    from training import checkpoint
    from vocab.normalizer import decode_charsmap, hf_normaliser

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    model = hf_model(checkpoint.load_base(model_dir / MODEL_FILE))
    spm_file = model_dir / SPM_FILE
    charsmap = load_proto(spm_file).normalizer_spec.precompiled_charsmap
    base_charsmap = load_proto(base_spm_file).normalizer_spec.precompiled_charsmap
    patterns = []
    if scripts or charsmap != base_charsmap:   # the base's own normaliser needs no split
        charsmap, patterns = hf_normaliser(decode_charsmap(charsmap), decode_charsmap(base_charsmap), scripts)
    restore = {standin: char for script in scripts for standin, char in script.chars.restore_table().items()}
    tokenizer = hf_tokenizer(spm_file, model.config.max_position_embeddings - 2, charsmap, patterns, restore)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    # transformers' XLMRobertaTokenizer rebuilds its own normaliser and decoder when it loads: the
    # generic fast tokenizer keeps tokenizer.json as written (context patterns, stand-in decoding).
    config = json.loads((out_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    (out_dir / "tokenizer_config.json").write_text(json.dumps({**config, "tokenizer_class": "PreTrainedTokenizerFast"},
                                                              indent=2, sort_keys=True) + "\n", encoding="utf-8")
    specials = {name: getattr(tokenizer, name) for name in
                ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")}
    (out_dir / "special_tokens_map.json").write_text(json.dumps(specials, indent=2, sort_keys=True) + "\n",
                                                     encoding="utf-8")
    shutil.copy(spm_file, out_dir / SPM_FILE)
    return {"parameters": sum(p.numel() for p in model.parameters()), "vocab_size": model.config.vocab_size,
            "max_length": tokenizer.model_max_length, "normaliser_patterns": len(patterns)}


def fairseq_ids_of(hub, text: str, mask: str = MASK) -> list:
    """fairseq's token ids for `text` as its hub interface makes them: `encode`, or, for a text
    with <mask>, the way `fill_mask` encodes it (the parts around each mask separately), with one
    difference: `fill_mask` strips each part with `str.rstrip()`, which also drops a U+202F (the
    Mongolian suffix separator, `ᠴᠢᠩᠭᠢᠰ\u202f<mask>ᠨ`) or another Unicode space right before the
    mask; the export keeps it, as fairseq's `encode` and training do, so only ASCII spaces are
    stripped here (`fill_mask_drops`)."""
    if mask not in text:
        return hub.encode(text).tolist()
    spans = [hub.bpe.encode(span.rstrip(" ")) for span in text.split(mask)]
    pieces = f" {mask} ".join(spans).strip()
    return hub.task.source_dictionary.encode_line(f"<s> {pieces} </s>", append_eos=False,
                                                  add_if_not_exist=False).long().tolist()


def parity(model_dir, hf_dir, texts: dict, logit_lines: int) -> dict:
    """The Hugging Face export against fairseq, on `texts` ({name: [lines]}): token ids of the
    tokenizer against fairseq's on every line, and the largest absolute difference of the MLM
    logits on the first `logit_lines` lines of each text (the same ids into both models, one
    padded batch, truncated to the model's positions). Returns the figures and the first
    mismatches. The weights are mapped as whole matrices, so a few lines of each kind of text
    show any mapping error; forward passes are most of the check's time at real sizes."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from training import checkpoint

    hub = checkpoint.hub_model(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(hf_dir, local_files_only=True)
    model = AutoModelForMaskedLM.from_pretrained(hf_dir, local_files_only=True).eval()
    limit = model.config.max_position_embeddings - 2
    result = {}
    for name, lines in sorted(texts.items()):
        expected = [fairseq_ids_of(hub, line) for line in lines]
        got = tokenizer(lines)["input_ids"] if lines else []
        mismatches = [line for line, ours, theirs in zip(lines, expected, got) if ours != theirs]
        checked = [ids[:limit] for ids in expected[:logit_lines]]
        result[name] = {"lines": len(lines), "ids_identical": len(lines) - len(mismatches),
                        "ids_identical_share": (len(lines) - len(mismatches)) / len(lines) if lines else 1.0,
                        "max_abs_logit_difference": max_logit_difference(hub.model, model, checked),
                        "logit_lines": len(checked), "first_mismatches": mismatches[:5],
                        "fill_mask_drops": sum(map(fill_mask_drops, lines))}
    return result


def fill_mask_drops(text: str, mask: str = MASK) -> bool:
    """Whether fairseq's own `fill_mask` would drop a character of `text`: a Unicode space other
    than the ASCII one right before a <mask> (see fairseq_ids_of)."""
    return any(span.rstrip(" ") != span.rstrip() for span in text.split(mask)[:-1])


def max_logit_difference(fairseq_model, hf_model, id_lists: list) -> float:
    """Largest absolute difference of the two models' MLM logits on the token ids `id_lists`,
    run as one batch padded with the padding id (both models mask it out)."""
    import torch

    if not id_lists:
        return 0.0
    pad = hf_model.config.pad_token_id
    tokens = torch.full((len(id_lists), max(map(len, id_lists))), pad)
    for row, ids in enumerate(id_lists):
        tokens[row, :len(ids)] = torch.tensor(ids)
    real = tokens.ne(pad)
    with torch.no_grad():   # in place: at 250k symbols each logits tensor is large
        difference = fairseq_model(tokens)[0]
        difference.sub_(hf_model(input_ids=tokens, attention_mask=real.long()).logits).abs_()
    return difference.masked_fill_(~real[..., None], 0.0).max().item()


def check_parity(checked: dict, settings: ParitySettings) -> None:
    """Raise if the figures of `parity` of any one text break the limits of `settings`: a text
    pooled with larger ones (200 masked Mongolian lines beside 60,000 held-out ones) must not
    hide its own differences."""
    failing = {name: row for name, row in checked.items() if row["max_abs_logit_difference"] > settings.max_logit_difference
               or row["ids_identical_share"] < settings.min_ids_identical}
    if failing:
        described = "; ".join(f"{name}: max abs logit difference {row['max_abs_logit_difference']:.2e}, token ids "
                              f"identical on {row['ids_identical_share']:.4%} of {row['lines']} lines, first differing "
                              f"lines {row['first_mismatches'][:3]}" for name, row in failing.items())
        raise RuntimeError(f"Hugging Face export differs from fairseq (limits: logits within "
                           f"{settings.max_logit_difference}, ids identical on {settings.min_ids_identical:.1%} of "
                           f"each text's lines): {described}")
