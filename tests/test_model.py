"""Open-Unmix: parameter bound, equality with the reference implementation, shapes, registry round trip."""

import subprocess
import sys
import types

import pytest
import torch

from hw2sep.models.checkpoint import load_model, save_checkpoint
from hw2sep.errors import Hw2sepError
from hw2sep.models import build_model, count_parameters, model_config


def _reference_openunmix():
    """Import openunmix.model without torchaudio (the package imports it at top level; the model doesn't)."""
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
    return pytest.importorskip("openunmix.model")


def test_assignment_configuration_is_under_10M_and_equals_openunmix():
    ours = count_parameters(build_model("umx", model_config("umx", hidden_size=512)))
    reference = _reference_openunmix().OpenUnmix(nb_bins=2049, nb_channels=2, hidden_size=512, nb_layers=3,
                                                 max_bin=1487)
    assert ours == sum(p.numel() for p in reference.parameters()) == 8_893_348
    assert ours < 10_000_000


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("options", [{}, {"nb_layers": 0}, {"mask": False}, {"unidirectional": True}])
def test_shapes_and_nonnegative_output(channels, options):
    model = build_model("umx", model_config("umx", hidden_size=16, nb_channels=channels, **options)).eval()
    mag = torch.rand(3, channels, 2049, 11)
    with torch.no_grad():
        out = model(mag)
    assert out.shape == mag.shape and (out >= 0).all()


def test_save_load_round_trip_gives_the_same_output(tmp_path):
    config = model_config("umx", hidden_size=24, nb_layers=2)
    model = build_model("umx", config)
    model.set_input_statistics(torch.rand(2049), torch.rand(2049) + 0.5)
    model.train()(torch.rand(4, 2, 2049, 9))  # move the batch-norm statistics away from their init
    model.eval()
    save_checkpoint(tmp_path / "m", model, "umx", config, {"epoch": 3})
    loaded, meta = load_model(tmp_path / "m.pt")
    mag = torch.rand(1, 2, 2049, 13)
    with torch.no_grad():
        torch.testing.assert_close(loaded(mag), model(mag), rtol=0, atol=0)
    assert meta["epoch"] == 3 and meta["parameters"] == count_parameters(model)
    state = torch.load(tmp_path / "m.pt", weights_only=True, map_location="cpu")  # no pickled code
    assert set(state) == {"model"}


def test_unknown_model_and_option_are_clear_errors():
    with pytest.raises(Hw2sepError, match="unknown model 'demucs'"):
        build_model("demucs", {})
    with pytest.raises(Hw2sepError, match="no option"):
        model_config("umx", hiden_size=3)
    with pytest.warns(UserWarning, match="ignoring unknown"):
        build_model("umx", {"hidden_size": 8, "from_the_future": 1})


def test_models_cli_lists_parameter_counts():
    out = subprocess.run([sys.executable, "-m", "hw2sep.models"], capture_output=True, text=True, check=True).stdout
    assert "umx" in out and "8,893,348" in out


def test_same_weights_give_the_same_output_as_openunmix():
    torch.manual_seed(0)
    reference = _reference_openunmix().OpenUnmix(nb_bins=2049, nb_channels=2, hidden_size=32, nb_layers=2,
                                                 max_bin=1487, input_mean=torch.rand(2049).numpy(),
                                                 input_scale=(torch.rand(2049) + 0.5).numpy())
    ours = build_model("umx", model_config("umx", hidden_size=32, nb_layers=2))
    ours.load_state_dict(reference.state_dict())  # the parameter names are the same too
    reference.train()(torch.rand(3, 2, 2049, 7))  # non-trivial batch-norm statistics
    ours.load_state_dict(reference.state_dict())
    mag = torch.rand(2, 2, 2049, 17)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(mag), reference.eval()(mag), rtol=1e-6, atol=1e-6)
