"""The report's layout at every size: built from fake result folders (SMOKE size and the largest sizes:
50 tracks, 12 reconstruction methods, 30 experiment runs), then checked on the PDF's own word boxes
(poppler's ``pdftotext -bbox-layout``): no word leaves its slide, none reaches the footer line, no two
overlap, none is under 9 pt, and the figures are vector text (their words are in the PDF)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from test_report import _fake_experiment, _write_csv

PDFTOTEXT = shutil.which("pdftotext")
MAX_METHODS = ["mixture", "wiener", "griffinlim", "griffinlim-librosa", "griffinlim-mixinit", "mel", "direct",
               "residual", "vocoder", "vocoder-linear", "griffinlim-64-iterations", "phase-retrieval-admm"]
SIZES = {  # name: (tracks, epochs evaluated, methods at the Griffin-Lim checkpoint, runs per experiment, metric)
    "smoke": (2, [1, 2, 3], ["mixture", "griffinlim", "griffinlim-mixinit"], 3, "fast"),
    "largest": (50, [10, 25, 50, 75, 100, 150], MAX_METHODS, 30, "museval"),
}
TRACK = "{i:02d} - A Rather Long Artist Name Feat. Somebody - The Song With The Longest Title"


def fake_results(root: Path, tracks: int, epochs: list[int], methods: list[str], runs: int,
                 metric: str = "museval") -> dict[str, Path]:
    """RESULTS, RUN, SAMPLES and EXPERIMENTS folders as the pipeline writes them, filled with made-up numbers."""
    from hw2sep.evaluation.samples import write_sample

    results, run, samples, experiments = (root / n for n in ("results", "run", "samples", "experiments"))
    names = [TRACK.format(i=i) for i in range(tracks)]
    comparison, gl = [], epochs[len(epochs) // 2]
    for epoch in epochs:
        label = f"epoch_{epoch:03d}"
        for k, method in enumerate(methods if epoch == gl else ["mixture"]):
            per_track = [{"track": t, "target": target, "SDR": f"{base + epoch / 100 - k / 3 + i * 0.07:.4f}",
                          "SIR": "12.0", "ISR": "9.0", "SAR": "7.0", "SDR_global": "5.0"}
                         for i, t in enumerate(names) for target, base in (("vocals", 4.0), ("accompaniment", 10.0))]
            _write_csv(results / label / method / "per_track.csv", list(per_track[0]), per_track)
            (results / label / method / "summary.json").write_text(json.dumps({"metric": metric, "method": method}))
            for target, base in (("vocals", 4.0), ("accompaniment", 10.0)):
                sdr = base + epoch / 100 - k / 3
                comparison.append({"checkpoint": label, "epoch": epoch, "method": method, "target": target,
                                   "tracks": tracks, "SDR": f"{sdr:.4f}", "SDR_mean": "", "SDR_global": "",
                                   "SIR": f"{sdr + 6:.4f}", "ISR": f"{sdr + 3:.4f}", "SAR": f"{sdr + 1:.4f}",
                                   "LSD": f"{20 - sdr:.4f}"})
    _write_csv(results / "comparison.csv", list(comparison[0]), comparison)
    last = epochs[-1]
    log = [{"epoch": e, "train_loss": 1 / e, "valid_loss": 1.2 / e + e / 1000, "lr": 0.001} for e in range(1, last + 1)]
    _write_csv(run / "log.csv", list(log[0]), log)
    (run / "best.json").write_text(json.dumps({
        "model": "umx", "config": {"hidden_size": 32, "nb_layers": 1}, "parameters": 123456, "epoch": last,
        "valid_loss": 0.1, "train_seconds": 4000.0, "loss": "mse_mag",
        "train": {"epochs": last, "checkpoint_epochs": epochs, "lr": 0.001, "batch_size": 16, "seq_dur": 6.0,
                  "samples_per_track": 64, "device": "cpu", "augment": {"gain": [0.25, 1.25]}}}))
    rng = np.random.default_rng(0)
    audio = lambda: rng.standard_normal((2, 44100 * 2)).astype(np.float32) * 0.1  # noqa: E731
    track = names[0]
    write_sample(samples, track, "mixture", audio(), {"kind": "mixture"})
    write_sample(samples, track, "vocals reference", audio(), {"kind": "reference", "target": "vocals"})
    for method in ("griffinlim-mixinit", "griffinlim", "mixture"):  # not in alphabetical order on purpose
        write_sample(samples, track, f"vocals {method}", audio(),
                     {"kind": "estimate", "target": "vocals", "model": "best", "method": method, "sdr_db": 3.0})
    for name in ("compare_models", "input_length"):
        _fake_experiment(experiments, name, [
            {"run": f"{name[:7]}_{j:02d}_variant", "model": ["umx", "bsrnn"][j % 2], "parameters": 1e6 * (j + 1),
             "pretrained": "no", "code_origin": "this package, after sigsep/open-unmix-pytorch (a long origin)",
             "varied": f"seq_dur={j + 1} and a second changed setting", "epochs": 1, "best_epoch": 1,
             "budget": "epochs", "train_seconds": 60.0 * j, "seq_dur": float(j + 1), "loss": "mse_mag",
             "main_method": ["mixture", "direct"][j % 2], "vocals_SDR_main": 4.0 + j / 10,
             "accompaniment_SDR_main": 10.0 - j / 10, "vocals_SDR_griffinlim": 2.0 + j / 10,
             "accompaniment_SDR_griffinlim": 8.0} for j in range(runs)])
        info = json.loads((experiments / name / "experiment.json").read_text())
        info.update(budget={"epochs": 1}, evaluate={"methods": ["main", "griffinlim"], "metric": "fast", "tracks": 2},
                    description="Optional task: a study of this and that; 50 epochs each (a smaller budget).")
        (experiments / name / "experiment.json").write_text(json.dumps(info))
    return {"results": results, "run": run, "samples": samples, "experiments": experiments}


def word_boxes(pdf: Path) -> list[tuple[float, float, list[tuple[float, float, float, float, str]]]]:
    """Per page: (width, height, [(x0, y0, x1, y1, word)]) in points, y down, from pdftotext -bbox-layout."""
    out = subprocess.run([PDFTOTEXT, "-bbox-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = []
    for page in re.finditer(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', out, re.S):
        words = [(float(a), float(b), float(c), float(d), html.unescape(w)) for a, b, c, d, w in re.findall(
            r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">(.*?)</word>', page[3])]
        pages.append((float(page[1]), float(page[2]), words))
    return pages


EM_HEIGHT = 1.164  # DejaVu Sans: a word box's height is its font size times ascent + descent


def layout_problems(pdf: Path, footer: str, smallest: float = 9.0) -> list[str]:
    """Every word off its page, in the footer band without being the footer, set under `smallest` pt,
    or overlapping another word."""
    from hw2sep.report.slides import FOOTER_TOP

    problems = []
    for number, (width, height, words) in enumerate(word_boxes(pdf), start=1):
        line = height * (1 - FOOTER_TOP)
        allowed = footer.split() + [str(number)]
        for x0, y0, x1, y1, word in words:
            if x0 < -0.5 or y0 < -0.5 or x1 > width + 0.5 or y1 > height + 0.5:
                problems.append(f"page {number}: '{word}' leaves the slide ({x0:.0f}, {y0:.0f}, {x1:.0f}, {y1:.0f})")
            elif y1 > line and word not in allowed:
                problems.append(f"page {number}: '{word}' reaches the footer line (bottom {height - y1:.1f} pt)")
            if y1 - y0 < smallest * EM_HEIGHT - 0.1:
                problems.append(f"page {number}: '{word}' is set in {(y1 - y0) / EM_HEIGHT:.1f} pt")
        for i, a in enumerate(words):
            for b in words[i + 1:]:
                dx = min(a[2], b[2]) - max(a[0], b[0])
                dy = min(a[3], b[3]) - max(a[1], b[1])
                if dx > 1.0 and dy > 0.25 * min(a[3] - a[1], b[3] - b[1]):
                    problems.append(f"page {number}: '{a[4]}' and '{b[4]}' overlap ({dx:.1f} x {dy:.1f} pt)")
    return problems


@pytest.fixture(scope="module", params=list(SIZES))
def built(request, tmp_path_factory) -> tuple[str, Path, list[str], dict]:
    from hw2sep.report.build import build_report, load_config

    tracks, epochs, methods, runs, metric = SIZES[request.param]
    root = tmp_path_factory.mktemp(request.param)
    folders = fake_results(root, tracks, epochs, methods, runs, metric)
    config = load_config(None)
    config.update(epochs=epochs, gl_checkpoint=f"epoch_{epochs[len(epochs) // 2]:03d}",
                  findings=["A finding in my own words. " * 8] * 3, novelty=["A novelty point. " * 10] * 4)
    titles: list[str] = []
    pdf = build_report(folders["results"], folders["run"], folders["samples"], root / "report.pdf", config,
                       titles=titles, experiments=folders["experiments"])
    footer = f"{config['name']} · {config['student_id']} · HW2 source separation"
    return request.param, pdf, titles, {"footer": footer, "methods": methods, "tracks": tracks, "metric": metric}


def test_no_word_leaves_its_slide_reaches_the_footer_or_overlaps(built):
    size, pdf, titles, info = built
    problems = layout_problems(pdf, info["footer"])
    assert not problems, f"{size}: {len(problems)} problems, e.g.\n" + "\n".join(problems[:25])


def test_figures_are_vector_text_and_settings_come_from_the_results(built):
    """Figure words are in the PDF (vectors, not pixels); the metric and budget are the results', never fixed words."""
    from hw2sep.dsp.methods import method_label
    from hw2sep.report.build import SLIDES
    from hw2sep.names import metric_label

    size, pdf, titles, info = built
    pages = [" ".join(w[4] for w in words) for _, _, words in word_boxes(pdf)]
    spectro = pages[titles.index(SLIDES[10])]
    assert "reference vocals" in spectro and "mixture phase" in spectro and "Griffin-Lim (random init)" in spectro
    assert "frequency (Hz)" in spectro  # an axis label of the figure: vector text
    phase = pages[titles.index(SLIDES[8])]
    for method in info["methods"]:
        assert method_label(method) in phase, method
    everything = " ".join(pages)
    assert metric_label(info["metric"]) in pages[titles.index("Result highlight")]  # the scorer of summary.json
    assert "BSS Eval v4" in metric_label(info["metric"]) and "Budget per run: 1 epoch" in everything
    assert "50 epochs each" not in everything
