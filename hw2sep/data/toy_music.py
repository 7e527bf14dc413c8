"""The toy MUSDB's music: deterministic, procedurally synthesised tracks with MUSDB18's four stems.

MUSDB18 is not available on the test machines, so tests and notebook smoke runs use this instead
(``hw2sep.data.toy`` writes it to disk in MUSDB18-HQ layout). Each track gets its own seed -> key, mode, tempo, 4-chord progression, timbres, pans and levels;
all four stems share key, tempo and chords. Design, chosen so separation is a real (learnable) task:

* drums: kick = exponentially pitched-down sine sweep + click, snare = tone burst + band-passed noise,
  hi-hat = high-passed noise bursts (some open), on a 16-step groove with fills, humanised timing.
* bass: chord roots / fifths / octaves in a per-track rhythm, plucked additive tone whose upper
  harmonics decay faster.
* other: a pad holding each chord (wavetable of 12 harmonics, two detuned voices), an arpeggiated
  pluck or off-beat chord stabs and, in some tracks, lead-synth fills in the vocal rests - all
  voiced around the singer's register, so a fixed band split cannot separate the vocals.
* vocals: additive glottal source (harmonics with spectral tilt) whose amplitudes follow a 4-formant
  envelope interpolated between the vowels of successive syllables; f0 from a melody in the key
  with portamento, pitch scoops, delayed vibrato (5-6 Hz) and jitter; syllable envelopes, consonant
  noise bursts, aspiration and breaths; one bar of silence first and >= 1 bar rests between phrases.
* mix: constant-power pans, small inter-channel delays, a mono-send / stereo-return noise reverb
  (one room per track, none on the bass), random stem levels relative to each stem's level while
  it plays. Stems are scaled so the mixture peaks below 0.9 full scale, quantised to int16, and
  mixture.wav is the int32 sum of the int16 stems - exact by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft, signal

from hw2sep.names import SAMPLE_RATE as SR, STEMS

TOY_VERSION = 1  # bump whenever the synthesis changes: invalidates caches
CTRL = 64  # control-rate hop (samples) of the vocal pitch / formant / envelope trajectories
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
PROGRESSIONS = {"major": ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 3), (5, 3, 0, 4)),
                "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4))}
VOWELS = np.array([[730, 1090, 2440, 3400], [530, 1840, 2480, 3500], [270, 2290, 3010, 3700],
                   [570, 840, 2410, 3400], [300, 870, 2240, 3400]], float)  # a e i o u: F1-F4 (Hz)
FORMANT_BW, FORMANT_GAIN = np.array([90.0, 110.0, 150.0, 200.0]), np.array([1.0, 0.6, 0.3, 0.15])
CONSONANTS = ((4500, 11000, 0.09), (2000, 6500, 0.10), (2500, 9000, 0.025), (600, 3500, 0.06))
KICKS = ((0, 8), (0, 6, 8), (0, 3, 8, 10), (0, 7, 10), (0, 8, 11))
BASS_RIFFS = (((0, 0), (4, 0), (8, 0), (12, 7)), tuple((s, 0) for s in range(0, 16, 2)),
              ((0, 0), (6, 0), (8, 7), (12, 12)), ((0, 0), (3, 0), (6, 0), (8, 0), (10, 7), (14, 12)))
ADJ = ("Amber", "Brass", "Cobalt", "Dusty", "Electric", "Fading", "Golden", "Hollow", "Ivory",
       "Jade", "Lunar", "Midnight", "Neon", "Paper", "Quiet", "Silver", "Velvet", "Wooden")
NOUN = ("Anchors", "Bridges", "Comets", "Engines", "Gardens", "Harbours", "Lanterns", "Mirrors",
        "Orchards", "Rivers", "Satellites", "Shadows", "Signals", "Summers", "Towers", "Wolves")


# ---------------------------------------------------------------- music and DSP helpers
def _hz(midi):
    """MIDI note number(s) -> frequency in Hz."""
    return 440.0 * 2.0 ** ((np.asarray(midi, float) - 69.0) / 12.0)


def _semis(scale: tuple, degree: int) -> int:
    """Semitones above the tonic of a scale degree (any integer, octaves wrap)."""
    return 12 * (degree // 7) + scale[degree % 7]


def _harmonics(phase: np.ndarray, amps) -> np.ndarray:
    """sum_k amps[k] * sin((k+1) * phase) by the Chebyshev recurrence: one sin and cos for all k."""
    two_cos, prev, cur = 2.0 * np.cos(phase), np.zeros_like(phase), np.sin(phase)
    out = np.zeros_like(phase)
    for a in amps:
        out += a * cur
        prev, cur = cur, two_cos * cur - prev
    return out


def _fade(n: int, attack: float, release: float) -> np.ndarray:
    """Envelope of n samples: linear rise over `attack` s, linear fall over the last `release` s."""
    i = np.arange(n)
    return np.minimum(1.0, np.minimum((i + 1) / max(attack * SR, 1), (n - i) / max(release * SR, 1)))


def _noise(rng, n: int, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Unit-RMS white noise, optionally Butterworth band/high/low-passed between lo and hi Hz."""
    x = rng.standard_normal(n + 256)
    if lo or hi:
        band, kind = ([lo, hi], "bandpass") if lo and hi else ((lo, "highpass") if lo else (hi, "lowpass"))
        x = signal.sosfilt(signal.butter(4, band, kind, fs=SR, output="sos"), x)
    x = x[256:]  # drop the filter's start-up transient
    return x / max(float(np.sqrt(np.mean(x ** 2))), 1e-12) if n else x


