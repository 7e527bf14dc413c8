"""Read what training and evaluation wrote: log.csv, comparison.csv, per_track.csv, checkpoint jsons.

Plots, the report and the notebooks read result files only through these functions, so a missing
or half-written file gives one clear `Hw2sepError` naming the file and the step that writes it.
"""

from __future__ import annotations

import csv
import json
import io
import math
from pathlib import Path
from typing import Iterable, Sequence

from hw2sep.common.checkpoint_json import REPAIR, json_problem
from hw2sep.errors import Hw2sepError
from hw2sep.names import TARGETS, epoch_of  # noqa: F401  (epoch_of: the one checkpoint-name rule)

NUMERIC = ("SDR", "SDR_mean", "SDR_global", "SIR", "ISR", "SAR", "LSD")
EXPERIMENT_NUMERIC = ("parameters", "epochs", "best_epoch", "train_seconds", "peak_gpu_mb", "seq_dur")


class DamagedResultError(Hw2sepError):
    """A result file that exists but cannot be trusted (cut off, non-numeric cells): never read in part."""


EVALUATE_AGAIN = ("rerun python -m hw2sep.evaluation.evaluate with the same --out: it rewrites the csv files from the scored "
                  "tracks, which it keeps")


def _read_csv(path: Path, what: str, hint: str, repair: str) -> list[dict]:
    """Rows of a csv file as dicts; Hw2sepError naming `hint` (how to make it) when it is missing.

    A file cut off mid-row (no final newline, a row with too few or too many cells) raises
    `DamagedResultError` naming `repair`: its remaining rows would silently miss results.
    """
    if not path.exists():
        raise Hw2sepError(f"no {what} at {path}: {hint}")
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise DamagedResultError(f"{path} is not a text csv file: {repair}") from None
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for line, row in enumerate(rows, start=2):
        if None in row or None in row.values():
            raise DamagedResultError(f"{path} is cut off or malformed at row {line} "
                                     f"({'too many' if None in row else 'too few'} cells): {repair}")
    if text and not text.endswith("\n"):
        raise DamagedResultError(f"{path} is cut off mid-row at row {len(rows) + 1} (no final newline): {repair}")
    if not rows:
        raise Hw2sepError(f"{path} holds no rows yet: {hint}")
    return rows


def _number(value: str | None, path: Path | None = None, line: int = 0, key: str = "", repair: str = "",
            whole: bool = False) -> float | int | None:
    """A csv cell as float (int with ``whole``), or None for an empty / nan cell; else DamagedResultError."""
    if value in (None, "", "None"):
        return None
    try:
        number = int(value) if whole else float(value)
    except ValueError:
        where = f"{path} row {line}: " if path is not None else ""
        raise DamagedResultError(f"{where}{key or 'value'} '{value[:20]}' is not a "
                                 f"{'whole number' if whole else 'number'}: {repair}") from None
    return None if not whole and math.isnan(number) else number


def read_log(run: str | Path) -> list[dict]:
    """Training log rows (epoch, train_loss, valid_loss, lr, ...) from RUN/log.csv (or a csv path), as numbers."""
    path = Path(run)
    path = path if path.suffix == ".csv" else path / "log.csv"
    repair = "it is written by python -m hw2sep.training.train; restore it from a copy of the run folder or train again"
    rows = _read_csv(path, "training log", "train first (python -m hw2sep.training.train or notebooks/02_train.ipynb)", repair)
    out = []
    for line, row in enumerate(rows, start=2):
        out.append({k: _number(v, path, line, k, repair, whole=k == "epoch") for k, v in row.items()})
        if out[-1].get("epoch") is None and "epoch" in row:
            raise DamagedResultError(f"{path} row {line}: the epoch is empty: {repair}")
    return out


