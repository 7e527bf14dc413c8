"""Nothing stale, nothing lost: scores are tied to the audio, checkpoint and settings they came from,
an interrupted evaluation keeps every scored track, results never overwrite each other, and a wrong
value or a full disk is one line. All on small generated toy sets with the shipped demo checkpoint."""

import csv
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, assert_one_line_error, run_script
from hw2sep.data.musdb import list_tracks
from hw2sep.data.toy import make_toy_musdb
from hw2sep.errors import Hw2sepError
from hw2sep.evaluation.evaluate import evaluate

DEMO = REPO / "models" / "umx_vocals.pt"
FAST = ["--metric", "fast", "--workers", "0", "--gl-iterations", "4"]


@pytest.fixture(scope="module")
def three_tracks(tmp_path_factory) -> Path:
    """3 test tracks of 3 s (and one training track): enough to interrupt a pass after the first (at 2 s some
    toy tracks have not started singing yet, and a silent reference cannot be scored)."""
    return make_toy_musdb(tmp_path_factory.mktemp("toy3") / "musdb", n_train=1, n_test=3, seconds=3.0, seed=4)


def _printed_numbers(stdout: str) -> list[str]:
    """infer.py's per-track and summary lines (everything but paths and timings)."""
    return [line for line in stdout.splitlines()
            if line.strip().startswith(("Toy ", "best", "umx_vocals", "Griffin-Lim minus"))]


def _infer(root: Path, out: Path, samples: Path, capsys) -> str:
    """infer.py's main in this process (the same printout as the script, without 8 s of imports)."""
    from hw2sep.infer import main
    main(["--musdb-root", str(root), "--checkpoint", str(DEMO), "--out", str(out), "--samples", str(samples),
          "--sample-tracks", "1", *FAST])
    return capsys.readouterr().out


def test_dataset_swap_rerun_prints_the_fresh_numbers(tmp_path, capsys):
    root = tmp_path / "musdb"
    make_toy_musdb(root, n_train=1, n_test=2, seconds=3.0, seed=7)
    names = [t.name for t in list_tracks(root, "test")]
    old = _infer(root, tmp_path / "out", tmp_path / "samples", capsys)
    make_toy_musdb(root, n_train=1, n_test=2, seconds=4.0, seed=7)  # same track names, other audio
    assert [t.name for t in list_tracks(root, "test")] == names
    rerun = _infer(root, tmp_path / "out", tmp_path / "samples", capsys)
    fresh = _infer(root, tmp_path / "fresh", tmp_path / "fresh_samples", capsys)
    assert _printed_numbers(rerun) == _printed_numbers(fresh) != []
    assert _printed_numbers(old) != _printed_numbers(fresh)  # the swap did change the numbers
    assert "samples of another dataset moved" in rerun
    index = {e["file"]: e["sdr_db"] for e in json.loads((tmp_path / "samples" / "index.json").read_text())}
    fresh_index = {e["file"]: e["sdr_db"] for e in json.loads((tmp_path / "fresh_samples" / "index.json").read_text())}
    assert index == fresh_index  # the new wavs are paired with the new scores


def test_a_track_fingerprint_follows_its_audio_not_its_folder(tmp_path):
    root = make_toy_musdb(tmp_path / "a", n_train=0, n_test=2, seconds=2.0, seed=1)
    track, other = list_tracks(root, "test")
    copy = shutil.copytree(root, tmp_path / "b")
    assert list_tracks(copy, "test")[0].fingerprint() == track.fingerprint()  # a copy elsewhere is the same data
    before = track.fingerprint()
    shutil.copy(other.path / "vocals.wav", track.path / "vocals.wav")  # other audio of the very same size
    assert (track.path / "vocals.wav").stat().st_size == (copy / "test" / track.name / "vocals.wav").stat().st_size
    assert track.fingerprint() != before


