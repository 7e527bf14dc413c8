"""Models by name: build any registered network from the config dict saved in its checkpoint.

Each entry is one line: the class, its config dataclass, the options of a tiny instance (for tests on
CPU) and where the code comes from (for the comparison table). What a model predicts, its STFT and its
default loss are declared by the class itself (``hw2sep.models.base``); ``checkpoint`` saves and loads weights with
their json, ``architecture`` the layer rows saved there; ``attention`` and ``tfc_tdf_blocks`` are blocks several models
share. A new model is one module here, one config file in configs/ and one line in ``MODELS``.
May import: hw2sep.dsp, hw2sep.common, hw2sep.names, hw2sep.errors.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, NamedTuple

from torch import nn

from hw2sep.errors import Hw2sepError
from hw2sep.models.base import KINDS, SeparationModel, STFTParams  # noqa: F401  (re-exported)
from hw2sep.models.deepconvsep import DeepConvSep, DeepConvSepConfig
from hw2sep.models.bsrnn import BandSplitRNN, BSRNNConfig
from hw2sep.models.dttnet import DTTNet, DTTNetConfig
from hw2sep.models.lasaft import LaSAFTConfig, LaSAFTNet
from hw2sep.models.tfc_tdf_unet import TFCTDFUNet, TFCTDFUNetConfig
from hw2sep.models.umx import OpenUnmix, UMXConfig
from hw2sep.models.umx_transformer import UMXTransformer, UMXTransformerConfig
from hw2sep.models.unet import UNet, UNetConfig
from hw2sep.models.unet_transformer import UNetTransformer, UNetTransformerConfig


class ModelEntry(NamedTuple):
    """One registry line."""

    cls: type[SeparationModel]
    config_cls: type
    tiny: dict        # options of a small instance that trains in seconds on CPU (tests)
    origin: str       # code origin for the report: "this package, after <public code>"


MODELS: dict[str, ModelEntry] = {
    "umx": ModelEntry(OpenUnmix, UMXConfig, {"hidden_size": 16, "nb_layers": 1},
                      "this package, after sigsep/open-unmix-pytorch"),
    "umx_transformer": ModelEntry(UMXTransformer, UMXTransformerConfig,
                                  {"hidden_size": 16, "nb_layers": 1, "n_heads": 2, "ff_size": 32},
                                  "this package, after legoodmanner/sequence_length_ss and sigsep/open-unmix-pytorch"),
    "unet": ModelEntry(UNet, UNetConfig, {"n_fft": 512, "hop": 128, "base_channels": 2},
                       "this package, after Jansson et al. 2017 and deezer/spleeter"),
    "unet_transformer": ModelEntry(UNetTransformer, UNetTransformerConfig,
                                   {"n_fft": 512, "hop": 128, "base_channels": 2, "nb_layers": 1, "n_heads": 2,
                                    "ff_size": 16},
                                   "this package, after legoodmanner/sequence_length_ss (auto_transformer)"),
    "deepconvsep": ModelEntry(DeepConvSep, DeepConvSepConfig, {"nb_filters": 8, "bottleneck": 16},
                              "this package, after MTG/DeepConvSep and joangro/PytorchConvSep"),
    "bsrnn": ModelEntry(BandSplitRNN, BSRNNConfig, {"hidden_size": 8, "repeats": 1, "mask_factor": 2, "mask_layers": 1},
                        "this package, after magronp/bsrnn (Luo & Yu 2022) and espnet TFGridNet attention"),
    "tfc_tdf_unet": ModelEntry(TFCTDFUNet, TFCTDFUNetConfig, {"n_fft": 512, "hop": 128, "n_blocks": 3,
                               "internal_channels": 4, "n_internal_layers": 1},
                               "this package, after ws-choi/ISMIR2020_U_Nets_SVS"),
    # tiny LaSAFT needs 24 channels: its accompaniment output is a near-copy of the signed mixture, which
    # 4 channels cannot pass (measured: accompaniment loss 0.81x in 25 steps at 4 channels, 0.07x at 24)
    "lasaft": ModelEntry(LaSAFTNet, LaSAFTConfig, {"n_fft": 512, "hop": 128, "n_blocks": 3, "internal_channels": 24,
                         "n_internal_layers": 1, "num_tdfs": 2, "dk": 4, "embedding_dim": 4, "control_n_layer": 2},
                         "this package, after ws-choi/Conditioned-Source-Separation-LaSAFT"),
    "dttnet": ModelEntry(DTTNet, DTTNetConfig, {"n_fft": 512, "hop": 128, "dim_f": 128, "growth": 4,
                         "n_internal_layers": 1, "nb_rnn_layers": 1},
                         "this package, after junyuchen-cjy/DTTNet-Pytorch"),
}


DEFAULT_MODEL = "umx"  # the assignment's recommended model: what a config that names none trains


def model_config(name: str, **overrides: Any) -> dict:
    """The full config dict of model ``name``: its defaults updated with ``overrides``."""
    config_cls = _lookup(name).config_cls
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = set(overrides) - known
    if unknown:
        raise Hw2sepError(f"model '{name}' has no option(s) {sorted(unknown)}; options: {sorted(known)}")
    return dataclasses.asdict(config_cls(**overrides))


def build_model(name: str, config: dict | None = None) -> nn.Module:
    """Build model ``name`` from a (saved) config dict; unknown keys are dropped with a warning."""
    model_cls, config_cls = _lookup(name)[:2]
    config = dict(config or {})
    known = {f.name for f in dataclasses.fields(config_cls)}
    dropped = sorted(set(config) - known)
    if dropped:
        warnings.warn(f"ignoring unknown {name} config keys {dropped}", stacklevel=2)
    return model_cls(config_cls(**{k: v for k, v in config.items() if k in known}))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (what the assignment's 10 M bound counts)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _lookup(name: str) -> ModelEntry:
    if name not in MODELS:
        raise Hw2sepError(f"unknown model '{name}'; registered: {', '.join(MODELS)}")
    return MODELS[name]
