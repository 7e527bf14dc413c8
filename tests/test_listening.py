"""The listening panel, built without a display: where it opens, which methods it offers, what an empty choice says."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from hw2sep.notebook.workspace import NO_SAMPLE, audio_player, default_choice, listening_panel, methods_for
from hw2sep.evaluation.samples import read_index, slug, write_sample
from hw2sep.report.results import SELECTION, choose_checkpoint, read_comparison, read_selection

pytest.importorskip("ipywidgets")
pytest.importorskip("IPython")


@pytest.fixture()
def samples(tmp_path):
    """Two tracks; epoch_001 and epoch_002 with the mixture phase, epoch_002 also with Griffin-Lim (track A only)."""
    folder = tmp_path / "samples"
    audio = np.zeros((2, 4410), dtype=np.float32)
    audio[:, ::50] = 0.1
    for track in ("A", "B"):
        write_sample(folder, track, "mixture", audio, {"kind": "mixture"})
        for target in ("vocals", "accompaniment"):
            write_sample(folder, track, f"reference_{target}", audio, {"kind": "reference", "target": target})
            for model, methods in (("epoch_001", ["mixture"]), ("epoch_002", ["mixture"] + (["griffinlim"] if track == "A" else []))):
                for method in methods:
                    write_sample(folder, track, f"{model}_{method}_{target}", audio,
                                 {"kind": "estimate", "target": target, "model": model, "method": method, "sdr_db": 1.5})
    return folder


def _results(tmp_path, best: str):
    """A comparison.csv whose best epoch (median vocals SDR, mixture phase) is `best`, chosen (here) on the test set."""
    folder = tmp_path / "results"
    folder.mkdir()
    with open(folder / "comparison.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["checkpoint", "epoch", "method", "target", "tracks", "SDR"])
        writer.writeheader()
        for label, epoch in (("epoch_001", 1), ("epoch_002", 2)):
            for target in ("vocals", "accompaniment"):
                writer.writerow({"checkpoint": label, "epoch": epoch, "method": "mixture", "target": target,
                                 "tracks": 2, "SDR": 5.0 if label == best else 1.0})
    label, how = choose_checkpoint(read_comparison(folder), "test")
    (folder / SELECTION).write_text(json.dumps({"checkpoint": label, "select": "test", "how": how}))
    return folder


def test_the_selected_checkpoint_is_best_pt_unless_chosen_on_the_test_set(tmp_path):
    results = _results(tmp_path, "epoch_002")
    assert read_selection(results)["checkpoint"] == "epoch_002" and "test set" in read_selection(results)["how"]
    (results / SELECTION).unlink()
    assert read_selection(results) == {"checkpoint": "best", "select": "validation",
                                       "how": "the lowest validation loss (best.pt)"}
    assert choose_checkpoint(read_comparison(results)) == ("best", "the lowest validation loss (best.pt)")


def test_players_embed_a_short_compressed_preview(tmp_path):
    folder = tmp_path / "samples"
    noise = np.random.default_rng(0).standard_normal((2, 44100 * 12)).astype(np.float32) * 0.1
    wav = write_sample(folder, "A", "mixture", noise, {"kind": "mixture"})
    html = audio_player(folder, read_index(folder)[0])._repr_html_()
    assert wav.stat().st_size > 2e6 and len(html) < 0.4e6  # a 12 s wav (2.1 MB) vs a 10 s MP3 preview
    assert "audio/mpeg" in html


def test_opens_on_the_selected_checkpoint_with_the_mixture_phase(samples, tmp_path):
    panel = listening_panel(samples, _results(tmp_path, "epoch_001"))
    picks = {k: w.value for k, w in panel.pickers.items()}
    assert picks == {"track": "A", "model": "epoch_001", "method": "mixture", "target": "vocals"}
    assert list(panel.pickers["method"].options) == ["mixture"]  # epoch_001 has no Griffin-Lim sample
    assert "epoch_001_mixture_vocals.wav" in panel.players.value and "<audio" in panel.players.value
    assert "reference_vocals" in panel.players.value and "reference_accompaniment" not in panel.players.value


def test_method_menu_follows_the_checkpoint_and_track(samples, tmp_path):
    panel = listening_panel(samples, _results(tmp_path, "epoch_001"))
    panel.pickers["model"].value = "epoch_002"
    assert list(panel.pickers["method"].options) == ["mixture", "griffinlim"]
    panel.pickers["method"].value = "griffinlim"
    assert "epoch_002_griffinlim_vocals.wav" in panel.players.value
    panel.pickers["track"].value = "B"  # no Griffin-Lim sample for B: back to the mixture phase
    assert list(panel.pickers["method"].options) == ["mixture"] and panel.pickers["method"].value == "mixture"
    assert "epoch_002_mixture_vocals.wav" in panel.players.value


def test_a_choice_without_sample_says_so(samples, tmp_path):
    entries = [e for e in read_index(samples) if not (e["track"] == "B" and e.get("model") == "epoch_001")]
    import json
    (samples / "index.json").write_text(json.dumps(entries))
    panel = listening_panel(samples)  # no results: opens on the checkpoint with most methods
    assert panel.pickers["model"].value == "epoch_002"
    panel.pickers["model"].value = "epoch_001"
    panel.pickers["track"].value = "B"
    assert list(panel.pickers["method"].options) == []
    assert NO_SAMPLE in panel.players.value and "<audio" not in panel.players.value
    assert methods_for(entries, "A", "epoch_002") == ["mixture", "griffinlim"]
    assert default_choice(entries)["model"] == "epoch_002"


def test_a_different_dataset_starts_a_new_index(tmp_path):
    """A toy run after a MUSDB run (here: two toy sets with other track names) moves the old samples aside."""
    import json

    from hw2sep.evaluation.samples import start_samples_index
    from hw2sep.data.toy import make_toy_musdb

    first = make_toy_musdb(tmp_path / "first", n_train=1, n_test=1, seconds=2.0, seed=0)
    samples = tmp_path / "samples"
    assert start_samples_index(samples, first) is None
    write_sample(samples, "X", "mixture", np.zeros((2, 100), dtype=np.float32), {"kind": "mixture"})
    assert start_samples_index(samples, first) is None  # same dataset: the index grows
    other = make_toy_musdb(tmp_path / "other", n_train=1, n_test=2, seconds=2.0, seed=1)
    moved = start_samples_index(samples, other)
    assert moved == samples / "previous" / "toy-1"
    assert (moved / "index.md").exists() and (moved / slug("X")).is_dir() and not (samples / "index.json").exists()
    assert json.loads((samples / "dataset.json").read_text())["test_tracks"] != json.loads(
        (moved / "dataset.json").read_text())["test_tracks"]
