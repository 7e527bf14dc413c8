"""hw2sep.evaluation.metrics: the fast BSS Eval v4 backend against museval, plus track_median, global_sdr, track_json."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from hw2sep.evaluation.metrics import METRICS, bss_eval, global_sdr, track_median
from hw2sep.evaluation.track_json import track_json, track_json_text

RATE = 44100
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="museval/stempeg need ffmpeg at import time")


@pytest.fixture(scope="module")
def stems() -> dict[str, np.ndarray]:
    """MUSDB18 excerpt shipped with stempeg (~6.1 s). Shape: each (2, 2, N): references and mixture pair."""
    stempeg = pytest.importorskip("stempeg")
    pytest.importorskip("museval")
    audio, _ = stempeg.read_stems(stempeg.example_stem_path(), sample_rate=RATE)
    audio = audio.transpose(0, 2, 1)  # (streams, channels, samples); 0 mix, 1 drums, 2 bass, 3 other, 4 vocals
    refs = np.stack([audio[4], audio[1] + audio[2] + audio[3]])
    return {"refs": refs, "mixture": np.stack([audio[0], audio[0]])}


def _noisy(refs: np.ndarray, snr_db: list[float], seed: int = 0) -> np.ndarray:
    """References plus white noise at one SNR per source."""
    rng = np.random.default_rng(seed)
    power = np.mean(refs**2, axis=(1, 2), keepdims=True) / 10 ** (np.array(snr_db)[:, None, None] / 10)
    return refs + rng.standard_normal(refs.shape) * np.sqrt(power)


def _assert_matches_museval(refs: np.ndarray, ests: np.ndarray, **kwargs) -> dict[str, np.ndarray]:
    ref = bss_eval(refs, ests, backend="museval", **kwargs)
    fast = bss_eval(refs, ests, backend="fast", **kwargs)
    for m in METRICS:
        assert fast[m].shape == ref[m].shape, m
        np.testing.assert_array_equal(np.isnan(fast[m]), np.isnan(ref[m]), err_msg=f"{m} NaN pattern")
        ok = ~np.isnan(ref[m])
        assert np.max(np.abs(fast[m][ok] - ref[m][ok]), initial=0.0) <= 0.01, m
    return fast


def _estimate(kind: str, refs: np.ndarray, mixture: np.ndarray) -> np.ndarray:
    """Estimates of several qualities; one museval call per kind, so sources may differ in kind."""
    if kind == "noise_5dB_20dB":
        return _noisy(refs, [5.0, 20.0])
    if kind == "lowpass_and_mixture":  # vocals: 4th-order Butterworth at 2 kHz; accompaniment: the mixture
        return np.stack([sosfiltfilt(butter(4, 2000, fs=RATE, output="sos"), refs[0]), mixture[1]])
    if kind == "near_perfect_60dB":
        return _noisy(refs, [60.0, 60.0], seed=2)
    raise ValueError(kind)


@needs_ffmpeg
@pytest.mark.parametrize("kind", ["noise_5dB_20dB", "lowpass_and_mixture", "near_perfect_60dB"])
def test_fast_matches_museval(stems, kind):
    n = 4 * RATE  # a 4 s excerpt keeps museval quick
    refs, mixture = stems["refs"][..., :n], stems["mixture"][..., :n]
    fast = _assert_matches_museval(refs, _estimate(kind, refs, mixture))
    assert fast["SDR"].shape == (2, 4) and not np.isnan(fast["SDR"]).any()


@needs_ffmpeg
def test_silent_windows_give_nan_like_museval(stems):
    refs = stems["refs"][..., : 6 * RATE].copy()
    ests = _noisy(refs, [-5.0, 10.0], seed=1)
    refs[0, :, int(0.5 * RATE) : int(2.5 * RATE)] = 0  # vocals reference silent over window 1
    ests[1, :, int(3.2 * RATE) : int(5.2 * RATE)] = 0  # accompaniment estimate silent over window 4
    fast = _assert_matches_museval(refs, ests)
    expected = np.zeros((2, 6), dtype=bool)
    expected[:, [1, 4]] = True  # a silent source blanks every source of that window
    for m in METRICS:
        np.testing.assert_array_equal(np.isnan(fast[m]), expected)


@needs_ffmpeg
def test_length_not_multiple_of_window_and_overlap(stems):
    refs = stems["refs"][..., int(2.5 * RATE) : int(5.8 * RATE)]  # 3.3 s
    ests = _noisy(refs, [0.0, 15.0], seed=3)[..., : int(3.1 * RATE)]  # shorter estimate: zero-padded
    assert _assert_matches_museval(refs, ests)["SDR"].shape == (2, 3)  # trailing 0.3 s window dropped
    assert _assert_matches_museval(refs, ests, win=RATE, hop=RATE // 2)["SDR"].shape == (2, 5)


def test_fast_sdr_is_windowed_snr_and_flags_silence():
    rng = np.random.default_rng(0)
    refs = rng.standard_normal((2, 2, int(3.5 * RATE)))
    ests = refs + 0.1 * rng.standard_normal(refs.shape)
    ests[0, :, RATE : 2 * RATE] = 0
    out = bss_eval(refs, ests, win=RATE, hop=RATE)
    assert out["SDR"].shape == (2, 3)
    windows = lambda x: x[..., : 3 * RATE].reshape(2, 2, 3, RATE)  # noqa: E731
    snr = 10 * np.log10(np.sum(windows(refs) ** 2, axis=(1, 3)) / np.sum(windows(refs - ests) ** 2, axis=(1, 3)))
    np.testing.assert_allclose(out["SDR"][:, [0, 2]], snr[:, [0, 2]], atol=1e-9)
    assert np.isnan(out["SDR"][:, 1]).all() and np.isnan(out["SAR"][:, 1]).all()


def test_fully_silent_source_is_rejected():
    refs = np.random.default_rng(0).standard_normal((2, 2, RATE))
    with pytest.raises(ValueError, match="silent"):
        bss_eval(refs, np.stack([refs[0], np.zeros_like(refs[1])]))


def test_track_median_ignores_nan():
    values = np.array([[1.0, np.nan, 3.0, 10.0, np.inf], [np.nan, np.nan, np.nan, np.nan, np.nan]])
    out = track_median(values)
    assert out[0] == 3.0 and np.isnan(out[1])  # inf is stored as NaN by museval, so ignored too


def test_global_sdr_known_values():
    rng = np.random.default_rng(0)
    refs = rng.standard_normal((2, 2, 1000))
    out = global_sdr(refs, np.stack([0.5 * refs[0], refs[1]]))
    assert out[0] == pytest.approx(20 * math.log10(2), abs=1e-6)  # error = half the signal
    assert out[1] == pytest.approx(10 * math.log10((np.sum(refs[1] ** 2) + 1e-7) / 1e-7))


def _nan_to_str(obj):
    if isinstance(obj, dict):
        return {k: _nan_to_str(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_to_str(v) for v in obj]
    return "NaN" if isinstance(obj, float) and math.isnan(obj) else obj


@needs_ffmpeg
def test_track_json_matches_museval_trackstore():
    simplejson = pytest.importorskip("simplejson")
    museval = pytest.importorskip("museval")
    scores = {m: np.array([[1.234567891, np.nan, np.inf], [-2.5, 3.0, 0.000004]]) + i for i, m in enumerate(METRICS)}
    store = museval.TrackStore(track_name="t", win=1.0, hop=1.0)
    for i, name in enumerate(["vocals", "accompaniment"]):
        store.add_target(name, {m: scores[m][i].tolist() for m in METRICS})
    ours = track_json("t", ["vocals", "accompaniment"], scores, win=RATE, hop=RATE, rate=RATE)
    assert _nan_to_str(json.loads(track_json_text(ours))) == _nan_to_str(simplejson.loads(store.json, allow_nan=True))
    assert list(ours["targets"][0]["frames"][0]["metrics"]) == ["SDR", "SIR", "SAR", "ISR"]
    assert '"SDR": NaN' in track_json_text(ours)


@needs_ffmpeg
def test_mir_eval_backend_is_mir_eval_per_channel(stempeg_example):
    """BSS Eval v3: each channel through mir_eval.separation.bss_eval_sources_framewise, dB averaged over channels."""
    separation = pytest.importorskip("mir_eval.separation")
    n = 3 * RATE
    refs = np.stack([stempeg_example["vocals"], stempeg_example["drums"] + stempeg_example["bass"]
                     + stempeg_example["other"]])[..., :n].astype(np.float64)
    ests = _noisy(refs, [5.0, 15.0], seed=4)
    ours = bss_eval(refs, ests, backend="mir_eval")
    assert set(ours) == set(METRICS) and ours["SDR"].shape == (2, 3) and np.isnan(ours["ISR"]).all()
    expected = np.mean([separation.bss_eval_sources_framewise(refs[:, c], ests[:, c], RATE, RATE)[:3]
                        for c in range(2)], axis=0)  # (3: SDR SIR SAR, 2 sources, 3 windows)
    for i, m in enumerate(("SDR", "SIR", "SAR")):
        np.testing.assert_allclose(ours[m], expected[i], rtol=0, atol=1e-9)
    v4 = bss_eval(refs, ests, backend="fast")["SDR"]
    assert np.all(np.abs(ours["SDR"] - v4) < 3.0)  # same estimates, close but not equal numbers (v3 vs v4)


def test_mir_eval_backend_silent_window_and_short_track():
    pytest.importorskip("mir_eval")
    rng = np.random.default_rng(5)
    refs = rng.standard_normal((2, 2, int(2.5 * RATE)))
    ests = refs + 0.3 * rng.standard_normal(refs.shape)
    ests[1, :, RATE : 2 * RATE] = 0
    out = bss_eval(refs, ests, backend="mir_eval")
    assert out["SDR"].shape == (2, 2) and np.isnan(out["SDR"][:, 1]).all() and np.isfinite(out["SDR"][:, 0]).all()
    short = bss_eval(refs[..., : RATE // 2], ests[..., : RATE // 2], backend="mir_eval")
    assert short["SDR"].shape == (2, 1)  # one window of the whole (short) track, as museval frames it


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="mir_eval"):
        bss_eval(np.ones((2, 2, 10)), np.ones((2, 2, 10)), backend="v3")


def test_score_tracks_parallel_equals_one_process():
    from hw2sep.evaluation.pool import score_tracks_parallel

    rng = np.random.default_rng(6)
    tracks = []
    for seconds in (2.0, 3.0, 2.5):
        refs = rng.standard_normal((2, 2, int(seconds * RATE)))
        tracks.append((refs, refs + 0.2 * rng.standard_normal(refs.shape)))
    pooled = score_tracks_parallel(tracks, workers=2, backend="fast")
    for (refs, ests), got in zip(tracks, pooled):
        want = bss_eval(refs, ests, backend="fast")
        for m in METRICS:
            np.testing.assert_allclose(got[m], want[m], atol=1e-9)


@pytest.fixture(scope="module")
def long_pair() -> tuple[np.ndarray, np.ndarray]:
    """60 s of toy music as float32 (vocals with silent passages, accompaniment) and noisy estimates:
    ~370 correlation blocks in 24 batches, 60 windows of which some are silent. Shape: (2, 2, N) each."""
    from hw2sep.data.toy_music import synth_track

    audio = synth_track(0, 1, 60.0)[1]
    accompaniment = audio["drums"].astype(np.int32) + audio["bass"] + audio["other"]
    refs = np.ascontiguousarray(np.stack([audio["vocals"], accompaniment]).transpose(0, 2, 1) / 32768, np.float32)
    rng = np.random.default_rng(0)
    noise = lambda level: level * refs.std() * rng.standard_normal(refs.shape[1:]).astype(np.float32)  # noqa: E731
    ests = np.stack([refs[0] + noise(0.1), 0.7 * refs[1] + 0.3 * refs[0] + noise(0.01)]).astype(np.float32)
    return refs, ests


def test_fast_reads_float32_blocks_as_a_whole_float64_track(long_pair):
    """The block-by-block float64 conversion gives exactly the numbers of converting the whole track first."""
    refs, ests = long_pair
    blocks = bss_eval(refs, ests, backend="fast")
    whole = bss_eval(refs.astype(np.float64), ests.astype(np.float64), backend="fast")
    assert np.isnan(blocks["SDR"]).any() and not np.isnan(blocks["SDR"]).all()
    for m in METRICS:
        np.testing.assert_array_equal(blocks[m], whole[m], err_msg=m)
    np.testing.assert_allclose(global_sdr(refs, ests), global_sdr(refs.astype(np.float64), ests), rtol=0, atol=1e-9)


@needs_ffmpeg
def test_fast_matches_museval_on_a_long_track(long_pair):
    """60 s: SDR within 1e-6 dB of museval (measured 5e-14); ISR, SAR within 1e-5 and SIR within 1e-4 dB
    (measured 2.4e-7, 8.1e-7 and 9.0e-6: the largest at SIR 52 dB, where the interference is ~1e-5 of the signal)."""
    pytest.importorskip("museval")
    refs, ests = long_pair
    ref = bss_eval(refs, ests, backend="museval")
    fast = bss_eval(refs, ests, backend="fast")
    for m, tol in {"SDR": 1e-6, "ISR": 1e-5, "SAR": 1e-5, "SIR": 1e-4}.items():
        np.testing.assert_array_equal(np.isnan(fast[m]), np.isnan(ref[m]), err_msg=f"{m} NaN pattern")
        ok = ~np.isnan(ref[m])
        assert ok.sum() >= 40, m
        assert np.max(np.abs(fast[m][ok] - ref[m][ok])) <= tol, m


def test_stack_sources_reuses_rows_of_one_array_and_copies_otherwise():
    from hw2sep.evaluation.metrics import stack_sources

    base = np.zeros((2, 3, 4), np.float32)  # owns its memory, as Track.load_stack's array
    base[:] = np.arange(24).reshape(2, 3, 4)
    assert stack_sources([base[0], base[1]]) is base
    swapped = stack_sources([base[1], base[0]])
    assert swapped is not base and np.array_equal(swapped, base[::-1])
    loose = [np.ones((3, 4), np.float32), np.zeros((3, 4), np.float32)]
    assert np.array_equal(stack_sources(loose), np.stack(loose))
    track = np.zeros((3, 3, 4), np.float32)  # mixture, vocals, accompaniment: one owning array, as Track.load's
    track[:] = np.arange(36).reshape(3, 3, 4)
    references = stack_sources([track[1], track[2]])
    assert np.shares_memory(references, track) and np.array_equal(references, track[1:])


def test_blocked_spectral_distance_equals_the_whole_track_lsd():
    """Blocks of 37 frames (the last one short) give the whole-track log_spectral_distance."""
    import torch

    from hw2sep.evaluation.metrics import spectral_distance
    from hw2sep.dsp.stft import STFTParams
    from hw2sep.vocoder import log_spectral_distance

    rng = np.random.default_rng(3)
    n = 5 * RATE + 77
    refs = (rng.standard_normal((2, 2, n)) * np.linspace(0, 1, n)).astype(np.float32)
    refs[:, :, :RATE] = 0  # a silent second: the floor matters
    ests = (refs + 0.3 * rng.standard_normal(refs.shape)).astype(np.float32)
    whole = log_spectral_distance(torch.from_numpy(refs), torch.from_numpy(ests), STFTParams()).mean(-1).numpy()
    blocked = spectral_distance(refs, ests, STFTParams(), block_frames=37)
    np.testing.assert_allclose(blocked, whole, rtol=0, atol=1e-4)