def _place(buf: np.ndarray, start: float, seg: np.ndarray) -> None:
    """Add `seg` into `buf` from sample `start` on, cut to the buffer."""
    start = int(round(start))
    if start < 0:
        seg, start = seg[-start:], 0
    m = min(len(seg), len(buf) - start)
    if m > 0:
        buf[start:start + m] += seg[:m]


def _stereo(x: np.ndarray, pan: float, delay: int = 0) -> np.ndarray:
    """Constant-power pan (-1 left .. 1 right) and an inter-channel delay in samples (>0: right later)."""
    theta = (pan + 1.0) * np.pi / 4.0
    out = np.stack([np.cos(theta) * x, np.sin(theta) * x], axis=1)
    ch, d = (1, delay) if delay > 0 else (0, -delay)
    if d:
        out[:, ch] = np.concatenate([np.zeros(d), out[:-d, ch]])[:len(x)]
    return out


def _pluck(f0: float, n: int, amps, tau: float, bright_decay: float, attack: float = 0.004) -> np.ndarray:
    """Plucked additive note: harmonic k decays with time constant tau / (1 + bright_decay * k)."""
    t = np.arange(n) / SR
    keep = [a for k, a in enumerate(amps) if (k + 1) * f0 < 15000]
    decay, faster = np.exp(-t / tau), np.exp(-t * bright_decay / tau)

    def amplitudes():  # a_k * decay * faster**k, one multiply per harmonic instead of an exp
        d = decay
        for a in keep:
            yield a * d
            d = d * faster
    return _harmonics(2 * np.pi * f0 * t, amplitudes()) * _fade(n, attack, 0.02)


def _wavetable(amps, size: int = 4096):
    """A one-cycle table of sum_k amps[k] sin((k+1) x), x in [0, 2 pi]: cheap long sustained tones."""
    grid = np.arange(size + 1) * (2 * np.pi / size)
    return lambda phase: np.interp(np.mod(phase, 2 * np.pi), grid, _harmonics(grid, amps))


