"""The training loop's guards (issue 18): no run is wiped, no mismatched resume, the 10 M limit, typed settings,
a full disk and a hostile pickle are each one line."""

import errno
import json
import os
import shutil

import pytest
import torch

from conftest import assert_one_line_error, run_script
from hw2sep.errors import Hw2sepError
from hw2sep.models.checkpoint import load_state
from hw2sep.training import train
from hw2sep.training.train import TrainConfig, fit, load_config
from hw2sep.training.vocoder import VocoderTrainConfig, fit_vocoder

TINY_VOCODER = {"dim": 16, "intermediate_dim": 32, "nb_layers": 1, "n_mels": 32, "n_fft": 2048, "hop": 1024}


def _config(npy, out, epochs=1, **kw) -> TrainConfig:
    base = dict(npy_root=str(npy), out=str(out), epochs=epochs, batch_size=2, seq_dur=1.0, samples_per_track=1,
                model_options={"hidden_size": 8, "nb_layers": 1}, nb_workers=0, checkpoint_epochs=(), device="cpu")
    return TrainConfig(**{**base, **kw})


def _vocoder(npy, out, **kw) -> VocoderTrainConfig:
    base = dict(vocoder=dict(TINY_VOCODER), steps=2, batch_size=1, seq_dur=0.25, samples_per_track=1,
                checkpoint_every=2, valid_subset="", device="cpu")
    return VocoderTrainConfig(npy_root=str(npy), out=str(out), **{**base, **kw})


def _train_args(npy, out):
    return ["-m", "hw2sep.training.train", "--npy-root", str(npy), "--out", str(out), "--epochs", "1",
            "--batch-size", "2", "--seq-dur", "1", "--samples-per-track", "1", "--hidden-size", "8",
            "--nb-layers", "1", "--nb-workers", "0", "--device", "cpu"]


def _vocoder_args(npy, out):
    return ["-m", "hw2sep.training.train_vocoder", "--npy-root", str(npy), "--out", str(out), "--steps", "2",
            "--batch-size", "1", "--seq-dur", "0.25", "--samples-per-track", "1", "--checkpoint-every", "2",
            "--valid-subset", "", "--dim", "16", "--intermediate-dim", "32", "--nb-layers", "1", "--n-mels", "32",
            "--n-fft", "2048", "--device", "cpu"]


def test_train_into_a_run_needs_resume_or_overwrite(toy_npy, tmp_path):
    fit(_config(toy_npy, tmp_path), progress=False)
    before = (tmp_path / "last.pt").read_bytes()
    assert_one_line_error(run_script(*_train_args(toy_npy, tmp_path)), "already holds a training run", "--resume")
    assert (tmp_path / "last.pt").read_bytes() == before  # nothing replaced
    (tmp_path / "epoch_009.pt").write_bytes(b"old")
    assert len(fit(_config(toy_npy, tmp_path), progress=False, overwrite=True)) == 1
    assert not (tmp_path / "epoch_009.pt").exists()  # the replaced run leaves no stale checkpoint


def test_train_vocoder_into_a_run_needs_resume(toy_npy, tmp_path):
    fit_vocoder(_vocoder(toy_npy, tmp_path), progress=False)
    assert_one_line_error(run_script(*_vocoder_args(toy_npy, tmp_path), "--hop", "1024"), "already holds a training run")


def test_vocoder_resume_with_another_stft_is_refused(toy_npy, tmp_path):
    fit_vocoder(_vocoder(toy_npy, tmp_path), progress=False, stop_at=1)
    result = run_script(*_vocoder_args(toy_npy, tmp_path), "--hop", "512", "--resume")
    assert_one_line_error(result, "cannot resume", "hop 1024, now 512")
    assert json.loads((tmp_path / "last.json").read_text())["stft"]["hop"] == 1024


