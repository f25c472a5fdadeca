"""Blind forced-choice comparison of two methods on the pairs of an eval.py run.

    # 1. trial images (content | style | LEFT | RIGHT), a blank answers.csv and the key
    .venv/bin/python experiments/eval/forced_choice.py prepare runs/eval/methods "adain[alpha=1]" magenta \
        runs/forced_choice/adain-vs-magenta [--seed 0] [--max-trials 40]
    # 2. a person opens trials/*.png in order and writes L, R or = into answers.csv (not looking at key.json)
    # 3. unblind
    .venv/bin/python experiments/eval/forced_choice.py score runs/forced_choice/adain-vs-magenta

See docs/evaluation.md ("Judging by eye") and adain/evaluation/forced_choice.py.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from adain.core.errors import UserError  # noqa: E402
from adain.evaluation.forced_choice import prepare, score  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("prepare", help="write the trials, a blank answers.csv and key.json")
    make.add_argument("run_dir", type=Path, help="an eval.py run dir (its metrics.csv and outputs/)")
    make.add_argument("a", help="variant label as in metrics.csv, e.g. 'adain[alpha=1]'")
    make.add_argument("b", help="the other variant, e.g. magenta")
    make.add_argument("out_dir", type=Path)
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--max-trials", type=int, default=0, help="0: every shared pair")
    judge = commands.add_parser("score", help="unblind a filled answers.csv")
    judge.add_argument("out_dir", type=Path, help="the folder `prepare` wrote")
    judge.add_argument("--answers", type=Path, help="default: OUT_DIR/answers.csv")
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            trials = prepare(args.run_dir, args.a, args.b, args.out_dir, args.seed, args.max_trials)
            print(f"{len(trials)} trials in {args.out_dir / 'trials'}; answers go in {args.out_dir / 'answers.csv'} "
                  f"(L, R or =); do not open {args.out_dir / 'key.json'} before scoring")
        else:
            result = score(args.out_dir / "key.json", args.answers or args.out_dir / "answers.csv")
            print(json.dumps(result, indent=1))
            (args.out_dir / "result.json").write_text(json.dumps(result, indent=1))
    except (UserError, OSError) as exc:
        print(f"forced_choice: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
