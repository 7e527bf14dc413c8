"""What the course notebooks share: one folder layout, the SMOKE settings, input checks, a listening panel.

The notebooks hold parameters, calls and prose; the decisions they have in common live here, so
that 01..06 agree on where each step writes and a later notebook can say which earlier one to
run when its input is missing. SMOKE (``HW2SEP_SMOKE=1``, used by CI) swaps MUSDB18 for a tiny
toy dataset, the model for a tiny one and the epochs for (1, 2, 3), and writes under scratch/smoke.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from hw2sep.errors import Hw2sepError
from hw2sep.names import CHECKPOINT_EPOCHS, SAMPLE_RATE, epoch_label

REPO = Path(__file__).resolve().parents[2]
SMOKE_EPOCHS = (1, 2, 3)
SMOKE_TOY = {"n_train": 4, "n_test": 2, "seconds": 6.0}
SMOKE_TRAIN = {"batch_size": 4, "seq_dur": 2.0, "samples_per_track": 4, "nb_workers": 0}  # + the model's tiny options
SMOKE_VOCODER = {"dim": 16, "intermediate_dim": 32, "nb_layers": 1, "n_mels": 32}  # a vocoder that trains in seconds
SMOKE_VOCODER_TRAIN = {"batch_size": 1, "seq_dur": 0.25, "samples_per_track": 1, "valid_subset": ""}


@dataclass
class Workspace:
    """Where each notebook reads and writes, for one WORK folder (relative paths: from the repository root).

    Layout: WORK/.cache/musdb_npy (npy cache), WORK/runs/<config name> (checkpoints, log.csv), WORK/results
    (evaluation), WORK/samples (listening samples), WORK/report (report.pdf, figures/), WORK/experiments
    (notebooks 07-08: one folder per experiment, ``NAME_smoke`` in SMOKE), WORK/runs/vocoder_mel and
    vocoder_linear (notebook 04); with SMOKE also WORK/toy_musdb (the generated dataset). DRIVE (Colab)
    mirrors WORK/runs.
    """

    work: Path
    musdb: Path
    smoke: bool = False
    device: str = "auto"
    epochs: tuple[int, ...] = CHECKPOINT_EPOCHS
    train_options: dict = field(default_factory=dict)
    metric: str = "museval"
    config: str = "configs/umx.json"
    drive: Path | None = None

    @classmethod
    def create(cls, musdb_root: str | os.PathLike, work: str | os.PathLike, device: str = "auto",
               epochs: Sequence[int] = CHECKPOINT_EPOCHS, smoke: bool = False, metric: str | None = None,
               config: str = "configs/umx.json", drive: str | os.PathLike | None = None) -> "Workspace":
        """The workspace of the notebook parameters; SMOKE overrides data, epochs, device and model size."""
        work = Path(work).expanduser()
        work = work if work.is_absolute() else REPO / work
        drive = Path(drive).expanduser() if drive else None
        if smoke:
            return cls(work, work / "toy_musdb", True, "cpu", SMOKE_EPOCHS, dict(SMOKE_TRAIN), metric or "fast",
                       config, None)
        return cls(work, Path(musdb_root).expanduser(), False, device, tuple(int(e) for e in epochs), {},
                   metric or "museval", config, drive)

    def resolved_device(self) -> str:
        """The device DEVICE resolves to here ('auto' picks CUDA, then MPS, then CPU)."""
        from hw2sep.common.devices import resolve_device

        return str(resolve_device(self.device))

    def describe(self) -> str:
        """What the parameters resolved to, plus a loud warning when a real run would train on a CPU."""
        device = self.resolved_device()
        lines = [f"SMOKE={self.smoke}  data={self.musdb}  work={self.work}",
                 f"device={self.device} -> {device}  epochs={self.epochs}  metric={self.metric}  config={self.config}"
                 + (f"  drive mirror={self.drive}" if self.drive else "")]
        if device == "cpu" and not self.smoke:
            lines.append("WARNING: no GPU here, the model would train on the CPU: 150 epochs take DAYS. "
                         "On Colab: Runtime > Change runtime type > GPU, then rerun from the top.")
        return "\n".join(lines)

    npy = property(lambda self: self.work / ".cache" / "musdb_npy")
    run = property(lambda self: self.work / "runs" / self.training_config().name)
    results = property(lambda self: self.work / "results")
    samples = property(lambda self: self.work / "samples")
    report_pdf = property(lambda self: self.work / "report" / "report.pdf")
    figures = property(lambda self: self.work / "report" / "figures")
    experiments = property(lambda self: self.work / "experiments")
    drive_run = property(lambda self: self.drive / "runs" / self.run.name if self.drive else None)

    def training_config(self):
        """CONFIG (a file under configs/) resolved for this workspace: npy cache, run folder, epochs and device;
        in SMOKE the model's tiny options and a tiny budget. Returns a ``hw2sep.training.train.TrainConfig``."""
        from hw2sep.models import MODELS
        from hw2sep.training.train import load_config

        path = Path(self.config) if Path(self.config).is_absolute() else REPO / self.config
        fields = dict(self.train_options)
        if self.smoke:
            fields["model_options"] = dict(MODELS[load_config(path).model].tiny)
        config = load_config(path, npy_root=str(self.npy), epochs=max(self.epochs), checkpoint_epochs=self.epochs,
                             device=self.device, **fields)
        config.out = str(self.work / "runs" / config.name)
        return config

    def vocoder_config(self, features: str, stft_from: str | os.PathLike, steps: int):
        """A vocoder run (``features`` "mel" or "linear") into WORK/runs/vocoder_<features>, with the STFT of the
        separator checkpoint ``stft_from``; in SMOKE a tiny vocoder on tiny batches. Returns a VocoderTrainConfig."""
        from hw2sep.training.vocoder import VocoderTrainConfig

        options = {**(SMOKE_VOCODER if self.smoke else {}), "features": features}
        extra = {**SMOKE_VOCODER_TRAIN, "checkpoint_every": max(1, steps)} if self.smoke else {}
        return VocoderTrainConfig(npy_root=str(self.npy), out=str(self.work / "runs" / f"vocoder_{features}"),
                                  vocoder=options, stft_from=str(stft_from), steps=steps, device=self.device, **extra)

    def ensure_dataset(self) -> Path:
        """SMOKE: generate the toy MUSDB (once). Otherwise check that MUSDB_ROOT holds MUSDB18(-HQ)."""
        from hw2sep.data.musdb import detect_layout
        from hw2sep.data.toy import make_toy_musdb

        if self.smoke:
            make_toy_musdb(self.musdb, **SMOKE_TOY)
        detect_layout(self.musdb)
        return self.musdb

    def require(self, path: str | os.PathLike, made_by: str) -> Path:
        """`path` if it exists, else a clear error naming the notebook that makes it."""
        path = Path(path)
        if not path.exists():
            raise Hw2sepError(f"{path} is missing: run {made_by} first (with the same WORK={self.work})")
        return path

    def checkpoint(self, label: str) -> Path:
        """RUN/<label>.pt (e.g. 'epoch_025', 'best'), checked to exist with its json."""
        self.require(self.run / f"{label}.json", "notebooks/02_train.ipynb")
        return self.require(self.run / f"{label}.pt", "notebooks/02_train.ipynb")

    def select_checkpoint(self, select: str = "validation") -> tuple[Path, str]:
        """Choose the checkpoint Task 2, the samples and the report use, record it in RESULTS/selection.json and say
        how it was chosen: the lowest validation loss (best.pt) unless ``select="test"``."""
        from hw2sep.common.files import write_json
        from hw2sep.report.results import SELECTION, choose_checkpoint, read_comparison

        rows = read_comparison(self.results) if (self.results / "comparison.csv").exists() else []
        label, how = choose_checkpoint(rows, select)
        write_json(self.results / SELECTION, {"checkpoint": label, "select": select, "how": how})
        print(f"selected checkpoint: {label} ({how})")
        return self.checkpoint(label), label

    def selected_checkpoint(self) -> tuple[Path, str]:
        """The checkpoint recorded by ``select_checkpoint`` (best.pt when none was recorded)."""
        from hw2sep.report.results import read_selection

        label = read_selection(self.results)["checkpoint"]
        return self.checkpoint(label), label

    def epoch_checkpoints(self) -> list[Path]:
        """The kept checkpoints of the chosen epochs, RUN/epoch_NNN.pt."""
        return [self.checkpoint(epoch_label(e)) for e in self.epochs]


