"""Experiments refuse wrong values in one line before any run trains, and their table never loses a run
or a number silently: a dropped run is noted, a non-numeric cell is named by file, row and column."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO, assert_one_line_error, run_script
from hw2sep.data.toy import make_toy_musdb
from hw2sep.errors import Hw2sepError
from hw2sep.experiments.table import make_figures, write_table

DEMO = REPO / "models" / "umx_vocals.json"


def _spec(tmp_path: Path, **change) -> Path:
    spec = {"name": "guard", "base": "configs/umx.json", "runs": [{"name": "a"}], "budget": {"epochs": 1}, **change}
    path = tmp_path / "guard.json"
    path.write_text(json.dumps(spec))
    return path


@pytest.mark.parametrize("case, expected", [
    ("unknown_model", "unknown model 'nope'"),
    ("bad_budget", "'budget' must be"),
    ("no_test_tracks", "no 'test' tracks under --musdb-root"),
])
def test_smoke_experiment_refusals_are_one_line_before_training(case, expected, tmp_path, capsys):
    from hw2sep.errors import run_cli
    from hw2sep.experiments.runner import main

    change = {"unknown_model": {"runs": [{"name": "a", "set": ["model=nope"]}]},
              "bad_budget": {"budget": {"hours": 2}}}.get(case, {})
    root = make_toy_musdb(tmp_path / "train_only", n_train=1, n_test=0, seconds=1.0, seed=2)
    code = run_cli(main, [str(_spec(tmp_path, **change)), "--npy-root", str(tmp_path / "npy"), "--musdb-root",
                          str(root), "--out", str(tmp_path / "exp"), "--smoke"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and expected in errors[0], errors
    assert not (tmp_path / "exp" / "guard_smoke" / "runs").exists()  # nothing trained


def test_missing_musdb_root_is_one_line_before_training(tmp_path):
    result = run_script("-m", "hw2sep.experiments.runner", str(_spec(tmp_path)), "--npy-root", str(tmp_path / "npy"),
                        "--musdb-root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "exp"))
    assert_one_line_error(result, "does not exist")
    assert not (tmp_path / "exp" / "guard" / "runs").exists()  # reported before the first run trains


def _fake_run(folder: Path, name: str, sdr: str | None = None) -> None:
    """A finished run folder as train_run and evaluate_run leave it (the demo checkpoint's json as best.json)."""
    run = folder / "runs" / name
    run.mkdir(parents=True)
    shutil.copy(DEMO, run / "best.json")
    (run / "experiment_run.json").write_text(json.dumps({"run": name, "done": True, "epochs": 1}))
    if sdr is not None:
        (run / "results" / "best" / "mixture").mkdir(parents=True)
        (run / "results" / "best" / "mixture" / "summary.json").write_text(json.dumps(
            {"targets": {"vocals": {"SDR": float(sdr)}, "accompaniment": {"SDR": 1.0}}}))


def test_a_renamed_or_removed_run_is_noted_not_dropped_silently(tmp_path, capsys):
    folder = tmp_path / "exp"
    for name in ("a", "old_b"):
        _fake_run(folder, name, sdr="2.5")
    (folder / "experiment.json").write_text(json.dumps({"runs": ["a"], "evaluate": {"methods": ["main"]}}))
    rows = write_table(folder)
    assert [r["run"] for r in rows] == ["a"]
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "old_b" in notes[0] and "left out of the table" in notes[0]
    assert "old_b" in (folder / "table.md").read_text()


def test_a_non_numeric_table_cell_is_a_warning_naming_file_row_and_column(tmp_path, capsys):
    from hw2sep.report.optional import read_experiment

    folder = tmp_path / "exp" / "guard"
    _fake_run(folder, "a", sdr="2.5")
    _fake_run(folder, "b", sdr="3.5")
    (folder / "experiment.json").write_text(json.dumps({"runs": ["a", "b"], "evaluate": {"methods": ["main"]}}))
    write_table(folder)
    path = folder / "table.csv"
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows, fields = list(reader), reader.fieldnames
    rows[1]["vocals_SDR_main"] = "abc"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(rows)
    capsys.readouterr()
    make_figures(folder)
    read_experiment(tmp_path / "exp", "guard")
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, warnings  # one from the figures, one from the report
    assert all(f"{path} row 3, column vocals_SDR_main: 'abc' is not a number" in w for w in warnings)


def test_experiment_rerun_after_a_dataset_swap_reports_the_fresh_numbers(tmp_path):
    from hw2sep.data.npy_cache import convert_to_npy
    from hw2sep.evaluation.evaluate import evaluate
    from hw2sep.experiments.runner import run_experiment

    root = make_toy_musdb(tmp_path / "musdb", n_train=2, n_test=1, seconds=3.0, seed=5, n_valid=1)
    npy = convert_to_npy(root, tmp_path / "npy", progress=False).parent
    spec, out = _spec(tmp_path, evaluate={"methods": "main"}), tmp_path / "exp"
    first = run_experiment(spec, npy, root, out, progress=False, smoke=True)
    make_toy_musdb(root, n_train=2, n_test=1, seconds=4.0, seed=5, n_valid=1)  # same names, other test audio
    again = run_experiment(spec, npy, root, out, progress=False, smoke=True)  # the run is kept, its scores are not
    fresh = evaluate([first.folder / "runs" / "a" / "best.pt"], root, tmp_path / "fresh", methods=["mixture"],
                     n_tracks=2, metric="fast", progress=False)
    truth = {r["target"]: r["SDR"] for r in fresh}
    assert again.rows[0]["vocals_SDR_main"] == truth["vocals"] != first.rows[0]["vocals_SDR_main"]
    assert again.rows[0]["accompaniment_SDR_main"] == truth["accompaniment"]
    convert_to_npy(root, npy, progress=False)  # the training arrays follow the new audio: the run no longer fits
    with pytest.raises(Hw2sepError, match="trained on other data"):
        run_experiment(spec, npy, root, out, progress=False, smoke=True)