def test_separator_over_10m_parameters_is_refused_unless_allowed(toy_npy, tmp_path, monkeypatch):
    result = run_script(*_train_args(toy_npy, tmp_path), "--set", "model_options.hidden_size=600",
                        "--set", "model_options.nb_layers=3")  # issue 18's 11.5 M UMX
    assert_one_line_error(result, "over the assignment's limit of 10,000,000", "--allow-over-10m")
    assert not (tmp_path / "last.pt").exists()
    monkeypatch.setattr(train, "PARAMETER_LIMIT", 1000)  # the tiny model stands in for a large one
    fit(_config(toy_npy, tmp_path), progress=False, allow_over_10m=True)
    assert json.loads((tmp_path / "best.json").read_text())["over_10m"] is True


@pytest.mark.parametrize("setting, expected", [
    ("epochs=2.5", "setting epochs=2.5: expected a whole number"),
    ("samples_per_track=1.5", "setting samples_per_track=1.5: expected a whole number"),
    ("augment.gain=abc", "setting augment.gain='abc': expected a list"),
    ("model_options.hidden_size=abc", "setting model_options.hidden_size='abc': expected a whole number"),
    ("epochs=abc", "setting epochs='abc': expected a whole number"),
    ("lr=fast", "setting lr='fast': expected a number"),
    ("batch_size=2.5", "setting batch_size=2.5: expected a whole number"),
    ("amp=maybe", "setting amp='maybe': expected true or false"),
    ("checkpoint_epochs=[25,2.5]", "checkpoint_epochs=[25, 2.5]: expected a list of whole numbers"),
    ("nb_workers=-2", "nb_workers must be at least 0, got -2"),
])
def test_wrongly_typed_setting_is_one_line(setting, expected):
    with pytest.raises(Hw2sepError) as info:
        load_config(None, [setting], npy_root="npy")
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_wrongly_typed_settings_on_the_command_line(toy_npy, tmp_path):
    assert_one_line_error(run_script(*_train_args(toy_npy, tmp_path), "--set", "epochs=2.5"),
                          "epochs=2.5", "whole number")
    assert_one_line_error(run_script(*_vocoder_args(toy_npy, tmp_path), "--hop", "1024", "--steps", "0"),
                          "steps must be at least 1, got 0")
    assert not any(tmp_path.iterdir())


def test_best_copied_over_last_says_the_training_state_is_missing(toy_npy, tmp_path):
    fit(_config(toy_npy, tmp_path), progress=False)
    shutil.copy(tmp_path / "best.pt", tmp_path / "last.pt")
    with pytest.raises(Hw2sepError, match="no training state"):
        fit(_config(toy_npy, tmp_path, epochs=2), resume=True, progress=False)


def test_rerun_after_a_crash_at_start_is_accepted(toy_npy, tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("killed in the first epoch")

    monkeypatch.setattr(train, "train_one_epoch", crash)
    with pytest.raises(RuntimeError):
        fit(_config(toy_npy, tmp_path, lr=1e-3), progress=False)
    monkeypatch.undo()
    assert len(fit(_config(toy_npy, tmp_path, lr=2e-3), progress=False)) == 1  # other settings, nothing trained


def test_full_disk_is_one_line_naming_the_path_and_damages_nothing(toy_npy, tmp_path, monkeypatch):
    fit(_config(toy_npy, tmp_path), progress=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(Hw2sepError) as info:
        fit(_config(toy_npy, tmp_path, epochs=2), resume=True, progress=False)
    text = str(info.value)
    assert str(tmp_path) in text and ".pt" in text and "No space left on device" in text and "\n" not in text
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporary left, nothing changed
    monkeypatch.undo()
    assert load_state(tmp_path / "last")["state"]["epoch"] == 1


def test_hostile_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"

    class Hostile:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"model": Hostile()}, tmp_path / "evil.pt")
    with pytest.raises(Hw2sepError, match="refusing to load pickled Python objects") as info:
        load_state(tmp_path / "evil.pt")
    assert "posix.system" in str(info.value) and not marker.exists()
