"""The one progress bar: tqdm, switched off by ``enabled=False`` (quiet runs, DDP ranks other than 0)."""

from __future__ import annotations

from typing import Iterable


def progress(items: Iterable | None = None, enabled: bool = True, **options):
    """``items`` wrapped in a tqdm bar (or a bar counted by hand when ``items`` is None); silent when not enabled."""
    from tqdm.auto import tqdm

    return tqdm(items, disable=not enabled, dynamic_ncols=True, **options)
