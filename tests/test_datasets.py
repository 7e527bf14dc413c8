"""Training excerpts: augmentations keep mixture = sum, stay in bounds, and are reproducible."""

import numpy as np
import pytest
import torch

from hw2sep.data.excerpts import Augment, ExcerptDataset, TrackDataset, mixture_of
from hw2sep.errors import Hw2sepError


def _dataset(npy, augment, **kwargs):
    return ExcerptDataset(npy, "train", seq_duration=1.0, samples_per_track=8, augment=augment, seed=7, **kwargs)


def test_mixture_is_sum_of_augmented_sources(toy_npy):
    ds = _dataset(toy_npy, Augment(random_track_mix=True))
    for i in range(len(ds)):
        sources = ds[i]
        mixture = mixture_of(sources)
        assert mixture.shape == (2, 44100) and sources.shape == (2, 2, 44100)
        torch.testing.assert_close(mixture, sources[0] + sources[1], rtol=0, atol=0)
    batch = torch.stack([ds[i] for i in range(3)])
    torch.testing.assert_close(mixture_of(batch), batch.sum(1), rtol=0, atol=1e-7)


def test_gain_in_bounds_and_channels_swapped(toy_npy):
    plain = _dataset(toy_npy, Augment(swap_channels=False, gain=None, random_chunks=True))
    augmented = _dataset(toy_npy, Augment(swap_channels=True, gain=(0.25, 1.25), random_chunks=True))
    swaps, gains = 0, []
    for i in range(len(plain)):
        ref = plain[i]  # same seed, so the same chunk positions: aug = gain * (maybe swapped) ref
        aug = augmented[i]
        for s in range(2):
            ratio = (aug[s].abs().max() / ref[s].abs().max()).item() if ref[s].abs().max() > 0 else None
            if ratio is not None:
                gains.append(ratio)
                same = torch.allclose(aug[s], ref[s] * ratio, atol=1e-6)
                swapped = torch.allclose(aug[s], ref[s].flip(0) * ratio, atol=1e-6)
                assert same or swapped
                swaps += swapped and not same
    assert 0.25 - 1e-6 <= min(gains) and max(gains) <= 1.25 + 1e-6 and max(gains) - min(gains) > 0.3
    assert 0 < swaps < len(gains)


def test_same_seed_same_batch_any_worker_count(toy_npy):
    def first_batch(workers, seed=7):
        ds = ExcerptDataset(toy_npy, "train", 1.0, 8, Augment(random_track_mix=True), seed=seed)
        loader = torch.utils.data.DataLoader(ds, batch_size=6, num_workers=workers, shuffle=False)
        return next(iter(loader))
    a, b, c = first_batch(0), first_batch(2), first_batch(0, seed=8)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


def test_epochs_draw_new_excerpts(toy_npy):
    ds = _dataset(toy_npy, Augment())
    first = ds[0]
    ds.set_epoch(1)
    assert not torch.equal(first, ds[0])


def test_without_random_chunks_sources_share_the_excerpt(toy_npy, toy_root):
    from hw2sep.data.musdb import list_tracks
    ds = _dataset(toy_npy, Augment.none())
    mixture = mixture_of(ds[0])
    track = next(t for t in list_tracks(toy_root, "train") if t.name == ds.tracks[0]["name"])
    full = track.load(("mixture",))["mixture"]
    start = next(i for i in range(full.shape[1] - 44100) if np.array_equal(full[:, i:i + 8], mixture[:, :8].numpy()))
    np.testing.assert_array_equal(full[:, start:start + 44100], mixture.numpy())


def test_test_subset_refused_and_validation_whole_tracks(toy_npy, toy_root):
    from hw2sep.data.musdb import list_tracks
    with pytest.raises(Hw2sepError, match="never used for training"):
        ExcerptDataset(toy_npy, "test")
    with pytest.raises(Hw2sepError, match="never used"):
        TrackDataset(toy_npy, "train,test")
    valid = TrackDataset(toy_npy, "valid")
    sources = valid[0]
    assert len(valid) == 1 and sources.shape == (2, 2, 6 * 44100)
    track = next(t for t in list_tracks(toy_root, "valid"))
    np.testing.assert_array_equal(mixture_of(sources).numpy(), track.load(("mixture",))["mixture"])


def test_raw_items_finished_on_device_equal_the_float_items(toy_npy):
    from hw2sep.data.excerpts import apply_augmentation
    augment = Augment(random_track_mix=True)
    floats = ExcerptDataset(toy_npy, "train", 1.0, 4, augment, seed=3)
    raws = ExcerptDataset(toy_npy, "train", 1.0, 4, augment, seed=3, raw=True)
    raw, gains, swaps = torch.utils.data.default_collate([raws[i] for i in range(len(raws))])
    assert raw.dtype == torch.int16 and swaps.any() and not swaps.all()
    batch = apply_augmentation(raw, gains, swaps, raws.scale)
    torch.testing.assert_close(batch, torch.stack([floats[i] for i in range(len(floats))]), rtol=0, atol=0)
