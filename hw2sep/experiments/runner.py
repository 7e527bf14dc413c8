"""Train a set of runs with one budget, evaluate each on the test set, and tabulate them (optional tasks).

    hw2sep-experiment configs/experiments/structure.json --npy-root NPY --musdb-root ROOT --out WORK/experiments
    hw2sep-experiment configs/experiments/compare_models.json --npy-root NPY --musdb-root ROOT --smoke

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
import dataclasses
import sys
import time
from pathlib import Path
from typing import NamedTuple, Sequence

import torch

from hw2sep.common.devices import resolve_device
from hw2sep.data.musdb import list_tracks
from hw2sep.data.npy_cache import load_manifest
from hw2sep.errors import Hw2sepError, run_cli
from hw2sep.evaluation.evaluate import evaluate
from hw2sep.common.files import write_json
from hw2sep.separation.separator import methods_for
from hw2sep.training.train import fit

from hw2sep.experiments.study import NOT_IDENTITY, RUN_RECORD, Run, config_dict, read_json_or_none, load_experiment
from hw2sep.experiments.table import epochs_text, format_markdown, make_figures, write_table


class ExperimentResult(NamedTuple):
    """What ``run_experiment`` returns: the folder, the table rows and the figure paths."""

    folder: Path
    rows: list[dict]
    figures: list[Path]


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
    wanted = config_dict(config)
    record = read_json_or_none(out / RUN_RECORD)
    saved = (record or {}).get("config") or {}
    changed = sorted(k for k in set(wanted) | set(saved) if k not in NOT_IDENTITY and wanted.get(k) != saved.get(k))
    if record is not None and changed and (out / "last.pt").exists():  # nothing trained yet: the new settings go
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
        stopped = epochs_text(config.epochs)
    else:  # one epoch per call: fit resumes from last.pt, so this is the same run as one long call
        while True:
            epoch, seconds = _trained_so_far(out)
            if seconds >= 60 * minutes:
                stopped = f"{minutes:g} min (crossed in epoch {epoch})"
                break
            if epoch >= config.epochs:
                stopped = f"{epochs_text(config.epochs)} (before {minutes:g} min)"
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
    meta = read_json_or_none(out / "last.json") or read_json_or_none(out / "best.json") or {}
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


def _trained_so_far(out: Path) -> tuple[int, float]:
    """(epochs done, training seconds) from ``last.json``; (0, 0) before the first epoch."""
    meta = read_json_or_none(out / "last.json") or {}
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
