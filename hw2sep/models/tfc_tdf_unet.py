"""U-Net with TFC-TDF blocks (Choi, Kim, Chung, Lee and Jung, "Investigating U-Nets with various
intermediate blocks for spectrogram-based singing voice separation", ISMIR 2020), written for hw2sep
after github.com/ws-choi/ISMIR2020_U_Nets_SVS (``tfc_tdf_net.py``, ``dense_u_net.py``; MIT). No code
is copied; the blocks are in ``hw2sep.models.tfc_tdf_blocks``.

A 1x2 conv maps the n_fft // 2 + 1 bins to n_fft // 2; ``n_blocks // 2`` TFC-TDF blocks, each followed
by a 2x2 strided conv that halves frames and bins; a middle TFC-TDF block; as many transposed-conv
upsamplings, each concatenated with its encoder output and fed to a TFC-TDF block; a padded 1x2 conv
back to every bin. The defaults are the repository's README run (n_fft 2048, hop 1024, 128-frame
chunks, 7 blocks, 24 channels, 5 dense layers, 3x3 kernels, TDF bottleneck factor 16, at least 16
units, no TDF bias; trained with the MSE on the spectrogram): 988,148 parameters here (complex;
987,954 magnitude), about 1 M like the repository's, whose count is 672 lower (its TDF batch norms are
not affine). The README's run reports 6.95 dB vocals SDR on MUSDB18 (museval, median over tracks of
the per-track median).

``spec_type`` selects the two frameworks of the paper's comparison:

* ``complex`` (the paper's choice, "complex as channels" with direct mapping): real and imaginary part
  of each channel in, the vocals' real and imaginary parts out, no output activation;
* ``magnitude``: the channel magnitudes in, a sigmoid mask out, multiplied with the mixture magnitude
  (the repository's ``--spec_type magnitude --spec_est_mode masking --last_activation sigmoid``).

Initialisation as the repository's: Xavier-normal on every weight of more than one dimension, biases
and batch norms at PyTorch's defaults (``tfc_tdf_blocks.xavier_init``: what its ``Spectrogram_based``
does with the README run's identity last activation, and with sigmoid for masks). Its per-layer
alternatives (``--layer_level_init_weight``, and ``--tif_init_mode dk`` under it) are off by default
and not reproduced.

Departure: the TDF batch norms are affine (see ``tfc_tdf_blocks``).

Speed and memory options (same outputs): ``channels_last`` keeps convolutions in the channels-last
memory layout; ``checkpoint_blocks`` recomputes each TFC-TDF block in backward instead of keeping its
activations (``base.run_block``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from hw2sep.models.base import SeparationModel, run_block
from hw2sep.models.tfc_tdf_blocks import (TFCTDF, bins_in, bins_out, channels_to_complex, check_bins,
                                          complex_to_channels, downsample, upsample, xavier_init)

SPEC_TYPES = ("complex", "magnitude")


@dataclass
class TFCTDFUNetConfig:
    """Everything needed to rebuild the network; saved beside every checkpoint."""

    n_fft: int = 2048
    hop: int = 1024
    window: str = "hann"
    nb_channels: int = 2
    spec_type: str = "complex"     # "complex" (mapping) or "magnitude" (sigmoid mask)
    n_blocks: int = 7              # odd: n_blocks // 2 down levels, a middle block, n_blocks // 2 up levels
    internal_channels: int = 24
    n_internal_layers: int = 5     # densely connected convs per TFC
    kernel_size: int = 3
    bn_factor: int = 16            # TDF bottleneck: bins -> max(bins // bn_factor, min_bn_units) -> bins
    min_bn_units: int = 16
    tdf_bias: bool = False
    channels_last: bool = True     # conv weights and activations in channels-last memory layout (faster convs)
    checkpoint_blocks: bool = True  # activation checkpointing per TFC-TDF block (training memory)


class TFCTDFUNet(SeparationModel):
    """Complex-as-channels (or magnitude-mask) U-Net of TFC-TDF blocks.

    Shape: complex (B, C, F, T) complex64 -> same; magnitude (B, C, F, T) -> same, >= 0;
    F = n_fft // 2 + 1, T a multiple of ``frame_multiple`` = 2 ** (n_blocks // 2).
    """

    def __init__(self, config: TFCTDFUNetConfig):
        super().__init__()
        if config.spec_type not in SPEC_TYPES:
            raise ValueError(f"spec_type must be one of {SPEC_TYPES}, not {config.spec_type!r}")
        if config.n_blocks % 2 != 1:
            raise ValueError(f"n_blocks must be odd, not {config.n_blocks}")
        self.config = config
        self.predicts = config.spec_type
        self.default_loss = "l2_complex" if config.spec_type == "complex" else "mse_mag"
        levels = config.n_blocks // 2
        self.frame_multiple = 2 ** levels
        nb_bins = config.n_fft // 2  # after the first 1x2 conv
        check_bins(nb_bins, levels, "tfc_tdf_unet")
        io_channels = config.nb_channels * (2 if config.spec_type == "complex" else 1)
        c = config.internal_channels
        block = partial(TFCTDF, nb_layers=config.n_internal_layers, kernel=config.kernel_size,
                        bn_factor=config.bn_factor, min_units=config.min_bn_units, bias=config.tdf_bias)

        self.first = bins_in(io_channels, c)
        self.encoders = nn.ModuleList(block(c, c, nb_bins=nb_bins >> i) for i in range(levels))
        self.downs = nn.ModuleList(downsample(c, c) for _ in range(levels))
        self.middle = block(c, c, nb_bins=nb_bins >> levels)
        self.ups = nn.ModuleList(upsample(c, c) for _ in range(levels))
        self.decoders = nn.ModuleList(block(2 * c, c, nb_bins=nb_bins >> (levels - 1 - i)) for i in range(levels))
        self.last = bins_out(c, io_channels)
        xavier_init(self)
        if config.channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self, mix: Tensor) -> Tensor:
        if self.predicts == "complex":
            x = complex_to_channels(mix)  # to (B, 2C, T, F)
        else:
            x = mix.transpose(-1, -2)  # to (B, C, T, F)
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        checkpointed = self.config.checkpoint_blocks
        h = self.first(x)  # (B, c, T, F - 1)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            h = run_block(encoder, h, checkpointed=checkpointed)
            skips.append(h)
            h = down(h)
        h = run_block(self.middle, h, checkpointed=checkpointed)
        for up, decoder in zip(self.ups, self.decoders):
            h = run_block(decoder, torch.cat([up(h), skips.pop()], dim=1),  # (B, 2c, T_i, F_i) -> (B, c, T_i, F_i)
                          checkpointed=checkpointed)
        y = self.last(h)  # (B, io_channels, T, F)
        if self.predicts == "complex":
            return channels_to_complex(y)
        return torch.sigmoid(y).transpose(-1, -2) * mix
