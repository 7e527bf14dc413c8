"""Separation metrics: BSS Eval v4 (SDR / ISR / SIR / SAR, as museval computes them) and global SDR.

BSS Eval v4 (Liutkus, Stöter & Ito, "The 2018 Signal Separation Evaluation Campaign", LVA/ICA 2018;
decomposition of Vincent, Gribonval & Févotte, IEEE TASLP 2006) as implemented by `museval.evaluate`
(mode='v4', https://github.com/sigsep/sigsep-mus-eval), i.e. `bss_eval_images` with time-invariant filters:

1. Once per track, each estimate is least-squares projected onto 512-tap delayed copies of (a) all
   references (filters C) and (b) its own reference only (filters Cj). The Gram matrix of delayed
   references and the reference/estimate cross-correlations are taken over the *whole* track.
2. Per window (full windows only: a trailing partial window is dropped) the windowed references are
   filtered (full convolution, length win + 511) and the zero-padded estimate decomposes as
   est = s + e_spat + e_interf + e_artif, giving SDR, ISR, SIR, SAR as energy ratios in dB.
   Windows where any reference or any estimate is silent are NaN for every source.

The fast backend computes the same quantities differently: whole-track correlations from short
block FFTs (only lags |k| < 512 are needed), one Cholesky solve per filter set (LU, then least
squares, as fall-backs), and per-window energies in the frequency domain (Parseval) instead of
museval's per-window time-domain convolutions. It never holds a whole-track float64 copy: blocks and
windows are converted as they are read, so a 10-minute track adds tens of MB beyond its inputs (the
same numbers as converting the whole track first, since float32 -> float64 is exact).

The mir_eval backend is BSS Eval **v3** (`mir_eval.separation.bss_eval_sources_framewise`), the
version most papers before SiSEC 2018 report: it re-estimates the 512-tap distortion filters in
every 1 s window (museval v4 estimates them once per track, time-invariant), and it is the "sources"
variant (mono signals, no spatial image term, so no ISR). Per-window filters fit each second
better, so v3 SDRs are usually higher than v4's for the same estimates.

Scoring in worker processes: ``hw2sep.evaluation.pool``; museval's per-track json: ``hw2sep.evaluation.track_json``.
"""

from __future__ import annotations

import contextlib
from typing import Sequence

import numpy as np
import scipy.fft as sfft
import scipy.linalg

from hw2sep.names import METRICS

FILTERS_LEN = 512
_BLOCK_FFT = 8192  # FFT size of the whole-track correlation blocks
_BLOCKS_PER_BATCH = 16
_WINDOWS_PER_BATCH = 2  # small batches keep the per-window spectra in cache
_WORKERS = -1  # scipy.fft threads (-1: all cores)
_CHUNK = 1 << 20  # samples per block of the whole-track sums (silence tests, global SDR)
BACKENDS = ("museval", "fast", "mir_eval")


def bss_eval(
    references: np.ndarray, estimates: np.ndarray, win: int = 44100, hop: int = 44100, backend: str = "fast"
) -> dict[str, np.ndarray]:
    """Framewise BSS Eval v4 images metrics, as `museval.evaluate(refs, ests, win, hop, 'v4', padding=True)`.

    Estimates are zero-padded / truncated to the references' length (museval's `pad_or_truncate`).
    backend: 'fast' (this module), 'museval' (calls museval, transposing to its layout) or
    'mir_eval' (BSS Eval v3 instead of v4, see `_bss_eval_mir_eval`; ISR is NaN).
    Shape: references, estimates (nb_sources, nb_channels, nb_samples) -> each value (nb_sources, nb_windows).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if backend == "museval":
        return _bss_eval_museval(references, estimates, win, hop)
    if backend == "mir_eval":
        return _bss_eval_mir_eval(references, estimates, win, hop)
    if win <= 0 or hop <= 0:
        raise ValueError(f"win and hop must be positive, got {win} and {hop}")
    refs, ests = _prepare(references, estimates)
    starts, length = _window_starts(refs.shape[-1], int(win), int(hop))
    silent = _silent_windows(refs, starts, length) | _silent_windows(ests, starts, length)
    filters_all, filters_own = _projection_filters(refs, ests)
    scores = _window_scores(refs, ests, filters_all, filters_own, starts, length)
    scores[:, :, silent] = np.nan
    return dict(zip(METRICS, scores))


def track_median(values: np.ndarray) -> np.ndarray:
    """museval's per-track statistic: median over windows ignoring NaN (and ±inf, which museval stores as NaN).

    Shape: (nb_sources, nb_windows) -> (nb_sources,); an all-NaN row gives NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    values = np.where(np.isinf(values), np.nan, values)
    out = np.full(values.shape[:-1], np.nan)
    valid = ~np.all(np.isnan(values), axis=-1)
    out[valid] = np.nanmedian(values[valid], axis=-1)
    return out


