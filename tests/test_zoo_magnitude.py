"""Magnitude zoo (umx_transformer, unet, unet_transformer, deepconvsep): 10 M bound, shapes, frame multiple,
non-default STFT, gradients in train mode with batch 1 and 2, attention kinds, config files."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from hw2sep.models import MODELS, build_model, count_parameters, model_config
from hw2sep.models.attention import ATTENTIONS, ConvSelfAttention

NAMES = ("umx_transformer", "unet", "unet_transformer", "deepconvsep")
WITH_ATTENTION = ("umx_transformer", "unet_transformer")
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def tiny(name: str, **overrides):
    return build_model(name, model_config(name, **{**MODELS[name].tiny, **overrides}))


def random_mag(model, batch: int, nb_frames: int, channels: int | None = None) -> torch.Tensor:
    channels = channels or model.config.nb_channels
    return torch.rand(batch, channels, model.stft_params.nb_bins, nb_frames)


@pytest.mark.parametrize("name", NAMES)
def test_default_config_is_under_10M_and_runs(name):
    model = build_model(name, model_config(name)).eval()
    count = count_parameters(model)
    print(f"{name}: {count:,} parameters")
    assert model.predicts == "magnitude" and count < 10_000_000
    mag = random_mag(model, 1, model.frame_multiple * (8 if model.frame_multiple == 1 else 1))
    with torch.no_grad():
        out = model(mag)
    assert out.shape == mag.shape and (out >= 0).all()


@pytest.mark.parametrize("name", WITH_ATTENTION)
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_every_attention_variant_is_under_10M(name, attention):
    count = count_parameters(build_model(name, model_config(name, attention=attention)))
    print(f"{name} {attention}: {count:,} parameters")
    assert count < 10_000_000


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("channels", [1, 2])
def test_shape_and_nonnegative_output_for_multiples_of_frame_multiple(name, channels):
    model = tiny(name, nb_channels=channels).eval()
    for multiple in (1, 3):
        mag = random_mag(model, 2, multiple * model.frame_multiple)
        with torch.no_grad():
            out = model(mag)
        assert out.shape == mag.shape and (out >= 0).all() and torch.isfinite(out).all()


def test_declared_frame_multiples():
    assert tiny("umx_transformer").frame_multiple == 1
    assert tiny("unet").frame_multiple == 64 == build_model("unet").frame_multiple  # six stride-2 layers
    assert build_model("unet_transformer").frame_multiple == 32
    assert tiny("unet_transformer", nb_levels=3).frame_multiple == 8
    assert build_model("deepconvsep").frame_multiple == 30


@pytest.mark.parametrize("name", NAMES)
def test_non_default_n_fft_builds_and_runs(name):
    model = tiny(name, n_fft=600, hop=150).eval()  # 301 bins: not a power of two plus one
    mag = random_mag(model, 1, 2 * model.frame_multiple)
    with torch.no_grad():
        out = model(mag)
    assert mag.shape[2] == 301 and out.shape == mag.shape and (out >= 0).all()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch", [1, 2])
def test_gradient_reaches_every_parameter_in_train_mode(name, batch):
    torch.manual_seed(0)
    model = tiny(name).train()
    mag = random_mag(model, batch, 2 * max(model.frame_multiple, 4))
    loss = (model(mag) - 0.5 * mag).abs().mean()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


def test_unet_masks_the_bins_it_does_not_see_with_the_top_row():
    model = tiny("unet", nb_bins=128).eval()  # 512-point STFT: 257 bins, the lowest 128 fed
    mag = torch.ones(1, 2, 257, 64)
    with torch.no_grad():
        out = model(mag)
    assert torch.equal(out[:, :, 128:], out[:, :, 127:128].expand(-1, -1, 129, -1))


def test_deepconvsep_blocks_are_separated_independently():
    model = tiny("deepconvsep").eval()
    mag = random_mag(model, 1, 60)
    changed = mag.clone()
    changed[..., 30:] = torch.rand_like(changed[..., 30:])
    with torch.no_grad():
        assert torch.allclose(model(mag)[..., :30], model(changed)[..., :30])
        assert torch.allclose(model(mag)[..., 30:], model(mag[..., 30:]), atol=1e-6)


def test_umx_transformer_keeps_open_unmix_input_statistics():
    model = tiny("umx_transformer")
    model.prepare([torch.randn(2, 44100 // 4)])
    assert not torch.equal(model.input_mean, torch.zeros_like(model.input_mean))


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("nb_frames", [1, 7])
def test_attention_kinds_keep_the_shape(attention, nb_frames):
    layer = ConvSelfAttention(d_model=8, n_heads=2, attention=attention).eval()
    x = torch.randn(3, nb_frames, 8)
    assert layer(x).shape == x.shape


def test_unknown_attention_is_refused():
    with pytest.raises(ValueError, match="qkv1D"):
        ConvSelfAttention(8, 2, attention="qkv3D")


def test_config_files_name_registered_models_and_trainer_fields():
    from hw2sep.training.train import TrainConfig
    fields = {f.name for f in dataclasses.fields(TrainConfig)} | {"description"}
    files = [path for path in sorted(CONFIGS.glob("*.json"))
             if json.loads(path.read_text())["model"] in NAMES]
    assert {json.loads(path.read_text())["model"] for path in files} == set(NAMES)
    for path in files:
        config = json.loads(path.read_text())
        assert set(config) <= fields and config["description"], path.name
        options = model_config(config["model"], **config.get("model_options", {}))
        assert count_parameters(build_model(config["model"], options)) < 10_000_000, path.name
