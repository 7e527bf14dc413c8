"""The values a checkpoint json (RUN/NAME.json beside NAME.pt) holds, and the checks every reader shares.

Torch-free, so the report checks a checkpoint json as training and separation do (``hw2sep.models.checkpoint`` adds
the config's types against the model's dataclass).
"""

from __future__ import annotations


REPAIR = "restore it from the training run folder, or rerun python -m hw2sep.training.train"
META_COUNTS = ("epoch", "parameters")             # non-negative integers (or absent / null)
META_NUMBERS = ("valid_loss", "train_seconds")    # numbers (or absent / null)


def json_problem(meta: dict) -> str | None:
    """What is wrong with the values of a checkpoint json that every reader uses (the report too), or None."""
    def kind(value) -> str:
        return f"{value!r}"[:40]

    if not isinstance(meta.get("model"), str):
        return f"'model' is {kind(meta.get('model'))}, not a model name"
    if not isinstance(meta.get("config"), dict):
        return f"'config' is {kind(meta.get('config'))}, not an object"
    for key in META_COUNTS:
        value = meta.get(key)
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            return f"'{key}' is {kind(value)}, not a whole number"
    for key in META_NUMBERS:
        value = meta.get(key)
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)):
            return f"'{key}' is {kind(value)}, not a number"
    if "train" in meta and not isinstance(meta["train"], (dict, type(None))):
        return f"'train' is {kind(meta['train'])}, not an object"
    return None
