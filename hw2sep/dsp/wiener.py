"""Multichannel Wiener filtering refined by EM (Nugraha, Liutkus & Vincent 2016), over blocks of frames.

The algorithm of Open-Unmix's ``filtering.py`` and of ``norbert``, with complex tensors. It starts from the
soft-mask estimate ``mix * |S_j| / (eps + sum_k |S_k|)``; each EM step fits each source a PSD v_j(f, t) (channel
mean of |y_j|^2) and a spatial covariance R_j(f) (weighted mean of y_j y_j^H over the whole track), then sets
y_j = v_j R_j C^-1 x with C = sum_k v_k R_k + sqrt(eps) I. As Open-Unmix: float64 inside, on the mixture scaled
so that max |x| <= 10. R_j sums over the track, so ``wiener_blocks`` runs passes over a block source: one for the
scale, one per EM step to sum R_j, one to filter; EM step n of a block is recomputed from its estimates.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch

from hw2sep.dsp.blocks import WholeTrack
from hw2sep.dsp.stft import STFTParams

EPS = 1e-10
_BLOCK = 256  # frames per float64 solve


def soft_mask(x: torch.Tensor, magnitudes: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """The initial estimate: the mixture shared by the magnitudes. Shape: x (C, F, t), mags (J, C, F, t) -> (J, C, F, t)."""
    return x * (magnitudes / (eps + magnitudes.sum(0))).to(x.dtype)


def wiener_statistics(y: torch.Tensor, eps: float, stats: tuple[torch.Tensor, torch.Tensor] | None = None,
                      block: int = _BLOCK) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums behind R_j(f) over frames, accumulated in place when ``stats`` is given.

    Returns (sum_t y_j y_j^H, eps + sum_t channel-mean |y_j|^2), complex128 and float64.
    Shape: y (J, C, F, t) -> ((J, F, C, C), (J, F)).
    """
    cdt = torch.complex128
    nb_sources, nb_channels, nb_bins, nb_frames = y.shape
    if stats is None:
        stats = (torch.zeros(nb_sources, nb_bins, nb_channels, nb_channels, dtype=cdt, device=y.device),
                 torch.full((nb_sources, nb_bins), eps, dtype=torch.float64, device=y.device))
    cov, weight = stats
    for t in range(0, nb_frames, block):
        yb = y[..., t:t + block].to(cdt)
        cov += torch.einsum("jcft,jdft->jfcd", yb, yb.conj())
        weight += yb.abs().square().mean(1).sum(-1)
    return cov, weight


def spatial_covariances(stats: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """R_j(f) from `wiener_statistics`. Shape: -> (J, F, C, C) complex128."""
    cov, weight = stats
    return cov / weight[..., None, None]


def wiener_filter(x: torch.Tensor, y: torch.Tensor, cov: torch.Tensor, eps: float, block: int = _BLOCK) -> torch.Tensor:
    """y_j = v_j R_j C^-1 x for each frame, v_j the PSD of the previous estimate ``y`` (frame-local).

    Shape: x (C, F, t), y (J, C, F, t), cov (J, F, C, C) -> (J, C, F, t), dtype of y.
    """
    cdt = torch.complex128
    nb_channels, nb_frames = x.shape[0], x.shape[-1]
    out = torch.empty_like(y)
    loading = math.sqrt(eps) * torch.eye(nb_channels, dtype=cdt, device=y.device)
    for t in range(0, nb_frames, block):
        sl = slice(t, t + block)
        psd = y[..., sl].to(cdt).abs().square().mean(1).to(cdt)  # (J, F, t)
        mix_cov = torch.einsum("jft,jfcd->ftcd", psd, cov) + loading  # (F, t, C, C)
        xb = x[..., sl].to(cdt).permute(1, 2, 0).unsqueeze(-1)  # (F, t, C, 1)
        solved = torch.linalg.solve(mix_cov, xb)[..., 0]  # C^-1 x: (F, t, C)
        out[..., sl] = torch.einsum("jft,jfcd,ftd->jcft", psd, cov, solved).to(y.dtype)
    return out


def wiener_blocks(source, iterations: int, eps: float = EPS) -> Iterator[tuple[slice, torch.Tensor]]:
    """Filtered estimates ``(frames, complex (J, C, F, t))`` of a block source, in passes over its blocks."""
    scale = max(1.0, source.peak() / 10)  # pass 0: the mixture scale

    def estimates(covs: list[torch.Tensor]) -> Iterator[tuple[slice, torch.Tensor]]:
        """(frames, EM estimate after len(covs) steps) per piece, on the scaled mixture."""
        for frames, mix, est in source:
            x = mix / scale
            y = soft_mask(x, est.abs() if est.is_complex() else est, eps)
            for cov in covs:
                y = wiener_filter(x, y, cov, eps)
            yield frames, y

    covs: list[torch.Tensor] = []
    for _ in range(iterations):  # one pass per EM step: sum the statistics of the previous step
        stats = None
        for _, y in estimates(covs):
            stats = wiener_statistics(y, eps, stats)
        covs.append(spatial_covariances(stats))
    for frames, y in estimates(covs):
        yield frames, y * scale


def wiener(mix_stft: torch.Tensor, magnitudes: torch.Tensor, iterations: int = 1, eps: float = EPS) -> torch.Tensor:
    """The whole track as one block of `wiener_blocks`: the filtered source spectrograms.

    Shape: mix_stft (C, F, T), magnitudes (J, C, F, T) -> complex (J, C, F, T).
    """
    source = WholeTrack(mix_stft, magnitudes, STFTParams(2 * (mix_stft.shape[-2] - 1), 1))
    out = torch.empty(magnitudes.shape, dtype=mix_stft.dtype, device=mix_stft.device)
    for frames, y in wiener_blocks(source, iterations, eps):
        out[..., frames] = y
    return out
