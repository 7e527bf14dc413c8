"""Separation, evaluation and the TA's infer.py, on the toy set with a tiny trained model."""

import csv
import json

import numpy as np
import pytest
import torch

from conftest import REPO, assert_one_line_error, run_script
from hw2sep.models.checkpoint import load_model
from hw2sep.data.musdb import list_tracks
from hw2sep.evaluation.evaluate import evaluate
from hw2sep.report.results import read_index
from hw2sep.models.base import SeparationModel
from hw2sep.evaluation.metrics import bss_eval, track_median
from hw2sep.separation.separator import Separator
from hw2sep.training.train import TrainConfig, fit


@pytest.fixture(scope="module")
def checkpoint(toy_npy, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    fit(TrainConfig(npy_root=str(toy_npy), out=str(out), epochs=2, batch_size=4, seq_dur=1.0, samples_per_track=2,
                    model_options={"hidden_size": 16, "nb_layers": 1}, nb_workers=0, checkpoint_epochs=(1, 2),
                    device="cpu"), progress=False)
    return out


def test_chunked_separation_matches_whole_track(checkpoint, toy_root):
    model, _ = load_model(checkpoint / "best.pt")
    mixture = list_tracks(toy_root, "test")[0].load(("mixture",))["mixture"]
    whole = Separator(model, chunk_seconds=60).magnitudes(mixture)[1]
    chunked = Separator(model, chunk_seconds=1.0, context_seconds=1.0).magnitudes(mixture)[1]
    assert chunked.shape == whole.shape
    # the bidirectional LSTM sees 1 s of context on each side: close, not identical
    assert (chunked - whole).abs().mean() < 0.05 * whole.abs().mean()
    exact = Separator(model, chunk_seconds=1.0, context_seconds=10.0).magnitudes(mixture)[1]
    torch.testing.assert_close(exact, whole, rtol=1e-4, atol=1e-5)


class _ConstantMask(SeparationModel):
    """A stand-in model whose vocals are 0.3 x the mixture magnitude (so never above it)."""

    def __init__(self, hop):
        super().__init__()
        self.config = type("Config", (), {"n_fft": 4096, "hop": hop, "nb_channels": 2})()

    def forward(self, mix_mag):
        return 0.3 * mix_mag


def test_residual_accompaniment_sums_to_the_mixture(toy_root):
    mixture = list_tracks(toy_root, "test")[0].load(("mixture",))["mixture"]
    separator = Separator(_ConstantMask(1024))
    mix_stft, mags = separator.magnitudes(mixture)
    torch.testing.assert_close(mags.sum(0), mix_stft.abs())  # accompaniment = |X| - vocals
    est = separator.separate(mixture, ["mixture", "griffinlim"], gl_iterations=2)
    for waves in est.values():
        assert all(w.shape == mixture.shape and w.dtype == np.float32 for w in waves.values())
    np.testing.assert_allclose(est["mixture"]["vocals"] + est["mixture"]["accompaniment"], mixture, atol=1e-5)
    np.testing.assert_allclose(est["mixture"]["vocals"], 0.3 * mixture, atol=1e-5)


def test_evaluate_writes_results_and_resumes(checkpoint, toy_root, tmp_path):
    ckpts = [checkpoint / "epoch_001.pt", checkpoint / "epoch_002.pt"]
    rows = evaluate(ckpts, toy_root, tmp_path, methods=["mixture"], metric="fast", progress=False)
    assert {(r["epoch"], r["target"]) for r in rows} == {(1, "vocals"), (1, "accompaniment"),
                                                         (2, "vocals"), (2, "accompaniment")}
    per_track = list(csv.DictReader(open(tmp_path / "epoch_002" / "mixture" / "per_track.csv")))
    vocals = [float(r["SDR"]) for r in per_track if r["target"] == "vocals"]
    row = next(r for r in rows if r["epoch"] == 2 and r["target"] == "vocals")
    assert row["SDR"] == pytest.approx(np.median(vocals), abs=1e-4)  # median of per-track medians
    record = json.loads(next((tmp_path / "epoch_002" / "mixture" / "tracks").glob("*.json")).read_text())
    assert [t["name"] for t in record["targets"]] == ["vocals", "accompaniment"]
    assert {"SDR", "SIR", "ISR", "SAR"} <= set(record["targets"][0]["frames"][0]["metrics"])
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("tracks/*.json")}
    evaluate(ckpts, toy_root, tmp_path, methods=["mixture"], metric="fast", progress=False)
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items()), "finished tracks are skipped"


def test_reported_sdr_agrees_with_museval(checkpoint, toy_root, tmp_path):
    pytest.importorskip("museval")
    rows = evaluate([checkpoint / "best.pt"], toy_root, tmp_path, methods=["mixture"], metric="museval",
                    n_tracks=1, progress=False)
    model, _ = load_model(checkpoint / "best.pt")
    audio = list_tracks(toy_root, "test")[0].load(("mixture", "vocals", "accompaniment"))
    est = Separator(model).separate(audio["mixture"])["mixture"]
    fast = track_median(bss_eval(np.stack([audio["vocals"], audio["accompaniment"]]),
                                 np.stack([est["vocals"], est["accompaniment"]]), backend="fast")["SDR"])
    by_target = {r["target"]: r["SDR"] for r in rows}
    assert by_target["vocals"] == pytest.approx(fast[0], abs=0.01)
    assert by_target["accompaniment"] == pytest.approx(fast[1], abs=0.01)