def global_sdr(references: np.ndarray, estimates: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """Whole-track SDR 10·log10((Σs² + eps) / (Σ(s-ŝ)² + eps)), the MDX-challenge / BSRNN "global SDR".

    Sums in float64 over blocks of the track (no whole-track copy).
    Shape: references, estimates (nb_sources, nb_channels, nb_samples) -> (nb_sources,).
    """
    refs, ests = _prepare(references, estimates, check_silence=False)
    num, den = np.full(len(refs), eps), np.full(len(refs), eps)
    for start in range(0, refs.shape[-1], _CHUNK):
        ref = refs[..., start : start + _CHUNK].astype(np.float64)
        num += np.sum(ref**2, axis=(1, 2))
        den += np.sum((ref - ests[..., start : start + _CHUNK]) ** 2, axis=(1, 2))
    return 10 * np.log10(num / den)


def stack_sources(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """``np.stack(arrays)``, without a copy when they are consecutive rows, in order, of one 3-d array (as
    `Track.load` and `Separator.separate` return them): a 10-minute stereo pair is 420 MB.

    Shape: nb_sources x (nb_channels, nb_samples) -> (nb_sources, nb_channels, nb_samples).
    """
    base = arrays[0].base if len(arrays) else None
    if isinstance(base, np.ndarray) and base.ndim == 3 and all(a.base is base for a in arrays):
        rows = [next((i for i in range(len(base)) if a.__array_interface__ == base[i].__array_interface__), None)
                for a in arrays]
        first = rows[0]
        if first is not None and rows == list(range(first, first + len(arrays))):
            return base if len(arrays) == len(base) else base[first:first + len(arrays)]  # e.g. the references
    return np.stack(arrays)


def spectral_distance(references: np.ndarray, estimates: np.ndarray, stft_params=None, block_frames: int = 1024,
                      dynamic_range_db: float = 80.0) -> np.ndarray:
    """`hw2sep.vocoder.log_spectral_distance` of whole tracks, computed over blocks of STFT frames (two
    passes: the reference's peak power, then the per-frame distances), averaged over channels.

    The same numbers as the whole-track call, without its whole-track spectrograms (~3 GB for 10 minutes).
    Shape: (nb_targets, C, N) twice -> (nb_targets,).
    """
    import torch

    from hw2sep.dsp.stft import log_spectral_frames, stft_frames

    from hw2sep.dsp.stft import STFTParams

    ref, est = (torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) for x in (references, estimates))
    p = stft_params or STFTParams()  # one fixed STFT for every model, so LSDs compare across models
    nb_frames = 1 + ref.shape[-1] // p.hop
    blocks = [(a, min(a + block_frames, nb_frames)) for a in range(0, nb_frames, block_frames)]
    power = lambda x, a, b: stft_frames(x, a, b, p.n_fft, p.hop, p.window).abs().square()  # noqa: E731
    peak = torch.stack([power(ref, a, b).amax(dim=(-2, -1)) for a, b in blocks]).amax(dim=0)
    floor = (peak * 10 ** (-dynamic_range_db / 10) + 1e-20)[..., None, None]
    total = torch.zeros(ref.shape[:-1], dtype=torch.float64)
    for a, b in blocks:
        total += log_spectral_frames(power(ref, a, b), power(est, a, b), floor).sum(dim=-1, dtype=torch.float64)
    return (total / nb_frames).mean(-1).numpy()


# --------------------------------------------------------------------------------------------- helpers


def _prepare(references, estimates, check_silence: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes, zero-pad / truncate estimates to the references' length, refuse silent sources.

    Shape: (nb_sources, nb_channels, nb_samples) both -> same, estimates with the references' length.
    """
    refs, ests = np.asarray(references), np.asarray(estimates)
    if refs.ndim != 3 or ests.ndim != 3 or refs.shape[:2] != ests.shape[:2]:
        raise ValueError(f"need (sources, channels, samples) arrays, got shapes {refs.shape} and {ests.shape}")
    n = refs.shape[-1]
    ests = ests[..., :n] if ests.shape[-1] >= n else np.pad(ests, [(0, 0), (0, 0), (0, n - ests.shape[-1])])
    for label, x in (("reference", refs), ("estimate", ests)):
        if check_silence and not np.all(_sounding(x)):
            raise ValueError(f"a {label} source is silent over the whole track (museval refuses it too)")
    return refs, ests


def _sounding(x: np.ndarray) -> np.ndarray:
    """Whether each source's channel sum is non-zero somewhere, read in blocks. Shape: (S, C, N) -> (S,) bool."""
    found = np.zeros(len(x), dtype=bool)
    for start in range(0, x.shape[-1], _CHUNK):
        found |= np.any(x[..., start : start + _CHUNK].sum(axis=1) != 0, axis=-1)
    return found


def _window_starts(nb_samples: int, win: int, hop: int) -> tuple[np.ndarray, int]:
    """museval's framing: full windows only, or one window of the whole track if win >= its length.

    Shape: -> starts (nb_windows,), window length.
    """
    if win >= nb_samples:
        return np.zeros(1, dtype=np.int64), nb_samples
    return np.arange((nb_samples - win + hop) // hop, dtype=np.int64) * hop, win


def _silent_windows(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """museval's test: some source's channel sum is zero at every sample of the window (one window at a time).

    Shape: x (nb_sources, nb_channels, nb_samples) -> (nb_windows,) bool.
    """
    return np.array([not np.all(_sounding(x[..., start : start + length])) for start in starts], dtype=bool)


def _segment(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    """x[:, start:stop] as float64, zeros wherever the range leaves the signal. Shape: (P, N) -> (P, stop - start)."""
    out = np.zeros((len(x), stop - start))
    low, high = max(start, 0), min(stop, x.shape[1])
    out[:, low - start : high - start] = x[:, low:high]
    return out


def _track_correlations(x: np.ndarray, ys: tuple[np.ndarray, ...]) -> np.ndarray:
    """Whole-track r_pq(k) = Σ_n x_p[n] y_q[n+k] for |k| < L, from short FFTs only; y = ys stacked.

    x is cut into blocks of B = _BLOCK_FFT - 2(L-1) samples, each correlated with the slice of y that
    extends it by L-1 samples on both sides: exact for |k| < L. Cross-spectra are summed over blocks
    before one inverse FFT per pair. Only one batch of blocks is ever in float64.
    Shape: x (P, N), ys (Q_i, N) each -> (P, ΣQ_i, 2L-1), lag k at index k + L - 1.
    """
    ext = FILTERS_LEN - 1
    block = _BLOCK_FFT - 2 * ext
    nblocks = -(-x.shape[1] // block)
    cross = np.zeros((len(x), sum(map(len, ys)), _BLOCK_FFT // 2 + 1), dtype=np.complex128)
    for first in range(0, nblocks, _BLOCKS_PER_BATCH):
        count = min(_BLOCKS_PER_BATCH, nblocks - first)
        x_blocks = _segment(x, first * block, (first + count) * block).reshape(len(x), count, block)
        y_span = np.concatenate([_segment(y, first * block - ext, (first + count) * block + ext) for y in ys])
        y_blocks = np.lib.stride_tricks.sliding_window_view(y_span, _BLOCK_FFT, axis=-1)[:, ::block]
        spec_x = sfft.rfft(x_blocks, _BLOCK_FFT, workers=_WORKERS)
        spec_y = sfft.rfft(y_blocks, workers=_WORKERS)
        cross += np.einsum("pbf,qbf->pqf", np.conj(spec_x), spec_y)
    return sfft.irfft(cross, _BLOCK_FFT, workers=_WORKERS)[..., : 2 * ext + 1]


def _projection_filters(refs: np.ndarray, ests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time-invariant distortion filters from whole-track correlations.

    Shape: refs, ests (S, C, N) -> filters_all (S, C_out, S*C, L) on every reference channel,
           filters_own (S, C_out, C, L) on the estimate's own reference only; L = FILTERS_LEN.
    """
    nsrc, nchan, n = refs.shape
    nsig, taps = nsrc * nchan, FILTERS_LEN
    refs, ests = refs.reshape(nsig, n), ests.reshape(nsig, n)
    corr = _track_correlations(refs, (refs, ests))
    for p in range(nsig):  # exactly symmetric Gram matrix, as museval's
        corr[p + 1 :, p] = corr[p, p + 1 : nsig, ::-1]
    delay = np.arange(taps)
    gram = corr[:, :nsig, delay[:, None] - delay[None, :] + taps - 1]  # [p, q, a, b] = <ref_p(·-a), ref_q(·-b)>
    gram = gram.transpose(0, 2, 1, 3).reshape(nsig * taps, nsig * taps)
    cross = corr[:, nsig:, taps - 1 :].transpose(0, 2, 1).reshape(nsig * taps, nsig)  # <ref_p(·-a), est_e>
    filters_all = _solve(gram, cross).reshape(nsig, taps, nsrc, nchan).transpose(2, 3, 0, 1)
    filters_own = np.empty((nsrc, nchan, nchan, taps))
    for j in range(nsrc):
        rows = slice(j * nchan * taps, (j + 1) * nchan * taps)
        own = _solve(gram[rows, rows], cross[rows, j * nchan : (j + 1) * nchan])
        filters_own[j] = own.reshape(nchan, taps, nchan).transpose(2, 0, 1)
    return filters_all, filters_own


def _solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve (gram + eps·I) x = rhs as museval does (least squares on gram if singular).

    gram is positive semi-definite, so Cholesky (half the work of museval's LU, same result up to
    round-off) is tried first, then LU, then least squares.
    Shape: gram (K, K), rhs (K, R) -> (K, R).
    """
    regularised = gram + np.finfo(np.float64).eps * np.eye(len(gram))
    with _one_blas_thread():
        try:
            factor = scipy.linalg.cho_factor(regularised, lower=True, check_finite=False)
            return scipy.linalg.cho_solve(factor, rhs, check_finite=False)
        except np.linalg.LinAlgError:
            pass
        try:
            return np.linalg.solve(regularised, rhs)
        except np.linalg.LinAlgError:
            return np.linalg.lstsq(gram, rhs)[0]


def _one_blas_thread() -> contextlib.AbstractContextManager:
    """One BLAS thread for the solves when threadpoolctl is installed: on a busy 2-core machine a
    multi-threaded OpenBLAS factorisation was measured 3-5x slower than a single-threaded one."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn (librosa)
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _window_scores(refs, ests, filters_all, filters_own, starts: np.ndarray, length: int) -> np.ndarray:
    """SDR, ISR, SIR, SAR of every window, each window zero-padded by L-1 samples as in museval.

    Shape: refs, ests (S, C, N); filters from `_projection_filters` -> (4, S, nb_windows).
    """
    nsrc, nchan, n = refs.shape
    nsig = nsrc * nchan
    nfft = 2 * sfft.next_fast_len(-(-(length + FILTERS_LEN - 1) // 2), real=True)  # even: Nyquist bin
    h_all = sfft.rfft(filters_all, nfft, workers=_WORKERS)
    h_own = sfft.rfft(filters_own, nfft, workers=_WORKERS)
    refs, ests = refs.reshape(nsig, n), ests.reshape(nsig, n)
    frames = np.zeros((2 * nsig, _WINDOWS_PER_BATCH, nfft))  # the zero tail is the L-1 padding
    energies = np.empty((7, nsrc, len(starts)))
    for first in range(0, len(starts), _WINDOWS_PER_BATCH):
        batch = starts[first : first + _WINDOWS_PER_BATCH]
        for i, start in enumerate(batch):
            frames[:nsig, i, :length] = refs[:, start : start + length]
            frames[nsig:, i, :length] = ests[:, start : start + length]
        spec = sfft.rfft(frames[:, : len(batch)], workers=_WORKERS)
        energies[:, :, first : first + len(batch)] = _batch_energies(spec[:nsig], spec[nsig:], h_all, h_own)
    numerator, denominator = energies[[0, 0, 2, 4]], energies[[6, 1, 3, 5]]  # SDR, ISR, SIR, SAR
    return _db(numerator, denominator)


def _batch_energies(spec_r, spec_e, h_all: np.ndarray, h_own: np.ndarray) -> np.ndarray:
    """Energies (× nfft) of s, e_spat, s+e_spat, e_interf, s+e_spat+e_interf, e_artif, est-s, per window.

    Shape: spec_r, spec_e (S*C, W, F); h_all (S, C, S*C, F); h_own (S, C, C, F) -> (7, S, W).
    """
    nsrc, nchan = h_own.shape[:2]
    out = np.zeros((7, nsrc, spec_r.shape[1]))
    for j in range(nsrc):
        own = spec_r[j * nchan : (j + 1) * nchan]
        for c in range(nchan):
            true, est = own[c], spec_e[j * nchan + c]
            proj_own, proj_all = _filter(h_own[j, c], own), _filter(h_all[j, c], spec_r)
            parts = (true, proj_own - true, proj_own, proj_all - proj_own, proj_all, est - proj_all, est - true)
            for k, part in enumerate(parts):
                out[k, j] += _energy(part)
    return out


def _filter(spec_h: np.ndarray, spec_x: np.ndarray) -> np.ndarray:
    """Σ_i h_i * x_i in the frequency domain. Shape: spec_h (I, F), spec_x (I, W, F) -> (W, F)."""
    out = spec_h[0] * spec_x[0]
    for i in range(1, len(spec_h)):
        out += spec_h[i] * spec_x[i]
    return out


def _energy(spec: np.ndarray) -> np.ndarray:
    """nfft × energy of real signals from their rfft with an even nfft (Parseval). Shape: (W, F) -> (W,)."""
    flat = spec.view(np.float64)
    return 2 * np.einsum("wf,wf->w", flat, flat) - np.abs(spec[:, 0]) ** 2 - np.abs(spec[:, -1]) ** 2


def _db(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """10·log10(num / den), +inf where den == 0 (museval's `_safe_db`). Shape: any, broadcast."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den == 0, np.inf, 10 * np.log10(num / den))


def _bss_eval_museval(references, estimates, win: int, hop: int) -> dict[str, np.ndarray]:
    """Reference backend: `museval.evaluate`, imported here because museval needs ffmpeg at import time.

    Shape: (nb_sources, nb_channels, nb_samples) -> each value (nb_sources, nb_windows).
    """
    import museval

    refs = np.transpose(np.asarray(references), (0, 2, 1))
    ests = np.transpose(np.asarray(estimates), (0, 2, 1))
    values = museval.evaluate(refs, ests, win=int(win), hop=int(hop), mode="v4", padding=True)
    return dict(zip(METRICS, (np.asarray(v, dtype=np.float64) for v in values)))


def _bss_eval_mir_eval(references, estimates, win: int, hop: int) -> dict[str, np.ndarray]:
    """BSS Eval v3 per window: `mir_eval.separation.bss_eval_sources_framewise` on each channel.

    mir_eval scores mono sources (nb_sources, nb_samples), so each channel is scored on its own
    (channel c of every reference against channel c of every estimate, no permutation) and the
    per-window dB values are averaged over channels; a window silent in any channel is NaN, as in
    mir_eval. Framing is museval's (full windows only; one window when win >= the track length).
    ISR does not exist in the "sources" variant and is NaN.
    Shape: (nb_sources, nb_channels, nb_samples) -> each value (nb_sources, nb_windows).
    """
    import warnings

    from mir_eval.separation import bss_eval_sources_framewise  # deprecated in mir_eval 0.8, gone in 0.9

    refs, ests = (np.asarray(x, dtype=np.float64) for x in _prepare(references, estimates))
    win, hop = int(win), int(hop)
    if win <= 0 or hop <= 0:
        raise ValueError(f"win and hop must be positive, got {win} and {hop}")
    starts, length = _window_starts(refs.shape[-1], win, hop)
    per_channel = []
    for c in range(refs.shape[1]):
        if np.any(np.all(refs[:, c] == 0, axis=-1)) or np.any(np.all(ests[:, c] == 0, axis=-1)):
            per_channel.append(np.full((3, len(refs), len(starts)), np.nan))  # mir_eval refuses silent sources
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # the deprecation notice, once per call
            if len(starts) == 1:  # mir_eval falls back to the whole signal below 2 windows: cut ours ourselves
                sdr, sir, sar, _ = bss_eval_sources_framewise(refs[:, c, :length], ests[:, c, :length], length, length)
            else:
                sdr, sir, sar, _ = bss_eval_sources_framewise(refs[:, c], ests[:, c], win, hop)
        per_channel.append(np.stack([sdr, sir, sar])[..., : len(starts)])
    sdr, sir, sar = np.mean(per_channel, axis=0)  # NaN in any channel stays NaN
    return {"SDR": sdr, "ISR": np.full_like(sdr, np.nan), "SIR": sir, "SAR": sar}
