"""Every report the pipeline writes: tables (pandas) and markdown, from stages' stats.

Tasks gather the stats they require and call these functions; nothing here reads the
work directory or knows Luigi. Sections: the corpus funnel, tokenizers, the sampling
plan, continued pretraining, and the build report that puts them together.
"""
import pandas as pd

FUNNEL_STAGES = ("ingest", "langid", "clean", "dedup")
COUNTS = ("lines_in", "lines_kept", "chars_in", "chars_kept")


def language_funnel(dedup_stats: dict, split_stats: dict) -> dict:
    """One language's counts stage by stage, from Dedup's stats (which record the stages before
    it) and Split's: {stage: {lines_in, ..., rejected}, "split": {train|valid|test: sizes}}."""
    dedup = {key: dedup_stats[key] for key in (*COUNTS, "rejected")}
    return {**dedup_stats["funnel"], "dedup": dedup, "split": split_stats["splits"]}


def corpus_table(per_language: dict) -> pd.DataFrame:
    """One row per language; columns (stage, measure): lines and characters in and kept,
    split sizes, and the share of ingested lines kept."""
    rows = {}
    for code, stages in sorted(per_language.items()):
        row = {(stage, measure): stages[stage][measure] for stage in FUNNEL_STAGES for measure in COUNTS}
        for split, sizes in stages["split"].items():
            row[("split", f"{split}_lines")] = sizes["lines"]
        row[("kept", "share_of_lines")] = round(stages["dedup"]["lines_kept"] / max(stages["ingest"]["lines_in"], 1), 4)
        rows[code] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.index.name = "lang"
    return table


def rejected_table(per_language: dict) -> pd.DataFrame:
    """Rejected lines by stage and reason, one row per language."""
    rows = {code: {(stage, reason): count for stage in FUNNEL_STAGES for reason, count in stages[stage]["rejected"].items()}
            for code, stages in sorted(per_language.items())}
    columns = pd.MultiIndex.from_tuples(sorted({key for row in rows.values() for key in row}), names=["stage", "reason"])
    return pd.DataFrame([[row.get(key, 0) for key in columns] for row in rows.values()],
                        index=pd.Index(list(rows), name="lang"), columns=columns)


def _flat(table: pd.DataFrame) -> pd.DataFrame:
    """A table whose column levels are joined into one header ("ingest lines_in")."""
    flat = table.copy()
    flat.columns = [" ".join(map(str, column)) if isinstance(column, tuple) else column for column in flat.columns]
    return flat


def corpus_markdown(table: pd.DataFrame, rejected: pd.DataFrame) -> str:
    return ("# Corpus: lines and characters in and kept, stage by stage\n\n" + _flat(table).to_markdown()
            + "\n\n## Rejected lines by stage and reason\n\n" + _flat(rejected).to_markdown() + "\n")


def corpus_summary_markdown(table: pd.DataFrame) -> str:
    """Per language: lines read, lines and characters kept after deduplication, split sizes."""
    summary = pd.DataFrame({"lines read": table[("ingest", "lines_in")], "lines kept": table[("dedup", "lines_kept")],
                            "characters kept": table[("dedup", "chars_kept")],
                            **{f"{split} lines": table[("split", f"{split}_lines")] for split in ("train", "valid", "test")}})
    return "## Corpus\n\n" + summary.to_markdown() + "\n"


def corpus_text(table: pd.DataFrame) -> str:
    """The corpus table for the console."""
    with pd.option_context("display.width", 250, "display.max_columns", 50):
        return table.to_string()


def read_corpus_table(path) -> pd.DataFrame:
    return pd.read_csv(path, header=[0, 1], index_col=0)


def tokenizer_markdown(table: pd.DataFrame) -> str:
    return ("# Tokenizers\n\n`held-out`: the cleaned valid and test splits; `raw test`: the raw source lines of "
            "the test split, before any cleaning; `eval`: the raw sentences of the evaluation sets. "
            "`same_as_cleaned_share`: raw lines tokenized exactly as their cleaned form.\n\n"
            + table.reset_index().to_markdown(index=False, floatfmt=".4f") + "\n")


def tokenizer_rows(table: pd.DataFrame) -> dict:
    """The tokenizer table as plain JSON values: {"lang/text/tokenizer": {measure: value}}
    (a measure that does not apply, NaN in the table, is left out)."""
    return {"/".join(key): {k: (float(v) if isinstance(v, float) else int(v)) for k, v in row.items() if v == v}
            for key, row in table.iterrows()}


