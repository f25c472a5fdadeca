"""Evaluate methods: python eval.py --config configs/eval/default.yaml [key=value ...]"""

import argparse
import sys

from adain.core.errors import UserError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", help="YAML with the keys that differ from adain.evaluation.config.EvalConfig")
    parser.add_argument("overrides", nargs="*", help="dot-overrides such as size=256 methods.0.options.alpha=0.5")
    args = parser.parse_args(argv)
    try:
        from adain.evaluation import load_eval_config, run

        return run(load_eval_config(args.config, args.overrides))
    except UserError as exc:
        print(f"eval.py: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