def read_comparison(results: str | Path) -> list[dict]:
    """Rows of RESULTS/comparison.csv with numeric SDR columns and integer (or None) epochs."""
    path = Path(results)
    path = path if path.suffix == ".csv" else path / "comparison.csv"
    rows = _read_csv(path, "comparison table", "evaluate first (python -m hw2sep.evaluation.evaluate or notebooks/03_evaluate_epochs.ipynb)",
                     EVALUATE_AGAIN)
    for line, row in enumerate(rows, start=2):
        row["epoch"] = _number(row.get("epoch"), path, line, "epoch", EVALUATE_AGAIN, whole=True)
        row["tracks"] = _number(row.get("tracks"), path, line, "tracks", EVALUATE_AGAIN, whole=True) or 0
        for key in NUMERIC:
            if key in row:
                row[key] = _number(row[key], path, line, key, EVALUATE_AGAIN)
    return rows


def read_per_track(results: str | Path, checkpoint: str, method: str) -> list[dict]:
    """Rows of RESULTS/<checkpoint>/<method>/per_track.csv (track, target, SDR, SIR, ISR, SAR, SDR_global)."""
    path = Path(results) / checkpoint / method / "per_track.csv"
    rows = _read_csv(path, f"per-track scores for {checkpoint} / {method}",
                     f"evaluate {checkpoint} with --methods {method}", EVALUATE_AGAIN)
    for line, row in enumerate(rows, start=2):
        for key in NUMERIC:
            if key in row:
                row[key] = _number(row[key], path, line, key, EVALUATE_AGAIN)
    return rows


def non_numeric_cells(path: str | Path, rows: Sequence[dict]) -> list[str]:
    """One warning per cell of an experiment table's numeric columns (sizes, epochs, times, ``*_SDR_*``) that
    is not a number: plots and the report show it as missing, so the file, row and column are named."""
    warnings = []
    for line, row in enumerate(rows, start=2):
        for key, value in row.items():
            if not (key in EXPERIMENT_NUMERIC or "_SDR_" in str(key)) or value in (None, "", "None", "nan"):
                continue
            try:
                float(value)
            except (TypeError, ValueError):
                warnings.append(f"{path} row {line}, column {key}: '{str(value)[:20]}' is not a number "
                                "(shown as missing)")
    return warnings


def find_row(rows: Iterable[dict], checkpoint: str, method: str, target: str) -> dict | None:
    """The comparison row of (checkpoint, method, target), or None."""
    for row in rows:
        if row["checkpoint"] == checkpoint and row["method"] == method and row["target"] == target:
            return row
    return None


def epoch_checkpoints(rows: Sequence[dict], method: str = "mixture") -> dict[int, str]:
    """{epoch: checkpoint label} of the results evaluated with `method`, epoch_NNN labels first.

    A checkpoint such as ``best`` counts for its epoch only when no ``epoch_NNN`` label has it.
    """
    found: dict[int, str] = {}
    for row in rows:
        if row["method"] != method or row["epoch"] is None:
            continue
        label, epoch = row["checkpoint"], row["epoch"]
        if epoch_of(label) == epoch or epoch not in found:
            found[epoch] = label
    return dict(sorted(found.items()))


def epochs_to_show(rows: Sequence[dict], wanted: Sequence[int], method: str = "mixture") -> tuple[list[int], str | None]:
    """Which epochs a table shows, and a note when the wanted ones are not in the results.

    The wanted epochs (25/50/150 by default) are shown, missing ones included, as long as any of them
    was evaluated; when none was (a smoke run with epochs 1/2/3), the evaluated epochs are shown instead.
    """
    have = epoch_checkpoints(rows, method)
    if not have or any(e in have for e in wanted):
        return list(wanted), None
    note = (f"no result for epochs {', '.join(map(str, wanted))}; "
            f"showing the evaluated epochs {', '.join(map(str, have))}")
    return list(have), note


def best_epoch(rows: Sequence[dict], method: str = "mixture", target: str = "vocals") -> tuple[int, str] | None:
    """(epoch, checkpoint) with the highest median `target` SDR among the epoch checkpoints, or None."""
    pairs = [((find_row(rows, label, method, target) or {}).get("SDR"), epoch, label)
             for epoch, label in epoch_checkpoints(rows, method).items()]
    pairs = [p for p in pairs if p[0] is not None]
    if not pairs:
        return None
    _, epoch, label = max(pairs, key=lambda p: (p[0], p[1]))
    return epoch, label


