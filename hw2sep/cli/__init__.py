"""Command-line front ends: the table of commands behind every ``hw2sep-NAME`` script and ``python -m hw2sep NAME``.

Owns: the command table, dispatch, and the argparse front ends of the commands whose scripts live outside the
package (``prep``, ``toy``, ``report``; data_prep/ and report/ keep thin scripts that call them).
May import: every stage (a front end parses its arguments, then calls the stage's public function, the one the
notebooks call). Each command's ``main(argv)`` raises ``Hw2sepError`` for bad input; ``run`` turns it into one line.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Sequence

from hw2sep.errors import run_cli

COMMANDS = {  # name -> (module with main(argv), what it does)
    "infer": ("hw2sep.infer", "the TA's command: test-set SDR with two phase methods, listening samples"),
    "toy": ("hw2sep.cli.toy", "generate the procedural toy MUSDB (no download)"),
    "prep": ("hw2sep.cli.prep", "MUSDB18 / MUSDB18-HQ -> the npy cache that training reads"),
    "train": ("hw2sep.training.train", "train a zoo model from a config, resumably"),
    "train-vocoder": ("hw2sep.training.train_vocoder", "train the mel vocoder (optional task 3)"),
    "evaluate": ("hw2sep.evaluation.evaluate", "score checkpoints x reconstruction methods (museval SDR)"),
    "experiment": ("hw2sep.experiments.runner", "run an optional-task study (configs/experiments/NAME.json)"),
    "report": ("hw2sep.cli.report", "build the PDF report from result files"),
    "models": ("hw2sep.models.__main__", "list the zoo: parameters, predicts, STFT, loss"),
}


def run(name: str, argv: Sequence[str] | None = None) -> int:
    """Run command ``name`` with ``argv``; returns the exit code (one ``error:`` line on bad input)."""
    module = importlib.import_module(COMMANDS[name][0])
    return run_cli(module.main, argv)


def dispatch(argv: Sequence[str] | None = None) -> int:
    """``python -m hw2sep NAME [ARGS]``: run one command, or list them."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        print("usage: python -m hw2sep NAME [ARGS]   (or hw2sep-NAME [ARGS]; NAME --help for its options)\n")
        print("\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()))
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    return run(argv[0], argv[1:])


def console() -> int:
    """Entry point of every ``hw2sep-NAME`` console script: the command is the script's name."""
    return run(Path(sys.argv[0]).name.removeprefix("hw2sep-").removesuffix(".exe"))