def sampling_text(plan: dict) -> str:
    """The sampling plan as a fixed-width table for the log."""
    lines = [f"{'lang':<6}{'blocks':>10}{'p':>9}{'q':>9}{'ratio':>8}{'passes':>9}"]
    for lang, row in plan["languages"].items():
        lines.append(f"{lang:<6}{row['blocks']:>10}{row['p']:>9.4f}{row['q']:>9.4f}{row['ratio']:>8.2f}"
                     f"{row['expected_passes']:>9.2f}")
    return "\n".join(lines)


def langid_markdown(stats: dict, langs) -> str:
    """Language ID accuracy per language: on held-out seed lines (labelled by their own source)
    and on the evaluation sets' sentences, which no corpus contains."""
    lines = ["## Language ID\n", "| language | held-out seed lines | accuracy | evaluation sentences | accuracy |",
             "|---|---:|---:|---:|---:|"]
    accuracy = lambda row: f"{row['accuracy']:.4f}" if row else "–"  # noqa: E731
    for lang in langs:
        seeds, sentences = stats["per_label"].get(lang), stats["eval_sets"].get(lang)
        lines.append(f"| {lang} | {seeds['lines'] if seeds else 0} | {accuracy(seeds)} | "
                     f"{sentences['lines'] if sentences else 0} | {accuracy(sentences)} |")
    return "\n".join(lines) + "\n"


def vocabulary_markdown(sizes: dict) -> str:
    return "## Vocabulary (fairseq symbols)\n\nbase {base} · merged {merged} · pruned {pruned}\n".format(**sizes)


