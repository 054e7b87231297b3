"""A trained model made smaller for one language, as TextPruner prunes XLM-R's vocabulary: the
pieces that language's text uses, the special tokens and the single characters of its script(s)
stay; the embedding rows and LM-head entries of every other piece go. Kept rows are copied
exactly, so on text of that language the smaller model tokenizes and predicts as the full one
(checked by `compare`).
"""
import shutil
from pathlib import Path

import numpy as np
import sentencepiece as spm

from common.xlmr import DICT_FILE, EMBED, LM_BIAS, MODEL_FILE, SPM_CONTROLS, SPM_FILE
from vocab import fairseq_ids
from vocab.pieces import load_proto
from vocab.prune import PruneSettings, prune


def language_counts(spm_file, lines: list, chars) -> np.ndarray:
    """How often each piece occurs in `lines`; the single-character pieces of `chars` (a
    predicate: is this character of the language's script?) count once at least, so unseen
    text of the script degrades to characters, not <unk>."""
    processor = spm.SentencePieceProcessor(model_file=str(spm_file))
    counts = np.bincount(np.fromiter((i for ids in processor.encode(lines) for i in ids), dtype=np.int64),
                         minlength=processor.get_piece_size())
    for spm_id in range(len(SPM_CONTROLS), processor.get_piece_size()):
        piece = processor.id_to_piece(spm_id)
        if len(piece) == 1 and chars(piece):
            counts[spm_id] = max(counts[spm_id], 1)
    return counts


def prune_model(model_dir, out_dir, lines: list, chars) -> dict:
    """Write into `out_dir` the model of `model_dir` (XLM-R layout) over the pieces `lines` use and
    the single characters `chars` accepts: sentencepiece.bpe.model, dict.txt, model.pt."""
    from training import checkpoint

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    full = load_proto(model_dir / SPM_FILE)
    counts = language_counts(model_dir / SPM_FILE, lines, chars)
    small, kept = prune(full, counts, PruneSettings(min_count=1, keep_single_chars=False))
    (out_dir / SPM_FILE).write_bytes(small.SerializeToString())
    fairseq_ids.write_dict(small, counts[kept], out_dir / DICT_FILE)
    rows = [full_id for _, full_id, _ in fairseq_ids.id_map(small, full)]   # every kept symbol is in the full model
    trained = checkpoint.load(model_dir / MODEL_FILE)
    index = np.asarray(rows)
    weight, bias = trained["model"][EMBED][index].clone(), trained["model"][LM_BIAS][index].clone()
    checkpoint.save(checkpoint.replace_vocabulary(trained, weight, bias), out_dir / MODEL_FILE)
    return {"fairseq_symbols": {"full": fairseq_ids.symbol_count(full), "for_language": fairseq_ids.symbol_count(small)},
            "pieces_used": int((counts > 0).sum())}


def compare(full_dir, small_dir, texts: dict, logit_lines: int) -> dict:
    """The smaller Hugging Face model against the full one on `texts` ({name: [lines]}): pieces of
    every line, and the largest absolute difference of the MLM logits at the pieces it kept on
    the first `logit_lines` lines of each text."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    load = lambda path: (AutoTokenizer.from_pretrained(path, local_files_only=True),  # noqa: E731
                         AutoModelForMaskedLM.from_pretrained(path, local_files_only=True).eval())
    (full_tokenizer, full_model), (small_tokenizer, small_model) = load(full_dir), load(small_dir)
    kept = full_tokenizer.convert_tokens_to_ids(small_tokenizer.convert_ids_to_tokens(list(range(len(small_tokenizer)))))
    result = {}
    for name, lines in sorted(texts.items()):
        full_pieces = [full_tokenizer.tokenize(line) for line in lines]
        small_pieces = [small_tokenizer.tokenize(line) for line in lines]
        differing = [line for line, a, b in zip(lines, full_pieces, small_pieces) if a != b]
        worst = 0.0
        for line in lines[:logit_lines]:
            small_ids = small_tokenizer(line, truncation=True, max_length=small_model.config.max_position_embeddings - 2,
                                        return_tensors="pt")["input_ids"]
            full_ids = torch.tensor([kept])[0][small_ids]
            with torch.no_grad():
                difference = (full_model(input_ids=full_ids).logits[..., kept] - small_model(input_ids=small_ids).logits)
            worst = max(worst, difference.abs().max().item())
        result[name] = {"lines": len(lines), "pieces_identical": len(lines) - len(differing),
                        "max_abs_logit_difference": worst, "logit_lines": min(logit_lines, len(lines)),
                        "first_differences": differing[:5]}
    return result


def copy_tokenizer_files(source_dir, out_dir) -> None:
    """The Hugging Face tokenizer files of an export, for a model with the same vocabulary."""
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", SPM_FILE):
        shutil.copy(Path(source_dir) / name, Path(out_dir) / name)
