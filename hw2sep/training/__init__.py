"""Training: the one training loop (``loop``: resume, RNG state, atomic checkpoints and their json, log.csv, the
epoch_NNN checkpoints, DDP rank 0 writes), the separator trainer (``train``, its config and CLI), the vocoder trainer
(``vocoder``, CLI ``train_vocoder``), the loss registry (``losses``: a config's ``loss`` or the model's
``default_loss``), the checks of every setting's type and range (``checks``) and DDP helpers (``distributed``).

May import: hw2sep.data, hw2sep.models, hw2sep.separation (validation runs the separator's chunker), hw2sep.dsp,
hw2sep.vocoder, hw2sep.common, hw2sep.names, hw2sep.errors.
"""
