"""fairseq integration: binarisation, sampling plan, command building, launching
(local / torchrun / SLURM), checkpoint surgery and export. Plain modules: no luigi.
"""
