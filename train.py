"""Train a decoder: python train.py --config configs/train/default.yaml [--resume] [key=value ...]

key=value sets a key for the whole run (every stage that does not set it itself);
stages.<name>.<key>=<value> sets it in one stage of a staged recipe, over that stage's own overrides.
"""

import argparse
import signal
import sys

from adain.core.errors import UserError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML with the keys that differ from adain.train.config.TrainConfig")
    parser.add_argument("--resume", nargs="?", const="auto", help="resume from a checkpoint (default: the run's latest)")
    parser.add_argument("overrides", nargs="*", help="dot-overrides such as optim.lr=2e-4 steps=1000")
    args = parser.parse_args(argv)
    try:
        from adain.train.config import load_config
        from adain.train.stages import train

        overrides = list(args.overrides) + ([f"resume={args.resume}"] if args.resume else [])
        result = train(load_config(args.config, overrides))
    except UserError as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        return 2
    print(result)
    if result.get("stopped_by"):  # Ctrl-C / SIGTERM: not a finished run, for `&&` chains and schedulers
        return 128 + signal.Signals[result["stopped_by"]].value
    return 0


if __name__ == "__main__":
    sys.exit(main())
