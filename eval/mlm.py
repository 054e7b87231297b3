"""Intrinsic evaluation: masked-LM loss per character on text the model was not trained on.

Two models with different vocabularies cut the same line into different numbers of tokens,
so a loss per token does not compare; the loss per character does: the summed negative
log-likelihood (nats) of the masked tokens over the characters those tokens cover (their
offsets in the raw line). 15% of each line's tokens are masked (at least one), chosen by a
seeded generator, and replaced by <mask>. <unk> tokens are never masked: predicting <unk> is
no knowledge of the text, so a model that reads a script as <unk> is scored on the rest of
the line only; its <unk> share is reported beside the loss.
"""
import math

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


def mlm_loss(model_dir, lines: list, mask_share: float = 0.15, seed: int = 1, batch_size: int = 16,
             threads: int = 2) -> dict:
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForMaskedLM.from_pretrained(model_dir, local_files_only=True).eval()
    limit = model.config.max_position_embeddings - 2
    generator = torch.Generator().manual_seed(seed)
    totals = {"lines": len(lines), "chars": sum(map(len, lines)), "tokens": 0, "unk": 0, "masked_tokens": 0,
              "masked_chars": 0, "nll": 0.0}
    encoded = [tokenizer(line, truncation=True, max_length=limit, return_offsets_mapping=True) for line in lines]
    for start in range(0, len(encoded), batch_size):
        chunk = encoded[start:start + batch_size]
        width = max(len(item["input_ids"]) for item in chunk)
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
        masked = torch.zeros_like(ids, dtype=torch.bool)
        chars = torch.zeros_like(ids)
        for row, item in enumerate(chunk):
            tokens = torch.tensor(item["input_ids"])
            ids[row, :len(tokens)] = tokens
            inner = torch.arange(1, len(tokens) - 1)
            candidates = inner[tokens[inner] != tokenizer.unk_token_id]
            totals["tokens"] += len(inner)
            totals["unk"] += len(inner) - len(candidates)
            if len(candidates):
                count = max(1, round(mask_share * len(candidates)))
                chosen = candidates[torch.randperm(len(candidates), generator=generator)[:count]]
                masked[row, chosen] = True
                for position in chosen.tolist():
                    begin, end = item["offset_mapping"][position]
                    chars[row, position] = end - begin
        inputs = ids.masked_fill(masked, tokenizer.mask_token_id)
        with torch.no_grad():   # the LM head on the masked positions only (250K-symbol vocabularies)
            hidden = model.roberta(input_ids=inputs, attention_mask=(ids != tokenizer.pad_token_id).long())[0]
            logits = model.lm_head(hidden[masked])
        nll = torch.nn.functional.cross_entropy(logits, ids[masked], reduction="sum")
        totals["nll"] += float(nll)
        totals["masked_tokens"] += int(masked.sum())
        totals["masked_chars"] += int(chars[masked].sum())
    return {**totals, "loss_per_char": totals["nll"] / max(totals["masked_chars"], 1),
            "loss_per_token": totals["nll"] / max(totals["masked_tokens"], 1),
            "unk_share": totals["unk"] / max(totals["tokens"], 1),
            "bits_per_char": totals["nll"] / max(totals["masked_chars"], 1) / math.log(2)}
