"""Evaluation: BSS Eval metrics (``metrics``: museval v4, the fast v4, mir_eval v3, the scoring pool), scoring
checkpoints x methods on a MUSDB subset (``evaluate``), what a cached score was computed from (``identity``: the
audio's fingerprint, the checkpoint, the settings) and the listening samples (``samples``).

May import: hw2sep.separation, hw2sep.models, hw2sep.data, hw2sep.dsp, hw2sep.vocoder, hw2sep.report.results (the
result-file format), hw2sep.common, hw2sep.names, hw2sep.errors. Never training.
"""
