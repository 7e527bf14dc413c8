"""Training: the separator trainer (``train``, its config and CLI), the vocoder trainer (``vocoder``, CLI
``train_vocoder``), the loss registry (``losses``) and DistributedDataParallel helpers (``distributed``).

May import: hw2sep.data, hw2sep.models, hw2sep.separation (validation runs the separator's chunker), hw2sep.dsp,
hw2sep.vocoder, hw2sep.common, hw2sep.names, hw2sep.errors.
"""