def _smooth(x: np.ndarray, seconds: float) -> np.ndarray:
    """Moving average along axis 0 over `seconds` of control-rate frames (edges held)."""
    w = max(1, int(seconds * SR / CTRL))
    pad = np.concatenate([np.repeat(x[:1], w, 0), x, np.repeat(x[-1:], w, 0)])
    c = np.cumsum(pad, axis=0)
    return ((c[w:] - c[:-w]) / w)[w // 2: w // 2 + len(x)]


# ---------------------------------------------------------------- the score
@dataclass
class _Plan:
    """What all stems of one track share: length, tempo, key, chords, and where the vocals sing."""
    n: int
    beat: float  # seconds
    tonic: int  # pitch class
    scale: tuple
    prog: tuple  # one scale degree per bar, cycled
    phrases: list  # per phrase: list of syllables (onset s, duration s, midi)
    voice: int = 60  # MIDI centre of the melody; the accompaniment's chords sit around it too

    def chord(self, bar: int) -> list[int]:
        """Semitone offsets (from the tonic) of the triad on this bar."""
        d = self.prog[bar % len(self.prog)]
        return [_semis(self.scale, d + i) for i in (0, 2, 4)]


def _plan(rng, seconds: float) -> _Plan:
    """Draw key, mode, tempo, progression and the vocal melody (phrases separated by bar rests)."""
    mode = "major" if rng.random() < 0.55 else "minor"
    p = _Plan(int(round(seconds * SR)), 60.0 / rng.uniform(90, 140), int(rng.integers(12)),
              SCALES[mode], PROGRESSIONS[mode][rng.integers(4)], [])
    bar, t, deg = 4 * p.beat, 4 * p.beat, int(rng.integers(0, 5))
    center = int(rng.choice([57, 65])) + int(rng.integers(-2, 3))  # lower or higher voice
    vtonic, p.voice = center - 5 + (p.tonic - center + 5) % 12, center
    while t < seconds:
        n_bars = int(rng.integers(1, 3))
        beats, end, syls = 0.0, 4 * n_bars - rng.choice([0.0, 0.5, 1.0]), []
        while beats < end - 0.25:
            dur = min(float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0])), end - beats)
            deg = int(np.clip(deg + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]), -3, 9))
            if beats % 2 == 0 and rng.random() < 0.6:  # strong beat: move to a chord tone
                root, near = p.prog[int(t / bar + beats / 4) % 4], range(deg - 2, deg + 3)
                deg = min((d for d in near if (d - root) % 7 in (0, 2, 4)), key=lambda d: abs(d - deg))
            syls.append((t + beats * p.beat, dur * p.beat, vtonic + _semis(p.scale, deg)))
            beats += dur
        p.phrases.append(syls)
        t += bar * (n_bars + int(rng.integers(1, 3)))
    return p


# ---------------------------------------------------------------- the stems
def _drums(p: _Plan, rng) -> np.ndarray:
    """Kick, snare and hi-hat templates on a per-track 16-step groove with fills and ghost notes."""
    t = np.arange(int(0.4 * SR)) / SR
    f = rng.uniform(45, 60) + rng.uniform(70, 130) * np.exp(-t / rng.uniform(0.025, 0.05))
    kick = np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / rng.uniform(0.12, 0.25))
    kick[:200] += 0.3 * rng.standard_normal(200) * np.exp(-np.arange(200) / 40)
    fs, ts = rng.uniform(170, 240), t[:int(0.3 * SR)]
    tone = (np.sin(2 * np.pi * fs * ts) + 0.5 * np.sin(2 * np.pi * 1.6 * fs * ts)) * np.exp(-ts / 0.05)
    tau_s, lo_h = rng.uniform(0.07, 0.14), rng.uniform(6000, 8500)
    snares = [0.5 * tone + _noise(rng, len(ts), 1200, 9000) * np.exp(-ts / tau_s) for _ in range(3)]
    hats = [_noise(rng, len(ts), lo_h) * np.exp(-ts / tau) for tau in (0.025, 0.03, 0.035, 0.2)]
    kicks, hat_step, open_hat = KICKS[rng.integers(len(KICKS))], int(rng.choice([1, 2, 2])), rng.random() < 0.5
    parts = np.zeros((3, p.n))
    for bar in range(int(p.n / SR / (4 * p.beat)) + 1):
        fill = bar % 4 == 3 and rng.random() < 0.7
        for step in range(16):
            at = ((bar * 16 + step) * p.beat / 4 + rng.normal(0, 0.004)) * SR
            vel = rng.uniform(0.8, 1.0)
            if step in kicks:
                _place(parts[0], at, vel * kick)
            if step in (4, 12) or (fill and step >= 12):  # backbeat, or a crescendo fill
                vel *= 0.6 + 0.1 * (step - 11) if fill and step != 12 else 1.0
                _place(parts[1], at, vel * snares[rng.integers(3)])
            elif step % 2 and rng.random() < 0.08:
                _place(parts[1], at, 0.25 * vel * snares[rng.integers(3)])
            if step % hat_step == 0:
                is_open = open_hat and step == 14
                _place(parts[2], at, (0.5 if step % 4 else 0.8) * vel * hats[3 if is_open else rng.integers(3)])
    return (_stereo(parts[0], 0.0) + _stereo(parts[1], rng.uniform(-0.2, 0.2))
            + 0.35 * _stereo(parts[2], rng.uniform(-0.5, 0.5), int(rng.integers(0, 20))))


