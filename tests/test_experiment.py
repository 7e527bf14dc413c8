"""Experiments: a 2-run smoke experiment gives its table and figures, resumes after an interruption
without retraining a finished run, every shipped experiment resolves, and a bad file is one error line."""

import csv
import dataclasses
import json
from pathlib import Path

import pytest

import hw2sep.experiments.runner as experiment
from conftest import REPO, assert_one_line_error, run_script
from hw2sep.errors import Hw2sepError
from hw2sep.experiments.runner import run_experiment, train_run
from hw2sep.experiments.study import load_experiment
from hw2sep.experiments.table import table_fields
from hw2sep.models import MODELS, build_model, count_parameters, model_config

SHIPPED = sorted((REPO / "configs" / "experiments").glob("*.json"))


@pytest.fixture(scope="module")
def short_toy(tmp_path_factory) -> tuple[Path, Path]:
    """A smaller toy MUSDB than conftest's (1 train, 1 valid, 1 test track of 3 s) and its npy cache."""
    from hw2sep.data.npy_cache import convert_to_npy
    from hw2sep.data.toy import make_toy_musdb
    root = make_toy_musdb(tmp_path_factory.mktemp("toy3") / "musdb", n_train=2, n_test=1, seconds=3.0, seed=5,
                          n_valid=1)
    npy = tmp_path_factory.mktemp("npy3") / "cache"
    convert_to_npy(root, npy, progress=False)
    return root, npy


def _write(path: Path, spec: dict) -> Path:
    path.write_text(json.dumps(spec))
    return path


def _two_runs(tmp_path) -> Path:
    return _write(tmp_path / "two.json", {
        "name": "two", "description": "test", "base": "configs/umx.json",
        "runs": [{"name": "a", "vary": "nb_layers=1", "set": ["model_options.nb_layers=1"]},
                 {"name": "b", "vary": "nb_layers=0, 1.5 s", "set": ["model_options.nb_layers=0", "seq_dur=1.5"]}],
        "budget": {"epochs": 150}, "evaluate": {"methods": "main+griffinlim"},
        "smoke": {"evaluate": {"tracks": 1}}})


