"""Convert MUSDB18 / MUSDB18-HQ to the npy cache that training reads: python -m data_prep.musdb_to_npy --musdb-root PATH --out NPY

The same command as hw2sep-prep (hw2sep/cli/prep.py holds it); --help lists the options.
"""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import hw2sep from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from hw2sep.cli import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run("prep"))