def _bass(p: _Plan, rng) -> np.ndarray:
    """Bass riff on the chord roots (plus fifths / octaves), plucked and a little bright."""
    riff, legato = BASS_RIFFS[rng.integers(len(BASS_RIFFS))], rng.uniform(0.6, 0.95)
    amps, tau, bd = (1.0 / np.arange(1, 11)) ** rng.uniform(0.8, 1.6), rng.uniform(0.3, 0.8), rng.uniform(0.2, 0.8)
    base, out, step = 28 + (p.tonic - 4) % 12, np.zeros(p.n), p.beat / 4
    for bar in range(int(p.n / SR / (4 * p.beat)) + 1):
        root = p.chord(bar)[0] % 12
        for i, (s, interval) in enumerate(riff):
            nxt = riff[i + 1][0] if i + 1 < len(riff) else 16
            midi = base + root + interval
            note = _pluck(_hz(midi - 12 * (midi > 47)), int((nxt - s) * step * legato * SR), amps, tau, bd)
            _place(out, ((bar * 16 + s) * step + rng.normal(0, 0.003)) * SR, rng.uniform(0.85, 1.0) * note)
    return _stereo(out, 0.0)


def _other(p: _Plan, rng) -> np.ndarray:
    """Organ/string pad on every bar, arpeggio or chord stabs on most bars, lead fills in vocal rests."""
    bar_s, n_bars = 4 * p.beat, int(p.n / SR / (4 * p.beat)) + 1
    pad_amps = (1.0 / np.arange(1, 13)) ** rng.uniform(0.5, 1.2) * rng.uniform(0.3, 1.0, 12)
    detune, attack, stabs = rng.uniform(0.002, 0.006), rng.uniform(0.05, 0.25), rng.random() < 0.5
    arp_step, arp_amps = int(rng.choice([2, 2, 4])), (1.0 / np.arange(1, 13)) ** rng.uniform(0.6, 1.3)
    arp_tau, pad, arp, lead = rng.uniform(0.15, 0.5), *np.zeros((3, p.n))
    pad_low, arp_oct = p.voice - 9 + int(rng.integers(-2, 3)), p.voice - 4 + int(rng.integers(0, 7))
    n_pad, organ = int((bar_s + 0.3) * SR), _wavetable(pad_amps)
    tpad, pad_env = np.arange(n_pad) / SR, _fade(n_pad, attack, 0.3)
    for bar in range(n_bars):
        tones = [pad_low + (p.tonic + s - pad_low) % 12 for s in p.chord(bar)]
        for f in _hz(tones + [tones[0] + 12]):
            for d in (1 - detune, 1 + detune):
                _place(pad, bar * bar_s * SR, organ(2 * np.pi * f * d * tpad + rng.uniform(0, 6.3)) * pad_env)
        if rng.random() < 0.8:
            order = sorted(arp_oct + (p.tonic + s - arp_oct) % 12 for s in p.chord(bar))
            order = order + [order[0] + 12, order[1] + 12]
            for j, s in enumerate((2, 6, 10, 14) if stabs else range(0, 16, arp_step)):
                chord = order[:3] if stabs else [order[j % len(order)]]
                note = sum(_pluck(f, int(0.6 * SR), arp_amps, arp_tau, 0.5) for f in _hz(chord))
                _place(arp, (bar * bar_s + s * p.beat / 4) * SR, rng.uniform(0.7, 1.0) * note)
    if rng.random() < 0.6:  # lead fills (saw-like, no vibrato) where the singer rests
        ends = [0.0] + [ph[-1][0] + ph[-1][1] for ph in p.phrases]
        starts = [ph[0][0] for ph in p.phrases] + [p.n / SR]
        for a, b in zip(ends, starts):
            t = a + 0.5 * p.beat
            while t < b - p.beat:
                f = _hz(p.voice - 5 + (p.tonic + _semis(p.scale, int(rng.integers(0, 9))) - p.voice + 5) % 24)
                _place(lead, t * SR, _pluck(f, int(0.9 * p.beat * SR), 1.0 / np.arange(1, 16), 1.0, 0.1, 0.02))
                t += p.beat * float(rng.choice([0.5, 1.0]))
    return (0.2 * _stereo(pad, rng.uniform(-0.4, 0.4), int(rng.integers(0, 30)))
            + 0.5 * _stereo(arp, rng.uniform(-0.6, 0.6)) + 0.3 * _stereo(lead, rng.uniform(-0.5, 0.5), 10))


