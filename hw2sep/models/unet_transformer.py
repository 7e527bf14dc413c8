"""The U-Net with a transformer in place of its deepest conv level (seed 000's ``auto_transformer``).

After "How Long Can it Separate?" (seed 000; code legoodmanner/sequence_length_ss,
``separator/transformer_separator.py``, read for the design only), whose ``auto_transformer`` swaps
the conv encoder/decoder of the Jansson et al. (ISMIR 2017) U-Net for transformer layers so that the
network can attend across a long excerpt. Here the conv U-Net is ``hw2sep.models.unet.UNet`` itself
(subclassed, nothing duplicated) with ``nb_levels`` 5 instead of 6: the sixth conv level and its
mirror (6.5 M of the U-Net's 9.8 M parameters) are replaced by a transformer encoder at the bottleneck.
It attends along time, one sequence per bottleneck frequency row (weights shared across rows), with
d_model = the bottleneck width, so its size does not depend on n_fft; attention kinds as in
``hw2sep.models.attention`` (``qkv2D``, ``qkv1D``, ``qkvg1D``).

Chosen configuration: conv widths 16..256 (5 levels, frame_multiple 32), 4 transformer layers,
d_model 256, 4 heads, feed forward 1024, kernel 3; STFT and fed bins as the U-Net (n_fft 4096 / hop
1024, 2048 bins). Parameters: qkv1D 5,613,058; qkvg1D 5,876,226; qkv2D 5,606,370 (all under 10 M).
At the bottleneck one frame spans 32 STFT frames (0.74 s), so a 6 s excerpt is a sequence of 8 tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from hw2sep.models.attention import TransformerEncoder
from hw2sep.models.unet import UNet, UNetConfig


@dataclass
class UNetTransformerConfig(UNetConfig):
    """The U-Net's fields (``nb_levels`` 5 here) and the bottleneck transformer's."""

    nb_levels: int = 5            # conv levels kept; the transformer stands in for the sixth
    attention: str = "qkv1D"      # qkv2D, qkv1D or qkvg1D
    nb_layers: int = 4            # transformer blocks
    n_heads: int = 4
    ff_size: int = 1024
    kernel_size: int = 3
    attn_dropout: float = 0.1


class RowwiseTransformer(nn.Module):
    """A transformer along time, one sequence per frequency row of a feature map.

    Shape: (nb_samples, channels, nb_rows, nb_frames) -> same.
    """

    def __init__(self, config: UNetTransformerConfig, channels: int):
        super().__init__()
        self.encoder = TransformerEncoder(channels, config.nb_layers, config.n_heads, config.attention,
                                          config.ff_size, config.kernel_size, config.attn_dropout)

    def forward(self, x: Tensor) -> Tensor:
        nb_samples, channels, nb_rows, nb_frames = x.shape
        seq = x.permute(0, 2, 3, 1).reshape(nb_samples * nb_rows, nb_frames, channels)  # to (B*rows, T, C)
        seq = self.encoder(seq)
        return seq.reshape(nb_samples, nb_rows, nb_frames, channels).permute(0, 3, 1, 2)


class UNetTransformer(UNet):
    """The U-Net of ``hw2sep.models.unet`` with a transformer at its bottleneck.

    Shape: (nb_samples, nb_channels, nb_bins, nb_frames) -> same, nb_frames a multiple of ``frame_multiple``.
    """

    predicts = "magnitude"
    default_loss = "mse_mag"  # seed 000 trains with MSE on magnitudes

    def __init__(self, config: UNetTransformerConfig):
        super().__init__(config)
        self.bottleneck = RowwiseTransformer(config, config.base_channels * 2 ** (config.nb_levels - 1))
