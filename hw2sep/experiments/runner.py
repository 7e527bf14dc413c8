"""Train a set of runs with one budget, evaluate each on the test set, and tabulate them (optional tasks).

    python -m hw2sep.experiments.runner configs/experiments/structure.json --npy-root NPY --musdb-root ROOT --out WORK/experiments
    python -m hw2sep.experiments.runner configs/experiments/compare_models.json --npy-root NPY --musdb-root ROOT --smoke

An experiment file names a base config, overrides for every run, the runs (each a ``vary`` label and its
own overrides, or its own config file), one budget (``{"epochs": N}`` or ``{"minutes": M}``: stop after
the epoch that crosses M minutes of training) and the evaluation settings. Each run trains into
``OUT/NAME/runs/RUN``; its best checkpoint is scored with the model's own reconstruction ("main":
mixture phase for magnitude models, direct for complex ones) and Griffin-Lim; ``OUT/NAME/table.csv``
(+ ``table.md`` and PNG figures) has a row per run. A rerun resumes: finished runs are kept, the
unfinished one continues from its ``last.pt``, and scored tracks are not scored again.

``--metric fast`` and ``--tracks N`` override the file's evaluation (museval on all 50 tracks costs
about 40 CPU-minutes per run and method). ``--smoke`` writes to ``OUT/NAME_smoke`` with every run shrunk to its model's tiny options, one epoch,
1 s excerpts, 2 test tracks and the fast metric: a CPU check of the whole pipeline on the toy set.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import re
import sys
import time
from pathlib import Path
from typing import NamedTuple, Sequence

import torch

from hw2sep import TARGETS
from hw2sep.models.checkpoint import read_meta
from hw2sep.common.devices import resolve_device
from hw2sep.data.musdb import list_tracks
from hw2sep.data.npy_cache import load_manifest
from hw2sep.errors import Hw2sepError, run_cli
from hw2sep.evaluation.evaluate import evaluate
from hw2sep.common.files import disk_errors, read_json_file, write_csv, write_json, write_text
from hw2sep.report.results import non_numeric_cells
from hw2sep.training.losses import get_loss
from hw2sep.models import MODELS, model_config
from hw2sep.data.musdb import training_subsets
from hw2sep.dsp.methods import DEFAULTS, resolve_methods
from hw2sep.separation.separator import methods_for
from hw2sep.training.train import TrainConfig, fit, load_config

REPO = Path(__file__).resolve().parents[2]
EXPERIMENT_KEYS = ("name", "description", "base", "set", "runs", "budget", "evaluate", "smoke")
RUN_KEYS = ("name", "vary", "set", "config")
EVALUATE_DEFAULTS = {"methods": "main+griffinlim", "metric": "museval", "tracks": None,
                     "gl_iterations": DEFAULTS["gl_iterations"]}
# --smoke: training settings (the model's tiny options come first), evaluation settings
SMOKE_TRAIN = ("seq_dur=1.0", "samples_per_track=2", "batch_size=2", "nb_workers=0", "checkpoint_epochs=[]")
SMOKE_EVALUATE = {"metric": "fast", "tracks": 2, "gl_iterations": 4}
# settings that may change between an interrupted call and its rerun without making it another run
NOT_IDENTITY = ("npy_root", "out", "device", "nb_workers", "description")
RUN_RECORD = "experiment_run.json"  # per run folder: resolved config, done flag, epochs, time, peak memory
TABLE_FIELDS = ("run", "model", "parameters", "pretrained", "code_origin", "varied", "epochs", "best_epoch",
                "budget", "train_seconds", "peak_gpu_mb", "seq_dur", "loss", "main_method")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Run(NamedTuple):
    """One training run of an experiment, fully resolved."""

    name: str
    varied: str
    config: TrainConfig


class Experiment(NamedTuple):
    """A parsed experiment file: its runs and the shared budget and evaluation settings."""

    name: str
    description: str
    folder: Path          # OUT/NAME (OUT/NAME_smoke with --smoke)
    runs: list[Run]
    budget: dict          # {"epochs": N} and/or {"minutes": M}
    evaluate: dict        # methods (list of tokens, "main" included), metric, tracks, gl_iterations
    smoke: bool


class ExperimentResult(NamedTuple):
    """What ``run_experiment`` returns: the folder, the table rows and the figure paths."""

    folder: Path
    rows: list[dict]
    figures: list[Path]


def load_experiment(path: str | Path, npy_root: str | Path = "", out: str | Path = "experiments",
                    overrides: Sequence[str] = (), smoke: bool = False, evaluate_overrides: dict | None = None
                    ) -> Experiment:
    """Parse and check an experiment file; every run's config is resolved (and so validated) here.

    Settings apply in this order: the base config (or the run's ``config``), the experiment's ``set``,
    with ``smoke`` the model's tiny options and small training settings, the run's ``set``, the budget's
    epochs (1 with ``smoke``), the ``smoke.set`` section (with ``smoke``), then ``overrides`` (``--set``).
    Evaluation settings: the defaults, the file's ``evaluate``, with ``smoke`` the fast ones and the file's
    ``smoke.evaluate``, then ``evaluate_overrides`` (e.g. ``{"metric": "fast", "tracks": 10}``).
    """
    path = Path(path)
    spec = _read_spec(path)
    name = spec["name"]
    smoke_spec = spec.get("smoke") or {}
    budget = _check_budget(spec.get("budget"), path)  # checked with --smoke too: the real run will need it
    budget = {"epochs": 1} if smoke else budget
    evaluate_settings = {**EVALUATE_DEFAULTS, **(spec.get("evaluate") or {}), **(SMOKE_EVALUATE if smoke else {}),
                         **(smoke_spec.get("evaluate", {}) if smoke else {}), **(evaluate_overrides or {})}
    evaluate_settings = _check_evaluate(evaluate_settings, path)
    folder = Path(out) / (f"{name}_smoke" if smoke else name)
    runs = []
    for index, run in enumerate(spec["runs"]):
        runs.append(_resolve_run(run, index, spec, path, folder, npy_root, budget, overrides, smoke, smoke_spec))
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise Hw2sepError(f"experiment {path}: run names must be unique, got {names}")
    return Experiment(name, spec.get("description", ""), folder, runs, budget, evaluate_settings, smoke)


def run_experiment(path: str | Path, npy_root: str | Path, musdb_root: str | Path, out: str | Path = "experiments",
                   overrides: Sequence[str] = (), progress: bool = True, smoke: bool = False,
                   device: str = "auto", evaluate_overrides: dict | None = None) -> ExperimentResult:
    """Train every run (resuming), evaluate every best checkpoint, write the table and figures.

    Returns the folder (``OUT/NAME``), the table rows (as in ``table.csv``) and the figure paths.
    """
    experiment = load_experiment(path, npy_root, out, overrides, smoke, evaluate_overrides)
    if not list_tracks(musdb_root, "test"):  # before the first run trains, not after it
        raise Hw2sepError(f"no 'test' tracks under --musdb-root {musdb_root}: every run is scored on them")
    folder = experiment.folder
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "experiment.json", {"source": str(path), "name": experiment.name,
                                            "description": experiment.description, "smoke": smoke,
                                            "budget": experiment.budget, "evaluate": experiment.evaluate,
                                            "overrides": list(overrides), "runs": [r.name for r in experiment.runs]})
    with _one_thread(smoke):  # tiny tensors: one thread is faster, and 2 threads stall on a busy machine
        for number, run in enumerate(experiment.runs, 1):
            if progress:
                print(f"[{experiment.name} {number}/{len(experiment.runs)}] {run.name}: {run.varied or run.config.model}")
            record = train_run(run, experiment.budget, progress)
            evaluate_run(run, record, experiment.evaluate, musdb_root, device, progress)
    rows = write_table(folder)
    figures = make_figures(folder)
    if progress:
        print(format_markdown(rows, experiment.evaluate["methods"]))
        print(f"wrote {folder / 'table.csv'} and {len(figures)} figure(s)")
    return ExperimentResult(folder, rows, figures)


def train_run(run: Run, budget: dict, progress: bool = True) -> dict:
    """Train one run to the budget, resuming from its ``last.pt``; returns (and writes) its run record."""
    config, out = run.config, Path(run.config.out)
    wanted = _jsonable(config)
    record = _read_json(out / RUN_RECORD)
    saved = (record or {}).get("config") or {}
    changed = sorted(k for k in set(wanted) | set(saved) if k not in NOT_IDENTITY and wanted.get(k) != saved.get(k))
    if record is not None and changed:
        raise Hw2sepError(f"{out} was trained with other settings (changed: {', '.join(changed)}); "
                          "give another --out or delete that run folder")
    _check_same_data(out, config.npy_root)
    if record is not None and record.get("done"):
        return record
    record = {"run": run.name, "varied": run.varied, "config": wanted, "budget": budget, "done": False,
              "peak_gpu_mb": (record or {}).get("peak_gpu_mb")}
    write_json(out / RUN_RECORD, record)
    device = resolve_device(config.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    minutes = budget.get("minutes")
    if minutes is None:
        fit(config, resume=(out / "last.pt").exists(), progress=progress)
        stopped = _epochs(config.epochs)
    else:  # one epoch per call: fit resumes from last.pt, so this is the same run as one long call
        while True:
            epoch, seconds = _trained_so_far(out)
            if seconds >= 60 * minutes:
                stopped = f"{minutes:g} min (crossed in epoch {epoch})"
                break
            if epoch >= config.epochs:
                stopped = f"{_epochs(config.epochs)} (before {minutes:g} min)"
                break
            fit(dataclasses.replace(config, epochs=epoch + 1), resume=epoch > 0, progress=progress)
    epoch, seconds = _trained_so_far(out)
    peak = record["peak_gpu_mb"]
    if device.type == "cuda":
        peak = max(peak or 0.0, round(torch.cuda.max_memory_allocated(device) / 2**20, 1))
    record.update(done=True, epochs=epoch, train_seconds=round(seconds, 1), stopped_by=stopped, peak_gpu_mb=peak)
    write_json(out / RUN_RECORD, record)
    return record


def _check_same_data(out: Path, npy_root: str) -> None:
    """Refuse to keep or resume a run trained on other arrays than ``npy_root`` holds now (its checkpoint's
    dataset fingerprint, which follows the source audio): its table row would describe another dataset."""
    meta = _read_json(out / "last.json") or _read_json(out / "best.json") or {}
    try:
        current = load_manifest(npy_root)["fingerprint"]
    except Hw2sepError:  # no cache (a finished experiment re-tabulated elsewhere): nothing to compare
        return
    if meta.get("dataset_fingerprint") not in (None, current):
        raise Hw2sepError(f"{out} was trained on other data (npy fingerprint {meta['dataset_fingerprint']}, "
                          f"{npy_root} now holds {current}); give another --out or delete that run folder")


def evaluate_run(run: Run, record: dict, settings: dict, musdb_root: str | Path, device: str = "auto",
                 progress: bool = True) -> list[dict]:
    """Score the run's best checkpoint on the test set (cached tracks are skipped); returns comparison rows."""
    out = Path(run.config.out)
    methods = methods_for(out / "best", settings["methods"])
    return evaluate([out / "best.pt"], musdb_root, out / "results", subset="test", methods=methods,
                    n_tracks=settings["tracks"], metric=settings["metric"], device=device, progress=progress,
                    gl_iterations=settings["gl_iterations"])


def write_table(folder: str | Path) -> list[dict]:
    """Build ``table.csv`` and ``table.md`` from the run folders' files alone; returns the rows."""
    folder = Path(folder)
    info = _read_json(folder / "experiment.json")
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
    meta, record = read_meta(run_dir / "best"), _read_json(run_dir / RUN_RECORD) or {}
    config = meta.get("train", {})
    main = methods_for(run_dir / "best", ["main"])[0]
    row = {"run": run_dir.name, "model": meta["model"], "parameters": meta["parameters"], "pretrained": "no",
           "code_origin": MODELS[meta["model"]].origin, "varied": record.get("varied", ""),
           "epochs": record.get("epochs"), "best_epoch": meta.get("epoch"), "budget": record.get("stopped_by", ""),
           "train_seconds": record.get("train_seconds"), "peak_gpu_mb": record.get("peak_gpu_mb"),
           "seq_dur": config.get("seq_dur"), "loss": meta.get("loss"), "main_method": main}
    for token in tokens:
        method = main if token == "main" else token
        summary = _read_json(run_dir / "results" / "best" / method / "summary.json") or {"targets": {}}
        for target in TARGETS:
            row[f"{target}_SDR_{token}"] = summary["targets"].get(target, {}).get("SDR")
    return row


def read_per_track_sdr(folder: str | Path, token: str = "main") -> dict[str, dict[str, list[float]]]:
    """Per-track median SDR of every run for one method token: {run: {target: [SDR per track]}}."""
    folder = Path(folder)
    info = _read_json(folder / "experiment.json") or {"runs": []}
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


def _resolve_run(run, index: int, spec: dict, path: Path, folder: Path, npy_root, budget: dict,
                 overrides: Sequence[str], smoke: bool, smoke_spec: dict) -> Run:
    where = f"experiment {path}, run {index + 1}"
    if not isinstance(run, dict) or not set(run) <= set(RUN_KEYS) or "name" not in run:
        raise Hw2sepError(f"{where}: a run is an object with 'name' and some of {', '.join(RUN_KEYS[1:])}, got {run!r}")
    if not NAME.match(str(run["name"])):
        raise Hw2sepError(f"{where}: run name '{run['name']}' must be letters, digits, _ . - (a folder name)")
    config_path = _find(run.get("config") or spec.get("base"), path)
    if config_path is None:
        raise Hw2sepError(f"{where}: no config (give the experiment a 'base' or the run a 'config')")
    before = list(spec.get("set", []))
    after = list(_strings(run.get("set", []), where))
    tail = [f"epochs={budget['epochs']}"] if "epochs" in budget else []
    tail += list(_strings(smoke_spec.get("set", []), f"experiment {path}, smoke")) if smoke else []
    try:
        if smoke:
            model = load_config(config_path, before + after + list(overrides)).model
            model_config(model)  # an unknown model is one line here, as without --smoke
            tiny = [f"model_options.{k}={json.dumps(v)}" for k, v in MODELS[model].tiny.items()]
            before += tiny + list(SMOKE_TRAIN)
        settings = before + after + tail + list(overrides)
        config = load_config(config_path, settings, npy_root=str(npy_root), name=str(run["name"]),
                             out=str(folder / "runs" / run["name"]))
        model_config(config.model, **config.model_options)  # unknown model or option: now, not hours later
        if config.loss:
            get_loss(config.loss)
        training_subsets(config.train_subset), training_subsets(config.valid_subset)
    except Hw2sepError as err:
        raise Hw2sepError(f"{where} ('{run['name']}'): {err}") from None
    varied = run.get("vary") or (Path(run["config"]).stem if run.get("config") else "")
    return Run(str(run["name"]), str(varied), config)


def _read_spec(path: Path) -> dict:
    spec = read_json_file(path, "experiment file", "see configs/experiments/")
    if not isinstance(spec, dict):
        raise Hw2sepError(f"experiment file {path} must hold a json object")
    unknown = sorted(set(spec) - set(EXPERIMENT_KEYS))
    if unknown:
        raise Hw2sepError(f"experiment {path}: unknown key(s) {unknown}; keys: {', '.join(EXPERIMENT_KEYS)}")
    if not NAME.match(str(spec.get("name", ""))):
        raise Hw2sepError(f"experiment {path}: 'name' must be a folder name (letters, digits, _ . -)")
    if not isinstance(spec.get("runs"), list) or not spec["runs"]:
        raise Hw2sepError(f"experiment {path}: 'runs' must be a non-empty list")
    _strings(spec.get("set", []), f"experiment {path}")
    return spec


def _strings(items, where: str) -> list[str]:
    if not isinstance(items, list) or not all(isinstance(i, str) and "=" in i for i in items):
        raise Hw2sepError(f"{where}: 'set' must be a list of \"key=value\" strings, got {items!r}")
    return items


def _check_budget(budget, path: Path) -> dict:
    if not isinstance(budget, dict) or not budget or not set(budget) <= {"epochs", "minutes"}:
        raise Hw2sepError(f"experiment {path}: 'budget' must be {{\"epochs\": N}} or {{\"minutes\": M}} "
                          f"(minutes may take an epochs cap), got {budget!r}")
    for key, value in budget.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 \
                or (key == "epochs" and not isinstance(value, int)):
            raise Hw2sepError(f"experiment {path}: budget {key} must be a positive number, got {value!r}")
    return dict(budget)


def _check_evaluate(settings: dict, path: Path) -> dict:
    unknown = sorted(set(settings) - set(EVALUATE_DEFAULTS))
    if unknown:
        raise Hw2sepError(f"experiment {path}: unknown evaluate key(s) {unknown}; keys: {', '.join(EVALUATE_DEFAULTS)}")
    methods = settings["methods"]
    tokens = methods if isinstance(methods, list) else re.split(r"[+,]", str(methods))
    tokens = [t.strip() for t in tokens if t.strip()]
    resolve_methods(tokens)
    if settings["metric"] not in ("museval", "fast"):
        raise Hw2sepError(f"experiment {path}: evaluate metric must be museval or fast, got {settings['metric']!r}")
    if not tokens or (settings["tracks"] is not None and (not isinstance(settings["tracks"], int) or settings["tracks"] < 1)):
        raise Hw2sepError(f"experiment {path}: evaluate needs methods and tracks >= 1 (or null for all)")
    return {**settings, "methods": tokens}


def _find(name: str | None, experiment_path: Path) -> Path | None:
    """A config path as given, else relative to the repository root (so notebooks/ can run experiments)."""
    if not name:
        return None
    for candidate in (Path(name), REPO / name, experiment_path.parent / name):
        if candidate.exists():
            return candidate
    raise Hw2sepError(f"experiment {experiment_path}: config file {name} not found")


def _trained_so_far(out: Path) -> tuple[int, float]:
    """(epochs done, training seconds) from ``last.json``; (0, 0) before the first epoch."""
    meta = _read_json(out / "last.json") or {}
    return int(meta.get("epoch", 0)), float(meta.get("train_seconds", 0.0))


@contextlib.contextmanager
def _one_thread(enabled: bool):
    threads = torch.get_num_threads()
    if enabled:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _epochs(n: int) -> str:
    return f"{n} epoch{'s' if n != 1 else ''}"


def _jsonable(config: TrainConfig) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", help="experiment file, e.g. configs/experiments/structure.json")
    p.add_argument("--npy-root", required=True, help="npy cache from data_prep/musdb_to_npy.py (training)")
    p.add_argument("--musdb-root", required=True, help="MUSDB18 root (its test set is scored)")
    p.add_argument("--out", default="experiments", help="experiments folder (default: experiments)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a training setting in every run, e.g. device=cuda:1 (repeatable)")
    p.add_argument("--smoke", action="store_true", help="tiny models, 1 epoch, 1 s excerpts, 2 tracks (CPU check)")
    p.add_argument("--device", default="auto", help="training and evaluation device: auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--metric", choices=("museval", "fast"), help="override the file's evaluation metric "
                   "(fast: the same SDR within 0.01 dB, 11-15x faster)")
    p.add_argument("--tracks", type=int, help="score only the first N test tracks (default: the file's, all)")
    a = p.parse_args(argv)
    started = time.time()
    overrides = ([f"device={a.device}"] if a.device != "auto" else []) + a.set
    scoring = {k: v for k, v in (("metric", a.metric), ("tracks", a.tracks)) if v is not None}
    result = run_experiment(a.experiment, a.npy_root, a.musdb_root, a.out, overrides, smoke=a.smoke, device=a.device,
                            evaluate_overrides=scoring)
    print(f"{len(result.rows)} run(s) in {result.folder} ({time.time() - started:.0f} s this call)")


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(run_cli(main))
