"""hw2sep: vocals / accompaniment separation for HW2 (MUSDB18, Open-Unmix and a zoo, Griffin-Lim), by pipeline stage.

The package face: ``names`` (sample rate, stems, targets, metric names), ``errors`` and ``infer`` (the TA's command).
Stages, each a subpackage whose docstring says what it owns and may import: ``common``, ``dsp``, ``data``,
``models``, ``vocoder``, ``separation``, ``training``, ``evaluation``, ``experiments``, ``notebook``, ``report``,
``cli`` (every ``hw2sep-NAME`` command; ``python -m hw2sep`` lists them).
"""

from hw2sep.names import SAMPLE_RATE, STEMS, TARGETS  # noqa: F401  (re-exported: `from hw2sep import SAMPLE_RATE`)

__version__ = "0.1.0"
