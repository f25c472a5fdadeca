"""Stroke-size control (style_scale), its measure, the guided filter and photo mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adain.core.errors import UserError
from adain.evaluation.photo import gradient_correlation
from adain.evaluation.stroke import detail_frequency, stroke_size
from adain.inference.guided_filter import box_mean, guided_filter, photo_smooth, photo_smooth_bands
from adain.methods.base import average_features, rescale, style_scales

from conftest import random_rgb


def _tensor(image) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).unsqueeze(0).float() / 255


# --- the stroke measure ------------------------------------------------------------------------

def test_detail_frequency_finds_the_period_of_stripes():
    """A sinusoid of period P has all its detail power at 1/P cycles per pixel."""
    for period in (6, 12, 24):
        x = torch.arange(192, dtype=torch.float64)
        stripes = 0.5 + 0.4 * torch.sin(2 * torch.pi * x / period)
        image = stripes.view(1, 1, 1, -1).expand(1, 3, 192, 192).float()
        assert float(detail_frequency(image)) == pytest.approx(1 / period, rel=0.1)
        assert float(stroke_size(image)) == pytest.approx(period, rel=0.1)


# --- style_scale ------------------------------------------------------------------------------

def test_style_scales_validation():
    assert style_scales(None) is None
    assert style_scales(2) == (2.0,)
    assert style_scales([0.5, 1, 2]) == (0.5, 1.0, 2.0)
    for bad in ([], 0, -1, 100, float("nan"), ["x"]):
        with pytest.raises(UserError, match="style scale"):
            style_scales(bad)
    with pytest.raises(UserError, match="at least 16 px"):
        rescale(torch.rand(1, 3, 20, 20), 0.5)


def test_encode_style_at_scales_averages_the_statistics(stylizer_fp32):
    style = _tensor(random_rgb(64, 48, seed=3))
    one = stylizer_fp32.encode_style(style, size=0)
    double = stylizer_fp32.encode_style(style, size=0, style_scale=2)
    assert double.scales == (2.0,) and double.image.shape == one.image.shape  # the image is kept as is
    expected = stylizer_fp32.model.style_stats(rescale(style, 2.0))
    torch.testing.assert_close(double.features.mean, expected.mean)
    both = stylizer_fp32.encode_style(style, size=0, style_scale=[1, 2])
    torch.testing.assert_close(both.features.std, (one.features.std + double.features.std) / 2)
    # a prepared code is reused unless other scales are asked for
    assert stylizer_fp32.encode_style(double) is double
    assert stylizer_fp32.encode_style(double, style_scale=2) is double
    again = stylizer_fp32.encode_style(double, style_scale=1)
    torch.testing.assert_close(again.features.mean, one.features.mean)
    grams = average_features([{"a": torch.ones(2)}, {"a": torch.zeros(2)}])
    torch.testing.assert_close(grams["a"], torch.full((2,), 0.5))


def test_colour_preservation_keeps_the_scale(stylizer_fp32):
    content, style = _tensor(random_rgb(40, 32, seed=1)), _tensor(random_rgb(64, 48, seed=2))
    code = stylizer_fp32.encode_style(style, size=0, style_scale=2)
    assert stylizer_fp32.style_in_content_colors(code, "histogram", content).scales == (2.0,)
    plain = stylizer_fp32.stylize(content, style, content_size=0, style_size=0, preserve_color="histogram")
    scaled = stylizer_fp32.stylize(content, style, content_size=0, style_size=0, preserve_color="histogram",
                                   style_scale=2)
    assert not torch.allclose(plain, scaled)


def test_strokes_grow_with_the_style_scale():
    """With the shipped decoder: the output's detail frequency falls as the scale grows, for two
    painted styles (the measured margins at this size are 15–60 %)."""
    import adain
    from skimage import data

    from adain.cli.examples import ink_waves, stained_glass

    model = adain.load(device="cpu")
    content = torch.from_numpy(data.chelsea().copy()).permute(2, 0, 1).float() / 255
    for style in (stained_glass(192), ink_waves(192)):
        freq = [float(detail_frequency(model.stylize(content, style, content_size=96, style_size=96,
                                                     style_scale=scale)))
                for scale in (0.5, 1.0, 2.0)]
        assert freq[0] > freq[1] * 1.1 > freq[2] * 1.1 * 1.05, freq


def test_gatys_honours_style_scale(hed_encoder):
    from adain.methods.gatys import GatysStylizer

    gatys = GatysStylizer(hed_encoder)
    style = _tensor(random_rgb(48, 40, seed=5))
    code = gatys.encode_style(style, size=0, style_scale=2)
    expected = gatys.style_grams(rescale(style, 2.0), gatys.options.style_layers)
    for tap, value in expected.items():
        torch.testing.assert_close(code.features[tap], value)


def test_stylize_cli_style_scale(tmp_path):
    from adain.cli.main import main

    from conftest import write_image

    content, style = write_image(tmp_path / "c.png", 48, 40, 1), write_image(tmp_path / "s.png", 48, 40, 2)
    out = tmp_path / "o.png"
    assert main(["stylize", "--content", str(content), "--style", str(style), "--content-size", "40",
                 "--style-size", "40", "--style-scale", "0.5", "2", "--photo", "--output", str(out),
                 "--no-progress"]) == 0
    assert out.is_file()
    assert main(["stylize", "--content", str(content), "--style", str(style), "--style-scale", "0",
                 "--output", str(tmp_path / "p.png"), "--no-progress"]) == 2


# --- the guided filter ------------------------------------------------------------------------

def _naive_guided_filter(I: np.ndarray, p: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al. (2013) eq. (14)–(16) and section 3.5, window by window: I (H, W, 3), p (H, W)."""
    h, w = p.shape
    a = np.zeros((h, w, 3))
    b = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            win = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
            Iw, pw = I[win].reshape(-1, 3), p[win].reshape(-1)
            mu, pbar = Iw.mean(0), pw.mean()
            cov = (Iw - mu).T @ (Iw - mu) / len(pw)
            a[y, x] = np.linalg.solve(cov + eps * np.eye(3), (Iw * pw[:, None]).mean(0) - mu * pbar)
            b[y, x] = pbar - a[y, x] @ mu
    q = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            win = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
            q[y, x] = a[win].reshape(-1, 3).mean(0) @ I[y, x] + b[win].mean()
    return q


