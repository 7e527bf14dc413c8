"""One-call GPU check: every zoo model's training step, UMX's epoch, separation, Griffin-Lim and DDP, in one table.

    python bench/gpu_check.py [--device cuda] [--models umx,bsrnn] [--steps 3] [--out gpu_check.md]
    python bench/gpu_check.py --smoke --device cpu [--skip-epoch]     # the code path on a CPU, in minutes

For a session with a GPU (a lent machine, Colab), not for CI: the full check runs the shipped configs and
needs a CUDA device; it is meant to take under 8 minutes on one GPU. ``--smoke`` runs every row with the
registry's tiny model options, batches of 2 x 1 s excerpts, an 8 s mixture and gloo instead of nccl, so the
code path is tested on a CPU (tests/test_gpu_check.py); its numbers say nothing about a GPU. Every row runs
in this process; an error (out of memory, a CUDA error) is caught and printed in its row's status, and the
next row runs (a CUDA error that breaks the context fails the rows after it too, each saying so).

A line above the table gives the device, its memory, torch, CUDA and cuDNN versions and the AMP dtype.
Columns:

* ``check``: what ran. ``train <model>``: a training step of ``configs/<model>.json`` (model options,
  batch, excerpt length, loss) on random stereo audio through the package's step (``batch_loss``: the
  model runner and loss, every target the model estimates), backward and Adam, with AMP on CUDA (the
  package's autocast; no loss scaler, which changes no timing);
  ``epoch umx``: UMX's shipped config through the real training path (``SeparatorTrainer``: the npy
  loader, its workers, augmentation, the AMP step) on a generated toy npy cache; ``separate umx``:
  ``Separator`` on a toy mixture, UMX at its default size, mixture phase; ``griffinlim umx``: the same with
  the ``griffinlim`` method (model included); ``ddp <backend>``: one training step of UMX wrapped in
  DistributedDataParallel in a process group of one (nccl on CUDA, gloo on CPU);
* ``setting``: the size it ran at (batch x excerpt seconds, mixture seconds, options);
* ``seconds`` and ``per``: seconds per ``per``: a training step (median of ``--steps`` after one warm-up
  step), a loader batch (the second of two short epochs, worker start-up included), or the whole mixture;
* ``peak MB``: peak memory during the row above what was allocated before it:
  ``torch.cuda.max_memory_allocated`` on CUDA (model, Adam state, activations, loader batches), the rise
  of the process's peak RSS on CPU (which under-reads there: memory freed by earlier rows is reused);
* ``figure``: the row's result: trainable parameters; projected minutes per MUSDB18 epoch (86 training
  tracks x samples_per_track / batch_size batches of the loader row's time; validation not included);
  the real-time factor (seconds of compute per second of audio);
* ``status``: ``ok``, ``over 14 GB`` (a shipped config whose CUDA peak passes the 14 GB a 16 GB GPU
  leaves), or the error.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402

import bench_models as zoo  # noqa: E402  (bench/bench_models.py: the timed training step, separation stats)
from hw2sep import SAMPLE_RATE  # noqa: E402
from hw2sep.common.devices import resolve_device  # noqa: E402
from hw2sep.data.musdb import list_tracks  # noqa: E402
from hw2sep.data.npy_cache import convert_to_npy  # noqa: E402
from hw2sep.data.toy import make_toy_musdb  # noqa: E402
from hw2sep.errors import run_cli  # noqa: E402
from hw2sep.models import MODELS, build_model, count_parameters, model_config  # noqa: E402
from hw2sep.training import distributed  # noqa: E402
from hw2sep.training.train import SeparatorTrainer, TrainConfig, load_config  # noqa: E402

CONFIGS = BENCH.parent / "configs"
COLUMNS = ("check", "setting", "seconds", "per", "peak MB", "figure", "status")
MUSDB_TRAIN_TRACKS = 86  # MUSDB18's training tracks (the other 14 of its train set validate)
GPU_LIMIT_GB = 14.0      # what a training step may take on a 16 GB GPU (issue 19)
# --smoke: tiny models (the registry's tiny options) on 2 x 1 s batches, an 8 s toy track, 3 loader batches
SMOKE = {"batch": 2, "seq_dur": 1.0, "seconds": 8.0, "epoch_batches": 3}
FULL = {"seconds": 60.0, "epoch_batches": 40, "ddp_batch": 4}
TOY = {"n_train": 4, "n_test": 1, "n_valid": 1}  # the toy dataset: 3 tracks train, 1 validates, 1 is separated


def shipped(name: str, smoke: bool, **fields) -> TrainConfig:
    """configs/<name>.json, with ``fields`` over it; ``smoke``: the tiny options, batch and excerpt length."""
    if smoke:
        fields = {"model_options": MODELS[name].tiny, "batch_size": SMOKE["batch"], "seq_dur": SMOKE["seq_dur"],
                  **fields}
    return load_config(CONFIGS / f"{name}.json", **fields)


def build(config: TrainConfig) -> torch.nn.Module:
    """The config's model, seeded (random weights: speed does not depend on training)."""
    torch.manual_seed(0)
    return build_model(config.model, model_config(config.model, **config.model_options))


