"""Multi-GPU training with DistributedDataParallel: the few helpers ``train.py`` calls, no-ops in one process.

    torchrun --nproc_per_node 4 -m hw2sep.training.train --config configs/umx.json --npy-root NPY

torchrun (or ``python -m torch.distributed.run``) starts one process per GPU and sets ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``; ``launched`` joins them into a process group (nccl on CUDA, gloo
on CPU). ``batch_size`` stays the GLOBAL batch: each process draws the same (seed, epoch) permutation
and takes every ``world_size``-th index of it, so the union of the per-process batches is the
single-process batch. DDP averages the per-process gradients, which equals the global-batch gradient
when the shares are equal; a smaller last batch is weighted by ``global_share``. Rank 0 alone
validates (the loss is broadcast for the scheduler), writes files and prints.

Batch norm: on CUDA the model's batch norms become ``SyncBatchNorm`` (statistics over the global batch,
as in one process). ``SyncBatchNorm`` refuses CPU tensors, so a CPU (gloo) run normalises each process's
share of the batch on its own, which makes it close to, not equal to, the single-process run.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from hw2sep.errors import Hw2sepError


def launched_by_torchrun() -> bool:
    """True in a process started by torchrun with more than one process in all."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


@contextmanager
def launched(device: torch.device) -> Iterator[None]:
    """Under torchrun: join the process group for the block, then leave it together; else a no-op.

    A ``Hw2sepError`` (bad input, the same on every rank) is reported by rank 0 alone: the other ranks
    exit with status 2 and say nothing, so the user reads one line.
    """
    if not launched_by_torchrun():
        yield
        return
    if device.type not in ("cuda", "cpu"):
        raise Hw2sepError(f"torchrun training runs on CUDA (nccl) or CPU (gloo), not {device.type}; "
                          "use --device cuda or --device cpu")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise Hw2sepError(f"torchrun started more processes on this machine than its "
                              f"{torch.cuda.device_count()} GPU(s); use --nproc_per_node {torch.cuda.device_count()}")
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl", device_id=torch.device("cuda", local_rank))
    else:
        dist.init_process_group("gloo")
    try:
        yield
        dist.barrier()  # rank 0 may still be writing the last checkpoint
    except Hw2sepError:
        if rank() != 0:
            raise SystemExit(2) from None
        raise
    finally:
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """The device of this process: cuda:LOCAL_RANK under torchrun on CUDA, else ``device`` itself."""
    if world_size() > 1 and device.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def split_batch(batch_size: int, nb_items: int) -> int:
    """The per-process batch of a global ``batch_size``; refuses a split that leaves a process idle."""
    world, last = world_size(), nb_items % batch_size
    if batch_size % world:
        raise Hw2sepError(f"batch_size {batch_size} is the global batch and must be divisible by the "
                          f"{world} processes torchrun started (e.g. --batch-size {batch_size // world * world or world})")
    if 0 < last < world:
        raise Hw2sepError(f"the last batch of an epoch holds {last} excerpt(s) ({nb_items} excerpts, batch_size "
                          f"{batch_size}), fewer than the {world} processes; change samples_per_track or batch_size")
    return batch_size // world


class ShardedRandomSampler(torch.utils.data.Sampler[int]):
    """Every ``world``-th index of one ``torch.randperm`` drawn from ``generator``, starting at ``rank``.

    With per-process batches of ``batch_size / world``, process r's i-th batch is the part of the
    single-process i-th batch at positions r, r + world, ... In one process this is ``RandomSampler``.
    """

    def __init__(self, nb_items: int, generator: torch.Generator, rank_: int | None = None,
                 world: int | None = None):
        self.nb_items, self.generator = nb_items, generator
        self.rank = rank() if rank_ is None else rank_
        self.world = world_size() if world is None else world

    def __iter__(self) -> Iterator[int]:
        return iter(torch.randperm(self.nb_items, generator=self.generator).tolist()[self.rank::self.world])

    def __len__(self) -> int:
        return len(range(self.rank, self.nb_items, self.world))


class _DDP(DistributedDataParallel):
    """DDP that also answers the wrapped model's attributes (targets, stft_params, ...) for ``run_model``."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def wrap(model: torch.nn.Module, device: torch.device, always: bool = False) -> torch.nn.Module:
    """The model to train: DDP (with SyncBatchNorm on CUDA) under torchrun, else ``model`` itself.

    ``model`` keeps its parameters (the wrapper shares them), so it is what one saves and validates.
    DDP copies rank 0's parameters and buffers to every rank here. ``always``: DDP even in a process
    group of one (bench/gpu_check.py's 1-process NCCL step).
    """
    if world_size() == 1 and not always:
        return model
    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)  # same object, same parameters
    return _DDP(model, device_ids=[device.index] if device.type == "cuda" else None)


def global_share(loss: torch.Tensor, nb_items: int) -> torch.Tensor:
    """Weight this process's mean loss so that DDP's gradient average is the global-batch mean.

    Weight = world * nb_items / global batch: 1 when every process has the same share (the usual case),
    less than 1 for a process with more than its share of a smaller last batch.
    """
    if world_size() == 1:
        return loss
    counts = torch.tensor(float(nb_items), device=loss.device)
    dist.all_reduce(counts)
    return loss * (world_size() * nb_items / counts)


def all_sum(values: tuple[float, ...], device: torch.device) -> tuple[float, ...]:
    """Elementwise sum over the processes (in float64); the values themselves in one process."""
    if world_size() == 1:
        return values
    total = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return tuple(total.tolist())


def on_rank0(fn, *args, device: torch.device) -> float:
    """``fn(*args)`` computed on rank 0 and broadcast to all (the others wait); just ``fn(*args)`` in one process."""
    if world_size() == 1:
        return fn(*args)
    value = torch.tensor(fn(*args) if rank() == 0 else 0.0, dtype=torch.float64, device=device)
    dist.broadcast(value, src=0)
    return value.item()


def seed_process(epoch_seed: int) -> None:
    """Under DDP: seed torch per (epoch seed, rank), so that dropout differs between processes and a
    resumed run replays it; one process keeps its single random stream (saved in last.pt)."""
    if world_size() > 1:
        torch.manual_seed(epoch_seed * 1_009 + rank())
