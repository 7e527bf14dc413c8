"""hw2sep: vocals / accompaniment separation for HW2 (MUSDB18, Open-Unmix, Griffin-Lim).

One concern per module: `data` (datasets on disk), `toy` (procedural MUSDB), `prep` (npy cache),
`datasets` (torch training data), `transforms` (STFT), `models` (networks), `train`,
`checkpoint`, `phase` (reconstruction), `separate`, `metrics`, `evaluate`, `samples`, `plots`.
"""

__version__ = "0.1.0"

SAMPLE_RATE = 44100
STEMS = ("drums", "bass", "other", "vocals")
TARGETS = ("vocals", "accompaniment")
