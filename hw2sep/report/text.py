"""The report's words and tables, generated from result rows: nothing here is typed in by hand.

Every number comes from comparison.csv, per_track.csv, log.csv or a checkpoint json; where one is
missing the text says so ("missing", "no epoch-150 result ... yet") instead of guessing.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Sequence

from hw2sep.dsp.methods import method_label
from hw2sep.names import TARGETS
from hw2sep.report.results import epoch_checkpoints, find_row, methods_of, read_manifest

MISSING = "missing"
REPO = Path(__file__).resolve().parents[2]


def fmt(value: float | None, signed: bool = False) -> str:
    """A number with 2 decimals (sign forced with `signed`), or 'missing'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def budget_label(budget: dict) -> str:
    """An experiment budget ({"epochs": N} and/or {"minutes": M}) in words:
    '50 epochs', '90 minutes (at most 50 epochs)'."""
    epochs, minutes = budget.get("epochs"), budget.get("minutes")
    if minutes is not None:
        return f"{minutes:g} minutes" + (f" (at most {epochs} epochs)" if epochs is not None else "")
    return f"{epochs} epoch{'' if epochs == 1 else 's'}" if epochs is not None else "missing"


def checkpoint_label(rows: Sequence[dict], checkpoint: str) -> str:
    """'epoch_050' -> 'epoch 50'; 'best' -> 'best (epoch 37)'."""
    epoch = next((r["epoch"] for r in rows if r["checkpoint"] == checkpoint), None)
    if checkpoint.startswith("epoch_") and epoch is not None:
        return f"epoch {epoch}"
    return f"{checkpoint} (epoch {epoch})" if epoch is not None else checkpoint


def sdr_table(rows: Sequence[dict], epochs: Sequence[int], results: str | Path,
              method: str = "mixture") -> tuple[list[str], list[list[str]], list[str]]:
    """(header, cells, notes) of the median-of-medians SDR per epoch; a note per missing epoch."""
    have = epoch_checkpoints(rows, method)
    cells, notes = [], []
    for epoch in epochs:
        label = have.get(epoch)
        sdr = [(find_row(rows, label, method, t) or {}).get("SDR") if label else None for t in TARGETS]
        cells.append([f"epoch {epoch}", *(fmt(v) for v in sdr)])
        if label is None:
            notes.append(f"no epoch-{epoch} result in {Path(results) / 'comparison.csv'} yet")
    return ["checkpoint", *(f"{t}\nSDR (dB)" for t in TARGETS)], cells, notes


def track_count_label(rows: Sequence[dict]) -> str:
    """'50 test tracks' (or '2-50 test tracks' when results differ), from comparison.csv's tracks column."""
    counts = sorted({r["tracks"] for r in rows if r.get("tracks")})
    if not counts:
        return "test tracks: missing"
    return f"{counts[0]}{'' if len(counts) == 1 else f'-{counts[-1]}'} test tracks"


def phase_table(rows: Sequence[dict], checkpoint: str) -> tuple[list[str], list[list[str]]]:
    """(header, cells): SDR per method of one checkpoint, its difference to the mixture phase in brackets."""
    base = {t: (find_row(rows, checkpoint, "mixture", t) or {}).get("SDR") for t in TARGETS}
    cells = []
    for method in methods_of(rows, checkpoint):
        row = [method_label(method)]
        for t in TARGETS:
            sdr = (find_row(rows, checkpoint, method, t) or {}).get("SDR")
            delta = None if sdr is None or base[t] is None or method == "mixture" else sdr - base[t]
            row.append(fmt(sdr) + ("" if delta is None else f" ({fmt(delta, signed=True)})"))
        cells.append(row)
    return ["phase", *(f"{t}\nSDR (dB) (Δ)" for t in TARGETS)], cells


def bss_table(rows: Sequence[dict], checkpoint: str) -> tuple[list[str], list[list[str]]]:
    """(header, cells): SDR, SIR, ISR and SAR (median of medians) per method and target of one checkpoint."""
    cells = []
    for method in methods_of(rows, checkpoint):
        for t in TARGETS:
            row = find_row(rows, checkpoint, method, t) or {}
            cells.append([method_label(method), t, *(fmt(row.get(m)) for m in ("SDR", "SIR", "ISR", "SAR"))])
    return ["phase", "target", "SDR (dB)", "SIR (dB)", "ISR (dB)", "SAR (dB)"], cells


