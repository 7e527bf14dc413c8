"""BSRNN: band partition, parameter bound, shapes and dtype, layer/attention variants, backward, configs."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from hw2sep import SAMPLE_RATE
from hw2sep.errors import Hw2sepError
from hw2sep.models import MODELS, build_model, count_parameters, model_config
from hw2sep.models.bsrnn import band_edges

TINY = MODELS["bsrnn"].tiny
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TRAIN_KEYS = {"model", "description", "model_options", "epochs", "batch_size", "seq_dur", "lr"}


def _tiny(**options):
    torch.manual_seed(0)
    return build_model("bsrnn", model_config("bsrnn", **{**TINY, **options}))


@pytest.mark.parametrize("n_fft", [256, 512, 1024, 2048, 4096])
def test_bands_partition_every_bin_once(n_fft):
    edges = band_edges(n_fft, SAMPLE_RATE)
    assert edges[0][0] == 0 and edges[-1][1] == n_fft // 2 + 1
    assert all(start < stop for start, stop in edges)
    assert all(prev[1] == nxt[0] for prev, nxt in zip(edges, edges[1:]))
    if n_fft >= 512:
        assert len(edges) == 41  # 10 + 12 + 8 + 8 + 2 bands below 20 kHz, plus the rest


def test_band_edges_sit_at_the_papers_frequencies():
    hz = [stop * SAMPLE_RATE / 2048 for _, stop in band_edges(2048, SAMPLE_RATE)[:-1]]
    nominal = ([100 * i for i in range(1, 11)] + [1000 + 250 * i for i in range(1, 13)]
               + [4000 + 500 * i for i in range(1, 9)] + [8000 + 1000 * i for i in range(1, 9)] + [18000, 20000])
    assert max(abs(a - b) for a, b in zip(hz, nominal)) <= SAMPLE_RATE / 2048 / 2
    assert band_edges(2048, 16000)[-1][1] == 1025  # bands above Nyquist collapse into the last one


@pytest.mark.parametrize("options", [{}, {"sequence_layer": "gru", "band_layer": "gru"},
                                     {"sequence_layer": "conv", "band_layer": "conv"},
                                     {"attention_heads": 1, "attention_dim": 10}, {"attention_heads": 2}])
def test_default_size_is_under_10M(options):
    count = count_parameters(build_model("bsrnn", model_config("bsrnn", **options)))
    print(f"bsrnn {options or 'default'}: {count:,} parameters")
    assert count < 10_000_000


def test_eight_repeats_match_seed_003s_reported_size():
    """Seed 003 reports 8.0 M parameters for its small vocals model (hidden 64, 8 repeats)."""
    assert abs(count_parameters(build_model("bsrnn", model_config("bsrnn", repeats=8))) - 8.0e6) < 0.05e6


@torch.no_grad()
def test_default_model_runs():
    model = build_model("bsrnn", model_config("bsrnn")).eval()
    mix = model.example_input(nb_frames=8)
    out = model(mix)
    assert out.shape == mix.shape == (1, 2, 1025, 8) and out.dtype == torch.complex64
    assert model.stft_params.n_fft == 2048 and model.stft_params.hop == 512 and model.default_loss == "t+tf"


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("train", [True, False])
def test_shape_and_complex_dtype(channels, batch, train):
    model = _tiny(nb_channels=channels).train(train)
    mix = model.example_input(nb_frames=7, batch=batch)
    out = model(mix)
    assert out.shape == mix.shape and out.dtype == torch.complex64 and torch.isfinite(torch.view_as_real(out)).all()


@pytest.mark.parametrize("n_fft, hop", [(512, 128), (1024, 256), (4096, 1024)])
def test_non_default_stft_runs(n_fft, hop):
    model = _tiny(n_fft=n_fft, hop=hop)
    mix = model.example_input(nb_frames=5, batch=2)
    assert mix.shape[2] == n_fft // 2 + 1 and model(mix).shape == mix.shape


@pytest.mark.parametrize("sequence_layer, band_layer, heads", [
    ("lstm", "lstm", 0), ("gru", "conv", 0), ("conv", "gru", 2), ("lstm", "lstm", 2)])
def test_layer_and_attention_variants_train(sequence_layer, band_layer, heads):
    model = _tiny(sequence_layer=sequence_layer, band_layer=band_layer, attention_heads=heads, repeats=2)
    mix = model.example_input(nb_frames=6, batch=2)
    model(mix).abs().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@torch.no_grad()
def test_batch_items_and_channels_are_independent_in_eval():
    model = _tiny(attention_heads=2).eval()
    mix = model.example_input(nb_frames=6, batch=2)
    out = model(mix)
    torch.testing.assert_close(model(mix[1:, :1]), out[1:, :1])
    assert model(torch.zeros_like(mix)).abs().max() == 0  # a mask: silence in, silence out


def test_bad_options_are_one_line_errors():
    with pytest.raises(Hw2sepError, match="sequence_layer"):
        _tiny(sequence_layer="transformer")
    with pytest.raises(Hw2sepError, match="attention_heads"):
        _tiny(hidden_size=8, attention_heads=3)


@pytest.mark.parametrize("name", ["bsrnn", "bsrnn_gru", "bsrnn_conv"])
def test_config_files_build_models_under_10M(name):
    config = json.loads((CONFIGS / f"{name}.json").read_text())
    assert set(config) == TRAIN_KEYS and config["model"] == "bsrnn"
    from hw2sep.training.train import TrainConfig
    assert set(config) - {"description"} <= {f.name for f in dataclasses.fields(TrainConfig)}
    assert count_parameters(build_model("bsrnn", model_config("bsrnn", **config["model_options"]))) < 10_000_000
