"""What std_floor.py and ablate.py share: the 8 protocol pairs, each variant of a stylisation run on
them, scored on the flaw and independent measures, the means printed and written as JSON, and a
contact sheet (content | style | one column a variant, squares, aspect not kept)."""

import json
import sys
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from adain.core.io import load_image, save_image  # noqa: E402
from adain.evaluation.scoring import PairScorer  # noqa: E402

MEASURES = ("stray_colour", "halo", "blotch", "muddiness", "colour_leak", "effnet_content",
            "effnet_style_mean_std", "color_w1", "edge_f", "frame", "grid")
DATA = ROOT.parent / "shared" / "data"

Variant = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # content, style → output, (1, 3, H, W) in [0, 1]


def protocol_pairs(data: Path, count: int) -> list[tuple[Path, Path]]:
    """content/val[i] × style/val[7i mod 25]: the validation pairs train.py scores."""
    contents = sorted((data / "content" / "val").glob("*.jpg"))
    styles = sorted((data / "style" / "val").glob("*.jpg"))
    return [(contents[i % len(contents)], styles[(7 * i) % len(styles)]) for i in range(count)]


def run_variants(pairs: list[tuple[Path, Path]], variants: dict[str, Variant], out: Path,
                 sheet: Path | None = None, extra: dict | None = None) -> dict:
    """Every variant on every pair (content 384 px, style 512 px), scored; means to `out` (JSON)."""
    scorer = PairScorer(effnet=True)
    rows, sheet_rows = {}, []
    for content_path, style_path in pairs:
        content = load_image(content_path, size=384)
        style = load_image(style_path, size=512)
        outputs = {name: variant(content, style).clamp(0, 1) for name, variant in variants.items()}
        for name, output in outputs.items():
            scores, _ = scorer.score(output, content, style, content_path.name, style_path.name)
            rows.setdefault(name, []).append({m: scores[m] for m in MEASURES})
        thumb = lambda x: torch.nn.functional.interpolate(x, size=(192, 192), mode="area")  # noqa: E731
        sheet_rows.append(torch.cat([thumb(content), thumb(style)] + [thumb(o) for o in outputs.values()], dim=3))
        print(f"{content_path.stem} × {style_path.stem}", flush=True)
    means = {name: {m: sum(r[m] for r in rs) / len(rs) for m in MEASURES} for name, rs in rows.items()}
    out.write_text(json.dumps({"pairs": [[c.name, s.name] for c, s in pairs], **(extra or {}), "means": means,
                               "rows": rows}, indent=1))
    print(f"{'variant':<16}" + "".join(f"{m[:12]:>13}" for m in MEASURES))
    for name, mean in means.items():
        print(f"{name:<16}" + "".join(f"{mean[m]:>13.4g}" for m in MEASURES))
    if sheet:
        save_image(torch.cat(sheet_rows, dim=2), sheet)
    return means
