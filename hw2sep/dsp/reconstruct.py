"""The one reconstruction engine: waveforms of the targets from a block source, by a method of ``hw2sep.dsp.methods``.

A block source (``hw2sep.dsp.blocks``) serves the mixture STFT and the target estimates piece by piece. Estimates
are magnitudes for every phase method, whatever the model predicts (``Separator`` passes a complex model's |S|), and
complex only for the model's own output. The engine of each method of the table ``hw2sep.dsp.methods``:

* ``mixture`` (method mixture) / ``own`` (direct, residual): each piece with the mixture phase (complex estimates
  keep their own), overlap-added; memory: one block.
* ``wiener`` (wiener): EM over passes of the blocks (``hw2sep.dsp.wiener``); memory: one block (+ kept estimates).
* ``griffinlim`` (griffinlim: random start, griffinlim-mixinit: mixture-phase start): global and iterative: every
  signal's magnitude is kept (frame-major), then ``hw2sep.dsp.griffinlim.griffinlim_signals`` runs librosa's
  iterations per signal; the mixture-phase start is read block by block.
* ``griffinlim-librosa``, ``mel``: librosa on the gathered whole-track magnitudes.

``reconstruct`` runs a whole track (one block); ``separate_streaming`` runs a mixture waveform and an estimator.
"""

from __future__ import annotations

import numpy as np
import torch

from hw2sep.dsp.blocks import (BLOCK_SECONDS, CONTEXT_SECONDS, EstimateFn, StreamedTrack, WholeTrack,
                               seconds_to_frames)
from hw2sep.dsp.griffinlim import griffinlim_librosa, griffinlim_signals, mel_roundtrip, unit_phasors
from hw2sep.dsp.methods import METHODS, settings_of
from hw2sep.dsp.overlap_add import OverlapAdd
from hw2sep.dsp.stft import STFTParams, with_phase_of
from hw2sep.dsp.wiener import EPS, wiener_blocks
from hw2sep.errors import Hw2sepError

ENGINES = ("mixture", "own", "wiener", "griffinlim", "griffinlim-librosa", "mel")  # what this module runs


def engine_of(method: str) -> str:
    """The engine of a method of the table; one line for an unknown method or one this module does not run."""
    if method not in METHODS:
        raise Hw2sepError(f"unknown reconstruction method {method!r}; choose one of {', '.join(METHODS)}")
    engine = METHODS[method].engine
    if engine not in ENGINES:
        raise Hw2sepError(f"method {method!r} needs a trained vocoder (hw2sep.separation runs it)")
    return engine


def gather_magnitudes(source) -> torch.Tensor:
    """Every piece's estimated magnitudes in one whole-track tensor. Shape: -> (J, C, F, T), source device."""
    out = None
    for frames, _, est in source:
        mags = est.abs() if est.is_complex() else est
        if out is None:
            out = mags.new_empty(*mags.shape[:-1], source.nb_frames)
        out[..., frames] = mags
    return out


def reconstruct_blocks(source, method: str, length: int, **options) -> torch.Tensor:
    """Waveforms of the targets of ``source`` by ``method`` with ``options`` over the table's defaults.

    Shape: -> (J, C, length) on the CPU, the estimates' real dtype.
    """
    engine, s = engine_of(method), settings_of(method, options)
    p = source.params
    gl = dict(n_iter=s["gl_iterations"], momentum=s["momentum"], seed=s["seed"], hop=p.hop, window=p.window)
    if engine in ("griffinlim-librosa", "mel"):
        mags = gather_magnitudes(source)
        run = griffinlim_librosa if engine == "griffinlim-librosa" else mel_roundtrip
        return run(mags, length, **gl).float().cpu()
    if engine == "griffinlim":
        return _griffinlim(source, length, s["gl_init"], gl)  # pinned by the method: random or mixture
    pieces = wiener_blocks(source, s["wiener_iterations"], EPS) if engine == "wiener" else \
        ((frames, est if est.is_complex() else with_phase_of(est, mix)) for frames, mix, est in source)
    ola = None
    for frames, spec in pieces:
        if ola is None:
            ola = OverlapAdd(spec.shape[:-2], length, p, source.device)
        ola.add(spec, frames.start)
    return ola.finish()


def _griffinlim(source, length: int, init: str, gl: dict) -> torch.Tensor:
    """Keep every signal's magnitude (frame-major), then Griffin-Lim per signal. Shape: -> (J, C, length)."""
    targets: list[torch.Tensor] = []  # per signal (target-major): (nb_frames, nb_bins)
    lead = None
    for frames, _, est in source:
        mags = est.abs() if est.is_complex() else est
        if lead is None:
            lead = mags.shape[:2]
            targets = [mags.new_empty(source.nb_frames, mags.shape[-2], device="cpu") for _ in range(lead.numel())]
        for s, sig in enumerate(mags.reshape(-1, *mags.shape[-2:])):
            targets[s][frames] = sig.T
    def from_mixture(s: int):  # the phase of signal s's channel, read block by block from the mixture
        return lambda fr: unit_phasors(source.mix_stft(fr, s % lead[1]))
    mixture_phase = from_mixture if init == "mixture" else None
    gl = dict(gl)
    n_iter, momentum, seed, hop, window = (gl.pop(k) for k in ("n_iter", "momentum", "seed", "hop", "window"))
    out = griffinlim_signals(targets, length, n_iter, momentum, seed, hop, window, mixture_phase, source.device)
    return out.view(*lead, length)


def reconstruct(mix_stft: torch.Tensor, magnitudes: torch.Tensor, method: str, length: int, *,
                stft_params: STFTParams = STFTParams(), **options) -> torch.Tensor:
    """Waveforms of the sources from whole-track magnitude estimates: the whole track as one block.

    Shape: mix_stft (C, F, T), magnitudes (J, C, F, T) -> (J, C, length).
    """
    engine_of(method)
    return reconstruct_blocks(WholeTrack(mix_stft, magnitudes, stft_params), method, length,
                              **options).to(magnitudes.device)


def separate_streaming(mixture: np.ndarray | torch.Tensor, estimate_fn: EstimateFn, method: str = "mixture",
                       stft_params: STFTParams = STFTParams(), *, block_seconds: float = BLOCK_SECONDS,
                       context_seconds: float = CONTEXT_SECONDS, device: torch.device | str | None = None,
                       keep_estimates: bool = True, **options) -> np.ndarray:
    """Waveforms of the targets of a mixture, block by block of STFT frames (bounded memory; the numbers of the
    whole track). ``estimate_fn`` maps a block's mixture STFT with context (C, F, t) to target estimates
    (J, C, F, t); ``keep_estimates`` keeps them between Wiener's passes instead of calling it again.

    Shape: mixture (C, N) -> (J, C, N) float32 numpy.
    """
    engine = engine_of(method)
    mixture = torch.as_tensor(mixture, dtype=torch.float32, device=device)
    source = StreamedTrack(mixture, estimate_fn, stft_params, max(1, seconds_to_frames(block_seconds, stft_params.hop)),
                           seconds_to_frames(context_seconds, stft_params.hop), keep_estimates and engine == "wiener")
    return reconstruct_blocks(source, method, mixture.shape[-1], **options).numpy()
