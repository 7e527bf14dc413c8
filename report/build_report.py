"""Build the 16:9 PDF report from result files only: python -m report.build_report [--results ...]

The same command as hw2sep-report (hw2sep/cli/report.py holds it); --help lists the options.
"""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import hw2sep from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from hw2sep.cli import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run("report"))
