"""Small utilities shared by every package: atomic outputs, fingerprints, stats, progress, errors.

Nothing here imports luigi, so `vocab/`, `training/`, `eval/` and `pipeline/text/` may use it.
"""
