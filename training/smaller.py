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
from vocab.prune import PruneSettings, count_ids, count_pieces, prune

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


def language_counts(spm_file, files: list, raw_lines: list, also: list, chars, settings: PruneSettings) -> np.ndarray:
    """How often each piece occurs in the language's corpus (`files`, streamed by
    `vocab.prune.count_pieces`, and its raw lines), with the pieces of `also` (piece strings the
    Hugging Face tokenizer gives on the lines the stage checks: on a rare line it may segment
    differently from SentencePiece) and the single-character pieces of `chars` (a predicate: is
    this character of the language's script?) counted once at least, so unseen text of the
    script degrades to characters, not <unk>."""
    processor = spm.SentencePieceProcessor(model_file=str(spm_file))
    counts = count_pieces(spm_file, files, settings)
    counts += count_ids(processor.encode(raw_lines), len(counts))
    forced = {processor.piece_to_id(piece) for piece in set(also)}
    forced |= {spm_id for spm_id in range(processor.get_piece_size())
               if len(processor.id_to_piece(spm_id)) == 1 and chars(processor.id_to_piece(spm_id))}
    for spm_id in forced - set(range(len(SPM_CONTROLS))):
        counts[spm_id] = max(counts[spm_id], 1)
    return counts


def prune_model(model_dir, out_dir, counts: np.ndarray) -> dict:
    """Write into `out_dir` the model of `model_dir` (XLM-R layout) over the pieces with a count
    (`language_counts`): sentencepiece.bpe.model, dict.txt, model.pt."""
    from training import checkpoint

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    full = load_proto(model_dir / SPM_FILE)
    small, kept = prune(full, counts, PruneSettings(min_count=1, keep_single_chars=False))
    (out_dir / SPM_FILE).write_bytes(small.SerializeToString())
    fairseq_ids.write_dict(small, counts[kept], out_dir / DICT_FILE)
    rows = [full_id for _, full_id, _ in fairseq_ids.id_map(small, full)]
    trained = checkpoint.load(model_dir / MODEL_FILE)
    # fairseq may pad its embedding past the dictionary: then <mask> (last) would not be the last row
    if trained["model"][EMBED].shape[0] != fairseq_ids.symbol_count(full) or min(rows) < 0:
        raise RuntimeError(f"{model_dir / MODEL_FILE}: {trained['model'][EMBED].shape[0]} embedding rows for "
                           f"{fairseq_ids.symbol_count(full)} symbols of {model_dir / SPM_FILE}")
    index = np.asarray(rows)
    weight, bias = trained["model"][EMBED][index].clone(), trained["model"][LM_BIAS][index].clone()
    checkpoint.save(checkpoint.replace_vocabulary(trained, weight, bias), out_dir / MODEL_FILE)
    return {"fairseq_symbols": {"full": fairseq_ids.symbol_count(full), "for_language": fairseq_ids.symbol_count(small)},
            "pieces_kept": len(kept) - len(SPM_CONTROLS)}


def hf_pieces(model_dir, texts: dict) -> dict:
    """{name: the pieces of every line} from the Hugging Face tokenizer of `model_dir`."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    return {name: [tokenizer.tokenize(line) for line in lines] for name, lines in texts.items()}


def compare(full_dir, small_dir, texts: dict, full_pieces: dict, logit_lines: int) -> dict:
    """The smaller Hugging Face model against the full one on `texts` ({name: [lines]}, with the
    full tokenizer's `full_pieces` of them, `hf_pieces`): pieces of every line, and the largest
    absolute difference of the MLM logits at the pieces it kept on the first `logit_lines` lines
    of each text."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    load = lambda path: (AutoTokenizer.from_pretrained(path, local_files_only=True),  # noqa: E731
                         AutoModelForMaskedLM.from_pretrained(path, local_files_only=True).eval())
    (full_tokenizer, full_model), (small_tokenizer, small_model) = load(full_dir), load(small_dir)
    kept = full_tokenizer.convert_tokens_to_ids(small_tokenizer.convert_ids_to_tokens(list(range(len(small_tokenizer)))))
    result = {}
    for name, lines in sorted(texts.items()):
        small_pieces = [small_tokenizer.tokenize(line) for line in lines]
        differing = [line for line, a, b in zip(lines, full_pieces[name], small_pieces, strict=True) if a != b]
        worst = 0.0
        for line in lines[:logit_lines]:
            small_ids = small_tokenizer(line, truncation=True, max_length=small_model.config.max_position_embeddings - 2,
                                        return_tensors="pt")["input_ids"]
            full_ids = torch.tensor([kept])[0][small_ids]
            with torch.no_grad():
                difference = (full_model(input_ids=full_ids).logits[..., kept] - small_model(input_ids=small_ids).logits)
            worst = max(worst, difference.abs().max().item())
        result[name] = {"lines": len(lines), "pieces_identical": len(lines) - len(differing),
                        "pieces_identical_share": (len(lines) - len(differing)) / len(lines) if lines else 1.0,
                        "max_abs_logit_difference": worst, "logit_lines": min(logit_lines, len(lines)),
                        "first_differences": differing[:5]}
    return result


def check_same(checked: dict, enforced: list, max_logit_difference: float, lang: str) -> None:
    """Raise unless the texts `enforced` (the language's own text) got the same pieces as from the
    full model on every line and logits within `max_logit_difference` at the kept pieces."""
    rows = [checked[name] for name in enforced]
    worst = max(row["max_abs_logit_difference"] for row in rows)
    differing = [line for row in rows for line in row["first_differences"]]
    if differing or worst > max_logit_difference:
        raise RuntimeError(f"the model for {lang} differs from the full model on its own text: max abs logit "
                           f"difference {worst:.2e} (limit {max_logit_difference}), lines tokenized differently: "
                           f"{differing[:3]}")


def copy_tokenizer_files(source_dir, out_dir) -> None:
    """The Hugging Face tokenizer files of an export, for a model with the same vocabulary."""
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", SPM_FILE):
        shutil.copy(Path(source_dir) / name, Path(out_dir) / name)
