"""Prune a merged vocabulary to the pieces a corpus uses.

Counting is streaming and parallel: the training files are cut into byte ranges at line
boundaries, and worker processes encode their ranges with the merged model and return
piece counts. Kept: the control pieces, every piece used at least `min_count` times,
and (by default) every single-character piece, so text outside the corpus falls back to
characters rather than <unk>. Removing pieces that no best segmentation used cannot
change the best segmentation of a training line; `compare_tokenization` re-encodes every training line
with both models to prove it (with min_count > 1 it reports the lines that changed).
"""
import multiprocessing
from dataclasses import dataclass

import numpy as np
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

from common.ranges import line_ranges, range_lines
from common.settings import Settings, setting
from vocab.pieces import NORMAL

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


@dataclass(frozen=True)
class PruneSettings(Settings):
    min_count: int = setting(1, "a piece is kept if the training text uses it this often")
    keep_single_chars: bool = setting(True, "keep every single-character piece (unseen text degrades to characters)")
    workers: int = setting(2, "processes counting pieces", fingerprint=False)
    chunk_mb: int = setting(8, "MB of text per counting job", fingerprint=False)


_models = {}


def _model(model_file: str) -> spm.SentencePieceProcessor:
    if model_file not in _models:
        _models[model_file] = spm.SentencePieceProcessor(model_file=model_file)
    return _models[model_file]


def count_ids(ids: list, size: int) -> np.ndarray:
    """How often each of `size` ids occurs in `ids` (a list of lines' id lists)."""
    return np.bincount(np.fromiter((i for line in ids for i in line), dtype=np.int64), minlength=size)


def _count(job) -> np.ndarray:
    model_file, size, (path, start, end) = job
    return count_ids(_model(model_file).encode(range_lines(path, start, end)), size)


def _differing(job) -> tuple:
    merged_file, pruned_file, (path, start, end) = job
    lines = range_lines(path, start, end)
    merged = _model(merged_file).encode(lines, out_type=str)
    pruned = _model(pruned_file).encode(lines, out_type=str)
    return len(lines), sum(a != b for a, b in zip(merged, pruned))


def _pool_map(function, jobs, workers: int, progress=None):
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for result in pool.imap(function, jobs):
            if progress:
                progress.update(1)
            yield result


def count_pieces(model_file, files, settings: PruneSettings, progress=None) -> np.ndarray:
    """How often each piece (SentencePiece id) occurs in the best segmentation of every line."""
    size = _model(str(model_file)).get_piece_size()
    jobs = [(str(model_file), size, c) for c in line_ranges(files, settings.chunk_mb << 20)]
    return sum(_pool_map(_count, jobs, settings.workers, progress), np.zeros(size, dtype=np.int64))


def prune(merged: pb.ModelProto, counts: np.ndarray, settings: PruneSettings) -> tuple:
    """(pruned ModelProto, kept SentencePiece ids of the merged model, in order)."""
    kept = [i for i, piece in enumerate(merged.pieces)
            if piece.type != NORMAL or counts[i] >= settings.min_count
            or (settings.keep_single_chars and len(piece.piece) == 1)]
    pruned = pb.ModelProto()
    pruned.CopyFrom(merged)
    del pruned.pieces[:]
    pruned.pieces.extend(merged.pieces[i] for i in kept)
    pruned.trainer_spec.vocab_size = len(pruned.pieces)
    return pruned, kept


def compare_tokenization(merged_file, pruned_file, files, settings: PruneSettings) -> dict:
    """Encode every line with both models: how many lines get different pieces."""
    jobs = [(str(merged_file), str(pruned_file), c) for c in line_ranges(files, settings.chunk_mb << 20)]
    lines = differing = 0
    for n, d in _pool_map(_differing, jobs, settings.workers):
        lines, differing = lines + n, differing + d
    return {"lines": lines, "lines_tokenized_differently": differing}
