"""MUSDB18 on disk: find the layout, list the subsets, read tracks as float32 (nb_channels, nb_samples).

Two layouts are accepted under a root folder:

* ``wav``   (MUSDB18-HQ): ``{train,test}/<track>/{mixture,drums,bass,other,vocals}.wav``
* ``stems`` (MUSDB18):    ``{train,test}/<track>.stem.mp4`` (streams: mixture, drums, bass, other, vocals)

The wav layout needs only soundfile; the stems layout decodes through stempeg, which needs the
``ffmpeg`` program and is imported only when a ``.stem.mp4`` is read.

Subsets: ``train`` (86 tracks), ``valid`` (the 14 validation tracks of the ``musdb`` package and
Open-Unmix, taken out of MUSDB's train folder) and ``test`` (50). For a dataset whose track names
are not MUSDB18's (the toy set), ``valid.txt`` in the root lists the validation tracks; without it,
every 7th training track in name order (about 14 %, at least one) is used, so training has a
validation subset whenever there are two tracks or more.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from hw2sep import SAMPLE_RATE, STEMS
from hw2sep.errors import Hw2sepError

SUBSETS = ("train", "valid", "test")
LAYOUTS = ("wav", "stems")
SOURCES = ("mixture", *STEMS, "accompaniment")  # what Track.load can return
ACCOMPANIMENT_STEMS = ("drums", "bass", "other")
STEM_STREAM = {"mixture": 0, "drums": 1, "bass": 2, "other": 3, "vocals": 4}

MUSDB_SIZES = {"train": 86, "valid": 14, "test": 50}  # tracks per subset in MUSDB18 (and MUSDB18-HQ)


def incomplete_note(subset: str, count: int) -> str | None:
    """One line when ``count`` tracks of ``subset`` are fewer than MUSDB18's, so a number over them is not the
    assignment's (None when complete)."""
    full = MUSDB_SIZES[subset]
    if count >= full:
        return None
    return f"note: {count} {subset} track{'s' if count != 1 else ''}, MUSDB18 has {full}: " + (
        "numbers over them are not the assignment's test-set SDR" if subset == "test"
        else "validation (best.pt, the learning-rate schedule) rests on fewer tracks than Open-Unmix's")


# The validation split of the musdb package (configs/mus.yaml), used by Open-Unmix.
MUSDB_VALID_TRACKS = (
    "Actions - One Minute Smile", "Clara Berry And Wooldog - Waltz For My Victims",
    "Johnny Lokke - Promises & Lies", "Patrick Talbot - A Reason To Leave", "Triviul - Angelsaint",
    "Alexander Ross - Goodbye Bolero", "Fergessen - Nos Palpitants", "Leaf - Summerghost",
    "Skelpolu - Human Mistakes", "Young Griffo - Pennies", "ANiMAL - Rockshow",
    "James May - On The Line", "Meaxic - Take A Step", "Traffic Experiment - Sirens",
)
VALID_EVERY = 7  # fallback rule for datasets without MUSDB names or valid.txt
FINGERPRINT_BLOCKS, FINGERPRINT_BLOCK = 16, 4096  # Track.fingerprint reads 16 blocks of 4 KiB per file


