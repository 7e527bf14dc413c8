"""The procedural toy MUSDB (hw2sep.data.toy) and its CLI (python -m data_prep.make_toy_musdb)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from conftest import assert_one_line_error, requires_ffmpeg, run_script
from hw2sep import SAMPLE_RATE, STEMS
from hw2sep.errors import Hw2sepError
from hw2sep.data.toy import MANIFEST, ensure_toy_musdb, make_toy_musdb

FILES = ("mixture",) + STEMS
SCRIPT = ("-m", "data_prep.make_toy_musdb")


def _tracks(root):
    """Every track folder of a wav-layout root, train then test."""
    return [p for subset in ("train", "test") for p in sorted((root / subset).iterdir()) if p.is_dir()]


def _read(folder, stem) -> np.ndarray:
    """One stored stem as its int16 samples, (nb_samples, 2)."""
    return sf.read(folder / f"{stem}.wav", dtype="int16")[0]


def _mono(folder, stems) -> np.ndarray:
    """Sum of stems, down-mixed to mono float in [-1, 1]."""
    return sum(_read(folder, s).astype(np.float64) for s in stems).mean(axis=1) / 32768


def _snapshot(root) -> dict:
    """path -> (bytes, mtime) of every file under root, to compare two datasets or two moments."""
    return {p.relative_to(root): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}


def _contents(root) -> dict:
    """path -> bytes of every file under root."""
    return {k: v[0] for k, v in _snapshot(root).items()}


def test_layout_names_and_format(toy_root):
    manifest = json.loads((toy_root / MANIFEST).read_text())
    params = manifest["params"]
    assert manifest["complete"] and params["sample_rate"] == SAMPLE_RATE
    train = sorted(p.name for p in (toy_root / "train").iterdir())
    test = sorted(p.name for p in (toy_root / "test").iterdir())
    assert len(train) == params["n_train"] and len(test) == params["n_test"]
    assert all(re.fullmatch(r"Toy \d{3} - \w+ \w+", name) for name in train + test)
    assert not set(train) & set(test)
    valid = (toy_root / "valid.txt").read_text().splitlines()
    assert valid == train[len(train) - max(1, round(len(train) * 0.14)):] and set(valid) <= set(train)
    for folder in _tracks(toy_root):
        assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.wav" for s in FILES)
        infos = [sf.info(folder / f"{s}.wav") for s in FILES]
        assert {(i.samplerate, i.channels, i.subtype, i.format) for i in infos} == {(44100, 2, "PCM_16", "WAV")}
        assert {i.frames for i in infos} == {round(params["seconds"] * SAMPLE_RATE)}


def test_mixture_is_the_exact_int16_sum_of_stems_and_never_clips(toy_root):
    for folder in _tracks(toy_root):
        stems = {s: _read(folder, s) for s in FILES}
        total = sum(stems[s].astype(np.int32) for s in STEMS)
        np.testing.assert_array_equal(stems["mixture"].astype(np.int32), total)
        assert np.abs(total).max() < 0.9 * 32768
        assert all(np.abs(stems[s].astype(np.int32)).max() < 32767 for s in STEMS)
        assert all(np.abs(stems[s]).max() > 100 for s in STEMS)  # every stem is audible


def test_same_seed_gives_identical_bytes_and_other_seeds_or_tracks_differ(tmp_path):
    small = dict(n_train=1, n_test=1, seconds=3.0)
    make_toy_musdb(tmp_path / "a", **small)
    make_toy_musdb(tmp_path / "b", **small)
    assert _contents(tmp_path / "a") == _contents(tmp_path / "b")
    other = make_toy_musdb(tmp_path / "c", **small, seed=1)
    (a_train, a_test), (c_train, _) = _tracks(tmp_path / "a"), _tracks(other)
    assert a_train.name != c_train.name
    assert not np.array_equal(_read(a_train, "vocals"), _read(c_train, "vocals"))
    assert not np.array_equal(_read(a_train, "mixture"), _read(a_test, "mixture"))  # train and test differ


def test_rerun_is_a_no_op_and_changed_parameters_reuse_or_regenerate(tmp_path):
    root, messages = tmp_path / "toy", []
    make_toy_musdb(root, n_train=3, n_test=0, seconds=1.0)
    before = _snapshot(root)
    make_toy_musdb(root, n_train=3, n_test=0, seconds=1.0, progress=messages.append)
    assert _snapshot(root) == before and messages == [f"{root}: up to date"]
    make_toy_musdb(root, n_train=2, n_test=0, seconds=1.0, n_valid=2)  # same audio: reuse, drop track 2
    after = _snapshot(root)
    kept = [k for k in after if k.parts[0] == "train"]
    assert len(kept) == 2 * len(FILES) and all(after[k] == before[k] for k in kept)
    assert (root / "valid.txt").read_text().splitlines() == [p.name for p in _tracks(root)]
    make_toy_musdb(root, n_train=2, n_test=0, seconds=1.5)  # other length: everything regenerated
    assert {sf.info(f).frames for f in root.rglob("*.wav")} == {round(1.5 * SAMPLE_RATE)}


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(n_train=-1), "n_train"), (dict(n_test=-2), "n_test"), (dict(seconds=0.0), "seconds"),
    (dict(seconds=float("nan")), "seconds"), (dict(n_train=0, n_test=0), "nothing"),
    (dict(n_train=2, n_valid=3), "n_valid"), (dict(seed=-1), "seed"),
])
def test_bad_parameters_are_refused_before_writing(tmp_path, kwargs, fragment):
    with pytest.raises(Hw2sepError, match=fragment):
        make_toy_musdb(tmp_path / "toy", **{"n_train": 1, "n_test": 0, "seconds": 1.0, **kwargs})
    assert not (tmp_path / "toy").exists()


def test_refuses_a_file_or_a_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("not a dataset")
    with pytest.raises(Hw2sepError, match="not a directory"):
        make_toy_musdb(tmp_path / "notes.txt", n_train=1, n_test=0, seconds=1.0)
    with pytest.raises(Hw2sepError, match="not empty"):
        make_toy_musdb(tmp_path, n_train=1, n_test=0, seconds=1.0)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_vocals_have_silent_passages_and_are_pitched(toy_root):
    win, hop = SAMPLE_RATE, SAMPLE_RATE // 4
    for folder in _tracks(toy_root):
        vocals, drums = _mono(folder, ["vocals"]), _mono(folder, ["drums"])
        rms = np.sqrt([np.mean(vocals[i:i + win] ** 2) for i in range(0, len(vocals) - win + 1, hop)])
        assert rms.min() < 1e-4 < 1e-2 < rms.max(), folder.name  # a silent second, and loud singing
        assert _periodicity(vocals) > 0.6 > 0.3 > _periodicity(drums), folder.name


def _periodicity(x: np.ndarray) -> float:
    """Median over the 8 loudest 46 ms frames of the normalised autocorrelation peak at 80 Hz .. 1 kHz."""
    frames = np.lib.stride_tricks.sliding_window_view(x, 2048)[::1024]
    loudest = frames[np.argsort((frames ** 2).sum(axis=1))[-8:]]
    peaks = []
    for frame in loudest - loudest.mean(axis=1, keepdims=True):
        r = np.correlate(frame, frame, "full")[2047:]
        peaks.append(r[SAMPLE_RATE // 1000: SAMPLE_RATE // 80].max() / r[0])
    return float(np.median(peaks))


def test_vocals_and_accompaniment_overlap_in_frequency(toy_root):
    """Even an oracle per-track third-octave EQ cannot separate what a time-frequency mask can."""
    def sdr(est):
        return 10 * np.log10(np.sum(vocals ** 2) / np.sum((vocals - est) ** 2))

    for folder in _tracks(toy_root):
        vocals, accomp = _mono(folder, ["vocals"]), _mono(folder, ["drums", "bass", "other"])
        freqs, _, V = signal.stft(vocals, SAMPLE_RATE, nperseg=2048)
        _, _, A = signal.stft(accomp, SAMPLE_RATE, nperseg=2048)
        band = np.floor(3 * np.log2(np.maximum(freqs, 20) / 20)).astype(int)
        ev, ea = (np.bincount(band, (np.abs(S) ** 2).sum(axis=1)) for S in (V, A))
        eq = (ev / (ev + ea + 1e-20))[band][:, None]  # best static third-octave gains, oracle
        irm = np.abs(V) ** 2 / (np.abs(V) ** 2 + np.abs(A) ** 2 + 1e-20)
        eq_sdr, irm_sdr = (sdr(signal.istft(m * (V + A), SAMPLE_RATE, nperseg=2048)[1][:len(vocals)])
                           for m in (eq, irm))
        assert eq_sdr < 10 and eq_sdr < irm_sdr - 3, (folder.name, eq_sdr, irm_sdr)
        psd_v, psd_a = (np.abs(V) ** 2).mean(axis=1), (np.abs(A) ** 2).mean(axis=1)
        assert psd_v[psd_a > 1e-3 * psd_a.max()].sum() > 0.5 * psd_v.sum(), folder.name  # where the band lives


def test_cli_gives_the_same_bytes_from_two_fresh_processes(tmp_path):
    args = ["--train", "1", "--test", "1", "--seconds", "1", "--seed", "5"]
    first = run_script(*SCRIPT, "--out", str(tmp_path / "a"), *args)
    second = run_script(*SCRIPT, "--out", str(tmp_path / "b"), *args)
    for result, root in ((first, tmp_path / "a"), (second, tmp_path / "b")):
        assert result.returncode == 0, result.stderr
        assert "toy MUSDB" in result.stdout and " s\n" in result.stdout
        assert len(_tracks(root)) == 2 and json.loads((root / MANIFEST).read_text())["params"]["seed"] == 5
    assert _contents(tmp_path / "a") == _contents(tmp_path / "b")  # same bytes from two fresh processes


def test_cli_bad_input_is_one_line(tmp_path):
    assert_one_line_error(run_script(*SCRIPT, "--out", str(tmp_path / "toy"), "--train", "-1"), "n_train")
    (tmp_path / "file").write_text("x")
    assert_one_line_error(run_script(*SCRIPT, "--out", str(tmp_path / "file")), "not a directory")


@requires_ffmpeg
def test_stem_mp4_opens_with_musdb_and_decodes_close_to_the_wavs(toy_both_layouts):
    import musdb
    import stempeg

    root = toy_both_layouts
    assert sorted(t.name for t in musdb.DB(root=str(root))) == sorted(p.name for p in _tracks(root))
    track = musdb.DB(root=str(root), subsets="test")[0]
    wav_dir = root / "test" / track.name
    streams, rate = stempeg.read_stems(str(root / "test" / f"{track.name}.stem.mp4"))
    assert rate == 44100 and streams.shape[0] == 5 and streams.shape[2] == 2
    np.testing.assert_allclose(track.targets["vocals"].audio, streams[4], atol=1e-4)  # musdb reads the same
    snrs = {}
    for i, stem in enumerate(FILES):  # MUSDB18 stream order: mixture, drums, bass, other, vocals
        wav = _read(wav_dir, stem) / 32768.0
        # ffmpeg drops the AAC priming delay (edit list) but keeps the last frame's padding
        assert 0 <= streams.shape[1] - len(wav) < 1024
        err = streams[i, :len(wav)] - wav
        snrs[stem] = 10 * np.log10(np.sum(wav ** 2) / np.sum(err ** 2))
    assert min(snrs.values()) > 15 and snrs["vocals"] > 25, snrs


@requires_ffmpeg
def test_adding_or_dropping_stem_mp4_keeps_the_wavs(tmp_path):
    root = make_toy_musdb(tmp_path / "toy", n_train=1, n_test=0, seconds=1.0)
    wavs = {k: v for k, v in _snapshot(root).items() if k.suffix == ".wav"}
    make_toy_musdb(root, n_train=1, n_test=0, seconds=1.0, stem_mp4=True)
    assert len(list(root.glob("train/*.stem.mp4"))) == 1
    make_toy_musdb(root, n_train=1, n_test=0, seconds=1.0)
    assert not list(root.rglob("*.mp4"))
    assert {k: v for k, v in _snapshot(root).items() if k.suffix == ".wav"} == wavs


def test_ensure_toy_musdb_generates_once_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HW2SEP_CACHE", str(tmp_path / "cache"))
    root = ensure_toy_musdb(n_train=1, n_test=1, seconds=1.0)
    assert root == tmp_path / "cache" / "toy_musdb" and len(_tracks(root)) == 2
    before = _snapshot(root)
    assert ensure_toy_musdb(n_train=1, n_test=1, seconds=1.0) == root and _snapshot(root) == before
