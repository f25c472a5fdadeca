"""Evaluation metrics on tiny known cases, the EfficientNet-Lite0 features, the Magenta reference."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch

from adain.evaluation import metrics as M
from adain.nn.functional import EPS
from adain.nn.losses import distances as D


def _image(seed: int = 0, size: tuple[int, int] = (32, 40)) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, *size, generator=generator)


def test_identical_images_score_zero_distance_and_ssim_one():
    image = _image()
    feats = {"a": image * 3.0, "b": image[:, :2] + 1.0}
    assert D.content_mse(feats["a"], feats["a"]).item() == 0.0
    assert D.relative_content(feats["a"], feats["a"]).item() == 0.0
    assert D.style_mean_std_loss(feats, feats, ("a", "b")).item() == 0.0
    assert D.relative_style(feats, feats, ("a", "b")).item() == 0.0
    assert D.gram_loss(feats, feats, ("a", "b")).item() == 0.0
    assert M.color_wasserstein(image, image).item() == 0.0
    assert M.ssim_luminance(image, image).item() == pytest.approx(1.0, abs=1e-5)


def test_layout_correlation_separates_a_kept_layout_from_blander_features():
    torch.manual_seed(0)
    content = torch.randn(2, 6, 8, 10)
    per_channel_scale = torch.rand(1, 6, 1, 1) + 0.5
    restyled = content * per_channel_scale + 3.0  # same layout, other statistics
    torch.testing.assert_close(M.layout_correlation(restyled, content), torch.ones(2))
    unrelated = torch.randn(2, 6, 8, 10)
    assert M.layout_correlation(unrelated, content).abs().max() < 0.2
    # the distance itself is decomposed by ρ: halving an unrelated output's energy lowers the
    # relative content distance but leaves ρ alone
    assert (D.relative_content(0.5 * unrelated, content) < D.relative_content(unrelated, content)).all()
    torch.testing.assert_close(M.layout_correlation(0.5 * unrelated, content), M.layout_correlation(unrelated, content))


def test_colour_distance_of_a_shift_is_the_shift():
    constant = torch.full((1, 3, 16, 16), 0.3)
    assert M.color_wasserstein(constant + 0.1, constant).item() == pytest.approx(0.1, abs=1e-6)
    image = _image() * 0.8  # a shifted non-constant image of another size: still the shift
    other = torch.nn.functional.interpolate(image, size=(64, 80), mode="nearest")
    assert M.color_wasserstein(other + 0.1, image).item() == pytest.approx(0.1, abs=1e-5)
    # only one channel moves by 0.3: the channel mean is 0.1
    moved = image.clone()
    moved[:, 1] += 0.3
    assert M.color_wasserstein(moved, image).item() == pytest.approx(0.1, abs=1e-5)


def test_mean_std_loss_of_a_known_affine_change():
    # ±1 checkerboard per channel: mean 0, population variance 1
    board = (torch.arange(8).view(8, 1) + torch.arange(8).view(1, 8)) % 2 * 2.0 - 1.0
    feat = board.expand(1, 4, 8, 8).clone()
    changed = 2.0 * feat + 3.0  # μ: 0 → 3, σ: 1 → 2
    expected = 3.0**2 + (math.sqrt(4 + EPS) - math.sqrt(1 + EPS)) ** 2
    loss = D.style_mean_std_loss({"x": changed}, {"x": feat}, ("x",))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    relative = D.relative_style({"x": changed}, {"x": feat}, ("x",))
    assert relative.item() == pytest.approx(expected / (0 + 1 + EPS), rel=1e-5)
    # Gram of 2F is 4G: mean (3G)² = 9 mean G², and the relative Gram loss is 9
    gram_feat = {"x": _image(1)}
    doubled = {"x": 2.0 * gram_feat["x"]}
    assert D.relative_gram_loss(doubled, gram_feat, ("x",)).item() == pytest.approx(9.0, rel=1e-5)


def test_relative_numbers_of_images_follow_design_md(hed_encoder):
    """measure_relative_* (the one implementation used by training validation, eval.py and the
    experiments) against design.md's formulas written out here with plain loops."""
    from adain.nn.encoders import CONTENT_TAP, STYLE_TAPS

    output, content, style = _image(0), _image(1), _image(2, (40, 48))
    with torch.no_grad():
        out_f = hed_encoder(output, taps=STYLE_TAPS)
        content_f = hed_encoder(content, taps=STYLE_TAPS)
        style_f = hed_encoder(style, taps=STYLE_TAPS)
        expected_content = ((out_f[CONTENT_TAP] - content_f[CONTENT_TAP]) ** 2).mean() / (content_f[CONTENT_TAP] ** 2).mean()
        expected_style = 0.0
        for tap in STYLE_TAPS:
            o, s = out_f[tap][0].flatten(1), style_f[tap][0].flatten(1)  # (C, H·W)
            o_mu, s_mu = o.mean(1), s.mean(1)
            o_sd, s_sd = (o.var(1, unbiased=False) + EPS).sqrt(), (s.var(1, unbiased=False) + EPS).sqrt()
            expected_style += float((((o_mu - s_mu) ** 2).mean() + ((o_sd - s_sd) ** 2).mean())
                                    / ((s_mu ** 2).mean() + (s_sd ** 2).mean()))
        assert D.measure_relative_content(hed_encoder, output, content).item() == pytest.approx(expected_content.item(), rel=1e-5)
        assert D.measure_relative_style(hed_encoder, output, style).item() == pytest.approx(expected_style, rel=1e-4)
        assert D.relative_content(out_f[CONTENT_TAP], content_f[CONTENT_TAP]).item() == pytest.approx(
            expected_content.item(), rel=1e-5)


