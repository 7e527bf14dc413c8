"""Generate the procedural toy MUSDB (MUSDB18-HQ layout): python -m data_prep.make_toy_musdb --out DIR [...]

The same command as hw2sep-toy (hw2sep/cli/toy.py holds it); --help lists the options.
"""

import sys

from hw2sep.cli import run

if __name__ == "__main__":
    sys.exit(run("toy"))
