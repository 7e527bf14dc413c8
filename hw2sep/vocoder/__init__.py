"""Optional task 3: phase from a neural mel vocoder on the separator's own STFT.

One concern per module: ``model`` (the Vocos-style network and its config), ``losses`` (spectral
losses and phase-independent distances), ``discriminators`` (optional adversarial training),
``checkpoint`` (save / load, refusing an STFT mismatch with the separator), ``inference``
(``vocode``: batched, chunked synthesis). It is trained by hw2sep.training.vocoder (CLI: hw2sep-train-vocoder).
May import: hw2sep.dsp, hw2sep.models (a separator checkpoint's STFT), hw2sep.common, hw2sep.names, hw2sep.errors.

For the reconstruction methods: ``vocoder = load_vocoder(path, separator.stft_params)`` then
``vocode(magnitudes, length, vocoder)``.
"""

from hw2sep.vocoder.checkpoint import load_vocoder, save_vocoder, stft_from_checkpoint  # noqa: F401
from hw2sep.vocoder.inference import vocode  # noqa: F401
from hw2sep.vocoder.losses import log_spectral_distance, multi_resolution_stft_distance  # noqa: F401
from hw2sep.vocoder.model import FEATURES, Vocoder, VocoderConfig  # noqa: F401
