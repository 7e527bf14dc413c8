"""The reconstruction engine streamed block by block gives the whole-track numbers (noise "music")."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hw2sep.dsp import blocks, griffinlim, overlap_add, reconstruct, wiener
from hw2sep.dsp.methods import GL_INITS, METHODS
from hw2sep.errors import Hw2sepError
from hw2sep.evaluation.metrics import bss_eval
from hw2sep.dsp.stft import STFTParams
from hw2sep.dsp.stft import istft, stft, stft_frames

RATE = 44100
BLOCKS = dict(block_seconds=5.0, context_seconds=1.0)  # several blocks, each with context


def soft_mask(spec: torch.Tensor) -> torch.Tensor:
    """A frame-local "model": low frequencies to target 0. Shape: (C, F, t) -> (2, C, F, t)."""
    mag = spec.abs()
    mask = torch.linspace(0.9, 0.1, mag.shape[-2])[:, None]
    return torch.stack([mag * mask, mag * (1 - mask)])


def sources(seconds: float, channels: int = 2, seed: int = 0) -> np.ndarray:
    """Two noise sources, one low-pass and one high-pass, odd length. Shape: (2, C, N)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((2, channels, int(seconds * RATE) + 517)).astype(np.float32)
    low = np.cumsum(noise[0], axis=-1) * 0.05
    low -= low.mean(-1, keepdims=True)
    high = np.diff(noise[1], axis=-1, prepend=0)
    return np.stack([low, high]).astype(np.float32)


def whole_track(mixture: np.ndarray, method: str, params: STFTParams = STFTParams(), **options) -> torch.Tensor:
    """The reference: whole-track STFT and estimates, the whole track as one block (reconstruct / wiener)."""
    mix = stft(torch.from_numpy(mixture), params.n_fft, params.hop, params.window)
    if params == STFTParams():
        return reconstruct.reconstruct(mix, soft_mask(mix), method, mixture.shape[-1], **options)
    assert method == "wiener"
    spec = wiener.wiener(mix, soft_mask(mix), options.get("wiener_iterations", 1))
    return istft(spec, mixture.shape[-1], params.n_fft, params.hop, params.window)


@pytest.fixture(scope="module")
def track() -> dict[str, np.ndarray]:
    refs = sources(20.0)
    return {"refs": refs, "mix": refs.sum(0)}


def test_stft_frames_are_the_whole_track_frames() -> None:
    audio = torch.randn(2, 5 * 1024 + 300)
    whole = stft(audio)
    for start, stop in [(0, 1), (0, 3), (2, 6), (4, 6), (0, 6)]:
        assert torch.equal(stft_frames(audio, start, stop), whole[..., start:stop])


def test_overlap_add_in_blocks_is_the_istft() -> None:
    spec = torch.randn(2, 3, 2049, 57, dtype=torch.complex64)
    length = 56 * 1024 + 77
    ola = overlap_add.OverlapAdd((2, 3), length)
    for start, stop in [(40, 57), (0, 13), (13, 40)]:  # any order
        ola.add(spec[..., start:stop], start)
    expected = istft(spec, length)
    assert float((ola.finish() - expected).abs().max()) < 1e-5 * float(expected.abs().max())


def test_frame_blocks_tile_the_track_with_context() -> None:
    plan = blocks.frame_blocks(10, 4, 1)
    assert plan == [(slice(0, 4), slice(0, 5)), (slice(4, 8), slice(3, 9)), (slice(8, 10), slice(7, 10))]


def test_mixture_phase_equals_whole_track(track) -> None:
    whole = whole_track(track["mix"], "mixture")
    calls = []

    def estimate(spec):
        calls.append(spec.shape[-1])
        return soft_mask(spec)
    got = torch.from_numpy(reconstruct.separate_streaming(track["mix"], estimate, "mixture", **BLOCKS))
    assert got.shape == whole.shape and got.dtype == torch.float32
    assert float((got - whole).abs().max()) < 1e-6 * float(whole.abs().max()) * 10
    assert len(calls) == 5 and max(calls) == 215 + 2 * 43  # 5 s blocks + 1 s context each side
    sdr = [np.nanmedian(bss_eval(track["refs"], x.numpy(), backend="fast")["SDR"], axis=1) for x in (whole, got)]
    assert np.abs(sdr[0] - sdr[1]).max() < 1e-3


