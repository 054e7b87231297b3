"""A smaller student distilled from the trained model, as TextBrewer, DistilBERT and TinyBERT do:
fewer layers, initialised from the teacher's (every `stride`-th layer, the embeddings and the LM
head copied), trained to match the teacher on the run's corpus sampled as continued pretraining
samples it (the languages' shares q of the sampling plan).

Each update: `batch_size` lines drawn by a generator seeded with (seed, update) (only the drawn
lines are read: memory does not grow with the corpus); `mask_prob` of their tokens replaced by
<mask> (all of them: fairseq's 10% kept and 10% random tokens are left out, the student learns
the teacher's distribution at masked positions; never a special token); the loss is the KL divergence of
the student's masked-token distribution from the teacher's at temperature T (times T^2, so its
gradient does not shrink with T), plus `hidden_weight` x the mean squared difference of the
student's hidden states and the teacher's layers they were initialised from (and of the
embeddings' output). Resumable: a checkpoint (student, optimiser, schedule, update, torch's random
state) every `save_interval` updates, written atomically; a run resumed from it ends with the
same weights as one that was not interrupted (tested).
"""
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import InputError
from common.settings import Settings, setting
from common.xlmr import PAD, SPECIALS

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 2   # 2: evenly spaced teacher layers, only the drawn lines read


CHECKPOINT = "distill_last.pt"


@dataclass(frozen=True)
class DistillSettings(Settings):
    layers: int = setting(0, "student layers; 0: half the teacher's (at least 1)", bounds=(0, 1000))
    steps: int = setting(1000, "updates", bounds=(1, 10**9))
    batch_size: int = setting(32, "sequences per update", bounds=(1, 10**6))
    tokens_per_sample: int = setting(128, "tokens per sequence (longer lines are cut)", bounds=(8, 10**6))
    lr: float = setting(5e-4, "peak learning rate (AdamW, linear warm-up and decay)", bounds=(1e-9, 1.0))
    warmup: float = setting(0.05, "share of the updates spent warming up", bounds=(0.0, 0.99))
    temperature: float = setting(2.0, "softmax temperature of the logit loss", bounds=(0.01, 100.0))
    hidden_weight: float = setting(1.0, "weight of the hidden-state loss against the logit loss", bounds=(0.0, 1000.0))
    mask_prob: float = setting(0.2, "share of the tokens masked (CINO's 0.2)", bounds=(0.01, 0.99))
    seed: int = setting(1, "seed of the sampling, the masking and the student's dropout")
    threads: int = setting(2, "CPU threads (they can change the last bits of the weights)", bounds=(1, 1024))
    save_interval: int = setting(200, "a checkpoint to resume from every so many updates", fingerprint=False,
                                 bounds=(1, 10**9))