# Seconds of CPU time per second of stereo audio (two sources, 1 s windows), measured with
# python bench/bench_sdr.py --seconds 30 (one process, load ~5 on 2 cores: wall time was 5x longer).
METRIC_COST_S_PER_S = {"museval": 0.27, "fast": 0.021, "mir_eval": 1.17}


def evaluation_estimate(musdb_root: str | os.PathLike, metric: str, n_tracks: int | None = None, runs: int = 1) -> str:
    """How long scoring `runs` checkpoint x method passes over the test tracks takes, from the measured costs."""
    from hw2sep.data.musdb import list_tracks

    seconds = sum(t.num_samples() for t in list_tracks(musdb_root, "test")[:n_tracks]) / SAMPLE_RATE
    cost = METRIC_COST_S_PER_S[metric] * seconds * runs
    return (f"scoring: {runs} pass(es) x {seconds / 60:.1f} min of test audio x {METRIC_COST_S_PER_S[metric]} s/s "
            f"({metric}, CPU, measured) ~ {cost / 60:.1f} min of CPU time, plus separation")


def dataset_durations(musdb_root: str | os.PathLike) -> dict[str, list[float]]:
    """Track durations in seconds per subset (train, valid, test), read from the file headers."""
    from hw2sep.data.musdb import SUBSETS, list_tracks

    return {s: [t.num_samples() / SAMPLE_RATE for t in list_tracks(musdb_root, s)] for s in SUBSETS}