@dataclass(frozen=True)
class Track:
    """One song on disk: a folder of wavs (``wav`` layout) or one ``.stem.mp4`` file (``stems``)."""

    name: str
    subset: str
    path: Path
    layout: str

    def load(self, sources: Sequence[str] = ("mixture", "vocals", "accompaniment"),
             start: float = 0.0, duration: float | None = None) -> dict[str, np.ndarray]:
        """Read sources (``mixture``, a stem, or ``accompaniment`` = drums + bass + other).

        Shape: each value (nb_channels=2, nb_samples), float32, 44.1 kHz: views of one `load_stack`
        array. Mono files are duplicated to stereo; other sample rates are refused.
        """
        return dict(zip(sources, self.load_stack(sources, start, duration)))

    def load_stack(self, sources: Sequence[str] = ("mixture", "vocals", "accompaniment"),
                   start: float = 0.0, duration: float | None = None) -> np.ndarray:
        """`load` into one preallocated float32 array: each stem is added into its rows as it is
        decoded (the accompaniment summed in place), so a track costs little more than its output.

        Shape: (len(sources), nb_channels=2, nb_samples).
        """
        unknown = set(sources) - set(SOURCES)
        if unknown:
            raise Hw2sepError(f"unknown source(s) {sorted(unknown)}; choose from {SOURCES}")
        rows = {stem: [i for i, src in enumerate(sources)
                       if src == stem or (src == "accompaniment" and stem in ACCOMPANIMENT_STEMS)]
                for stem in STEM_STREAM}
        read = _read_stems_mp4 if self.layout == "stems" else _read_wavs
        return read(self, {stem: r for stem, r in rows.items() if r}, len(sources), start, duration)

    def damaged(self, problem: str) -> Hw2sepError:
        """The one-line error for a damaged track: what is wrong, and what to do about it."""
        return Hw2sepError(f"track '{self.name}': {problem}; re-extract or re-download this track "
                           f"(or remove {self.path} to leave it out)")

    def files(self) -> list[Path]:
        """The files this track's audio is read from: five wavs, or one ``.stem.mp4``."""
        return [self.path / f"{s}.wav" for s in STEM_STREAM] if self.layout == "wav" else [self.path]

    def fingerprint(self) -> str:
        """A cheap identity of the track's audio: each file's size and a sha1 of strided blocks of its bytes.

        The first and last blocks hold the container headers (wav length, mp4 durations), the others sample
        the audio, so a re-encoded, regenerated or re-cut track gets another fingerprint; reading 64 KiB per
        file keeps 50 tracks well under a second. Paths and mtimes are left out: a copied dataset keeps it.
        """
        sha = hashlib.sha1()
        for path in self.files():
            sha.update(path.name.encode())
            try:
                with open(path, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    sha.update(str(size).encode())
                    for offset in sorted({size * k // (FINGERPRINT_BLOCKS - 1) for k in range(FINGERPRINT_BLOCKS)}):
                        f.seek(max(0, min(offset, size - FINGERPRINT_BLOCK)))
                        sha.update(f.read(FINGERPRINT_BLOCK))
            except FileNotFoundError:
                sha.update(b"missing")
        return sha.hexdigest()[:16]

    def num_samples(self) -> int:
        """Length in samples from the file header, without decoding.

        For ``.stem.mp4`` this is the container's duration, which can differ from the decoded
        length by a fraction of an AAC frame; use the decoded audio where exactness matters.
        """
        if self.layout == "wav":
            import soundfile as sf
            return sf.info(str(self.path / "mixture.wav")).frames
        import stempeg
        info = stempeg.Info(str(self.path))
        return int(round(info.duration(0) * info.sample_rate(0)))



def training_subsets(subsets: str | Sequence[str], hint: str = "") -> list[str]:
    """Subset names from ``subsets`` (comma-separated or a list); the test subset is refused in one line, the
    assignment's rule: it never feeds training, validation or model choice."""
    names = [s.strip() for s in (subsets.split(",") if isinstance(subsets, str) else subsets) if s.strip()]
    if "test" in names:
        raise Hw2sepError(f"the test subset is never used for training or validation (assignment rule){hint}")
    return names

def detect_layout(root: str | Path) -> str:
    """Return ``wav`` or ``stems`` for a MUSDB18(-HQ) root, or raise one clear error."""
    root = Path(root)
    looked_for = ("MUSDB18-HQ: ROOT/{train,test}/<track>/mixture.wav; "
                  "MUSDB18: ROOT/{train,test}/<track>.stem.mp4")
    if not root.exists():
        raise Hw2sepError(f"dataset root {root} does not exist (expected {looked_for})")
    if not root.is_dir():
        raise Hw2sepError(f"dataset root {root} is not a folder (expected {looked_for})")
    for folder in ("train", "test"):
        if any((root / folder).glob("*/mixture.wav")):
            return "wav"
        if any((root / folder).glob("*.stem.mp4")):
            return "stems"
    raise Hw2sepError(f"no MUSDB18 tracks under {root}; looked for {looked_for}")


def list_tracks(root: str | Path, subset: str, layout: str | None = None) -> list[Track]:
    """Tracks of one subset (``train``, ``valid`` or ``test``), sorted by name.

    ``layout`` (``wav`` or ``stems``) picks one where a root holds both; default: detected.
    """
    if subset not in SUBSETS:
        raise Hw2sepError(f"unknown subset '{subset}'; choose from {', '.join(SUBSETS)}")
    if layout not in (None, *LAYOUTS):
        raise Hw2sepError(f"unknown layout '{layout}'; choose from {', '.join(LAYOUTS)}")
    root = Path(root)
    layout = layout or detect_layout(root)
    folder = root / ("test" if subset == "test" else "train")
    if layout == "wav":
        found = {p.parent.name: p.parent for p in folder.glob("*/mixture.wav")}
    else:
        found = {p.name[: -len(".stem.mp4")]: p for p in folder.glob("*.stem.mp4")}
    names = sorted(found)
    if subset != "test":
        valid = validation_names(root, names)
        names = [n for n in names if (n in valid) == (subset == "valid")]
    return [Track(name, subset, found[name], layout) for name in names]


def validation_names(root: Path, train_names: Sequence[str]) -> set[str]:
    """Validation tracks: MUSDB's 14 if present, else ``valid.txt`` in the root, else every 7th."""
    musdb = set(MUSDB_VALID_TRACKS) & set(train_names)
    if musdb:
        return musdb
    listed = Path(root) / "valid.txt"
    if listed.exists():
        names = {line.strip() for line in listed.read_text().splitlines() if line.strip()}
        missing = names - set(train_names)
        if missing:
            raise Hw2sepError(f"{listed} names tracks that are not in train/: {sorted(missing)[:3]}")
        return names
    names = sorted(train_names)
    picked = names[VALID_EVERY - 1 :: VALID_EVERY] or names[-1:]
    return set(picked) if len(names) > 1 else set()  # a lone track stays for training


def _to_channels_first(audio: np.ndarray, rate: int, where: str) -> np.ndarray:
    """Check the rate, turn (nb_samples, nb_channels) into float32 stereo (2, nb_samples)."""
    if rate != SAMPLE_RATE:
        raise Hw2sepError(f"{where}: sample rate {rate} Hz, expected {SAMPLE_RATE} Hz "
                          "(resample the dataset first, e.g. with ffmpeg -ar 44100)")
    audio = np.asarray(audio, dtype=np.float32).T  # to (nb_channels, nb_samples)
    if audio.shape[0] == 1:  # documented conversion: mono is duplicated to both channels
        audio = np.repeat(audio, 2, axis=0)
    if audio.shape[0] != 2:
        raise Hw2sepError(f"{where}: {audio.shape[0]} channels, expected stereo (or mono)")
    return np.ascontiguousarray(audio)


_WAV_BLOCK = 1 << 16  # frames decoded at a time


def _read_wavs(track: Track, rows: dict[str, list[int]], nb_rows: int, start: float,
               duration: float | None) -> np.ndarray:
    """Decode each stem in blocks, adding it into its rows of one zeroed (nb_rows, 2, N) float32 array."""
    import soundfile as sf

    for stem in rows:
        if not (track.path / f"{stem}.wav").exists():
            raise Hw2sepError(f"track '{track.name}' has no {stem}.wav in {track.path}")
    _check_wav_stems(track)  # one length for all stems
    out = None
    for stem, targets in rows.items():
        path = track.path / f"{stem}.wav"
        try:
            with sf.SoundFile(str(path)) as f:
                _to_channels_first(np.zeros((0, f.channels), np.float32), f.samplerate, str(path))  # rate, channels
                first = min(int(round(start * f.samplerate)), f.frames)
                frames = f.frames - first if duration is None else min(int(round(duration * f.samplerate)),
                                                                         f.frames - first)
                out = np.zeros((nb_rows, 2, frames), np.float32) if out is None else out
                f.seek(first)
                done = 0
                for block in f.blocks(_WAV_BLOCK, frames=frames, dtype="float32", always_2d=True):
                    out[targets, :, done : done + len(block)] += block.T  # a mono (1, n) block fills both channels
                    done += len(block)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise track.damaged(f"{path} cannot be decoded ({_first_line(err)})") from None
        if done != out.shape[-1]:
            raise track.damaged(f"{path} decodes to {done} samples, the other stems to {out.shape[-1]}")
    return out


def _check_wav_stems(track: Track) -> None:
    """Refuse a track whose wavs are unreadable, truncated, empty or of different lengths (headers only)."""
    import soundfile as sf

    lengths = {}
    for stem in STEM_STREAM:
        path = track.path / f"{stem}.wav"
        if not path.exists():
            continue
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError) as err:
            raise track.damaged(f"{path} is not a readable wav ({_first_line(err)})") from None
        declared = _declared_frames(path, info.channels)
        if declared is not None and declared > info.frames:
            raise track.damaged(f"{path} is truncated (its header promises {declared} samples, "
                                f"the file holds {info.frames})")
        if info.frames == 0:
            raise track.damaged(f"{path} holds no audio (0 samples)")
        lengths[f"{stem}.wav"] = info.frames
    if len(set(lengths.values())) > 1:
        raise track.damaged(f"stems of different lengths ({_samples(lengths)}) in {track.path}")


def _declared_frames(path: Path, channels: int) -> int | None:
    """Frames the RIFF ``data`` chunk declares for 16/24/32-bit PCM or float wavs; None if unknown."""
    import struct

    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None  # RF64, W64, ...: trust libsndfile
        block = None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(size + (size & 1))
                block = struct.unpack("<H", fmt[12:14])[0] if len(fmt) >= 14 else None
            elif cid == b"data":
                if not block or size in (0, 0xFFFFFFFF):  # streaming writers leave the size open
                    return None
                return size // block
            else:
                f.seek(size + (size & 1), 1)


def _samples(lengths: dict[str, int]) -> str:
    """``vocals.wav 44100 samples, the others 88200``: the odd ones out against the most common length."""
    values = list(lengths.values())
    common = max(set(values), key=values.count)
    odd = [f"{name} {n} samples" for name, n in lengths.items() if n != common]
    return f"{', '.join(odd)}, the others {common}"


def _first_line(err: BaseException) -> str:
    """The first line of an error, without libsndfile's ``Error opening 'PATH': `` prefix."""
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    return line.split("': ", 1)[1] if line.startswith("Error opening '") and "': " in line else line


def _read_stems_mp4(track: Track, rows: dict[str, list[int]], nb_rows: int, start: float,
                    duration: float | None) -> np.ndarray:
    """Decode one stream at a time, adding it into its rows of one (nb_rows, 2, N) float32 array; streams
    are cut to the shortest, as stempeg does when it decodes several at once."""
    try:
        import stempeg
    except Exception as err:  # stempeg raises on import when ffmpeg is missing
        raise Hw2sepError(f"reading {track.path.name} needs ffmpeg and stempeg ({err}); "
                          "install ffmpeg, or use MUSDB18-HQ (wav)") from None
    _check_stem_streams(track, stempeg)
    out = None
    for stem, targets in rows.items():
        try:
            audio, rate = stempeg.read_stems(str(track.path), start=start or None, duration=duration,
                                             stem_id=[STEM_STREAM[stem]], always_3d=True, dtype=np.float32)
        except Exception as err:
            raise track.damaged(f"{track.path} cannot be decoded ({_first_line(err)})") from None
        if audio.shape[0] < 1:
            raise track.damaged(f"{track.path} decodes to no {stem} stream, a MUSDB18 .stem.mp4 has 5")
        audio = _to_channels_first(audio[0], int(rate), str(track.path))
        if out is None:
            out = np.zeros((nb_rows, 2, audio.shape[-1]), np.float32)
        out = out[..., : audio.shape[-1]]
        out[targets] += audio[:, : out.shape[-1]]
    return out


MP4_LENGTH_TOLERANCE = 0.1  # seconds between stream durations: a few AAC frames of encoder delay


def _check_stem_streams(track: Track, stempeg) -> None:
    """Refuse a ``.stem.mp4`` without 5 audio streams of one duration, before decoding it."""
    try:
        info = stempeg.Info(str(track.path))
        nb_streams = info.nb_audio_streams
        durations = [info.duration(i) for i in range(nb_streams)]
    except Exception as err:
        raise track.damaged(f"{track.path} cannot be read by ffprobe ({_first_line(err)})") from None
    if nb_streams < len(STEM_STREAM):
        raise track.damaged(f"{track.path} has {nb_streams} audio stream(s), a MUSDB18 .stem.mp4 has 5 "
                            f"({', '.join(STEM_STREAM)})")
    if durations and max(durations) - min(durations) > MP4_LENGTH_TOLERANCE:
        lengths = {name: f"{d:.2f} s" for name, d in zip(STEM_STREAM, durations)}
        raise track.damaged(f"{track.path} has streams of different lengths "
                            f"({', '.join(f'{k} {v}' for k, v in lengths.items())})")
