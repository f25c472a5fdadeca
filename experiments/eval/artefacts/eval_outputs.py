"""Scores the outputs an eval.py run already wrote, with the content and style as eval.py saw them:
the scripts here that add a measure after the fact (flat_texture.py, halo_widths.py) share this loop."""

import csv
from pathlib import Path
from typing import Callable, Optional

import torch

from adain.core.io import open_image, pil_to_tensor, resize_shorter
from adain.train.data import center_square

# score(output, content, style) → {key: value}: output and content (1, 3, S, S), style (1, 3, h, w)
# with S its shorter side, all in [0, 1]; style is None for a score that does not read it.
Score = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], dict[str, float]]


def mean_scores(run_dirs: list[Path], score: Score, with_style: bool = True) -> dict[str, dict[str, dict[str, float]]]:
    """{run dir: {variant: {key: mean over the run's pairs}}} from each run's metrics.csv and outputs;
    prints one line a variant as each run is done.  with_style=False: the style images are not read."""
    results, images = {}, {}
    for run_dir in run_dirs:
        with (run_dir / "metrics.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        scores: dict[str, dict[str, list[float]]] = {}
        for row in rows:
            output = pil_to_tensor(open_image(run_dir / row["output"]))
            side = output.shape[-1]
            for key in ("content_path", "style_path") if with_style else ("content_path",):
                if row[key] not in images:
                    images[row[key]] = open_image(Path(row[key]))
            content = pil_to_tensor(center_square(images[row["content_path"]], side))  # as eval.py scores it
            style = pil_to_tensor(resize_shorter(images[row["style_path"]], side)) if with_style else None  # eval.py's size
            for key, value in score(output, content, style).items():
                scores.setdefault(row["variant"], {}).setdefault(key, []).append(value)
        results[str(run_dir)] = {variant: {key: sum(v) / len(v) for key, v in by_key.items()}
                                 for variant, by_key in scores.items()}
        for variant, means in results[str(run_dir)].items():
            print(f"{variant:<36}" + "".join(f"{key:>9} {m:.3f}" for key, m in means.items()), flush=True)
    return results
