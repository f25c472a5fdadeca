"""Training losses of the AdaIN recipe, one per paper term (Huang & Belongie 2017, §6.2).

Features are dicts {tap: (N, C, H, W)} from the encoder.  MSE is the mean over all elements.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

from adain.encoders import CONTENT_TAP, STYLE_TAPS
from adain.functional import FeatureStats, mean_std


def content_loss(output_feats: Mapping[str, torch.Tensor], target: torch.Tensor, tap: str = CONTENT_TAP) -> torch.Tensor:
    """L_c = ‖φ₄(g(t)) − t‖²: the decoded image must re-encode to the AdaIN target t.

    Paper eq. (12); MSE instead of a sum (a constant factor).
    """
    return F.mse_loss(output_feats[tap].float(), target.float())


def style_stats_loss(output_feats: Mapping[str, torch.Tensor], style_stats: Mapping[str, FeatureStats],
                     taps: Sequence[str] = STYLE_TAPS) -> torch.Tensor:
    """L_s = Σ_l ‖μ(φ_l(g(t))) − μ(φ_l(s))‖² + ‖σ(φ_l(g(t))) − σ(φ_l(s))‖² over relu1_1…relu4_1.

    Paper eq. (13); MSE over channels (and batch) instead of a sum, as the PyTorch port does.
    """
    total = torch.zeros((), device=next(iter(output_feats.values())).device)
    for tap in taps:
        out = mean_std(output_feats[tap])
        total = total + F.mse_loss(out.mean, style_stats[tap].mean) + F.mse_loss(out.std, style_stats[tap].std)
    return total