def test_infer_prints_sdr_and_writes_samples(checkpoint, toy_root, tmp_path):
    result = run_script("hw2sep/infer.py", "--musdb-root", str(toy_root), "--checkpoint", str(checkpoint / "best.pt"),
                        "--out", str(tmp_path / "res"), "--samples", str(tmp_path / "samples"), "--metric", "fast",
                        "--sample-tracks", "1", "--gl-iterations", "4")
    assert result.returncode == 0, result.stderr
    assert "median of medians" in result.stdout and "griffinlim" in result.stdout and "total" in result.stdout
    index = json.loads((tmp_path / "samples" / "index.json").read_text())
    kinds = {(e["kind"], e["method"]) for e in index}
    assert {("mixture", None), ("reference", None), ("estimate", "mixture"), ("estimate", "griffinlim")} <= kinds
    assert all((tmp_path / "samples" / e["file"]).exists() for e in index)
    assert (tmp_path / "samples" / "index.md").read_text().count(".wav") >= 7


def test_shipped_demo_checkpoint_runs_on_the_embedded_toy_set(tmp_path):
    env_cache = tmp_path / "cache"
    import os
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "hw2sep/infer.py", "--tracks", "1", "--phase", "mixture", "--metric", "fast",
                             "--out", str(tmp_path / "res"), "--samples", str(tmp_path / "s"), "--sample-tracks", "1"],
                            cwd=REPO, capture_output=True, text=True, env={**os.environ, "HW2SEP_CACHE": str(env_cache)},
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert "embedded toy test set" in result.stdout
    meta = json.loads((REPO / "models" / "umx_vocals.json").read_text())
    assert meta["demo"] is True and "NOT MUSDB18" in meta["dataset"]
    sdr = [float(line.split()[-3]) for line in result.stdout.splitlines() if line.strip().startswith("Toy")]
    assert sdr and sdr[0] > 0, result.stdout  # the demo model really separates toy vocals


@pytest.mark.parametrize("case", ["missing_root", "no_test_tracks", "missing_ckpt", "corrupt_ckpt",
                                  "incompatible_ckpt", "cuda"])
def test_infer_bad_input_is_one_line(case, checkpoint, toy_root, tmp_path):
    import shutil
    args = ["--musdb-root", str(toy_root), "--checkpoint", str(checkpoint / "best.pt"), "--out", str(tmp_path / "r"),
            "--samples", str(tmp_path / "s"), "--metric", "fast"]
    expected = {"missing_root": "does not exist", "no_test_tracks": "no 'test' tracks", "missing_ckpt": "missing checkpoint",
                "corrupt_ckpt": "cannot read checkpoint", "incompatible_ckpt": "does not fit", "cuda": "CUDA"}[case]
    if case == "missing_root":
        args[1] = str(tmp_path / "nowhere")
    elif case == "no_test_tracks":
        shutil.copytree(toy_root / "train", tmp_path / "only_train" / "train")
        args[1] = str(tmp_path / "only_train")
    elif case == "missing_ckpt":
        args[3] = str(tmp_path / "absent.pt")
    elif case in ("corrupt_ckpt", "incompatible_ckpt"):
        shutil.copy(checkpoint / "best.json", tmp_path / "bad.json")
        if case == "corrupt_ckpt":
            (tmp_path / "bad.pt").write_bytes(b"not a zip file")
        else:
            shutil.copy(checkpoint / "best.pt", tmp_path / "bad.pt")
            meta = json.loads((tmp_path / "bad.json").read_text())
            meta["config"]["hidden_size"] = 24
            (tmp_path / "bad.json").write_text(json.dumps(meta))
        args[3] = str(tmp_path / "bad.pt")
    else:
        args += ["--device", "cuda"]
    if case == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert_one_line_error(run_script("hw2sep/infer.py", *args), expected)


@pytest.mark.parametrize("metric", ["fast", "mir_eval"])
def test_the_samples_index_names_the_metric_that_scored(toy_root, tmp_path, metric):
    from hw2sep.names import metric_label
    evaluate([REPO / "models" / "umx_vocals.pt"], toy_root, tmp_path / "out", methods=["mixture"], n_tracks=1,
             metric=metric, device="cpu", samples_dir=tmp_path / "samples", n_sample_tracks=1, progress=False, workers=0)
    index = (tmp_path / "samples" / "index.md").read_text()
    assert f"scored with {metric_label(metric)}." in index and "museval SDR" not in index
    assert {e["metric"] for e in read_index(tmp_path / "samples") if e["kind"] == "estimate"} == {metric}