SELECTION = "selection.json"  # RESULTS/selection.json: which checkpoint Task 2, the samples and the report use
SELECT_RULES = {"validation": "the lowest validation loss (best.pt)",
                "test": "the highest median test vocals SDR: chosen on the test set"}
DEFAULT_SELECTION = {"checkpoint": "best", "select": "validation", "how": SELECT_RULES["validation"]}


def choose_checkpoint(rows: Sequence[dict], select: str = "validation") -> tuple[str, str]:
    """(checkpoint label, how it was chosen): ``best`` (lowest validation loss, the honest default) or, with
    ``select="test"``, the epoch checkpoint of highest test vocals SDR, said to be chosen on the test set."""
    if select not in SELECT_RULES:
        raise Hw2sepError(f"select must be one of {', '.join(SELECT_RULES)}, got {select!r}")
    if select == "validation":
        return "best", SELECT_RULES[select]
    best = best_epoch(rows)
    if best is None:
        raise Hw2sepError("no epoch checkpoint has a test SDR yet: run notebook 03 first")
    return best[1], SELECT_RULES[select]


def read_selection(results: str | Path) -> dict:
    """RESULTS/selection.json ({"checkpoint", "select", "how"}); the validation choice when there is none."""
    path = Path(results) / SELECTION
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return dict(DEFAULT_SELECTION)
    except (OSError, ValueError) as err:
        raise DamagedResultError(f"{path} is damaged ({type(err).__name__}): delete it and rerun notebook 03") from None


def phase_checkpoint(rows: Sequence[dict], method: str = "griffinlim", prefer: str | None = None) -> str | None:
    """The checkpoint evaluated with both `method` and the mixture phase (``prefer`` if it qualifies).

    With several candidates, the one whose mixture-phase vocals SDR is highest wins.
    """
    both = [c for c in dict.fromkeys(r["checkpoint"] for r in rows)
            if find_row(rows, c, method, TARGETS[0]) and find_row(rows, c, "mixture", TARGETS[0])]
    if prefer in both:
        return prefer
    if not both:
        return None
    return max(both, key=lambda c: find_row(rows, c, "mixture", TARGETS[0])["SDR"] or -math.inf)


def methods_of(rows: Sequence[dict], checkpoint: str) -> list[str]:
    """Methods evaluated for `checkpoint`, mixture first, in file order otherwise."""
    methods = list(dict.fromkeys(r["method"] for r in rows if r["checkpoint"] == checkpoint))
    return sorted(methods, key=lambda m: m != "mixture")


def read_manifest(npy_root: str | Path) -> dict | None:
    """The npy cache's manifest.json (what a model was trained on), None when it is missing or unreadable here."""
    try:
        manifest = json.loads((Path(npy_root) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and isinstance(manifest.get("tracks"), list) else None


def read_index(samples_dir: str | Path) -> list[dict]:
    """The listening samples' index (SAMPLES/index.json), [] when there is none."""
    path = Path(samples_dir) / "index.json"
    return json.loads(path.read_text()) if path.exists() else []


def read_checkpoint_meta(run: str | Path, names: Sequence[str] = ("best", "last")) -> dict:
    """The json sidecar of the first existing RUN/<name>.json (then any epoch_NNN.json)."""
    run = Path(run)
    candidates = [run / f"{n}.json" for n in names] + sorted(run.glob("epoch_*.json"), reverse=True)
    for path in candidates:
        if path.exists():
            try:
                meta = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                raise DamagedResultError(f"{path} is damaged ({type(err).__name__}): restore it from a copy of the run "
                                         "folder or train again") from None
            problem = json_problem(meta) if isinstance(meta, dict) else "not a json object"
            if problem:
                raise DamagedResultError(f"{path} is damaged: {problem} ({REPAIR})")
            meta["_path"] = str(path)
            return meta
    raise Hw2sepError(f"no checkpoint json (best.json, last.json, epoch_NNN.json) in {run}: train first")