def amp_of(config: TrainConfig, device: torch.device) -> bool:
    """AMP as training uses it: the config's ``amp`` on CUDA (hw2sep.common.devices.autocast)."""
    return config.amp and device.type == "cuda"


def train_row(name: str, device: torch.device, smoke: bool, steps: int) -> dict:
    """A training step of configs/<name>.json: step seconds, peak memory, parameters."""
    config = shipped(name, smoke)
    mark = zoo.memory_mark(device)
    model = build(config)
    seconds = zoo.train_step_seconds(model, device, config.batch_size, config.seq_dur, steps,
                                     amp=amp_of(config, device), loss=config.loss)
    peak = zoo.memory_rise_mb(device, mark)
    over = device.type == "cuda" and not smoke and peak > GPU_LIMIT_GB * 1024
    return {"seconds": seconds, "per": "step", "peak MB": peak,
            "figure": f"{count_parameters(model) / 1e6:.2f} M params",
            "status": f"over {GPU_LIMIT_GB:g} GB" if over else "ok"}


def epoch_row(device: torch.device, smoke: bool, npy_root: Path, out: Path, batches: int) -> dict:
    """UMX's shipped config through ``SeparatorTrainer`` on the toy cache: seconds per batch, minutes per epoch."""
    base, nb_tracks = shipped("umx", smoke), TOY["n_train"] - TOY["n_valid"]
    config = shipped("umx", smoke, npy_root=str(npy_root), out=str(out), device=str(device), checkpoint_epochs=[],
                     samples_per_track=math.ceil(batches * base.batch_size / nb_tracks))
    mark = zoo.memory_mark(device)
    trainer = SeparatorTrainer(config, progress=False)
    trainer.start(0)  # the model's input statistics, as before a real first epoch
    trainer.train_period(1)  # warm-up: allocator, cuDNN, the loader's first epoch
    synchronize(device)
    start = time.perf_counter()
    trainer.train_period(2)
    synchronize(device)
    per_batch = (time.perf_counter() - start) * trainer.batch / len(trainer.train_set)  # a smaller last batch: pro rata
    musdb_batches = math.ceil(MUSDB_TRAIN_TRACKS * base.samples_per_track / base.batch_size)  # a real epoch's
    return {"seconds": per_batch, "per": "batch", "peak MB": zoo.memory_rise_mb(device, mark),
            "figure": f"{per_batch * musdb_batches / 60:.1f} min/epoch ({musdb_batches} batches)", "status": "ok"}


def separation_row(device: torch.device, smoke: bool, mixture, method: str) -> dict:
    """``Separator`` with UMX at its default size (tiny in smoke) on the toy mixture: RTF and peak memory."""
    model = build_model("umx", model_config("umx", **(MODELS["umx"].tiny if smoke else {})))
    stats = zoo.separation_stats(model, device, 0.0, method=method, mixture=mixture, amp=device.type == "cuda")
    seconds = mixture.shape[-1] / SAMPLE_RATE
    return {"seconds": stats["rtf"] * seconds, "per": f"{seconds:g} s track",
            "peak MB": stats["peak_mb"], "figure": f"RTF {stats['rtf']:.4f}", "status": "ok"}


