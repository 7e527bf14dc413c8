"""Self-attention whose queries, keys and values come from convolutions, and the transformer it builds.

The idea is seed 000's ("How Long Can it Separate?", legoodmanner/sequence_length_ss on GitHub, read
for the design only, ``utils/attention.py``): replace the linear Q/K/V projections of a transformer
encoder by convolutions over time, so that each query, key and value already sees a few neighbouring
frames. Three kinds, chosen by name (``ATTENTIONS``):

* ``qkv1D``: a depthwise Conv1D over time (``kernel_size`` frames) then a pointwise Conv1D produce
  Q, K and V; ordinary multi-head attention with ``d_model // n_heads`` features per head.
* ``qkvg1D``: the same plus a fourth map, a sigmoid gate multiplied into the attended values
  before the output projection.
* ``qkv2D``: the (frames, features) sequence is seen as a one-channel image; one Conv2D map
  (``kernel_size`` x ``kernel_size``) per head and per Q/K/V, so each head keeps all ``d_model``
  features and the output projection maps ``n_heads * d_model`` back to ``d_model`` (this is what
  makes seed 000's version large: there it is 512 x 16 heads wide; choose ``n_heads`` small).

Differences from the seed code: pre-norm residual blocks (LayerNorm before attention and feed
forward), a feed forward of ``ff_size`` units (GELU by default, ``activation="relu"`` as the seed),
sinusoidal positions computed for any length, no key/value striding, PyTorch's
``scaled_dot_product_attention`` instead of fast_transformers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ATTENTIONS = ("qkv2D", "qkv1D", "qkvg1D")
ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}  # of the feed forward


class ConvSelfAttention(nn.Module):
    """Multi-head self-attention with convolutional Q/K/V (and gate) projections.

    Shape: (nb_samples, nb_frames, d_model) -> (nb_samples, nb_frames, d_model).
    """

    def __init__(self, d_model: int, n_heads: int, attention: str = "qkv1D", kernel_size: int = 3,
                 dropout: float = 0.0):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {attention!r}; choose one of {', '.join(ATTENTIONS)}")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (same-length convolutions), got {kernel_size}")
        self.attention, self.n_heads, self.dropout = attention, n_heads, dropout
        if attention == "qkv2D":
            self.qkv = nn.Conv2d(1, 3 * n_heads, kernel_size, padding=kernel_size // 2)
            self.out = nn.Linear(n_heads * d_model, d_model)
            return
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not a multiple of n_heads {n_heads}")
        nb_maps = 4 if attention == "qkvg1D" else 3
        self.qkv = nn.Sequential(
            nn.Conv1d(d_model, d_model, kernel_size, padding=kernel_size // 2, groups=d_model),  # over time
            nn.Conv1d(d_model, nb_maps * d_model, 1))  # mixes features into Q, K, V (, G)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor) -> Tensor:
        nb_samples, nb_frames, d_model = x.shape
        dropout = self.dropout if self.training else 0.0
        if self.attention == "qkv2D":
            maps = self.qkv(x.unsqueeze(1))  # (nb_samples, 3*n_heads, nb_frames, d_model)
            q, k, v = maps.chunk(3, dim=1)  # each (nb_samples, n_heads, nb_frames, d_model)
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
            return self.out(y.transpose(1, 2).reshape(nb_samples, nb_frames, -1))  # heads side by side
        maps = self.qkv(x.transpose(1, 2)).transpose(1, 2)  # (nb_samples, nb_frames, nb_maps*d_model)
        # to (nb_maps, nb_samples, n_heads, nb_frames, d_model // n_heads)
        maps = maps.reshape(nb_samples, nb_frames, -1, self.n_heads, d_model // self.n_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(maps[0], maps[1], maps[2], dropout_p=dropout)
        if self.attention == "qkvg1D":
            y = y * torch.sigmoid(maps[3])
        return self.out(y.transpose(1, 2).reshape(nb_samples, nb_frames, d_model))


class TransformerBlock(nn.Module):
    """Pre-norm encoder block: x + attention(norm(x)), then x + feed_forward(norm(x)).

    Shape: (nb_samples, nb_frames, d_model) -> same.
    """

    def __init__(self, d_model: int, n_heads: int, attention: str, ff_size: int, kernel_size: int = 3,
                 dropout: float = 0.1, activation: str = "gelu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = ConvSelfAttention(d_model, n_heads, attention, kernel_size, dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, ff_size), ACTIVATIONS[activation](), nn.Dropout(dropout),
                                nn.Linear(ff_size, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.drop(self.ff(self.norm2(x)))


class TransformerEncoder(nn.Module):
    """Sinusoidal positions, then ``nb_layers`` ``TransformerBlock``s and a final LayerNorm.

    Shape: (nb_samples, nb_frames, d_model) -> same; any nb_frames.
    """

    def __init__(self, d_model: int, nb_layers: int, n_heads: int, attention: str, ff_size: int,
                 kernel_size: int = 3, dropout: float = 0.1, activation: str = "gelu"):
        super().__init__()
        self.blocks = nn.ModuleList(TransformerBlock(d_model, n_heads, attention, ff_size, kernel_size, dropout,
                                                     activation) for _ in range(nb_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: Tensor) -> Tensor:
        x = x + sinusoids(x.shape[1], x.shape[2], x.device, x.dtype)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


def sinusoids(nb_frames: int, d_model: int, device=None, dtype=torch.float32) -> Tensor:
    """Vaswani et al.'s positional encoding (sin on even features, cos on odd). Shape: (nb_frames, d_model)."""
    position = torch.arange(nb_frames, device=device, dtype=torch.float32).unsqueeze(1)
    rate = torch.exp(torch.arange(0, d_model, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(nb_frames, d_model, device=device)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate[: d_model // 2])
    return table.to(dtype)
