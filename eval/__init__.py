"""Measurements and reports: tokenizer statistics (eval/tokenizer_report.py) and every
report the pipeline writes (eval/report.py). Plain modules: no luigi."""
