"""The model zoo side by side: parameters, training step time, separation speed and memory per model.

    python bench/bench_models.py [--device auto|cpu|cuda] [--models umx,unet] [--steps 3] [--seconds 30]
                                 [--batch 4] [--seq-dur 6] [--tiny] [--tables speed,memory]
                                 [--memory-batch 1] [--memory-seq-dur 1.5] [--configs bsrnn,dttnet]

One row per registered model (``hw2sep.models.MODELS``), at its default config (``--tiny``: the
registry's tiny options, for tests), random weights (speed does not depend on training):

* ``params``: trainable parameters;
* ``s/step``: one training step on ``--batch`` x ``--seq-dur`` s excerpts of random stereo audio with the
  model's default loss (``hw2sep.training.train.batch_loss``, every target it estimates) and an Adam step;
  one warm-up step, then the median of ``--steps`` steps;
* ``RTF``: ``Separator.separate`` of a random ``--seconds`` s stereo mixture with the model's main
  method (mixture phase for magnitude models, the model's own output otherwise), after a 1 s warm-up;
  seconds of compute per second of audio (below 1 is faster than real time);
* ``peak MB``: peak memory added by that separation (warm-up included): the rise of the process's peak
  RSS (VmHWM, reset through /proc/self/clear_refs; ru_maxrss where it cannot be reset) above the RSS
  once model and mixture exist, on CPU; ``torch.cuda.max_memory_allocated`` above the allocated
  memory at the start, on CUDA;
* ``x umx``: step time and RTF divided by Open-Unmix's (the reference), when umx is measured too.

The memory table (``--tables memory``): training memory of one model per row, plain and, where the
model's config has ``checkpoint_blocks``, with activation checkpointing: two steps (the second timed)
on ``--memory-batch`` x ``--memory-seq-dur`` s excerpts, or with ``--configs`` at each named
``configs/<name>.json``'s model options, batch and excerpt length:

* ``peak GB``: the process's peak RSS (VmHWM: Python, torch, model, Adam state, activations) on CPU,
  ``torch.cuda.max_memory_allocated`` on CUDA; float32, no AMP;
* ``GB/exc-s``: the rise of that peak above the memory once the model exists, per excerpt-second
  (batch x excerpt seconds): what each second of a batch costs (Adam's state, a fixed ~8 bytes per
  parameter, included);
* ``x time``: checkpointed step time over the plain one (the cost of recomputing in backward).

Every row is measured in a fresh Python process, so one model's allocations do not raise the next
one's peak. Under each row, the model's published size and SDR with their sources (``PUBLISHED``,
at the bottom: the only place this script names models). Timings on a shared CPU are noisy: the
load average is printed with the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from hw2sep import SAMPLE_RATE, TARGETS  # noqa: E402
from hw2sep.common.devices import resolve_device  # noqa: E402
from hw2sep.training.losses import get_loss  # noqa: E402
from hw2sep.models import MODELS, build_model, count_parameters, model_config  # noqa: E402
from hw2sep.dsp.methods import main_method  # noqa: E402
from hw2sep.separation.separator import Separator  # noqa: E402
from hw2sep.training.train import batch_loss  # noqa: E402

REFERENCE = "umx"  # the ratio columns divide by this registry entry's figures
ROW_FIELDS = ("model", "device", "params", "step_s", "rtf", "peak_mb", "method", "loss")
MEMORY_FIELDS = ("model", "config", "device", "checkpointed", "batch", "seq_dur", "step_s", "peak_gb", "per_s")
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def build(name: str, tiny: bool = False) -> torch.nn.Module:
    """Model ``name`` at its default config (or the registry's tiny options), seeded."""
    torch.manual_seed(0)
    return build_model(name, model_config(name, **(MODELS[name].tiny if tiny else {})))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step_seconds(model, device: torch.device, batch: int, seq_dur: float, steps: int,
                       amp: bool = False, loss: str = "") -> float:
    """Median seconds of one training step (``loss``, default: the model's; backward, Adam) after one warm-up step.

    ``amp``: the forward pass under the package's autocast on CUDA (as training runs there).
    Shape: the batch of sources is (batch, nb_targets=2, nb_channels=2, seq_dur * SAMPLE_RATE).
    """
    model = model.to(device).train()
    loss_fn = get_loss(loss or model.default_loss)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    sources = 0.1 * torch.randn(batch, len(TARGETS), 2, int(seq_dur * SAMPLE_RATE), device=device)

    def step() -> float:
        _sync(device)
        start = time.perf_counter()
        loss = batch_loss(model, sources, loss_fn, amp=amp)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _sync(device)
        return time.perf_counter() - start

    step()  # warm-up: allocator, thread pools, cuDNN autotuning
    return statistics.median(step() for _ in range(max(1, steps)))


def _status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (VmHWM: peak, VmRSS: current) in MB; None where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (VmHWM), in MB."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    return kb / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where the peak cannot be reset."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def memory_mark(device: torch.device) -> float:
    """Reset the peak-memory reading and return the baseline (MB) that ``memory_rise_mb`` subtracts."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / 2**20
    return _status_mb("VmRSS") if _reset_peak_rss() else _peak_rss_mb()


def memory_rise_mb(device: torch.device, mark: float) -> float:
    """Peak memory since ``memory_mark`` above its baseline, in MB: max_memory_allocated on CUDA, peak RSS on CPU."""
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else _peak_rss_mb()
    return max(0.0, peak - mark)


def separation_stats(model, device: torch.device, seconds: float, method: str | None = None,
                     mixture=None, amp: bool = False) -> dict:
    """Real-time factor and peak memory rise of separating a stereo mixture with ``method`` (default: the
    model's main one): ``mixture`` (C, N) as given, else a random one of ``seconds`` s."""
    separator = Separator(model, device, amp=amp)
    method = method or main_method(model.predicts)
    if mixture is None:
        generator = torch.Generator().manual_seed(0)
        mixture = (0.1 * torch.randn(2, int(seconds * SAMPLE_RATE), generator=generator)).numpy()  # (C, N)
    seconds = mixture.shape[-1] / SAMPLE_RATE
    # Memory baseline before the warm-up: first-call allocations belong to a real separation too.
    mark = memory_mark(device)
    separator.separate(mixture[:, :SAMPLE_RATE], [method])  # timing warm-up on 1 s
    _sync(device)
    start = time.perf_counter()
    separator.separate(mixture, [method])
    _sync(device)
    took = time.perf_counter() - start
    return {"rtf": took / seconds, "peak_mb": memory_rise_mb(device, mark), "method": method}


def measure(name: str, device: torch.device, steps: int = 3, seconds: float = 30.0, batch: int = 4,
            seq_dur: float = 6.0, tiny: bool = False) -> dict:
    """One table row for model ``name`` on ``device`` (keys: ``ROW_FIELDS``), in this process."""
    model = build(name, tiny)
    row = {"model": name, "device": str(device), "params": count_parameters(model), "loss": model.default_loss}
    # Separation first: memory freed by a training step stays in the process (allocator caches), and a
    # separation run after it would reuse it and show no rise.
    row.update(separation_stats(model, device, seconds))
    row["step_s"] = train_step_seconds(model, device, batch, seq_dur, steps)
    return row


def measure_in_subprocess(name: str, device: str, args: argparse.Namespace) -> dict:
    """``measure`` in a fresh Python process (so peak memory is this model's alone)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--device", device,
               "--steps", str(args.steps), "--seconds", str(args.seconds), "--batch", str(args.batch),
               "--seq-dur", str(args.seq_dur)] + (["--tiny"] if args.tiny else [])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"model": name, "device": device, "error": f"exit status {done.returncode}: {tail[0]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def can_checkpoint(name: str) -> bool:
    """Whether model ``name``'s config has the ``checkpoint_blocks`` option."""
    return "checkpoint_blocks" in {f.name for f in dataclasses.fields(MODELS[name].config_cls)}


def training_memory(name: str, device: torch.device, batch: int, seq_dur: float, checkpointed: bool,
                    options: dict | None = None, tiny: bool = False) -> dict:
    """Peak memory and step time of training model ``name`` (keys: ``MEMORY_FIELDS``), in this process."""
    options = {**(MODELS[name].tiny if tiny else {}), **(options or {})}
    if can_checkpoint(name):
        options["checkpoint_blocks"] = checkpointed
    elif checkpointed:
        raise ValueError(f"model {name} has no checkpoint_blocks option")
    torch.manual_seed(0)
    model = build_model(name, model_config(name, **options)).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device) / 2**20
    else:
        base = _status_mb("VmRSS") if _reset_peak_rss() else _peak_rss_mb()
    step_s = train_step_seconds(model, device, batch, seq_dur, steps=1)  # a first step, then a timed one
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else _peak_rss_mb()
    return {"model": name, "config": "", "device": str(device), "checkpointed": checkpointed, "batch": batch,
            "seq_dur": seq_dur, "step_s": step_s, "peak_gb": peak / 1024,
            "per_s": max(0.0, peak - base) / 1024 / (batch * seq_dur)}


def memory_cases(names: list[str], configs: list[str], batch: int, seq_dur: float) -> list[dict]:
    """What the memory table measures: each model (or config) plain, and checkpointed where it can be."""
    runs = [{"model": n, "config": "", "options": {}, "batch": batch, "seq_dur": seq_dur} for n in names]
    for config in configs:
        data = json.loads((CONFIGS / f"{config}.json").read_text())
        runs.append({"model": data["model"], "config": config, "options": data.get("model_options", {}),
                     "batch": data["batch_size"], "seq_dur": data["seq_dur"]})
    return [{**run, "checkpointed": flag} for run in runs
            for flag in ((False, True) if can_checkpoint(run["model"]) else (False,))]


def memory_in_subprocess(case: dict, device: str, tiny: bool = False) -> dict:
    """``training_memory`` for one case of ``memory_cases`` in a fresh Python process."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child-memory", json.dumps(case), "--device", device]
    command += ["--tiny"] if tiny else []
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return {**case, "device": device, "error": f"exit status {done.returncode}: {tail[0]}"}
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "config": case["config"]}


def format_memory_table(rows: list[dict]) -> str:
    """One line per (model or config, device): plain and checkpointed side by side, and the time ratio."""
    lines = [f"{'model':<16} {'config':<16} {'device':<6} {'batch x s':>10}{'s/step':>8}{'ckpt':>8}{'x time':>8}"
             f"{'peak GB':>9}{'ckpt':>8}{'GB/exc-s':>10}{'ckpt':>8}"]
    groups: dict[tuple, dict] = {}
    for r in rows:
        groups.setdefault((r["model"], r.get("config", ""), r["device"]), {})[bool(r["checkpointed"])] = r
    for (model, config, device), pair in groups.items():
        plain, ckpt = pair.get(False), pair.get(True)
        some = plain or ckpt
        head = f"{model:<16} {config or '(default)':<16} {device:<6} {some['batch']:>4} x {some['seq_dur']:<4g}"
        failed = [f"{'ckpt' if k else 'plain'} failed: {r['error']}" for k, r in pair.items() if "error" in r]
        if failed:
            lines.append(f"{head}  {'; '.join(failed)}")
            continue

        def cell(r, key, fmt):
            return format(r[key], fmt) if r else f"{'-':>{fmt.split('.')[0]}}"
        ratio = f"{ckpt['step_s'] / plain['step_s']:>8.2f}" if plain and ckpt else f"{'-':>8}"
        lines.append(f"{head}{cell(plain, 'step_s', '8.2f')}{cell(ckpt, 'step_s', '8.2f')}{ratio}"
                     f"{cell(plain, 'peak_gb', '9.2f')}{cell(ckpt, 'peak_gb', '8.2f')}"
                     f"{cell(plain, 'per_s', '10.3f')}{cell(ckpt, 'per_s', '8.3f')}")
    return "\n".join(lines)


def devices_for(name: str) -> list[str]:
    """``auto``: CPU, plus CUDA when present; otherwise the one device asked for."""
    if name == "auto":
        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    return [str(resolve_device(name))]


def format_table(rows: list[dict], notes: bool = True) -> str:
    """The printed table: one line per row, ratios against ``REFERENCE`` on the same device, notes under it."""
    reference = {r["device"]: r for r in rows if r["model"] == REFERENCE and "error" not in r}
    width = max([len(r["model"]) for r in rows] + [5])
    lines = [f"{'model':<{width}} {'device':<6}{'params':>12}{'s/step':>9}{'RTF':>8}{'peak MB':>9}"
             f"{'step x umx':>11}{'RTF x umx':>10}  loss / method"]
    for r in rows:
        head = f"{r['model']:<{width}} {r['device']:<6}"
        if "error" in r:
            lines.append(f"{head}  failed: {r['error']}")
            continue
        ref = reference.get(r["device"])
        ratios = (f"{r['step_s'] / ref['step_s']:>11.2f}{r['rtf'] / ref['rtf']:>10.2f}" if ref
                  else f"{'-':>11}{'-':>10}")
        lines.append(f"{head}{r['params']:>12,}{r['step_s']:>9.2f}{r['rtf']:>8.3f}{r['peak_mb']:>9.0f}{ratios}"
                     f"  {r['loss']} / {r['method']}")
        if notes:
            lines += [f"{'':<{width}}   published: {note}" for note in PUBLISHED.get(r["model"], ["(no figures)"])]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto (CPU, and CUDA when present), cpu, cuda[:N]")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of the registry")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps (after one warm-up)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the separated mixture")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-dur", type=float, default=6.0, help="seconds per training excerpt")
    parser.add_argument("--tiny", action="store_true", help="the registry's tiny configs (seconds, for tests)")
    parser.add_argument("--tables", default="speed,memory", help="speed and/or memory (comma-separated)")
    parser.add_argument("--memory-batch", type=int, default=1, help="memory table: excerpts per batch")
    parser.add_argument("--memory-seq-dur", type=float, default=1.5, help="memory table: seconds per excerpt")
    parser.add_argument("--configs", default="", help="memory table: also these configs/<name>.json, at their "
                        "batch and excerpt length (e.g. bsrnn,dttnet)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # measure one model here, print its row as json
    parser.add_argument("--child-memory", help=argparse.SUPPRESS)  # one memory case (json) here
    args = parser.parse_args(argv)
    if args.child:
        row = measure(args.child, resolve_device(args.device), args.steps, args.seconds, args.batch,
                      args.seq_dur, args.tiny)
        print(json.dumps(row))
        return
    if args.child_memory:
        case = json.loads(args.child_memory)
        print(json.dumps(training_memory(case["model"], resolve_device(args.device), case["batch"], case["seq_dur"],
                                         case["checkpointed"], case["options"], args.tiny)))
        return
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; registered: {', '.join(MODELS)}")
    tables = {t.strip() for t in args.tables.split(",") if t.strip()}
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    start = time.perf_counter()
    load = f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    if "speed" in tables:
        rows = []
        for device in devices_for(args.device):
            for name in names:
                rows.append(measure_in_subprocess(name, device, args))
                print(f"{format_table(rows[-1:], notes=False).splitlines()[-1]}   "
                      f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
        print(f"\nbatch {args.batch} x {args.seq_dur:g} s, median of {args.steps} steps; separation of "
              f"{args.seconds:g} s; {'tiny' if args.tiny else 'default'} configs; torch {torch.__version__}, "
              f"{torch.get_num_threads()} CPU threads; {load}")
        print(format_table(rows))
    if "memory" in tables:
        rows = []
        for device in devices_for(args.device):
            for case in memory_cases(names if not configs else [], configs, args.memory_batch, args.memory_seq_dur):
                rows.append(memory_in_subprocess(case, device, args.tiny))
                print(f"{case['config'] or case['model']} {'checkpointed' if case['checkpointed'] else 'plain'}: "
                      f"{rows[-1].get('peak_gb', rows[-1].get('error'))} ({time.perf_counter() - start:.0f} s)",
                      file=sys.stderr, flush=True)
        print(f"\ntraining memory, float32, one step after a first one; {'tiny' if args.tiny else 'default'} "
              f"configs; torch {torch.__version__}, {torch.get_num_threads()} CPU threads; {load}")
        print(format_memory_table(rows))
    print(f"({time.perf_counter() - start:.0f} s in all)")


# Published figures: size, SDR and where each comes from. "Seed NNN" = /work/shared/seeds/NNN_*.txt.
# Only vocals SDR; the measures differ (museval median of medians, chunk SDR pooled, global SDR):
# these numbers are context, not comparable with each other or with this package's results.
PUBLISHED = {
    "umx": [
        "8.9 M at hidden 512 (this code: 8,893,348, identical to openunmix.model.OpenUnmix)",
        "vocals 6.32 dB SDR, museval median of medians, MUSDB18 test (sigsep/open-unmix-pytorch README, "
        "'umx' model; not verified here: the stored copy of that README predates its results)",
        "the issue's ~5.6 dB is for this package's vocals-only setup, not a published figure",
    ],
    "umx_transformer": [
        "seed 000 code (legoodmanner/sequence_length_ss): ~22 M (qkv2D) / 14.5 M (qkvg1D) per the "
        "engineers' count of that code; not stated in seed 000, not verified",
        "no SDR figure: seed 000's README has no results table (it names the mir_eval/museval metrics only)",
    ],
    "unet": [
        "~9.8 M, mono (Jansson et al., ISMIR 2017; this code 9,824,514 stereo)",
        "SDR reported on iKala and MedleyDB, not MUSDB18: no MUSDB18 figure to compare (not verified here)",
    ],
    "unet_transformer": [
        "seed 000 'auto_transformer': no size or SDR published in seed 000's README",
    ],
    "deepconvsep": [
        "Chandna et al., LVA/ICA 2017, evaluated on DSD100; seed 001 (joangro/PytorchConvSep) states no "
        "parameter count and no SDR; no figure quoted here (the paper's not verified)",
    ],
    "tfc_tdf_unet": [
        "~1 M at the repository default (this code 988,148)",
        "vocals 6.95 dB / accompaniment 13.56 dB SDR, museval aggregate, MUSDB18 test (ws-choi/ISMIR2020_U_Nets_SVS "
        "README: test_result/agg/vocals_SDR 6.954695, accompaniment_SDR 13.561705)",
    ],
    "lasaft": [
        "~8.4 M, 2020 Table-1 configuration (this code 8,423,196 with two targets)",
        "vocals 7.275 dB: LaSAFT-Net-v1.2 on the MDX 2021 leaderboard (the repository README's table), "
        "not MUSDB18 museval (not verified here: neither seed 002, an older README with 'TBA' results, nor the "
        "stored copy of the README has that table); paper Table 2 not verified",
    ],
    "bsrnn": [
        "paper (Luo & Yu 2022, arXiv:2209.15174): vocals 10.01 dB cSDR, MUSDB18-HQ test, hidden 128 x 12 "
        "repeats (~36 M in this code)",
        "seed 003 (magronp/bsrnn): 6.96 dB global SDR, validation, t+tf, hidden 64, 10 repeats (this "
        "default); its test table: vocals 6.883 dB global SDR",
    ],
    "dttnet": [
        "~5.0 M (this code 4,958,468); arXiv 2309.08684: vocals 10.12 dB cSDR, MUSDB18-HQ test "
        "(chunk SNR pooled over all chunks, not museval's median of medians)",
    ],
}


if __name__ == "__main__":
    main()
