"""content_colors="style": the content takes the style's colour mean and covariance before the
transfer — the same in the untiled and tiled paths (tests/test_palette.py, tests/test_skips.py run
TILING_OPTIONS), with supersampling, and refused with colour preservation or masks.  In video, one
transform for the whole clip: tests/test_video.py."""

import pytest
import torch

import adain.nn.functional as AF
from adain.core.errors import UserError
from conftest import random_rgb_tensor


def test_the_content_is_recoloured_to_the_style_before_the_transfer(stylizer_fp32):
    content, style = random_rgb_tensor(48, 40, seed=1), random_rgb_tensor(40, 40, seed=2) * 0.5
    recoloured = AF.recolor(content, AF.color_statistics(content), AF.color_statistics(style)).clamp(0, 1)
    by_hand = stylizer_fp32.stylize(recoloured, style, content_size=0, style_size=0, supersample=1)
    out = stylizer_fp32.stylize(content, style, content_size=0, style_size=0, supersample=1, content_colors="style")
    torch.testing.assert_close(out, by_hand, atol=1e-6, rtol=0)
    plain = stylizer_fp32.stylize(content, style, content_size=0, style_size=0, supersample=1)
    assert (out - plain).abs().mean() > 0.005  # it changes the picture
    # supersampled: the enlarged content is recoloured (not dropped on the way), the result reduced
    twice = stylizer_fp32.stylize(content, style, content_size=0, style_size=0, supersample=2, content_colors="style")
    plain_twice = stylizer_fp32.stylize(content, style, content_size=0, style_size=0, supersample=2)
    assert twice.shape == out.shape and (twice - plain_twice).abs().mean() > 0.005
    # a batch: each content from its own colours
    other = random_rgb_tensor(48, 40, seed=7)
    batch = stylizer_fp32.stylize(torch.cat([content, other]), style, content_size=0, style_size=0, supersample=1,
                                  content_colors="style")
    alone = stylizer_fp32.stylize(other, style, content_size=0, style_size=0, supersample=1, content_colors="style")
    torch.testing.assert_close(batch[1:], alone, atol=1e-5, rtol=0)


def test_the_recoloured_content_has_the_style_s_colour_statistics():
    content, style = random_rgb_tensor(64, 48, seed=3), random_rgb_tensor(50, 50, seed=4) * 0.6 + 0.2
    recoloured = AF.recolor(content, AF.color_statistics(content), AF.color_statistics(style))
    mean, cov = AF.color_statistics(recoloured)
    target_mean, target_cov = AF.color_statistics(style)
    torch.testing.assert_close(mean, target_mean, atol=1e-6, rtol=0)
    torch.testing.assert_close(cov, target_cov, atol=1e-6, rtol=0)


def test_mixed_statistics_are_those_of_the_pooled_pixels():
    """Two styles weighted by their pixel counts: the mixture's mean and covariance are those of
    all their pixels together."""
    a, b = random_rgb_tensor(30, 20, seed=5), random_rgb_tensor(30, 40, seed=6)
    pooled = torch.cat([a, b], dim=2)  # (1, 3, 60, 30): every pixel of both
    mixed = AF.mixed_color_statistics([AF.color_statistics(a), AF.color_statistics(b)], [600, 1200])
    for got, expected in zip(mixed, AF.color_statistics(pooled)):
        torch.testing.assert_close(got, expected, atol=1e-9, rtol=0)


@pytest.mark.parametrize("options, message", [
    ({"content_colors": "photo"}, "content-colors: 'photo'; expected one of keep, style"),
    ({"content_colors": "style", "preserve_color": "histogram"}, "content-colors style with preserve-color histogram"),
    ({"content_colors": "style", "masks": torch.ones(1, 1, 40, 48)}, "content-colors style with masks"),
])
def test_what_it_cannot_go_with_is_one_line(stylizer_fp32, options, message):
    content, style = random_rgb_tensor(48, 40, seed=1), random_rgb_tensor(40, 40, seed=2)
    with pytest.raises(UserError, match=message):
        stylizer_fp32.stylize(content, style, content_size=0, style_size=0, **options)


def test_cli_content_colors(tmp_path, decoder_file):
    """`--content-colors style` writes the output; with --preserve-color or --mask it is one line,
    exit 2, nothing written."""
    from PIL import Image

    from conftest import write_image
    from test_cli import adain_cli, assert_clean_failure, stylize_args

    content = write_image(tmp_path / "c.png", 64, 48, seed=9)
    style = write_image(tmp_path / "s.png", 48, 48, seed=10)
    mask = write_image(tmp_path / "m.png", 64, 48, seed=11)
    result = adain_cli(*stylize_args(decoder_file, tmp_path / "out.png"), "--content", content, "--style", style,
                       "--content-colors", "style", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out.png").size == (64, 48)
    for extra, message in ((["--preserve-color", "luminance"], "--content-colors style and --preserve-color luminance"),
                           (["--mask", str(mask)], "--content-colors style and --mask")):
        bad = adain_cli(*stylize_args(decoder_file, tmp_path / "bad.png"), "--content", content, "--style", style,
                        "--content-colors", "style", *extra, cwd=tmp_path)
        assert_clean_failure(bad)
        assert message in bad.stderr
        assert not (tmp_path / "bad.png").exists()
    johnson = adain_cli("stylize", "--method", "johnson", "--content", content, "--content-size", "0",
                        "--content-colors", "style", "--output", tmp_path / "bad.png", "--no-progress", cwd=tmp_path)
    assert_clean_failure(johnson)
    assert "--content-colors does not apply to --method johnson" in johnson.stderr
    assert not (tmp_path / "bad.png").exists()


def test_a_network_with_its_style_built_in_refuses_it():
    from adain.methods.johnson.stylizer import SHIPPED_JOHNSON, load_johnson

    johnson = load_johnson(SHIPPED_JOHNSON, "cpu", "fp32")
    content = random_rgb_tensor(48, 40, seed=1)
    for style in (None, random_rgb_tensor(40, 40, seed=2)):  # it reads no style image's colours
        with pytest.raises(UserError, match="content-colors style: johnson renders its built-in style"):
            johnson.stylize(content, style, content_size=0, content_colors="style")
