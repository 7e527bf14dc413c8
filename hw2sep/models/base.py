"""The model contract: what every registered network declares, so that no other module names a model.

A model is a ``SeparationModel`` built from one config dataclass. It declares:

* ``predicts``: the kind of vocals estimate it returns, one of ``KINDS``:
  ``magnitude`` (input the mixture magnitude, output the vocals magnitude),
  ``complex`` (input the complex mixture STFT, output the complex vocals STFT), or
  ``waveform`` (input the mixture waveform, output the vocals waveform);
* its STFT, from its config's ``n_fft``, ``hop`` and ``window`` (``stft_params``);
* ``frame_multiple``: spectrogram inputs are zero-padded to a multiple of this many frames
  (U-Nets halve the time axis several times), and outputs are cropped back by the caller;
* ``default_loss``: a name in ``hw2sep.training.losses.LOSSES``, the loss of the model's paper;
* ``targets``: what ``forward`` can estimate. Most models estimate the vocals only and get the
  accompaniment as the residual; a conditioned model (LaSAFT) lists both and takes ``target=``;
* ``prepare(mixtures)``: an optional hook run once before training (Open-Unmix's input statistics).

Models whose config has ``checkpoint_blocks`` run their blocks through ``run_block``: in training,
activation checkpointing keeps only each block's input and recomputes the inside in backward.
"""

from __future__ import annotations

import contextlib
from typing import Iterable, Iterator

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from hw2sep.dsp.stft import STFTParams

KINDS = ("magnitude", "complex", "waveform")
WINDOWS = ("hann", "hamming", "blackman")


class SeparationModel(nn.Module):
    """Base class of the zoo. Subclasses set ``self.config`` and override what differs.

    Shape (``forward``): magnitude (B, C, F, T) -> (B, C, F, T) >= 0; complex (B, C, F, T)
    complex64 -> same; waveform (B, C, N) -> (B, C, N); F = n_fft // 2 + 1, T a multiple of
    ``frame_multiple``.
    """

    predicts: str = "magnitude"
    default_loss: str = "mse_mag"
    frame_multiple: int = 1
    targets: tuple[str, ...] = ("vocals",)

    config: object  # a dataclass with at least n_fft, hop, window (optional, default hann), nb_channels

    @property
    def stft_params(self) -> STFTParams:
        return STFTParams(self.config.n_fft, self.config.hop, getattr(self.config, "window", "hann"))

    def prepare(self, mixtures: Iterable[Tensor]) -> None:
        """Initialise from training data before the first epoch; ``mixtures`` yields (C, N) waveforms."""

    @torch.no_grad()
    def example_input(self, nb_frames: int = 16, batch: int = 1) -> Tensor:
        """A random input of the declared kind (for tests and benches). Shape: see ``forward``."""
        stft = self.stft_params
        channels = self.config.nb_channels
        if self.predicts == "waveform":
            return torch.randn(batch, channels, (nb_frames - 1) * stft.hop)
        spec = torch.randn(batch, channels, stft.nb_bins, nb_frames, dtype=torch.complex64)
        return spec if self.predicts == "complex" else spec.abs()


def run_block(block: nn.Module, *args, checkpointed: bool) -> Tensor:
    """``block(*args)``; with ``checkpointed``, in training with gradients on, through activation checkpointing.

    Checkpointing keeps only the block's inputs and recomputes its inside in backward: the same values
    and gradients for less memory and about one more forward pass of time. Batch-norm running
    statistics are updated once (the recomputation leaves them alone).
    """
    if checkpointed and block.training and torch.is_grad_enabled():
        return checkpoint(block, *args, use_reentrant=False,
                          context_fn=lambda: (contextlib.nullcontext(), _frozen_norm_statistics(block)))
    return block(*args)


@contextlib.contextmanager
def _frozen_norm_statistics(module: nn.Module) -> Iterator[None]:
    """Batch norms of ``module`` normalise as usual but leave their running statistics and counts unchanged."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone()) for m in norms]
    for norm in norms:
        norm.momentum = 0.0  # running = (1 - 0) * running + 0 * batch
    try:
        yield
    finally:
        for norm, (momentum, count) in zip(norms, saved):
            norm.momentum = momentum
            if count is not None:
                norm.num_batches_tracked.copy_(count)
