"""Separate whole tracks into vocals and accompaniment with any registered model.

The model estimates the vocals in its declared kind (``hw2sep.separation.runner``); the accompaniment follows
that kind's rule: the residual max(|X| - V, 0) of a magnitude (one 8.9 M-parameter Open-Unmix serves
both targets; two would exceed the 10 M bound), X - V of a complex STFT, x - v of a waveform. A model
that estimates both targets itself (conditioned, e.g. LaSAFT) gives its own accompaniment. Waveforms
come from the model itself (``direct``, complex and waveform models) or from the estimated magnitudes
with a reconstruction method of ``hw2sep.dsp.phase`` (mixture phase, Wiener, Griffin-Lim), so the
assignment's Task 2 exists for every model. Everything uses the model's own STFT.

Memory stays bounded on long tracks: the model's own output and the mixture-phase, Wiener and
Griffin-Lim methods stream the track in blocks of ``chunk_seconds`` with ``context_seconds`` on each side
(``hw2sep.dsp.streaming``; the same numbers as the whole track), so neither the network's activations nor
the spectrograms ever cover the whole track (a 10-minute track peaks at 1.4-2.5 GB). librosa's
Griffin-Lim, mel and the vocoders still take whole-track estimates.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from hw2sep.models.checkpoint import checkpoint_digest
from hw2sep.errors import Hw2sepError
from hw2sep.separation.runner import Estimate, call_model, estimate_track, model_input
from hw2sep.names import METHODS, TARGETS
from hw2sep.dsp.phase import reconstruct
from hw2sep.dsp.streaming import STREAM_METHODS, separate_streaming, seconds_to_frames

# How each reconstruction label of ``hw2sep.names.METHODS`` is made: (phase.reconstruct method, options);
# None = the model's own output (complex STFT or waveform).
RECONSTRUCTIONS = {
    "mixture": ("mixture", {}),                                      # Open-Unmix default
    "wiener": ("wiener", {}),                                        # + multichannel Wiener / EM
    "griffinlim": ("griffinlim", {"gl_init": "random"}),             # the assignment's Griffin-Lim (torch)
    "griffinlim-librosa": ("griffinlim-librosa", {}),                # librosa.griffinlim itself
    "griffinlim-mixinit": ("griffinlim", {"gl_init": "mixture"}),    # Griffin-Lim started from the mixture phase
    "mel": ("mel", {}),                                              # librosa mel -> STFT -> Griffin-Lim
    "direct": (None, {}),                                            # the model's own complex STFT / waveform
    "residual": (None, {"residual": True}),                          # direct, accompaniment = mixture - vocals
    "vocoder": ("vocoder", {"features": "mel"}),                     # a trained mel vocoder (--vocoder FILE)
    "vocoder-linear": ("vocoder", {"features": "linear"}),           # a trained linear-magnitude vocoder
}
assert set(RECONSTRUCTIONS) == set(METHODS), "every method label needs a reconstruction, and back"
DIRECT_KINDS = ("complex", "waveform")  # kinds whose own output is a waveform without a phase method


def check_methods(methods: Sequence[str], model: nn.Module | None = None) -> None:
    """Refuse unknown reconstruction labels (or ``direct`` for a magnitude model) with one clear line."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise Hw2sepError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    for method in ("direct", "residual"):
        if model is not None and method in methods and model.predicts not in DIRECT_KINDS:
            raise Hw2sepError(f"method '{method}' needs a complex or waveform model; this one predicts "
                              f"{model.predicts} (use mixture)")


def main_method(predicts: str) -> str:
    """The own reconstruction of a model that predicts ``predicts``: ``direct`` for complex/waveform, else mixture."""
    return "direct" if predicts in DIRECT_KINDS else "mixture"


def default_methods(model: nn.Module) -> list[str]:
    """What the TA's command reports: the model's own reconstruction, ``residual`` for a conditioned model
    (its accompaniment both from its own condition and as mixture - vocals), and Griffin-Lim."""
    own = [main_method(model.predicts)]
    if "accompaniment" in model.targets and model.predicts in DIRECT_KINDS:
        own.append("residual")
    return [*own, "griffinlim"]


