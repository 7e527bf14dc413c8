"""Training: a tiny model overfits a tiny set, resume equals an uninterrupted run, bad input is one line."""

import csv
import json

import pytest
import torch

from conftest import assert_one_line_error, run_script
from hw2sep.models.checkpoint import load_model, load_state
from hw2sep.data.excerpts import Augment
from hw2sep.errors import Hw2sepError
from hw2sep.training.train import TrainConfig, fit


def _config(npy, out, epochs, **kw):
    base = dict(npy_root=str(npy), out=str(out), epochs=epochs, batch_size=4, seq_dur=1.0, samples_per_track=4,
                model_options={"hidden_size": 16, "nb_layers": 1}, nb_workers=0, checkpoint_epochs=(2, 3),
                device="cpu")
    return TrainConfig(**{**base, **kw})


def test_tiny_model_overfits_tiny_set(toy_npy, tmp_path):
    config = _config(toy_npy, tmp_path, epochs=30, samples_per_track=2, batch_size=2, lr=1e-2,
                     augment=Augment.none(), train_subset="valid", valid_subset="valid",
                     model_options={"hidden_size": 32, "nb_layers": 1}, checkpoint_epochs=())
    history = fit(config, progress=False)
    first, last = history[0]["train_loss"], min(h["train_loss"] for h in history[-5:])
    assert last < 0.3 * first, (first, last)
    assert history[-1]["valid_loss"] < 0.5 * history[0]["valid_loss"]


def test_resume_equals_uninterrupted_run(toy_npy, tmp_path):
    fit(_config(toy_npy, tmp_path / "straight", epochs=4), progress=False)
    fit(_config(toy_npy, tmp_path / "resumed", epochs=2), progress=False)
    fit(_config(toy_npy, tmp_path / "resumed", epochs=4), resume=True, progress=False)
    straight, resumed = load_state(tmp_path / "straight" / "last"), load_state(tmp_path / "resumed" / "last")
    for key, value in straight["model"].items():
        torch.testing.assert_close(resumed["model"][key], value, rtol=1e-6, atol=1e-7)
    assert straight["state"]["history"][-1]["train_loss"] == pytest.approx(resumed["state"]["history"][-1]["train_loss"])
    with open(tmp_path / "resumed" / "log.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3, 4]


def test_checkpoints_and_sidecars(toy_npy, tmp_path):
    fit(_config(toy_npy, tmp_path, epochs=3), progress=False)
    names = sorted(p.name for p in tmp_path.glob("*.pt"))
    assert names == ["best.pt", "epoch_002.pt", "epoch_003.pt", "last.pt"]
    meta = json.loads((tmp_path / "epoch_002.json").read_text())
    assert meta["epoch"] == 2 and meta["model"] == "umx" and meta["parameters"] > 0
    assert meta["train"]["seq_dur"] == 1.0 and len(meta["dataset_fingerprint"]) == 12
    model, _ = load_model(tmp_path / "epoch_002.pt")  # rebuilt from the json alone, weights_only load
    assert model.config.hidden_size == 16
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("change, fragment", [
    ({"npy_root": "/nonexistent/npy"}, "no manifest.json"),
    ({"train_subset": "test"}, "never used for training"),
    ({"model": "nope"}, "unknown model"),
])
def test_bad_configuration_is_refused(toy_npy, tmp_path, change, fragment):
    with pytest.raises(Hw2sepError, match=fragment):
        fit(_config(toy_npy, tmp_path, epochs=1, **change), progress=False)


def test_cli_trains_and_refuses_bad_input(toy_npy, tmp_path):
    args = ["--npy-root", str(toy_npy), "--out", str(tmp_path), "--epochs", "1", "--batch-size", "4", "--seq-dur", "1",
            "--samples-per-track", "2", "--hidden-size", "8", "--nb-workers", "0", "--device", "cpu"]
    result = run_script("-m", "hw2sep.training.train", *args)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "last.pt").exists() and "best valid loss" in result.stdout
    assert_one_line_error(run_script("-m", "hw2sep.training.train", *args[:-2], "--device", "cuda:7"), "cuda")
    assert_one_line_error(run_script("-m", "hw2sep.training.train", *args, "--train-subset", "test"), "test subset")
    assert_one_line_error(run_script("-m", "hw2sep.training.train", *args, "--model", "unet9"), "unknown model")
