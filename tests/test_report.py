"""The report builder and the plots: 16:9 pages, numbers equal to comparison.csv, notes where results are missing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from conftest import assert_one_line_error, run_script
from hw2sep.errors import Hw2sepError

pypdf = pytest.importorskip("pypdf")


@pytest.fixture(scope="module")
def smoke_run(toy_root, toy_npy, tmp_path_factory) -> dict[str, Path]:
    """A SMOKE-sized run: 3 epochs of a tiny model, epochs 1/2/3 scored with the mixture phase, the best
    epoch also with Griffin-Lim (random and mixture init), listening samples of one track."""
    from hw2sep.evaluation.evaluate import evaluate
    from hw2sep.report.results import best_epoch, read_comparison
    from hw2sep.training.train import TrainConfig, fit

    work = tmp_path_factory.mktemp("smoke")
    run, results, samples = work / "runs" / "umx", work / "results", work / "samples"
    fit(TrainConfig(str(toy_npy), str(run), epochs=3, batch_size=4, seq_dur=2.0, samples_per_track=4,
                    model_options={"hidden_size": 32, "nb_layers": 1}, nb_workers=0,
                    checkpoint_epochs=(1, 2, 3), device="cpu"), progress=False)
    evaluate([run / f"epoch_00{e}.pt" for e in (1, 2, 3)], toy_root, results, methods=["mixture"],
             metric="fast", device="cpu", progress=False)
    _, label = best_epoch(read_comparison(results))
    evaluate([run / f"{label}.pt"], toy_root, results, methods=["mixture", "griffinlim", "griffinlim-mixinit"],
             metric="fast", device="cpu", progress=False, samples_dir=samples, n_sample_tracks=1)
    return {"work": work, "run": run, "results": results, "samples": samples}


def _forbidden(*args, **kwargs):
    raise AssertionError("the report builder must only read result files")


@pytest.fixture(scope="module")
def report(smoke_run) -> Path:
    """The report of the smoke run, built while training, evaluation and separation are disabled:
    the builder reads result files only."""
    import hw2sep.evaluation.evaluate
    import hw2sep.separation.separator
    import hw2sep.training.train
    from hw2sep.report.build import build_report, load_config

    out = smoke_run["work"] / "report" / "report.pdf"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hw2sep.training.train, "fit", _forbidden)
        patch.setattr(hw2sep.evaluation.evaluate, "evaluate", _forbidden)
        patch.setattr(hw2sep.separation.separator.Separator, "separate", _forbidden)
        patch.setattr(hw2sep.separation.separator.Separator, "magnitudes", _forbidden)
        return build_report(smoke_run["results"], smoke_run["run"], smoke_run["samples"], out, load_config(None))


def _pages(pdf: Path) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(str(pdf)).pages]


def _comparison(results: Path) -> list[dict]:
    with open(results / "comparison.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_every_page_is_16_9_and_the_slide_count_is_fixed(report):
    from hw2sep.report.build import APPENDIX, SLIDES

    pages = pypdf.PdfReader(str(report)).pages
    # + the phase-methods slide (3 methods scored) and the missing-results slide (no experiments, no vocoder)
    assert len(SLIDES) == 12 and len(pages) == len(SLIDES) + 2 + len(APPENDIX)  # 2 tracks: one appendix table page
    for page in pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert width / height == pytest.approx(16 / 9, abs=1e-3)
        assert width == pytest.approx(13.333 * 72, abs=1)


def test_the_smoke_report_passes_the_layout_check(report):
    """The report of a real SMOKE run (trained, evaluated, samples written): no word off its slide, on the
    footer line, under 9 pt or over another word (the check of test_report_layout, on this PDF)."""
    from test_report_layout import layout_problems

    problems = layout_problems(report, "YOUR NAME · YOUR STUDENT ID · HW2 source separation")
    assert not problems, "\n".join(problems[:25])


def test_slide_titles_follow_the_template(report):
    from hw2sep.report.build import SLIDES

    pages = _pages(report)
    at = 1
    for title in SLIDES[1:]:  # in order; optional slides may come in between
        at = next((i for i in range(at, len(pages)) if title in pages[i]), None)
        assert at is not None, f"slide '{title}' not found (in order)"
    assert "YOUR NAME" in pages[0] and "YOUR STUDENT ID" in pages[0]


def test_sdr_numbers_in_the_pdf_equal_comparison_csv(report, smoke_run):
    """Result highlight: every epoch's and every phase method's SDR, formatted to 2 decimals, as in the csv."""
    from hw2sep.report.build import SLIDES

    text = _pages(report)[SLIDES.index("Result highlight")]
    rows = _comparison(smoke_run["results"])
    best = next(r["checkpoint"] for r in rows if r["method"] == "griffinlim")
    shown = [r for r in rows if r["checkpoint"].startswith("epoch_") and r["method"] == "mixture"]
    shown += [r for r in rows if r["checkpoint"] == best]
    assert len(shown) == 2 * (3 + 3)
    for row in shown:
        value = f"{float(row['SDR']):.2f}"
        assert value in text, f"{row['checkpoint']} {row['method']} {row['target']}: {value} not in the PDF"
    for epoch in (1, 2, 3):
        assert f"epoch {epoch}" in text
    assert "no result for epochs 25, 50, 150" in text  # smoke epochs are shown instead, and said so


def test_findings_are_generated_from_the_numbers(report, smoke_run):
    from hw2sep.report.build import SLIDES

    text = " ".join(_pages(report)[SLIDES.index("Findings highlight")].split())
    rows = {(r["checkpoint"], r["method"], r["target"]): float(r["SDR"]) for r in _comparison(smoke_run["results"])}
    best = next(c for c, m, _ in rows if m == "griffinlim")
    loss = rows[(best, "mixture", "vocals")] - rows[(best, "griffinlim", "vocals")]
    assert "Highest median vocals SDR of the kept epochs" in text and "not how the model was chosen" in text
    assert f"{'loses' if loss > 0 else 'gains'} {abs(loss):.2f} dB on vocals" in text


def test_figures_are_saved_as_png_and_pdf(report):
    folder = report.parent / "figures"
    for name in ("loss_curves", "sdr_vs_epoch", "phase_comparison", "per_track_sdr", "architecture", "spectrograms"):
        for ext in ("png", "pdf"):
            assert (folder / f"{name}.{ext}").stat().st_size > 1000, f"{name}.{ext}"


def test_missing_results_give_notes_not_a_crash(tmp_path):
    from hw2sep.report.build import SLIDES, build_report, load_config

    from hw2sep.report.build import APPENDIX

    pdf = build_report(tmp_path / "no_results", tmp_path / "no_run", tmp_path / "no_samples", tmp_path / "r.pdf",
                       load_config(None))
    pages = _pages(pdf)
    assert len(pages) == len(SLIDES) + 1 + len(APPENDIX)  # + "Missing results"
    assert str(tmp_path) not in " ".join(pages)  # no absolute path of this machine on a slide
    text = " ".join(" ".join(pages).split())
    assert "no results yet" in text and "comparison.csv" in text
    assert "No Griffin-Lim result" in text
    assert "no listening samples" in text


def test_a_missing_epoch_is_named_on_the_slide(smoke_run, tmp_path):
    """Epochs 1 and 150 wanted, only epoch 1 evaluated: the table says 'missing' and a note names epoch 150."""
    from hw2sep.report.build import SLIDES, build_report, load_config

    pdf = build_report(smoke_run["results"], smoke_run["run"], smoke_run["samples"], tmp_path / "r.pdf",
                       load_config(None), epochs=[1, 150])
    text = " ".join(_pages(pdf)[SLIDES.index("Result highlight")].split())
    assert "epoch 150 missing missing" in text
    assert "no epoch-150 result in" in text and "comparison.csv yet" in text


def test_cli_builds_the_report(smoke_run, tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"name": "Ada Lovelace", "student_id": "r12345678", "code_link": "https://example.org/hw2"}')
    out = tmp_path / "cli" / "report.pdf"
    result = run_script("-m", "report.build_report", "--results", str(smoke_run["results"]), "--run", str(smoke_run["run"]),
                        "--samples", str(smoke_run["samples"]), "--config", str(config), "--out", str(out),
                        "--experiments", str(tmp_path / "experiments"))
    assert result.returncode == 0, result.stderr
    assert "Ada Lovelace" in _pages(out)[0] and "r12345678" in _pages(out)[0]
    assert "07_compare_models.ipynb" in " ".join(" ".join(_pages(out)).split())  # the experiments folder was read
    assert (out.parent / "figures" / "sdr_vs_epoch.png").exists()


def test_cli_bad_config_is_one_line(tmp_path):
    result = run_script("-m", "report.build_report", "--config", str(tmp_path / "nope.json"), "--out", str(tmp_path / "r.pdf"))
    assert_one_line_error(result, "nope.json")


def test_plots_raise_a_clear_error_on_missing_inputs(tmp_path):
    from hw2sep.report import plots

    with pytest.raises(Hw2sepError, match="log.csv"):
        plots.plot_loss_curves(tmp_path)
    with pytest.raises(Hw2sepError, match="comparison.csv"):
        plots.plot_sdr_vs_epoch(tmp_path)
    with pytest.raises(Hw2sepError, match="per_track.csv"):
        plots.plot_per_track_sdr(tmp_path, "epoch_025")
    with pytest.raises(Hw2sepError):
        plots.plot_spectrograms({})


def test_plots_draw_and_save(smoke_run, tmp_path):
    import numpy as np

    from hw2sep.report import plots
    from hw2sep.models.checkpoint import load_model

    model, meta = load_model(smoke_run["run"] / "best.pt")
    figures = {"sdr": plots.plot_sdr_vs_epoch(smoke_run["results"], epochs=[1, 2, 3, 150]),
               "arch": plots.plot_architecture(meta),
               "spec": plots.plot_spectrograms({"a": np.zeros((2, 44100)), "b": np.ones(44100)}),
               "durations": plots.plot_dataset_durations({"train": [200.0, 180.5], "test": [240.0]})}
    for name, fig in figures.items():
        png, pdf = plots.save_figure(fig, tmp_path, name)
        assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    from hw2sep.models.architecture import architecture_rows
    rows = architecture_rows(model)
    assert meta["architecture"] == rows  # the checkpoint json carries the table the report draws
    assert sum(r["parameters"] for r in rows) == sum(p.numel() for p in model.parameters())
    assert [r["layer"] for r in rows][:3] == ["input_mean", "input_scale", "fc1"]


# ------------------------------------------------------------------ a full-size (50-track) fake evaluation

FAKE_TRACKS = [f"Track {i:02d} - A Rather Long Artist Name - Song Title" for i in range(50)]


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def fifty(tmp_path_factory) -> Path:
    """RESULTS of 50 test tracks: epochs 25/50/150 with the mixture phase, epoch 50 also with Griffin-Lim."""
    results = tmp_path_factory.mktemp("fifty") / "results"
    comparison = []
    for label, epoch, methods in (("epoch_025", 25, ["mixture"]), ("epoch_050", 50, ["mixture", "griffinlim"]),
                                  ("epoch_150", 150, ["mixture"])):
        for method in methods:
            per_track = []
            for i, track in enumerate(FAKE_TRACKS):
                for target, base in (("vocals", 4.0), ("accompaniment", 10.0)):
                    sdr = base + epoch / 100 + i * 0.05 - (2.5 if method == "griffinlim" else 0.0)
                    per_track.append({"track": track, "target": target, "SDR": f"{sdr:.4f}", "SIR": f"{sdr + 6:.4f}",
                                      "ISR": f"{sdr + 3:.4f}", "SAR": f"{sdr + 1:.4f}", "SDR_global": f"{sdr:.4f}"})
            _write_csv(results / label / method / "per_track.csv", list(per_track[0]), per_track)
            (results / label / method / "summary.json").write_text(f'{{"metric": "museval", "method": "{method}"}}')
            for target, base in (("vocals", 4.0), ("accompaniment", 10.0)):
                sdr = base + epoch / 100 + 1.225 - (2.5 if method == "griffinlim" else 0.0)
                comparison.append({"checkpoint": label, "epoch": epoch, "method": method, "target": target,
                                   "tracks": 50, "SDR": f"{sdr:.4f}", "SDR_mean": f"{sdr:.4f}", "SDR_global": f"{sdr:.4f}",
                                   "SIR": f"{sdr + 6:.4f}", "ISR": f"{sdr + 3:.4f}", "SAR": f"{sdr + 1:.4f}"})
    _write_csv(results / "comparison.csv", list(comparison[0]), comparison)
    return results


def test_fifty_tracks_report(fifty, tmp_path):
    """50 tracks: the per-track figure shows the extremes, the appendix lists all, own slides appear, no local paths."""
    from hw2sep.report.build import build_report, load_config
    from hw2sep.report.pages import APPENDIX, OWN_SLIDES, SLIDES

    config = load_config(None)
    config.update(findings=["Griffin-Lim smears the consonants of every track I listened to."],
                  discussion=["A longer training would need a GPU with more memory."])
    titles: list[str] = []
    pdf = build_report(fifty, tmp_path / "no_run", tmp_path / "no_samples", tmp_path / "report.pdf", config,
                       titles=titles)
    pages = _pages(pdf)
    # own findings + discussion, the phase-methods and missing-results slides, 2 appendix table pages
    assert len(pages) == len(titles) == len(SLIDES) + 2 + 2 + 1 + 2
    assert titles[5] == OWN_SLIDES["findings"] and OWN_SLIDES["discussion"] in titles
    joined = " ".join(" ".join(pages).split())
    assert "Griffin-Lim smears the consonants" in joined and "A longer training would need" in joined
    assert str(tmp_path) not in joined and str(fifty) not in joined
    appendix = " ".join(" ".join(p.split()) for p, t in zip(pages, titles) if t.startswith(APPENDIX[1]))
    for track in FAKE_TRACKS:
        assert track[:34].strip() in appendix, track
    assert "tracks 1-32 of 50" in appendix and "tracks 33-50 of 50" in appendix
    bss = " ".join(pages[titles.index(APPENDIX[0])].split())
    assert "SIR (dB)" in bss and "SAR (dB)" in bss and f"{4.0 + 0.5 + 1.225 - 2.5 + 6:.2f}" in bss  # GL vocals SIR
    assert "AMP" not in joined


def test_per_track_figure_shows_best_and_worst(fifty):
    from hw2sep.report import plots

    fig = plots.plot_per_track_sdr(fifty, "epoch_050")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 20 and labels[0].startswith("Track 00") and labels[-1].startswith("Track 49")
    legend = ax.get_legend()
    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
    assert legend.get_bbox_to_anchor().x0 >= ax.get_window_extent().x1 - 1  # legend right of the axes
    assert "30 tracks not shown" in " ".join(t.get_text() for t in ax.texts)
    every = plots.plot_per_track_sdr(fifty, "epoch_050", extremes=None)
    assert len(every.axes[0].get_yticklabels()) == 50


def test_table_headers_fit_their_cells():
    from hw2sep.report.plots import fit_fontsize

    assert fit_fontsize("accompaniment\nSDR (dB)", 1.9, 16, bold=True) < 16  # shrunk to fit
    assert fit_fontsize("SDR", 1.9, 16, bold=True) == 16


def test_amp_is_shown_for_cuda_runs_only():
    from hw2sep.report.text import settings_rows

    meta = {"train_seconds": 100.0, "train": {"device": "cpu", "amp": True}}
    assert "AMP" not in settings_rows(meta)[-1][1]
    assert "AMP on" in settings_rows({**meta, "device": "cuda:0"})[-1][1]


# ------------------------------------------------------------------ optional tasks: experiment tables, phase methods

EXPERIMENT_MODELS = [("umx", 8893348, "this package, after sigsep/open-unmix-pytorch", "mixture"),
                     ("bsrnn", 8881224, "this package, after magronp/bsrnn (Luo & Yu 2022) and espnet TFGridNet attention",
                      "direct"),
                     ("deepconvsep", 575532, "this package, after MTG/DeepConvSep and joangro/PytorchConvSep", "mixture")]
ABLATION_RUNS = {"augmentation": [("all", "all on"), ("none", "all off")],
                 "structure": [("lstm3", "nb_layers=3 (default)"), ("no_mask", "mask=false")],
                 "input_length": [("umx_7s", "seq_dur=7"), ("umx_60s", "seq_dur=60")],
                 "bsrnn_loss": [("t", "loss=t"), ("t_tf", "loss=t+tf")],
                 "umx_loss": [("mse_mag", "loss=mse_mag"), ("xumx", "loss=xumx")]}


def _fake_experiment(root: Path, name: str, runs: list[dict]) -> None:
    """EXPERIMENTS/NAME as python -m hw2sep.experiments.runner writes it: experiment.json, table.csv, a figure."""
    from hw2sep.experiments.table import table_fields

    folder = root / name
    folder.mkdir(parents=True)
    (folder / "experiment.json").write_text(
        f'{{"name": "{name}", "description": "fake {name} study", "smoke": false, '
        f'"evaluate": {{"methods": ["main", "griffinlim"]}}, "runs": {[r["run"] for r in runs]!r}}}'.replace("'", '"'))
    _write_csv(folder / "table.csv", list(table_fields(["main", "griffinlim"])), runs)
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6, 3))
    fig.subplots().plot([0, 1], [0, 1])
    fig.savefig(folder / "sdr_per_track.png")


@pytest.fixture(scope="module")
def experiments(tmp_path_factory) -> Path:
    """Fake tables of the model comparison and all five ablations (SDRs chosen to be recognisable)."""
    root = tmp_path_factory.mktemp("experiments") / "experiments"
    rows = []
    for i, (model, params, origin, main) in enumerate(EXPERIMENT_MODELS):
        rows.append({"run": model, "model": model, "parameters": params, "pretrained": "no", "code_origin": origin,
                     "varied": "", "epochs": 50, "best_epoch": 48, "budget": "50 epochs", "train_seconds": 3600.0 * (i + 1),
                     "seq_dur": 6.0, "loss": "mse_mag", "main_method": main, "vocals_SDR_main": 5.11 + i,
                     "accompaniment_SDR_main": 11.22 + i, "vocals_SDR_griffinlim": 2.33 + i,
                     "accompaniment_SDR_griffinlim": 8.44 + i})
    _fake_experiment(root, "compare_models", rows)
    for k, (name, runs) in enumerate(ABLATION_RUNS.items()):
        _fake_experiment(root, name, [
            {"run": run, "model": "umx", "parameters": 8893348, "pretrained": "no", "code_origin": "x", "varied": varied,
             "epochs": 50, "best_epoch": 50, "budget": "50 epochs", "train_seconds": 1800.0, "seq_dur": 6.0,
             "loss": "mse_mag", "main_method": "mixture", "vocals_SDR_main": 4.0 + k + j / 10,
             "accompaniment_SDR_main": 10.0 + k, "vocals_SDR_griffinlim": 1.0 + k, "accompaniment_SDR_griffinlim": 7.0 + k}
            for j, (run, varied) in enumerate(runs)])
    return root


def _titled(pdf: Path, titles: list[str]) -> dict[str, str]:
    return {t: " ".join(p.split()) for t, p in zip(titles, _pages(pdf))}


def test_experiment_tables_get_their_slides(fifty, experiments, tmp_path):
    """The comparison slide has parameters, pretrained and code-origin columns; every ablation has a table slide
    and a figure slide; nothing optional is reported missing except the vocoders."""
    import hw2sep.evaluation.evaluate
    import hw2sep.training.train
    from hw2sep.report.build import build_report, load_config
    from hw2sep.report.optional import MISSING_TITLE, TITLES

    titles: list[str] = []
    with pytest.MonkeyPatch.context() as patch:  # the builder reads files only
        patch.setattr(hw2sep.training.train, "fit", _forbidden)
        patch.setattr(hw2sep.evaluation.evaluate, "evaluate", _forbidden)
        pdf = build_report(fifty, tmp_path / "no_run", tmp_path / "no_samples", tmp_path / "report.pdf",
                           load_config(None), titles=titles, experiments=experiments)
    slides = _titled(pdf, titles)
    compare = slides[TITLES["compare_models"]]
    for header in ("parameters", "pre- trained", "code origin"):
        assert header in compare, header
    for i, (model, params, origin, main) in enumerate(EXPERIMENT_MODELS):
        assert model in compare and f"{params:,}" in compare
        assert f"{5.11 + i:.2f}" in compare and f"{8.44 + i:.2f}" in compare
    assert "sigsep/open-unmix-pytorch" in compare and "magronp/bsrnn" in compare and "this package" not in compare
    assert compare.count(" no ") >= len(EXPERIMENT_MODELS)  # the pretrained column
    assert "Best vocals SDR (own reconstruction): deepconvsep (7.11 dB)" in compare
    for k, (name, runs) in enumerate(ABLATION_RUNS.items()):
        text = slides[TITLES[name]]
        assert all(run in text and varied in text for run, varied in runs), name
        assert f"{4.0 + k + 0.1:.2f}" in text
        assert f"fake {name} study" in slides[f"{TITLES[name]}: figures"]
    assert f"{TITLES['compare_models']}: figures" in titles
    missing = slides[MISSING_TITLE]
    assert "vocoder" in missing and not any(TITLES[n] in missing for n in TITLES)


def test_without_experiments_the_report_says_they_are_missing(fifty, tmp_path):
    from hw2sep.report.build import build_report, load_config
    from hw2sep.report.optional import MISSING_TITLE, TITLES

    for experiments in (None, tmp_path / "empty"):
        titles: list[str] = []
        pdf = build_report(fifty, tmp_path / "no_run", tmp_path / "no_samples", tmp_path / "r.pdf", load_config(None),
                           titles=titles, experiments=experiments)
        slides = _titled(pdf, titles)
        assert not any(t in titles for t in TITLES.values())  # no empty slide for a missing result
        missing = slides[MISSING_TITLE]
        for name, title in TITLES.items():
            assert title in missing, title
        assert "07_compare_models.ipynb" in missing and "08_ablations.ipynb" in missing
        assert str(tmp_path) not in missing


def test_a_smoke_experiment_is_shown_and_marked(experiments, fifty, tmp_path):
    """Only EXPERIMENTS/structure_smoke exists: its slide is drawn and says it is a SMOKE run."""
    import shutil

    from hw2sep.report.build import build_report, load_config
    from hw2sep.report.optional import TITLES

    root = tmp_path / "experiments"
    shutil.copytree(experiments / "structure", root / "structure_smoke")
    titles: list[str] = []
    pdf = build_report(fifty, tmp_path / "no_run", tmp_path / "no_samples", tmp_path / "r.pdf", load_config(None),
                       titles=titles, experiments=root)
    assert "SMOKE run" in _titled(pdf, titles)[TITLES["structure"]]


def test_phase_slide_lists_every_method_with_sdr_and_lsd(tmp_path):
    """comparison.csv with the vocoders: the phase slide has their rows, SDR and LSD; no vocoder line is missing."""
    from hw2sep.dsp.methods import method_label
    from hw2sep.report.build import build_report, load_config
    from hw2sep.report.optional import MISSING_TITLE, PHASE_TITLE

    methods = ["mixture", "griffinlim", "griffinlim-mixinit", "mel", "vocoder", "vocoder-linear"]
    rows = [{"checkpoint": "epoch_050", "epoch": 50, "method": m, "target": t, "tracks": 50, "SDR": f"{i + j / 10 + 1.01:.4f}",
             "SDR_mean": "", "SDR_global": "", "SIR": "", "ISR": "", "SAR": "", "LSD": f"{20 + i + j / 10 + 0.07:.4f}"}
            for i, m in enumerate(methods) for j, t in enumerate(("vocals", "accompaniment"))]
    _write_csv(tmp_path / "results" / "comparison.csv", list(rows[0]), rows)
    titles: list[str] = []
    pdf = build_report(tmp_path / "results", tmp_path / "no_run", tmp_path / "no_samples", tmp_path / "r.pdf",
                       load_config(None), titles=titles, experiments=tmp_path / "none")
    slides = _titled(pdf, titles)
    text = slides[PHASE_TITLE]
    for i, method in enumerate(methods):
        assert method_label(method) in text, method
        assert f"{i + 1.01:.2f}" in text and f"{20 + i + 0.1 + 0.07:.2f}" in text  # vocals SDR, accompaniment LSD
    assert "LSD (dB)" in text and "not aligned" in text
    assert "vocoder" not in slides[MISSING_TITLE]


def test_the_report_says_how_the_checkpoint_was_chosen(smoke_run, tmp_path):
    """Validation (best.pt) by default, said on the methodology slide; a test-set choice is said on every slide
    that uses it."""
    import json
    import shutil

    from hw2sep.report.build import build_report, load_config
    from hw2sep.report.results import SELECT_RULES, SELECTION, best_epoch, read_comparison

    results = tmp_path / "results"
    shutil.copytree(smoke_run["results"], results)
    (results / SELECTION).unlink(missing_ok=True)
    text = " ".join(_pages(build_report(results, smoke_run["run"], smoke_run["samples"], tmp_path / "v.pdf",
                                        load_config(None))))
    assert SELECT_RULES["validation"] in " ".join(text.split()) and "chosen on the test set" not in text
    label = best_epoch(read_comparison(results))[1]  # the fixture scored this one with Griffin-Lim
    (results / SELECTION).write_text(json.dumps({"checkpoint": label, "select": "test", "how": SELECT_RULES["test"]}))
    pages = _pages(build_report(results, smoke_run["run"], smoke_run["samples"], tmp_path / "t.pdf", load_config(None)))
    chosen = [p for p in pages if "chosen on the test set" in " ".join(p.split())]
    assert len(chosen) >= 3, [p[:60] for p in pages]  # methodology, Task 2 / per-track / spectrogram slides
