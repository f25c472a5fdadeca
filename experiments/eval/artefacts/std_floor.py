"""How the AdaIN std floor (adain.nn.functional.STD_FLOOR_RATIO) changes the shipped decoder's outputs,
on the flaw measures and the independent ones, against Magenta on the same pairs.

    .venv/bin/python experiments/eval/artefacts/std_floor.py --pairs 8 --floors 0 0.05 0.1 0.2 \
        --out experiments/eval/artefacts/std_floor.json [--sheet experiments/eval/artefacts/std_floor.jpg]

Pairs: content/val[i] × style/val[7i mod 25] of the shared pack (the validation pairs train.py
scores), content at 384 px on its shorter side.
"""

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from adain import load  # noqa: E402
from adain.core.io import load_image  # noqa: E402
from adain.evaluation.magenta import load_magenta  # noqa: E402
from adain.evaluation.scoring import PairScorer  # noqa: E402
from adain.nn import functional as AF  # noqa: E402

MEASURES = ("stray_colour", "halo", "blotch", "muddiness", "colour_leak", "effnet_content",
            "effnet_style_mean_std", "color_w1", "edge_f", "frame", "grid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--floors", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--sheet", help="content | style | each floor | Magenta, one row a pair (JPEG)")
    args = parser.parse_args()

    contents = sorted((Path(args.data) / "content" / "val").glob("*.jpg"))
    styles = sorted((Path(args.data) / "style" / "val").glob("*.jpg"))
    pairs = [(contents[i % len(contents)], styles[(7 * i) % len(styles)]) for i in range(args.pairs)]
    stylizer, magenta, scorer = load(), load_magenta(), PairScorer(effnet=True)
    rows, sheet = {}, []
    for content_path, style_path in pairs:
        content = load_image(content_path, size=384)
        style = load_image(style_path, size=512)
        outputs = {}
        for floor in args.floors:
            AF.STD_FLOOR_RATIO = floor
            outputs[f"floor {floor:g}"] = stylizer.stylize(content, style, content_size=0).clamp(0, 1)
        outputs["magenta"] = magenta.stylize(content, style, content_size=0).clamp(0, 1)
        for name, output in outputs.items():
            scores, _ = scorer.score(output, content, style, content_path.name, style_path.name)
            rows.setdefault(name, []).append({m: scores[m] for m in MEASURES})
        thumb = lambda x: torch.nn.functional.interpolate(x, size=(192, 192), mode="area")  # noqa: E731
        sheet.append(torch.cat([thumb(content), thumb(style)] + [thumb(o) for o in outputs.values()], dim=3))
        print(f"{content_path.stem} × {style_path.stem}", flush=True)
    means = {name: {m: sum(r[m] for r in rs) / len(rs) for m in MEASURES} for name, rs in rows.items()}
    Path(args.out).write_text(json.dumps({"pairs": [[c.name, s.name] for c, s in pairs], "means": means,
                                          "rows": rows}, indent=1))
    print(f"{'variant':<12}" + "".join(f"{m[:12]:>13}" for m in MEASURES))
    for name, mean in means.items():
        print(f"{name:<12}" + "".join(f"{mean[m]:>13.4g}" for m in MEASURES))
    if args.sheet:
        from adain.core.io import save_image

        save_image(torch.cat(sheet, dim=2), args.sheet)


if __name__ == "__main__":
    main()
