"""hw2sep: vocals / accompaniment separation for HW2 (MUSDB18, Open-Unmix, Griffin-Lim).

One concern per module: `data` (datasets on disk), `toy` (procedural MUSDB), `prep` (npy cache),
`datasets` (torch training data), `transforms` (STFT), `models` (networks), `train`,
`checkpoint`, `devices`, `phase` (reconstruction), `separate`, `metrics` (BSS Eval v4),
`evaluate`, `samples`, `infer` (the TA's command); for the notebooks and the report: `notebook`,
`results` (reading result files), `plots`, `slides`, `report_text`, `report`.
"""

__version__ = "0.1.0"

SAMPLE_RATE = 44100
STEMS = ("drums", "bass", "other", "vocals")
TARGETS = ("vocals", "accompaniment")