def test_guided_filter_matches_the_paper_window_by_window():
    rng = np.random.default_rng(0)
    I, p = rng.uniform(size=(9, 11, 3)), rng.uniform(size=(9, 11))
    expected = _naive_guided_filter(I, p, r=2, eps=1e-2)
    got = guided_filter(torch.from_numpy(I).permute(2, 0, 1)[None].float(),
                        torch.from_numpy(p)[None, None].float(), radius=2, eps=1e-2)
    np.testing.assert_allclose(got[0, 0].numpy(), expected, atol=1e-4)


def test_box_mean_and_edge_preservation():
    x = torch.rand(1, 2, 13, 17)
    ref = torch.nn.functional.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)
    torch.testing.assert_close(box_mean(x, 2), ref)
    # a step edge in the guide survives in the output; the noise in the flat halves does not
    guide = torch.full((1, 3, 32, 32), 0.3)
    guide[..., 16:] = 0.7
    noisy = guide + 0.1 * torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = photo_smooth(noisy, guide, radius=4)
    assert float(out[..., :12].std()) < 0.3 * float(noisy[..., :12].std())  # flat half: noise gone
    assert float(out[..., 20:].mean() - out[..., :12].mean()) == pytest.approx(0.4, abs=0.03)  # the step kept
    assert float((out[..., 16] - out[..., 15]).mean()) > 0.3  # and sharp: within one pixel


def test_banded_photo_smooth_equals_whole_image():
    rng = np.random.default_rng(1)
    content = rng.integers(0, 256, (70, 30, 3), dtype=np.uint8)
    stylised = rng.integers(0, 256, (70, 30, 3), dtype=np.uint8)
    whole = photo_smooth(_tensor(stylised), _tensor(content), radius=3)
    whole = whole[0].mul(255).round().byte().permute(1, 2, 0).numpy()
    photo_smooth_bands(stylised, content, radius=3, rows=16)  # in place
    assert np.abs(stylised.astype(int) - whole.astype(int)).max() <= 1


def test_photo_mode_tiled_equals_untiled(stylizer_fp32):
    content, style = _tensor(random_rgb(96, 80, seed=1)), _tensor(random_rgb(64, 48, seed=2))
    kwargs = dict(content_size=0, style_size=0, photo=True, photo_radius=3)
    untiled = stylizer_fp32.stylize(content, style, tile=0, **kwargs)
    tiled = stylizer_fp32.stylize(content, style, tile=64, **kwargs)
    torch.testing.assert_close(tiled, untiled, atol=2e-4, rtol=0)
    plain = stylizer_fp32.stylize(content, style, tile=0, content_size=0, style_size=0)
    assert float(gradient_correlation(untiled, content)) > float(gradient_correlation(plain, content))


def test_photo_mode_keeps_structure_on_a_photo_pair(shared_data):
    """A day photo restyled by a sunset photo (deep-photo-styletransfer's examples), shipped
    decoder at 128 px: photo mode keeps more of the content's edges and luminance structure."""
    import adain
    from adain.evaluation.metrics import ssim_luminance
    from adain.core.io import load_image

    content = load_image(shared_data / "content/train/dpst_in3.jpg", 128)
    style = shared_data / "content/train/dpst_tar3.jpg"
    model = adain.load(device="cpu")
    plain = model.stylize(content, style, content_size=0, style_size=128)
    photo = model.stylize(content, style, content_size=0, style_size=128, photo=True)
    assert float(gradient_correlation(photo, content)) > float(gradient_correlation(plain, content)) + 0.05
    assert float(ssim_luminance(photo, content)) > float(ssim_luminance(plain, content)) + 0.05