def training_markdown(train_stats: dict, plan: dict) -> str:
    """The sampling plan and the first and last validation loss per language."""
    lines = [f"## Continued pretraining: {train_stats['num_updates']} updates of {train_stats['effective_batch']} "
             f"sequences\n", f"| language | blocks | p | q (alpha {plan['alpha']}) | sampling ratio | expected passes | "
             "first valid loss | last valid loss |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for lang, row in plan["languages"].items():
        losses = train_stats["validation_first_last"].get(f"valid_{lang}", {})
        first, last = losses.get("first", (None, None))[1], losses.get("last", (None, None))[1]
        lines.append(f"| {lang} | {row['blocks']} | {row['p']:.4f} | {row['q']:.4f} | {row['ratio']:.2f} | "
                     f"{row['expected_passes']:.2f} | {first} | {last} |")
    return "\n".join(lines) + "\n"


def build_markdown(langs, sections: list) -> str:
    """report.md of a build: a title, then the given sections (markdown strings) in order."""
    return f"# CINO build: {', '.join(langs)}\n\n" + "\n".join(sections)


def profile_markdown(name: str, profile: dict) -> str:
    rows = "\n".join(f"| {key} | {value} |" for key, value in profile.items())
    return f"## Training profile `{name}`\n\n| setting | value |\n|---|---|\n{rows}\n"


def parity_markdown(parity: dict) -> str:
    lines = ["## Parity with fairseq\n", "Token ids of the Hugging Face tokenizer against fairseq's `encode` (`fill_mask`'s "
             "encoding for lines with `<mask>`) on every line, and the largest absolute difference of the masked-LM "
             "logits (float32) on the first lines of each text.\n",
             "| text | lines | ids identical | share | logit lines | max abs logit difference |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, row in parity.items():
        lines.append(f"| {name} | {row['lines']} | {row['ids_identical']} | {row['ids_identical_share']:.4f} | "
                     f"{row['logit_lines']} | {row['max_abs_logit_difference']:.2e} |")
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


def evaluation_results(metrics: dict, mlm: dict, seeds: int, headline: dict) -> dict:
    """Both models side by side. `metrics`: {"model/protocol/lang": metrics.json}; `mlm`:
    {model: {lang: loss figures}}; `headline`: {protocol: the metric reported (CINO's)}.
    A delta no larger than the two runs' standard deviations together is marked as noise."""
    rows = []
    for key in sorted(k for k in metrics if k.startswith("cino/")):
        _, protocol, _ = key.split("/", 2)
        cino, base = metrics[key], metrics["base/" + key.split("/", 1)[1]]
        metric = headline[protocol]
        for test, row in cino["tests"].items():
            c, b = row["aggregate"][metric], base["tests"][test]["aggregate"][metric]
            delta = c["mean"] - b["mean"]
            rows.append({"protocol": protocol, "lang": test.split("/")[0], "evaluated_on": test.split("/")[1],
                         "train_items": cino["train_items"], "selection": cino["selection"], "metric": metric,
                         "base": b, "cino": c, "delta": delta, "within_spread": abs(delta) <= b["std"] + c["std"],
                         "majority": row["majority_baseline"][metric],
                         "at_majority": max(b["mean"], c["mean"]) <= row["majority_baseline"][metric] + b["std"] + c["std"],
                         "all": {m: {"base": base["tests"][test]["aggregate"][m], "cino": row["aggregate"][m]}
                                 for m in ("accuracy", "macro_f1", "weighted_f1")}})
    return {"seeds": seeds, "classification": rows,
            "mlm": {lang: {model: mlm[model][lang] for model in mlm} for lang in sorted(mlm.get("cino", {}))}}


def evaluation_markdown(results: dict) -> str:
    lines = ["## Evaluation: the base model and the trained model on the same protocol\n",
             f"Topic classification, fine-tuned end to end; mean ± standard deviation over {results['seeds']} seeds. "
             "Zero-shot: fine-tuned on the source language, tested on the others unchanged; in-language: fine-tuned "
             "and tested on one language. The delta (trained minus base) is the result; where it is no larger than "
             "the two standard deviations together it is within the seeds' spread and says nothing.\n",
             "| protocol | language | evaluated on | metric | majority class | base | trained | delta | |",
             "|---|---|---|---|---:|---:|---:|---:|---|"]
    for row in results["classification"]:
        verdict = "within the seeds' spread" if row["within_spread"] else ("better" if row["delta"] > 0 else "worse")
        lines.append(f"| {row['protocol']} | {row['lang']} | {row['evaluated_on']} | {row['metric']} | "
                     f"{row['majority']:.4f} | {row['base']['mean']:.4f} ± {row['base']['std']:.4f} | "
                     f"{row['cino']['mean']:.4f} ± {row['cino']['std']:.4f} | {row['delta']:+.4f} | {verdict} |")
    at_majority = sum(row["at_majority"] for row in results["classification"])
    noise = sum(row["within_spread"] for row in results["classification"])
    lines += ["", f"**In {noise} of {len(results['classification'])} settings the delta is within the seeds' spread; in "
              f"{at_majority} both models score at the majority-class baseline (within the spread), where neither has "
              "learned the task and the comparison shows the plumbing, not a gain.**"]
    lines += ["", "Where a language has no test split the table says it was evaluated on dev; the epoch was then "
              "picked on a tenth of the training set (in-language) or on the source language's dev set (zero-shot).",
              "", "### Masked-LM loss per character on the test split\n",
              "Nats per character of the masked tokens (15% of each line, never `<unk>`); the `<unk>` share says how much "
              "of the text the model could not read at all.\n",
              "| language | base loss/char | base `<unk>` share | trained loss/char | trained `<unk>` share |",
              "|---|---:|---:|---:|---:|"]
    for lang, models in results["mlm"].items():
        lines.append(f"| {lang} | {models['base']['loss_per_char']:.4f} | {models['base']['unk_share']:.4f} | "
                     f"{models['cino']['loss_per_char']:.4f} | {models['cino']['unk_share']:.4f} |")
    return "\n".join(lines) + "\n"


def html_page(title: str, sections: list) -> str:
    """A self-contained HTML report (plots embedded, opens offline): `sections` are
    (markdown, [png bytes]) pairs, each plot shown after its section's first heading."""
    import base64
    import html

    from markdown_it import MarkdownIt

    render = MarkdownIt("commonmark").enable("table").render
    body = [f"<h1>{html.escape(title)}</h1>"]
    for markdown, images in sections:
        heading, _, rest = markdown.partition("\n")
        body.append(render(heading))
        body += [f'<img alt="{html.escape(heading.strip("# "))}" src="data:image/png;base64,'
                 f'{base64.b64encode(png).decode()}">' for png in images]
        body.append(render(rest))
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}img{max-width:100%}"
             "table{border-collapse:collapse;font-size:12px;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;"
             "text-align:right}th{background:#f3f3f3}h2{border-bottom:1px solid #ddd;margin-top:2em}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