class _Projection(torch.nn.Module):
    """A fixed linear map of the mean colour and a few pixels: (N, 3, 8, 8) → (N, 6)."""

    num_features = 6

    def forward(self, images):
        images = images.float()
        return torch.cat([images.mean(dim=(2, 3)), images[:, :, 0, 0] * 2 - images[:, :, 3, 5]], dim=1)


def test_frechet_distance_matches_torchmetrics_fid_with_a_custom_feature():
    from torchmetrics.image.fid import FrechetInceptionDistance

    generator = torch.Generator().manual_seed(0)
    real = torch.rand(9, 3, 8, 8, generator=generator)
    fake = torch.rand(7, 3, 8, 8, generator=generator) * 0.7 + 0.2
    fid = FrechetInceptionDistance(feature=_Projection(), normalize=True)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    projection = _Projection()
    ours = M.frechet_distance(projection(fake), projection(real))
    assert ours == pytest.approx(float(fid.compute()), rel=1e-4, abs=1e-6)
    features = torch.randn(12, 5, generator=generator)
    assert M.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-9)
    shift = torch.tensor([0.5, -1.0, 0.0, 2.0, 0.0])
    assert M.frechet_distance(features + shift, features) == pytest.approx(float(shift.square().sum()), rel=1e-6)
    assert math.isnan(M.frechet_distance(features[:1], features))


@pytest.fixture(scope="module")
def effnet():
    from adain.core.errors import UserError
    from adain.evaluation.features import load_efficientnet_lite0

    try:
        return load_efficientnet_lite0()
    except UserError as exc:
        pytest.skip(str(exc))


def test_efficientnet_taps_have_the_documented_shapes(effnet):
    with torch.inference_mode():
        feats = effnet(torch.rand(2, 3, 64, 96), taps=("stage1", "stage2", "stage3", "stage4", "stage5", "pooled"))
    assert feats["stage1"].shape == (2, 16, 32, 48)
    assert feats["stage2"].shape == (2, 24, 16, 24)
    assert feats["stage3"].shape == (2, 40, 8, 12)
    assert feats["stage4"].shape == (2, 112, 4, 6)
    assert feats["stage5"].shape == (2, 320, 2, 3)
    assert feats["pooled"].shape == (2, 1280)
    assert all(torch.isfinite(f).all() for f in feats.values())


def test_efficientnet_classifies_chelsea_as_a_cat(effnet):
    skimage_data = pytest.importorskip("skimage.data")
    cat = torch.from_numpy(skimage_data.chelsea()).permute(2, 0, 1)[None].float() / 255.0
    cat = torch.nn.functional.interpolate(cat, size=(224, 224), mode="bilinear", antialias=True)
    with torch.inference_mode():
        top = int(effnet.classify(cat).argmax())
    assert 281 <= top <= 285  # ImageNet tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime not installed")
def test_magenta_stylizer_runs_on_a_tiny_input():
    from adain.core.errors import UserError
    from adain.evaluation.magenta import load_magenta

    try:
        stylizer = load_magenta(threads=1)
    except UserError as exc:
        pytest.skip(str(exc))
    content, style = _image(0, (24, 40)), _image(1, (32, 32))
    out = stylizer.stylize(content, style, content_size=0, style_size=0)
    assert out.shape == content.shape
    assert 0.0 <= out.min() and out.max() <= 1.0 and out.std() > 0.01
    weaker = stylizer.stylize(content, style, content_size=0, style_size=0, strength=0.0)
    assert not torch.allclose(out, weaker)
    with pytest.raises(UserError, match="strength"):
        stylizer.stylize(content, style, content_size=0, style_size=0, strength=2.0)
