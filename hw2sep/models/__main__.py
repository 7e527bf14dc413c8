"""`python -m hw2sep.models`: list the registered models and their default parameter counts."""

from hw2sep.models import MODELS, build_model, count_parameters, model_config


def main() -> None:
    width = max(map(len, MODELS))
    print(f"{'model':<{width}} {'parameters':>12}  default config")
    for name in MODELS:
        config = model_config(name)
        print(f"{name:<{width}} {count_parameters(build_model(name, config)):>12,}  {config}")


if __name__ == "__main__":
    main()