def test_interrupted_experiment_resumes_and_tabulates(short_toy, tmp_path, monkeypatch):
    (toy_root, toy_npy), spec, out = short_toy, _two_runs(tmp_path), tmp_path / "exp"
    real_fit, calls = experiment.fit, []

    def fit_then_interrupt(config, resume=False, progress=True):  # run b stops after its first epoch
        calls.append((config.name, config.epochs, resume))
        if config.name == "b":
            real_fit(dataclasses.replace(config, epochs=1), resume, progress)
            raise KeyboardInterrupt
        return real_fit(config, resume, progress)

    monkeypatch.setattr(experiment, "fit", fit_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(spec, toy_npy, toy_root, out, overrides=["epochs=2"], progress=False, smoke=True)
    folder = out / "two_smoke"
    finished = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (folder / "runs" / "a").glob("*.pt")}
    assert set(finished) == {"best.pt", "last.pt"}
    assert json.loads((folder / "runs" / "b" / "last.json").read_text())["epoch"] == 1

    calls.clear()
    monkeypatch.setattr(experiment, "fit", lambda c, resume=False, progress=True: calls.append((c.name, resume))
                        or real_fit(c, resume, progress))
    result = run_experiment(spec, toy_npy, toy_root, out, overrides=["epochs=2"], progress=False, smoke=True)
    assert calls == [("b", True)]  # a is kept, b continues from its last.pt
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (folder / "runs" / "a").glob("*.pt")} == finished
    with open(folder / "runs" / "b" / "log.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2]

    with open(folder / "table.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames) == table_fields(["main", "griffinlim"])
    assert [r["run"] for r in rows] == ["a", "b"] and [r["run"] for r in result.rows] == ["a", "b"]
    for row, layers in zip(rows, (1, 0)):
        options = model_config("umx", **{**MODELS["umx"].tiny, "nb_layers": layers})
        assert int(row["parameters"]) == count_parameters(build_model("umx", options))
        assert row["pretrained"] == "no" and row["code_origin"] == MODELS["umx"].origin
        assert row["epochs"] == "2" and row["main_method"] == "mixture" and row["peak_gpu_mb"] == ""
        for column in ("vocals_SDR_main", "accompaniment_SDR_main", "vocals_SDR_griffinlim"):
            assert row[column] not in ("", None), column
    assert rows[1]["varied"] == "nb_layers=0, 1.5 s" and float(rows[1]["seq_dur"]) == 1.5
    assert (folder / "table.md").read_text().count("\n| ") == 2
    names = sorted(p.name for p in result.figures)
    assert names == ["sdr_per_track.png", "sdr_vs_length.png", "sdr_vs_parameters.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in result.figures)


def test_minutes_budget_stops_after_the_crossing_epoch(short_toy, tmp_path):
    toy_npy = short_toy[1]
    spec = _write(tmp_path / "m.json", {"name": "m", "base": "configs/umx.json", "runs": [{"name": "r"}],
                                        "budget": {"minutes": 1e-4}})
    run = load_experiment(spec, toy_npy, tmp_path / "exp", overrides=["epochs=5"], smoke=True).runs[0]
    record = train_run(run, {"minutes": 1e-4, "epochs": 5}, progress=False)
    assert record["done"] and record["epochs"] == 1 and "crossed in epoch 1" in record["stopped_by"]
    assert train_run(run, {"minutes": 1e-4}, progress=False) == record  # finished: not trained again


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_experiments_resolve(path):
    for smoke in (False, True):
        exp = load_experiment(path, "npy", "out", smoke=smoke)
        assert exp.runs and exp.description
        for run in exp.runs:
            assert run.config.epochs == (1 if smoke else exp.budget["epochs"])
            assert run.config.train_subset == "train" and run.config.valid_subset == "valid"
            model_config(run.config.model, **run.config.model_options)  # every option is known
    if path.stem == "compare_models":
        assert {r.config.model for r in exp.runs} == set(MODELS)
        for run in exp.runs:  # smoke sizes build
            build_model(run.config.model, model_config(run.config.model, **run.config.model_options))


def test_shipped_set_is_complete():
    assert {p.stem for p in SHIPPED} >= {"compare_models", "augmentation", "structure", "input_length",
                                          "bsrnn_loss", "umx_loss"}


@pytest.mark.parametrize("change, fragment", [
    ({"runs": []}, "'runs' must be a non-empty list"),
    ({"budget": {"hours": 2}}, "'budget' must be"),
    ({"colour": 1}, "unknown key"),
    ({"runs": [{"name": "x", "set": ["model_options.nb_layerz=1"]}]}, "has no option"),
    ({"runs": [{"name": "x"}, {"name": "x"}]}, "unique"),
    ({"runs": [{"name": "x", "set": ["train_subset=test"]}]}, "never used for training"),
    ({"evaluate": {"methods": "main+nope"}}, "unknown method"),
    ({"runs": [{"name": "x", "set": ["loss=nope"]}]}, "unknown loss"),
])
def test_bad_experiment_is_refused(tmp_path, change, fragment):
    spec = {"name": "bad", "base": "configs/umx.json", "runs": [{"name": "x"}], "budget": {"epochs": 1}, **change}
    with pytest.raises(Hw2sepError, match=fragment):
        load_experiment(_write(tmp_path / "bad.json", spec), "npy", tmp_path)


def test_cli_bad_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run_script("-m", "hw2sep.experiments.runner", str(bad), "--npy-root", "x", "--musdb-root", "y", "--out", str(tmp_path))
    assert_one_line_error(result, "not valid json")


def test_run_folder_with_other_settings_is_refused(tmp_path):
    spec = _write(tmp_path / "c.json", {"name": "c", "base": "configs/umx.json", "runs": [{"name": "r"}],
                                        "budget": {"epochs": 1}})
    run = load_experiment(spec, "npy", tmp_path / "exp", smoke=True).runs[0]
    saved = {**json.loads(json.dumps(dataclasses.asdict(run.config))), "lr": 0.5, "device": "cuda"}
    Path(run.config.out).mkdir(parents=True)
    (Path(run.config.out) / experiment.RUN_RECORD).write_text(json.dumps({"config": saved}))
    (Path(run.config.out) / "last.pt").write_bytes(b"")  # something was trained with the old settings
    with pytest.raises(Hw2sepError, match=r"other settings \(changed: lr\)"):  # device alone would not count
        train_run(run, {"epochs": 1}, progress=False)


def test_a_run_that_crashed_before_training_takes_the_corrected_settings(tmp_path):
    spec = _write(tmp_path / "c.json", {"name": "c", "base": "configs/umx.json", "runs": [{"name": "r"}],
                                        "budget": {"epochs": 1}})
    run = load_experiment(spec, "npy", tmp_path / "exp", smoke=True).runs[0]
    saved = {**json.loads(json.dumps(dataclasses.asdict(run.config))), "lr": 0.5}
    Path(run.config.out).mkdir(parents=True)
    (Path(run.config.out) / experiment.RUN_RECORD).write_text(json.dumps({"config": saved}))  # no last.pt: crashed
    with pytest.raises(Hw2sepError, match="npy") as caught:  # gets past the settings check, to the missing data
        train_run(run, {"epochs": 1}, progress=False)
    assert "other settings" not in str(caught.value)
