"""Smoke test of bench/bench_models.py: one tiny model row in-process, the table and the published notes."""

import importlib.util
import json
from pathlib import Path

import torch

from hw2sep.models import MODELS

_PATH = Path(__file__).resolve().parents[1] / "bench" / "bench_models.py"
_spec = importlib.util.spec_from_file_location("bench_models", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_tiny_row_has_every_field_and_formats():
    name = bench.REFERENCE
    row = bench.measure(name, torch.device("cpu"), steps=1, seconds=1.0, batch=1, seq_dur=1.0, tiny=True)
    assert set(bench.ROW_FIELDS) <= set(row)
    assert row["model"] == name and row["device"] == "cpu"
    assert row["params"] > 0 and row["step_s"] > 0 and row["rtf"] > 0 and row["peak_mb"] >= 0
    assert row["loss"] == MODELS[name].cls.default_loss
    table = bench.format_table([row])
    assert name in table and "published:" in table and "1.00" in table  # the reference's own ratio is 1


def test_failed_row_and_missing_reference_still_format():
    rows = [{"model": "x", "device": "cpu", "error": "exit status 1: boom"},
            {"model": "y", "device": "cpu", "params": 10, "step_s": 1.0, "rtf": 0.5, "peak_mb": 3.0,
             "method": "mixture", "loss": "mse_mag"}]
    table = bench.format_table(rows, notes=False)
    assert "failed: exit status 1: boom" in table and "0.500" in table


def test_published_notes_cover_exactly_the_registry():
    assert set(bench.PUBLISHED) == set(MODELS)


def test_tiny_memory_rows_plain_and_checkpointed_format_side_by_side():
    name = "bsrnn"
    assert bench.can_checkpoint(name) and not bench.can_checkpoint(bench.REFERENCE)
    rows = [bench.training_memory(name, torch.device("cpu"), batch=1, seq_dur=0.5, checkpointed=flag, tiny=True)
            for flag in (False, True)]
    for row, flag in zip(rows, (False, True)):
        assert set(bench.MEMORY_FIELDS) <= set(row) and row["checkpointed"] == flag
        assert row["step_s"] > 0 and row["peak_gb"] > 0 and row["per_s"] >= 0
    lines = bench.format_memory_table(rows).splitlines()
    assert len(lines) == 2 and lines[1].startswith(name)  # one line per model: plain and checkpointed together
    assert f"{rows[1]['step_s'] / rows[0]['step_s']:.2f}" in lines[1]


def test_memory_cases_read_the_shipped_configs():
    cases = bench.memory_cases(["umx"], ["bsrnn"], batch=1, seq_dur=1.5)
    assert [(c["model"], c["checkpointed"]) for c in cases] == [("umx", False), ("bsrnn", False), ("bsrnn", True)]
    shipped = json.loads((bench.CONFIGS / "bsrnn.json").read_text())
    assert cases[-1]["batch"] == shipped["batch_size"] and cases[-1]["seq_dur"] == shipped["seq_dur"]
