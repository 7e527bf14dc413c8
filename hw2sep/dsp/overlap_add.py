"""Inverse STFT by overlap-add, one block of frames at a time: the one overlap-add of every reconstruction.

``add_frames`` overlap-adds windowed frames into hop-long rows; ``inverse_envelope`` is the 1 / sum of squared
windows that turns those sums into the inverse STFT; ``OverlapAdd`` assembles a whole output from blocks.
The result is ``hw2sep.dsp.stft.istft``'s up to float rounding of the sums (librosa's convention, centred).
"""

from __future__ import annotations

import torch

from hw2sep.dsp.stft import STFTParams, window_tensor
from hw2sep.errors import Hw2sepError


def add_frames(rows: torch.Tensor, spec: torch.Tensor, first_frame: int, window: torch.Tensor) -> None:
    """Overlap-add the inverse FFTs of frame-major ``spec`` times ``window`` into ``rows``, in place.

    Frame f covers rows f .. f + k - 1 (k = n_fft / hop) of the zero-padded output, each row one hop long.
    Shape: rows (B, nb_rows, hop), spec (B, t, nb_bins) complex, window (n_fft,).
    """
    n_fft, hop = len(window), rows.shape[-1]
    k = n_fft // hop
    parts = torch.fft.irfft(spec, n=n_fft, dim=-1).view(*spec.shape[:-1], k, hop)  # (B, t, k, hop): a frame = k hops
    win = window.view(k, hop)
    t = spec.shape[-2]
    for j in range(k):
        rows[:, first_frame + j:first_frame + j + t].addcmul_(parts[:, :, j], win[j])


def inverse_envelope(window: torch.Tensor, hop: int, nb_frames: int, length: int) -> torch.Tensor:
    """1 / the sum of squared windows under each output sample (0 where it vanishes).

    Shape: -> (length,), the window's dtype and device.
    """
    n_fft = len(window)
    k = n_fft // hop
    env = torch.zeros(nb_frames + k - 1, hop, dtype=window.dtype, device=window.device)  # rows of the padded output
    for j, square in enumerate(window.square().view(k, hop)):
        env[j:j + nb_frames] += square  # frame f adds its j-th hop of squared window to row f + j
    env = env.view(-1)[n_fft // 2:n_fft // 2 + length]
    return torch.where(env > torch.finfo(env.dtype).tiny, 1 / env, torch.zeros_like(env))


class OverlapAdd:
    """Inverse STFT assembled block by block: ``add`` frames as they come (any order, each frame once), ``finish`` once.

    Shape: add((..., nb_bins, t) complex, first frame); finish() -> (..., length) float32 on the CPU.
    """

    def __init__(self, lead: tuple[int, ...], length: int, params: STFTParams = STFTParams(),
                 device: torch.device | str = "cpu") -> None:
        if params.n_fft % params.hop:
            raise Hw2sepError(f"overlap-add needs n_fft ({params.n_fft}) a multiple of hop ({params.hop})")
        self.lead, self.length, self.params = tuple(lead), length, params
        self.nb_frames = 1 + length // params.hop
        self.window = window_tensor(params.window, params.n_fft, device, torch.float32)
        self.out = torch.zeros(int(torch.tensor(lead).prod()) if lead else 1, length)  # the sums, then the result

    def add(self, spec: torch.Tensor, first_frame: int, signals: slice = slice(None)) -> None:
        """Overlap-add the frames ``spec`` (frames first_frame, first_frame + 1, ...) of all signals, or of the
        flattened lead ``signals`` only."""
        frames = spec.reshape(-1, *spec.shape[-2:]).transpose(-1, -2)  # to (B, t, nb_bins)
        hop, n_fft = self.params.hop, self.params.n_fft
        part = torch.zeros(len(frames), frames.shape[1] + n_fft // hop - 1, hop, device=self.window.device)
        add_frames(part, frames, 0, self.window)
        part = part.view(len(frames), -1)  # samples from first_frame * hop - n_fft // 2 of the output on
        first = first_frame * hop - n_fft // 2
        lo, hi = max(0, first), min(self.length, first + part.shape[1])
        if hi > lo:
            self.out[signals, lo:hi] += part[:, lo - first:hi - first].cpu()

    def finish(self) -> torch.Tensor:
        """Multiply the sums by the inverse squared-window envelope; returns the output (contiguous)."""
        self.out.mul_(inverse_envelope(self.window.cpu(), self.params.hop, self.nb_frames, self.length))
        return self.out.view(*self.lead, self.length)
