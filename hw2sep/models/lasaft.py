"""LaSAFT-Net: a conditioned U-Net with TFC blocks, GPoCM and Latent Source Attentive Frequency
Transformation (Choi, Kim, Chung and Jung, "LaSAFT: Latent Source Attentive Frequency Transformation
for Conditioned Source Separation", ICASSP 2021, arXiv:2010.11631), written for hw2sep after
github.com/ws-choi/Conditioned-Source-Separation-LaSAFT (``LaSAFT.py``, ``dcun_tfc_gpocm_lasaft.py``,
``control_models.py``, ``PoCM_utils.py``; MIT). No code is copied; TFC/TDF are in
``hw2sep.models.tfc_tdf_blocks``.

One network for every target: ``forward(x, target)`` looks up a learned embedding of the target and

* LaSAFT (after every TFC, encoder, middle and decoder): a TDF with ``num_tdfs`` outputs per bin, one
  per latent source, mixed by scaled dot-product attention between a query from the embedding and
  learned keys, added to the TFC output;
* GPoCM (decoder blocks, the repository's ``condition_to=decoder``): a channel-mixing 1x1 "conv"
  whose weights (c x c) and bias (c) are generated from the embedding, through a sigmoid, as a gate.

Complex as channels, direct mapping, MSE on the spectrogram (``l2_complex``). The default is the
repository's Table-1 configuration (n_fft 2048, hop 1024, 128 frames, 7 blocks, 24 channels, 5 dense
layers, 3x3, TDF factor 16, 6 latent sources, d_k 32, embedding 32, 4 control layers): 8,423,196
parameters with our two targets, the "about 8.4 M" of that configuration. The repository's "large"
2020 checkpoint (n_fft 4096, 9 blocks, embedding 64) counts 31,540,244 with this code, far above the
assignment's 10 M bound: most of it is the top-level LaSAFT TDFs (bins -> bins * 6 / 16 -> bins * 6).

Initialisation as the repository's (``Spectrogram_based.init_weights``): Xavier-normal on every
parameter of more than one dimension, embedding, control MLP and LaSAFT keys included; biases and batch
norms at PyTorch's defaults (``tfc_tdf_blocks.xavier_init``). So the keys (dk x num_tdfs, which the
repository draws from ``randn`` before that pass) start with std sqrt(2 / (dk + num_tdfs)), 0.23 at
the default, not 1: the initial attention logits are about 4x smaller than with ``randn`` keys.

Departures, and why:

* targets are hw2sep's (vocals, accompaniment), not MUSDB's four stems;
* the control network (embedding -> 3 dense layers -> gamma/beta heads) has no dropout or batch norm:
  here a batch carries one target, and batch norm over identical condition rows maps every gamma and
  beta to zero in training (so the gate would ignore the target) while eval uses running statistics;
* ``forward`` also takes one target name per batch item (a list), for mixed-target batches;
* the TDF batch norms are affine (see ``tfc_tdf_blocks``).

Speed and memory options (same outputs): ``channels_last`` keeps convolutions in the channels-last
memory layout; ``checkpoint_blocks`` recomputes each TFC-LaSAFT block in backward instead of keeping
its activations (``base.run_block``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from hw2sep import TARGETS
from hw2sep.models.base import SeparationModel, run_block
from hw2sep.models.tfc_tdf_blocks import (TDF, TFC, bins_in, bins_out, channels_to_complex, check_bins,
                                          complex_to_channels, downsample, upsample, xavier_init)


@dataclass
class LaSAFTConfig:
    """Everything needed to rebuild the network; saved beside every checkpoint."""

    n_fft: int = 2048
    hop: int = 1024
    window: str = "hann"
    nb_channels: int = 2
    n_blocks: int = 7             # odd: n_blocks // 2 down levels, a middle block, n_blocks // 2 up levels
    internal_channels: int = 24
    n_internal_layers: int = 5    # densely connected convs per TFC
    kernel_size: int = 3
    bn_factor: int = 16           # LaSAFT's TDF: bins -> max(bins * num_tdfs // bn_factor, min_bn_units) -> ...
    min_bn_units: int = 16
    tdf_bias: bool = False
    num_tdfs: int = 6             # latent sources
    dk: int = 32                  # attention key size
    embedding_dim: int = 32
    control_n_layer: int = 4      # control MLP widths: embedding_dim * 2 ** i, i < control_n_layer
    checkpoint_blocks: bool = True  # activation checkpointing per TFC-LaSAFT block (training memory)
    channels_last: bool = True    # conv weights and activations in channels-last memory layout (faster convs)


class LatentSourceAttentiveFT(nn.Module):
    """LaSAFT: ``num_tdfs`` frequency transformations, mixed by attention on the condition.

    Shape: x (B, c, T, F), condition (B, E) -> (B, c, T, F).
    """

    def __init__(self, channels: int, nb_bins: int, condition_dim: int, config: LaSAFTConfig):
        super().__init__()
        self.num_tdfs = config.num_tdfs
        self.tdfs = TDF(channels, nb_bins, nb_bins * config.num_tdfs, config.bn_factor, config.min_bn_units,
                        config.tdf_bias)
        self.keys = nn.Parameter(nn.init.xavier_normal_(torch.empty(config.dk, config.num_tdfs)))  # std ~0.23
        self.query = nn.Linear(condition_dim, config.dk)
        self.scale = 1.0 / math.sqrt(config.dk)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        attention = torch.softmax(self.query(condition) @ self.keys * self.scale, dim=-1)  # (B, num_tdfs)
        values = self.tdfs(x).unflatten(-1, (x.shape[-1], self.num_tdfs))  # (B, c, T, F, num_tdfs)
        return torch.einsum("bctfl,bl->bctf", values, attention)


class TFCLaSAFT(nn.Module):
    """A dense TFC, an optional GPoCM gate, then a residual LaSAFT.

    Shape: (B, in_channels, T, F) -> (B, channels, T, F); gamma (B, c, c), beta (B, c).
    """

    def __init__(self, in_channels: int, channels: int, nb_bins: int, config: LaSAFTConfig):
        super().__init__()
        self.tfc = TFC(in_channels, channels, config.n_internal_layers, config.kernel_size, dense=True)
        self.lasaft = LatentSourceAttentiveFT(channels, nb_bins, config.embedding_dim, config)

    def forward(self, x: Tensor, condition: Tensor, gamma: Tensor | None = None, beta: Tensor | None = None) -> Tensor:
        x = self.tfc(x)
        if gamma is not None:  # GPoCM: x * sigmoid(point-wise conv of x with generated weights)
            x = x * torch.sigmoid(torch.einsum("bitf,bij->bjtf", x, gamma) + beta[:, :, None, None])
        return x + self.lasaft(x, condition)


class GPoCMControl(nn.Module):
    """Condition embedding -> per decoder block a c x c PoCM weight and a c bias.

    Shape: (B, E) -> gammas (B, nb_blocks, c, c), betas (B, nb_blocks, c).
    """

    def __init__(self, config: LaSAFTConfig, nb_blocks: int):
        super().__init__()
        dims = [config.embedding_dim * 2 ** i for i in range(config.control_n_layer)]
        layers = []
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(d_in, d_out), nn.ReLU()]
        self.mlp = nn.Sequential(*layers)
        c = self.channels = config.internal_channels
        self.nb_blocks = nb_blocks
        self.gamma = nn.Linear(dims[-1], nb_blocks * c * c)
        self.beta = nn.Linear(dims[-1], nb_blocks * c)

    def forward(self, condition: Tensor) -> tuple[Tensor, Tensor]:
        h = self.mlp(condition)
        c = self.channels
        return self.gamma(h).unflatten(-1, (self.nb_blocks, c, c)), self.beta(h).unflatten(-1, (self.nb_blocks, c))


class LaSAFTNet(SeparationModel):
    """Target-conditioned complex-as-channels U-Net (CUNet + TFC + GPoCM + LaSAFT).

    Shape: (B, C, F, T) complex64 -> same, F = n_fft // 2 + 1, T a multiple of 2 ** (n_blocks // 2).
    """

    predicts = "complex"
    default_loss = "l2_complex"
    targets = TARGETS

    def __init__(self, config: LaSAFTConfig):
        super().__init__()
        if config.n_blocks % 2 != 1:
            raise ValueError(f"n_blocks must be odd, not {config.n_blocks}")
        self.config = config
        levels = config.n_blocks // 2
        self.frame_multiple = 2 ** levels
        nb_bins = config.n_fft // 2  # after the first 1x2 conv
        check_bins(nb_bins, levels, "lasaft")
        io_channels, c = 2 * config.nb_channels, config.internal_channels

        self.embedding = nn.Embedding(len(self.targets), config.embedding_dim)
        self.control = GPoCMControl(config, levels)
        self.first = bins_in(io_channels, c)
        self.encoders = nn.ModuleList(TFCLaSAFT(c, c, nb_bins >> i, config) for i in range(levels))
        self.downs = nn.ModuleList(downsample(c, c) for _ in range(levels))
        self.middle = TFCLaSAFT(c, c, nb_bins >> levels, config)
        self.ups = nn.ModuleList(upsample(c, c) for _ in range(levels))
        self.decoders = nn.ModuleList(TFCLaSAFT(2 * c, c, nb_bins >> (levels - 1 - i), config) for i in range(levels))
        self.last = bins_out(c, io_channels)
        xavier_init(self)
        if config.channels_last:
            self.to(memory_format=torch.channels_last)

    def target_index(self, target: str | Sequence[str], nb_samples: int, device) -> Tensor:
        """Embedding indices: one target for the batch, or one per batch item."""
        names = [target] * nb_samples if isinstance(target, str) else list(target)
        unknown = sorted(set(names) - set(self.targets))
        if unknown or len(names) != nb_samples:
            raise ValueError(f"target must be one of {self.targets} (or one per batch item), not {target!r}")
        return torch.tensor([self.targets.index(name) for name in names], device=device)

    def forward(self, mix: Tensor, target: str | Sequence[str] = "vocals") -> Tensor:
        condition = self.embedding(self.target_index(target, mix.shape[0], mix.device))  # (B, E)
        gammas, betas = self.control(condition)
        checkpointed = self.config.checkpoint_blocks
        x = complex_to_channels(mix)  # (B, 2C, T, F)
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        h = self.first(x)  # (B, c, T, F - 1)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            h = run_block(encoder, h, condition, checkpointed=checkpointed)
            skips.append(h)
            h = down(h)
        h = run_block(self.middle, h, condition, checkpointed=checkpointed)
        for i, (up, decoder) in enumerate(zip(self.ups, self.decoders)):
            h = run_block(decoder, torch.cat([up(h), skips.pop()], dim=1), condition, gammas[:, i], betas[:, i],
                          checkpointed=checkpointed)
        return channels_to_complex(self.last(h))