def test_npy_cache_follows_the_source_audio(tmp_path):
    from hw2sep.data.npy_cache import convert_to_npy, load_manifest, load_source
    first = make_toy_musdb(tmp_path / "first", n_train=2, n_test=0, seconds=2.0, seed=9, n_valid=0)
    cache = tmp_path / "cache"
    convert_to_npy(first, cache, subsets=("train",), progress=False)
    before = load_manifest(cache)
    arrays = {p: p.stat().st_mtime_ns for p in cache.rglob("*.npy")}
    convert_to_npy(first, cache, subsets=("train",), progress=False)  # same source: nothing is converted again
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.npy")} == arrays
    assert load_manifest(cache)["fingerprint"] == before["fingerprint"]

    other = make_toy_musdb(tmp_path / "other", n_train=2, n_test=0, seconds=3.0, seed=9, n_valid=0)  # same names
    convert_to_npy(other, cache, subsets=("train",), progress=False)
    after = load_manifest(cache)
    assert [t["name"] for t in after["tracks"]] == [t["name"] for t in before["tracks"]]
    assert after["fingerprint"] != before["fingerprint"] and after["source_root"] == str(other.resolve())
    for entry, track in zip(after["tracks"], list_tracks(other, "train")):
        expected = track.load(("vocals",))["vocals"]
        stored = load_source(cache, entry, "vocals")
        assert stored.shape == expected.shape == (2, 3 * 44100)  # the arrays hold the new audio
        assert abs(stored[:, :1000] / 32768.0 - expected[:, :1000]).max() < 1e-4


def test_npy_cache_from_before_fingerprints_is_kept_only_for_its_own_root(tmp_path):
    from hw2sep.data.npy_cache import convert_to_npy, load_manifest
    root = make_toy_musdb(tmp_path / "root", n_train=1, n_test=0, seconds=2.0, seed=9, n_valid=0)
    cache = tmp_path / "cache"
    convert_to_npy(root, cache, subsets=("train",), progress=False)

    def make_legacy():  # what an older hw2sep wrote: no source fingerprint anywhere
        for mark in cache.rglob("track.json"):
            mark.write_text(json.dumps({k: v for k, v in json.loads(mark.read_text()).items() if k != "source"}))
        return {p: p.stat().st_mtime_ns for p in cache.rglob("*.npy")}

    arrays = make_legacy()
    convert_to_npy(root, cache, subsets=("train",), progress=False)  # same root: adopted, not converted again
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.npy")} == arrays
    assert all("source" in t for t in load_manifest(cache)["tracks"])
    arrays = make_legacy()
    other = make_toy_musdb(tmp_path / "other", n_train=1, n_test=0, seconds=3.0, seed=9, n_valid=0)
    convert_to_npy(other, cache, subsets=("train",), progress=False)  # another root: converted again
    assert all(p.stat().st_mtime_ns != t for p, t in arrays.items())
    assert load_manifest(cache)["tracks"][0]["num_samples"] == 3 * 44100


