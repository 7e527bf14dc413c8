"""Build the 16:9 PDF report from result files only: python -m report.build_report [--results ...]

The same command as hw2sep-report (hw2sep/cli/report.py holds it); --help lists the options.
"""

import sys

from hw2sep.cli import run

if __name__ == "__main__":
    sys.exit(run("report"))
