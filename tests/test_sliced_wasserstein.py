"""The sliced Wasserstein term (adain.nn.losses.training.sliced_wasserstein_loss, optim.sw_weight)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch

from adain.core.errors import UserError
from adain.nn.decoder import Decoder
from adain.nn.losses.training import colour_stats_loss, sliced_wasserstein_loss
from adain.nn.model import AdaINModel
from adain.nn.pretrained import build_encoder
from adain.train.config import load_config
from adain.train.objectives import AdaINObjective, train_step

ROOT = Path(__file__).resolve().parents[1]


def _bimodal_and_its_grey_blend(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """A style of two colours in equal halves (blue (0.1, 0.2, 0.8), orange (0.9, 0.5, 0.1)) and an
    image with exactly the same per-channel mean and std whose colours are all on the grey line
    between them: (1, 3, size, size) each."""
    blue, orange = torch.tensor([0.1, 0.2, 0.8]), torch.tensor([0.9, 0.5, 0.1])
    half = torch.arange(size * size).reshape(1, 1, size, size) % 2  # a checkerboard of 0/1
    style = torch.where(half.bool(), orange.view(1, 3, 1, 1), blue.view(1, 3, 1, 1))
    # Per channel, the same ±σ around μ, but every pixel's channels moving together from one
    # noise value: a continuum of blends (a Gaussian-ish ramp), not two colours.
    ramp = torch.linspace(-1, 1, size * size).reshape(1, 1, size, size)
    ramp = (ramp - ramp.mean()) / ramp.std(unbiased=False)
    mean, std = style.mean(dim=(2, 3), keepdim=True), style.std(dim=(2, 3), unbiased=False, keepdim=True)
    sign = (orange - blue).sign().view(1, 3, 1, 1)  # keeps each channel's correlation with the others
    return style, mean + sign * std * ramp


def test_sliced_wasserstein_prices_the_shape_of_a_palette_that_mean_std_misses():
    torch.manual_seed(0)
    style, blend = _bimodal_and_its_grey_blend()
    assert colour_stats_loss(blend, style).item() < 1e-8  # the same mean and std per channel...
    assert sliced_wasserstein_loss(blend, style, projections=64).item() > 0.02  # ...not the same colours
    shuffled = style.flatten(2)[:, :, torch.randperm(style[0, 0].numel())].reshape(style.shape)
    assert sliced_wasserstein_loss(shuffled, style, projections=64).item() < 1e-10  # layout is free
    smaller = style[:, :, :16, :16]  # sizes may differ: the style's quantiles are interpolated
    assert sliced_wasserstein_loss(smaller, style, projections=64).item() < 1e-3


def test_sliced_wasserstein_is_scale_free_and_its_gradient_reaches_the_output():
    generator = torch.Generator().manual_seed(1)
    out = torch.rand(2, 16, 8, 8, generator=generator).requires_grad_()
    ref = torch.rand(2, 16, 8, 8, generator=generator) * 2
    loss = sliced_wasserstein_loss(out, ref, projections=32, generator=torch.Generator().manual_seed(5))
    scaled = sliced_wasserstein_loss(30 * out, 30 * ref, projections=32, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(scaled, loss, rtol=1e-4, atol=0)
    loss.backward()
    assert out.grad.abs().sum() > 0
    # A step down the gradient lowers the loss (the same directions).
    with torch.no_grad():
        stepped = out - 0.5 * out.grad / out.grad.abs().max()
    after = sliced_wasserstein_loss(stepped, ref, projections=32, generator=torch.Generator().manual_seed(5))
    assert after < loss


def test_a_nearly_black_style_does_not_dominate_the_batch():
    # The energy is the batch's: a style at 1 % brightness whose output is 0.05 too bright costs
    # its absolute error over the batch's energy, not ×(1/its own tiny energy).
    generator = torch.Generator().manual_seed(2)
    style = torch.rand(2, 3, 16, 16, generator=generator)
    style[1] *= 0.01
    output = style.clone()
    output[1] += 0.05
    loss = sliced_wasserstein_loss(output, style, projections=16).item()
    assert 0.0 < loss < 0.05  # per-sample ratios: ~39 (that sample ~78: 0.05² against its ~3·10⁻⁵)


def test_sliced_wasserstein_term_joins_the_losses():
    cfg = load_config(ROOT / "configs" / "train" / "default.yaml", ["init_decoder=null"])
    torch.manual_seed(0)
    model = AdaINModel(build_encoder("vgg16-hed"), Decoder("vgg16"))
    content, style = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 48, 48)
    plain = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext())
    assert "loss_sw" not in plain
    cfg.optim.sw_weight = 2.0
    cfg.optim.sw_taps = ["rgb", "relu2_1", "relu5_1"]  # relu5_1 is no style tap: encoded for this term alone
    with_sw = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext())
    assert with_sw["loss_sw"] > 0.01
    torch.testing.assert_close(with_sw["loss"], plain["loss"] + 2.0 * with_sw["loss_sw"])


def test_an_unknown_sliced_wasserstein_tap_is_refused_by_name():
    cfg = load_config(ROOT / "configs" / "train" / "default.yaml",
                      ["init_decoder=null", "optim.sw_weight=1", "optim.sw_taps=[rgb,relu9_9]"])
    with pytest.raises(UserError, match=r"optim.sw_taps: \['relu9_9'\] not in the vgg16-hed encoder"):
        AdaINObjective(cfg, build_encoder("vgg16-hed"))
