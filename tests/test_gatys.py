"""Gatys et al. (2016) optimisation: losses fall, content is kept without style, golden values,
determinism, both optimisers, coarse-to-fine sizes, blends and masks, colour preservation, the
CLI and the bench end to end, and one-line errors for bad settings.

Everything runs on 32–40 px images, a few iterations, the fp32 encoder, on the CPU.
"""

from __future__ import annotations

import json

import pytest
import torch

from adain.cli.main import main
from adain.core.errors import UserError
from adain.methods.base import to_tensor
from adain.methods.gatys import GatysOptions, GatysStylizer, load_gatys, scale_sizes
from adain.nn.functional import gram
from adain.nn.losses.gatys import masked_gram

from conftest import random_rgb, write_image


@pytest.fixture(scope="module")
def stylizer(hed_encoder) -> GatysStylizer:
    """fp32, NCHW (the reference path), max pooling of the shared fixture encoder, no progress bar."""
    return GatysStylizer(hed_encoder, torch.float32, GatysOptions(progress=False), torch.contiguous_format)


@pytest.fixture(scope="module")
def content() -> torch.Tensor:
    return to_tensor(random_rgb(32, 32, seed=1))  # (1, 3, 32, 32)


@pytest.fixture(scope="module")
def styles() -> list[torch.Tensor]:
    return [to_tensor(random_rgb(32, 32, seed=2)), to_tensor(random_rgb(40, 32, seed=5))]


def run(stylizer, content, style, **options) -> tuple[torch.Tensor, list[dict]]:
    """Stylise at the tensors' own size; returns the output and the losses of every iteration."""
    log: list[dict] = []
    out = stylizer.stylize(content, style, content_size=0, style_size=0,
                           callback=lambda step, losses, image: log.append(dict(losses)), **options)
    return out, log


def test_total_loss_falls(stylizer, content, styles):
    _, log = run(stylizer, content, styles[0], iterations=10)
    assert len(log) == 10
    assert log[-1]["total"] < 0.2 * log[0]["total"]
    assert log[0]["content"] == 0.0  # content init: the content term starts at exactly zero


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_both_optimizers_reduce_the_loss(stylizer, content, styles, optimizer):
    _, log = run(stylizer, content, styles[0], iterations=8, optimizer=optimizer, init="noise")
    assert log[-1]["total"] < 0.8 * log[0]["total"]
    assert log[-1]["style"] < log[0]["style"]


def test_without_style_weight_the_content_is_kept(stylizer, content, styles):
    # Content init is a minimum of the content loss (zero gradient), so nothing moves.
    out, _ = run(stylizer, content, styles[0], iterations=5, style_weight=0.0)
    assert torch.allclose(out, content, atol=1e-5)


# Golden values: computed once with this code (fp32, CPU, vgg16-hed, max pooling) by running
# this test's problem and printing `log[0]` and `log[-1]`; they pin the loss definitions and
# the L-BFGS set-up.  Step 0 is a pure function of the images (tight tolerance); after five
# L-BFGS steps float summation order may differ between CPUs (looser).
GOLDEN_FIRST = {"content": 0.0, "style": 0.29895478, "tv": 0.03473255, "total": 299.30209}
GOLDEN_LAST = {"content": 0.14940053, "style": 0.11821488, "tv": 0.03669194, "total": 118.73119}


def test_golden_loss_values(stylizer, content, styles):
    # Every setting explicit, so that changing a default does not change the golden values.
    _, log = run(stylizer, content, styles[0], iterations=5, optimizer="lbfgs", init="content",
                 content_weight=1.0, style_weight=1000.0, tv_weight=10.0, scales=1)
    for name, value in GOLDEN_FIRST.items():
        assert log[0][name] == pytest.approx(value, rel=1e-4, abs=1e-7), name
    for name, value in GOLDEN_LAST.items():
        assert log[-1][name] == pytest.approx(value, rel=2e-2, abs=1e-6), name


def test_seed_makes_noise_init_deterministic(stylizer, content, styles):
    first, _ = run(stylizer, content, styles[0], iterations=3, init="noise", seed=7)
    again, _ = run(stylizer, content, styles[0], iterations=3, init="noise", seed=7)
    other, _ = run(stylizer, content, styles[0], iterations=3, init="noise", seed=8)
    assert torch.equal(first, again)
    assert (first - other).abs().max() > 1e-2


def test_style_init_starts_from_the_style(stylizer, content, styles):
    images: list[torch.Tensor] = []
    stylizer.stylize(content, styles[0], content_size=0, style_size=0, iterations=1, init="style",
                     style_weight=0.0, tv_weight=0.0, callback=lambda s, l, image: images.append(image.clone()))
    # One L-BFGS step from the style moves it towards the content, but the start shows through.
    assert (images[0] - styles[0]).abs().mean() < (images[0] - content).abs().mean()


