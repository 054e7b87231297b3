"""Binarisation for fairseq: SentencePiece pieces, then `fairseq-preprocess --only-source`.

Lines are encoded in batches (SentencePiece encodes a batch on several threads) and
streamed to disk. A line longer than `max_tokens` pieces is cut into consecutive chunks,
because `--sample-break-mode complete` refuses any sample longer than tokens_per_sample
("Size of sample #N is invalid").
"""
import subprocess
import sys

import sentencepiece as spm

from common.errors import InputError
from common.jsonio import open_text

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


def encode_file(model_file, in_path, out_path, max_tokens: int, batch: int = 4096) -> dict:
    """Write space-separated pieces, one (chunk of a) line per line; returns counts."""
    processor = spm.SentencePieceProcessor(model_file=str(model_file))
    stats = {"lines": 0, "segments": 0, "tokens": 0, "unk": 0, "lines_split": 0}

    def flush(lines, out):
        for ids in processor.encode(lines, num_threads=2):
            pieces = processor.id_to_piece(ids)  # an unknown character becomes "<unk>", fairseq's <unk>
            stats["lines"] += 1
            stats["tokens"] += len(pieces)
            stats["unk"] += ids.count(processor.unk_id())
            stats["lines_split"] += len(pieces) > max_tokens
            for start in range(0, len(pieces), max_tokens):
                out.write(" ".join(pieces[start:start + max_tokens]) + "\n")
                stats["segments"] += 1
        lines.clear()

    with open_text(in_path) as handle, open_text(out_path, "w") as out:
        pending = []
        for line in handle:
            line = line.rstrip("\n")
            if line:
                pending.append(line)
            if len(pending) >= batch:
                flush(pending, out)
        flush(pending, out)
    return stats


def preprocess(dict_file, dest_dir, train_pieces, valid_pieces, workers: int = 2) -> None:
    """fairseq-preprocess with a fixed dictionary (our dict.txt), source side only."""
    command = [sys.executable, "-m", "fairseq_cli.preprocess", "--only-source", "--srcdict", str(dict_file),
               "--trainpref", str(train_pieces), "--validpref", str(valid_pieces), "--destdir", str(dest_dir),
               "--workers", str(workers), "--dataset-impl", "mmap"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InputError(train_pieces, f"fairseq-preprocess failed ({last})",
                         "check that dict.txt belongs to the SentencePiece model used for encoding")
