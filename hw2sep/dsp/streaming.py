"""Separation of long tracks in blocks of STFT frames: the whole-track numbers at a block's memory.

`separate_streaming` takes the mixture waveform, a per-block estimator (the model) and a
reconstruction method of `hw2sep.dsp.phase`, and returns the waveforms of the targets. It never holds
the whole-track mixture STFT; per method it holds:

* ``mixture``: one block. Each block's frames get the mixture phase and are overlap-added into the
  output; the same numbers as ``phase.reconstruct(stft(mix), mags, "mixture")`` up to float
  rounding of the overlap-add (~1e-7 relative).
* ``wiener``: the mixture scale and the EM statistics R_j(f) are over the whole track, so it runs
  passes over the blocks: one for the scale, one per EM step to sum R_j, one to filter.
  EM step n of a block is recomputed from the block's estimates and R_1..R_n (nothing per frame
  is kept between passes but the estimates, see `keep_estimates`). Float64 sums in another order:
  equal to ``phase.wiener`` to ~1e-6 relative.
* ``griffinlim``: global and iterative, so it keeps every signal's magnitude (float32, one
  (frames, bins) tensor per target and channel) and runs Griffin-Lim one signal per worker on
  waveforms: each iteration recomputes the previous STFT from the previous waveform instead of
  keeping complex spectrograms, so a worker holds three waveforms, not 3.5 spectrograms (one
  more STFT per iteration). The numbers are those of ``phase.griffinlim``, bit for bit on the CPU
  (same blocks of frames, same random phase stream for `seed`).

Sizes for a 10-minute stereo track (nb_frames 25 841, nb_bins 2049): one complex64 spectrogram of
one channel is 0.42 GB, one waveform 0.11 GB (bench/bench_memory.py measures the totals).

Model chunking: the estimator is called on the frames of one block plus ``context`` frames each
side (as ``Separator`` ran its model) and only the block's own frames of its answer are kept.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

import numpy as np
import torch

from hw2sep import SAMPLE_RATE
from hw2sep.errors import Hw2sepError
from hw2sep.dsp.stft import STFTParams
from hw2sep.dsp.phase import (GL_INITS, _BLOCK, _DRAW_ROWS, _check_choice, _one_thread_per_op,
                          _skip_draws, _update, spatial_covariances, wiener_filter,
                          wiener_statistics)
from hw2sep.dsp.stft import stft_frames, window_tensor

STREAM_METHODS = ("mixture", "wiener", "griffinlim")
_PIECE = 256  # frames reconstructed at once (the estimator sees whole blocks)
_PHASE_GROUP = 4096  # frames of the random initial phase drawn at once (a multiple of _BLOCK)

# mix STFT of a block with context (C, F, t) complex -> target estimates (J, C, F, t): magnitudes
# (real, >= 0) or complex spectrograms (complex models).
EstimateFn = Callable[[torch.Tensor], torch.Tensor]


def frame_blocks(nb_frames: int, block_frames: int, context_frames: int) -> list[tuple[slice, slice]]:
    """Blocks of frames and the span the estimator sees: ``[(core, span)]``, cores tile 0:nb_frames.

    span = core widened by `context_frames` each side, clipped to the track (Separator's chunks).
    """
    if block_frames < 1 or context_frames < 0:
        raise ValueError(f"block_frames {block_frames} < 1 or context_frames {context_frames} < 0")
    return [(slice(a, min(a + block_frames, nb_frames)),
             slice(max(0, a - context_frames), min(nb_frames, a + block_frames + context_frames)))
            for a in range(0, nb_frames, block_frames)]


def seconds_to_frames(seconds: float, hop: int) -> int:
    """Frames in `seconds` at the package sample rate, as ``Separator`` counts them."""
    return int(seconds * SAMPLE_RATE / hop)


class OverlapAdd:
    """Inverse STFT assembled block by block: `add` frames as they come, `finish` once.

    The output is the whole-track ``transforms.istft`` (same window sums and division) up to the
    order of the overlap-add sums. Blocks may arrive in any order; each frame once.

    Shape: add((..., nb_bins, t) complex, first frame) ; finish() -> (..., length) float32, CPU.
    """

    def __init__(self, lead: tuple[int, ...], length: int, params: STFTParams = STFTParams(),
                 device: torch.device | str = "cpu") -> None:
        if params.n_fft % params.hop:
            raise Hw2sepError(f"streaming needs n_fft ({params.n_fft}) a multiple of hop ({params.hop})")
        self.length, self.n_fft, self.hop = length, params.n_fft, params.hop
        self.nb_frames = 1 + length // params.hop
        self.window = window_tensor(params.window, params.n_fft, device, torch.float32)
        self.out = torch.zeros(*lead, length)  # the numerator, then the result (CPU)

    def _fold(self, frames: torch.Tensor) -> torch.Tensor:
        """Overlap-add of windowed frames, as k = n_fft / hop shifted adds of hop-long rows (F.fold
        is ~4x slower on CPU). Shape: (B, t, n_fft) -> (B, (t - 1) * hop + n_fft)."""
        batch, t = frames.shape[:2]
        k = self.n_fft // self.hop
        parts = frames.view(batch, t, k, self.hop)  # a frame = k hops
        out = frames.new_zeros(batch, t + k - 1, self.hop)
        for j in range(k):
            out[:, j:j + t] += parts[:, :, j]
        return out.view(batch, -1)

    def _place(self, first_frame: int, size: int) -> tuple[int, int, int]:
        """Where a fold starting at `first_frame` lands in the output: (lo, hi, offset into fold)."""
        first = first_frame * self.hop - self.n_fft // 2
        lo, hi = max(0, first), min(self.length, first + size)
        return lo, hi, lo - first

    def add(self, spec: torch.Tensor, first_frame: int) -> None:
        """Overlap-add the frames `spec` (frames first_frame, first_frame + 1, ...)."""
        lead = spec.shape[:-2]
        spec = spec.reshape(-1, *spec.shape[-2:]).transpose(-1, -2)  # to (B, t, nb_bins)
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=-1)  # (B, t, n_fft)
        folded = self._fold(frames.mul_(self.window))  # (B, samples)
        lo, hi, off = self._place(first_frame, folded.shape[-1])
        self.out[..., lo:hi] += folded[:, off:off + hi - lo].reshape(*lead, hi - lo).cpu()

    def finish(self, chunk_frames: int = 4096) -> torch.Tensor:
        """Divide by the sum of squared windows of all frames, in chunks; returns the output."""
        square = self.window.square().cpu()
        k = self.n_fft // self.hop
        for a in range(0, self.nb_frames, chunk_frames):
            b = min(self.nb_frames, a + chunk_frames)  # samples a*hop:b*hop, frames a-k:b+k over them
            lo_f, hi_f = max(0, a - k), min(self.nb_frames, b + k)
            env = self._fold(square.expand(1, hi_f - lo_f, self.n_fft).contiguous())[0]
            first = lo_f * self.hop - self.n_fft // 2
            keep_lo, keep_hi = a * self.hop, (b * self.hop if b < self.nb_frames else self.length)
            self.out[..., keep_lo:keep_hi] /= env[keep_lo - first:keep_hi - first]
        return self.out


class _Blocks:
    """The mixture in blocks: its STFT frames and the estimator's answer for each block's core."""

    def __init__(self, mixture: torch.Tensor, estimate_fn: EstimateFn, params: STFTParams,
                 block_frames: int, context_frames: int, keep: bool) -> None:
        self.mixture, self.estimate_fn, self.params, self.keep = mixture, estimate_fn, params, keep
        self.nb_frames = 1 + mixture.shape[-1] // params.hop
        self.plan = frame_blocks(self.nb_frames, block_frames, context_frames)
        self.kept: list[tuple[slice, torch.Tensor]] = []  # (frames, estimates) once a pass ended
        self.kept_next: list[tuple[slice, torch.Tensor]] = []
        self.calls = 0

    def stft(self, frames: slice) -> torch.Tensor:
        p = self.params
        return stft_frames(self.mixture, frames.start, frames.stop, p.n_fft, p.hop, p.window)

    def peak(self) -> float:
        """max |X| over the track; also runs the estimator once if its answers are to be kept."""
        if self.keep:
            return max(float(mix.abs().max()) for _, mix, _ in self)
        return max(float(self.stft(core).abs().max()) for core, _ in self.plan)

    def __iter__(self) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
        """(frames, mixture STFT (C, F, t), estimates (J, C, F, t)) per piece of `_PIECE` frames.

        The estimator sees a whole block with its context; what follows it takes the block's
        core in pieces, so that its temporaries stay small.
        """
        if self.kept:
            for piece, est in self.kept:
                yield piece, self.stft(piece), est.to(self.mixture.device)
            return
        for core, span in self.plan:
            mix = self.stft(span)
            with torch.no_grad():
                est = self.estimate_fn(mix)
            self.calls += 1
            if est.shape[1:] != mix.shape:
                raise Hw2sepError(f"estimate_fn returned {tuple(est.shape)} for a mixture block "
                                  f"{tuple(mix.shape)}; expected (nb_targets, *mixture block)")
            for a in range(core.start, core.stop, _PIECE):
                piece = slice(a, min(a + _PIECE, core.stop))
                local = slice(piece.start - span.start, piece.stop - span.start)
                if self.keep:
                    self.kept_next.append((piece, est[..., local].to("cpu", memory_format=torch.contiguous_format, copy=True)))
                yield piece, mix[..., local], est[..., local]
            del mix, est
        if self.keep:
            self.kept, self.kept_next = self.kept_next, []


def separate_streaming(mixture: np.ndarray | torch.Tensor, estimate_fn: EstimateFn,
                       method: str = "mixture", stft_params: STFTParams = STFTParams(), *,
                       block_seconds: float = 30.0, context_seconds: float = 3.0,
                       device: torch.device | str | None = None, keep_estimates: bool = True,
                       wiener_iterations: int = 1, eps: float = 1e-10, gl_iterations: int = 32,
                       gl_init: str = "random", momentum: float = 0.99, seed: int = 0) -> np.ndarray:
    """Waveforms of the targets of a long mixture, computed block by block of STFT frames.

    Args:
        mixture: waveform, float32 (a numpy float32 array is used without a copy).
        estimate_fn: the model: complex mixture STFT of a block with context, (C, F, t) on
            `device` -> target estimates for the same frames, (J, C, F, t): magnitudes, or complex
            spectrograms (complex models; ``mixture`` then uses their own phase, ``wiener`` and
            ``griffinlim`` their magnitudes). Called under ``torch.no_grad``.
        method: ``mixture``, ``wiener`` or ``griffinlim`` (`STREAM_METHODS`); the others of
            ``phase.METHODS`` run whole-track only.
        stft_params: the model's STFT (n_fft a multiple of hop).
        block_seconds, context_seconds: frames per block and context frames each side that the
            estimator sees (``Separator``'s chunk_seconds and context_seconds).
        device: where blocks are transformed and estimated; default: the mixture's device.
        keep_estimates: keep the estimates of every block (float32 on the CPU, J x C x F x T) so
            that ``wiener`` calls `estimate_fn` once; False calls it again in each of its
            ``wiener_iterations + 1`` passes over the blocks. ``griffinlim`` always keeps the magnitudes.
        wiener_iterations, eps: ``phase.wiener``'s EM steps and regularisation.
        gl_iterations, gl_init, momentum, seed: ``phase.griffinlim``'s settings.

    Returns: float32 waveforms on the CPU. Shape: mixture (C, N) -> (J, C, N).
    """
    _check_choice(method, STREAM_METHODS, "streaming reconstruction method")
    _check_choice(gl_init, GL_INITS, "Griffin-Lim init")
    mixture = torch.as_tensor(mixture, dtype=torch.float32, device=device)
    length = mixture.shape[-1]
    if length < 1 or stft_params.n_fft % stft_params.hop:
        raise Hw2sepError(f"streaming needs a non-empty mixture and n_fft a multiple of hop, got "
                          f"{length} samples, {stft_params}")
    blocks = _Blocks(mixture, estimate_fn, stft_params, max(1, seconds_to_frames(block_seconds, stft_params.hop)),
                     seconds_to_frames(context_seconds, stft_params.hop),
                     keep_estimates and method == "wiener")
    if method == "griffinlim":
        return _griffinlim(blocks, length, gl_iterations, momentum, gl_init, seed).numpy()
    ola: OverlapAdd | None = None
    for core, spec in (_wiener(blocks, wiener_iterations, eps) if method == "wiener" else _mixture(blocks)):
        if ola is None:
            ola = OverlapAdd(spec.shape[:-2], length, stft_params, mixture.device)
        ola.add(spec, core.start)
    return ola.finish().numpy()


def _mixture(blocks: _Blocks) -> Iterator[tuple[slice, torch.Tensor]]:
    """Estimates with the mixture phase (complex estimates as they are), block by block."""
    for core, mix, est in blocks:
        if est.is_complex():
            yield core, est
        else:  # phase.reconstruct's expression
            yield core, est * torch.exp(1j * mix.angle()).to(mix.dtype)


def _wiener(blocks: _Blocks, iterations: int, eps: float) -> Iterator[tuple[slice, torch.Tensor]]:
    """``phase.wiener`` in passes over the blocks: scale, R_1 .. R_n, then the filtered blocks."""
    scale = max(1.0, blocks.peak() / 10)  # pass 0: phase.wiener's mixture scale

    def estimates(covs: list[torch.Tensor]) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
        """(core, scaled mixture, EM estimate after len(covs) steps) per block."""
        for core, mix, est in blocks:
            mags = est.abs() if est.is_complex() else est
            x = mix / scale
            y = x * (mags / (eps + mags.sum(0))).to(x.dtype)
            for cov in covs:
                y = wiener_filter(x, y, cov, eps)
            yield core, x, y

    covs: list[torch.Tensor] = []
    for _ in range(iterations):  # one pass per EM step: sum the statistics of the previous step
        stats = None
        for _, _, y in estimates(covs):
            stats = wiener_statistics(y, eps, stats)
        covs.append(spatial_covariances(stats))
    for core, _, y in estimates(covs):
        yield core, y * scale


class _Waves:
    """One signal's Griffin-Lim state: three zero-padded waveforms (previous, current, next).

    The next waveform is overlap-added into its own padded buffer (as ``phase._Frames.istft``
    into its ``ola`` rows), then divided by the envelope and its padding zeroed.
    """

    def __init__(self, nb_frames: int, length: int, n_fft: int, hop: int, window: torch.Tensor,
                 inv_env: torch.Tensor, count: int) -> None:
        self.nb_frames, self.length, self.n_fft, self.hop, self.k = nb_frames, length, n_fft, hop, n_fft // hop
        self.window, self.inv_env = window, inv_env
        self.bufs = [torch.zeros(length + n_fft, dtype=window.dtype, device=window.device) for _ in range(count)]

    def stft_block(self, buf: torch.Tensor, fr: slice) -> torch.Tensor:
        """``phase._Frames.stft_block``. Shape: -> (len(fr), nb_bins) complex."""
        frames = buf.unfold(-1, self.n_fft, self.hop)[fr] * self.window
        return torch.fft.rfft(frames, dim=-1)

    def add_block(self, buf: torch.Tensor, spec: torch.Tensor, fr: slice) -> None:
        """Overlap-add one block of frames into `buf`. Shape: spec (len(fr), nb_bins) complex."""
        ola = buf[:(self.nb_frames + self.k - 1) * self.hop].view(-1, self.hop)
        parts = torch.fft.irfft(spec, n=self.n_fft, dim=-1).view(-1, self.k, self.hop)
        win = self.window.view(self.k, self.hop)
        for j in range(self.k):
            ola[fr.start + j:fr.stop + j].addcmul_(parts[:, j], win[j])

    def finish(self, buf: torch.Tensor) -> None:
        """Overlap-add sums -> waveform, zero padding restored."""
        start = self.n_fft // 2
        signal = buf[start:start + self.length]
        torch.mul(signal, self.inv_env, out=signal)
        buf[:start].zero_()
        buf[start + self.length:].zero_()


def _inverse_envelope(nb_frames: int, length: int, window: torch.Tensor, hop: int) -> torch.Tensor:
    """``phase._Frames``' 1 / sum of squared windows (0 where it vanishes). Shape: (length,)."""
    n_fft = len(window)
    k = n_fft // hop
    env = torch.zeros(nb_frames + k - 1, hop, dtype=window.dtype, device=window.device)
    for i, w in enumerate(window.square().view(k, hop)):
        env[i:i + nb_frames] += w
    env = env.view(-1)[n_fft // 2:n_fft // 2 + length]
    return torch.where(env > torch.finfo(env.dtype).tiny, 1 / env, torch.zeros_like(env))


def _griffinlim_signal(target: torch.Tensor, init: Callable[[slice], torch.Tensor], waves: _Waves,
                       n_iter: int, momentum: float, block: int) -> torch.Tensor:
    """``phase._griffinlim_batch`` for one signal with the previous STFT recomputed, not kept.

    Shape: target (nb_frames, nb_bins) float32, init(frames) -> (len(frames), nb_bins) unit
    phasors -> (length,) waveform, a view of one of `waves`' buffers (the others are freed).
    """
    blocks = [slice(f, min(f + block, waves.nb_frames)) for f in range(0, waves.nb_frames, block)]
    prev, cur, nxt = waves.bufs
    waves.bufs = []
    for fr in blocks:
        waves.add_block(cur, init(fr) * target[fr], fr)
    waves.finish(cur)
    scale = torch.empty(min(block, waves.nb_frames), target.shape[-1], dtype=target.dtype, device=target.device)
    for it in range(n_iter):
        nxt.zero_()
        for fr in blocks:
            angles = waves.stft_block(cur, fr)
            tprev = waves.stft_block(prev, fr) if it else None
            _update(angles, angles, tprev, target[fr], momentum, scale[:len(angles)])
            waves.add_block(nxt, angles, fr)
        waves.finish(nxt)
        prev, cur, nxt = cur, nxt, prev
    return cur[waves.n_fft // 2:waves.n_fft // 2 + waves.length]


class _RandomPhase:
    """librosa's random initial phase of one (nb_bins, nb_frames) signal, by groups of frames.

    librosa draws bin after bin (C order), so a block of frames needs draws from every bin's row:
    one sweep saves the generator state at each (group, bin), then each group is drawn alone.
    Numbers of ``phase.random_phase``; memory: one group of frames, not the whole spectrogram.
    """

    def __init__(self, rng: np.random.RandomState, nb_bins: int, nb_frames: int,
                 device: torch.device, group: int = _PHASE_GROUP) -> None:
        self.device, self.group = device, group
        starts = range(0, nb_frames, group)
        self.states: list[list[tuple]] = [[] for _ in starts]  # [group][bin]
        for _ in range(nb_bins):
            for g, a in enumerate(starts):
                self.states[g].append(rng.get_state())
                rng.random(size=min(group, nb_frames - a))
        self.nb_frames, self.current, self.phase = nb_frames, -1, None

    def __call__(self, fr: slice) -> torch.Tensor:
        """Shape: frames -> (len(frames), nb_bins) complex64; `fr` within one group, in order."""
        g = fr.start // self.group
        if g != self.current:  # phase._draw_phase's arithmetic, rows in pieces
            self.phase = None
            width = min(self.group, self.nb_frames - g * self.group)
            local, rows = np.random.RandomState(), np.empty((len(self.states[g]), width))
            for row, state in zip(rows, self.states[g]):
                local.set_state(state)
                row[:] = local.random(size=width)
            self.states[g], self.current = [], g
            self.phase = torch.empty(rows.shape, dtype=torch.complex64, device=self.device)
            for f in range(0, len(rows), _DRAW_ROWS):  # (rows, width) float64 -> complex64
                angle = torch.from_numpy(rows[f:f + _DRAW_ROWS]).mul_(2 * np.pi)
                self.phase[f:f + len(angle)] = torch.polar(torch.ones_like(angle), angle)
            del rows
        a = fr.start - g * self.group
        return self.phase[:, a:a + fr.stop - fr.start].T


def _griffinlim(blocks: _Blocks, length: int, n_iter: int, momentum: float, init: str,
                seed: int) -> torch.Tensor:
    """Keep every signal's magnitude, then Griffin-Lim per signal. Shape: -> (J, C, length)."""
    store: list[torch.Tensor | None] = []  # per signal (target-major): (nb_frames, nb_bins) float32
    for core, _, est in blocks:
        mags = est.abs() if est.is_complex() else est
        if not store:
            lead = mags.shape[:2]
            store = [torch.empty(blocks.nb_frames, mags.shape[-2]) for _ in range(lead.numel())]
        for s, sig in enumerate(mags.reshape(-1, *mags.shape[-2:])):
            store[s][core] = sig.T
    nb_signals, (nb_frames, nb_bins) = len(store), store[0].shape
    p, device = blocks.params, blocks.mixture.device
    window = window_tensor(p.window, p.n_fft, device, torch.float32)
    inv_env = _inverse_envelope(nb_frames, length, window, p.hop)
    on_cpu = device.type == "cpu"
    block = _BLOCK if on_cpu else _PHASE_GROUP
    starts = []
    rng = np.random.RandomState(seed)
    for s in range(nb_signals if init == "random" else 0):  # each signal's place in librosa's stream
        starts.append(rng.get_state())
        if s + 1 < nb_signals:
            _skip_draws(rng, nb_frames * nb_bins)
    results: list[torch.Tensor | None] = [None] * nb_signals

    def run(s: int) -> None:
        if init == "random":
            rng = np.random.RandomState()
            rng.set_state(starts[s])
            start = _RandomPhase(rng, nb_bins, nb_frames, device)
        else:
            channel = blocks.mixture[s % lead[1]]

            def start(fr: slice) -> torch.Tensor:  # phase._phase_source on the mixture STFT
                spec = stft_frames(channel, fr.start, fr.stop, p.n_fft, p.hop, p.window)
                return torch.sgn(spec).masked_fill(spec == 0, 1).T
        target = store[s].to(device)
        store[s] = None
        waves = _Waves(nb_frames, length, p.n_fft, p.hop, window, inv_env, 3)
        results[s] = _griffinlim_signal(target, start, waves, n_iter, momentum, block).cpu()

    if on_cpu:
        workers = min(max(1, torch.get_num_threads()), nb_signals)
        with _one_thread_per_op(), ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, range(nb_signals)))
    else:
        for s in range(nb_signals):
            run(s)
    out = torch.empty(nb_signals, length)
    for s in range(nb_signals):  # free each signal's buffer once copied
        out[s] = results[s]
        results[s] = None
    return out.view(*lead, length)