def ddp_row(device: torch.device, config: TrainConfig, steps: int, store: Path) -> dict:
    """One-process DistributedDataParallel training step of ``config`` (nccl on CUDA, gloo on CPU): step seconds."""
    backend = "nccl" if device.type == "cuda" else "gloo"
    extra = {"device_id": device} if device.type == "cuda" else {}
    dist.init_process_group(backend, init_method=store.as_uri(), rank=0, world_size=1, **extra)
    try:
        mark = zoo.memory_mark(device)
        net = distributed.wrap(build(config).to(device), device, always=True)
        seconds = zoo.train_step_seconds(net, device, config.batch_size, config.seq_dur, steps,
                                         amp=amp_of(config, device), loss=config.loss)
        kind = "DDP" if isinstance(net, DistributedDataParallel) else "not wrapped"
        return {"seconds": seconds, "per": "step", "peak MB": zoo.memory_rise_mb(device, mark),
                "figure": f"{kind}, world size {dist.get_world_size()}", "status": "ok"}
    finally:
        dist.destroy_process_group()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_row(rows: list[dict], check: str, setting: str, measure, device: torch.device, started: float) -> None:
    """Append the row ``measure()`` fills; an error is caught into its status, so the next row still runs."""
    row = {"check": check, "setting": setting}
    try:
        row.update(measure())
    except Exception as err:  # noqa: BLE001 - out of memory, CUDA or NCCL errors: this row fails, the check goes on
        first = (str(err).strip().splitlines() or [""])[0]
        row["status"] = f"failed: {type(err).__name__}: {first[:160]}"
    gc.collect()
    if device.type == "cuda":
        with contextlib.suppress(Exception):  # a broken CUDA context fails here too; the next row says so
            torch.cuda.empty_cache()
    rows.append(row)
    print(f"{check}: {row.get('status')} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)


def device_line(device: torch.device, smoke: bool) -> str:
    """The device, its memory, torch, CUDA, cuDNN and the AMP dtype (the line above the table)."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        head = (f"{props.name} ({props.total_memory / 2**30:.0f} GiB), torch {torch.__version__}, CUDA "
                f"{torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, AMP {amp}")
    else:
        head = (f"{device.type} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads), "
                f"torch {torch.__version__}, no AMP")
    return head + ("; --smoke: tiny models, numbers test the code path only" if smoke else "")


def cell(row: dict, column: str) -> str:
    value = row.get(column, "-")
    if column == "seconds" and isinstance(value, float):
        return f"{value:.4f}" if value < 10 else f"{value:.1f}"
    if column == "peak MB" and isinstance(value, float):
        return f"{value:.0f}"
    return str(value)


def format_table(rows: list[dict], markdown: bool = False) -> str:
    """The table as aligned text, or as markdown (for README and the closing note)."""
    cells = [[cell(r, c) for c in COLUMNS] for r in rows]
    if markdown:
        return "\n".join(["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
                         + ["| " + " | ".join(line) + " |" for line in cells])
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(COLUMNS)]
    right = {"seconds", "peak MB"}
    return "\n".join("  ".join(v.rjust(w) if c in right else v.ljust(w) for v, w, c in zip(line, widths, COLUMNS))
                     .rstrip() for line in [list(COLUMNS), *cells])


def check(device: torch.device, names: list[str], smoke: bool, steps: int, skip_epoch: bool) -> tuple[str, list[dict]]:
    """Run every row; returns (device line, rows)."""
    started, rows = time.perf_counter(), []
    sizes = SMOKE if smoke else FULL
    for name in names:
        config = shipped(name, smoke)
        setting = f"batch {config.batch_size} x {config.seq_dur:g} s" + (", tiny" if smoke else "")
        run_row(rows, f"train {name}", setting, lambda: train_row(name, device, smoke, steps), device, started)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with contextlib.redirect_stdout(io.StringIO()):  # the cache's notes (one validation track) are not results
            toy = make_toy_musdb(tmp / "toy", seconds=sizes["seconds"], **TOY)
            convert_to_npy(toy, tmp / "npy", progress=False)
        umx = shipped("umx", smoke)
        if not skip_epoch:
            setting = (f"batch {umx.batch_size} x {umx.seq_dur:g} s, {umx.nb_workers} workers, "
                       f"{TOY['n_train'] - TOY['n_valid']} toy tracks")
            run_row(rows, "epoch umx", setting, lambda: epoch_row(device, smoke, tmp / "npy", tmp / "run",
                                                             sizes["epoch_batches"]), device, started)
        mixture = list_tracks(toy, "test")[0].load(("mixture",))["mixture"]  # (C, N)
        size = "tiny" if smoke else "hidden 512"
        for label, method in (("separate umx", "mixture"), ("griffinlim umx", "griffinlim")):
            run_row(rows, label, f"{sizes['seconds']:g} s toy mixture, {size}, {method}",
                    lambda: separation_row(device, smoke, mixture, method), device, started)
        backend = "nccl" if device.type == "cuda" else "gloo"
        ddp = shipped("umx", smoke, **({} if smoke else {"batch_size": FULL["ddp_batch"]}))
        run_row(rows, f"ddp {backend}", f"umx, batch {ddp.batch_size} x {ddp.seq_dur:g} s, 1 process",
                lambda: ddp_row(device, ddp, steps, tmp / "ddp_store"), device, started)
    return device_line(device, smoke), rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N (the check), or cpu with --smoke")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of the registry")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps after the warm-up "
                        "(default 3; 1 with --smoke)")
    parser.add_argument("--smoke", action="store_true", help="tiny models and batches, gloo: the code path on a CPU")
    parser.add_argument("--skip-epoch", action="store_true", help="leave out the epoch row (its toy training run)")
    parser.add_argument("--out", help="also write the device line and the table as markdown to this file")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; registered: {', '.join(MODELS)}")
    device = resolve_device(args.device)
    if device.type != "cuda" and not args.smoke:
        parser.error(f"the full check runs the shipped configs on a GPU; on {device.type} give --smoke")
    if device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device() if device.index is None else device.index)
        torch.cuda.set_device(device)
    steps = args.steps or (1 if args.smoke else 3)
    started = time.perf_counter()
    head, rows = check(device, names, args.smoke, steps, args.skip_epoch)
    took = f"{time.perf_counter() - started:.0f} s in all; median of {steps} step(s) after one warm-up"
    print(f"\n{head}\n{format_table(rows)}\n({took})")
    if args.out:
        Path(args.out).write_text(f"{head}\n\n{format_table(rows, markdown=True)}\n\n({took})\n")


if __name__ == "__main__":
    sys.exit(run_cli(main))
