"""A model's layers as rows (name, type, sizes, trainable parameters): saved in every checkpoint json, so the report
draws the architecture table without torch."""

from __future__ import annotations

from torch import nn


def architecture_rows(model) -> list[dict]:
    """One row per layer of ``model``: name, type, details and trainable parameters.

    Built from the named children and the model's own parameters (``input_*`` first, ``output_*``
    last, the order in which Open-Unmix applies them).
    """
    own = [(name, p) for name, p in model.named_parameters(recurse=False)]
    rows = [{"layer": name, "type": "Parameter", "details": f"shape {tuple(p.shape)}",
             "parameters": p.numel() if p.requires_grad else 0} for name, p in own]
    first = [r for r in rows if not r["layer"].startswith("output")]
    last = [r for r in rows if r["layer"].startswith("output")]
    children = [{"layer": name, "type": type(module).__name__, "details": _describe(module),
                 "parameters": sum(p.numel() for p in module.parameters() if p.requires_grad)}
                for name, module in model.named_children()]
    return first + children + last


def _describe(module) -> str:
    """A short description of a torch layer's sizes."""
    if isinstance(module, nn.Linear):
        return f"{module.in_features} → {module.out_features}" + ("" if module.bias is None else " + bias")
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return f"{module.num_features} features"
    if isinstance(module, nn.LSTM):
        directions = "bidirectional" if module.bidirectional else "unidirectional"
        return f"{module.input_size} → {module.hidden_size} × {1 + module.bidirectional}, {module.num_layers} layer(s), {directions}"
    return ""