def _sing(p: _Plan, rng, voice: dict, syls: list) -> np.ndarray:
    """One vocal phrase from syllables (onset, duration, midi): mono, starting at the first onset."""
    on, dur, notes = (np.array(v, float) for v in zip(*syls))
    t0, t1 = on[0], on[-1] + dur[-1]
    tc = t0 + np.arange(int((t1 - t0) * SR / CTRL) + 2) * CTRL / SR
    idx = np.clip(np.searchsorted(on, tc, "right") - 1, 0, len(on) - 1)
    since, until = tc - on[idx], on[idx] + dur[idx] - tc
    scoop = rng.uniform(0, 0.8, len(on))[idx] * np.exp(-since / 0.05)
    vib = np.sin(2 * np.pi * voice["vib_rate"] * tc + rng.uniform(0, 6.3))  # fades in 0.15 s into a note
    vib *= voice["vib_depth"] * np.clip((since - 0.15) / 0.25, 0, 1)
    jitter = 0.08 * _smooth(rng.standard_normal(len(tc)), 0.03)
    f0 = _hz(_smooth(notes[idx], 0.05) - scoop + vib + jitter)
    vowels = rng.integers(0, len(VOWELS), len(on))
    formants = _smooth(VOWELS[vowels[idx]] * voice["tract"], 0.07)  # (frames, 4)
    floor = rng.choice([0.0, 0.3, 0.6], len(on))[idx]
    env = floor + (1 - floor) * np.clip(np.minimum(since / 0.03, until / 0.07), 0, 1)  # syllable dips
    env *= rng.uniform(0.7, 1.0, len(on))[idx] * (1 - 0.25 * np.clip(since / 1.5, 0, 1))  # velocity, decay
    env *= np.clip(np.minimum((tc - t0) / 0.03, (t1 - tc) / 0.08), 0, 1)  # phrase on/off
    k = np.arange(1, int(11000 / f0.min()) + 1)[:, None]
    fk = k * f0[None, :]
    shape = sum(g / np.sqrt(1 + ((fk - f) / (0.5 * b)) ** 2) for f, g, b in zip(formants.T, FORMANT_GAIN, FORMANT_BW))
    amps = (shape + 0.02) * k ** -voice["tilt"] * np.clip((11000 - fk) / 1500, 0, 1)
    ts = t0 + np.arange(int((t1 - t0) * SR)) / SR
    phase = 2 * np.pi * np.cumsum(np.interp(ts, tc, f0)) / SR
    y = _harmonics(phase, (np.interp(ts, tc, a) for a in amps))
    y += voice["breath"] * _noise(rng, len(ts), 1500, 9000) * np.abs(y).max()
    return y * np.interp(ts, tc, env)


def _vocals(p: _Plan, rng) -> np.ndarray:
    """The singer: per-track voice (tract length, tilt, vibrato, breathiness), phrases, consonants, breaths."""
    voice = dict(tract=rng.uniform(0.9, 1.15), tilt=rng.uniform(0.9, 1.5), vib_rate=rng.uniform(5.0, 6.2),
                 vib_depth=rng.uniform(0.2, 0.5), breath=rng.uniform(0.01, 0.04))
    out = np.zeros(p.n)
    for syls in p.phrases:
        if syls[0][0] * SR >= p.n:
            break
        seg = _sing(p, rng, voice, syls)
        peak = np.abs(seg).max()
        _place(out, syls[0][0] * SR, seg)
        breath = _noise(rng, int(0.3 * SR), 700, 5000) * _fade(int(0.3 * SR), 0.15, 0.1)
        _place(out, (syls[0][0] - 0.35) * SR, rng.uniform(0.015, 0.04) * peak * breath)
        for onset, _, _ in syls:
            if rng.random() < 0.4:
                lo, hi, length = CONSONANTS[rng.integers(len(CONSONANTS))]
                burst = _noise(rng, int(length * SR), lo, hi) * _fade(int(length * SR), 0.3 * length, 0.5 * length)
                _place(out, (onset - 0.8 * length) * SR, rng.uniform(0.08, 0.2) * peak * burst)
    return _stereo(out, rng.uniform(-0.15, 0.15), int(rng.integers(-8, 9)))


