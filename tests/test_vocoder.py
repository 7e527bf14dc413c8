"""The phase vocoder (hw2sep.vocoder): overfitting, lengths, STFT checks, checkpoints, CLI, resume."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from conftest import REPO, assert_one_line_error, run_script
from hw2sep.errors import Hw2sepError
from hw2sep.dsp.stft import STFTParams
from hw2sep.vocoder import (Vocoder, VocoderConfig, load_vocoder, log_spectral_distance,
                            multi_resolution_stft_distance, save_vocoder, vocode)
from hw2sep.vocoder.losses import MelL1, multi_resolution_stft_loss
from hw2sep.training.vocoder import VocoderTrainConfig, fit_vocoder, resolve_vocoder_options, synthesise

TINY = dict(n_fft=256, hop=64, n_mels=32, dim=32, intermediate_dim=64, nb_layers=2)


def tiny_vocoder(seed: int = 0, **options) -> Vocoder:
    torch.manual_seed(seed)
    return Vocoder(VocoderConfig(**{**TINY, **options})).eval()


def loudest_second(audio: np.ndarray) -> torch.Tensor:
    """The 1 s of int16 stereo (samples, 2) audio with the most energy. Shape: -> (2, 44100)."""
    x = torch.from_numpy(np.ascontiguousarray(audio.T)).float() / 32768
    energy = x.square().mean(0).unfold(0, 44100, 4410).mean(-1)
    start = int(energy.argmax()) * 4410
    return x[:, start:start + 44100]


def test_tiny_vocoder_overfits_toy_vocals():
    from hw2sep.data.toy import synth_track
    vocals = loudest_second(synth_track(0, 0, 3.0)[1]["vocals"])  # two channels = two mono signals
    vocoder = tiny_vocoder(dim=64, intermediate_dim=128).train()
    mel_l1 = MelL1(vocoder.stft_params, vocoder.config.n_mels)
    optimizer = torch.optim.Adam(vocoder.parameters(), lr=5e-3)
    losses = []
    for _ in range(30):
        estimate = synthesise(vocoder, vocals)
        loss = multi_resolution_stft_loss(vocals, estimate)
        optimizer.zero_grad()
        (loss + mel_l1(vocals, estimate)).backward()
        optimizer.step()
        losses.append(loss.item())
    assert min(losses[-5:]) < 0.5 * losses[0], losses


@pytest.mark.parametrize("features", ["mel", "linear"])
def test_output_length_equals_input_length(features):
    vocoder = tiny_vocoder(features=features)
    hop = vocoder.config.hop
    for length in (hop * 10, hop * 37, hop * 37 + 1, hop * 37 + 29, hop * 38 - 1):
        mags = torch.rand(2, 3, 129, 1 + length // hop)  # (sources, channels, bins, frames)
        whole = vocoder(mags, length)
        chunked = vocode(mags, length, vocoder, chunk_frames=8)
        assert whole.shape == chunked.shape == (2, 3, length)
        torch.testing.assert_close(chunked, whole, atol=1e-6, rtol=1e-5)


def test_vocode_refuses_a_magnitude_of_another_stft():
    vocoder = tiny_vocoder()
    with pytest.raises(Hw2sepError, match="STFTs differ"):
        vocode(torch.rand(1, 2049, 11), 10 * 64, vocoder)
    with pytest.raises(Hw2sepError, match="frames do not fit"):
        vocode(torch.rand(1, 129, 11), 20 * 64, vocoder)


def test_checkpoint_loads_weights_only_and_rebuilds_from_json(tmp_path):
    vocoder = tiny_vocoder(seed=3)
    save_vocoder(tmp_path / "voc", vocoder, {"note": "test"})
    state = torch.load(tmp_path / "voc.pt", weights_only=True)
    assert set(state) == {"model"}
    loaded = load_vocoder(tmp_path / "voc.pt", STFTParams(256, 64, "hann"))
    mags = torch.rand(2, 129, 21)
    torch.testing.assert_close(loaded(mags, 20 * 64), vocoder(mags, 20 * 64))
    meta = (tmp_path / "voc.json").read_text()
    for key in ('"stft"', '"sample_rate": 44100', '"features": "mel"', '"n_mels": 32', '"receptive_field_frames": 19'):
        assert key in meta


@pytest.mark.parametrize("separator", [STFTParams(512, 64, "hann"), STFTParams(256, 128, "hann"),
                                       STFTParams(256, 64, "hamming")])
def test_stft_mismatch_with_the_separator_is_one_clear_line(tmp_path, separator):
    save_vocoder(tmp_path / "voc", tiny_vocoder(), {})
    with pytest.raises(Hw2sepError) as err:
        load_vocoder(tmp_path / "voc.pt", separator)
    message = str(err.value)
    assert "\n" not in message and "separator uses" in message and "--stft-from" in message
    with pytest.raises(Hw2sepError, match="44100 Hz"):
        load_vocoder(tmp_path / "voc.pt", STFTParams(256, 64, "hann"), sample_rate=22050)


def test_stft_is_read_from_the_separator_checkpoint():
    demo = str(REPO / "models" / "umx_vocals.pt")
    options = resolve_vocoder_options(VocoderTrainConfig(npy_root="", out="", stft_from=demo))
    assert (options["n_fft"], options["hop"], options["window"]) == (4096, 1024, "hann")
    with pytest.raises(Hw2sepError, match="contradicts"):
        resolve_vocoder_options(VocoderTrainConfig(npy_root="", out="", stft_from=demo, vocoder={"hop": 512}))
    with pytest.raises(Hw2sepError, match="--stft-from"):
        resolve_vocoder_options(VocoderTrainConfig(npy_root="", out=""))


def test_spectral_distances_ignore_phase():
    torch.manual_seed(0)
    x = torch.randn(2, 8192)
    params = STFTParams(1024, 256, "hann")
    assert log_spectral_distance(x, x, params).abs().max() < 1e-4
    assert log_spectral_distance(x, -x, params).abs().max() < 1e-4  # same magnitudes, phase shifted by pi
    assert log_spectral_distance(x, 0.5 * x, params).sub(20 * np.log10(2)).abs().max() < 1e-3
    assert multi_resolution_stft_distance(x, -x).abs().max() < 1e-4
    noise = torch.randn(2, 8192)
    assert (multi_resolution_stft_distance(x, x + noise) > 0.1).all()
    assert log_spectral_distance(x, x + noise, params).shape == (2,)


def _train_config(npy, out, **overrides) -> VocoderTrainConfig:
    settings = dict(vocoder=dict(TINY), steps=4, batch_size=2, seq_dur=0.25, samples_per_track=4,
                    checkpoint_every=2, valid_seconds=0.5, seed=1, device="cpu")
    return VocoderTrainConfig(npy_root=str(npy), out=str(out), **{**settings, **overrides})


def test_resumed_run_equals_uninterrupted_run(toy_npy, tmp_path):
    straight = fit_vocoder(_train_config(toy_npy, tmp_path / "a"), progress=False)
    first = fit_vocoder(_train_config(toy_npy, tmp_path / "b"), progress=False, stop_at=2)
    assert [row["step"] for row in first] == [2]
    resumed = fit_vocoder(_train_config(toy_npy, tmp_path / "b"), resume=True, progress=False)
    assert [row["step"] for row in straight] == [row["step"] for row in resumed] == [2, 4]
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    for name, tensor in a["model"].items():
        torch.testing.assert_close(b["model"][name], tensor, atol=1e-6, rtol=0)
    for x, y in zip(straight, resumed):
        assert x["train_loss"] == pytest.approx(y["train_loss"], abs=1e-6)
        assert x["valid_loss"] == pytest.approx(y["valid_loss"], abs=1e-6)
    for name in ("log.csv", "best.pt", "best.json", "last.json"):
        assert (tmp_path / "b" / name).exists()
    loaded = load_vocoder(tmp_path / "b" / "best.pt", STFTParams(256, 64, "hann"))
    assert dataclasses.asdict(loaded.config) == {**dataclasses.asdict(VocoderConfig()), **TINY}


def test_adversarial_step_runs(toy_npy, tmp_path):
    history = fit_vocoder(_train_config(toy_npy, tmp_path, adversarial=True, valid_subset="",
                                        steps=1, checkpoint_every=1), progress=False)
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"])
    assert "disc" in torch.load(tmp_path / "last.pt", weights_only=True)


def test_training_never_reads_the_test_subset(toy_npy, tmp_path):
    with pytest.raises(Hw2sepError, match="test subset"):
        fit_vocoder(_train_config(toy_npy, tmp_path, train_subset="train,test"), progress=False)


def test_cli_missing_npy_root_is_one_line(tmp_path):
    result = run_script("-m", "hw2sep.training.train_vocoder", "--npy-root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"),
                        "--n-fft", "256", "--hop", "64")
    assert_one_line_error(result, "manifest.json")
