"""One word, one definition: the sample rate, stem and target names, metric names (methods: hw2sep.dsp.methods).

Everything else imports these; nothing retypes them.
"""

from __future__ import annotations

SAMPLE_RATE = 44100
STEMS = ("drums", "bass", "other", "vocals")  # the MUSDB18 stems besides the mixture
TARGETS = ("vocals", "accompaniment")  # what the model separates; accompaniment = drums + bass + other
METRICS = ("SDR", "ISR", "SIR", "SAR")  # BSS Eval image metrics, in the order museval.evaluate returns them
