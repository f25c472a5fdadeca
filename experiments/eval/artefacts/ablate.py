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
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from adain import load  # noqa: E402
from adain.core.io import load_image, save_image  # noqa: E402
from adain.evaluation.scoring import PairScorer  # noqa: E402

MEASURES = ("stray_colour", "halo", "blotch", "muddiness", "colour_leak", "effnet_content",
            "effnet_style_mean_std", "color_w1", "edge_f")
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
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--sheet", help="content | style | each variant, one row a pair (JPEG)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()

    contents = sorted((Path(args.data) / "content" / "val").glob("*.jpg"))
    styles = sorted((Path(args.data) / "style" / "val").glob("*.jpg"))
    pairs = [(contents[i % len(contents)], styles[(7 * i) % len(styles)]) for i in range(args.pairs)]
    shipped, scorer = load(), PairScorer(effnet=True)
    stylizers = {name: scaled(shipped, VARIANTS[name]) for name in args.variants}
    rows, sheet = {}, []
    for content_path, style_path in pairs:
        content = load_image(content_path, size=384)
        style = load_image(style_path, size=512)
        outputs = {name: s.stylize(content, style, content_size=0).clamp(0, 1) for name, s in stylizers.items()}
        for name, output in outputs.items():
            scores, _ = scorer.score(output, content, style, content_path.name, style_path.name)
            rows.setdefault(name, []).append({m: scores[m] for m in MEASURES})
        thumb = lambda x: torch.nn.functional.interpolate(x, size=(192, 192), mode="area")  # noqa: E731
        sheet.append(torch.cat([thumb(content), thumb(style)] + [thumb(o) for o in outputs.values()], dim=3))
        print(f"{content_path.stem} × {style_path.stem}", flush=True)
    means = {name: {m: sum(r[m] for r in rs) / len(rs) for m in MEASURES} for name, rs in rows.items()}
    Path(args.out).write_text(json.dumps({"pairs": [[c.name, s.name] for c, s in pairs],
                                          "variants": {name: VARIANTS[name] for name in args.variants},
                                          "means": means, "rows": rows}, indent=1))
    print(f"{'variant':<16}" + "".join(f"{m[:12]:>13}" for m in MEASURES))
    for name, mean in means.items():
        print(f"{name:<16}" + "".join(f"{mean[m]:>13.4g}" for m in MEASURES))
    if args.sheet:
        save_image(torch.cat(sheet, dim=2), args.sheet)


if __name__ == "__main__":
    main()
