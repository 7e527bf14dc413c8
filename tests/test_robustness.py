"""Nothing silently wrong: each damaged input is refused (or repaired) with one line saying what to do,
and nothing already written is lost or changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import assert_one_line_error, requires_ffmpeg, run_script
from hw2sep.errors import Hw2sepError

CONVERT = ("-m", "data_prep.musdb_to_npy")
REPORT = ("-m", "report.build_report")
DEMO = Path(__file__).resolve().parents[1] / "models" / "umx_vocals"


@pytest.fixture(scope="module")
def small_root(tmp_path_factory) -> Path:
    """2 train (1 valid) + 1 test toy tracks of 2 s, MUSDB18-HQ layout; tests copy it before damaging it."""
    from hw2sep.data.toy import make_toy_musdb
    return make_toy_musdb(tmp_path_factory.mktemp("small") / "musdb", n_train=2, n_test=1, seconds=2.0, seed=1)


@pytest.fixture()
def root(small_root, tmp_path) -> Path:
    return Path(shutil.copytree(small_root, tmp_path / "musdb"))


@pytest.fixture()
def converted(root, tmp_path) -> tuple[Path, Path, dict[str, bytes]]:
    """(root, npy cache of its train+valid tracks, every cache file's bytes right after conversion)."""
    from hw2sep.data.npy_cache import convert_to_npy
    out = tmp_path / "npy"
    convert_to_npy(root, out, progress=False)
    return root, out, _snapshot(out)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _add_track(root: Path, name: str) -> Path:
    """A new training track (a copy of the first one) that is not converted yet."""
    source = next(p for p in sorted((root / "train").iterdir()) if p.is_dir())
    return Path(shutil.copytree(source, root / "train" / name))


def _refused_without_trace(result, out: Path, before: dict[str, bytes], track: str, *fragments: str) -> None:
    """One error line naming the track and file, exit 2, the cache byte for byte as before, no entry for the track."""
    assert_one_line_error(result, f"track '{track}'", *fragments)
    assert result.returncode == 2
    assert _snapshot(out) == before, "the converted tracks and the manifest must not change"
    assert not (out / "train" / track).exists(), "no cache entry for the refused track"


# 1. Track names never collide ---------------------------------------------------------------------------

def test_similar_track_names_get_distinct_files(tmp_path):
    from hw2sep.evaluation.samples import read_index, slug, write_sample

    a, b = "Don't Stop", "Don t Stop"
    assert slug(a) != slug(b)
    assert slug(a).startswith("Don_t_Stop-") and slug(b).startswith("Don_t_Stop-")
    assert slug(a) == slug(a) and slug("abc") != slug("ABC")  # stable; apart on case-insensitive disks too
    loud, quiet = np.full((2, 100), 0.5, np.float32), np.full((2, 100), 0.25, np.float32)
    write_sample(tmp_path, a, "mixture", loud, {"kind": "mixture"})
    write_sample(tmp_path, b, "mixture", quiet, {"kind": "mixture"})
    index = read_index(tmp_path)
    assert sorted(e["track"] for e in index) == sorted([a, b]) and len({e["file"] for e in index}) == 2
    files = {e["track"]: sf.read(str(tmp_path / e["file"]))[0] for e in index}
    assert np.allclose(files[a], 0.5) and np.allclose(files[b], 0.25), "one sample overwrote the other"


# 2. Bad audio never reaches the npy cache ----------------------------------------------------------------

def test_stems_of_different_lengths_are_refused(converted):
    root, out, before = converted
    vocals = _add_track(root, "Zz Short Vocals") / "vocals.wav"
    audio, rate = sf.read(str(vocals))
    sf.write(str(vocals), audio[: len(audio) // 2], rate, subtype="PCM_16")
    result = run_script(*CONVERT, "--musdb-root", str(root), "--out", str(out))
    _refused_without_trace(result, out, before, "Zz Short Vocals", "stems of different lengths",
                           "vocals.wav 44100 samples, the others 88200", "re-extract or re-download")


@pytest.mark.parametrize("keep", ["half", "header"])
def test_truncated_wav_is_refused(converted, keep):
    root, out, before = converted
    vocals = _add_track(root, "Zz Truncated") / "vocals.wav"
    data = vocals.read_bytes()
    vocals.write_bytes(data[: len(data) // 2] if keep == "half" else data[:44])  # 44 bytes: the header only
    result = run_script(*CONVERT, "--musdb-root", str(root), "--out", str(out))
    held = "44094" if keep == "half" else "0"
    _refused_without_trace(result, out, before, "Zz Truncated", f"{vocals} is truncated",
                           f"its header promises 88200 samples, the file holds {held}")


def test_unreadable_wav_is_refused(converted):
    root, out, before = converted
    (_add_track(root, "Zz Garbage") / "bass.wav").write_bytes(b"not a wav at all")
    result = run_script(*CONVERT, "--musdb-root", str(root), "--out", str(out))
    _refused_without_trace(result, out, before, "Zz Garbage", "bass.wav is not a readable wav")


@requires_ffmpeg
def test_stem_mp4_with_two_streams_is_refused(tmp_path):
    import stempeg
    root, out = tmp_path / "musdb", tmp_path / "npy"
    (root / "train").mkdir(parents=True)
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, (2, 44100, 2)).astype(np.float32)
    stempeg.write_stems(str(root / "train" / "Two Streams.stem.mp4"), noise, sample_rate=44100)
    assert stempeg.Info(str(root / "train" / "Two Streams.stem.mp4")).nb_audio_streams == 2
    result = run_script(*CONVERT, "--musdb-root", str(root), "--out", str(out))
    assert_one_line_error(result, "track 'Two Streams'", "Two Streams.stem.mp4 has 2 audio stream(s)",
                          "a MUSDB18 .stem.mp4 has 5")
    assert result.returncode == 2 and "warnings" not in result.stderr
    assert not list(out.rglob("*.npy")) and not (out / "manifest.json").exists()


def test_track_load_refuses_damaged_track_for_evaluation(root):
    from hw2sep.data.musdb import list_tracks
    (track,) = list_tracks(root, "test")
    mixture = track.path / "mixture.wav"
    mixture.write_bytes(mixture.read_bytes()[:1000])
    with pytest.raises(Hw2sepError, match=r"mixture.wav is truncated") as info:
        track.load(("mixture", "vocals", "accompaniment"))
    assert f"track '{track.name}'" in str(info.value) and "\n" not in str(info.value)


# 3. A truncated npy is detected, never memory-mapped, and repaired by the next conversion ---------------

def test_truncated_npy_is_refused_then_repaired(converted):
    from hw2sep.data.excerpts import ExcerptDataset, TrackDataset
    from hw2sep.data.npy_cache import load_manifest, load_source

    root, out, before = converted
    entry = next(t for t in load_manifest(out)["tracks"] if t["subset"] == "train")
    vocals = out / "train" / entry["name"] / "vocals.npy"
    assert json.loads((vocals.parent / "track.json").read_text())["bytes"]["vocals"] == vocals.stat().st_size
    vocals.write_bytes(vocals.read_bytes()[:-1000])
    message = f"{vocals} is damaged"
    with pytest.raises(Hw2sepError, match="rerun python -m data_prep.musdb_to_npy") as info:
        load_source(out, entry, "vocals")
    assert message in str(info.value) and "track.json recorded" in str(info.value)
    with pytest.raises(Hw2sepError, match=message):
        ExcerptDataset(out, "train")  # at construction, in this process, not in a DataLoader worker
    TrackDataset(out, "valid")  # the other subset is intact

    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.npy") if p.parent != vocals.parent}
    result = run_script(*CONVERT, "--musdb-root", str(root), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert _snapshot(out) == before, "the repaired file equals the original; nothing else changed"
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items()), "the other tracks are not rewritten"
    assert len(ExcerptDataset(out, "train")) > 0


def test_leftover_temporary_files_are_removed(converted):
    root, out, before = converted
    track = next((out / "train").iterdir())
    leftovers = [track / ".vocals.npy.k3j2_x.npy.tmp", track / ".track.json.a1b2c3.json.tmp",
                 out / ".manifest.json.zz9.json.tmp"]
    for path in leftovers:
        path.write_bytes(b"\x93NUMPY half")
    result = run_script(*CONVERT, "--musdb-root", str(root), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert not any(p.exists() for p in leftovers)
    assert _snapshot(out) == before


# 4. One line instead of a traceback -----------------------------------------------------------------------

def test_truncated_manifest_is_refused_then_rewritten(converted):
    from hw2sep.data.excerpts import ExcerptDataset
    from hw2sep.data.npy_cache import load_manifest

    root, out, before = converted
    manifest = out / "manifest.json"
    manifest.write_text(manifest.read_text()[:150])
    with pytest.raises(Hw2sepError, match="manifest.json is damaged") as info:
        ExcerptDataset(out, "train")
    assert "rerun python -m data_prep.musdb_to_npy" in str(info.value) and "\n" not in str(info.value)
    manifest.write_text(json.dumps({"dtype": "int16", "scale": 32768.0, "tracks": [{"name": "x"}]}))
    with pytest.raises(Hw2sepError, match="lacks a name, subset or sample count"):
        load_manifest(out)
    result = run_script(*CONVERT, "--musdb-root", str(root), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert _snapshot(out) == before


@pytest.mark.parametrize("key,value,message", [
    ("epoch", "abc", "'epoch' is 'abc', not a whole number"),
    ("parameters", "many", "'parameters' is 'many', not a whole number"),
    ("valid_loss", [1], "'valid_loss' is [1], not a number"),
    ("config", {"hidden_size": "64"}, "config 'hidden_size' is '64', not a number"),
])
def test_checkpoint_json_with_non_numeric_value_is_refused(tmp_path, key, value, message):
    from hw2sep.models.checkpoint import read_meta
    from hw2sep.report.results import read_checkpoint_meta

    meta = json.loads(DEMO.with_suffix(".json").read_text())
    meta[key] = value
    (tmp_path / "best.json").write_text(json.dumps(meta))
    shutil.copy(DEMO.with_suffix(".pt"), tmp_path / "best.pt")
    readers = (read_meta,) if key == "config" else (read_meta, read_checkpoint_meta)  # config types: the model's
    for read in readers:
        with pytest.raises(Hw2sepError) as info:
            read(tmp_path / "best.json" if read is read_meta else tmp_path)
        assert message in str(info.value) and "best.json is damaged" in str(info.value)
    assert read_meta(DEMO)["epoch"] == json.loads(DEMO.with_suffix(".json").read_text())["epoch"]


def test_hostile_checkpoint_gives_one_plain_line(tmp_path):
    import torch

    from hw2sep.models.checkpoint import load_model

    class Hostile:
        def __reduce__(self):
            return (print, ("this ran at load time",))

    torch.save({"model": Hostile()}, tmp_path / "evil.pt")
    shutil.copy(DEMO.with_suffix(".json"), tmp_path / "evil.json")
    with pytest.raises(Hw2sepError) as info:
        load_model(tmp_path / "evil.pt")
    text = str(info.value)
    assert text.startswith(f"refusing to load pickled Python objects (print) from checkpoint {tmp_path / 'evil.pt'}")
    assert "\n" not in text and "\x1b" not in text and "weights_only" not in text
    (tmp_path / "evil.pt").write_bytes((tmp_path / "evil.pt").read_bytes()[:200])  # a cut copy: damaged, not hostile
    with pytest.raises(Hw2sepError, match=r"cannot read checkpoint .*evil.pt: .*copy it again") as info:
        load_model(tmp_path / "evil.pt")
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value) and "weights_only" not in str(info.value)


def _write_comparison(results: Path, text: str) -> Path:
    results.mkdir(parents=True, exist_ok=True)
    (results / "comparison.csv").write_text(text)
    return results / "comparison.csv"


HEADER = "checkpoint,epoch,method,target,tracks,SDR,SDR_mean,SDR_global,SIR,ISR,SAR\n"
ROWS = ["best,3,griffinlim,accompaniment,2,1.5,1.5,1.5,2,3,4\n", "best,3,griffinlim,vocals,2,0.5,0.5,0.5,2,3,4\n",
        "best,3,mixture,accompaniment,2,2.5,2.5,2.5,2,3,4\n", "best,3,mixture,vocals,2,1.0,1.0,1.0,2,3,4\n"]


def test_non_numeric_epoch_in_comparison_is_refused(tmp_path):
    from hw2sep.report.results import read_comparison

    path = _write_comparison(tmp_path, HEADER + "".join(ROWS).replace("best,3,", "best,abc,", 1))
    with pytest.raises(Hw2sepError) as info:
        read_comparison(tmp_path)
    assert str(info.value).startswith(f"{path} row 2: epoch 'abc' is not a whole number: rerun python -m hw2sep.evaluation.evaluate")
    assert read_comparison(_write_comparison(tmp_path / "ok", HEADER + "".join(ROWS)))[0]["epoch"] == 3


def test_report_warns_about_csv_cut_mid_row(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    text = HEADER + "".join(ROWS)
    path = _write_comparison(tmp_path / "results", text[: len(text) - 20])  # the last row loses its end
    before = path.read_bytes()
    out = tmp_path / "report" / "report.pdf"
    result = run_script(*REPORT, "--results", str(tmp_path / "results"), "--run", str(tmp_path / "run"),
                        "--samples", str(tmp_path / "samples"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {path} is cut off or malformed at row 5 (too few cells): rerun "
                        "python -m hw2sep.evaluation.evaluate with the same --out: it rewrites the csv files from the scored "
                        "tracks, which it keeps"], result.stderr
    pages = " ".join(page.extract_text() for page in pypdf.PdfReader(out).pages)
    assert "No Griffin-Lim result" not in pages and "damaged" in pages
    assert path.read_bytes() == before, "the report builder only reads result files"


def test_report_warns_about_damaged_checkpoint_json(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    meta = json.loads(DEMO.with_suffix(".json").read_text())
    (run / "best.json").write_text(json.dumps({**meta, "parameters": "lots"}))
    before = (run / "best.json").read_bytes()
    result = run_script(*REPORT, "--results", str(tmp_path / "results"), "--run", str(run),
                        "--samples", str(tmp_path / "samples"), "--out", str(tmp_path / "report.pdf"))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {run / 'best.json'} is damaged: 'parameters' is 'lots', not a whole number "
                        "(restore it from the training run folder, or rerun python -m hw2sep.training.train)"], result.stderr
    assert (run / "best.json").read_bytes() == before
