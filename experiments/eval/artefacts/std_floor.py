"""How the AdaIN std floor (adain.nn.functional.STD_FLOOR_RATIO) changes the shipped decoder's outputs,
on the flaw measures and the independent ones, against Magenta on the same pairs.

    .venv/bin/python experiments/eval/artefacts/std_floor.py --pairs 8 --floors 0 0.05 0.1 0.2 \
        --out experiments/eval/artefacts/std_floor.json [--sheet experiments/eval/artefacts/std_floor.jpg]

Pairs: content/val[i] × style/val[7i mod 25] of the shared pack (the validation pairs train.py
scores), content at 384 px on its shorter side.
"""

import argparse
from pathlib import Path

from variants import DATA, protocol_pairs, run_variants

from adain import load
from adain.evaluation.magenta import load_magenta
from adain.nn import functional as AF


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--floors", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sheet", type=Path, help="content | style | each floor | Magenta, one row a pair (JPEG)")
    args = parser.parse_args()
    stylizer, magenta = load(), load_magenta()

    def at_floor(floor: float):
        def stylize(content, style):
            AF.STD_FLOOR_RATIO = floor  # read by adain.nn.functional.normalising_std at call time
            return stylizer.stylize(content, style, content_size=0, supersample=1)  # the plain network output
        return stylize

    variants = {f"floor {floor:g}": at_floor(floor) for floor in args.floors}
    variants["magenta"] = lambda content, style: magenta.stylize(content, style, content_size=0)
    run_variants(protocol_pairs(args.data, args.pairs), variants, args.out, args.sheet)


if __name__ == "__main__":
    main()
