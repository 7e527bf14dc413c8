"""Build the 16:9 PDF report from result files only (it never trains or separates).

    hw2sep-report                                   # results/, runs/umx, samples/, experiments/
    hw2sep-report --results WORK/results --run WORK/runs/umx --samples WORK/samples \
        --experiments WORK/experiments --out report/report.pdf
    hw2sep-report --results scratch/smoke/results --run scratch/smoke/runs/umx \\
        --samples scratch/smoke/samples --out scratch/smoke/report/report.pdf

Name, student ID, code link and novelty points come from report/report_config.json; a slide whose
results are missing says so. Figures are also written as PNG and PDF to FIGURES (default: the
output's folder/figures, i.e. report/figures).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hw2sep.errors import Hw2sepError
from hw2sep.report.build import build_report, load_config, placeholders_left

REPO = Path(__file__).resolve().parents[2]


def main(argv=None) -> None:
    """Parse the options, build the report and print where it went."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(REPO / "results"), help="evaluation folder (comparison.csv)")
    parser.add_argument("--run", default=str(REPO / "runs" / "umx"), help="training run folder (log.csv, *.json)")
    parser.add_argument("--samples", default=str(REPO / "samples"), help="listening samples folder (index.json)")
    parser.add_argument("--experiments", default=str(REPO / "experiments"),
                        help="experiments folder of python -m hw2sep.experiments.runner / notebooks 07-08 (NAME/table.csv)")
    parser.add_argument("--config", default=None, help="report config json (default: report/report_config.json)")
    parser.add_argument("--out", default=str(REPO / "report" / "report.pdf"), help="output PDF")
    parser.add_argument("--figures", default=None, help="figure folder (default: OUT's folder/figures)")
    parser.add_argument("--epochs", default=None, help="comma-separated epochs for the SDR table (default: config's, "
                                                       "25,50,150)")
    args = parser.parse_args(argv)
    if args.config is not None and not Path(args.config).exists():
        raise Hw2sepError(f"--config {args.config} does not exist")
    config = load_config(args.config or REPO / "report" / "report_config.json")
    try:
        epochs = [int(e) for e in args.epochs.split(",") if e] if args.epochs else None
    except ValueError:
        raise Hw2sepError(f"--epochs wants comma-separated integers, got '{args.epochs}'") from None
    titles: list[str] = []
    out = build_report(args.results, args.run, args.samples, args.out, config, args.figures, epochs, titles,
                       experiments=args.experiments)
    print(f"wrote {out} ({len(titles)} slides)")
    left = placeholders_left(config)
    if left:
        print(f"note: report_config.json still has placeholders in {', '.join(left)}", file=sys.stderr)