def per_track_table(per_track: Sequence[dict]) -> tuple[list[str], list[list[str]]]:
    """(header, cells): every track's SDR per target, sorted by vocals SDR (best first)."""
    sdr = {}
    for r in per_track:
        sdr.setdefault(r["track"], {})[r["target"]] = r["SDR"]
    order = sorted(sdr, key=lambda n: -(sdr[n].get(TARGETS[0]) if sdr[n].get(TARGETS[0]) is not None else -math.inf))
    return ["track", *(f"{t}\nSDR (dB)" for t in TARGETS)], [[n[:34], *(fmt(sdr[n].get(t)) for t in TARGETS)] for n in order]


def epoch_findings(rows: Sequence[dict], epochs: Sequence[int], method: str = "mixture") -> list[str]:
    """How SDR moves across the shown epochs, and which epoch is best."""
    have = epoch_checkpoints(rows, method)
    shown = [e for e in epochs if e in have]
    if not shown:
        return ["No epoch checkpoint has been evaluated yet: run notebooks/03_evaluate_epochs.ipynb."]
    out = []
    for target in TARGETS:
        values = [(e, (find_row(rows, have[e], method, target) or {}).get("SDR")) for e in shown]
        out.append(f"{target.capitalize()} SDR ({method_label(method)}): "
                   + " → ".join(f"{fmt(v)} dB (epoch {e})" for e, v in values) + ".")
    vocals = [(find_row(rows, have[e], method, "vocals") or {}).get("SDR") for e in shown]
    scored = [(v, e) for v, e in zip(vocals, shown) if v is not None]
    if scored:
        best_sdr, best = max(scored)
        out.append(f"Highest median vocals SDR of the kept epochs: epoch {best} ({fmt(best_sdr)} dB); a description "
                   "of the test results, not how the model was chosen.")
        last_sdr, last = scored[-1][0], scored[-1][1]
        if last != best:
            out.append(f"Training on to epoch {last} lost {fmt(best_sdr - last_sdr)} dB of vocals SDR "
                       f"against epoch {best}: more epochs did not help on the test set.")
        elif len(scored) > 1:
            out.append(f"Vocals SDR improved by {fmt(last_sdr - scored[0][0])} dB from epoch {scored[0][1]} "
                       f"to epoch {last}.")
    return out


def phase_findings(rows: Sequence[dict], checkpoint: str | None) -> list[str]:
    """What Griffin-Lim (and any other method evaluated) costs or gains against the mixture phase."""
    if checkpoint is None:
        return ["No Griffin-Lim result in comparison.csv yet: run notebooks/04_griffin_lim.ipynb."]
    out, label = [], checkpoint_label(rows, checkpoint)
    for method in methods_of(rows, checkpoint)[1:]:
        parts = []
        for target in TARGETS:
            new = (find_row(rows, checkpoint, method, target) or {}).get("SDR")
            old = (find_row(rows, checkpoint, "mixture", target) or {}).get("SDR")
            if new is None or old is None:
                continue
            verb = "loses" if new < old else "gains"
            parts.append(f"{verb} {fmt(abs(new - old))} dB on {target} ({fmt(new)} vs {fmt(old)} dB)")
        if parts:
            out.append(f"{method_label(method)} at {label} " + " and ".join(parts)
                       + " against the mixture phase.")
    gl = {m: find_row(rows, checkpoint, m, "vocals") for m in ("mixture", "griffinlim")}
    if all(gl.values()) and all(gl[m].get(k) is not None for m in gl for k in ("SIR", "SAR")):
        d_sir, d_sar = (gl["griffinlim"][k] - gl["mixture"][k] for k in ("SIR", "SAR"))
        cause = "artifacts (SAR)" if d_sar < d_sir else "interference (SIR)"
        out.append(f"With Griffin-Lim the vocals SAR changes by {fmt(d_sar, True)} dB and SIR by {fmt(d_sir, True)} dB:"
                   f" the loss is mostly {cause}, as expected from an estimated, inconsistent phase.")
    return out


