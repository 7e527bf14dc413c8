"""DTTNet, the dual-path TFC-TDF U-Net (Chen, Vekkot and Shukla, "Music source separation based on a
lightweight deep learning framework (DTTNET: Dual-path TFC-TDF UNet)", ICASSP 2024, arXiv:2309.08684),
written for hw2sep after github.com/junyuchen-cjy/DTTNet-Pytorch (``src/dp_tdf/dp_tdf_net.py``,
``modules.py``, ``bandsequence.py``, config ``configs/model/vocals.yaml``; MIT). No code is copied;
TFC/TDF are in ``hw2sep.models.tfc_tdf_blocks``.

Complex as channels, the lowest ``dim_f`` bins only (the rest are zero at the output, as in the
original). A 1x1 conv to ``growth`` channels; ``n_blocks // 2`` levels of an improved TFC-TDF block
(``TFC_TDF_Res2``: a one-conv shortcut around plain TFC -> residual TDF -> plain TFC) and a 2x2 strided
conv that halves frames and bins and adds ``growth`` channels; at the bottleneck one more block and the
improved dual-path module: ``nb_rnn_layers`` pairs of residual BiLSTM passes, one along time (for each
bin), one along frequency (for each frame), on channel groups ("heads") of the features; decoder
levels of transposed conv (removing ``growth`` channels), a *multiplicative* skip with the encoder
output, and a block; a 1x1 conv back to real/imaginary channels. Defaults are the vocals model of
the repository (n_fft 6144, hop 1024, dim_f 2048, 256-frame chunks, 5 blocks, 3 layers, growth 32,
TDF factor 8, 4 dual-path layers, 2 heads; waveform L1 loss): 4,958,468 parameters here, the paper's
"about 5 M" (86.7 % fewer than BSRNN's ~37 M).

What its paper reports: 10.12 dB "cSDR" for vocals on the MUSDB18-HQ test set. Reading the
repository's evaluation code (``configs/evaluation.yaml`` defaults to ``bss: fast``;
``src/utils/utils.py``: ``get_metrics`` -> ``simplified_msseval``, then ``get_median_csdr``), that
number is a plain SNR, 10 log10(|s|^2 / |s - s_hat|^2), on 1 s chunks (no museval projection or
distortion filter; chunks with a silent reference dropped), then one median over all chunks of all
tracks pooled (``reduce_per_song=False``). Even its ``bss: official`` setting (museval's BSS Eval v4 on
1 s windows) pools the chunks the same way. So it is neither museval's usual figure (median over
tracks of the per-track median SDR) nor directly comparable to it; the code also logs "uSDR", the mean
over tracks of the whole-track SNR.

Departures, and why: plain batch norm instead of the repository's SyncBN (one device); GroupNorm
groups in the dual-path module are features // 16 where that divides the features, else 1 (the
original always divides by 16, which is zero for small test models); ``dim_f`` is capped at
n_fft // 2 so other STFT sizes build; the TDF bottleneck keeps at least ``min_bn_units`` units (1 by
default, i.e. the original rule).

Training memory: ``checkpoint_blocks`` (on by default) recomputes each TFC-TDF block and each
dual-path pass in backward instead of keeping their activations (``base.run_block``): same loss and
gradients, less memory, more time (see ``configs/dttnet.json`` and ``bench/bench_models.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from hw2sep.models.base import SeparationModel, run_block
from hw2sep.models.tfc_tdf_blocks import (TFC, TFCTDF, channels_to_complex, check_bins, complex_to_channels,
                                          conv_bn_relu, downsample, upsample)


@dataclass
class DTTNetConfig:
    """Everything needed to rebuild the network; saved beside every checkpoint."""

    n_fft: int = 6144
    hop: int = 1024
    window: str = "hann"
    nb_channels: int = 2
    dim_f: int = 2048              # lowest bins the network sees (capped at n_fft // 2); the rest -> 0
    n_blocks: int = 5              # odd: n_blocks // 2 down levels, a bottleneck, n_blocks // 2 up levels
    n_internal_layers: int = 3     # plain convs per TFC
    growth: int = 32               # channels of the first level, added at every downsampling
    kernel_size: int = 3
    bn_factor: int = 8             # TDF: bins -> max(bins // bn_factor, min_bn_units) -> bins
    min_bn_units: int = 1
    tdf_bias: bool = False
    nb_rnn_layers: int = 4         # dual-path (time, frequency) BiLSTM pairs
    nb_heads: int = 2              # channel groups the dual-path module runs on separately
    checkpoint_blocks: bool = True  # activation checkpointing per TFC-TDF block and dual-path pass (memory)


class ResTFCTDF(nn.Module):
    """DTTNet's improved block (``TFC_TDF_Res2``): conv shortcut + (TFC -> residual TDF -> TFC).

    Shape: (B, c, T, F) -> (B, c, T, F).
    """

    def __init__(self, channels: int, nb_bins: int, config: DTTNetConfig):
        super().__init__()
        k, layers = config.kernel_size, config.n_internal_layers
        self.shortcut = conv_bn_relu(channels, channels, k, padding=k // 2)
        self.tfc_tdf = TFCTDF(channels, channels, layers, nb_bins, k, config.bn_factor, config.min_bn_units,
                              config.tdf_bias, dense=False)
        self.tfc = TFC(channels, channels, layers, k, dense=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.tfc(self.tfc_tdf(x)) + self.shortcut(x)


class RNNPass(nn.Module):
    """Group norm, BiLSTM along axis 2, linear back, residual; then swap axes 1 and 2.

    Shape: (B, N, L, D) -> (B, L, N, D): the LSTM runs over L for each of the N rows.
    """

    def __init__(self, features: int, hidden: int):
        super().__init__()
        groups = features // 16 if features >= 16 and features % (features // 16) == 0 else 1
        self.norm = nn.GroupNorm(groups, features)
        self.lstm = nn.LSTM(features, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, features)

    def forward(self, x: Tensor) -> Tensor:
        nb, rows, length, features = x.shape
        h = x.reshape(nb * rows, length, features)  # to (B*N, L, D)
        h = self.norm(h.transpose(1, 2)).transpose(1, 2)
        h = self.fc(self.lstm(h)[0]).reshape(nb, rows, length, features)
        return (x + h).transpose(1, 2)


class DualPath(nn.Module):
    """DTTNet's improved dual-path module on ``nb_heads`` channel groups.

    Shape: (B, c, T, F) -> (B, c, T, F).
    """

    def __init__(self, channels: int, nb_layers: int, nb_heads: int, checkpointed: bool = False):
        super().__init__()
        self.checkpointed = checkpointed
        if channels % nb_heads:
            raise ValueError(f"dttnet: {channels} bottleneck channels are not divisible by {nb_heads} heads")
        self.nb_heads = nb_heads
        features, hidden = channels // nb_heads, 2 * channels // nb_heads
        self.layers = nn.ModuleList(nn.Sequential(RNNPass(features, hidden), RNNPass(features, hidden))
                                    for _ in range(nb_layers))

    def forward(self, x: Tensor) -> Tensor:
        nb, channels, frames, bins = x.shape
        h = x.reshape(nb * self.nb_heads, channels // self.nb_heads, frames, bins)  # to (B*H, c/H, T, F)
        h = h.permute(0, 3, 2, 1)  # to (B*H, F, T, c/H)
        for layer in self.layers:
            for rnn_pass in layer:  # along time, then along frequency: back to (B*H, F, T, c/H)
                h = run_block(rnn_pass, h, checkpointed=self.checkpointed)
        return h.permute(0, 3, 2, 1).reshape(nb, channels, frames, bins)


class DTTNet(SeparationModel):
    """Dual-path TFC-TDF U-Net, complex as channels, direct mapping.

    Shape: (B, C, F, T) complex64 -> same, F = n_fft // 2 + 1, T a multiple of 2 ** (n_blocks // 2).
    """

    predicts = "complex"
    default_loss = "t"  # the repository trains with the L1 distance of the waveforms (``comp_loss``)

    def __init__(self, config: DTTNetConfig):
        super().__init__()
        if config.n_blocks % 2 != 1:
            raise ValueError(f"n_blocks must be odd, not {config.n_blocks}")
        self.config = config
        levels = config.n_blocks // 2
        self.frame_multiple = 2 ** levels
        self.dim_f = min(config.dim_f, config.n_fft // 2)
        check_bins(self.dim_f, levels, "dttnet")
        io_channels, g = 2 * config.nb_channels, config.growth

        self.first = conv_bn_relu(io_channels, g, 1)
        self.encoders = nn.ModuleList(ResTFCTDF(g * (i + 1), self.dim_f >> i, config) for i in range(levels))
        self.downs = nn.ModuleList(downsample(g * (i + 1), g * (i + 2), relu=True) for i in range(levels))
        c = g * (levels + 1)
        self.bottleneck = ResTFCTDF(c, self.dim_f >> levels, config)
        self.dual_path = DualPath(c, config.nb_rnn_layers, config.nb_heads, config.checkpoint_blocks)
        self.ups = nn.ModuleList(upsample(c - g * i, c - g * (i + 1), relu=True) for i in range(levels))
        self.decoders = nn.ModuleList(ResTFCTDF(c - g * (i + 1), self.dim_f >> (levels - 1 - i), config)
                                      for i in range(levels))
        self.last = nn.Conv2d(g, io_channels, 1)

    def forward(self, mix: Tensor) -> Tensor:
        checkpointed = self.config.checkpoint_blocks
        h = self.first(complex_to_channels(mix[:, :, : self.dim_f]))  # (B, 2C, T, dim_f) -> (B, g, T, dim_f)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            h = run_block(encoder, h, checkpointed=checkpointed)
            skips.append(h)
            h = down(h)
        h = self.dual_path(run_block(self.bottleneck, h, checkpointed=checkpointed))
        for up, decoder in zip(self.ups, self.decoders):
            h = run_block(decoder, up(h) * skips.pop(), checkpointed=checkpointed)
        y = channels_to_complex(self.last(h))  # (B, C, dim_f, T)
        return F.pad(y, (0, 0, 0, mix.shape[-2] - self.dim_f))  # zero bins above dim_f
