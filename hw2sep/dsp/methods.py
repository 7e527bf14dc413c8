"""The one table of reconstruction methods: name, label, description, engine, the settings it reads, their defaults.

Result keys, the CLI choices (``--phase``, ``--methods``), the notebook pickers and the report's labels all read
``METHODS``; ``hw2sep.dsp.reconstruct`` runs the engines. Torch-free, so the report can import it.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Sequence

from hw2sep.errors import Hw2sepError

# Every reconstruction setting and its default, defined once (CLIs, Separator, result keys and the engines read it).
DEFAULTS = {"wiener_iterations": 1, "gl_iterations": 32, "momentum": 0.99, "seed": 0}
GL_INITS = ("random", "mixture")  # Griffin-Lim's initial phase: librosa's random draw for `seed`, or the mixture's
OWN_OUTPUT_KINDS = ("complex", "waveform")  # model kinds whose own output is a waveform without a phase method


@dataclass(frozen=True)
class Method:
    """One row of the table."""

    label: str                 # human text for tables, plots and the report
    description: str           # one line: what the method does
    engine: str                # the engine of hw2sep.dsp.reconstruct, "own" (the model's output) or "vocoder"
    reads: tuple[str, ...] = ()                      # settings of DEFAULTS that change its numbers
    fixed: dict = field(default_factory=dict)        # settings the method pins (they win over the caller's)


_GL = ("gl_iterations", "momentum", "seed")
METHODS: dict[str, Method] = {
    "mixture": Method("mixture phase", "each estimated magnitude with the mixture's phase (Open-Unmix's default)",
                      "mixture"),
    "wiener": Method("Wiener filter (EM)", "multichannel Wiener filtering of the mixture refined by EM (norbert's)",
                     "wiener", ("wiener_iterations",)),
    "griffinlim": Method("Griffin-Lim (random init)", "the assignment's Griffin-Lim: fast Griffin-Lim with momentum "
                         "from librosa's random phase", "griffinlim", _GL, {"gl_init": "random"}),
    "griffinlim-librosa": Method("librosa.griffinlim", "librosa.griffinlim itself, the reference the assignment names",
                                 "griffinlim-librosa", _GL),
    "griffinlim-mixinit": Method("Griffin-Lim (mixture-phase init)", "Griffin-Lim started from the mixture phase",
                                 "griffinlim", _GL, {"gl_init": "mixture"}),
    "mel": Method("mel -> Griffin-Lim (librosa)", "128-band mel power, NNLS back to a linear magnitude (librosa), "
                  "then Griffin-Lim", "mel", _GL),
    "direct": Method("model's own output", "the complex STFT or waveform the model predicts (no phase method)", "own"),
    "residual": Method("own output, accompaniment = mix - vocals", "the model's own vocals, the accompaniment as "
                       "mixture - vocals", "own", fixed={"residual": True}),
    "vocoder": Method("trained mel vocoder", "a trained Vocos-style vocoder from the mel of the estimated magnitude",
                      "vocoder", fixed={"features": "mel"}),
    "vocoder-linear": Method("trained vocoder (linear magnitude)", "a trained vocoder from the estimated linear "
                             "magnitude", "vocoder", fixed={"features": "linear"}),
}
# Tokens a user may give besides method names, resolved per model by `resolve_methods`.
TOKENS = {"main": "the model's own reconstruction: direct for complex/waveform models, else mixture",
          "both": "main, residual for a conditioned complex model, and griffinlim (infer.py's default)"}


def method_label(method: str, width: int | None = None) -> str:
    """The human text of a method (the name itself when unknown), wrapped to ``width`` characters."""
    text = METHODS[method].label if method in METHODS else method
    return text if width is None else "\n".join(textwrap.wrap(text, width)) or text


def settings_of(method: str, options: dict | None = None) -> dict:
    """The settings ``method`` runs with: DEFAULTS, then the caller's ``options``, then the method's fixed ones."""
    unknown = sorted(set(options or {}) - set(DEFAULTS))
    if unknown:
        raise Hw2sepError(f"unknown reconstruction setting(s) {unknown}; settings: {', '.join(DEFAULTS)}")
    return {**DEFAULTS, **(options or {}), **METHODS[method].fixed}


def result_key(method: str, options: dict | None = None) -> dict:
    """Every setting that changes ``method``'s numbers, resolved to its value (part of a cached score's key)."""
    row, resolved = METHODS[method], settings_of(method, options)
    return {"method": method, **{k: resolved[k] for k in (*row.reads, *row.fixed)}}


def main_method(predicts: str) -> str:
    """The own reconstruction of a model that predicts ``predicts`` (the ``main`` token)."""
    return "direct" if predicts in OWN_OUTPUT_KINDS else "mixture"


def resolve_methods(tokens: Sequence[str], predicts: str | None = None, targets: Sequence[str] = ("vocals",)) -> list[str]:
    """Method names from names and tokens (``main``, ``both``), without repeats; one line for an unknown one.

    Without ``predicts`` (no model known yet) the tokens are only checked.
    """
    unknown = [t for t in tokens if t not in METHODS and t not in TOKENS]
    if unknown or not tokens:
        raise Hw2sepError(f"unknown method(s) {unknown or '(none given)'}; choose from {', '.join(METHODS)} "
                          f"or {', '.join(TOKENS)}")
    if predicts is None:
        return list(dict.fromkeys(t for t in tokens if t in METHODS))
    own = main_method(predicts)
    both = [own, *(["residual"] if "accompaniment" in targets and predicts in OWN_OUTPUT_KINDS else []), "griffinlim"]
    expand = {"main": [own], "both": both}
    methods = list(dict.fromkeys(m for t in tokens for m in expand.get(t, [t])))
    for method in ("direct", "residual"):
        if method in methods and predicts not in OWN_OUTPUT_KINDS:
            raise Hw2sepError(f"method '{method}' needs a complex or waveform model; this one predicts {predicts} "
                              "(use mixture)")
    return methods
