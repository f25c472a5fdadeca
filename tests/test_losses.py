"""The AdaIN training losses: the scale-free forms agree with design.md's numbers and ignore the
encoder's activation scale; the raw forms do not."""

from __future__ import annotations

import torch

from adain.nn.encoders import CONTENT_TAP, STYLE_TAPS
from adain.nn.functional import mean_std
from adain.nn.losses.distances import measure_relative_content as metric_content
from adain.nn.losses.distances import measure_relative_style as metric_style
from adain.nn.losses.training import content_loss, relative_content_loss, relative_style_stats_loss, style_stats_loss


def _images(seed: int, count: int = 2, size: int = 48) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    low = torch.rand(count, 3, size // 8, size // 8, generator=generator)
    return torch.nn.functional.interpolate(low, size=(size, size), mode="bicubic").clamp(0, 1)


def test_relative_losses_are_design_md_numbers(hed_encoder):
    # Training form on a batch = the mean over the batch of the per-image evaluation numbers.
    output, content, style = _images(1), _images(2), _images(3)
    out_feats = hed_encoder(output, taps=STYLE_TAPS)
    style_stats = {tap: mean_std(f) for tap, f in hed_encoder(style, taps=STYLE_TAPS).items()}
    content_feat = hed_encoder(content, taps=(CONTENT_TAP,))[CONTENT_TAP]

    torch.testing.assert_close(relative_style_stats_loss(out_feats, style_stats),
                               metric_style(hed_encoder, output, style).mean(), rtol=1e-4, atol=0)
    torch.testing.assert_close(relative_content_loss(out_feats, content_feat),
                               metric_content(hed_encoder, output, content).mean(), rtol=1e-4, atol=0)


def test_relative_losses_ignore_activation_scale_raw_ones_do_not():
    generator = torch.Generator().manual_seed(0)
    out = {tap: torch.rand(2, 8, 6, 6, generator=generator) for tap in STYLE_TAPS}
    ref = {tap: torch.rand(2, 8, 6, 6, generator=generator) + 0.5 for tap in STYLE_TAPS}
    ref_stats = {tap: mean_std(f) for tap, f in ref.items()}
    scaled_out = {tap: 30.0 * f for tap, f in out.items()}
    scaled_stats = {tap: mean_std(30.0 * f) for tap, f in ref.items()}

    torch.testing.assert_close(relative_style_stats_loss(scaled_out, scaled_stats),
                               relative_style_stats_loss(out, ref_stats))
    torch.testing.assert_close(relative_content_loss(scaled_out, 30.0 * ref[CONTENT_TAP]),
                               relative_content_loss(out, ref[CONTENT_TAP]))
    torch.testing.assert_close(style_stats_loss(scaled_out, scaled_stats), 900.0 * style_stats_loss(out, ref_stats))
    torch.testing.assert_close(content_loss(scaled_out, 30.0 * ref[CONTENT_TAP]),
                               900.0 * content_loss(out, ref[CONTENT_TAP]))
    # A perfect match scores zero either way.
    assert relative_style_stats_loss(ref, ref_stats).item() == 0.0
    assert relative_content_loss(ref, ref[CONTENT_TAP]).item() == 0.0


def test_colour_stats_loss_prices_the_palette_not_the_layout():
    from adain.nn.losses.training import colour_stats_loss

    style = _images(4, size=64)
    # The same pixels in another order: same palette, no cost (only the eps of mean_std remains).
    shuffled = style.flatten(2)[:, :, torch.randperm(64 * 64)].reshape(style.shape)
    assert colour_stats_loss(shuffled, style).item() < 1e-10
    # 0.1 darker in every channel: 3 channels × 0.1² of mean, std unchanged.
    torch.testing.assert_close(colour_stats_loss(style - 0.1, style), torch.tensor(0.03), rtol=1e-4, atol=0)
    # Sizes may differ; a flat grey image against the style costs at least its variance.
    grey = torch.full((2, 3, 32, 32), 0.5)
    assert colour_stats_loss(grey, style).item() > style.std(dim=(2, 3)).square().sum(1).mean().item() * 0.99
    # With the spread's weight at 0 only the means count: a flat image of the style's mean is free,
    # and a contrast stretch about the mean costs nothing either.
    flat = style.mean(dim=(2, 3), keepdim=True).expand_as(style)
    assert colour_stats_loss(flat, style, std_weight=0.0).item() < 1e-10
    stretched = flat + 2 * (style - flat)
    assert colour_stats_loss(stretched, style, std_weight=0.0).item() < 1e-10 < colour_stats_loss(stretched, style).item()
