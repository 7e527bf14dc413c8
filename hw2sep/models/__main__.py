"""`python -m hw2sep.models [-v]`: the registered models with their parameter counts and declarations."""

import sys

from hw2sep.models import MODELS, build_model, count_parameters, model_config


def main(argv=None) -> None:
    verbose = "-v" in (sys.argv[1:] if argv is None else argv)
    width = max(map(len, MODELS))
    print(f"{'model':<{width}} {'parameters':>11}  {'predicts':<9} {'STFT':<10} {'loss':<10} origin")
    for name, entry in MODELS.items():
        config = model_config(name)
        model = build_model(name, config)
        stft = f"{model.stft_params.n_fft}/{model.stft_params.hop}"
        print(f"{name:<{width}} {count_parameters(model):>11,}  {model.predicts:<9} {stft:<10} "
              f"{model.default_loss:<10} {entry.origin}")
        if verbose:
            print(f"{'':<{width}}   {config}")


if __name__ == "__main__":
    main()
