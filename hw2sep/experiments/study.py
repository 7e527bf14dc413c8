"""An experiment file (configs/experiments/NAME.json) read and checked: its runs resolved to training configs, its
budget and evaluation settings, every mistake one line before anything trains."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import NamedTuple, Sequence


from hw2sep.errors import Hw2sepError
from hw2sep.common.files import read_json_file
from hw2sep.training.losses import get_loss
from hw2sep.models import MODELS, model_config
from hw2sep.data.musdb import training_subsets
from hw2sep.dsp.methods import DEFAULTS, resolve_methods
from hw2sep.training.train import TrainConfig, load_config


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


def read_json_or_none(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def config_dict(config: TrainConfig) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config)))