class Separator:
    """Model + its STFT + reconstruction: (nb_channels, nb_samples) mixture -> {target: waveform}."""

    def __init__(self, model: nn.Module, device: torch.device | str = "cpu", chunk_seconds: float = 30.0,
                 context_seconds: float = 3.0, amp: bool = False, vocoders: Sequence[str | Path] = ()):
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.stft_params = model.stft_params
        hop = self.stft_params.hop
        self.chunk_seconds, self.context_seconds = chunk_seconds, context_seconds
        self.chunk_frames = max(1, seconds_to_frames(chunk_seconds, hop))
        self.context_frames = seconds_to_frames(context_seconds, hop)
        self.amp = amp
        self.vocoders = {}  # features ("mel" | "linear") -> (checkpoint path, Vocoder)
        for path in vocoders:
            from hw2sep.vocoder import load_vocoder
            vocoder = load_vocoder(path, self.stft_params, device=self.device)  # an STFT mismatch is one line
            if vocoder.config.features in self.vocoders:
                raise Hw2sepError(f"two {vocoder.config.features} vocoders given: {self.vocoders[vocoder.config.features][0]} "
                                  f"and {path}; give one of each kind at most")
            self.vocoders[vocoder.config.features] = (Path(path), vocoder)

    def check(self, methods: Sequence[str]) -> None:
        """Refuse, in one line, methods this model or these vocoders cannot run."""
        check_methods(methods, self.model)
        for method in methods:
            name, options = RECONSTRUCTIONS[method]
            if name == "vocoder" and options["features"] not in self.vocoders:
                raise Hw2sepError(f"method '{method}' needs a {options['features']} vocoder checkpoint: give --vocoder FILE "
                                  f"(train one with python -m hw2sep.training.train_vocoder --features {options['features']} "
                                  "--stft-from YOUR_SEPARATOR.pt)")

    def settings(self, method: str, **phase_options) -> dict:
        """Every setting that changes the numbers of ``method``, resolved to its value (the result key).

        The STFT, the method's own options and those of ``phase_options`` it reads, with ``reconstruct``'s
        defaults filled in, and a vocoder's weights digest: a cached score is reused only for the same.
        """
        name, options = RECONSTRUCTIONS[method]
        defaults = {k: p.default for k, p in inspect.signature(reconstruct).parameters.items()
                    if p.kind is inspect.Parameter.KEYWORD_ONLY}
        resolved = {**defaults, **phase_options, **options}
        used = {"wiener": ("wiener_iterations",), "griffinlim": ("gl_iterations", "gl_init", "momentum", "seed"),
                "griffinlim-librosa": ("gl_iterations", "momentum", "seed"),
                "mel": ("gl_iterations", "momentum", "seed")}.get(name, ())
        key = {"method": method, "stft": vars(self.stft_params), **{k: resolved[k] for k in used}}
        if name == "vocoder":
            key["vocoder_sha1"] = checkpoint_digest(self.vocoders[options["features"]][0])
        return key

    @torch.no_grad()
    def estimates(self, mixture: np.ndarray | torch.Tensor) -> dict[str, Estimate]:
        """``{target: Estimate}`` for both targets, in the model's kind. Shape: mixture (C, N)."""
        mixture = torch.as_tensor(np.asarray(mixture, dtype=np.float32), device=self.device)
        run = dict(chunk_frames=self.chunk_frames, context_frames=self.context_frames, amp=self.amp)
        vocals = estimate_track(self.model, mixture, "vocals", **run)
        if "accompaniment" in self.model.targets:
            return {"vocals": vocals, "accompaniment": estimate_track(self.model, mixture, "accompaniment", **run)}
        return {"vocals": vocals, "accompaniment": vocals.residual()}

    @torch.no_grad()
    def magnitudes(self, mixture: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mixture STFT and estimated target magnitudes.

        Shape: mixture (nb_channels, nb_samples) -> (complex (nb_channels, nb_bins, nb_frames),
        (nb_targets=2, nb_channels, nb_bins, nb_frames)), both on ``self.device``, float32.
        """
        est = self.estimates(mixture)
        return est["vocals"].mix_spec, torch.stack([est[t].magnitude() for t in TARGETS])

    def separate(self, mixture: np.ndarray, methods: Sequence[str] = ("mixture",),
                 **phase_options) -> dict[str, dict[str, np.ndarray]]:
        """Estimates per method: ``{method: {target: (nb_channels, nb_samples) float32}}``.

        ``phase_options`` go to the reconstruction (gl_iterations, gl_init, seed, wiener_iterations, ...).
        The model's own output and the mixture-phase, Wiener and Griffin-Lim methods stream the track in
        blocks (``hw2sep.dsp.streaming``: bounded memory, the same numbers as the whole track); the others
        (librosa's Griffin-Lim, mel, vocoders) run on whole-track estimates.
        """
        self.check(methods)
        whole: dict[str, Estimate] | None = None
        out = {}
        for method in methods:
            name, options = RECONSTRUCTIONS[method]
            if self.model.predicts != "waveform" and (name is None or name in STREAM_METHODS):
                waves = self._stream(mixture, name or "mixture", own_output=name is None,
                                     residual=options.get("residual", False),
                                     **{**phase_options, **{k: v for k, v in options.items() if k != "residual"}})
            else:
                whole = self.estimates(mixture) if whole is None else whole
                waves = self._whole_track(whole, name, options, np.asarray(mixture).shape[-1], phase_options)
            out[method] = {t: np.asarray(waves[i], dtype=np.float32) for i, t in enumerate(TARGETS)}
        return out

    def _stream(self, mixture, method: str, own_output: bool, residual: bool, **phase_options) -> np.ndarray:
        """``hw2sep.dsp.streaming`` with this model as the block estimator. Shape: (C, N) -> (2, C, N)."""
        model, targets = self.model, self.model.targets
        complex_out = own_output and model.predicts == "complex"

        def estimate(mix_block: torch.Tensor) -> torch.Tensor:  # (C, F, t) complex -> (2, C, F, t)
            inputs = model_input(model, None, mix_block)[None]
            vocals = call_model(model, inputs, "vocals", self.amp)[0]
            if "accompaniment" in targets and not residual:
                rest = call_model(model, inputs, "accompaniment", self.amp)[0]
            else:  # the kind's residual rule; a block has no waveform (spectrogram kinds only stream)
                rest = Estimate(model.predicts, vocals, None, self.stft_params, mix_block).residual().value
            pair = torch.stack([vocals, rest])
            return pair if complex_out or not pair.is_complex() else pair.abs()

        with torch.no_grad():
            return separate_streaming(np.asarray(mixture, dtype=np.float32), estimate, method, self.stft_params,
                                      block_seconds=self.chunk_seconds, context_seconds=self.context_seconds,
                                      device=self.device, **phase_options)

    @torch.no_grad()
    def _whole_track(self, est: dict[str, Estimate], name: str | None, options: dict, length: int,
                     phase_options: dict) -> torch.Tensor:
        """A reconstruction from whole-track estimates. Shape: -> (2, C, N)."""
        if name is None and options.get("residual"):
            waves = torch.stack([est["vocals"].wave(), est["vocals"].residual().wave()])
        elif name is None:
            waves = torch.stack([est[t].wave() for t in TARGETS])
        else:
            mags = torch.stack([est[t].magnitude() for t in TARGETS])
            if name == "vocoder":
                from hw2sep.vocoder import vocode
                waves = vocode(mags, length, self.vocoders[options["features"]][1])
            else:
                waves = reconstruct(est["vocals"].mix_spec, mags, name, length, stft_params=self.stft_params,
                                    **{**phase_options, **options})
        return waves.float().cpu().numpy()
