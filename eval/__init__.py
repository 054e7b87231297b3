"""Evaluation: tokenizer statistics, masked-LM and classification suites, reports.
Plain modules: no luigi."""
