"""Training losses by name. Each takes an ``Estimate`` and the reference waveform of the same target.

* ``mse_mag``: MSE of magnitudes (Open-Unmix).
* ``l1_mag``: L1 of magnitudes.
* ``l2_complex``: MSE of real and imaginary STFT parts (TFC-TDF U-Net, complex-as-channels).
* ``t``: L1 of waveforms; ``tf``: L1 of real and imaginary STFT parts; ``t+tf``: their sum
  (Band-Split RNN, Luo & Yu 2022).
* ``xumx``: CrossNet-Open-Unmix's multi-domain loss (Sawata et al., ICASSP 2021): magnitude MSE plus
  ``XUMX_SDR_WEIGHT`` times (1 + the weighted-SDR loss of Choi et al., ICLR 2019) of the waveform
  rebuilt with the mixture phase, as asteroid's X-UMX recipe (its mix_coef 10; the 1 + keeps it >= 0).
  X-UMX credits it with part of its gain over UMX (6.61 vs 6.32 dB vocals).

A model's default loss is its paper's (``SeparationModel.default_loss``); a config may choose another.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from hw2sep.errors import Hw2sepError
from hw2sep.separation.runner import Estimate

XUMX_SDR_WEIGHT = 10.0  # mix_coef of the time-domain term in asteroid's X-UMX recipe (egs/musdb18/X-UMX)


def mse_mag(est: Estimate, ref: Tensor) -> Tensor:
    return F.mse_loss(est.magnitude(), est.stft(ref).abs())


def l1_mag(est: Estimate, ref: Tensor) -> Tensor:
    return F.l1_loss(est.magnitude(), est.stft(ref).abs())


def l2_complex(est: Estimate, ref: Tensor) -> Tensor:
    return F.mse_loss(torch.view_as_real(est.spec()), torch.view_as_real(est.stft(ref)))


def time_l1(est: Estimate, ref: Tensor) -> Tensor:
    return F.l1_loss(est.wave(), ref)


def spec_l1(est: Estimate, ref: Tensor) -> Tensor:
    return F.l1_loss(torch.view_as_real(est.spec()), torch.view_as_real(est.stft(ref)))


def time_and_spec_l1(est: Estimate, ref: Tensor) -> Tensor:
    return time_l1(est, ref) + spec_l1(est, ref)


def weighted_sdr(est: Estimate, ref: Tensor, eps: float = 1e-8) -> Tensor:
    """Weighted-SDR loss in [-1, 1]: negative cosine similarity of the target and of the residual
    (mixture - target), weighted by their energy shares. Shape: ref (B, C, N)."""
    mixture, estimate = est.mixture, est.wave()

    def neg_cosine(a: Tensor, b: Tensor) -> Tensor:
        return -(a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1) + eps)

    noise, noise_est = mixture - ref, mixture - estimate
    share = ref.square().sum(-1) / (ref.square().sum(-1) + noise.square().sum(-1) + eps)
    return (share * neg_cosine(ref, estimate) + (1 - share) * neg_cosine(noise, noise_est)).mean()


def multi_domain(est: Estimate, ref: Tensor) -> Tensor:
    return mse_mag(est, ref) + XUMX_SDR_WEIGHT * (1 + weighted_sdr(est, ref))


LOSSES: dict[str, Callable[[Estimate, Tensor], Tensor]] = {
    "mse_mag": mse_mag,
    "l1_mag": l1_mag,
    "l2_complex": l2_complex,
    "t": time_l1,
    "tf": spec_l1,
    "t+tf": time_and_spec_l1,
    "xumx": multi_domain,
}


def get_loss(name: str) -> Callable[[Estimate, Tensor], Tensor]:
    """The loss ``name``; an unknown name is one clear line."""
    if name not in LOSSES:
        raise Hw2sepError(f"unknown loss '{name}'; choose one of {', '.join(LOSSES)}")
    return LOSSES[name]
