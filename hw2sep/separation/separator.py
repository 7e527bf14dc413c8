"""Separate whole tracks into vocals and accompaniment with any registered model.

The model estimates the vocals in its declared kind (``hw2sep.separation.runner``); the accompaniment follows that
kind's rule: the residual max(|X| - V, 0) of a magnitude (one 8.9 M-parameter Open-Unmix serves both targets; two
would exceed the 10 M bound), X - V of a complex STFT, x - v of a waveform. A conditioned model (LaSAFT) gives its
own accompaniment. Waveforms come from a method of the table ``hw2sep.dsp.methods``, run by the one engine
``hw2sep.dsp.reconstruct`` over the track in blocks of ``chunk_seconds`` with ``context_seconds`` each side (the
model runs on each block), so neither activations nor spectrograms cover a long track; a trained vocoder
(``vocoder``, ``vocoder-linear``) takes the gathered magnitudes. Everything uses the model's own STFT.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from hw2sep.dsp.blocks import BLOCK_SECONDS, CONTEXT_SECONDS, WholeTrack, seconds_to_frames
from hw2sep.dsp.methods import METHODS, resolve_methods, result_key, settings_of
from hw2sep.dsp.reconstruct import gather_magnitudes, reconstruct_blocks, separate_streaming
from hw2sep.errors import Hw2sepError
from hw2sep.models.checkpoint import checkpoint_digest
from hw2sep.names import TARGETS
from hw2sep.separation.runner import Estimate, call_model, estimate_track, model_input


def check_methods(methods: Sequence[str], model: nn.Module | None = None) -> None:
    """Refuse unknown method names (or ``direct`` for a magnitude model) with one clear line."""
    resolve_methods(methods, None if model is None else model.predicts, () if model is None else model.targets)


def methods_for(checkpoint: str | Path, tokens: Sequence[str]) -> list[str]:
    """The method names a checkpoint's model runs for ``tokens`` (names, ``main``, ``both``): one resolver for
    infer.py, evaluate, the experiments and the notebooks."""
    from hw2sep.models import build_model
    from hw2sep.models.checkpoint import read_meta
    meta = read_meta(checkpoint)
    model = build_model(meta["model"], meta["config"])
    return resolve_methods(tokens, model.predicts, model.targets)


class Separator:
    """Model + its STFT + reconstruction: (nb_channels, nb_samples) mixture -> {target: waveform}."""

    def __init__(self, model: nn.Module, device: torch.device | str = "cpu", chunk_seconds: float = BLOCK_SECONDS,
                 context_seconds: float = CONTEXT_SECONDS, amp: bool = False, vocoders: Sequence[str | Path] = ()):
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
            row = METHODS[method]
            if row.engine == "vocoder" and row.fixed["features"] not in self.vocoders:
                features = row.fixed["features"]
                raise Hw2sepError(f"method '{method}' needs a {features} vocoder checkpoint: give --vocoder FILE "
                                  f"(train one with hw2sep-train-vocoder --features {features} "
                                  "--stft-from YOUR_SEPARATOR.pt)")

    def settings(self, method: str, **options) -> dict:
        """Every setting that changes the numbers of ``method`` (the result key): the table's key of the method with
        ``options``, the STFT, and a vocoder's weights digest. The engine runs with the same resolved settings."""
        key = {**result_key(method, options), "stft": vars(self.stft_params)}
        if METHODS[method].engine == "vocoder":
            key["vocoder_sha1"] = checkpoint_digest(self.vocoders[METHODS[method].fixed["features"]][0])
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
                 **options) -> dict[str, dict[str, np.ndarray]]:
        """Estimates per method: ``{method: {target: (nb_channels, nb_samples) float32}}``.

        ``options`` are reconstruction settings (``hw2sep.dsp.methods.DEFAULTS``: gl_iterations, seed, ...). Spectrogram
        models stream the track in blocks (bounded memory); a waveform model is estimated whole, then reconstructed.
        """
        self.check(methods)
        out, whole = {}, None
        for method in methods:
            row = METHODS[method]
            if self.model.predicts == "waveform":
                whole = self.estimates(mixture) if whole is None else whole
                waves = self._from_whole(whole, method, options)
            elif row.engine == "vocoder":
                waves = self._vocode(mixture, method)
            else:
                waves = self._stream(mixture, method, options)
            out[method] = {t: np.asarray(waves[i], dtype=np.float32) for i, t in enumerate(TARGETS)}
        return out

    def _estimator(self, own_output: bool, residual: bool):
        """The model as a block estimator: mixture STFT (C, F, t) -> (2, C, F, t). Every phase method gets magnitudes
        (a complex model's output through abs); only ``own_output`` (direct, residual) keeps its complex STFT."""
        model, targets = self.model, self.model.targets
        complex_out = own_output and model.predicts == "complex"

        def estimate(mix_block: torch.Tensor) -> torch.Tensor:
            inputs = model_input(model, None, mix_block)[None]
            vocals = call_model(model, inputs, "vocals", self.amp)[0]
            if "accompaniment" in targets and not residual:
                rest = call_model(model, inputs, "accompaniment", self.amp)[0]
            else:  # the kind's residual rule; a block has no waveform (spectrogram kinds only stream)
                rest = Estimate(model.predicts, vocals, None, self.stft_params, mix_block).residual().value
            pair = torch.stack([vocals, rest])
            return pair if complex_out or not pair.is_complex() else pair.abs()
        return estimate

    def _stream(self, mixture, method: str, options: dict) -> np.ndarray:
        """The engine over the track in blocks, this model as the estimator. Shape: (C, N) -> (2, C, N)."""
        row = METHODS[method]
        estimate = self._estimator(row.engine == "own", settings_of(method, options).get("residual", False))
        with torch.no_grad():
            return separate_streaming(np.asarray(mixture, dtype=np.float32), estimate, method, self.stft_params,
                                      block_seconds=self.chunk_seconds, context_seconds=self.context_seconds,
                                      device=self.device, **options)

    @torch.no_grad()
    def _vocode(self, mixture, method: str) -> np.ndarray:
        """A trained vocoder on the gathered magnitudes (streamed estimates). Shape: (C, N) -> (2, C, N)."""
        from hw2sep.dsp.blocks import StreamedTrack
        from hw2sep.vocoder import vocode
        mixture = torch.as_tensor(np.asarray(mixture, dtype=np.float32), device=self.device)
        source = StreamedTrack(mixture, self._estimator(False, False), self.stft_params, self.chunk_frames,
                               self.context_frames)
        vocoder = self.vocoders[METHODS[method].fixed["features"]][1]
        return vocode(gather_magnitudes(source), mixture.shape[-1], vocoder).float().cpu().numpy()

    @torch.no_grad()
    def _from_whole(self, est: dict[str, Estimate], method: str, options: dict) -> np.ndarray:
        """A waveform model's estimates, reconstructed as one block. Shape: -> (2, C, N)."""
        row = METHODS[method]
        if row.engine == "own":
            rest = est["vocals"].residual() if row.fixed.get("residual") else est["accompaniment"]
            return torch.stack([est["vocals"].wave(), rest.wave()]).float().cpu().numpy()
        if row.engine == "vocoder":
            from hw2sep.vocoder import vocode
            mags = torch.stack([est[t].magnitude() for t in TARGETS])
            vocoder = self.vocoders[row.fixed["features"]][1]
            return vocode(mags, est["vocals"].length, vocoder).float().cpu().numpy()
        source = WholeTrack(est["vocals"].mix_spec, torch.stack([est[t].magnitude() for t in TARGETS]), self.stft_params)
        return reconstruct_blocks(source, method, est["vocals"].length, **options).numpy()