def test_scale_schedule():
    assert scale_sizes(2048, 2048) == [(512, 512), (1024, 1024), (2048, 2048)]
    assert scale_sizes(384, 512) == [(384, 512)]
    assert scale_sizes(600, 900) == [(300, 450), (600, 900)]
    assert scale_sizes(40, 64, scales=3) == [(40, 64)]  # 10×16 and 20×32 are below the 32-px floor
    assert scale_sizes(100, 64, scales=2) == [(50, 32), (100, 64)]


def test_coarse_to_fine_produces_the_requested_size(stylizer, styles):
    content = to_tensor(random_rgb(64, 80, seed=3))  # (1, 3, 80, 64)
    sizes: list[tuple[int, int]] = []
    out = stylizer.stylize(content, styles[0], content_size=0, style_size=0, iterations=2, scales=2,
                           callback=lambda s, l, image: sizes.append(tuple(image.shape[-2:])))
    assert out.shape == (1, 3, 80, 64)
    assert sizes == [(40, 32), (40, 32), (80, 64), (80, 64)]  # 2 iterations at each scale, coarse first


def test_two_styles_blend_by_weight(stylizer, content, styles):
    only_first, _ = run(stylizer, content, styles[0], iterations=4)
    weighted_first, _ = run(stylizer, content, styles, style_weights=[1.0, 0.0], iterations=4)
    assert torch.allclose(only_first, weighted_first, atol=1e-6)  # weight 0 removes a style's loss
    blend, log = run(stylizer, content, styles, style_weights=[0.3, 0.7], iterations=4)
    assert log[-1]["style"] < log[0]["style"]
    assert (blend - only_first).abs().mean() > 1e-3


def test_masks_give_each_region_its_style(stylizer, content, styles):
    left = torch.zeros(1, 1, 32, 32)
    left[..., :16] = 1.0
    masks = torch.cat([left, 1 - left], dim=1)  # (1, K=2, H, W)
    out, log = run(stylizer, content, styles, masks=masks, iterations=4)
    assert out.shape == content.shape
    assert log[-1]["style"] < log[0]["style"]
    # A mask covering everything is the plain Gram matrix (masks resized to each layer's size).
    features = torch.randn(2, 8, 6, 5)
    assert torch.allclose(masked_gram(features, torch.ones(1, 1, 32, 32)), gram(features), atol=1e-5)


@pytest.mark.parametrize("preserve_color", ["histogram", "luminance"])
def test_colour_preservation(stylizer, content, styles, preserve_color):
    out, log = run(stylizer, content, styles[0], iterations=3, preserve_color=preserve_color)
    assert out.shape == content.shape and torch.isfinite(out).all()
    assert log[-1]["total"] < log[0]["total"]


def test_works_when_the_caller_disabled_autograd(stylizer, content, styles):
    with torch.inference_mode():
        out, log = run(stylizer, content, styles[0], iterations=2)
    assert out.shape == content.shape and log[-1]["total"] < log[0]["total"]


@pytest.mark.parametrize("options, named", [
    ({"optimizer": "sgd"}, "optimizer"),
    ({"init": "zeros"}, "init"),
    ({"style_weight": -1.0}, "style-weight"),
    ({"content_weight": float("nan")}, "content-weight"),
    ({"iterations": 0}, "iterations"),
    ({"scales": -1}, "scales"),
    ({"itertions": 3}, "itertions"),
    ({"content_weight": 0.0, "style_weight": 0.0}, "all 0"),
])
def test_bad_settings_are_one_line_user_errors(stylizer, content, styles, options, named):
    with pytest.raises(UserError) as info:
        stylizer.stylize(content, styles[0], content_size=0, style_size=0, **options)
    assert named in str(info.value) and "\n" not in str(info.value)


def test_bad_settings_fail_before_the_encoder_loads():
    with pytest.raises(UserError, match="optimizer"):
        load_gatys(encoder="no-such-encoder", optimizer="sgd")


def test_cli_writes_a_file(tmp_path, capsys):
    content = write_image(tmp_path / "c.jpg", 64, 48, seed=1)
    style = write_image(tmp_path / "s.png", 40, 40, seed=2)
    out = tmp_path / "out.png"
    code = main(["stylize", "--method", "gatys", "--iterations", "3", "--content-size", "32", "--style-size", "32",
                 "--content", str(content), "--style", str(style), "--output", str(out), "--no-progress",
                 "--device", "cpu", "--precision", "fp32", "--pooling", "max", "--seed", "1"])
    assert code == 0 and out.is_file()
    from PIL import Image

    with Image.open(out) as image:
        assert image.size == (43, 32)  # shorter side 32, aspect kept


def test_cli_negative_weight_is_a_clean_error(tmp_path, capsys):
    content = write_image(tmp_path / "c.jpg", 32, 32, seed=1)
    code = main(["stylize", "--method", "gatys", "--style-weight", "-5", "--content", str(content),
                 "--style", str(content), "--output", str(tmp_path / "o.png"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "style-weight" in err and "Traceback" not in err


def test_bench_reports_seconds_per_iteration(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "--method", "gatys", "--size", "32", "--repeat", "1", "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["size"] == 32 and row["reference_s"] > 0 and row["fast_s"] > 0
    assert row["speedup"] == pytest.approx(row["reference_s"] / row["fast_s"])
