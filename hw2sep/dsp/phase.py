"""Waveforms from estimated source magnitudes: which phase goes with each magnitude.

Methods, chosen by name in `reconstruct`:

* ``mixture``: each magnitude with the mixture phase (Open-Unmix without Wiener filtering).
* ``wiener``: multichannel Wiener filtering refined by EM (Nugraha, Liutkus & Vincent 2016), the
  algorithm of Open-Unmix's ``filtering.py`` and of ``norbert``; written here with complex tensors.
* ``griffinlim``: Griffin-Lim in torch, batched over sources and channels, from a random phase
  (the assignment's pure Griffin-Lim) or from the mixture phase. It is the algorithm of
  ``librosa.griffinlim`` (fast Griffin-Lim with momentum, Perraudin et al. 2013), step for step,
  and with the same seed it starts from the same random phase as librosa.
* ``griffinlim-librosa``: ``librosa.griffinlim`` itself, the reference the assignment names.
* ``mel``: the mel-vocoder route: magnitude -> 128-band mel power spectrogram -> NNLS inversion
  (``librosa.feature.inverse.mel_to_stft``) -> Griffin-Lim (as ``mel_to_audio``, but seeded).

Speed (CPU): Griffin-Lim runs in blocks of `_BLOCK` frames (cache-sized FFTs), one worker thread
per torch thread over signals, one thread per op; ~3.7x faster than librosa on 2 cores
(bench/bench_griffinlim.py).
Memory: each worker holds ~3.5 complex copies of its signals' spectrogram (~1.5 GB for one channel
of a 10-minute track, float32); a worker takes at most `_GL_CHUNK` time-frequency points at once.
"""

from __future__ import annotations

import contextlib
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

import numpy as np
import torch

from hw2sep.errors import Hw2sepError
from hw2sep.dsp.stft import STFTParams
from hw2sep.names import SAMPLE_RATE
from hw2sep.dsp.stft import HOP, istft, window_tensor

METHODS = ("mixture", "wiener", "griffinlim", "griffinlim-librosa", "mel")
GL_INITS = ("random", "mixture")
N_MELS = 128
_GL_CHUNK = 2 ** 25  # time-frequency points per Griffin-Lim batch
_BLOCK = 128  # frames per FFT call on CPU
_DRAW_ROWS = 64  # frequency rows per random draw
_MEL_BLOCK = 64  # frames per NNLS mel inversion (librosa solves all frames of a call at once)


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise Hw2sepError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")


