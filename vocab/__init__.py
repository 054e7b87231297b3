"""Vocabulary extension: per-script SentencePiece models, merge into the base (XLM-R)
model, pruning to the pieces a corpus uses, fairseq dictionaries and id maps, and the
initialisation of new embedding rows. Plain modules: no luigi.
"""
