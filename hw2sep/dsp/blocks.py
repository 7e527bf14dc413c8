"""The one chunker: a track's STFT frames in blocks with context, and the block sources the reconstruction engine reads.

``frame_blocks`` plans the blocks (validation, separation and the vocoder all use it). A block source yields, piece
by piece, the mixture STFT and the target estimates of those frames: ``StreamedTrack`` computes both block by block
from the mixture waveform and an estimator (bounded memory), ``WholeTrack`` slices given whole-track tensors
(the whole track is one block).
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch

from hw2sep.dsp.stft import STFTParams, stft_frames
from hw2sep.errors import Hw2sepError
from hw2sep.names import SAMPLE_RATE

BLOCK_SECONDS, CONTEXT_SECONDS = 30.0, 3.0  # what a model sees at once on a long track: a block and context each side
PIECE = 256  # frames the engine reconstructs at once (the estimator sees whole blocks), so temporaries stay small

# mixture STFT of a block with context (C, F, t) complex -> target estimates (J, C, F, t): magnitudes (real, >= 0)
# or complex spectrograms (complex models' own output).
EstimateFn = Callable[[torch.Tensor], torch.Tensor]
Piece = tuple[slice, torch.Tensor, torch.Tensor]  # (frames, mixture STFT (C, F, t), estimates (J, C, F, t))


def frame_blocks(size: int, block: int, context: int) -> list[tuple[slice, slice]]:
    """Blocks of ``size`` units and the span a model sees: ``[(core, span)]``; the cores tile 0:size.

    span = core widened by ``context`` units each side, clipped to the track. Units are frames, or samples for a
    waveform model (``block`` and ``context`` then in samples too).
    """
    if block < 1 or context < 0:
        raise ValueError(f"block {block} < 1 or context {context} < 0")
    return [(slice(a, min(a + block, size)), slice(max(0, a - context), min(size, a + block + context)))
            for a in range(0, size, block)]


def seconds_to_frames(seconds: float, hop: int) -> int:
    """Frames in ``seconds`` at the package sample rate (blocks and context are given in seconds)."""
    return int(seconds * SAMPLE_RATE / hop)


class WholeTrack:
    """Whole-track tensors as a block source: one block, served in pieces of ``PIECE`` frames.

    Shape: mix_stft (C, F, T) complex, estimates (J, C, F, T) real or complex.
    """

    def __init__(self, mix_stft: torch.Tensor, estimates: torch.Tensor, params: STFTParams) -> None:
        if estimates.shape[1:] != mix_stft.shape:
            raise ValueError(f"estimates {tuple(estimates.shape)} do not match mixture {tuple(mix_stft.shape)}")
        if 2 * (mix_stft.shape[-2] - 1) != params.n_fft:
            raise ValueError(f"{mix_stft.shape[-2]} bins do not fit n_fft {params.n_fft}")
        self.mix, self.estimates, self.params = mix_stft, estimates, params
        self.nb_frames, self.device = mix_stft.shape[-1], mix_stft.device

    def mix_stft(self, frames: slice, channel: int | None = None) -> torch.Tensor:
        """Frames of the mixture STFT (of one channel if given). Shape: -> ([C,] F, t)."""
        return (self.mix if channel is None else self.mix[channel])[..., frames]

    def peak(self) -> float:
        return float(self.mix.abs().max())

    def __iter__(self) -> Iterator[Piece]:
        for a in range(0, self.nb_frames, PIECE):
            piece = slice(a, min(a + PIECE, self.nb_frames))
            yield piece, self.mix[..., piece], self.estimates[..., piece]


class StreamedTrack:
    """A mixture waveform in blocks of frames: each block's STFT, and the estimator's answer for its core.

    The estimator sees a block with ``context_frames`` each side; the block's own frames of its answer are served in
    pieces. With ``keep`` the answers of one pass are kept (float32, CPU) so that a later pass (Wiener's EM) does not
    call the estimator again. Shape: mixture (C, N).
    """

    def __init__(self, mixture: torch.Tensor, estimate_fn: EstimateFn, params: STFTParams,
                 block_frames: int, context_frames: int, keep: bool = False) -> None:
        if mixture.shape[-1] < 1 or params.n_fft % params.hop:
            raise Hw2sepError(f"streaming needs a non-empty mixture and n_fft a multiple of hop, got "
                              f"{mixture.shape[-1]} samples, {params}")
        self.mixture, self.estimate_fn, self.params, self.keep = mixture, estimate_fn, params, keep
        self.nb_frames, self.device = 1 + mixture.shape[-1] // params.hop, mixture.device
        self.plan = frame_blocks(self.nb_frames, block_frames, context_frames)
        self.kept: list[tuple[slice, torch.Tensor]] = []  # (frames, estimates) once a pass ended
        self.calls = 0

    def mix_stft(self, frames: slice, channel: int | None = None) -> torch.Tensor:
        """Frames of the mixture STFT (of one channel if given), from the samples under them. Shape: -> ([C,] F, t)."""
        p, audio = self.params, self.mixture if channel is None else self.mixture[channel]
        return stft_frames(audio, frames.start, frames.stop, p.n_fft, p.hop, p.window)

    def peak(self) -> float:
        """max |X| over the track; runs the estimator once if its answers are to be kept."""
        if self.keep:
            return max(float(mix.abs().max()) for _, mix, _ in self)
        return max(float(self.mix_stft(core).abs().max()) for core, _ in self.plan)

    def __iter__(self) -> Iterator[Piece]:
        if self.kept:
            for piece, est in self.kept:
                yield piece, self.mix_stft(piece), est.to(self.device)
            return
        kept_next = []
        for core, span in self.plan:
            mix = self.mix_stft(span)
            with torch.no_grad():
                est = self.estimate_fn(mix)
            self.calls += 1
            if est.shape[1:] != mix.shape:
                raise Hw2sepError(f"the estimator returned {tuple(est.shape)} for a mixture block {tuple(mix.shape)}; "
                                  "expected (nb_targets, *mixture block)")
            for a in range(core.start, core.stop, PIECE):
                piece = slice(a, min(a + PIECE, core.stop))
                local = slice(piece.start - span.start, piece.stop - span.start)
                if self.keep:
                    kept_next.append((piece, est[..., local].to("cpu", memory_format=torch.contiguous_format,
                                                                 copy=True)))
                yield piece, mix[..., local], est[..., local]
            del mix, est
        if self.keep:
            self.kept = kept_next
