"""README.md of an exported Hugging Face model: metadata, how to load it, what it was built from,
and the parity of the export with fairseq."""

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 2   # 2: the parity section says what each text must meet and what fill_mask drops; how it was made


def parity_markdown(parity: dict) -> str:
    lines = ["## Parity with fairseq\n", "Token ids of the Hugging Face tokenizer against fairseq's `encode` (`fill_mask`'s "
             "encoding for lines with `<mask>`) on every line, and the largest absolute difference of the masked-LM "
             "logits (float32) on the first lines of each text; each text must meet the limits on its own.\n",
             "| text | lines | ids identical | share | logit lines | max abs logit difference |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, row in parity.items():
        lines.append(f"| {name} | {row['lines']} | {row['ids_identical']} | {row['ids_identical_share']:.4f} | "
                     f"{row['logit_lines']} | {row['max_abs_logit_difference']:.2e} |")
    drops = sum(row.get("fill_mask_drops", 0) for row in parity.values())
    lines.append(f"\nOne deliberate difference: fairseq's `fill_mask` strips the text before each `<mask>` with "
                 f"Python's `str.rstrip()`, which also drops a U+202F (the Mongolian suffix separator, as in "
                 f"`ᠴᠢᠩᠭᠢᠰ\u202f<mask>ᠨ`) or another Unicode space right before the mask. This tokenizer keeps "
                 f"it, as fairseq's `encode` and the training text do; the comparison strips ASCII spaces only. "
                 f"Lines of these texts where fairseq's `fill_mask` would drop a character: {drops}.")
    return "\n".join(lines) + "\n"


def model_card(title: str, langs, about: str, sections: list) -> str:
    """README.md of an exported Hugging Face model: metadata, how to load it, then `sections`."""
    front = "\n".join(["---", f"language: [{', '.join(langs)}]", "library_name: transformers",
                       "pipeline_tag: fill-mask", "tags: [xlm-roberta, cino, continued-pretraining]", "---"])
    use = ("## Use\n\n```python\nfrom transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline\n\n"
           "tokenizer = AutoTokenizer.from_pretrained(PATH, local_files_only=True)\n"
           "model = AutoModelForMaskedLM.from_pretrained(PATH, local_files_only=True)\n"
           "fill = pipeline(\"fill-mask\", model=model, tokenizer=tokenizer)\n"
           "print(fill(\"ཕྱིས་སུ་མི་རྣམས་ཀྱིས་རང་བྱུང་ཁམས་ལ་ <mask> བྱེད་པ\"))\n```\n\n"
           "The tokenizer takes raw text: its normaliser includes the per-script cleaning the pipeline applied to "
           "the training text, and decoding turns the private-use stand-ins of the extended vocabulary "
           "(U+F202F, U+F200D, U+F200C) back into U+202F, ZWJ and ZWNJ.\n")
    return f"{front}\n\n# {title}\n\n{about}\n\n{use}\n" + "\n".join(sections)


def comparison_markdown(compared: dict) -> str:
    """A smaller model against the full one (training.smaller.compare)."""
    lines = ["## The same as the full model on its language's text\n",
             "Pieces of every line and the largest absolute difference of the masked-LM logits at the pieces kept, "
             "on the first lines of each text.\n",
             "| text | lines | pieces identical | logit lines | max abs logit difference |", "|---|---:|---:|---:|---:|"]
    for name, row in compared.items():
        lines.append(f"| {name} | {row['lines']} | {row['pieces_identical']} | {row['logit_lines']} | "
                     f"{row['max_abs_logit_difference']:.2e} |")
    return "\n".join(lines) + "\n"
