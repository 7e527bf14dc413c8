"""Shared fixtures: a small toy MUSDB (wav, and stems when ffmpeg exists), its npy cache, real audio."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_SAMPLE = REPO.parent / "shared" / "data" / "musdb18-sample"
HAS_FFMPEG = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None
requires_ffmpeg = pytest.mark.skipif(not HAS_FFMPEG, reason="needs the ffmpeg and ffprobe programs")


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Every test runs torch on one thread: the tensors here are tiny, where one thread is faster, and
    two threads on a busy 2-core machine stalled tests 10-100x (measured). Subprocesses get it too."""
    import os

    import torch
    threads, env = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    yield
    torch.set_num_threads(threads)
    if env is None:
        os.environ.pop("OMP_NUM_THREADS")
    else:
        os.environ["OMP_NUM_THREADS"] = env


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory) -> Path:
    """4 train (1 of them valid) + 2 test toy tracks of 6 s, MUSDB18-HQ layout."""
    from hw2sep.data.toy import make_toy_musdb
    return make_toy_musdb(tmp_path_factory.mktemp("toy") / "musdb", n_train=4, n_test=2, seconds=6.0, seed=0)


@pytest.fixture(scope="session")
def toy_npy(toy_root, tmp_path_factory) -> Path:
    from hw2sep.data.npy_cache import convert_to_npy
    out = tmp_path_factory.mktemp("npy") / "cache"
    convert_to_npy(toy_root, out, progress=False)
    return out


@pytest.fixture(scope="session")
def toy_both_layouts(tmp_path_factory) -> Path:
    """The same toy tracks as wav folders and as .stem.mp4 (AAC) under one root."""
    if not HAS_FFMPEG:
        pytest.skip("needs ffmpeg to write .stem.mp4")
    from hw2sep.data.toy import make_toy_musdb
    return make_toy_musdb(tmp_path_factory.mktemp("toy_mp4") / "musdb", n_train=2, n_test=1, seconds=4.0,
                          seed=3, stem_mp4=True)


@pytest.fixture(scope="session")
def stempeg_example() -> dict[str, np.ndarray]:
    """The real MUSDB18 excerpt shipped with stempeg as {stem: (2, nb_samples)} float32 (mixture stream too)."""
    if not HAS_FFMPEG:
        pytest.skip("needs ffmpeg to decode the stempeg example")
    import stempeg
    audio, rate = stempeg.read_stems(stempeg.example_stem_path(), sample_rate=44100, dtype=np.float32)
    assert rate == 44100
    return {name: audio[i].T.copy() for i, name in enumerate(("mixture", "drums", "bass", "other", "vocals"))}


def run_script(*args: str, cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a repo script the way a user does (``python hw2sep/x.py ...``) and capture its output."""
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """A bad-input run exits non-zero with one `error:` line naming the problem and no traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
