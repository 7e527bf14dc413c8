"""One word, one definition: the sample rate, stem and target names, metric names and labels, the checkpoint epochs
(25, 50, 150) and the epoch_NNN checkpoint name (reconstruction methods: hw2sep.dsp.methods). Torch-free.

Everything else imports these; nothing retypes them.
"""

from __future__ import annotations

SAMPLE_RATE = 44100
STEMS = ("drums", "bass", "other", "vocals")  # the MUSDB18 stems besides the mixture
TARGETS = ("vocals", "accompaniment")  # what the model separates; accompaniment = drums + bass + other
METRICS = ("SDR", "ISR", "SIR", "SAR")  # BSS Eval image metrics, in the order museval.evaluate returns them
METRIC_LABELS = {  # scorer (--metric, summary.json "metric") -> its name with the BSS Eval version
    "museval": "museval, BSS Eval v4",
    "fast": "fast, BSS Eval v4 (museval-equivalent)",
    "mir_eval": "mir_eval, BSS Eval v3",
}


def metric_label(metric: str | None) -> str:
    """'museval, BSS Eval v4' for a scorer name; 'metric: missing' when none was recorded."""
    if not metric:
        return "metric: missing"
    return METRIC_LABELS.get(metric, str(metric))

# Training checkpoints: the epochs the assignment asks about, and the file name of an epoch's checkpoint.
CHECKPOINT_EPOCHS = (25, 50, 150)


def epoch_label(epoch: int) -> str:
    """The checkpoint name of an epoch: 7 -> 'epoch_007' (RUN/epoch_007.pt and .json)."""
    return f"epoch_{epoch:03d}"


def epoch_of(label: str) -> int | None:
    """The epoch in a checkpoint label like ``epoch_025``, else None (the inverse of ``epoch_label``)."""
    head, _, digits = label.partition("_")
    return int(digits) if head == "epoch" and digits.isdigit() and digits.isascii() else None