def duration_table(durations: dict[str, list[float]]) -> str:
    """Counts and durations per subset as an aligned text table."""
    lines = [f"{'subset':<8}{'tracks':>7}{'total (min)':>13}{'mean (s)':>10}{'min (s)':>9}{'max (s)':>9}"]
    for subset, d in durations.items():
        if d:
            lines.append(f"{subset:<8}{len(d):>7}{sum(d) / 60:>13.1f}{sum(d) / len(d):>10.1f}{min(d):>9.1f}{max(d):>9.1f}")
        else:
            lines.append(f"{subset:<8}{0:>7}")
    return "\n".join(lines)


def _entries(samples_dir: str | os.PathLike) -> list[dict]:
    from hw2sep.evaluation.samples import read_index

    entries = read_index(samples_dir)
    if not entries:
        raise Hw2sepError(f"no listening samples in {samples_dir}: run the export cell of 05_listening first")
    return entries


PREVIEW_SECONDS = 10.0  # what a notebook player embeds: at most this much, as MP3 (~0.16 MB per 10 s, not 1.8 MB of wav)


def audio_player(samples_dir: str | os.PathLike, entry: dict):
    """An IPython Audio player for one sample index entry: an MP3 preview of its first ``PREVIEW_SECONDS`` (made
    once beside the wavs, in SAMPLES/previews/), so an executed notebook stays small; the wav is the sample."""
    import soundfile as sf
    from IPython.display import Audio

    from hw2sep.common.files import atomic_path

    wav = Path(samples_dir) / entry["file"]
    preview = Path(samples_dir) / "previews" / Path(entry["file"]).with_suffix(".mp3")
    if not preview.exists() or preview.stat().st_mtime < wav.stat().st_mtime:
        preview.parent.mkdir(parents=True, exist_ok=True)
        audio, rate = sf.read(str(wav), dtype="float32", frames=int(PREVIEW_SECONDS * SAMPLE_RATE), always_2d=True)
        with atomic_path(preview) as tmp:
            sf.write(str(tmp), audio, rate, format="MP3", subtype="MPEG_LAYER_III")
    return Audio(filename=str(preview))


