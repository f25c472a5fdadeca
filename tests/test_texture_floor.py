"""The texture floor term (adain.nn.losses.training.texture_floor_loss, optim.texture_floor_weight)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch

from adain.core.errors import UserError
from adain.nn.decoder import Decoder
from adain.nn.losses.training import texture_floor_loss, window_energy
from adain.nn.model import AdaINModel
from adain.nn.pretrained import build_encoder
from adain.train.config import load_config
from adain.train.objectives import AdaINObjective, train_step

ROOT = Path(__file__).resolve().parents[1]


def _textured(size: int, generator: torch.Generator, channels: int = 4) -> torch.Tensor:
    """(1, channels, size, size) fine noise: texture in every window."""
    return torch.rand(1, channels, size, size, generator=generator)


def test_window_energy_is_zero_on_flat_and_grows_with_texture():
    generator = torch.Generator().manual_seed(0)
    flat = torch.full((1, 4, 32, 32), 50.0)  # a ReLU map's mean, no spread
    texture = _textured(32, generator)
    assert window_energy(flat, 8).max() < 1e-5
    assert window_energy(texture, 8).shape == (1, 1, 7, 7)  # 8-px windows, stride 4
    assert window_energy(2 * texture, 8).mean() == pytest.approx(2 * window_energy(texture, 8).mean().item(), rel=1e-5)


def test_a_flat_half_costs_what_its_share_of_windows_says_and_texture_above_the_floor_is_free():
    generator = torch.Generator().manual_seed(1)
    style = _textured(32, generator)
    same = _textured(32, generator)  # another draw of the same texture: about at the floor
    half_flat = same.clone()
    half_flat[..., :, 16:] = 0.5  # the right half a flat wall
    louder = 3 * (same - 0.5) + 0.5  # three times the style's texture: above the floor everywhere
    feats = lambda x: {"relu1_1": x}  # noqa: E731  (one tap, at the image's resolution)
    loss = lambda x: texture_floor_loss(feats(x), feats(style), ["relu1_1"], 8, 0.5, 32).item()  # noqa: E731
    assert loss(louder) == 0.0
    assert loss(same) < 0.01
    # Windows wholly in the flat half have no energy (a deficit of 1 each), those across the seam part
    # of it: between 3/7 (only the wholly flat columns) and 4/7 of the windows' worth.
    assert 3 / 7 - 0.02 < loss(half_flat) < 4 / 7
    assert loss(torch.full_like(style, 0.5)) == pytest.approx(1.0, abs=1e-4)
    # Scale-free: a layer 30× louder, output and style alike, costs the same.
    assert loss(half_flat) == pytest.approx(
        texture_floor_loss(feats(30 * half_flat), feats(30 * style), ["relu1_1"], 8, 0.5, 32).item(), rel=1e-4)


def test_the_gradient_puts_texture_into_the_flat_windows():
    generator = torch.Generator().manual_seed(2)
    style = _textured(32, generator)
    output = 2 * (_textured(32, generator) - 0.5) + 0.5  # twice the style's texture: above the floor...
    output[..., :, 16:] = 0.5 + 0.01 * (output[..., :, 16:] - 0.5)  # ...but in a near-flat right half
    output.requires_grad_()
    loss = texture_floor_loss({"relu1_1": output}, {"relu1_1": style}, ["relu1_1"], 8, 0.5, 32)
    loss.backward()
    with torch.no_grad():
        stepped = output - 50.0 * output.grad
        before = window_energy(output[..., :, 16:], 8).mean()
        after = window_energy(stepped[..., :, 16:], 8).mean()
    assert after > 2 * before
    assert texture_floor_loss({"relu1_1": stepped}, {"relu1_1": style}, ["relu1_1"], 8, 0.5, 32) < loss
    # Windows wholly in the textured half are above the floor: only the channel means' share reaches them.
    assert output.grad[..., :, :8].abs().max() < 1e-6 * output.grad[..., :, 16:].abs().max()


def test_a_shallower_window_follows_the_tap_resolution():
    # At a tap of half the image's width, a 16-px window is 8 positions wide: the same figure as the
    # full-resolution tap's 8-px window on the same features.
    generator = torch.Generator().manual_seed(3)
    style, out = _textured(16, generator), _textured(16, generator)
    out[..., 8:, :] = 0.5
    half = texture_floor_loss({"t": out}, {"t": style}, ["t"], 16, 0.5, image_width=32)
    full = texture_floor_loss({"t": out}, {"t": style}, ["t"], 8, 0.5, image_width=16)
    torch.testing.assert_close(half, full)


def test_texture_floor_term_joins_the_losses():
    cfg = load_config(ROOT / "configs" / "train" / "default.yaml", ["init_decoder=null"])
    torch.manual_seed(0)
    model = AdaINModel(build_encoder("vgg16-hed"), Decoder("vgg16"))
    content, style = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 48, 48)
    plain = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext())
    assert "loss_texture_floor" not in plain
    cfg.optim.texture_floor_weight = 4.0
    cfg.optim.texture_floor_taps = ["relu1_1", "relu5_1"]  # relu5_1 is no style tap: encoded for this term alone
    with_floor = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext())
    assert 0 < with_floor["loss_texture_floor"] <= 2  # each tap's term lies in [0, 1]
    torch.testing.assert_close(with_floor["loss"], plain["loss"] + 4.0 * with_floor["loss_texture_floor"])


@pytest.mark.parametrize("override, message", [
    ("optim.texture_floor_taps=[relu1_1,relu9_9]", r"optim.texture_floor_taps: \['relu9_9'\] not in the vgg16-hed encoder"),
    ("optim.texture_floor_quantile=1.5", r"optim.texture_floor_window 16 / texture_floor_quantile 1.5: expected"),
    ("optim.texture_floor_window=1", r"optim.texture_floor_window 1 / texture_floor_quantile 0.5: expected"),
])
def test_a_bad_texture_floor_setting_is_refused_by_name(override, message):
    cfg = load_config(ROOT / "configs" / "train" / "default.yaml",
                      ["init_decoder=null", "optim.texture_floor_weight=1", override])
    with pytest.raises(UserError, match=message):
        AdaINObjective(cfg, build_encoder("vgg16-hed"))


def test_each_image_is_held_to_its_own_style_and_the_style_gets_no_gradient():
    # Two images in a batch: a loud style and a quiet one (a tenth of its texture), each output the
    # quiet texture.  Against the quiet style that output is at the floor; against the loud one, far below.
    generator = torch.Generator().manual_seed(4)
    loud = _textured(32, generator)
    quiet = 0.1 * (_textured(32, generator) - 0.5) + 0.5
    style = torch.cat([loud, quiet]).requires_grad_()
    output = torch.cat([quiet, quiet]).requires_grad_()
    both = texture_floor_loss({"t": output}, {"t": style}, ["t"], 8, 0.5, 32)
    quiet_only = texture_floor_loss({"t": output[1:]}, {"t": style[1:]}, ["t"], 8, 0.5, 32)
    loud_only = texture_floor_loss({"t": output[:1]}, {"t": style[:1]}, ["t"], 8, 0.5, 32)
    assert quiet_only < 0.01 and loud_only > 0.5
    torch.testing.assert_close(both, (quiet_only + loud_only) / 2)
    both.backward()
    assert style.grad is None and output.grad.abs().sum() > 0


def test_a_crop_smaller_than_the_window_is_one_window():
    generator = torch.Generator().manual_seed(5)
    style, out = _textured(6, generator), _textured(6, generator)
    loss = texture_floor_loss({"t": out}, {"t": style}, ["t"], 16, 0.5, image_width=6)  # window 16 > 6
    torch.testing.assert_close(loss, texture_floor_loss({"t": out}, {"t": style}, ["t"], 6, 0.5, image_width=6))
