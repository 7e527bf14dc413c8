"""Reading MUSDB18 / MUSDB18-HQ: layouts, subsets, audio, and the clear errors for bad roots."""

import shutil

import numpy as np
import pytest
import soundfile as sf

from conftest import SHARED_SAMPLE, requires_ffmpeg
from hw2sep.data.musdb import MUSDB_VALID_TRACKS, detect_layout, list_tracks
from hw2sep.errors import Hw2sepError


def test_subsets_split_train_folder(toy_root):
    train, valid, test = (list_tracks(toy_root, s) for s in ("train", "valid", "test"))
    assert len(train) == 3 and len(valid) == 1 and len(test) == 2
    assert not {t.name for t in train} & {t.name for t in valid}
    assert [t.name for t in valid] == (toy_root / "valid.txt").read_text().split("\n")[:1]
    assert all(t.layout == "wav" for t in train + valid + test)


def test_mixture_is_exactly_the_sum_of_stems(toy_root):
    for track in list_tracks(toy_root, "train") + list_tracks(toy_root, "test"):
        audio = track.load(("mixture", "drums", "bass", "other", "vocals", "accompaniment"))
        assert audio["mixture"].shape == (2, 6 * 44100) and audio["mixture"].dtype == np.float32
        np.testing.assert_array_equal(audio["mixture"], audio["vocals"] + audio["accompaniment"])
        np.testing.assert_array_equal(audio["accompaniment"], audio["drums"] + audio["bass"] + audio["other"])
        assert np.abs(audio["mixture"]).max() < 1.0


def test_partial_read_equals_slice_of_full_read(toy_root):
    track = list_tracks(toy_root, "test")[0]
    full = track.load(("vocals",))["vocals"]
    part = track.load(("vocals",), start=1.5, duration=2.0)["vocals"]
    np.testing.assert_array_equal(part, full[:, 66150:66150 + 88200])


@requires_ffmpeg
def test_stem_mp4_layout_reads_the_same_tracks(toy_both_layouts):
    for subset in ("train", "valid", "test"):
        wav, stems = list_tracks(toy_both_layouts, subset, "wav"), list_tracks(toy_both_layouts, subset, "stems")
        assert [t.name for t in wav] == [t.name for t in stems] and wav
        for w, s in zip(wav, stems):
            a, b = w.load(("mixture", "vocals", "accompaniment")), s.load(("mixture", "vocals", "accompaniment"))
            for source in a:
                n = min(a[source].shape[-1], b[source].shape[-1])
                assert abs(a[source].shape[-1] - b[source].shape[-1]) < 2048  # within an AAC frame
                error = a[source][:, :n] - b[source][:, :n]
                snr = 10 * np.log10((a[source][:, :n] ** 2).sum() / (error ** 2).sum())
                assert snr > 20, (source, snr)  # AAC at 256 kbit/s: lossy, but close


@requires_ffmpeg
def test_real_musdb_sample_reads_as_stems():
    if not SHARED_SAMPLE.exists():
        pytest.skip(f"{SHARED_SAMPLE} not present")
    assert detect_layout(SHARED_SAMPLE) == "stems"
    (track,) = list_tracks(SHARED_SAMPLE, "train")  # a lone track stays in train
    audio = track.load(("mixture", "drums", "bass", "other", "vocals", "accompaniment"))
    assert all(a.shape == audio["mixture"].shape and a.shape[0] == 2 for a in audio.values())
    np.testing.assert_allclose(audio["accompaniment"], audio["drums"] + audio["bass"] + audio["other"], atol=1e-6)
    error = audio["mixture"] - audio["vocals"] - audio["accompaniment"]  # the stream is coded apart: not equal
    assert 10 * np.log10((audio["mixture"] ** 2).sum() / (error ** 2).sum()) > 10


def test_musdb_names_use_the_official_validation_split(tmp_path):
    for name in (MUSDB_VALID_TRACKS[0], "A Classic Education - NightOwl", "Zeno - Signs"):
        folder = tmp_path / "train" / name
        folder.mkdir(parents=True)
        (folder / "mixture.wav").touch()
    assert [t.name for t in list_tracks(tmp_path, "valid")] == [MUSDB_VALID_TRACKS[0]]
    assert len(list_tracks(tmp_path, "train")) == 2


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: p, "no MUSDB18 tracks"),
    (lambda p: (p / "file.txt").write_text("x") and p / "file.txt", "not a folder"),
    (lambda p: (p / "train" / "x").mkdir(parents=True) or p, "no MUSDB18 tracks"),
])
def test_bad_roots_give_one_clear_error(tmp_path, make, fragment):
    with pytest.raises(Hw2sepError, match=fragment) as info:
        list_tracks(make(tmp_path), "test")
    assert "\n" not in str(info.value)
    if fragment == "no MUSDB18 tracks":
        assert "mixture.wav" in str(info.value) and ".stem.mp4" in str(info.value)


def _copy_track(toy_root, tmp_path):
    source = list_tracks(toy_root, "test")[0].path
    shutil.copytree(source, tmp_path / "test" / source.name)
    return tmp_path / "test" / source.name


def test_missing_stem_and_wrong_rate_are_clear_errors(toy_root, tmp_path):
    folder = _copy_track(toy_root, tmp_path)
    (folder / "bass.wav").unlink()
    (track,) = list_tracks(tmp_path, "test")
    with pytest.raises(Hw2sepError, match="no bass.wav"):
        track.load(("accompaniment",))
    audio, _ = sf.read(folder / "vocals.wav")
    sf.write(folder / "vocals.wav", audio, 22050)
    with pytest.raises(Hw2sepError, match="22050 Hz"):
        track.load(("vocals",))


def test_mono_is_duplicated_to_stereo(toy_root, tmp_path):
    folder = _copy_track(toy_root, tmp_path)
    audio, rate = sf.read(folder / "vocals.wav", dtype="int16")
    sf.write(folder / "vocals.wav", audio[:, 0], rate, subtype="PCM_16")
    vocals = list_tracks(tmp_path, "test")[0].load(("vocals",))["vocals"]
    assert vocals.shape[0] == 2
    np.testing.assert_array_equal(vocals[0], vocals[1])
    np.testing.assert_array_equal(vocals[0], audio[:, 0] / 32768.0)


def test_an_incomplete_test_set_is_named_with_musdbs_size():
    from hw2sep.data.musdb import incomplete_note
    assert incomplete_note("test", 50) is None and incomplete_note("valid", 14) is None
    assert incomplete_note("test", 2).startswith("note: 2 test tracks, MUSDB18 has 50: ")
