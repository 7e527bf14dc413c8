"""Long tracks end to end: a 10-minute track through infer.py within 2.5 GB, and the memory budget's admission."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from hw2sep.evaluation.memory_budget import MemoryBudget, track_gb

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_memory", REPO / "bench" / "bench_memory.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


class FakeMemory:
    """A memory reading the test sets by hand, in GB."""

    def __init__(self, used: float):
        self.value = used

    def __call__(self) -> float:
        return self.value


def test_budget_waits_for_pending_work_then_admits():
    reading, lines = FakeMemory(0.5), []
    budget = MemoryBudget(10.0, used=reading, say=lines.append)
    budget.admit("a", 7.0, "start a")
    assert budget.in_flight == {"a": 7.0} and not lines
    released = []

    def wait():  # finishing the oldest pending track releases its memory
        released.append("a")
        budget.release("a")

    budget.admit("b", 7.0, "start b", wait)  # 0.5 + 7 + 7 > 10: waits once for a
    assert released == ["a"] and budget.in_flight == {"b": 7.0}
    assert len(lines) == 1 and "waiting to start b" in lines[0] and "7.0 GB" in lines[0]


def test_budget_counts_the_reading_when_it_exceeds_the_estimates():
    reading, lines = FakeMemory(1.0), []
    budget = MemoryBudget(10.0, used=reading, say=lines.append)
    budget.admit("a", 2.0, "start a")
    reading.value = 8.5  # a worker uses more than estimated
    assert budget.in_use() == 8.5 and not budget.fits(2.0) and budget.fits(1.0)
    waits = []
    budget.admit("b", 2.0, "start b", lambda: (waits.append(1), budget.release("a"), setattr(reading, "value", 1.0)))
    assert waits == [1] and budget.in_flight == {"b": 2.0}


def test_lone_track_over_budget_runs_with_a_note_and_default_budget_is_free_memory():
    lines = []
    budget = MemoryBudget(None, used=FakeMemory(0.4), available=FakeMemory(3.0), say=lines.append)
    assert budget.budget == pytest.approx(3.4)
    budget.admit("big", 5.0, "start big", wait=lambda: pytest.fail("nothing in flight to wait for"))
    assert budget.in_flight == {"big": 5.0} and "does not fit" in lines[0] and "running it" in lines[0]


def test_track_estimates_grow_with_length_and_workers():
    assert track_gb(60, "museval") < track_gb(180, "museval") < track_gb(600, "museval")
    assert 7.0 < track_gb(600, "museval") < 8.5  # museval alone was measured at 7.6 GB on a 10-minute track
    assert track_gb(600, "fast") < track_gb(600, "museval")
    assert track_gb(600, "museval", pooled=True) > track_gb(600, "museval")


def test_ten_minute_track_stays_under_2_5_gb(tmp_path):
    """python hw2sep/infer.py --phase mixture --metric fast on a 10-minute track (the demo checkpoint):
    peak RSS of all its processes together (sampled) and of the main process (exact) under 2500 MB."""
    root = bench.write_long_track(tmp_path / "long", 10.0)
    result = bench.run_tree_peak([sys.executable, str(REPO / "hw2sep" / "infer.py"), "--musdb-root", str(root),
                                  "--phase", "mixture", "--metric", "fast", "--out", str(tmp_path / "out"),
                                  "--samples", str(tmp_path / "samples")], cwd=REPO)
    assert result["returncode"] == 0, result["output"][-2000:]
    assert "median of medians" in result["output"]
    assert result["main_mb"] < 2500 and result["tree_mb"] < 2500, result
    assert result["main_mb"] > 1000  # the measurement saw the track (the audio alone is ~1 GB)


def test_a_track_whose_worker_copies_do_not_fit_is_scored_in_process(toy_root, tmp_path, capsys):
    """With a pool, a track whose pooled estimate exceeds the budget on its own is scored here (no copies of its
    arrays in a worker), with one line saying so; its numbers are the pool's."""
    from hw2sep.evaluation.evaluate import evaluate
    common = dict(methods=["mixture"], n_tracks=1, metric="fast", device="cpu", progress=False)
    here = evaluate([REPO / "models" / "umx_vocals.pt"], toy_root, tmp_path / "a", workers=2, memory_budget=0.01,
                    **common)
    assert "in this process (a worker's copies do not fit" in capsys.readouterr().out
    pooled = evaluate([REPO / "models" / "umx_vocals.pt"], toy_root, tmp_path / "b", workers=2, memory_budget=1000,
                      **common)
    assert [r["SDR"] for r in here] == [r["SDR"] for r in pooled]