_SLOW_AFTER_FIRST = """
import sys, time
import hw2sep.evaluation.evaluate as ev
from hw2sep.errors import run_cli
real, calls = ev.Separator.separate, []
def slow(self, *args, **kwargs):
    calls.append(1)
    if len(calls) > 1:
        time.sleep(120)  # killed here, while the first track is (being) written
    return real(self, *args, **kwargs)
ev.Separator.separate = slow
sys.exit(run_cli(ev.main, sys.argv[1:]))
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_kill_9_during_evaluation_keeps_scored_tracks(workers, three_tracks, tmp_path):
    args = ["--musdb-root", str(three_tracks), "--checkpoints", str(DEMO), "--methods", "mixture", "--metric", "fast"]
    tracks = tmp_path / "out" / "umx_vocals" / "mixture" / "tracks"
    process = subprocess.Popen([sys.executable, "-c", _SLOW_AFTER_FIRST, *args, "--out", str(tmp_path / "out"),
                                "--workers", workers], cwd=REPO, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        while not list(tracks.glob("*.json")) and process.poll() is None and time.time() < deadline:
            time.sleep(0.1)
    finally:
        alive = process.poll() is None
        if alive:
            os.killpg(process.pid, signal.SIGKILL)  # the evaluation and its scoring workers, as kill -9 would
        process.wait()
    assert alive, process.stderr.read()
    kept = {p: p.stat().st_mtime_ns for p in tracks.glob("*.json")}
    assert len(kept) == 1  # the first track was written before the pass ended
    assert not list(tracks.glob(".*")), "no temporary file is left under a final name"

    common = dict(methods=["mixture"], metric="fast", workers=0, progress=False)
    resumed = evaluate([DEMO], three_tracks, tmp_path / "out", **common)
    whole = evaluate([DEMO], three_tracks, tmp_path / "whole", **common)
    assert resumed == whole
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # only the missing tracks were scored
    assert len(list(tracks.glob("*.json"))) == 3
    with open(tmp_path / "out" / "comparison.csv") as a, open(tmp_path / "whole" / "comparison.csv") as b:
        assert list(csv.DictReader(a)) == list(csv.DictReader(b))


def test_same_named_checkpoints_get_distinct_labels(three_tracks, tmp_path):
    paths = []
    for run in ("umx", "unet"):
        (tmp_path / "runs" / run).mkdir(parents=True)
        for suffix in (".pt", ".json"):
            shutil.copy(DEMO.with_suffix(suffix), tmp_path / "runs" / run / f"best{suffix}")
        paths.append(tmp_path / "runs" / run / "best.pt")
    rows = evaluate(paths, three_tracks, tmp_path / "out", methods=["mixture"], n_tracks=1, metric="fast",
                    workers=0, progress=False)
    assert sorted({r["checkpoint"] for r in rows}) == ["umx_best", "unet_best"]
    assert (tmp_path / "out" / "umx_best" / "mixture" / "summary.json").exists()
    with pytest.raises(Hw2sepError, match="same file"):
        evaluate([paths[0], paths[0]], three_tracks, tmp_path / "out", methods=["mixture"], progress=False)
    (tmp_path / "other" / "umx").mkdir(parents=True)
    shutil.copy(paths[0], tmp_path / "other" / "umx" / "best.pt")
    with pytest.raises(Hw2sepError, match="would both be filed as 'umx_best'"):
        evaluate([paths[0], tmp_path / "other" / "umx" / "best.pt"], three_tracks, tmp_path / "out", progress=False)


def test_negative_workers_is_one_line(three_tracks, tmp_path):
    result = run_script("hw2sep/infer.py", "--musdb-root", str(three_tracks), "--checkpoint", str(DEMO),
                        "--out", str(tmp_path / "r"), "--samples", str(tmp_path / "s"), "--workers", "-2")
    assert_one_line_error(result, "--workers must be 0 (score in-process) or more, got -2")
    assert not (tmp_path / "r" / "umx_vocals").exists()


@pytest.mark.parametrize("module, flags, expected", [
    ("hw2sep.infer", ["--sample-tracks", "-1"], "--sample-tracks must be 0 or more, got -1"),
    ("hw2sep.evaluation.evaluate", ["--workers", "-2"], "--workers must be 0"),
])
def test_negative_counts_are_one_line_in_process(module, flags, expected, three_tracks, tmp_path, capsys):
    import importlib

    from hw2sep.errors import run_cli
    ckpt = ["--checkpoint" if module == "hw2sep.infer" else "--checkpoints", str(DEMO)]
    code = run_cli(importlib.import_module(module).main, ["--musdb-root", str(three_tracks), *ckpt,
                                                          "--out", str(tmp_path / "r"), *flags])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and expected in errors[0]
    assert not (tmp_path / "r" / "umx_vocals").exists()


@pytest.mark.parametrize("writer", ["results", "samples"])
def test_disk_full_is_one_line_naming_the_path(writer, three_tracks, tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if writer == "results":
        monkeypatch.setattr("hw2sep.evaluation.evaluate.write_csv", full)  # per_track.csv, after the tracks
    else:
        monkeypatch.setattr("soundfile.write", full)
    with pytest.raises(Hw2sepError) as caught:
        evaluate([DEMO], three_tracks, tmp_path / "out", methods=["mixture"], n_tracks=1, metric="fast", workers=0,
                 samples_dir=tmp_path / "samples", n_sample_tracks=1, progress=False)
    message = str(caught.value)
    assert "\n" not in message and "No space left on device" in message
    where = "per_track.csv" if writer == "results" else str(tmp_path / "samples")
    assert where in message, message
    assert len(list((tmp_path / "out").rglob("tracks/*.json"))) == 1  # the scored track was kept


def test_samples_of_other_settings_leave_the_index(three_tracks, tmp_path):
    common = dict(methods=["griffinlim"], n_tracks=1, metric="fast", workers=0, progress=False,
                  samples_dir=tmp_path / "samples")
    evaluate([DEMO], three_tracks, tmp_path / "out", gl_iterations=2, **common)
    index = json.loads((tmp_path / "samples" / "index.json").read_text())
    estimates = [e for e in index if e["kind"] == "estimate"]
    assert estimates and all(e["key"]["gl_iterations"] == 2 for e in estimates)
    # other settings, no samples written this time: the old excerpts and their scores must not stay listed
    evaluate([DEMO], three_tracks, tmp_path / "out", gl_iterations=3, n_sample_tracks=0, **common)
    index = json.loads((tmp_path / "samples" / "index.json").read_text())
    assert [e["kind"] for e in index if e["kind"] == "estimate"] == []
    assert not any((tmp_path / "samples" / e["file"]).exists() for e in estimates)
    assert {e["kind"] for e in index} == {"mixture", "reference"}  # the dataset's own excerpts stay
