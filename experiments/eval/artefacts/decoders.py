"""Decoder files side by side on the flaw measures and the independent ones (the pairs and measures
of std_floor.py): the quick check of a training probe before anything is judged by eye.

    .venv/bin/python experiments/eval/artefacts/decoders.py --pairs 8 \
        --decoders shipped control=runs/probe/control/decoder.safetensors ... \
        [--supersample 1 2] --out experiments/eval/artefacts/PROBE.json [--sheet PROBE.jpg]

Each LABEL=FILE (or "shipped") is scored at every --supersample factor, as "LABEL x1", "LABEL x2".
"""

import argparse
from pathlib import Path

from variants import DATA, protocol_pairs, run_variants

from adain import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decoders", nargs="+", required=True, help='"shipped" or LABEL=FILE')
    parser.add_argument("--supersample", nargs="+", type=int, default=[1])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sheet", type=Path, help="content | style | each variant, one row a pair (JPEG)")
    args = parser.parse_args()
    files: dict[str, str | None] = {}
    for spec in args.decoders:
        label, _, path = ("shipped", "", None) if spec == "shipped" else spec.partition("=")
        if spec != "shipped" and not (label and path):
            parser.error(f"--decoders {spec!r}: expected shipped or LABEL=FILE")
        if label in files:
            parser.error(f"--decoders: the label {label!r} is given twice")
        files[label] = path
    variants = {}
    for label, path in files.items():
        stylizer = load(path)
        for factor in args.supersample:
            variants[f"{label} x{factor}"] = (lambda content, style, s=stylizer, f=factor:
                                              s.stylize(content, style, content_size=0, supersample=f))
    run_variants(protocol_pairs(args.data, args.pairs), variants, args.out, args.sheet,
                 extra={"decoders": {label: path or "shipped" for label, path in files.items()},
                        "supersample": args.supersample})


if __name__ == "__main__":
    main()