def track_players(samples_dir: str | os.PathLike, track: str | None = None) -> list[tuple[str, object]]:
    """(caption, Audio player) for every sample of one track (default: the first), mixture first."""
    entries = _entries(samples_dir)
    track = track or entries[0]["track"]
    out = []
    for e in (e for e in entries if e["track"] == track):
        caption = " / ".join(str(e[k]) for k in ("kind", "target", "model", "method") if e[k])
        sdr = f" (track SDR {e['sdr_db']:.2f} dB)" if e["sdr_db"] is not None else ""
        out.append((caption + sdr, audio_player(samples_dir, e)))
    return out


NO_SAMPLE = "no sample for this choice"


def default_choice(entries: list[dict], results: str | os.PathLike | None = None) -> dict:
    """Where the panel opens: the selected checkpoint (RESULTS/selection.json: best.pt unless chosen on the test set)
    with the mixture phase.

    Without results (or when the best epoch has no samples) the model with samples of most methods.
    """
    from hw2sep.report.results import read_selection

    estimates = [e for e in entries if e["kind"] == "estimate"]
    models = sorted({e["model"] for e in estimates})
    best = None
    if results is not None:
        try:
            best = read_selection(results)["checkpoint"]
        except Hw2sepError:
            best = None
    model = best if best in models else max(models, key=lambda m: (len({e["method"] for e in estimates
                                                                        if e["model"] == m}), m), default=None)
    track = next((e["track"] for e in estimates if e["model"] == model), entries[0]["track"] if entries else None)
    methods = methods_for(entries, track, model)
    return {"track": track, "model": model, "method": "mixture" if "mixture" in methods else next(iter(methods), None),
            "target": "vocals"}


def methods_for(entries: list[dict], track: str | None, model: str | None) -> list[str]:
    """The methods with an estimate sample for this track and model, mixture phase first."""
    found = {e["method"] for e in entries if e["kind"] == "estimate" and e["track"] == track and e["model"] == model}
    return sorted(found, key=lambda m: (m != "mixture", m))


def listening_panel(samples_dir: str | os.PathLike, results: str | os.PathLike | None = None):
    """An ipywidgets panel: pick track, checkpoint, method and target; hear mixture, reference and estimate.

    Opens on the best epoch (from RESULTS/comparison.csv when given) with the mixture phase; the
    method menu lists only the methods sampled for the chosen track and checkpoint, and a choice
    without a sample says so. The players are HTML ``<audio>`` elements in an HTML widget (no
    Output widget: those make nbclient wait for its timeout after the last cell). The returned
    VBox carries ``.pickers`` (dict of Dropdowns) and ``.players`` (the HTML widget).
    """
    import html

    import ipywidgets as widgets

    entries = _entries(samples_dir)
    estimates = [e for e in entries if e["kind"] == "estimate"]
    start = default_choice(entries, results)
    options = {"track": sorted({e["track"] for e in entries}), "model": sorted({e["model"] for e in estimates}),
               "method": methods_for(entries, start["track"], start["model"]),
               "target": sorted({e["target"] for e in estimates}, key=lambda t: t != "vocals")}
    pickers = {k: widgets.Dropdown(options=v, value=start[k] if start[k] in v else None, description=k)
               for k, v in options.items()}
    players = widgets.HTML()

    def player(e: dict) -> str:
        sdr = f" (track SDR {e['sdr_db']:.2f} dB)" if e["sdr_db"] is not None else ""
        return (f"<p><b>{html.escape(e['kind'])}</b>: {html.escape(e['file'])}{sdr}<br>"
                f"{audio_player(samples_dir, e)._repr_html_()}</p>")

    def show(_=None) -> None:
        pick = {k: w.value for k, w in pickers.items()}
        methods = methods_for(entries, pick["track"], pick["model"])
        if list(pickers["method"].options) != methods:  # only what exists for this track and checkpoint
            keep = pick["method"] if pick["method"] in methods else ("mixture" if "mixture" in methods else None)
            pickers["method"].unobserve(show, names="value")
            pickers["method"].options = methods
            pickers["method"].value = keep if keep is not None else (methods[0] if methods else None)
            pickers["method"].observe(show, names="value")
            pick["method"] = pickers["method"].value
        chosen = [e for e in estimates if all(e[k] == pick[k] for k in pick)]
        if not chosen:
            what = ", ".join(f"{k} {v}" for k, v in pick.items() if v is not None)
            players.value = f"<p><i>{NO_SAMPLE}</i> ({html.escape(what)})</p>"
            return
        context = [e for e in entries if e["track"] == pick["track"] and (
            e["kind"] == "mixture" or (e["kind"] == "reference" and e["target"] == pick["target"]))]
        players.value = "".join(player(e) for e in context + chosen)

    for w in pickers.values():
        w.observe(show, names="value")
    show()
    panel = widgets.VBox([widgets.HBox([pickers["track"], pickers["model"]]),
                          widgets.HBox([pickers["method"], pickers["target"]]), players])
    panel.pickers, panel.players = pickers, players
    return panel


