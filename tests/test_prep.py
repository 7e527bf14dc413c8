"""The npy cache: exact round trip, manifest, resume after an interruption, refusal of the test set."""

import json

import numpy as np
import pytest

from conftest import assert_one_line_error, run_script
from hw2sep.data.musdb import Track, list_tracks
from hw2sep.errors import Hw2sepError
from hw2sep.data.npy_cache import convert_to_npy, load_manifest, load_source


def test_npy_round_trip_is_exact(toy_root, toy_npy):
    manifest = load_manifest(toy_npy)
    assert manifest["dtype"] == "int16" and manifest["sample_rate"] == 44100
    assert {t["subset"] for t in manifest["tracks"]} == {"train", "valid"}
    for entry in manifest["tracks"]:
        track = next(t for t in list_tracks(toy_root, entry["subset"]) if t.name == entry["name"])
        audio = track.load(("vocals", "accompaniment"))
        for source in ("vocals", "accompaniment"):
            stored = load_source(toy_npy, entry, source)
            assert stored.dtype == np.int16 and isinstance(stored, np.memmap)
            np.testing.assert_array_equal(stored / np.float32(32768), audio[source])
        assert entry["num_samples"] == audio["vocals"].shape[-1]


def test_test_subset_is_refused_unless_asked(toy_root, tmp_path):
    with pytest.raises(Hw2sepError, match="never used for training"):
        convert_to_npy(toy_root, tmp_path / "npy", subsets=("train", "test"), progress=False)
    convert_to_npy(toy_root, tmp_path / "npy", subsets=("test",), allow_test=True, progress=False)
    assert {t["subset"] for t in load_manifest(tmp_path / "npy")["tracks"]} == {"test"}


def test_interrupted_conversion_resumes(toy_root, tmp_path, monkeypatch):
    out = tmp_path / "npy"
    original, calls = Track.load, []

    def dies_on_third_track(self, *args, **kwargs):
        calls.append(self.name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Track, "load", dies_on_third_track)
    with pytest.raises(KeyboardInterrupt):
        convert_to_npy(toy_root, out, progress=False)
    done = sorted(p.parent.name for p in out.glob("*/*/track.json"))
    assert len(done) == 2 and not (out / "manifest.json").exists()
    assert not list(out.rglob("*.tmp")), "no temporary file may be left behind"
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/*/*.npy")}

    monkeypatch.setattr(Track, "load", original)
    calls.clear()
    convert_to_npy(toy_root, out, progress=False)
    assert len(load_manifest(out)["tracks"]) == 4
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items()), "finished tracks are not rewritten"
    fresh = tmp_path / "fresh"
    convert_to_npy(toy_root, fresh, progress=False)
    for a in out.glob("*/*/*.npy"):
        np.testing.assert_array_equal(np.load(a), np.load(fresh / a.relative_to(out)))


def test_track_without_completion_mark_is_redone(toy_root, tmp_path):
    out = tmp_path / "npy"
    convert_to_npy(toy_root, out, progress=False)
    mark = next(out.glob("train/*/track.json"))
    vocals = mark.parent / "vocals.npy"
    mark.unlink()
    vocals.write_bytes(b"half a file")  # what a crash before the rename could never leave, but a user might
    convert_to_npy(toy_root, out, progress=False)
    assert json.loads(mark.read_text())["name"] == mark.parent.name
    assert np.load(vocals).shape[0] == 2


def test_cli_converts_and_reports_bad_root(toy_root, tmp_path):
    result = run_script("-m", "data_prep.musdb_to_npy", "--musdb-root", str(toy_root), "--out", str(tmp_path / "n"))
    assert result.returncode == 0, result.stderr
    assert "4 tracks" in result.stdout
    result = run_script("-m", "data_prep.musdb_to_npy", "--musdb-root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m"))
    assert_one_line_error(result, "does not exist")
    result = run_script("-m", "data_prep.musdb_to_npy", "--musdb-root", str(toy_root), "--out", str(tmp_path / "m"),
                        "--subsets", "test")
    assert_one_line_error(result, "test subset")


def test_fewer_validation_tracks_than_musdb_are_said_in_one_line(toy_root, tmp_path, capsys):
    from hw2sep.data.npy_cache import convert_to_npy
    convert_to_npy(toy_root, tmp_path / "npy", progress=False)
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert notes == ["note: 1 valid track, MUSDB18 has 14: validation (best.pt, the learning-rate schedule) rests on "
                     "fewer tracks than Open-Unmix's"]