def teacher_layers(teacher_count: int, student_count: int) -> list:
    """The teacher layer (0-based) each student layer starts from and is matched to: the last of
    each of `student_count` groups of the teacher's layers, as even as integers allow."""
    if not 1 <= student_count < teacher_count:
        raise InputError("[distill] layers", f"a student of {student_count} layers from a teacher of {teacher_count}",
                         f"use 1 to {teacher_count - 1} layers (0: half the teacher's)")
    return [(k + 1) * teacher_count // student_count - 1 for k in range(student_count)]


def student_from(teacher, layers: int):
    """A copy of `teacher` (XLMRobertaForMaskedLM) with only the given number of encoder layers,
    taken from the teacher's layers `teacher_layers(...)`."""
    import copy

    import torch

    student = copy.deepcopy(teacher)
    chosen = teacher_layers(teacher.config.num_hidden_layers, layers)
    student.roberta.encoder.layer = torch.nn.ModuleList(copy.deepcopy(teacher.roberta.encoder.layer[i]) for i in chosen)
    student.config.num_hidden_layers = layers
    return student


def _lines(path):
    """The non-blank lines of a split file (blank lines separate documents)."""
    with open(path, encoding="utf-8") as handle:
        yield from (line.rstrip("\n") for line in handle if line.strip())


def drawn_lines(files: dict, q: dict, settings: DistillSettings) -> list:
    """The lines of every update, [[line, ...] per update]: for update k, `batch_size` draws of a
    generator seeded with (seed, k): a language by its share q, then one of its lines
    (`files`: {lang: split file}). Two passes over the files; only the drawn lines are kept."""
    counts = {lang: sum(1 for _ in _lines(path)) for lang, path in sorted(files.items())}
    langs = [lang for lang in counts if counts[lang]]
    if not langs:
        raise InputError(", ".join(map(str, files.values())), "no lines to distil on", "build the run's corpus first")
    shares = np.array([q[lang] for lang in langs]) / sum(q[lang] for lang in langs)
    draws = []
    for step in range(settings.steps):
        rng = np.random.default_rng([settings.seed, step])
        chosen = rng.choice(len(langs), size=settings.batch_size, p=shares)
        draws.append([(langs[i], int(rng.integers(counts[langs[i]]))) for i in chosen])
    wanted = {lang: {i for batch in draws for code, i in batch if code == lang} for lang in langs}
    text = {(lang, i): line for lang in langs for i, line in enumerate(_lines(files[lang])) if i in wanted[lang]}
    return [[text[pick] for pick in batch] for batch in draws]


def mask_batch(ids: list, mask_id: int, mask_prob: float, seed: int, step: int):
    """(input ids with <mask>, attention mask, boolean mask of the masked positions) of a batch;
    specials and padding are never masked, every line has at least one masked token."""
    import torch

    width = max(map(len, ids))
    tokens = torch.full((len(ids), width), PAD, dtype=torch.long)
    for row, line in enumerate(ids):
        tokens[row, :len(line)] = torch.tensor(line)
    maskable = tokens >= len(SPECIALS)
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    masked = (torch.rand(tokens.shape, generator=generator) < mask_prob) & maskable
    first = maskable.float().argmax(dim=1)   # a line with no masked token gets its first maskable one
    rows = torch.arange(len(ids))[~masked.any(dim=1) & maskable.any(dim=1)]
    masked[rows, first[rows]] = True
    return tokens.masked_fill(masked, mask_id), (tokens != PAD).long(), masked


def distill(teacher_dir, batches: list, out_dir, run_dir, settings: DistillSettings, on_step=None) -> dict:
    """Distil the teacher (a Hugging Face directory) on `batches` (the lines of each update,
    `drawn_lines`); the student goes to `out_dir` (model files; the caller adds the tokenizer),
    checkpoints to `run_dir`. Returns the first and last losses."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir, local_files_only=True)
    teacher = AutoModelForMaskedLM.from_pretrained(teacher_dir, local_files_only=True).eval()
    positions = teacher.config.max_position_embeddings - 2   # XLM-R's positions start after the padding id
    if settings.tokens_per_sample > positions:
        raise InputError("[distill] tokens_per_sample", f"{settings.tokens_per_sample} is more than the teacher's "
                         f"{positions} positions", f"use at most {positions}")
    count = settings.layers or max(1, teacher.config.num_hidden_layers // 2)
    student = student_from(teacher, count)
    matched = [0] + [i + 1 for i in teacher_layers(teacher.config.num_hidden_layers, count)]   # hidden_states indices
    optimizer = torch.optim.AdamW(student.parameters(), lr=settings.lr, weight_decay=0.0)
    warmup = max(1, int(settings.warmup * settings.steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(
        (step + 1) / warmup, max(0.0, (settings.steps - step) / max(1, settings.steps - warmup))))
    start, losses = 0, []
    saved = Path(run_dir) / CHECKPOINT
    if saved.exists():
        state = torch.load(saved, weights_only=False)
        student.load_state_dict(state["student"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        torch.set_rng_state(state["rng"])
        start, losses = state["step"], state["losses"]
    student.train()
    mask_id = tokenizer.mask_token_id
    temperature = settings.temperature
    for step in range(start, settings.steps):
        ids = tokenizer(batches[step], truncation=True, max_length=settings.tokens_per_sample)["input_ids"]
        inputs, attention, masked = mask_batch(ids, mask_id, settings.mask_prob, settings.seed, step)
        with torch.no_grad():
            taught = teacher.roberta(input_ids=inputs, attention_mask=attention, output_hidden_states=True)
            target = teacher.lm_head(taught.last_hidden_state[masked]) / temperature
        learned = student.roberta(input_ids=inputs, attention_mask=attention, output_hidden_states=True)
        logits = student.lm_head(learned.last_hidden_state[masked]) / temperature
        # a batch of specials and <unk> only has nothing masked: no logit loss then (not a NaN)
        kd = torch.nn.functional.kl_div(torch.log_softmax(logits, -1), torch.log_softmax(target, -1),
                                        reduction="batchmean", log_target=True) * temperature ** 2 \
            if masked.any() else logits.sum() * 0.0
        real = attention.bool()
        hidden = sum(torch.nn.functional.mse_loss(learned.hidden_states[s][real], taught.hidden_states[t][real])
                     for s, t in enumerate(matched)) / len(matched)
        loss = kd + settings.hidden_weight * hidden
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append([round(float(kd), 5), round(float(hidden), 5)])
        if on_step:
            on_step(step + 1, settings.steps, loss.item())
        if (step + 1) % settings.save_interval == 0 and step + 1 < settings.steps:
            partial = saved.with_name(saved.name + ".partial")
            torch.save({"student": student.state_dict(), "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(), "rng": torch.get_rng_state(), "step": step + 1,
                        "losses": losses}, partial)
            os.replace(partial, saved)
    student.eval()
    student.save_pretrained(out_dir, safe_serialization=True)
    window = max(1, math.ceil(len(losses) / 20))
    return {"teacher_layers": teacher.config.num_hidden_layers, "student_layers": count,
            "parameters": sum(p.numel() for p in student.parameters()),
            "initialised_from": matched[1:], "steps": settings.steps,
            "loss_first": [round(sum(x) / window, 5) for x in zip(*losses[:window])],
            "loss_last": [round(sum(x) / window, 5) for x in zip(*losses[-window:])]}
