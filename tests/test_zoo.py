"""Every registered model, through the same commands: the contract's properties on the toy set and CPU.

Parametrized over ``hw2sep.models.MODELS``: a model added to the registry is tested here with no edit.
"""

import numpy as np
import pytest
import torch

from hw2sep import TARGETS
from hw2sep.models.checkpoint import load_model, save_checkpoint
from hw2sep.data.musdb import list_tracks
from hw2sep.data.excerpts import Augment
from hw2sep.separation.runner import estimate_track, run_model
from hw2sep.models.base import SeparationModel
from hw2sep.training.losses import LOSSES, get_loss
from hw2sep.models import KINDS, MODELS, build_model, count_parameters, model_config
from hw2sep.dsp.methods import main_method, resolve_methods
from hw2sep.separation.separator import Separator
from hw2sep.training.train import TrainConfig, fit

NAMES = sorted(MODELS)


@pytest.fixture(scope="module")
def short_npy(tmp_path_factory):
    """A toy npy cache of 2 s tracks: validation runs every epoch, so short tracks keep 9 models quick."""
    from hw2sep.data.npy_cache import convert_to_npy
    from hw2sep.data.toy import make_toy_musdb
    root = make_toy_musdb(tmp_path_factory.mktemp("short") / "musdb", n_train=2, n_test=1, seconds=2.0, seed=1)
    return convert_to_npy(root, tmp_path_factory.mktemp("short_npy") / "cache", progress=False).parent


def _tiny(name: str, **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, model_config(name, **{**MODELS[name].tiny, **overrides})).eval()


def _train_config(npy, out, name: str, **kw) -> TrainConfig:
    base = dict(npy_root=str(npy), out=str(out), model=name, model_options=dict(MODELS[name].tiny), epochs=2,
                batch_size=2, seq_dur=1.0, samples_per_track=2, nb_workers=0, checkpoint_epochs=(),
                device="cpu", augment=Augment.none(), train_subset="valid", valid_subset="valid")
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("name", NAMES)
def test_default_config_is_under_ten_million_parameters(name):
    count = count_parameters(build_model(name, model_config(name)))
    assert 0 < count < 10_000_000, (name, count)


@pytest.mark.parametrize("name", NAMES)
def test_output_matches_the_declared_kind(name):
    model = _tiny(name)
    assert model.predicts in KINDS and model.default_loss in LOSSES
    mixture = torch.randn(2, 2, 44100 // 2)  # (batch, channels, samples), 0.5 s
    with torch.no_grad():
        est = run_model(model, mixture)
    params = model.stft_params
    if model.predicts == "waveform":
        assert est.value.shape == mixture.shape
    else:
        assert est.value.shape == (2, 2, params.nb_bins, 1 + mixture.shape[-1] // params.hop)
        assert est.value.is_complex() == (model.predicts == "complex")
    if model.predicts == "magnitude":
        assert (est.value >= 0).all()
    assert est.wave().shape == mixture.shape and est.residual().wave().shape == mixture.shape


@pytest.mark.parametrize("name", NAMES)
def test_tiny_model_overfits_a_tiny_set(name, short_npy, tmp_path):
    config = _train_config(short_npy, tmp_path, name, epochs=25, lr=1e-2, samples_per_track=1, batch_size=1)
    history = fit(config, progress=False)
    first, last = history[0]["train_loss"], min(h["train_loss"] for h in history[-5:])
    assert last < 0.3 * first, (name, first, last)


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_rebuilds_from_its_json_alone(name, tmp_path):
    model = _tiny(name)
    save_checkpoint(tmp_path / "model", model, name, model_config(name, **MODELS[name].tiny), {"epoch": 1})
    rebuilt, meta = load_model(tmp_path / "model.pt")  # torch.load(weights_only=True) inside
    assert meta["model"] == name
    x = model.example_input(nb_frames=2 * max(8, model.frame_multiple))
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x))