def _reverb(rng) -> np.ndarray:
    """A stereo room impulse response: 15 ms pre-delay, exponentially decaying low-passed noise."""
    rt60 = rng.uniform(0.4, 0.9)
    n = int(rt60 * SR)
    decay = np.exp(-6.9 * np.arange(n) / SR / rt60)[:, None]
    ir = np.stack([_noise(rng, n, hi=6000), _noise(rng, n, hi=6000)], axis=1) * decay
    return np.concatenate([np.zeros((int(0.015 * SR), 2)), ir / np.sqrt(np.sum(ir ** 2) / 2)])


def _active_rms(x: np.ndarray) -> float:
    """RMS over the 0.1 s blocks within 40 dB of the loudest: a stem's level while it plays."""
    blocks = np.mean(x[:len(x) // 4410 * 4410].reshape(-1, 4410, x.shape[1]) ** 2, axis=(1, 2))
    if not len(blocks) or blocks.max() <= 0:
        return 1.0  # silent (e.g. vocals of a track shorter than its one-bar intro)
    return float(np.sqrt(np.mean(blocks[blocks > 1e-4 * blocks.max()])))


def track_name(seed: int, index: int) -> str:
    """Track `index`'s name in dataset `seed`, e.g. 'Toy 003 - Velvet Harbours' (the number makes it unique)."""
    rng = np.random.default_rng([seed, index, 99])
    return f"Toy {index:03d} - {ADJ[rng.integers(len(ADJ))]} {NOUN[rng.integers(len(NOUN))]}"


def synth_track(seed: int, index: int, seconds: float) -> tuple[str, dict[str, np.ndarray]]:
    """Track `index` of dataset `seed`: its name and int16 (samples, 2) arrays for mixture and STEMS."""
    rngs = [np.random.default_rng([seed, index, k]) for k in range(7)]
    p = _plan(rngs[0], seconds)
    dry = {"drums": _drums(p, rngs[1]), "bass": _bass(p, rngs[2]), "other": _other(p, rngs[3]),
           "vocals": _vocals(p, rngs[4])}
    mix_rng, ir = rngs[5], _reverb(rngs[6])
    nfft = sfft.next_fast_len(p.n + len(ir), real=True)
    room = sfft.rfft(ir, nfft, axis=0)  # mono send -> stereo return, one FFT per stem
    wet = {"drums": (0.03, 0.1), "bass": (0.0, 0.0), "other": (0.1, 0.25), "vocals": (0.1, 0.3)}
    gain_db = {"drums": (-3, 1), "bass": (-3, 1), "other": (-2, 2), "vocals": (0, 4)}
    stems, edges = {}, _fade(p.n, 0.005, 0.005)  # no click at either end of the file
    for s in STEMS:
        send = sfft.rfft(dry[s].mean(axis=1), nfft)[:, None] * room if s != "bass" else 0
        x = dry[s] + mix_rng.uniform(*wet[s]) * (sfft.irfft(send, nfft, axis=0)[:p.n] if s != "bass" else 0)
        x *= edges[:, None]
        stems[s] = x / _active_rms(x) * 10 ** (mix_rng.uniform(*gain_db[s]) / 20)
    mix = sum(stems.values())
    scale = min(mix_rng.uniform(0.55, 0.88) / max(np.abs(mix).max(), 1e-12),
                0.95 / max(max(np.abs(x).max() for x in stems.values()), 1e-12))
    out = {s: np.round(x * scale * 32767).astype(np.int16) for s, x in stems.items()}
    total = sum(out[s].astype(np.int32) for s in STEMS)
    assert np.abs(total).max() <= 32767, "toy mixture would clip"
    return track_name(seed, index), {"mixture": total.astype(np.int16), **out}


# ---------------------------------------------------------------- the dataset on disk
