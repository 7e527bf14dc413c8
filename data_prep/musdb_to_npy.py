"""Convert MUSDB18 / MUSDB18-HQ to the npy cache that training reads: python -m data_prep.musdb_to_npy --musdb-root PATH --out NPY

The same command as hw2sep-prep (hw2sep/cli/prep.py holds it); --help lists the options.
"""

import sys

from hw2sep.cli import run

if __name__ == "__main__":
    sys.exit(run("prep"))
