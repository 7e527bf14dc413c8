"""DeepConvSep: the convolutional autoencoder of Chandna et al. (LVA/ICA 2017), stereo.

After P. Chandna, M. Miron, J. Janer, E. Gómez, "Monoaural audio source separation using deep
convolutional neural networks", LVA/ICA 2017 (code MTG/DeepConvSep, ``examples/dsd100/trainCNN.py``)
and its stereo PyTorch port (seed 001, joangro/PytorchConvSep, ``PytorchConvSep.py``); both read for
the layer sizes only.

The network sees blocks of ``time_context`` (30) frames of the 1024-point STFT (513 bins, hop 256):
a "vertical" convolution spanning all bins of one frame (``nb_filters`` 50 maps of 1 x nb_bins, over
both channels), a "horizontal" convolution over time (50 maps of time_context/2 x 1), both linear as
in the original; a 128-unit fully connected ReLU bottleneck; then one decoder per estimated source:
fully connected ReLU back to the conv size, the two transposed convolutions mirrored, a ReLU. The
original (lasagne) decoders reuse the encoder weights (``InverseLayer``); here they are separate
transposed convolutions, as in the stereo port.

What is estimated: the original has four decoders (vocals, bass, drums, other) combined by a soft
ratio mask ``s_j / sum_k s_k`` applied to the mixture, and a loss with extra dissimilarity terms. Here
two decoders, vocals and accompaniment, combined the same way; ``forward`` returns the vocals estimate
``v / (v + a + eps) * mixture`` (so the accompaniment is the residual), trained with the package's MSE
on the vocals magnitude (the dissimilarity terms are left out).

Sizes: both convolutions have ``nb_filters`` (50) maps, as the original (``trainCNN.py``:
``num_filters=50`` for the vertical and the horizontal layer). The stereo port changed the second to 30
(``config.py``: ``num_ch_out_hor = 50``, ``num_ch_out_ver = 30``), undocumented there; the original's
50 is kept here because it is the published architecture (the paper's and its code's).

Any length: T (a multiple of ``frame_multiple`` = time_context, the caller pads) is cut into
non-overlapping 30-frame blocks that are folded into the batch. 575,532 parameters at the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from hw2sep.models.base import SeparationModel

EPS = 1e-8


@dataclass
class DeepConvSepConfig:
    """Everything needed to rebuild the network; saved beside every checkpoint."""

    n_fft: int = 1024             # the paper's 1024-point STFT (513 bins) ...
    hop: int = 256                # ... with 75 % overlap
    window: str = "hann"
    nb_channels: int = 2
    time_context: int = 30        # frames per block (the paper's 30)
    nb_filters: int = 50          # maps of both convolutions
    bottleneck: int = 128         # units of the fully connected bottleneck


class _SourceDecoder(nn.Sequential):
    """Fully connected layer back to the conv size, then the two convolutions mirrored.

    Shape: (nb_blocks, bottleneck) -> (nb_blocks, nb_channels, time_context, nb_bins).
    """

    def __init__(self, config: DeepConvSepConfig, nb_bins: int, nb_steps: int):
        super().__init__(
            nn.Linear(config.bottleneck, config.nb_filters * nb_steps), nn.ReLU(),
            nn.Unflatten(1, (config.nb_filters, nb_steps, 1)),
            nn.ConvTranspose2d(config.nb_filters, config.nb_filters, (config.time_context // 2, 1)),
            nn.ConvTranspose2d(config.nb_filters, config.nb_channels, (1, nb_bins)), nn.ReLU())


class DeepConvSep(SeparationModel):
    """Magnitude-in, magnitude-out: vocals = ratio mask of two decoded sources times the mixture.

    Shape: (nb_samples, nb_channels, nb_bins, nb_frames) -> same, nb_frames a multiple of ``time_context``.
    """

    predicts = "magnitude"
    default_loss = "mse_mag"

    def __init__(self, config: DeepConvSepConfig):
        super().__init__()
        self.config = config
        nb_bins = config.n_fft // 2 + 1
        nb_steps = config.time_context - config.time_context // 2 + 1  # frames left by the horizontal conv
        self.encoder = nn.Sequential(
            nn.Conv2d(config.nb_channels, config.nb_filters, (1, nb_bins)),  # vertical: all bins of a frame
            nn.Conv2d(config.nb_filters, config.nb_filters, (config.time_context // 2, 1)),  # horizontal
            nn.Flatten(), nn.Linear(config.nb_filters * nb_steps, config.bottleneck), nn.ReLU())
        self.vocals = _SourceDecoder(config, nb_bins, nb_steps)
        self.accompaniment = _SourceDecoder(config, nb_bins, nb_steps)

    @property
    def frame_multiple(self) -> int:
        return self.config.time_context

    def forward(self, mix_mag: Tensor) -> Tensor:
        nb_samples, nb_channels, nb_bins, nb_frames = mix_mag.shape
        context = self.config.time_context
        nb_blocks = nb_frames // context
        # to (nb_samples*nb_blocks, nb_channels, time_context, nb_bins): time before frequency, as the paper
        blocks = mix_mag.reshape(nb_samples, nb_channels, nb_bins, nb_blocks, context)
        blocks = blocks.permute(0, 3, 1, 4, 2).reshape(nb_samples * nb_blocks, nb_channels, context, nb_bins)
        code = self.encoder(blocks)  # (nb_samples*nb_blocks, bottleneck)
        vocals, accompaniment = self.vocals(code), self.accompaniment(code)
        estimate = vocals / (vocals + accompaniment + EPS) * blocks  # soft ratio mask on the mixture
        estimate = estimate.reshape(nb_samples, nb_blocks, nb_channels, context, nb_bins)
        return estimate.permute(0, 2, 4, 1, 3).reshape(nb_samples, nb_channels, nb_bins, nb_frames)
