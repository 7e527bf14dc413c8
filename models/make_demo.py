"""Rebuild the demo checkpoint models/umx_vocals.{pt,json}: a small UMX trained on the toy set, on CPU.

    python -m models.make_demo [--epochs 40]

It exists so that `python hw2sep/infer.py` works on a fresh machine; it is NOT a MUSDB18 model
(its json says so). Replace it with your own best checkpoint for grading (see README.txt).
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

from hw2sep.data.excerpts import Augment
from hw2sep.errors import run_cli
from hw2sep.common.files import write_json
from hw2sep.data.npy_cache import convert_to_npy
from hw2sep.data.toy import DEMO_TOY, ensure_demo_toy_musdb
from hw2sep.training.train import TrainConfig, fit

MODELS = Path(__file__).resolve().parent


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--work", default="scratch/demo", help="scratch folder for the npy cache and the run")
    args = parser.parse_args(argv)
    work = Path(args.work)
    root = ensure_demo_toy_musdb()
    convert_to_npy(root, work / "npy")
    config = TrainConfig(npy_root=str(work / "npy"), out=str(work / "run"), epochs=args.epochs, batch_size=8,
                         seq_dur=4.0, samples_per_track=16, model_options={"hidden_size": 64}, nb_workers=0,
                         seed=0, checkpoint_epochs=(), augment=Augment(), device="cpu", lr_decay_patience=10)
    fit(config, resume=True)
    meta = json.loads((work / "run" / "best.json").read_text())
    meta.update(demo=True, dataset=f"toy MUSDB (procedural, hw2sep.data.toy {DEMO_TOY}); NOT MUSDB18")
    shutil.copyfile(work / "run" / "best.pt", MODELS / "umx_vocals.pt")
    write_json(MODELS / "umx_vocals.json", meta)
    print(f"wrote {MODELS / 'umx_vocals.pt'} (epoch {meta['epoch']}, valid loss {meta['valid_loss']:.5f})")


if __name__ == "__main__":
    sys.exit(run_cli(main))
