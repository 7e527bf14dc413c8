"""Data: MUSDB18 / MUSDB18-HQ on disk (``musdb``), the procedural toy MUSDB (``toy``), the npy cache training reads
(``npy_cache``, with its manifest and fingerprint) and the training excerpts with augmentation (``excerpts``).

Owns: which tracks exist, the validation split, and the rule that the test subset never feeds training
(``musdb.training_subsets`` refuses it for the npy cache, the excerpts and the experiments).
May import: hw2sep.names, hw2sep.errors, hw2sep.common.
"""
