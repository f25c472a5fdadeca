"""Where the flaws come from in the shipped decoder: each skip input scaled down or removed, on the
flaw measures and the independent ones (the pairs and measures of std_floor.py; Magenta's row is
std_floor.json's).

    .venv/bin/python experiments/eval/artefacts/ablate.py --pairs 8 \
        --out experiments/eval/artefacts/ablate.json [--sheet experiments/eval/artefacts/ablate.jpg]

A skip decoder adds proj_l(AdaIN(φ_l(c), φ_l(s))) at relu3_1, relu2_1 and relu1_1 to its hidden
map; scaling proj_l's weights and bias by k scales that term by k (k = 0: the tap is not used).
The decoder was trained with every term at 1, so k < 1 also shows what the rest of it does alone.
"""

import argparse
import copy
from pathlib import Path

import torch
from variants import DATA, protocol_pairs, run_variants

from adain import load

# variant name → {tap: factor}; taps not named keep 1
VARIANTS = {
    "shipped": {},
    "relu1_1 x0": {"relu1_1": 0.0},
    "relu2_1 x0": {"relu2_1": 0.0},
    "relu3_1 x0": {"relu3_1": 0.0},
    "all skips x0.5": {"relu1_1": 0.5, "relu2_1": 0.5, "relu3_1": 0.5},
    "no skips": {"relu1_1": 0.0, "relu2_1": 0.0, "relu3_1": 0.0},
    "relu2_1 x0.5": {"relu2_1": 0.5},
    "relu2_1 x0.25": {"relu2_1": 0.25},
    "relu1_1+2_1 x0.5": {"relu1_1": 0.5, "relu2_1": 0.5},
    "relu2_1 x0, relu1_1 x0.5": {"relu1_1": 0.5, "relu2_1": 0.0},
}


def scaled(stylizer, factors: dict[str, float]):
    """A copy of `stylizer` whose skip projections are scaled by `factors`."""
    variant = copy.deepcopy(stylizer)
    with torch.no_grad():
        for tap, factor in factors.items():
            for parameter in variant.model.decoder.skip_proj[tap].parameters():
                parameter.mul_(factor)
    return variant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sheet", type=Path, help="content | style | each variant, one row a pair (JPEG)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    shipped = load()
    stylizers = {name: scaled(shipped, VARIANTS[name]) for name in args.variants}
    variants = {name: (lambda content, style, s=s: s.stylize(content, style, content_size=0, supersample=1))
                for name, s in stylizers.items()}
    run_variants(protocol_pairs(args.data, args.pairs), variants, args.out, args.sheet,
                 extra={"variants": {name: VARIANTS[name] for name in args.variants}})


if __name__ == "__main__":
    main()
