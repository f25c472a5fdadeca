"""The photo recoloured to the style's colours before stylising, beside the plain outputs of an eval
run, as a run directory that forced_choice.py can judge: the probe that made the judged outputs
(`stylize(..., content_colors="style")` is the option now; it reads the style's colours at the style
size rather than at 256 px).

    .venv/bin/python experiments/eval/artefacts/recolour_probe.py runs/eval/pairing_d_recipe \
        runs/eval/pairing_d_recolour "recipe[supersample=1]"
    .venv/bin/python experiments/eval/artefacts/recolour_probe.py runs/eval/pairing_c_stages \
        runs/eval/pairing_c_recolour "norefine[supersample=1]"

For every pair of the source run's two variants — RECIPE (experiments/training/recipe_decoder.safetensors
at ×1) and the default's look (`shipped-x2[supersample=2]`) — the content, centre-cropped to the
run's size as eval.py does, takes the style's colour mean and covariance
(`adain.nn.functional.match_color`, the style at 256 px on its shorter side) and is stylised as the
variant was; OUT/metrics.csv holds the plain rows (outputs copied) and the recoloured ones
(`recipe-recolour[supersample=1]`, `shipped-x2-recolour[supersample=2]`; their measures blank: they are
not scored here).  ~1.5 min for 48 pairs on
the 2-core Intel CPU.
"""

import csv
import shutil
import sys
from pathlib import Path

import torch
from torchvision.transforms.functional import to_pil_image

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

import adain.nn.functional as AF  # noqa: E402
from adain.core.io import open_image, pil_to_tensor  # noqa: E402
from adain.evaluation.scoring import METRIC_INFO  # noqa: E402
from adain.methods.adain import load_adain  # noqa: E402
from adain.train.data import center_square  # noqa: E402

STYLE_SIDE = 256  # px: the style's colour statistics are read at this shorter side
MEASURED = {*METRIC_INFO, "stylize_ms", "warm", "peak_mb", "cached", "style_rank", "style_top1"}


def main(source: Path, out: Path, recipe_label: str) -> int:
    rows = list(csv.DictReader(open(source / "metrics.csv", newline="")))
    variants = {recipe_label: ("recipe-recolour[supersample=1]", ROOT / "experiments/training/recipe_decoder.safetensors", 1),
                "shipped-x2[supersample=2]": ("shipped-x2-recolour[supersample=2]", None, 2)}
    models = {label: load_adain(decoder) for label, (_, decoder, _) in variants.items()}
    kept = []
    for row in rows:
        if row["variant"] not in variants:
            continue
        (out / row["output"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / row["output"], out / row["output"])
        kept.append(row)
        label, _, factor = variants[row["variant"]]
        photo = center_square(open_image(row["content_path"]), int(row["size"]))
        style = open_image(row["style_path"])
        scale = STYLE_SIDE / min(style.size)
        style_small = style.resize((round(style.width * scale), round(style.height * scale)))
        recoloured = to_pil_image(AF.match_color(pil_to_tensor(photo), pil_to_tensor(style_small)).clamp(0, 1)[0])
        output = models[row["variant"]].stylize(recoloured, style, content_size=0, style_size=int(row["style_size"]),
                                                supersample=factor)
        relative = f"outputs/{label.replace('[', '_').replace(']', '').replace('=', '-')}/{Path(row['output']).name}"
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        output.save(out / relative)
        # the source row's measures are the plain output's: blank here (not computed on this one)
        kept.append({**{k: ("" if k in MEASURED else v) for k, v in row.items()}, "variant": label, "output": relative})
    with open(out / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    print(f"{len(kept)} rows in {out / 'metrics.csv'}")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(2)
    if len(sys.argv) != 4:
        print(__doc__.splitlines()[0], "\nusage: recolour_probe.py SOURCE_RUN OUT_RUN RECIPE_LABEL", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))
