"""Merge per-script SentencePiece models into a base model (XLM-R), safely by construction.

The common recipe, appending every new piece with score 0, changes how the base
languages are tokenized: a score-0 piece beats every base piece (XLM-R's scores are
-3.5 to -20), so wherever a new piece matches ("▁2015", ",", a Latin or Han letter
the script corpus happened to contain) Viterbi picks it. Here:

1. a piece is added only if it consists of its script's letters and stand-ins (see
   vocab/codepoints.py) and holds at least one character the base cannot encode (the base
   gives it <unk>). Text the base already tokenizes has no such character, so no new piece
   can match in it: base languages keep exactly the base's candidate pieces and scores,
   whatever script the new model is for. A script the base already covers (Cyrillic,
   say) would then add almost nothing; `check_pieces_added` stops with an error naming the
   script and the opt-in (`add_base_encodable_pieces`), whose cost the tokenizer report
   shows for the base languages written in that script;
2. the normaliser is the base's, with the cleaning of the new scripts compiled in
   (vocab/normalizer.py): raw text of those scripts reaches the new pieces as the cleaned
   training text did, and every other text is normalised exactly as by the base; decoding
   maps the stand-ins back to the characters they stand for;
3. new pieces keep their unigram log-probabilities, shifted down only if the script
   model's best piece scores above the base's best, and floored at the base's worst: the
   scores live in the base model's range;
4. every letter and stand-in of the script that neither the base nor the script model has
   becomes a single-character piece at the base's worst score, so no character of the
   script becomes <unk> (a letter the corpus never showed still reaches a piece).
"""
from sentencepiece import sentencepiece_model_pb2 as pb

from common.errors import InputError
from vocab.normalizer import compile_rules, decode_charsmap, merged_rules
from vocab.pieces import NORMAL, SPACE, load_proto

# What the stages that run this module write changes with it: bump VERSION with any change that
# can change their outputs (tests/test_stage_versions.py keeps count; reruns follow the fingerprint).
VERSION = 1


def merge(base: pb.ModelProto, script_models: dict, scripts: dict, encodable, rules: dict, opt_in=()) -> tuple:
    """(merged ModelProto, stats). `script_models`: {script code: ModelProto}, merged in key order;
    `scripts`: {script code: ScriptChars}; `encodable(ch)`: does the base encode `ch` without
    <unk>; `rules`: the merged normaliser (vocab.normalizer.merged_rules); `opt_in`: scripts
    whose pieces may consist of characters the base encodes (see the module docstring)."""
    merged = pb.ModelProto()
    merged.CopyFrom(base)
    base_scores = [p.score for p in base.pieces if p.type == NORMAL]
    low, high = min(base_scores), max(base_scores)
    known = {p.piece for p in base.pieces}
    stats = {"base_pieces": len(base.pieces), "scripts": {}}
    for code in sorted(script_models):
        model, chars = script_models[code], scripts[code]
        normal = [p for p in model.pieces if p.type == NORMAL]
        shift = min(0.0, high - max(p.score for p in normal))
        counts = {"pieces": len(normal), "added": 0, "already_in_base": 0, "touch_other_scripts": 0,
                  "base_encodable": 0, "score_shift": shift, "opt_in": code in opt_in, "fallback_characters": 0}
        for piece in normal:
            text = piece.piece.replace(SPACE, "")
            if not all(map(chars.allowed, text)):
                counts["touch_other_scripts"] += 1
            elif piece.piece in known:
                counts["already_in_base"] += 1
            elif code not in opt_in and all(map(encodable, text)):
                counts["base_encodable"] += 1
            else:
                merged.pieces.add(piece=piece.piece, score=max(low, piece.score + shift), type=NORMAL)
                known.add(piece.piece)
                counts["added"] += 1
        for ch in chars.letters() + list(chars.restore_table()):
            if ch not in known and not encodable(ch):  # no character of the script may become <unk>
                merged.pieces.add(piece=ch, score=low, type=NORMAL)
                known.add(ch)
                counts["fallback_characters"] += 1
        stats["scripts"][code] = counts
    merged.normalizer_spec.precompiled_charsmap = compile_rules(rules)
    merged.normalizer_spec.name = f"{base.normalizer_spec.name}_with_{'_'.join(sorted(script_models))}"
    restore = {k: v for code in script_models for k, v in scripts[code].restore_table().items()}
    if restore:
        denormalizer = merged.denormalizer_spec
        denormalizer.name, denormalizer.precompiled_charsmap = "restore_joiners", compile_rules(restore)
        denormalizer.add_dummy_prefix = denormalizer.remove_extra_whitespaces = denormalizer.escape_whitespaces = False
    merged.trainer_spec.vocab_size = len(merged.pieces)
    stats.update(merged_pieces=len(merged.pieces), base_score_range=[low, high])
    return merged, stats


def merge_vocabulary(base_file, script_models: dict, rewrites: dict, opt_in=()) -> tuple:
    """(merged ModelProto, stats): the base SentencePiece model file with the script models
    ({script code: ModelProto}) merged in, its normaliser compiled from `rewrites`
    ({script code: vocab.normalizer.ScriptRewrite})."""
    base = load_proto(base_file)
    codes = sorted(script_models)
    rules, rule_stats = merged_rules(decode_charsmap(base.normalizer_spec.precompiled_charsmap),
                                     [rewrites[code] for code in codes])
    merged, stats = merge(base, script_models, {code: rewrites[code].chars for code in codes},
                          base_encodes(base_file), rules, opt_in)
    return merged, {**stats, "normaliser": {"rules": len(rules), "scripts": rule_stats}}


def base_encodes(base_spm_file):
    """`encodes(ch)`: does the base model encode the character `ch` without <unk>?"""
    import functools

    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(base_spm_file))
    return functools.lru_cache(maxsize=None)(lambda ch: processor.unk_id() not in processor.encode(ch))


def check_pieces_added(stats: dict, where: str, max_base_encodable: float = 0.5) -> None:
    """Stop when the base already encodes most of a script: of the script model's own pieces
    (those of its letters, not already in the base) more than `max_base_encodable` were refused;
    opted in, they would change how the base tokenizes every language written in it."""
    for code, counts in stats["scripts"].items():
        candidates = counts["base_encodable"] + counts["added"]
        share = counts["base_encodable"] / max(candidates, 1)
        if not counts["opt_in"] and share > max_base_encodable:
            raise InputError(f"{where}: script '{code}'",
                             f"the base model already encodes every character of {counts['base_encodable']} of the "
                             f"{candidates} new pieces of its SentencePiece model ({share:.0%}); they are not added, "
                             "since they would change how the base tokenizes the languages it knows in this script",
                             "set 'tokenizer: {own_model: false}' for the script, or opt in with "
                             "'tokenizer: {own_model: true, add_base_encodable_pieces: true}' and check the tokenizer "
                             "report's identical_to_base_share for the base languages written in it")