def write_run_samples(folder: str | os.PathLike, musdb_root: str | os.PathLike, device: str = "auto",
                      n_sample_tracks: int = 1) -> list[Path]:
    """Listening samples of every finished run of an experiment, into RUN/samples (one index per run).

    Calls ``evaluate`` with the experiment's own evaluation settings (experiment.json), so the scored
    tracks are reused and only the sample tracks are separated again. Returns the samples folders.
    """
    import json

    from hw2sep.evaluation.evaluate import evaluate
    from hw2sep.separation.separator import methods_for

    folder = Path(folder)
    info = json.loads((folder / "experiment.json").read_text())
    settings, written = info["evaluate"], []
    for name in info["runs"]:
        run = folder / "runs" / name
        if not (run / "best.pt").exists():
            continue
        evaluate([run / "best.pt"], musdb_root, run / "results", methods=methods_for(run / "best", settings["methods"]),
                 n_tracks=settings["tracks"], metric=settings["metric"], device=device, progress=False,
                 gl_iterations=settings["gl_iterations"], samples_dir=run / "samples", n_sample_tracks=n_sample_tracks)
        written.append(run / "samples")
    return written


def run_players(folder: str | os.PathLike, target: str = "vocals") -> list[tuple[str, object]]:
    """(caption, player): the first sample track's mixture and reference, then every run's `target` estimates.

    Empty when no run of the experiment has samples (``write_run_samples`` makes them).
    """
    import json

    from hw2sep.evaluation.samples import read_index

    folder, out = Path(folder), []
    try:
        runs = json.loads((folder / "experiment.json").read_text())["runs"]  # the experiment's order
    except (OSError, ValueError, KeyError):
        runs = sorted(p.name for p in (folder / "runs").glob("*"))
    for samples in (folder / "runs" / name / "samples" for name in runs):
        entries = read_index(samples)
        if not entries:
            continue
        track = entries[0]["track"]
        if not out:
            out += [(" ".join(filter(None, (e["kind"], e["target"]))) + f": {track}", audio_player(samples, e))
                    for e in entries if e["track"] == track
                    and (e["kind"] == "mixture" or (e["kind"] == "reference" and e["target"] == target))]
        for e in entries:
            if e["track"] == track and e["kind"] == "estimate" and e["target"] == target:
                sdr = f" (track SDR {e['sdr_db']:.2f} dB)" if e["sdr_db"] is not None else ""
                out.append((f"{samples.parent.name}: {target}, {e['method']}{sdr}", audio_player(samples, e)))
    return out


def show_experiment(result, ws: Workspace, listen: bool = True) -> None:
    """Display an experiment in a notebook (07, 08): its table as on the report's slide, its figures and,
    with ``listen``, listening players of one test track per run (written by ``write_run_samples``)."""
    from IPython.display import Image, Markdown, display

    from hw2sep.report.optional import experiment_markdown, read_experiment

    table = read_experiment(ws.experiments, result.folder.name.removesuffix("_smoke"))
    display(Markdown(f"**{result.folder.name}**: {table.description}\n\n{experiment_markdown(table)}"))
    for png in result.figures:
        display(Image(filename=str(png)))
    if listen:
        write_run_samples(result.folder, ws.musdb, ws.device, n_sample_tracks=1)
    players = run_players(result.folder)
    if not players:
        print("no listening samples for these runs (LISTEN=False): set LISTEN=True to write them")
    for caption, player in players:
        print(caption)
        display(player)
