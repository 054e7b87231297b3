"""Merge per-script SentencePiece models into a base model (XLM-R), safely by construction.

The common recipe, appending every new piece with score 0, changes how the base
languages are tokenized: a score-0 piece beats every base piece (XLM-R's scores are
-3.5 to -20), so wherever a new piece matches ("▁2015", ",", a Latin or Han letter
the script corpus happened to contain) Viterbi picks it. Here:

1. a piece is added only if it contains a *protected* code point and nothing else but
   protected code points and the joiners its script keeps (ZWJ/ZWNJ in Mongolian).
   Protected are the ranges of the scripts that get their own model and the invisible
   characters only those scripts keep (Mongolian FVS/MVS/NNBSP). A new piece can only
   match where a protected code point is, so text without one (every base-covered
   language) has exactly the base's candidate pieces and scores;
2. the base normaliser is kept but stops rewriting protected code points
   (vocab/normalizer.py), so new-script text reaches the new pieces as it was trained;
   protected whitespace (U+202F) maps to a private-use stand-in, as in the script models
   (CodePoints.standins);
3. new pieces keep their unigram log-probabilities, shifted down only if the script
   model's best piece scores above the base's best, and floored at the base's worst: the
   scores live in the base model's range.
"""
from sentencepiece import sentencepiece_model_pb2 as pb

from vocab.codepoints import CodePoints
from vocab.normalizer import compile_rules, decode_charsmap, protect
from vocab.pieces import NORMAL, SPACE


def merge(base: pb.ModelProto, script_models: dict, points: CodePoints) -> tuple:
    """(merged ModelProto, stats). `script_models`: {script code: ModelProto}, merged in key order."""
    merged = pb.ModelProto()
    merged.CopyFrom(base)
    base_scores = [p.score for p in base.pieces if p.type == NORMAL]
    low, high = min(base_scores), max(base_scores)
    known = {p.piece for p in base.pieces}
    stats = {"base_pieces": len(base.pieces), "scripts": {}}
    for code in sorted(script_models):
        model = script_models[code]
        normal = [p for p in model.pieces if p.type == NORMAL]
        shift = min(0.0, high - max(p.score for p in normal))
        counts = {"pieces": len(normal), "added": 0, "already_in_base": 0, "touch_other_scripts": 0, "score_shift": shift}
        for piece in normal:
            cps = [ord(ch) for ch in piece.piece.replace(SPACE, "")]
            if not any(map(points.is_protected, cps)) or not all(map(points.is_allowed, cps)):
                counts["touch_other_scripts"] += 1
            elif piece.piece in known:
                counts["already_in_base"] += 1
            else:
                merged.pieces.add(piece=piece.piece, score=max(low, piece.score + shift), type=NORMAL)
                known.add(piece.piece)
                counts["added"] += 1
        stats["scripts"][code] = counts
    rules = decode_charsmap(base.normalizer_spec.precompiled_charsmap)
    kept = {**protect(rules, points.is_protected), **points.standins()}
    merged.normalizer_spec.precompiled_charsmap = compile_rules(kept)
    merged.normalizer_spec.name = f"{base.normalizer_spec.name}_except_{'_'.join(sorted(script_models))}"
    merged.trainer_spec.vocab_size = len(merged.pieces)
    stats.update(merged_pieces=len(merged.pieces), normaliser_rules=len(rules),
                 normaliser_rules_dropped=len(rules) - len(kept), base_score_range=[low, high])
    return merged, stats
