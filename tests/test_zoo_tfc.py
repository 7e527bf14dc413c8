"""TFC-TDF family (tfc_tdf_unet, lasaft, dttnet): parameter bound, shapes per declared kind, other
STFT sizes, gradients, LaSAFT conditioning, the magnitude variant, the config files."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from hw2sep.models import MODELS, build_model, count_parameters, model_config
from hw2sep.models.tfc_tdf_blocks import channels_to_complex, complex_to_channels
from hw2sep.training.train import TrainConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

# name: (model, extra options); the magnitude variant is tfc_tdf_unet with spec_type="magnitude"
VARIANTS = {
    "tfc_tdf_unet": ("tfc_tdf_unet", {}),
    "tfc_tdf_unet_magnitude": ("tfc_tdf_unet", {"spec_type": "magnitude"}),
    "lasaft": ("lasaft", {}),
    "dttnet": ("dttnet", {}),
}

# Default parameter counts of this package, next to the published ones:
# * tfc_tdf_unet: ~1 M in the ISMIR 2020 repository's default (its TDF batch norms are not affine: 672 fewer);
# * lasaft: the repository's Table-1 configuration (n_fft 2048, 7 blocks) is "about 8.4 M"; its large
#   2020 checkpoint (n_fft 4096, 9 blocks, embedding 64) would be 31.5 M with this code, over the bound;
# * dttnet: ~5.0 M in the ICASSP 2024 paper (86.7 % fewer than BSRNN's ~37 M).
DEFAULT_COUNTS = {
    "tfc_tdf_unet": 988_148,
    "tfc_tdf_unet_magnitude": 987_954,
    "lasaft": 8_423_196,
    "dttnet": 4_958_468,
}


def _tiny(name: str, **overrides):
    model, options = VARIANTS[name]
    return build_model(model, model_config(model, **{**MODELS[model].tiny, **options, **overrides}))


@pytest.mark.parametrize("name", list(VARIANTS))
def test_default_configuration_is_under_10M(name):
    model_name, options = VARIANTS[name]
    count = count_parameters(build_model(model_name, model_config(model_name, **options)))
    print(f"{name}: {count:,} parameters")
    assert count == DEFAULT_COUNTS[name]
    assert count < 10_000_000


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("train", [True, False])
def test_tiny_shapes_and_dtype_of_the_declared_kind(name, batch, train):
    torch.manual_seed(0)
    model = _tiny(name).train(train)
    x = model.example_input(nb_frames=2 * model.frame_multiple, batch=batch)
    with torch.set_grad_enabled(train):
        out = model(x)
    assert out.shape == x.shape
    if model.predicts == "complex":
        assert out.dtype == torch.complex64
    else:
        assert model.predicts == "magnitude" and out.dtype == torch.float32 and (out >= 0).all()
    assert torch.isfinite(torch.view_as_real(out) if out.is_complex() else out).all()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_other_stft_size_builds_and_runs(name):
    model = _tiny(name, n_fft=1024, hop=256).eval()
    x = model.example_input(nb_frames=model.frame_multiple, batch=1)
    with torch.no_grad():
        out = model(x)
    assert x.shape[-2] == 513 and out.shape == x.shape


@pytest.mark.parametrize("name", list(VARIANTS))
def test_backward_reaches_every_parameter(name):
    model = _tiny(name).train()
    x = model.example_input(nb_frames=model.frame_multiple, batch=2)
    out = model(x)
    (out.abs() ** 2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing


def test_lasaft_conditions_give_different_outputs():
    torch.manual_seed(0)
    model = _tiny("lasaft").eval()
    assert model.targets == ("vocals", "accompaniment")
    x = model.example_input(nb_frames=model.frame_multiple, batch=2)
    with torch.no_grad():
        vocals, accompaniment = model(x, target="vocals"), model(x, target="accompaniment")
        mixed = model(x, target=["vocals", "accompaniment"])
        default = model(x)
    assert (vocals - accompaniment).abs().max() > 1e-4
    torch.testing.assert_close(default, vocals)
    torch.testing.assert_close(mixed[0], vocals[0])
    torch.testing.assert_close(mixed[1], accompaniment[1])
    with pytest.raises(ValueError, match="target"):
        model(x, target="drums")


def test_magnitude_variant_is_a_nonnegative_mask_on_the_mixture():
    model = _tiny("tfc_tdf_unet_magnitude").eval()
    assert model.predicts == "magnitude" and model.default_loss == "mse_mag"
    x = model.example_input(nb_frames=model.frame_multiple, batch=2)
    with torch.no_grad():
        out = model(x)
    assert (out >= 0).all() and (out <= x).all()
    assert _tiny("tfc_tdf_unet").default_loss == "l2_complex"


def test_dttnet_zeroes_the_bins_it_does_not_see():
    model = _tiny("dttnet").eval()
    x = model.example_input(nb_frames=model.frame_multiple, batch=1)
    with torch.no_grad():
        out = model(x)
    assert model.dim_f == 128 and (out[:, :, model.dim_f:] == 0).all() and out[:, :, : model.dim_f].abs().sum() > 0


def test_complex_channels_round_trip():
    spec = torch.randn(2, 2, 9, 5, dtype=torch.complex64)
    channels = complex_to_channels(spec)
    assert channels.shape == (2, 4, 5, 9)
    torch.testing.assert_close(channels[:, 1].transpose(-1, -2), spec[:, 0].imag)
    torch.testing.assert_close(channels_to_complex(channels), spec)


def test_invalid_options_are_clear_errors():
    with pytest.raises(ValueError, match="odd"):
        _tiny("tfc_tdf_unet", n_blocks=4)
    with pytest.raises(ValueError, match="spec_type"):
        _tiny("tfc_tdf_unet", spec_type="phase")
    with pytest.raises(ValueError, match="halved"):
        _tiny("lasaft", n_fft=24, n_blocks=7)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_config_file_mirrors_the_train_config(name):
    config = json.loads((CONFIGS / f"{name}.json").read_text())
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(config) - {"description"} <= fields and config["model"] == VARIANTS[name][0]
    options = model_config(config["model"], **config["model_options"])
    assert options == {**model_config(config["model"]), **VARIANTS[name][1]}  # the defaults, as documented
    model = build_model(config["model"], options)
    frames = 1 + int(config["seq_dur"] * 44100) // options["hop"]
    assert frames % model.frame_multiple == 0  # chunks need no padding
