"""Corpus logic: script detection, normalisation, markup, filters, dedup, split, language ID.

Plain functions and classes only (no luigi), so every piece is testable on its own.
"""
