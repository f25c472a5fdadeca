"""Supersampling (adain.inference.supersample): stylise at N× the working size, reduce to it.

The factor's checks and "auto", the result against the stylisation done by hand (enlarge, stylise,
reduce), masks and photo mode at the enlarged size, and the command line.  Tiny images, float32,
the stand-in decoder of conftest."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from adain.core.errors import UserError
from adain.core.io import tensor_to_pil
from adain.inference.supersample import AUTO_MAX_SIDE, check_supersample, resolve_supersample
from conftest import random_rgb, random_rgb_tensor, write_image
from test_cli import adain_cli, assert_clean_failure, stylize_args


@pytest.mark.parametrize("value, expected", [(None, "auto"), ("auto", "auto"), (1, 1), ("2", 2), (4, 4)])
def test_check_supersample_accepts_auto_and_small_factors(value, expected):
    assert check_supersample(value) == expected


@pytest.mark.parametrize("value", [0, 5, "x", 1.5, True, "-1", [2], object()])
def test_check_supersample_names_the_flag_and_the_choices(value):
    with pytest.raises(UserError, match=r"^--supersample .*expected auto or 1, 2, 3, 4"):
        check_supersample(value, "--supersample")


def test_auto_supersamples_only_small_working_images():
    assert resolve_supersample("auto", 768, AUTO_MAX_SIDE, auto_factor=2) == 2  # shorter side at the bound
    assert resolve_supersample("auto", 4000, AUTO_MAX_SIDE + 1, auto_factor=2) == 1
    assert resolve_supersample("auto", 64, 48, auto_factor=1) == 1  # a method that gains nothing
    assert resolve_supersample(3, 4000, 3000, auto_factor=1) == 3  # an explicit factor always holds


def test_supersample_is_enlarge_stylise_reduce(stylizer_fp32):
    """×2 on a tensor = bicubic ×2 of the content, the plain stylisation, bilinear antialiased ÷2."""
    content, style = random_rgb_tensor(40, 32, seed=1), random_rgb_tensor(48, 48, seed=2)
    out = stylizer_fp32.stylize(content, style, content_size=0, style_size=0, supersample=2)
    big = F.interpolate(content, size=(64, 80), mode="bicubic", align_corners=False).clamp(0, 1)
    by_hand = stylizer_fp32.stylize(big, style, content_size=0, style_size=0, supersample=1)
    by_hand = F.interpolate(by_hand, size=(32, 40), mode="bilinear", antialias=True, align_corners=False)
    assert out.shape == (1, 3, 32, 40)
    torch.testing.assert_close(out, by_hand.clamp(0, 1), atol=1e-6, rtol=0)
    plain = stylizer_fp32.stylize(content, style, content_size=0, style_size=0, supersample=1)
    assert (out - plain).abs().mean() > 0.01  # it is not the plain stylisation


def test_auto_is_x2_for_adain_on_a_small_image_and_off_above_the_bound(stylizer_fp32):
    content, style = random_rgb(48, 40, seed=3), random_rgb(48, 48, seed=4)
    auto = stylizer_fp32.stylize(content, style, content_size=0, style_size=0)
    twice = stylizer_fp32.stylize(content, style, content_size=0, style_size=0, supersample=2)
    assert auto.size == (48, 40)
    assert np.asarray(auto).tolist() == np.asarray(twice).tolist()
    wide = random_rgb(AUTO_MAX_SIDE + 8, AUTO_MAX_SIDE + 1, seed=5)  # the shorter side just above the bound
    auto = stylizer_fp32.stylize(wide, style, content_size=0, style_size=0, tile=0)
    once = stylizer_fp32.stylize(wide, style, content_size=0, style_size=0, tile=0, supersample=1)
    assert np.asarray(auto).tolist() == np.asarray(once).tolist()


def test_a_file_and_its_working_size_tensor_give_one_result(stylizer_fp32, tmp_path):
    """A 96×72 file at content_size 24: the enlargement is made from the 32×24 working image, as for
    that image given as a tensor (so single files and CLI batches agree)."""
    from adain.core.io import open_image, pil_to_tensor, resize_shorter

    path = write_image(tmp_path / "c.png", 96, 72, seed=6)
    style = random_rgb(48, 48, seed=7)
    out = stylizer_fp32.stylize(path, style, content_size=24, style_size=0, supersample=2)
    working = pil_to_tensor(resize_shorter(open_image(path), 24))
    as_tensor = stylizer_fp32.stylize(working, style, content_size=0, style_size=0, supersample=2)
    assert out.size == (32, 24)
    assert np.asarray(out).tolist() == np.asarray(tensor_to_pil(as_tensor)).tolist()


def test_masks_and_photo_mode_follow_the_enlarged_content(stylizer_fp32):
    """Masks at the content's original size place the styles at the enlarged size: the same as
    stylising the enlarged content with the masks enlarged (bilinear), then reducing; photo mode
    smooths the reduced result and keeps the output's size."""
    content = random_rgb_tensor(40, 32, seed=8)
    styles = [random_rgb_tensor(48, 48, seed=11), random_rgb_tensor(48, 48, seed=12)]
    mask = torch.zeros(1, 1, 32, 40)
    mask[..., :20] = 1  # the first style on the left half
    out = stylizer_fp32.stylize(content, styles, masks=mask, content_size=0, style_size=0, supersample=2)
    big = F.interpolate(content, size=(64, 80), mode="bicubic", align_corners=False).clamp(0, 1)
    big_masks = F.interpolate(torch.cat([mask, 1 - mask], 1), size=(64, 80), mode="bilinear", align_corners=False)
    by_hand = stylizer_fp32.stylize(big, styles, masks=big_masks, content_size=0, style_size=0, supersample=1)
    by_hand = F.interpolate(by_hand, size=(32, 40), mode="bilinear", antialias=True, align_corners=False)
    torch.testing.assert_close(out, by_hand.clamp(0, 1), atol=1e-6, rtol=0)
    photo = stylizer_fp32.stylize(random_rgb(64, 48, seed=8), styles[0], content_size=0, style_size=0,
                                  supersample=2, photo=True)
    assert photo.size == (64, 48)


def test_supersample_and_upscale_exclude_each_other(stylizer_fp32):
    with pytest.raises(UserError, match="give one or the other"):
        stylizer_fp32.stylize(random_rgb(32, 32), random_rgb(32, 32), supersample=2, upscale=2)


def test_cli_supersample(tmp_path, decoder_file):
    """`--supersample 2` writes the output at the working size; a bad factor is one line, exit 2,
    nothing written."""
    content = write_image(tmp_path / "c.png", 64, 48, seed=9)
    style = write_image(tmp_path / "s.png", 48, 48, seed=10)
    result = adain_cli(*stylize_args(decoder_file, tmp_path / "out.png"), "--content", content, "--style", style,
                       "--supersample", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out.png").size == (64, 48)
    bad = adain_cli(*stylize_args(decoder_file, tmp_path / "bad.png"), "--content", content, "--style", style,
                    "--supersample", "9", cwd=tmp_path)
    assert_clean_failure(bad)
    assert "--supersample 9" in bad.stderr
    assert not (tmp_path / "bad.png").exists()
