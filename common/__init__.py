"""Small utilities shared by every package: atomic outputs, fingerprints, deterministic JSON,
progress, the one error type for bad input, script-aware text units.

Nothing here imports luigi, so `vocab/`, `training/`, `eval/` and `corpus/` may use it.
"""