def test_complex_estimates_keep_their_own_phase(track) -> None:
    mix = track["mix"][:, :3 * RATE]
    est = lambda spec: torch.stack([0.5 * spec, 0.5 * spec])  # noqa: E731
    got = reconstruct.separate_streaming(mix, est, "mixture", block_seconds=1.0, context_seconds=0.5)
    assert np.abs(got - 0.5 * mix).max() < 1e-5


@pytest.mark.parametrize("iterations,keep", [(1, True), (2, False)])
def test_wiener_equals_whole_track(iterations: int, keep: bool) -> None:
    refs = sources(6.0, seed=1)
    mix = refs.sum(0)
    params = STFTParams(1024, 256, "hamming") if iterations == 2 else STFTParams()
    whole = whole_track(mix, "wiener", params, wiener_iterations=iterations)
    calls = []

    def estimate(spec):
        calls.append(1)
        return soft_mask(spec)
    got = reconstruct.separate_streaming(mix, estimate, "wiener", params, block_seconds=2.0, context_seconds=0.5,
                                       wiener_iterations=iterations, keep_estimates=keep)
    got = torch.from_numpy(got)
    assert float((got - whole).abs().max()) < 1e-5 * float(whole.abs().max())
    nb_blocks = len(blocks.frame_blocks(1 + mix.shape[-1] // params.hop, blocks.seconds_to_frames(2.0, params.hop), 0))
    assert len(calls) == nb_blocks * (1 if keep else iterations + 1)
    sdr = [np.nanmedian(bss_eval(refs, x.numpy(), backend="fast")["SDR"], axis=1) for x in (whole, got)]
    assert np.abs(sdr[0] - sdr[1]).max() < 1e-3


@pytest.mark.parametrize("init", GL_INITS)
def test_griffinlim_streamed_equals_whole_track(track, init: str) -> None:
    mix = track["mix"][:, :12 * RATE]
    method = {"random": "griffinlim", "mixture": "griffinlim-mixinit"}[init]
    whole = whole_track(mix, method, gl_iterations=2, seed=3)
    got = reconstruct.separate_streaming(mix, soft_mask, method, **BLOCKS, gl_iterations=2, seed=3)
    # float32 rounding only: the mixture-phase init comes from block STFTs (1 ulp of the signal's peak)
    assert float((torch.from_numpy(got) - whole).abs().max()) <= 2 ** -23 * 2 * float(whole.abs().max())


def test_random_phase_groups_are_librosas_draw(monkeypatch) -> None:
    expected = torch.from_numpy(np.exp(2j * np.pi * np.random.RandomState(4).random(size=(7, 10)))).to(torch.complex64)
    draw = griffinlim.RandomPhase(np.random.RandomState(4), 7, 10, torch.device("cpu"), group=4)
    got = torch.cat([draw(slice(a, min(a + 2, 10))) for a in range(0, 10, 2)])  # (nb_frames, nb_bins)
    assert torch.equal(got.T, expected)


@pytest.mark.parametrize("channels", [1, 2])
def test_shapes_and_errors(channels: int) -> None:
    mix = sources(1.0, channels)[0]
    for method in (m for m, row in METHODS.items() if row.engine in reconstruct.ENGINES):
        out = reconstruct.separate_streaming(mix, soft_mask, method, block_seconds=0.3, gl_iterations=1)
        assert out.shape == (2, channels, mix.shape[-1]) and np.isfinite(out).all()
    with pytest.raises(Hw2sepError, match="needs a trained vocoder"):
        reconstruct.separate_streaming(mix, soft_mask, "vocoder")
    with pytest.raises(Hw2sepError, match="estimator returned"):
        reconstruct.separate_streaming(mix, lambda s: s.abs(), "mixture")