@pytest.mark.parametrize("name", NAMES)
def test_chunked_separation_equals_whole_track_when_context_covers_it(name):
    model = _tiny(name)
    mixture = np.random.default_rng(0).standard_normal((2, 10 * 44100)).astype(np.float32) * 0.1
    whole = Separator(model, chunk_seconds=20.0).estimates(mixture)
    chunked = Separator(model, chunk_seconds=2.0, context_seconds=12.0).estimates(mixture)
    for target in TARGETS:
        torch.testing.assert_close(chunked[target].value, whole[target].value, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_non_default_stft_trains_validates_and_separates(name, short_npy, toy_root, tmp_path):
    n_fft = 1024 if model_config(name, **MODELS[name].tiny)["n_fft"] != 1024 else 2048
    options = {**MODELS[name].tiny, "n_fft": n_fft, "hop": n_fft // 4}
    fit(_train_config(short_npy, tmp_path, name, model_options=options, epochs=1, checkpoint_epochs=(1,)),
        progress=False)
    model, meta = load_model(tmp_path / "epoch_001.pt")
    assert model.stft_params.n_fft == n_fft and meta["config"]["hop"] == n_fft // 4
    mixture = list_tracks(toy_root, "test")[0].load(("mixture",))["mixture"][:, : 3 * 44100]
    out = Separator(model).separate(mixture, [main_method(model.predicts), "griffinlim"], gl_iterations=2)
    for waves in out.values():
        assert all(w.shape == mixture.shape and np.isfinite(w).all() for w in waves.values())


@pytest.mark.parametrize("name", [n for n in NAMES if _tiny(n).predicts != "magnitude" and len(_tiny(n).targets) == 1])
def test_direct_estimates_add_up_to_the_mixture(name):  # conditioned models: see the residual test below
    model = _tiny(name)
    mixture = np.random.default_rng(1).standard_normal((2, 3 * 44100)).astype(np.float32) * 0.1
    out = Separator(model).separate(mixture, ["direct"])["direct"]
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], mixture, atol=1e-4)


def test_t_plus_tf_is_the_sum_of_t_and_tf():
    model = _tiny("bsrnn")
    mixture, reference = torch.randn(2, 2, 22050), torch.randn(2, 2, 22050)
    est = run_model(model, mixture)
    total = get_loss("t+tf")(est, reference)
    torch.testing.assert_close(total, get_loss("t")(est, reference) + get_loss("tf")(est, reference))


class _WaveformGain(SeparationModel):
    """A stand-in waveform model (no zoo model predicts waveforms yet): a learnable 1-D convolution."""

    predicts, default_loss = "waveform", "t"

    def __init__(self):
        super().__init__()
        self.config = type("Config", (), {"n_fft": 1024, "hop": 256, "nb_channels": 2})()
        self.conv = torch.nn.Conv1d(2, 2, 9, padding=4)

    def forward(self, wave):
        return self.conv(wave)


def test_waveform_models_chunk_exactly_and_take_the_residual_in_time():
    model = _WaveformGain().eval()
    mixture = torch.randn(2, 5 * 44100)
    whole = estimate_track(model, mixture, chunk_frames=10_000)
    chunked = estimate_track(model, mixture, chunk_frames=50, context_frames=2)  # context > the conv's reach
    torch.testing.assert_close(chunked.value, whole.value)
    torch.testing.assert_close(whole.residual().wave(), mixture - whole.value)
    out = Separator(model).separate(mixture.numpy(), ["direct", "mixture"], gl_iterations=1)
    np.testing.assert_allclose(out["direct"]["vocals"] + out["direct"]["accompaniment"], mixture.numpy(), atol=1e-5)


@pytest.mark.parametrize("name", [n for n in NAMES if len(_tiny(n).targets) > 1])
def test_conditioned_models_give_their_own_and_the_residual_accompaniment(name):
    model = _tiny(name)
    mixture = np.random.default_rng(2).standard_normal((2, 2 * 44100)).astype(np.float32) * 0.1
    out = Separator(model).separate(mixture, ["direct", "residual"])
    np.testing.assert_array_equal(out["direct"]["vocals"], out["residual"]["vocals"])
    np.testing.assert_allclose(out["residual"]["vocals"] + out["residual"]["accompaniment"], mixture, atol=1e-4)
    assert np.abs(out["direct"]["accompaniment"] - out["residual"]["accompaniment"]).max() > 1e-4
    assert "residual" in resolve_methods(["both"], model.predicts, model.targets)


def test_multi_domain_loss_is_mse_plus_ten_times_one_plus_weighted_sdr():
    model = _tiny("umx")
    mixture = torch.randn(2, 2, 22050)
    reference = 0.5 * mixture
    est = run_model(model, mixture)
    wsdr = get_loss("xumx")(est, reference) - get_loss("mse_mag")(est, reference)
    assert 0.0 <= wsdr.item() <= 20.0  # 10 x (1 + a weighted cosine in [-1, 1])
    perfect = run_model(model, mixture)
    perfect.value = perfect.stft(reference).abs()  # the exact target magnitude: the mixture phase is right here
    torch.testing.assert_close(get_loss("xumx")(perfect, reference), torch.tensor(0.0), atol=1e-4, rtol=0)
