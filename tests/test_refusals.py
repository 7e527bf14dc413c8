"""Nothing silently wrong: nonsense settings are refused in one line before any work, and a cached score
is reused only when every setting that changes its number is the same."""

import json

import numpy as np
import pytest
import torch

from conftest import assert_one_line_error, run_script
from hw2sep.models.checkpoint import load_model
from hw2sep.evaluation.evaluate import evaluate
from hw2sep.separation.separator import Separator
from hw2sep.training.train import TrainConfig, fit
from hw2sep.dsp.stft import istft, stft


@pytest.fixture(scope="module")
def tiny_run(toy_npy, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_run")
    fit(TrainConfig(npy_root=str(toy_npy), out=str(out), epochs=1, batch_size=2, seq_dur=1.0, samples_per_track=1,
                    model_options={"hidden_size": 8, "nb_layers": 1}, nb_workers=0, checkpoint_epochs=(),
                    device="cpu"), progress=False)
    return out


def _infer_args(run, toy_root, tmp_path):
    return ["--musdb-root", str(toy_root), "--checkpoint", str(run / "best.pt"), "--out", str(tmp_path / "r"),
            "--samples", str(tmp_path / "s"), "--metric", "fast", "--tracks", "1", "--sample-tracks", "0"]


@pytest.mark.parametrize("flags, expected", [
    (["--tracks", "0"], "--tracks must be at least 1"),
    (["--tracks", "-1"], "--tracks must be at least 1"),
    (["--gl-iterations", "0"], "--gl-iterations must be at least 1"),
    (["--gl-iterations", "-3"], "--gl-iterations must be at least 1"),
    (["--phase", "sideways"], "--phase sideways"),
    (["--phase", "direct"], "method 'direct' needs a complex or waveform model"),
])
def test_infer_refuses_nonsense_settings(flags, expected, tiny_run, toy_root, tmp_path):
    result = run_script("hw2sep/infer.py", *_infer_args(tiny_run, toy_root, tmp_path), *flags)
    assert_one_line_error(result, expected)
    assert not (tmp_path / "r" / "best").exists()  # refused before any track was separated


@pytest.mark.parametrize("which", ["--out", "--samples"])
def test_unwritable_folders_are_refused_before_any_work(which, tiny_run, toy_root, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    args = _infer_args(tiny_run, toy_root, tmp_path)
    args[args.index(which) + 1] = str(blocker / "sub")
    assert_one_line_error(run_script("hw2sep/infer.py", *args), "not writable")
    assert not (tmp_path / "r" / "best").exists()


def test_a_changed_setting_rescores_instead_of_reusing_the_cached_number(tiny_run, toy_root, tmp_path):
    common = dict(methods=["griffinlim"], n_tracks=1, metric="fast", device="cpu", progress=False)
    first = evaluate([tiny_run / "best.pt"], toy_root, tmp_path, gl_iterations=1, **common)
    track_file = next((tmp_path / "best" / "griffinlim" / "tracks").glob("*.json"))
    assert json.loads(track_file.read_text())["hw2sep"]["key"]["gl_iterations"] == 1
    again = evaluate([tiny_run / "best.pt"], toy_root, tmp_path, gl_iterations=1, **common)
    assert again == first  # same settings: the cached score is reused
    changed = evaluate([tiny_run / "best.pt"], toy_root, tmp_path, gl_iterations=16, **common)
    assert json.loads(track_file.read_text())["hw2sep"]["key"]["gl_iterations"] == 16
    assert changed[0]["SDR"] != first[0]["SDR"]
    reseeded = evaluate([tiny_run / "best.pt"], toy_root, tmp_path, gl_iterations=16, seed=5, **common)
    assert json.loads(track_file.read_text())["hw2sep"]["key"]["seed"] == 5
    assert reseeded[0]["SDR"] != changed[0]["SDR"]


def test_the_checkpoint_stft_is_the_one_separation_uses(tiny_run, tmp_path):
    meta = json.loads((tiny_run / "best.json").read_text())
    meta["config"]["hop"] = 512  # the weights of UMX do not depend on the hop: only the json says it
    (tmp_path / "hop512.json").write_text(json.dumps(meta))
    (tmp_path / "hop512.pt").write_bytes((tiny_run / "best.pt").read_bytes())
    model, _ = load_model(tmp_path / "hop512.pt")
    mixture = np.random.default_rng(0).standard_normal((2, 44100)).astype(np.float32)
    separated = Separator(model).separate(mixture, ["mixture"])["mixture"]["vocals"]
    spec = stft(torch.from_numpy(mixture), n_fft=4096, hop=512)
    with torch.no_grad():
        vocals = model(spec.abs()[None])[0]
    expected = istft(vocals * torch.exp(1j * spec.angle()), mixture.shape[-1], n_fft=4096, hop=512)
    np.testing.assert_allclose(separated, expected.numpy(), atol=1e-5)


@pytest.mark.parametrize("flags, expected", [
    (["--batch-size", "0"], "batch_size must be at least 1"),
    (["--epochs", "0"], "epochs must be at least 1"),
    (["--epochs", "-2"], "epochs must be at least 1"),
    (["--set", "hidden_size=3"], "unknown training setting"),
    (["--set", "epochs"], "--set wants key=value"),
    (["--config", "configs/nowhere.json"], "not found"),
    (["--loss", "nope"], None),
])
def test_train_refuses_nonsense_settings(flags, expected, toy_npy, tmp_path):
    if expected is None:  # --loss is not a flag: it goes through --set
        flags, expected = ["--set", "loss=nope", "--epochs", "1"], "unknown loss 'nope'"
    result = run_script("-m", "hw2sep.training.train", "--npy-root", str(toy_npy), "--out", str(tmp_path / "run"), *flags)
    assert_one_line_error(result, expected)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_train_warns_when_excerpts_are_longer_than_every_track(toy_npy, tmp_path):
    result = run_script("-m", "hw2sep.training.train", "--npy-root", str(toy_npy), "--out", str(tmp_path / "run"),
                        "--seq-dur", "60", "--epochs", "1", "--batch-size", "2", "--samples-per-track", "1",
                        "--hidden-size", "8", "--nb-layers", "1", "--nb-workers", "0", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "zero-padded" in result.stderr


@pytest.fixture(scope="module")
def tiny_vocoders(tiny_run, toy_npy, tmp_path_factory):
    """A mel and a linear vocoder trained 2 steps with the tiny separator's STFT, and one with another STFT."""
    from hw2sep.training.vocoder import VocoderTrainConfig, fit_vocoder
    out = tmp_path_factory.mktemp("vocoders")
    tiny = {"dim": 16, "intermediate_dim": 32, "nb_layers": 1, "n_mels": 32}
    common = dict(steps=2, batch_size=1, seq_dur=0.25, samples_per_track=1, checkpoint_every=2, valid_subset="",
                  device="cpu")
    for name, options, source in (("mel", {}, tiny_run / "best.pt"), ("linear", {"features": "linear"}, tiny_run / "best.pt"),
                                  ("other_stft", {"n_fft": 2048, "hop": 512}, None)):
        fit_vocoder(VocoderTrainConfig(npy_root=str(toy_npy), out=str(out / name), vocoder={**tiny, **options},
                                       stft_from=str(source) if source else None, **common), progress=False)
    return out


def test_vocoder_methods_score_sdr_and_spectral_distance(tiny_run, tiny_vocoders, toy_root, tmp_path):
    rows = evaluate([tiny_run / "best.pt"], toy_root, tmp_path, methods=["vocoder", "vocoder-linear", "mixture"],
                    n_tracks=1, metric="fast", device="cpu", progress=False,
                    vocoders=[tiny_vocoders / "mel" / "best.pt", tiny_vocoders / "linear" / "best.pt"])
    assert {r["method"] for r in rows} == {"vocoder", "vocoder-linear", "mixture"}
    assert all(r["SDR"] is not None and r["LSD"] is not None and r["LSD"] >= 0 for r in rows)
    key = json.loads(next((tmp_path / "best" / "vocoder" / "tracks").glob("*.json")).read_text())["hw2sep"]["key"]
    assert len(key["vocoder_sha1"]) == 12  # another vocoder's score is never reused


@pytest.mark.parametrize("vocoder, phase, expected", [
    (None, "vocoder", "needs a mel vocoder checkpoint"),
    ("mel", "vocoder-linear", "needs a linear vocoder checkpoint"),
    ("other_stft", "vocoder", "trained for n_fft 2048"),
])
def test_vocoder_refusals_are_one_line(vocoder, phase, expected, tiny_run, tiny_vocoders, toy_root, tmp_path):
    extra = ["--vocoder", str(tiny_vocoders / vocoder / "best.pt")] if vocoder else []
    result = run_script("hw2sep/infer.py", *_infer_args(tiny_run, toy_root, tmp_path), "--phase", phase, *extra)
    assert_one_line_error(result, expected)
