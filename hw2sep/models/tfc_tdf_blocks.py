"""Building blocks shared by the TFC-TDF family (``tfc_tdf_unet``, ``lasaft``, ``dttnet``).

Written for hw2sep after the blocks of Choi et al., "Investigating U-Nets with various intermediate
blocks for spectrogram-based singing voice separation" (ISMIR 2020; github.com/ws-choi/ISMIR2020_U_Nets_SVS,
``source_separation/models/building_blocks.py``), reused by LaSAFT (ws-choi/Conditioned-Source-Separation-LaSAFT)
and DTTNet (junyuchen-cjy/DTTNet-Pytorch, ``src/dp_tdf/modules.py``). No code is copied.

* ``TFC``: time-frequency convolutions, ``nb_layers`` of conv + batch norm + ReLU. Densely connected
  (each layer sees the block input and every earlier output, Choi et al.) or plain (one after the
  other, DTTNet's variant).
* ``TDF``: time-distributed fully connected layers: the same two-layer bottleneck MLP applied to the
  frequency axis of every frame and channel (f -> max(f_out // bn_factor, min_units) -> f_out).
* ``TFCTDF``: a TFC followed by a residual TDF, ``y = tfc(x); y + tdf(y)``.
* sampling layers (2x2 strided conv / transposed conv + batch norm) and the complex-as-channels
  conversion;
* ``xavier_init``: the weight initialisation of the ISMIR 2020 and LaSAFT repositories.

Layout inside every network of the family: (nb_samples, nb_features, nb_frames, nb_bins), frequency
last, so that ``nn.Linear`` acts on frequency. One departure everywhere: the TDF batch norms are
always affine (the ISMIR code ties their affine flag to the linear bias flag); it adds 4 * channels
parameters per TDF.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def complex_to_channels(spec: Tensor) -> Tensor:
    """Complex STFT to real channels (real and imaginary part of each audio channel).

    Shape: (nb_samples, nb_channels, nb_bins, nb_frames) complex ->
    (nb_samples, 2 * nb_channels, nb_frames, nb_bins) real, channels ordered re0, im0, re1, im1, ...
    """
    nb_samples, nb_channels, nb_bins, nb_frames = spec.shape
    x = torch.view_as_real(spec)  # to (nb_samples, nb_channels, nb_bins, nb_frames, 2)
    x = x.permute(0, 1, 4, 3, 2)  # to (nb_samples, nb_channels, 2, nb_frames, nb_bins)
    return x.reshape(nb_samples, 2 * nb_channels, nb_frames, nb_bins)


def channels_to_complex(x: Tensor) -> Tensor:
    """Inverse of ``complex_to_channels`` (computed in float32, so it also works under autocast).

    Shape: (nb_samples, 2 * nb_channels, nb_frames, nb_bins) -> (nb_samples, nb_channels, nb_bins, nb_frames).
    """
    nb_samples, nb_features, nb_frames, nb_bins = x.shape
    x = x.float().reshape(nb_samples, nb_features // 2, 2, nb_frames, nb_bins)
    x = x.permute(0, 1, 4, 3, 2).contiguous()  # to (nb_samples, nb_channels, nb_bins, nb_frames, 2)
    return torch.view_as_complex(x)


def conv_bn_relu(in_channels: int, out_channels: int, kernel, stride=1, padding=0) -> nn.Sequential:
    """Conv2d + BatchNorm2d + ReLU, the unit every block of the family is made of."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, stride, padding),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class TFC(nn.Module):
    """Time-frequency convolutions: ``nb_layers`` of (k x k conv, batch norm, ReLU).

    ``dense=True`` (Choi et al.): layer i sees the concatenation of the block input and the outputs of
    layers < i, and every layer has ``out_channels`` (the growth rate); the block returns the last output.
    ``dense=False`` (DTTNet): a plain stack.

    Shape: (nb_samples, in_channels, nb_frames, nb_bins) -> (nb_samples, out_channels, nb_frames, nb_bins).
    """

    def __init__(self, in_channels: int, out_channels: int, nb_layers: int, kernel: int = 3, dense: bool = True):
        super().__init__()
        self.dense = dense
        self.layers = nn.ModuleList()
        channels = in_channels
        for _ in range(nb_layers):
            self.layers.append(conv_bn_relu(channels, out_channels, kernel, padding=kernel // 2))
            channels = channels + out_channels if dense else out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.layers[0](x)
        for layer in self.layers[1:]:
            x = torch.cat([out, x], dim=1) if self.dense else out  # dense: to (nb_samples, in + i * out, ...)
            out = layer(x)
        return out


class TDF(nn.Module):
    """Time-distributed fully connected bottleneck over frequency, shared by every frame and channel.

    ``nb_bins -> hidden -> out_bins`` with hidden = max(out_bins // bn_factor, min_units), each linear
    followed by batch norm (over ``channels``) and ReLU. ``out_bins`` defaults to ``nb_bins``; LaSAFT
    uses a multiple of it (one output per latent source).

    Shape: (nb_samples, channels, nb_frames, nb_bins) -> (nb_samples, channels, nb_frames, out_bins).
    """

    def __init__(self, channels: int, nb_bins: int, out_bins: int | None = None, bn_factor: int = 16,
                 min_units: int = 16, bias: bool = False):
        super().__init__()
        out_bins = out_bins or nb_bins
        hidden = max(out_bins // bn_factor, min_units)
        self.net = nn.Sequential(nn.Linear(nb_bins, hidden, bias), nn.BatchNorm2d(channels), nn.ReLU(),
                                 nn.Linear(hidden, out_bins, bias), nn.BatchNorm2d(channels), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class TFCTDF(nn.Module):
    """TFC then a residual TDF (Choi et al.'s TFC-TDF block): ``y = tfc(x); y + tdf(y)``.

    Shape: (nb_samples, in_channels, nb_frames, nb_bins) -> (nb_samples, out_channels, nb_frames, nb_bins).
    """

    def __init__(self, in_channels: int, out_channels: int, nb_layers: int, nb_bins: int, kernel: int = 3,
                 bn_factor: int = 16, min_units: int = 16, bias: bool = False, dense: bool = True):
        super().__init__()
        self.tfc = TFC(in_channels, out_channels, nb_layers, kernel, dense)
        self.tdf = TDF(out_channels, nb_bins, None, bn_factor, min_units, bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.tfc(x)
        return x + self.tdf(x)


def downsample(in_channels: int, out_channels: int, relu: bool = False) -> nn.Sequential:
    """Halve frames and bins: 2x2 conv with stride 2, batch norm (and ReLU in DTTNet).

    Shape: (nb_samples, in_channels, nb_frames, nb_bins) -> (nb_samples, out_channels, nb_frames // 2, nb_bins // 2).
    """
    layers = [nn.Conv2d(in_channels, out_channels, 2, 2), nn.BatchNorm2d(out_channels)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


def upsample(in_channels: int, out_channels: int, relu: bool = False) -> nn.Sequential:
    """Double frames and bins: 2x2 transposed conv with stride 2, batch norm (and ReLU in DTTNet).

    Shape: (nb_samples, in_channels, nb_frames, nb_bins) -> (nb_samples, out_channels, 2 * nb_frames, 2 * nb_bins).
    """
    layers = [nn.ConvTranspose2d(in_channels, out_channels, 2, 2), nn.BatchNorm2d(out_channels)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


def bins_in(in_channels: int, out_channels: int) -> nn.Sequential:
    """Choi et al.'s first layer: a 1x2 conv (no padding) + batch norm + ReLU maps the n_fft // 2 + 1
    STFT bins to a power-of-two n_fft // 2, so the network sees every bin (no crop).

    Shape: (nb_samples, in_channels, nb_frames, nb_bins) -> (nb_samples, out_channels, nb_frames, nb_bins - 1).
    """
    return conv_bn_relu(in_channels, out_channels, (1, 2))


def bins_out(in_channels: int, out_channels: int) -> nn.Conv2d:
    """Choi et al.'s last layer: a 1x2 conv padded by one bin each side, back to n_fft // 2 + 1 bins.

    Shape: (nb_samples, in_channels, nb_frames, nb_bins) -> (nb_samples, out_channels, nb_frames, nb_bins + 1).
    """
    return nn.Conv2d(in_channels, out_channels, (1, 2), padding=(0, 1))


def xavier_init(module: nn.Module) -> None:
    """Xavier-normal (gain 1) on every parameter of more than one dimension: conv, transposed-conv and
    linear weights, embeddings, LaSAFT's keys. Biases and batch-norm parameters keep PyTorch's defaults.

    This is ``init_weights_functional(spec2spec, spec2spec.activation)`` of both of Choi et al.'s
    repositories (``utils/weight_initialization.py``), run once on the whole network when the last
    activation is not a ReLU (their README runs: ``--last_activation identity``; sigmoid for masks).
    """
    for param in module.parameters():
        if param.dim() > 1:
            nn.init.xavier_normal_(param)


def check_bins(nb_bins: int, nb_levels: int, what: str) -> None:
    """U-Nets halve the frequency axis ``nb_levels`` times; fail early with the reason."""
    if nb_bins < 2 ** nb_levels or nb_bins % 2 ** nb_levels:
        raise ValueError(f"{what}: {nb_bins} bins cannot be halved {nb_levels} times; "
                         f"choose n_fft // 2 divisible by {2 ** nb_levels}")
