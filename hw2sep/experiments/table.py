"""An experiment's table: one row per run (facts, budget, SDR per method token) from the run folders' files alone,
as table.csv, table.md and figures."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Sequence


from hw2sep import TARGETS
from hw2sep.models.checkpoint import read_meta
from hw2sep.errors import Hw2sepError
from hw2sep.common.files import disk_errors, write_csv, write_text
from hw2sep.report.results import non_numeric_cells
from hw2sep.models import MODELS
from hw2sep.separation.separator import methods_for

from hw2sep.experiments.study import RUN_RECORD, TABLE_FIELDS, read_json_or_none


def write_table(folder: str | Path) -> list[dict]:
    """Build ``table.csv`` and ``table.md`` from the run folders' files alone; returns the rows."""
    folder = Path(folder)
    info = read_json_or_none(folder / "experiment.json")
    if info is None:
        raise Hw2sepError(f"{folder} has no experiment.json: not an experiment folder")
    tokens = info["evaluate"]["methods"]
    rows = [table_row(folder / "runs" / name, tokens) for name in info["runs"]
            if (folder / "runs" / name / "best.json").exists()]
    note = dropped_runs_note(folder, info["runs"])
    with disk_errors(folder / "table.csv", "experiment table"):
        write_csv(folder / "table.csv", rows, table_fields(tokens))
        write_text(folder / "table.md", format_markdown(rows, tokens) + "\n" + (f"\n{note}\n" if note else ""))
    if note:
        print(note)
    return rows


def dropped_runs_note(folder: Path, runs: Sequence[str]) -> str | None:
    """One line naming trained run folders that the experiment file no longer lists (renamed or removed):
    their rows leave the table, so the table says so rather than dropping them silently."""
    dropped = sorted(p.parent.name for p in (Path(folder) / "runs").glob("*/best.json") if p.parent.name not in runs)
    if not dropped:
        return None
    return (f"note: {len(dropped)} trained run(s) no longer in the experiment file, left out of the table: "
            f"{', '.join(dropped)} (in {Path(folder) / 'runs'}; delete them to drop this note)")


def table_fields(tokens: Sequence[str]) -> tuple[str, ...]:
    """The table's columns: the run's facts, then SDR per target and method token (main, griffinlim, ...)."""
    return TABLE_FIELDS + tuple(f"{t}_SDR_{m}" for m in tokens for t in TARGETS)


def table_row(run_dir: Path, tokens: Sequence[str]) -> dict:
    """One table row from a run folder: its record, best checkpoint json and evaluation summaries."""
    meta, record = read_meta(run_dir / "best"), read_json_or_none(run_dir / RUN_RECORD) or {}
    config = meta.get("train", {})
    main = methods_for(run_dir / "best", ["main"])[0]
    row = {"run": run_dir.name, "model": meta["model"], "parameters": meta["parameters"], "pretrained": "no",
           "code_origin": MODELS[meta["model"]].origin, "varied": record.get("varied", ""),
           "epochs": record.get("epochs"), "best_epoch": meta.get("epoch"), "budget": record.get("stopped_by", ""),
           "train_seconds": record.get("train_seconds"), "peak_gpu_mb": record.get("peak_gpu_mb"),
           "seq_dur": config.get("seq_dur"), "loss": meta.get("loss"), "main_method": main}
    for token in tokens:
        method = main if token == "main" else token
        summary = read_json_or_none(run_dir / "results" / "best" / method / "summary.json") or {"targets": {}}
        for target in TARGETS:
            row[f"{target}_SDR_{token}"] = summary["targets"].get(target, {}).get("SDR")
    return row


def read_per_track_sdr(folder: str | Path, token: str = "main") -> dict[str, dict[str, list[float]]]:
    """Per-track median SDR of every run for one method token: {run: {target: [SDR per track]}}."""
    folder = Path(folder)
    info = read_json_or_none(folder / "experiment.json") or {"runs": []}
    result = {}
    for name in info["runs"]:
        run_dir = folder / "runs" / name
        if not (run_dir / "best.json").exists():
            continue
        method = methods_for(run_dir / "best", [token])[0]
        path = run_dir / "results" / "best" / method / "per_track.csv"
        if path.exists():
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            result[name] = {t: [float(r["SDR"]) for r in rows if r["target"] == t and r["SDR"] not in ("", "nan")]
                            for t in TARGETS}
    return result


def make_figures(folder: str | Path) -> list[Path]:
    """Draw the experiment's figures beside its table (matplotlib is imported only here)."""
    from hw2sep.report.experiment_plots import plot_experiment
    folder = Path(folder)
    with open(folder / "table.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for warning in non_numeric_cells(folder / "table.csv", rows):
        print(f"warning: {warning}", file=sys.stderr)
    return plot_experiment(folder, rows, read_per_track_sdr(folder, "main"))


def format_markdown(rows: Sequence[dict], tokens: Sequence[str] = ("main", "griffinlim")) -> str:
    """The table as markdown (SDR in dB, median of per-track medians)."""
    fields = [f for f in table_fields(tokens) if f not in ("pretrained", "code_origin")]
    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    for row in rows:
        cells = []
        for f in fields:
            value = row.get(f)
            cells.append("" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def epochs_text(n: int) -> str:
    return f"{n} epoch{'s' if n != 1 else ''}"


