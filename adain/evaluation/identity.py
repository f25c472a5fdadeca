"""Style identity over a pair set: is each output nearest to the style it was made with, among
all the styles evaluated, in EfficientNet-Lite0 mean/std statistics (stage1…stage4)?

Distance d(output, style) = design.md's relative style formula
(`adain.nn.losses.distances.relative_style_stats`) on EfficientNet-Lite0 statistics, the same
as the `effnet_style_mean_std` column; rank and top-1 by `adain.evaluation.metrics.style_ranks`.
An output that copies the content and only shifts colours, or a decoder that paints one
texture for every style, is not recognised as its style: top-1 falls towards chance (1/S).
"""

from __future__ import annotations

import torch

from adain.evaluation.features import STYLE_STAGES
from adain.evaluation.metrics import style_ranks
from adain.nn.losses.distances import relative_style_stats
from adain.train.data import list_images

IDENTITY_INFO = {
    "style_top1": ("higher", "style identity: share of outputs whose own style is the nearest of all evaluated "
                             "styles (EfficientNet-Lite0 stage1…4 mean/std); chance 1/S"),
    "style_rank": ("lower", "style identity: mean rank of the own style among all evaluated styles "
                            "(1 = nearest; chance (S+1)/2)"),
}


def candidate_styles(variant) -> list:
    """Every style of the variant's run (its `styles` filter ignored): the candidates."""
    styles = list_images(variant.style)
    return styles[: variant.max_styles] if variant.max_styles else styles


def add_style_identity(evaluation, results) -> None:
    """Adds style_rank and style_top1 to every row that has EfficientNet statistics; a note when
    fewer than two styles are evaluated (no identity to test)."""
    for result in results:
        if not result.rows or len(result.stats) != len(result.rows):
            continue
        styles = candidate_styles(result.variant)
        if len(styles) < 2:
            evaluation.notes.append(f"{result.variant.label}: style identity needs at least two styles; skipped")
            continue
        index = {str(path): i for i, path in enumerate(styles)}
        style_stats = [evaluation.style_stats(path, result.variant.style_size) for path in styles]
        distances = torch.stack([
            torch.cat([relative_style_stats(out_stats, stats, STYLE_STAGES) for stats in style_stats])
            for out_stats in result.stats])  # (N, S)
        own = torch.tensor([index[row["style_path"]] for row in result.rows])
        for row, rank in zip(result.rows, style_ranks(distances, own).tolist()):
            row["style_rank"] = rank
            row["style_top1"] = float(rank == 1.0)