def _complex(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def _draw_phase(rng: np.random.RandomState, shape: tuple[int, ...], dtype: torch.dtype,
                device: torch.device | str | None) -> torch.Tensor:
    """Unit phasors exp(2*pi*j*u), u = ``rng.random(size=shape)`` as librosa, drawn in pieces."""
    out = torch.empty(shape, dtype=dtype, device=device)
    rows = out.view(-1, shape[-1])  # (signals * nb_bins, nb_frames)
    for start in range(0, len(rows), _DRAW_ROWS):
        angle = torch.from_numpy(rng.random(size=(min(_DRAW_ROWS, len(rows) - start), shape[-1])))
        angle.mul_(2 * np.pi)
        rows[start:start + len(angle)] = torch.polar(torch.ones_like(angle), angle)
    return out


def _skip_draws(rng: np.random.RandomState, count: int) -> None:
    """Advance `rng` by `count` draws of ``rng.random``, in small pieces."""
    for start in range(0, count, 2 ** 20):
        rng.random(size=min(2 ** 20, count - start))


def random_phase(shape: tuple[int, ...], seed: int = 0, dtype: torch.dtype = torch.complex64,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """The unit phasors ``librosa.griffinlim(S, init='random', random_state=seed)`` starts from.

    librosa draws ``np.random.RandomState(seed).random(size=S.shape)`` and takes exp(2*pi*j*u)
    in float64; drawing signal by signal in C order gives the same numbers.

    Shape: shape = (..., nb_bins, nb_frames) -> complex tensor of that shape.
    """
    return _draw_phase(np.random.RandomState(seed), tuple(shape), dtype, device)


class _Frames:
    """STFT / ISTFT of `hw2sep.dsp.stft` in blocks of frames, each spectrum block frame-major.

    Blocks of `_BLOCK` frames keep each FFT in cache (one big batched CPU FFT is ~3x slower per
    frame). The zero padding lives in `padded`, whose middle is `signal`.
    """

    def __init__(self, batch: int, nb_frames: int, length: int, n_fft: int, hop: int,
                 dtype: torch.dtype, device: torch.device, window: str = "hann") -> None:
        if n_fft % hop or nb_frames != 1 + length // hop:
            raise ValueError(f"{nb_frames} frames do not fit length {length}, hop {hop}, "
                             f"n_fft {n_fft}")
        self.n_fft, self.hop, self.length, self.k = n_fft, hop, length, n_fft // hop
        kw = dict(dtype=dtype, device=device)
        self.window = window_tensor(window, n_fft, device, dtype)
        self.ola = torch.empty(batch, nb_frames + self.k - 1, hop, **kw)  # overlap-add, hop rows
        self.padded = torch.zeros(batch, length + n_fft, **kw)
        self.signal = self.padded[:, n_fft // 2:n_fft // 2 + length]
        env = torch.zeros(nb_frames + self.k - 1, hop, **kw)
        for i, w in enumerate(self.window.square().view(self.k, hop)):
            env[i:i + nb_frames] += w
        env = env.view(-1)[n_fft // 2:n_fft // 2 + length]
        self.inv_env = torch.where(env > torch.finfo(dtype).tiny, 1 / env, torch.zeros_like(env))
        block = _BLOCK if torch.device(device).type == "cpu" else nb_frames  # GPU: one block
        self.blocks = [(b, slice(f, min(f + block, nb_frames)))
                       for b in range(batch) for f in range(0, nb_frames, block)]

    def istft(self, spec: list[torch.Tensor], out: torch.Tensor) -> None:
        """Inverse of spectrum blocks. Shape: [(frames, nb_bins)] complex -> out (batch, length)."""
        self.ola.zero_()
        win = self.window.view(self.k, self.hop)
        for i, (b, fr) in enumerate(self.blocks):
            frames = torch.fft.irfft(spec[i], n=self.n_fft, dim=-1)
            parts = frames.view(-1, self.k, self.hop)  # (frames, k, hop): frame = k hops
            for j in range(self.k):
                self.ola[b, fr.start + j:fr.stop + j].addcmul_(parts[:, j], win[j])
        start = self.n_fft // 2
        torch.mul(self.ola.view(len(out), -1)[:, start:start + self.length], self.inv_env, out=out)

    def stft_block(self, b: int, fr: slice) -> torch.Tensor:
        """Frames `fr` of the spectrum of `signal[b]`. Shape: -> (len(fr), nb_bins) complex."""
        frames = self.padded[b].unfold(-1, self.n_fft, self.hop)[fr] * self.window
        return torch.fft.rfft(frames, dim=-1)


def _update(angles: torch.Tensor, rebuilt: torch.Tensor, tprev: torch.Tensor | None,
            target: torch.Tensor, momentum: float, scale: torch.Tensor) -> None:
    """librosa's update, in place: angles = target * a / (|a| + tiny), a = rebuilt - m * tprev.

    Shape: angles, rebuilt, tprev: (nb_frames, nb_bins) complex; target, scale: same, real.
    """
    ri = torch.view_as_real(angles)
    if tprev is None:
        angles.copy_(rebuilt)
    else:
        torch.add(torch.view_as_real(rebuilt), torch.view_as_real(tprev),
                  alpha=-momentum / (1 + momentum), out=ri)
    torch.abs(angles, out=scale)
    torch.div(target, scale.add_(torch.finfo(scale.dtype).tiny), out=scale)
    ri[..., 0].mul_(scale)
    ri[..., 1].mul_(scale)


def _griffinlim_batch(mag: torch.Tensor, phase: torch.Tensor, length: int, n_iter: int,
                      momentum: float, hop: int, window: str = "hann") -> torch.Tensor:
    """librosa's Griffin-Lim loop. Shape: (batch, nb_bins, nb_frames) -> (batch, length)."""
    batch, nb_bins, nb_frames = mag.shape
    ops = _Frames(batch, nb_frames, length, 2 * (nb_bins - 1), hop, mag.dtype, mag.device, window)
    target = [mag[b, :, fr].T.contiguous() for b, fr in ops.blocks]  # (block_frames, nb_bins)
    angles = [phase[b, :, fr].T.to(_complex(mag.dtype)) * t
              for (b, fr), t in zip(ops.blocks, target)]
    del phase  # the caller keeps no reference to a drawn phase: free it for the loop
    tprev: list[torch.Tensor | None] = [None] * len(ops.blocks)
    scale = torch.empty_like(target[0])
    for _ in range(n_iter):
        ops.istft(angles, ops.signal)
        for i, (b, fr) in enumerate(ops.blocks):  # angles may change once the istft has read them
            rebuilt = ops.stft_block(b, fr)
            _update(angles[i], rebuilt, tprev[i], target[i], momentum, scale[:len(rebuilt)])
            tprev[i] = rebuilt
    out = mag.new_empty(batch, length)
    ops.istft(angles, out)
    return out


def griffinlim(magnitude: torch.Tensor, length: int, n_iter: int = 32, momentum: float = 0.99,
               init: str | torch.Tensor = "random", seed: int = 0, hop: int = HOP,
               window: str = "hann") -> torch.Tensor:
    """Griffin-Lim phase reconstruction in torch, batched; the algorithm of ``librosa.griffinlim``.

    Args:
        magnitude: non-negative STFT magnitudes (float32 or float64, any device).
        length: samples per output waveform; `nb_frames` must equal ``1 + length // hop``.
        n_iter: Griffin-Lim iterations.
        momentum: fast Griffin-Lim momentum (librosa's default 0.99).
        init: ``'random'`` (librosa's random phase for `seed`), or a tensor to start from that
            broadcasts to `magnitude`: complex (its phase is used) or real (angles in radians).
        seed: seed of the random initial phase.
        hop, window: the STFT's hop and window; n_fft is inferred from nb_bins as in librosa.

    Shape: (..., nb_bins, nb_frames) -> (..., length).
    """
    if not isinstance(init, torch.Tensor):
        _check_choice(init, ("random",), "Griffin-Lim init")
    lead, (nb_bins, nb_frames) = magnitude.shape[:-2], magnitude.shape[-2:]
    mags = magnitude.reshape(-1, nb_bins, nb_frames)  # (signals, nb_bins, nb_frames)
    on_cpu = mags.device.type == "cpu"
    workers = max(1, torch.get_num_threads()) if on_cpu else 1
    size = max(1, min(_GL_CHUNK // (nb_bins * nb_frames), math.ceil(len(mags) / workers)))
    groups = [slice(i, min(i + size, len(mags))) for i in range(0, len(mags), size)]
    phase_of = _phase_source(init, magnitude.shape, groups, seed, mags)

    def run(group: slice) -> torch.Tensor:
        return _griffinlim_batch(mags[group], phase_of(group), length, n_iter, momentum, hop, window)

    if not on_cpu:
        return torch.cat([run(g) for g in groups]).reshape(*lead, length)
    with _one_thread_per_op(), ThreadPoolExecutor(min(workers, len(groups))) as pool:
        outs = list(pool.map(run, groups))
    return torch.cat(outs).reshape(*lead, length)


def _phase_source(init: str | torch.Tensor, shape: torch.Size, groups: list[slice], seed: int,
                  mags: torch.Tensor) -> Callable[[slice], torch.Tensor]:
    """Initial phase of each group of signals, as a function of the group (thread-safe).

    Shape: group -> (len(group), nb_bins, nb_frames) complex.
    """
    if isinstance(init, torch.Tensor):
        phase = init if init.is_complex() else torch.polar(torch.ones_like(init), init)
        phase = torch.sgn(phase).masked_fill(phase == 0, 1).to(mags.device)
        phase = phase.expand(shape).reshape(mags.shape)  # (signals, nb_bins, nb_frames)
        return lambda group: phase[group]
    rng, states = np.random.RandomState(seed), {}
    for group in groups:  # where each group's draws start in librosa's single stream
        states[group.start] = rng.get_state()
        _skip_draws(rng, mags[group].numel())

    def draw(group: slice) -> torch.Tensor:
        local = np.random.RandomState()
        local.set_state(states[group.start])
        return _draw_phase(local, tuple(mags[group].shape), _complex(mags.dtype), mags.device)
    return draw


@contextlib.contextmanager
def _one_thread_per_op() -> Iterator[None]:
    """Parallelise over signals, not inside the many small ops: intra-op threads wait for each
    other after every op, 10x slower on a shared CPU. Restores the thread count on exit."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def griffinlim_librosa(magnitude: np.ndarray | torch.Tensor, length: int, n_iter: int = 32,
                       momentum: float = 0.99, seed: int = 0, hop: int = HOP, window: str = "hann") -> torch.Tensor:
    """The assignment's reference: ``librosa.griffinlim`` with our STFT convention, random init.

    Shape: (..., nb_bins, nb_frames) -> (..., length); float32 unless given float64.
    """
    import librosa

    mag = magnitude.detach().cpu().numpy() if isinstance(magnitude, torch.Tensor) else magnitude
    n_fft = 2 * (mag.shape[-2] - 1)
    audio = librosa.griffinlim(mag, n_iter=n_iter, hop_length=hop, win_length=n_fft, n_fft=n_fft,
                               window=window, center=True, pad_mode="constant", momentum=momentum,
                               init="random", random_state=seed, length=length)
    return torch.from_numpy(audio)


def mel_roundtrip(magnitude: torch.Tensor, length: int, n_iter: int = 32, momentum: float = 0.99,
                  seed: int = 0, n_mels: int = N_MELS, hop: int = HOP, window: str = "hann") -> torch.Tensor:
    """Mel-vocoder route: ``librosa.feature.inverse.mel_to_audio`` on the mel power of `magnitude`,
    with our STFT settings and our seeded Griffin-Lim (librosa's is unseeded there).

    The NNLS inversion (``mel_to_stft``) runs on blocks of ``_MEL_BLOCK`` frames: librosa solves all
    frames of a signal at once, which asked for 27 GB at n_fft 4096 on 10 s. Frames are independent
    in that problem, so blocks change only where the solver stops (within its tolerance).

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


def wiener(mix_stft: torch.Tensor, magnitudes: torch.Tensor, iterations: int = 1,
           eps: float = 1e-10) -> torch.Tensor:
    """Multichannel Wiener filtering of the mixture, refined by EM (Nugraha et al. 2016).

    Starts from the soft-mask estimate ``mix * |S_j| / (eps + sum_k |S_k|)``; each EM step fits
    each source a PSD v_j(f, t) (channel mean of |y_j|^2) and a spatial covariance R_j(f)
    (weighted mean of y_j y_j^H), then sets y_j = v_j R_j C^-1 x with C = sum_k v_k R_k +
    sqrt(eps) I. As Open-Unmix/norbert: computed in float64 on the mixture scaled so that
    max |x| <= 10. The estimates sum to the mixture up to the sqrt(eps) loading.

    Args:
        mix_stft: complex mixture STFT.
        magnitudes: non-negative source magnitude estimates.
        iterations: EM steps; 0 gives the soft-mask estimate.
        eps: regularisation of the divisions (and sqrt(eps) of the mixture covariance).

    Shape: mix_stft (nb_channels, nb_bins, nb_frames), magnitudes (nb_sources, nb_channels,
        nb_bins, nb_frames) -> complex (nb_sources, nb_channels, nb_bins, nb_frames).
    """
    scale = max(1.0, float(mix_stft.abs().max()) / 10)
    x = mix_stft / scale
    y = x * (magnitudes / (eps + magnitudes.sum(0))).to(x.dtype)
    for _ in range(iterations):
        y = _em_step(x, y, eps)
    return y * scale


def _em_step(x: torch.Tensor, y: torch.Tensor, eps: float, block: int = 256) -> torch.Tensor:
    """One EM update of the source estimates, in blocks of frames, float64 inside.

    Shape: x (C, F, T), y (J, C, F, T) -> (J, C, F, T).
    """
    stats = wiener_statistics(y, eps, block=block)
    return wiener_filter(x, y, spatial_covariances(stats), eps, block=block)


def wiener_statistics(y: torch.Tensor, eps: float,
                      stats: tuple[torch.Tensor, torch.Tensor] | None = None,
                      block: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums behind the spatial covariances R_j(f), accumulated over frames (in place if given).

    The sums run over the whole track; `hw2sep.dsp.streaming` feeds them block by block.
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


def wiener_filter(x: torch.Tensor, y: torch.Tensor, cov: torch.Tensor, eps: float,
                  block: int = 256) -> torch.Tensor:
    """y_j = v_j R_j C^-1 x for each frame, v_j the PSD of the previous estimate `y` (frame-local).

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


def reconstruct(mix_stft: torch.Tensor, magnitudes: torch.Tensor, method: str, length: int, *,
                wiener_iterations: int = 1, gl_iterations: int = 32, gl_init: str = "random",
                momentum: float = 0.99, seed: int = 0, stft_params: STFTParams = STFTParams()) -> torch.Tensor:
    """Waveforms of the sources from their estimated magnitudes, by the named `method`.

    Args:
        mix_stft: complex mixture STFT (`hw2sep.dsp.stft.stft`).
        magnitudes: non-negative source magnitude estimates (vocals, accompaniment).
        method: one of `METHODS`.
        length: samples per output waveform.
        wiener_iterations: EM steps of ``wiener``.
        gl_iterations, momentum, seed: Griffin-Lim settings (``griffinlim*``, ``mel``).
        gl_init: ``griffinlim`` start: ``random`` (librosa's phase for `seed`) or ``mixture``.
        stft_params: the separator's STFT (``model.stft_params``); every method uses it.

    Shape: mix_stft (nb_channels, nb_bins, nb_frames), magnitudes (nb_sources, nb_channels,
        nb_bins, nb_frames) -> (nb_sources, nb_channels, length).
    """
    _check_choice(method, METHODS, "reconstruction method")
    _check_choice(gl_init, GL_INITS, "Griffin-Lim init")
    if magnitudes.shape[1:] != mix_stft.shape:
        raise ValueError(f"magnitudes {tuple(magnitudes.shape)} do not match mixture "
                         f"{tuple(mix_stft.shape)}")
    if 2 * (mix_stft.shape[-2] - 1) != stft_params.n_fft:
        raise ValueError(f"{mix_stft.shape[-2]} bins do not fit n_fft {stft_params.n_fft}")
    if method == "mixture":
        return istft(magnitudes * torch.exp(1j * mix_stft.angle()).to(mix_stft.dtype), length, **vars(stft_params))
    if method == "wiener":
        return istft(wiener(mix_stft, magnitudes, wiener_iterations), length, **vars(stft_params))
    gl = dict(n_iter=gl_iterations, momentum=momentum, seed=seed, hop=stft_params.hop, window=stft_params.window)
    if method == "griffinlim":
        init = mix_stft if gl_init == "mixture" else "random"
        return griffinlim(magnitudes, length, init=init, **gl)
    if method == "griffinlim-librosa":
        return griffinlim_librosa(magnitudes, length, **gl).to(magnitudes.device)
    return mel_roundtrip(magnitudes, length, **gl)
