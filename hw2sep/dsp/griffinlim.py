"""Griffin-Lim phase reconstruction: librosa's algorithm (fast Griffin-Lim with momentum, Perraudin et al. 2013), step
for step, in blocks of frames; on a CPU one signal per worker thread, on a GPU one signal after another.

Each iteration recomputes the previous STFT from the previous waveform instead of keeping complex spectrograms, so a
worker holds three waveforms and its signal's magnitude. With the same seed it starts from librosa's random phase
(``RandomPhase`` draws it group by group of frames). Also here: ``librosa.griffinlim`` itself (the assignment's
reference) and the mel route (mel power -> NNLS -> Griffin-Lim).
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

import numpy as np
import torch

from hw2sep.dsp.overlap_add import add_frames, inverse_envelope
from hw2sep.dsp.stft import HOP, window_tensor
from hw2sep.names import SAMPLE_RATE

N_MELS = 128
_BLOCK = 128  # frames per FFT call on CPU (cache-sized; one big batched CPU FFT is ~3x slower per frame)
_PHASE_GROUP = 4096  # frames of the random initial phase drawn at once (a multiple of _BLOCK); GPU block
_DRAW_ROWS = 64  # frequency rows per random draw
_MEL_BLOCK = 64  # frames per NNLS mel inversion (librosa solves all frames of a call at once)

PhaseFn = Callable[[slice], torch.Tensor]  # frames -> (len(frames), nb_bins) unit phasors


def _complex(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def skip_draws(rng: np.random.RandomState, count: int) -> None:
    """Advance ``rng`` by ``count`` draws of ``rng.random``, in small pieces."""
    for start in range(0, count, 2 ** 20):
        rng.random(size=min(2 ** 20, count - start))


class RandomPhase:
    """librosa's random initial phase exp(2 pi j u), u = ``rng.random(size=(nb_bins, nb_frames))``, by groups of frames.

    librosa draws bin after bin (C order), so a group of frames needs draws from every bin's row: one sweep saves
    the generator state at each (group, bin), then each group is drawn alone (memory: one group, not the signal).
    """

    def __init__(self, rng: np.random.RandomState, nb_bins: int, nb_frames: int, device: torch.device,
                 dtype: torch.dtype = torch.complex64, group: int = _PHASE_GROUP) -> None:
        self.device, self.dtype, self.group = device, dtype, group
        starts = range(0, nb_frames, group)
        self.states: list[list[tuple]] = [[] for _ in starts]  # [group][bin]
        for _ in range(nb_bins):
            for g, a in enumerate(starts):
                self.states[g].append(rng.get_state())
                rng.random(size=min(group, nb_frames - a))
        self.nb_frames, self.current, self.phase = nb_frames, -1, None

    def __call__(self, fr: slice) -> torch.Tensor:
        """Shape: frames -> (len(frames), nb_bins); ``fr`` within one group, groups in order."""
        g = fr.start // self.group
        if g != self.current:
            self.phase = None
            width = min(self.group, self.nb_frames - g * self.group)
            local, rows = np.random.RandomState(), np.empty((len(self.states[g]), width))
            for row, state in zip(rows, self.states[g]):
                local.set_state(state)
                row[:] = local.random(size=width)
            self.states[g], self.current = [], g
            self.phase = torch.empty(rows.shape, dtype=self.dtype, device=self.device)
            for f in range(0, len(rows), _DRAW_ROWS):  # (rows, width) float64 -> unit phasors, rows in pieces
                angle = torch.from_numpy(rows[f:f + _DRAW_ROWS]).mul_(2 * np.pi)
                self.phase[f:f + len(angle)] = torch.polar(torch.ones_like(angle), angle)
            del rows
        a = fr.start - g * self.group
        return self.phase[:, a:a + fr.stop - fr.start].T


def _update(angles: torch.Tensor, rebuilt: torch.Tensor, tprev: torch.Tensor | None,
            target: torch.Tensor, momentum: float, scale: torch.Tensor) -> None:
    """librosa's update, in place: angles = target * a / (|a| + tiny), a = rebuilt - m / (1 + m) * tprev.

    Shape: angles, rebuilt, tprev: (nb_frames, nb_bins) complex; target, scale: same, real.
    """
    ri = torch.view_as_real(angles)
    if tprev is None:
        angles.copy_(rebuilt)
    else:
        torch.add(torch.view_as_real(rebuilt), torch.view_as_real(tprev), alpha=-momentum / (1 + momentum), out=ri)
    torch.abs(angles, out=scale)
    torch.div(target, scale.add_(torch.finfo(scale.dtype).tiny), out=scale)
    ri[..., 0].mul_(scale)
    ri[..., 1].mul_(scale)


class _Waves:
    """One signal's state: three zero-padded waveforms (previous, current, next) and the STFT ops on them."""

    def __init__(self, nb_frames: int, length: int, window: torch.Tensor, hop: int, inv_env: torch.Tensor) -> None:
        self.nb_frames, self.length, self.n_fft, self.hop = nb_frames, length, len(window), hop
        self.window, self.inv_env = window, inv_env
        self.bufs = [torch.zeros(length + self.n_fft, dtype=window.dtype, device=window.device) for _ in range(3)]

    def stft_block(self, buf: torch.Tensor, fr: slice) -> torch.Tensor:
        """Frames ``fr`` of the STFT of ``buf``. Shape: -> (len(fr), nb_bins) complex."""
        frames = buf.unfold(-1, self.n_fft, self.hop)[fr] * self.window
        return torch.fft.rfft(frames, dim=-1)

    def add_block(self, buf: torch.Tensor, spec: torch.Tensor, fr: slice) -> None:
        """Overlap-add one block of frames into ``buf``. Shape: spec (len(fr), nb_bins) complex."""
        rows = buf[:(self.nb_frames + self.n_fft // self.hop - 1) * self.hop].view(1, -1, self.hop)
        add_frames(rows, spec[None], fr.start, self.window)

    def finish(self, buf: torch.Tensor) -> None:
        """Overlap-add sums -> waveform, zero padding restored."""
        start = self.n_fft // 2
        signal = buf[start:start + self.length]
        torch.mul(signal, self.inv_env, out=signal)
        buf[:start].zero_()
        buf[start + self.length:].zero_()


def _griffinlim_signal(target: torch.Tensor, init: PhaseFn, waves: _Waves, n_iter: int, momentum: float,
                       block: int) -> torch.Tensor:
    """librosa's loop for one signal. Shape: target (nb_frames, nb_bins) -> (length,), a view of a buffer of ``waves``."""
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


@contextlib.contextmanager
def _one_thread_per_op() -> Iterator[None]:
    """Parallelise over signals, not inside the many small ops (intra-op threads wait for each other after every
    op, 10x slower on a shared CPU). Restores the thread count on exit."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def griffinlim_signals(targets: list[torch.Tensor | None], length: int, n_iter: int, momentum: float, seed: int,
                       hop: int, window: str = "hann", mixture_phase: Callable[[int], PhaseFn] | None = None,
                       device: torch.device | str = "cpu") -> torch.Tensor:
    """Griffin-Lim of every signal, one per worker; each starts from librosa's random phase for ``seed`` (signal s
    continues the draws of signal s - 1, as librosa's one draw for the batch) or from ``mixture_phase(s)``.

    ``targets`` are freed as they are used. Shape: targets [(nb_frames, nb_bins)] real -> (nb_signals, length), CPU.
    """
    nb_signals, (nb_frames, nb_bins) = len(targets), targets[0].shape
    dtype, device = targets[0].dtype, torch.device(device)
    win = window_tensor(window, 2 * (nb_bins - 1), device, dtype)
    inv_env = inverse_envelope(win, hop, nb_frames, length)
    block = _BLOCK if device.type == "cpu" else _PHASE_GROUP
    starts, rng = [], np.random.RandomState(seed)
    for s in range(nb_signals if mixture_phase is None else 0):  # each signal's place in librosa's stream
        starts.append(rng.get_state())
        if s + 1 < nb_signals:
            skip_draws(rng, nb_frames * nb_bins)
    results: list[torch.Tensor | None] = [None] * nb_signals

    def run(s: int) -> None:
        if mixture_phase is None:
            local = np.random.RandomState()
            local.set_state(starts[s])
            start = RandomPhase(local, nb_bins, nb_frames, device, _complex(dtype))
        else:
            start = mixture_phase(s)
        target = targets[s].to(device)
        targets[s] = None
        waves = _Waves(nb_frames, length, win, hop, inv_env)
        results[s] = _griffinlim_signal(target, start, waves, n_iter, momentum, block).cpu()

    if device.type == "cpu":
        with _one_thread_per_op(), ThreadPoolExecutor(min(max(1, torch.get_num_threads()), nb_signals)) as pool:
            list(pool.map(run, range(nb_signals)))
    else:
        for s in range(nb_signals):
            run(s)
    out = torch.empty(nb_signals, length, dtype=dtype)
    for s in range(nb_signals):  # free each signal's buffer once copied
        out[s] = results[s]
        results[s] = None
    return out


def unit_phasors(spec: torch.Tensor) -> torch.Tensor:
    """The phase of ``spec`` as unit phasors (1 where spec is 0), frame-major. Shape: (F, t) -> (t, F)."""
    return torch.sgn(spec).masked_fill(spec == 0, 1).T


def griffinlim(magnitude: torch.Tensor, length: int, n_iter: int = 32, momentum: float = 0.99,
               init: str | torch.Tensor = "random", seed: int = 0, hop: int = HOP, window: str = "hann") -> torch.Tensor:
    """Griffin-Lim of whole-track magnitudes; ``init`` is ``'random'`` or a complex STFT whose phase starts it
    (broadcast to ``magnitude``). n_fft is inferred from nb_bins as in librosa.

    Shape: (..., nb_bins, nb_frames) -> (..., length).
    """
    lead, (nb_bins, nb_frames) = magnitude.shape[:-2], magnitude.shape[-2:]
    if nb_frames != 1 + length // hop:
        raise ValueError(f"{nb_frames} frames do not fit length {length}, hop {hop}")
    targets = [sig.T.contiguous() for sig in magnitude.reshape(-1, nb_bins, nb_frames)]
    phase = None
    if isinstance(init, torch.Tensor):
        init = init.expand(magnitude.shape).reshape(-1, nb_bins, nb_frames)
        phase = lambda s: lambda fr: unit_phasors(init[s][:, fr])  # noqa: E731
    elif init != "random":
        raise ValueError(f"unknown Griffin-Lim init {init!r}")
    out = griffinlim_signals(targets, length, n_iter, momentum, seed, hop, window, phase, magnitude.device)
    return out.to(magnitude.device).reshape(*lead, length)


def griffinlim_librosa(magnitude: np.ndarray | torch.Tensor, length: int, n_iter: int = 32, momentum: float = 0.99,
                       seed: int = 0, hop: int = HOP, window: str = "hann") -> torch.Tensor:
    """The assignment's reference: ``librosa.griffinlim`` with our STFT convention, random init.

    Shape: (..., nb_bins, nb_frames) -> (..., length); float32 unless given float64.
    """
    import librosa

    mag = magnitude.detach().cpu().numpy() if isinstance(magnitude, torch.Tensor) else magnitude
    n_fft = 2 * (mag.shape[-2] - 1)
    audio = librosa.griffinlim(mag, n_iter=n_iter, hop_length=hop, win_length=n_fft, n_fft=n_fft, window=window,
                               center=True, pad_mode="constant", momentum=momentum, init="random", random_state=seed,
                               length=length)
    return torch.from_numpy(audio)


def mel_roundtrip(magnitude: torch.Tensor, length: int, n_iter: int = 32, momentum: float = 0.99, seed: int = 0,
                  n_mels: int = N_MELS, hop: int = HOP, window: str = "hann") -> torch.Tensor:
    """The mel-vocoder route: ``librosa.feature.inverse.mel_to_audio`` on the mel power of ``magnitude``, with our
    STFT and our seeded Griffin-Lim (librosa's is unseeded there).

    The NNLS inversion runs on blocks of ``_MEL_BLOCK`` frames (librosa solves all frames of a signal at once: 27 GB
    at n_fft 4096 on 10 s); frames are independent there, so blocks change only where the solver stops.
    Shape: (..., nb_bins, nb_frames) -> (..., length).
    """
    import librosa

    n_fft = 2 * (magnitude.shape[-2] - 1)
    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=n_fft, n_mels=n_mels)  # (n_mels, nb_bins)
    power = magnitude.detach().cpu().numpy().reshape(-1, *magnitude.shape[-2:]) ** 2
    mels = np.einsum("mf,bft->bmt", basis, power)  # (signals, n_mels, nb_frames)
    peaks = mels.max(axis=(1, 2), keepdims=True) + np.finfo(mels.dtype).tiny
    # NNLS per signal on mel / peak (scipy 1.17's L-BFGS-B segfaults on large values); |S| ~ sqrt
    linear = np.empty(power.shape, dtype=power.dtype)
    for i, m in enumerate(mels / peaks):
        for t in range(0, m.shape[-1], _MEL_BLOCK):
            block = m[:, t:t + _MEL_BLOCK]
            linear[i, :, t:t + _MEL_BLOCK] = librosa.feature.inverse.mel_to_stft(block, sr=SAMPLE_RATE, n_fft=n_fft)
    linear *= np.sqrt(peaks)
    linear = torch.from_numpy(linear).to(magnitude.device, magnitude.dtype).reshape(magnitude.shape)
    return griffinlim(linear, length, n_iter=n_iter, momentum=momentum, seed=seed, hop=hop, window=window)

