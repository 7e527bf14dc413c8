"""Write notebooks/01..08 (outputs stripped) from the cell sources below: ``python notebooks/_build_notebooks.py``.

Editing here and regenerating keeps the notebooks' shared cells (Colab setup, parameters,
workspace) identical. Each notebook: Colab-only setup, a ``parameters`` cell (papermill
convention), then calls into hw2sep, plots and short prose; no library logic.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

COLAB = '''\
# Colab only (does nothing elsewhere): get this repository, then install what the notebooks need.
REPO_URL = "https://github.com/YOUR-GITHUB-NAME/hw2sep.git"   # EDIT: your fork of the assignment repository
DRIVE_REPO = "/content/drive/MyDrive/hw2sep"                  # used instead of cloning when it exists on Drive
import sys
if "google.colab" in sys.modules:
    import os, subprocess
    from google.colab import drive
    drive.mount("/content/drive")                 # MUSDB18 lives on Drive; checkpoints are mirrored there
    repo = DRIVE_REPO if os.path.isdir(os.path.join(DRIVE_REPO, "hw2sep")) else "/content/hw2sep"
    if not os.path.isdir(os.path.join(repo, "hw2sep")):
        if "YOUR-GITHUB-NAME" in REPO_URL:
            raise SystemExit("set REPO_URL in this cell to your fork (https://github.com/<you>/hw2sep.git), "
                             f"or copy the repository to Drive as {DRIVE_REPO}")
        if subprocess.run(["git", "clone", "-q", REPO_URL, repo]).returncode:
            raise SystemExit(f"could not clone {REPO_URL}: check REPO_URL (a public fork, or copy it to Drive)")
    os.chdir(repo)
    # requirements.txt only: Colab's torch, numpy, librosa, matplotlib, tqdm and ipywidgets already satisfy
    # it and are kept as they are (requirements-dev.txt would upgrade ipywidgets and break Colab's widgets).
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", "requirements.txt"], check=True)'''

PARAMETERS = '''\
import os, sys
from pathlib import Path
REPO = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "hw2sep" / "__init__.py").exists())
sys.path.insert(0, str(REPO))                        # import hw2sep from this repository
from hw2sep.names import CHECKPOINT_EPOCHS
from hw2sep.notebook.settings import load_settings

SMOKE = os.environ.get("HW2SEP_SMOKE", "0") == "1"   # tiny toy run (CI); HW2SEP_SMOKE=1 switches it on
settings = load_settings(SMOKE)                      # defaults < hw2sep_settings.json < HW2SEP_* variables
MUSDB_ROOT = settings.MUSDB_ROOT                     # MUSDB18 (.stem.mp4) or MUSDB18-HQ (wav) root
WORK = settings.WORK                                 # outputs; relative paths are from the repository
DEVICE = settings.DEVICE                             # auto, cpu, cuda, mps
CONFIG = settings.CONFIG                             # the model's config file (configs/umx.json)
METRIC = settings.METRIC                             # museval (BSS Eval v4), fast (same numbers), mir_eval (v3)
N_TRACKS = settings.N_TRACKS                         # evaluate only the first N test tracks (None: all 50)
EPOCHS = CHECKPOINT_EPOCHS                           # the checkpoints the assignment asks about (hw2sep.names)
print(settings.table())'''

WORKSPACE = '''\
%matplotlib inline
from hw2sep.notebook.workspace import Workspace
ws = Workspace.create(MUSDB_ROOT, WORK, DEVICE, EPOCHS, SMOKE, metric=METRIC, config=CONFIG, drive=settings.DRIVE)
print(ws.describe())'''


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str, **metadata):
    cell = new_code_cell(text.strip())
    cell.metadata.update(metadata)
    return cell


def notebook(title: str, intro: str, cells: list, extra_parameters: str = ""):
    """Title, Colab cell, parameters cell (tagged), workspace cell, then `cells`."""
    params = PARAMETERS + ("\n" + extra_parameters.strip() if extra_parameters else "")
    nb = new_notebook(cells=[md(f"# {title}\n\n{intro.strip()}"), code(COLAB),
                             code(params, tags=["parameters"]), code(WORKSPACE), *cells])
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"  # stable ids: regenerating changes nothing that was not edited
    nb.metadata.update({"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                        "language_info": {"name": "python"}})
    return nb


NB01 = notebook("01 · Prepare the data", """
MUSDB18 (150 songs: 86 train, 14 validation, 50 test) → a memory-mapped `.npy` cache of the vocals
and the accompaniment (drums + bass + other), so that training never decodes audio. The test set is
not converted: it is only read by the evaluation. With `SMOKE=True` a small procedural toy dataset
in MUSDB18-HQ layout stands in for MUSDB18.""", [
    code('''\
from hw2sep.data.npy_cache import convert_to_npy, load_manifest
musdb = ws.ensure_dataset()
manifest = convert_to_npy(musdb, ws.npy, subsets=("train", "valid"))
print(f"done: npy cache {manifest}")'''),
    md("## Dataset statistics\nTrack counts and durations per subset, read from the file headers."),
    code('''\
from hw2sep.report import plots
from hw2sep.notebook.workspace import dataset_durations, duration_table
durations = dataset_durations(musdb)
print(duration_table(durations))
plots.plot_dataset_durations(durations)'''),
    md("## An example\nThe mixture and its two targets for the first 8 s of a training track: "
       "the model sees the mixture's magnitude and must find the vocals' share of each bin."),
    code('''\
from hw2sep.data.musdb import list_tracks
track = list_tracks(musdb, "train")[0]
audio = track.load(("mixture", "vocals", "accompaniment"), duration=8.0)
plots.plot_spectrograms({f"mixture: {track.name}": audio["mixture"], "vocals": audio["vocals"],
                         "accompaniment": audio["accompaniment"]})'''),
])

NB02 = notebook("02 · Train a separator from scratch", """
`CONFIG` picks the model and its recipe (`configs/umx.json` by default: one Open-Unmix network, 8.9 M
parameters, learns the vocals magnitude; the accompaniment is the residual; Adam 1e-3, MSE on
magnitudes, 6 s excerpts with random gain, channel swap and chunking). Any file in `configs/` trains
the same way (`python -m hw2sep.models` lists the zoo), into `runs/<config name>`, which notebooks
03-05 then follow. The checkpoints of the chosen epochs (`EPOCHS`) are kept; `RESUME=True`
continues an interrupted run from `last.pt` (Colab sessions end!).""", [
    code('''\
from hw2sep.training.train import fit
ws.require(ws.npy / "manifest.json", "notebooks/01_prepare_data.ipynb")
config = ws.training_config()                       # CONFIG's model and recipe -> runs/<config name>
print(f"{ws.config}: model {config.model}, run folder {config.out}")
config'''),
    code('''\
import time
from hw2sep.notebook.settings import mirrored, restore_folder
restore_folder(ws.drive_run, ws.run)                # a fresh Colab disk: bring back the run mirrored on Drive
started = time.time()
with mirrored(ws.run, ws.drive_run):                 # copies checkpoints to Drive every 5 min and at the end
    history = fit(config, resume=RESUME)
print(f"done: {len(history)} epochs this session in {(time.time() - started) / 60:.1f} min; "
      f"checkpoints: {sorted(p.name for p in ws.run.glob('*.pt'))}")'''),
    md("## Loss curves\nFrom `log.csv`; the star marks the lowest validation loss (`best.pt`), "
       "dotted lines the kept epochs."),
    code('''\
from hw2sep.report import plots
fig = plots.plot_loss_curves(ws.run, mark_epochs=ws.epochs)
plots.save_figure(fig, ws.figures, "loss_curves")
fig'''),
], extra_parameters='RESUME = True                                        # continue from runs/<config name>/last.pt if present')

NB03 = notebook("03 · SDR at epochs 25 / 50 / 150 (mixture phase)", """
Each kept checkpoint separates the 50 test tracks; the estimated magnitudes get the mixture's phase
(Open-Unmix's default). SDR is BSS Eval on 1 s windows: the median over windows per track, then
the median over tracks ("median of medians"). `METRIC`: `museval` (BSS Eval v4, the assignment's),
`fast` (the same v4 numbers within 0.01 dB, ~13x less CPU) or `mir_eval` (BSS Eval v3: distortion
filters re-fitted in every window instead of once per track, so usually higher SDR; not comparable
with v4 tables). Scored tracks are cached, so a rerun resumes. SMOKE uses `fast`.""", [
    code('''\
from hw2sep.evaluation.evaluate import evaluate, format_table
from hw2sep.notebook.workspace import evaluation_estimate
checkpoints = ws.epoch_checkpoints() + [ws.checkpoint("best")]   # made by 02: a clear error when missing
print(evaluation_estimate(ws.musdb, ws.metric, N_TRACKS, runs=len(checkpoints)))
rows = evaluate(checkpoints, ws.musdb, ws.results, methods=["mixture"], n_tracks=N_TRACKS,
                metric=ws.metric, device=ws.device)
print(f"done: {max(r['tracks'] for r in rows)} test tracks scored with {ws.metric}")
checkpoint, label = ws.select_checkpoint(SELECT)       # best.pt: lowest validation loss (SELECT = "validation")
print(format_table([r for r in rows if r["checkpoint"].startswith("epoch_") and r["method"] == "mixture"]))'''),
    md("## Per-track SDR per epoch\nBoxes: spread over test tracks; bold: the median of medians reported in the table."),
    code('''\
from hw2sep.report import plots
fig = plots.plot_sdr_vs_epoch(ws.results, epochs=ws.epochs)
plots.save_figure(fig, ws.figures, "sdr_vs_epoch")
fig'''),
    md("## Which tracks are hard?\nPer-track SDR of the selected checkpoint: `best.pt`, the lowest validation loss "
       "(never the test set), unless `SELECT = \"test\"`, and then every slide that uses it says so."),
    code("plots.plot_per_track_sdr(ws.results, label)"),
], extra_parameters='''\
SELECT = "validation"   # the checkpoint of Task 2, the samples and the report: "validation" (best.pt) or "test"''')

NB04 = notebook("04 · Mixture phase vs Griffin-Lim (and trained vocoders)", """
Task 2: the selected checkpoint's magnitudes (`best.pt`, lowest validation loss; see notebook 03) are turned into waveforms with a phase estimated by Griffin-Lim
instead of the mixture phase. `griffinlim` is a torch implementation of `librosa.griffinlim`'s
algorithm (fast Griffin-Lim with momentum 0.99, 32 iterations, random initial phase);
`griffinlim-mixinit` starts it from the mixture phase and `wiener` adds Open-Unmix's
multichannel Wiener filter, for comparison. Optional task 3 (the second half): librosa's mel ->
Griffin-Lim and two vocoders trained here, scored with SDR and with a phase-blind spectral distance.""", [
    code('''\
from hw2sep.evaluation.evaluate import evaluate, format_table
ws.require(ws.results / "comparison.csv", "notebooks/03_evaluate_epochs.ipynb")
checkpoint, label = ws.selected_checkpoint()           # recorded by 03: best.pt unless chosen on the test set
print(f"selected checkpoint: {checkpoint}")
rows = evaluate([checkpoint], ws.musdb, ws.results, methods=["mixture", *METHODS], n_tracks=N_TRACKS,
                metric=ws.metric, device=ws.device, gl_iterations=GL_ITERATIONS)
print(f"done: {label} x {len(METHODS) + 1} methods scored with {ws.metric}")
print(format_table([r for r in rows if r["checkpoint"] == label]))'''),
    md("## Per-track comparison\nGrey lines join the same track under each method."),
    code('''\
from hw2sep.report import plots
fig = plots.plot_phase_comparison(ws.results, label)
plots.save_figure(fig, ws.figures, "phase_comparison")
fig'''),
    md("## Is our Griffin-Lim librosa's?\nThe same magnitudes through `librosa.griffinlim` itself "
       "(`griffinlim-librosa`) on one track: the SDRs should agree to a few hundredths of a dB."),
    code('''\
check = evaluate([checkpoint], ws.musdb, ws.results / "librosa_check", methods=["griffinlim", "griffinlim-librosa"],
                 n_tracks=1, metric=ws.metric, device=ws.device, gl_iterations=GL_ITERATIONS)
print(format_table(check))'''),
    md("## Spectrograms\nThe loudest vocal passage of the first test track: Griffin-Lim keeps the magnitudes "
       "but smears transients and adds phasey artifacts."),
    code('''\
from hw2sep.models.checkpoint import load_model
from hw2sep.data.musdb import list_tracks
from hw2sep.common.devices import resolve_device
from hw2sep.evaluation.samples import loudest_window
from hw2sep.separation.separator import Separator
track = list_tracks(ws.musdb, "test")[0]
audio = track.load(("mixture", "vocals"))
start, stop = loudest_window(audio["vocals"], 10.0)
device = resolve_device(ws.device)
model, meta = load_model(checkpoint, device)
estimates = Separator(model, device).separate(audio["mixture"][:, start:stop], ["mixture", "griffinlim"])
fig = plots.plot_spectrograms({"mixture": audio["mixture"][:, start:stop], "reference vocals": audio["vocals"][:, start:stop],
                               "vocals, mixture phase": estimates["mixture"]["vocals"],
                               "vocals, Griffin-Lim": estimates["griffinlim"]["vocals"]}, title=track.name)
plots.save_figure(fig, ws.figures, "spectrograms_griffinlim")
fig'''),
    md("""## Optional task 3: trained vocoders instead of Griffin-Lim
Two Vocos-style vocoders (`hw2sep/vocoder/`, trained from scratch on the training stems, no pretrained
weights) predict the phase from the estimated magnitude: `vocoder` from its mel spectrogram,
`vocoder-linear` from the linear magnitude. As the assignment warns, a vocoder must share the
separator's STFT: `stft_from=` reads n_fft, hop and window from the best checkpoint's json. Training
resumes from `WORK/runs/vocoder_mel` and `vocoder_linear` (`last.pt`), so an interrupted session goes on.

**Cost**: `VOCODER_STEPS` = 20,000 steps (batches of 8 one-second excerpts) per vocoder is a GPU job,
not measured here (no GPU was available). On the shared CPU one step of a smaller bench vocoder
(dim 128, 6 blocks, 8 one-second signals) took 0.27 s; a default step (dim 256, 8 blocks, 32 signals)
is several times that, so 20,000 steps would take many hours on a CPU. SMOKE trains tiny vocoders for
a few steps."""),
    code('''\
import time
from hw2sep.training.vocoder import fit_vocoder
vocoders = []
TRAIN_VOCODERS = (SMOKE or ws.resolved_device() != "cpu") if TRAIN_VOCODERS is None else TRAIN_VOCODERS
if not TRAIN_VOCODERS:
    print("TRAIN_VOCODERS is off (the default on a CPU): the vocoder methods are skipped; set it to True to train")
for features in ("mel", "linear") if TRAIN_VOCODERS else ():
    config = ws.vocoder_config(features, stft_from=checkpoint, steps=VOCODER_STEPS)
    started = time.time()
    done = fit_vocoder(config, resume=True, stop_at=2, progress=False)   # 2 steps (or a finished run): time them
    left = VOCODER_STEPS - (done[-1]["step"] if done else 0)
    per_step = done[-1]["s_per_step"] if done and done[-1].get("s_per_step") else time.time() - started
    print(f"vocoder ({features}): {left} steps left, about {left * per_step / 3600:.1f} h at the measured "
          f"{per_step:.2f} s/step on {ws.resolved_device()} (resumable: an interrupted run goes on from last.pt)")
    fit_vocoder(config, resume=True)
    vocoders.append(Path(config.out) / "best.pt")'''),
    md("""## Every reconstruction method on the best epoch
The same magnitudes, six ways to a waveform: the mixture phase, Griffin-Lim from a random phase and
from the mixture phase, librosa's mel -> Griffin-Lim (`mel`) and the two trained vocoders. Listening
samples of each go to `samples/` (index in `samples/index.md`)."""),
    code('''\
from IPython.display import Markdown, display
from hw2sep.report.optional import phase_markdown
methods = [m for m in PHASE_METHODS if vocoders or not m.startswith("vocoder")]
rows = evaluate([checkpoint], ws.musdb, ws.results, methods=methods, vocoders=vocoders, n_tracks=N_TRACKS,
                metric=ws.metric, device=ws.device, gl_iterations=GL_ITERATIONS, samples_dir=ws.samples,
                n_sample_tracks=SAMPLE_TRACKS)
sdr_table, lsd_table = phase_markdown(rows, label)
display(Markdown(f"**SDR (dB), median of per-track medians, {label}**\\n\\n{sdr_table}"))
display(Markdown(f"**Log-spectral distance (dB, lower is better), {label}**\\n\\n{lsd_table}"))'''),
    md("SDR compares waveforms sample by sample, so a phase that is plausible but not aligned with the reference "
       "(Griffin-Lim, a vocoder) is scored as distortion even where it sounds right; the log-spectral distance "
       "compares magnitudes only, so it tells a bad magnitude from a merely different phase."),
    md("## Listen\nThe first sample track: mixture, references and the best epoch's estimates with every method "
       "(track SDR in brackets)."),
    code('''\
from hw2sep.notebook.workspace import track_players
for caption, player in track_players(ws.samples):
    if "estimate" not in caption or label in caption:
        print(caption)
        display(player)'''),
], extra_parameters='''\
METHODS = ["griffinlim", "griffinlim-mixinit"]      # besides the mixture phase; add "wiener" if you like
GL_ITERATIONS = 32
VOCODER_STEPS = 4 if SMOKE else 20_000               # per vocoder: a GPU job (see the vocoder section)
TRAIN_VOCODERS = None     # True / False; None: on with a GPU (and in SMOKE), off on a CPU, where it takes many hours
PHASE_METHODS = ["mixture", "griffinlim", "griffinlim-mixinit", "mel", "vocoder", "vocoder-linear"]
SAMPLE_TRACKS = 1 if SMOKE else 3                    # tracks with listening samples of every method''')

NB05 = notebook("05 · Listening samples", """
Excerpts (the loudest 10 s of vocals) of the mixture, the references and the estimates of each
kept epoch (mixture phase) and of the selected checkpoint (`best.pt`) with Griffin-Lim, written to `samples/` with an
index (`samples/index.md`) that lists each file with its track SDR.""", [
    code('''\
from hw2sep.evaluation.evaluate import evaluate
ws.require(ws.results / "comparison.csv", "notebooks/03_evaluate_epochs.ipynb")
evaluate(ws.epoch_checkpoints(), ws.musdb, ws.results, methods=["mixture"], metric=ws.metric, device=ws.device,
         samples_dir=ws.samples, n_sample_tracks=SAMPLE_TRACKS, n_tracks=N_TRACKS)
checkpoint, label = ws.selected_checkpoint()           # recorded by 03: best.pt unless chosen on the test set
evaluate([checkpoint], ws.musdb, ws.results, methods=["mixture", "griffinlim"], metric=ws.metric,
         device=ws.device, samples_dir=ws.samples, n_sample_tracks=SAMPLE_TRACKS, n_tracks=N_TRACKS)
print((ws.samples / "index.md").read_text())'''),
    md("## One track, every version"),
    code('''\
from IPython.display import display
from hw2sep.notebook.workspace import listening_panel, track_players
for caption, player in track_players(ws.samples):
    print(caption)
    display(player)'''),
    md("## Compare freely\nPick a track, a checkpoint, a phase method and a target; only the methods sampled for that "
       "track and checkpoint are offered."),
    code("listening_panel(ws.samples, ws.results)   # opens on the selected checkpoint with the mixture phase"),
], extra_parameters='''\
SAMPLE_TRACKS = 1 if SMOKE else 3                    # tracks to export samples for (N_TRACKS must match 03/04)''')

NB06 = notebook("06 · Figures and report", """
Every figure of the report, drawn from the result files, then the 16:9 PDF report itself
(`python -m report.build_report` does the same from the command line). Fill in your name, student ID
and code link in `report/report_config.json` first, and your own observations in its `findings`
and `discussion` lists (each gets its own slide when filled). The builder only reads files: a
slide whose results are missing says so.""", [
    code('''\
from IPython.display import display
from hw2sep.report import plots
from hw2sep.report.results import phase_checkpoint, read_comparison, read_selection
rows = read_comparison(ws.results)
figures = {"loss_curves": plots.plot_loss_curves(ws.run, mark_epochs=ws.epochs),
           "sdr_vs_epoch": plots.plot_sdr_vs_epoch(ws.results, epochs=ws.epochs),
           "phase_comparison": plots.plot_phase_comparison(ws.results, phase_checkpoint(rows)),
           "per_track_sdr": plots.plot_per_track_sdr(ws.results, read_selection(ws.results)["checkpoint"])}
for name, fig in figures.items():
    plots.save_figure(fig, ws.figures, name)
    display(fig)'''),
    md("## Architecture\nThe parameter count per layer, from the checkpoint's json."),
    code('''\
from hw2sep.report.results import read_checkpoint_meta
fig = plots.plot_architecture(read_checkpoint_meta(ws.run, ["best"]))
plots.save_figure(fig, ws.figures, "architecture")
fig'''),
    md("## The report"),
    code('''\
from hw2sep.report.build import build_report, load_config, placeholders_left
config = load_config(REPO / "report" / "report_config.json")
titles = []
pdf = build_report(ws.results, ws.run, ws.samples, ws.report_pdf, config, figures=ws.figures, epochs=ws.epochs,
                   titles=titles, experiments=ws.experiments)   # WORK/experiments: notebooks 07 and 08
print(f"wrote {pdf}: {len(titles)} slides")
for i, title in enumerate(titles, 1):
    print(f"{i:>3}. {title}")
if placeholders_left(config):
    print("still to fill in report_config.json:", ", ".join(placeholders_left(config)))'''),
])

NB07 = notebook("07 · Compare models (optional task 1)", """
Every model of the zoo (`python -m hw2sep.models`) at its default config, trained from scratch with
one budget and scored on the test set with its own reconstruction (mixture phase for magnitude models,
the model's complex or waveform output for the others) and with Griffin-Lim:
`configs/experiments/compare_models.json`. The table records what the assignment asks for: the
parameters, whether the model is pretrained (no: every model is trained here) and where the code comes
from (written in this package, after the cited public code). Runs resume: a finished run is kept, an
interrupted one continues from its `last.pt`. 9 runs x 50 epochs are many GPU hours; `SCORING` can
cut the evaluation (`{"metric": "fast", "tracks": 10}`). SMOKE trains every model tiny for one epoch.""", [
    code('''\
from hw2sep.experiments.runner import run_experiment
from hw2sep.notebook.workspace import show_experiment
ws.require(ws.npy / "manifest.json", "notebooks/01_prepare_data.ipynb")
result = run_experiment(REPO / EXPERIMENT, ws.npy, ws.musdb, ws.experiments, smoke=ws.smoke, device=ws.device,
                        evaluate_overrides=SCORING, progress=not SMOKE)
show_experiment(result, ws, listen=LISTEN)     # table, figures, listening players'''),
    md("The report (notebook 06) shows this table, with its parameter, pretrained and code-origin columns, "
       "on a slide of its own, and the figures on the next."),
], extra_parameters='''\
EXPERIMENT = "configs/experiments/compare_models.json"
SCORING = {}                                         # override the file's evaluation, e.g. {"metric": "fast", "tracks": 10}
LISTEN = True                                        # listening samples of one test track per run''')

NB08 = notebook("08 · Ablations (optional tasks 2 and 4)", """
One setting changed at a time, every run trained from scratch with the same budget and scored as in 07:
data augmentation (each of the four off in turn, and none), model structure (fewer, no or a
unidirectional LSTM; no mask), training excerpt length (7-60 s, Open-Unmix and its transformer
variant) and the loss (band-split RNN: t, tf, t+tf; Open-Unmix: magnitude MSE vs X-UMX's multi-domain
loss). The experiment files are in `configs/experiments/`; `EXPERIMENTS` picks which to run. Runs
resume as in 07.""", [
    code('''\
from hw2sep.experiments.runner import run_experiment
from hw2sep.notebook.workspace import show_experiment
ws.require(ws.npy / "manifest.json", "notebooks/01_prepare_data.ipynb")
for name in EXPERIMENTS:
    result = run_experiment(REPO / "configs" / "experiments" / f"{name}.json", ws.npy, ws.musdb, ws.experiments,
                            smoke=ws.smoke, device=ws.device, evaluate_overrides=SCORING, progress=not SMOKE)
    show_experiment(result, ws, listen=LISTEN)     # table, figures, listening players'''),
    md("The report (notebook 06) shows each table and its figures on slides of their own; an experiment "
       "not run here is listed on its \"Missing results\" slide."),
], extra_parameters='''\
EXPERIMENTS = ["augmentation", "structure", "input_length", "bsrnn_loss", "umx_loss"]
SCORING = {}                                         # override the file's evaluation, e.g. {"metric": "fast", "tracks": 10}
LISTEN = True                                        # listening samples of one test track per run''')

NOTEBOOKS = {"01_prepare_data.ipynb": NB01, "02_train.ipynb": NB02, "03_evaluate_epochs.ipynb": NB03,
             "04_griffin_lim.ipynb": NB04, "05_listening.ipynb": NB05, "06_report.ipynb": NB06,
             "07_compare_models.ipynb": NB07, "08_ablations.ipynb": NB08}


def main() -> None:
    for name, nb in NOTEBOOKS.items():
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print(f"wrote notebooks/{name}")


if __name__ == "__main__":
    main()