def track_findings(per_track: Sequence[dict], label: str) -> list[str]:
    """The spread over test tracks at one checkpoint: best and worst track per target."""
    out = []
    for target in TARGETS:
        scored = [(r["SDR"], r["track"]) for r in per_track if r["target"] == target and r["SDR"] is not None]
        if len(scored) > 1:
            (lo, lo_name), (hi, hi_name) = min(scored), max(scored)
            out.append(f"{target.capitalize()} at {label}: from {fmt(lo)} dB ({lo_name}) to {fmt(hi)} dB "
                       f"({hi_name}) over {len(scored)} tracks.")
    return out


def loss_findings(log: Sequence[dict] | None) -> list[str]:
    """Best validation epoch and the final losses from log.csv."""
    if not log:
        return ["No training log (log.csv) found."]
    best, last = min(log, key=lambda r: r["valid_loss"]), log[-1]
    return [f"Validation loss was lowest at epoch {best['epoch']} ({best['valid_loss']:.4g}); after epoch "
            f"{last['epoch']}: training {last['train_loss']:.4g}, validation {last['valid_loss']:.4g}."]


def settings_rows(meta: dict) -> list[list[str]]:
    """Training and augmentation settings from a checkpoint json's "train" dict (and its model config)."""
    train, config = meta.get("train", {}), meta.get("config", {})
    aug = train.get("augment", {})
    on = lambda flag: "on" if flag else "off"  # noqa: E731
    gain = aug.get("gain")
    rows = [
        ["model", f"{meta.get('model', '?')}: hidden {config.get('hidden_size')}, {config.get('nb_layers')} LSTM "
                  f"layer(s), bandwidth {config.get('bandwidth')} Hz, mask {on(config.get('mask', True))}"],
        ["STFT", f"n_fft {config.get('n_fft')}, hop {config.get('hop')} (44.1 kHz)"],
        ["epochs", f"{train.get('epochs')} planned, {meta.get('epoch')} done; kept {train.get('checkpoint_epochs')}"],
        ["optimiser", f"Adam lr {train.get('lr')}, weight decay {train.get('weight_decay')}, plateau ×"
                      f"{train.get('lr_decay_gamma')} after {train.get('lr_decay_patience')} epochs"],
        ["batches", f"{train.get('batch_size')} × {train.get('seq_dur')} s excerpts, "
                    f"{train.get('samples_per_track')} per track per epoch"],
        ["augmentation", f"L/R swap {on(aug.get('swap_channels'))}; gain "
                         f"{'off' if not gain else f'[{gain[0]}, {gain[1]}]'}; random chunks "
                         f"{on(aug.get('random_chunks'))}; cross-song mixing {on(aug.get('random_track_mix'))}"],
        ["data", f"train on '{train.get('train_subset')}', validate on '{train.get('valid_subset')}'"],
    ]
    if meta.get("train_seconds") is not None:
        device = meta.get("device") or train.get("device")  # the resolved device when the json records it
        amp = f" (AMP {on(train.get('amp'))})" if "cuda" in str(device) else ""  # AMP runs on CUDA only
        rows.append(["time", f"{_duration(meta['train_seconds'])} of training on {device}{amp}"])
    return rows


def _duration(seconds: float) -> str:
    """'2.35 h', '12.4 min' or '48 s'."""
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def dataset_description(meta: dict | None) -> str:
    """What the model was trained on, from the npy manifest named in the checkpoint json."""
    npy_root = (meta or {}).get("train", {}).get("npy_root")
    manifest = read_manifest(npy_root) if npy_root else None
    if not manifest:
        return "training data: unknown (npy cache not found here)"
    counts = {}
    for track in manifest["tracks"]:
        counts[track["subset"]] = counts.get(track["subset"], 0) + 1
    toy = (Path(manifest["source_root"]) / "toy_musdb.json").exists()
    name = "TOY MUSDB (synthetic smoke-test data, not MUSDB18)" if toy else Path(manifest["source_root"]).name
    return f"training data: {name}; " + ", ".join(f"{n} {s}" for s, n in counts.items()) + " tracks"


def public(text: str) -> str:
    """`text` without this machine's absolute paths: repository paths become relative, others keep
    their last two parts ("…/results/comparison.csv"), so no slide shows the student's folders."""
    text = str(text).replace(str(REPO) + os.sep, "")
    return re.sub(r"(?<![\w.:/])(?:[A-Za-z]:)?[/\\](?:[^\s/\\:]+[/\\])+([^\s/\\:]+[/\\][^\s/\\:]+)", r"…/\1", text)
