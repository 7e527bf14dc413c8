"""Generate the procedural toy MUSDB (MUSDB18-HQ layout): python -m data_prep.make_toy_musdb --out DIR [...]

The same command as hw2sep-toy (hw2sep/cli/toy.py holds it); --help lists the options.
"""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import hw2sep from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from hw2sep.cli import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run("toy"))
