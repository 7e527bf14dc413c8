"""bench/gpu_check.py's code path on the CPU (--smoke: tiny models, gloo): every row runs and gives numbers,
the markdown copy holds the same table, a failing row is reported without stopping the others."""

import importlib.util
import math
import os
import re
import subprocess
import sys

import torch

from conftest import REPO

SCRIPT = REPO / "bench" / "gpu_check.py"
_spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
gpu_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_check)


def _number(text: str) -> float:
    return float(re.search(r"[-+]?\d+(\.\d+)?", text).group())


def test_smoke_run_gives_every_row_with_positive_finite_numbers(tmp_path):
    out = tmp_path / "check.md"
    done = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--device", "cpu", "--models", "umx,bsrnn",
                           "--out", str(out)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    lines = out.read_text().splitlines()
    assert lines[0].startswith("cpu (") and "torch " + torch.__version__ in lines[0]
    table = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if line.startswith("| ")]
    assert table[0] == list(gpu_check.COLUMNS)
    rows = {cells[0]: dict(zip(gpu_check.COLUMNS, cells)) for cells in table[1:]}
    assert list(rows) == ["train umx", "train bsrnn", "epoch umx", "separate umx", "griffinlim umx", "ddp gloo"]
    for name, row in rows.items():
        assert row["status"] == "ok", (name, row)
        seconds, peak = float(row["seconds"]), float(row["peak MB"])
        assert math.isfinite(seconds) and seconds > 0 and math.isfinite(peak) and peak >= 0, (name, row)
        assert row["check"] in done.stdout  # the printed table holds the same rows
    assert _number(rows["train umx"]["figure"]) > 0 and rows["train umx"]["per"] == "step"
    epoch = rows["epoch umx"]["figure"]  # minutes per epoch: 86 tracks x 64 excerpts / batch 2 batches
    assert _number(epoch) > 0 and f"({math.ceil(86 * 64 / gpu_check.SMOKE['batch'])} batches)" in epoch
    separate, griffinlim = (_number(rows[k]["figure"]) for k in ("separate umx", "griffinlim umx"))
    assert 0 < separate < griffinlim  # 32 Griffin-Lim iterations on top of the same model run
    assert rows["ddp gloo"]["figure"] == "DDP, world size 1"


def test_a_failing_row_is_reported_and_the_next_row_runs():
    rows = []

    def fails():
        raise RuntimeError("CUDA error: an illegal memory access was encountered\nmore lines")
    gpu_check.run_row(rows, "train x", "batch 1", fails, torch.device("cpu"), 0.0)
    gpu_check.run_row(rows, "train y", "batch 1", lambda: {"seconds": 0.5, "per": "step", "peak MB": 3.0,
                                                           "figure": "1 M params", "status": "ok"},
                      torch.device("cpu"), 0.0)
    assert rows[0]["status"] == "failed: RuntimeError: CUDA error: an illegal memory access was encountered"
    assert rows[1]["status"] == "ok"
    text, markdown = gpu_check.format_table(rows), gpu_check.format_table(rows, markdown=True)
    assert "failed: RuntimeError" in text and "0.5000" in text
    assert markdown.splitlines()[2].startswith("| train x | batch 1 | - | - | - | - | failed:")


def test_full_check_refuses_a_cpu():
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2 and "give --smoke" in done.stderr
