"""Refactors change no number: the toy pipeline (training logs, infer tables, waveform hashes) equals golden.json.

An intended numeric change regenerates tests/golden/golden.json (python tests/golden/golden_run.py) in a commit
of its own that says why.
"""

import json

from golden.golden_run import GOLDEN, run_pipeline


def test_pipeline_equals_golden_outputs(tmp_path):
    golden, fresh = json.loads(GOLDEN.read_text()), run_pipeline(tmp_path)
    for part in ("logs", "infer", "waveforms"):
        for name, expected in golden[part].items():
            assert fresh[part][name] == expected, f"{part}/{name} changed"
