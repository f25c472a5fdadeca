"""Blind forced-choice comparison of two methods on the pairs of an eval.py run.

    # 1. trial images (content | style | LEFT | RIGHT), a blank answers.csv and the key
    .venv/bin/python experiments/eval/forced_choice.py prepare runs/eval/methods "adain[alpha=1]" magenta \
        runs/forced_choice/adain-vs-magenta [--seed 0] [--max-trials 40]
    # 2. a person opens trials/*.png in order and writes L, R or = into answers.csv (not looking at key.json)
    # 3. unblind
    .venv/bin/python experiments/eval/forced_choice.py score runs/forced_choice/adain-vs-magenta

    # a panel: three judges, one set per comparison each, the keys kept apart in PANEL/keys/
    .venv/bin/python experiments/eval/forced_choice.py panel runs/eval/pairing_c_recipe PANEL \
        --compare "recipe[supersample=2]" "shipped-x2[supersample=2]" --compare "recipe[supersample=2]" magenta \
        --judges 3 --seed 20 [--max-trials 32]
    # give each helper only: "Read PANEL/judgeJ/instructions.md and follow it exactly."; then
    .venv/bin/python experiments/eval/forced_choice.py pool PANEL      # per judge and pooled; PANEL/pooled.json
    # kept where the verdict is cited: DEST/judgeN-SETNAME/{answers.csv,key.json,result.json}, DEST/pooled_NAME.json
    .venv/bin/python experiments/eval/forced_choice.py archive PANEL DEST --name recipe --first-judge N \
        --sets recipe-vs-shipped-x2 recipe-vs-magenta      # N: the next free judge number in DEST

See docs/evaluation.md ("Judging by eye") and adain/evaluation/forced_choice.py.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from adain.core.errors import UserError  # noqa: E402
from adain.evaluation.forced_choice import archive, pool, prepare, prepare_panel, score  # noqa: E402


def _percent(share: float | None, decimals: int, unit: str = "") -> str:
    """A share of decided trials in per cent; '–' where every trial was a tie (no share)."""
    return "–" if share is None else f"{100 * share:.{decimals}f}{unit}"


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
    panel = commands.add_parser("panel", help="one folder per judge (instructions, one set per comparison), keys apart")
    panel.add_argument("run_dir", type=Path, help="an eval.py run dir (its metrics.csv and outputs/)")
    panel.add_argument("panel_dir", type=Path, help="a new folder")
    panel.add_argument("--compare", nargs=2, action="append", required=True, metavar=("A", "B"),
                       help="two variant labels of metrics.csv; repeat for more sets")
    panel.add_argument("--judges", type=int, default=3)
    panel.add_argument("--seed", type=int, default=0, help="each judge and set draws from 1000·seed + 10·J + K")
    panel.add_argument("--max-trials", type=int, default=32, help="trials per set (0: every shared pair)")
    pooled = commands.add_parser("pool", help="score a panel's answers, per judge and pooled")
    pooled.add_argument("panel_dir", type=Path, help="the folder `panel` wrote")
    keep = commands.add_parser("archive", help="copy a judged panel's answers, keys and results where they are cited")
    keep.add_argument("panel_dir", type=Path, help="the folder `panel` wrote, its answers filled")
    keep.add_argument("dest_dir", type=Path, help="e.g. experiments/eval/artefacts/forced_choice_pairing_d")
    keep.add_argument("--name", required=True, help="pooled results go to DEST/pooled_NAME.json")
    keep.add_argument("--first-judge", type=int, required=True, help="the number of the panel's judge1 in DEST")
    keep.add_argument("--sets", nargs="+", required=True, help="one folder name per set, in set order")
    args = parser.parse_args(argv)
    try:
        if args.command == "panel":
            prepare_panel(args.run_dir, [tuple(c) for c in args.compare], args.panel_dir, args.judges, args.seed,
                          args.max_trials)
            sets = "1 set" if len(args.compare) == 1 else f"{len(args.compare)} sets"
            print(f"{args.judges} judges × {sets} in {args.panel_dir}/judge*/ "
                  f"(give each judge its folder's instructions.md only); keys in {args.panel_dir / 'keys'}")
        elif args.command == "pool":
            results = pool(args.panel_dir)
            print("| A vs B | wins | losses | ties | share (judges) | 95 % interval | p |")
            print("|---|---:|---:|---:|---|---|---:|")
            for r in results:
                judges = ", ".join(_percent(j["share_a"], 0) for _, j in  # judge1, judge2, …, judge10
                                   sorted(r["judges"].items(), key=lambda item: int(item[0].removeprefix("judge"))))
                low, high = r["share_a_95ci"]
                print(f"| {r['a']} vs {r['b']} | {r['wins_a']} | {r['wins_b']} | {r['ties']} | "
                      f"{_percent(r['share_a'], 1, ' %')} ({judges}) | {100 * low:.0f}–{100 * high:.0f} % | {r['p_value']:.2g} |")
                if r["answered"] < r["trials"]:
                    print(f"  note: {r['trials'] - r['answered']} of {r['trials']} trials unanswered")
            (args.panel_dir / "pooled.json").write_text(json.dumps(results, indent=1))
        elif args.command == "archive":
            for kept in archive(args.panel_dir, args.dest_dir, args.name, args.first_judge, args.sets):
                print(f"set{kept['set']} ({kept['a']} vs {kept['b']}) → {kept['folder']}")
            print(f"pooled: {args.dest_dir / f'pooled_{args.name}.json'}")
        elif args.command == "prepare":
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
