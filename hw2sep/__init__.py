"""hw2sep: vocals / accompaniment separation for HW2 (MUSDB18, Open-Unmix, Griffin-Lim).

One concern per module: `names` (sample rate, stems, targets, metric and method names), `data`
(datasets on disk), `toy` (procedural MUSDB), `prep` (npy cache), `datasets` (torch training data),
`transforms` (STFT), `models` (networks), `train`, `checkpoint`, `devices`, `phase`
(reconstruction), `separate`, `metrics` (BSS Eval v4 / v3), `evaluate`, `samples`, `infer` (the TA's
command), `results` (reading result files); `report/` holds what the notebooks and the PDF report
use: `notebook`, `settings`, `plots`, `slides`, `text`, `build`.
"""

from hw2sep.names import SAMPLE_RATE, STEMS, TARGETS  # noqa: F401  (re-exported: `from hw2sep import SAMPLE_RATE`)

__version__ = "0.1.0"
