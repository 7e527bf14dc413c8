"""Notebook settings (defaults < settings file < HW2SEP_* variables), the workspace's device line, the Drive mirror."""

from __future__ import annotations

import json

import pytest

from hw2sep.errors import Hw2sepError
from hw2sep.notebook.workspace import Workspace
from hw2sep.notebook.settings import load_settings, mirror_folder, mirrored, restore_folder

KEYS = ("MUSDB_ROOT", "WORK", "DEVICE", "CONFIG", "METRIC", "N_TRACKS", "DRIVE", "SETTINGS")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for key in KEYS:
        monkeypatch.delenv(f"HW2SEP_{key}", raising=False)


def test_file_then_environment_win_over_defaults(tmp_path, monkeypatch):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"MUSDB_ROOT": "/data/musdb", "METRIC": "mir_eval", "N_TRACKS": 5}))
    s = load_settings(path=path, colab=False)
    assert (s.MUSDB_ROOT, s.METRIC, s.N_TRACKS, s.CONFIG, s.WORK) == ("/data/musdb", "mir_eval", 5, "configs/umx.json", ".")
    monkeypatch.setenv("HW2SEP_N_TRACKS", "all")
    monkeypatch.setenv("HW2SEP_DEVICE", "cuda")
    s = load_settings(path=path, colab=False)
    assert s.N_TRACKS is None and s.DEVICE == "cuda" and s.origin["DEVICE"] == "$HW2SEP_DEVICE"
    assert "s.json" in s.table() and "$HW2SEP_N_TRACKS" in s.table()


def test_smoke_ignores_the_file_and_colab_defaults(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"WORK": "/my/real/work"}))
    smoke = load_settings(True, path=path, colab=False)
    assert (smoke.WORK, smoke.METRIC, smoke.DEVICE) == ("scratch/smoke", "fast", "cpu")
    colab = load_settings(path=tmp_path / "none.json", colab=True)
    assert colab.MUSDB_ROOT.startswith("/content/drive/") and colab.WORK.startswith("/content/")
    assert colab.DRIVE.startswith("/content/drive/")


def test_bad_settings_are_one_clear_error(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"MUSDBROOT": "x"}))
    with pytest.raises(Hw2sepError, match="MUSDBROOT"):
        load_settings(path=path, colab=False)
    path.write_text(json.dumps({"METRIC": "sdr"}))
    with pytest.raises(Hw2sepError, match="mir_eval"):
        load_settings(path=path, colab=False)


def test_workspace_warns_about_a_cpu_outside_smoke(tmp_path):
    real = Workspace.create(tmp_path / "musdb", tmp_path / "work", device="cpu", metric="mir_eval")
    assert "device=cpu -> cpu" in real.describe() and "WARNING" in real.describe() and real.metric == "mir_eval"
    smoke = Workspace.create(tmp_path / "musdb", tmp_path / "work", smoke=True)
    assert "WARNING" not in smoke.describe() and smoke.metric == "fast"


def test_mirror_copies_new_and_changed_files_only(tmp_path):
    run, drive = tmp_path / "run", tmp_path / "drive" / "runs" / "umx"
    run.mkdir()
    (run / "last.pt").write_bytes(b"1" * 10)
    (run / "last.json").write_text("{}")
    (run / "log.csv").write_text("epoch\n1\n")
    (run / "notes.txt").write_text("not mirrored")
    with mirrored(run, drive, every_s=0.01):
        pass
    assert sorted(p.name for p in drive.iterdir()) == ["last.json", "last.pt", "log.csv"]
    assert mirror_folder(run, drive) == []  # nothing changed
    (run / "log.csv").write_text("epoch\n1\n2\n")
    assert [p.name for p in mirror_folder(run, drive)] == ["log.csv"]
    fresh = tmp_path / "fresh_disk" / "run"
    assert len(restore_folder(drive, fresh)) == 3 and (fresh / "log.csv").read_text().endswith("2\n")
    assert restore_folder(None, fresh) == []
