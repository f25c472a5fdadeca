"""adain.nn.functional: statistics, AdaIN, blending, masks, Gram matrices and colour transfer."""

from __future__ import annotations

import math

import pytest
import torch

from adain.core.errors import UserError
from adain.nn import functional as AF


def feats(*shape: int, seed: int = 0, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator) * scale + shift


def assert_stats_equal(actual: torch.Tensor, expected: AF.FeatureStats, tol: float = 1e-4) -> None:
    """Per-channel mean/std of `actual` (without eps) against `expected` (which carries eps)."""
    got = AF.mean_std(actual, eps=0.0)
    torch.testing.assert_close(got.mean, expected.mean.expand_as(got.mean), atol=tol, rtol=tol)
    # `expected.std` is sqrt(var + eps); the AdaIN output has exactly that std only up to the
    # normalised content's own std of sqrt(var / (var + eps)) ≈ 1, well inside tol here.
    torch.testing.assert_close(got.std, expected.std.expand_as(got.std), atol=tol, rtol=tol)


# --- mean_std -----------------------------------------------------------------------------

def test_mean_std_is_population_mean_and_std_plus_eps():
    x = feats(2, 3, 5, 7, scale=3.0, shift=1.5)
    stats = AF.mean_std(x, eps=1e-3)
    flat = x.reshape(2, 3, -1)
    expected_mean = flat.mean(-1)
    expected_var = flat.var(-1, unbiased=False)  # population variance: divide by H·W
    assert stats.mean.shape == stats.std.shape == (2, 3, 1, 1)
    torch.testing.assert_close(stats.mean[..., 0, 0], expected_mean)
    torch.testing.assert_close(stats.std[..., 0, 0], (expected_var + 1e-3).sqrt())


def test_mean_std_of_constant_channel_is_sqrt_eps():
    stats = AF.mean_std(torch.full((1, 1, 4, 4), 2.0))
    assert stats.std.item() == pytest.approx(math.sqrt(AF.EPS), rel=1e-5)


def test_mean_std_with_all_ones_weight_equals_unweighted():
    x = feats(2, 4, 6, 5)
    weighted = AF.mean_std(x, weight=torch.ones(2, 1, 6, 5))
    plain = AF.mean_std(x)
    torch.testing.assert_close(weighted.mean, plain.mean)
    torch.testing.assert_close(weighted.std, plain.std)


def test_mean_std_computes_in_float32_for_bf16_input():
    stats = AF.mean_std(feats(1, 2, 4, 4).bfloat16())
    assert stats.mean.dtype == stats.std.dtype == torch.float32


# --- adain / mix_content -------------------------------------------------------------------

def test_adain_output_takes_the_style_statistics():
    content = feats(2, 8, 9, 11, seed=1, scale=2.0, shift=-1.0)
    style = feats(2, 8, 5, 6, seed=2, scale=4.0, shift=3.0)
    out = AF.adain(content, style)
    assert out.shape == content.shape
    assert_stats_equal(out, AF.mean_std(style))


def test_adain_accepts_precomputed_stats_and_broadcasts_one_style():
    content = feats(3, 4, 6, 6, seed=1)
    style = feats(1, 4, 6, 6, seed=2, scale=2.0)
    from_features = AF.adain(content, style)
    from_stats = AF.adain(content, AF.mean_std(style))
    torch.testing.assert_close(from_features, from_stats)
    assert_stats_equal(from_stats, AF.mean_std(style))


def test_mix_content_alpha_zero_returns_content_exactly():
    content = feats(1, 4, 5, 5, seed=1)
    transferred = feats(1, 4, 5, 5, seed=2)
    assert torch.equal(AF.mix_content(transferred, content, 0.0), content)


def test_mix_content_is_linear_in_alpha():
    content = feats(1, 4, 5, 5, seed=1)
    transferred = feats(1, 4, 5, 5, seed=2)
    torch.testing.assert_close(AF.mix_content(transferred, content, 1.0), transferred)
    torch.testing.assert_close(AF.mix_content(transferred, content, 0.25), 0.25 * transferred + 0.75 * content)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan")])
def test_mix_content_rejects_alpha_outside_unit_interval(alpha):
    with pytest.raises(UserError, match=r"^alpha: .* is outside \[0, 1\]"):
        AF.mix_content(feats(1, 2, 3, 3), feats(1, 2, 3, 3), alpha)


# --- style weights and blending ------------------------------------------------------------

def test_normalise_weights_one_zero_gives_the_first_style_alone():
    content = feats(1, 6, 7, 7, seed=1)
    a, b = AF.mean_std(feats(1, 6, 7, 7, seed=2, scale=3.0)), AF.mean_std(feats(1, 6, 7, 7, seed=3, shift=2.0))
    weights = AF.normalise_weights((1, 0), 2)
    assert weights == [1.0, 0.0]
    torch.testing.assert_close(AF.adain(content, AF.blend_stats([a, b], weights)), AF.adain(content, a))


def test_normalise_weights_scales_to_sum_one():
    assert AF.normalise_weights((2, 2), 2) == AF.normalise_weights((0.5, 0.5), 2) == [0.5, 0.5]
    assert AF.normalise_weights((1, 3), 2) == [0.25, 0.75]
    assert AF.normalise_weights(None, 4) == [0.25] * 4


@pytest.mark.parametrize(
    "weights, count",
    [((1, -1), 2), ((1, float("nan")), 2), ((1, float("inf")), 2), ((0, 0), 2), ((1, 1, 1), 2), ((1,), 2)],
    ids=["negative", "nan", "inf", "zero-sum", "too-many", "too-few"],
)
def test_normalise_weights_rejects_bad_weights(weights, count):
    with pytest.raises(UserError, match=r"^style weights: "):
        AF.normalise_weights(weights, count)


def test_blend_stats_adain_equals_linear_combination_of_adain_outputs():
    """The paper's style interpolation Σ w_k AdaIN(c, s_k) costs one AdaIN with blended stats."""
    content = feats(2, 5, 8, 8, seed=1)
    styles = [AF.mean_std(feats(2, 5, 6, 6, seed=s, scale=s, shift=s - 3)) for s in (2, 3, 4)]
    weights = AF.normalise_weights((1, 2, 5), 3)
    blended = AF.adain(content, AF.blend_stats(styles, weights))
    combination = sum(w * AF.adain(content, s) for w, s in zip(weights, styles))
    torch.testing.assert_close(blended, combination, atol=1e-5, rtol=1e-5)


# --- masked_adain --------------------------------------------------------------------------

def _two_styles():
    a = AF.mean_std(feats(1, 6, 8, 8, seed=2, scale=3.0, shift=2.0))
    b = AF.mean_std(feats(1, 6, 8, 8, seed=3, scale=0.5, shift=-4.0))
    return a, b


def test_masked_adain_with_one_full_mask_equals_plain_adain():
    content = feats(1, 6, 8, 10, seed=1)
    a, b = _two_styles()
    masks = torch.stack([torch.ones(8, 10), torch.zeros(8, 10)])[None]  # (1, 2, H, W)
    torch.testing.assert_close(AF.masked_adain(content, [a, b], masks), AF.adain(content, a), atol=1e-5, rtol=1e-5)


def test_masked_adain_left_right_halves_take_their_styles_statistics():
    content = feats(1, 6, 8, 10, seed=1, scale=2.0)
    a, b = _two_styles()
    # Mask at 4× the feature resolution; the split (column 20 of 40) falls on feature column 5,
    # so area resizing keeps it binary.
    left = torch.zeros(32, 40)
    left[:, :20] = 1
    masks = torch.stack([left, 1 - left])[None]
    out = AF.masked_adain(content, [a, b], masks)
    assert_stats_equal(out[..., :5], a)
    assert_stats_equal(out[..., 5:], b)


def test_masked_adain_keeps_content_where_no_mask_covers():
    content = feats(1, 6, 8, 10, seed=1)
    a, b = _two_styles()
    masks = torch.zeros(1, 2, 8, 10)
    masks[:, 0, :, :4] = 1
    masks[:, 1, :, 4:7] = 1  # columns 7..9 uncovered
    out = AF.masked_adain(content, [a, b], masks)
    assert torch.equal(out[..., 7:], content[..., 7:])
    assert not torch.allclose(out[..., :7], content[..., :7])


def test_masked_adain_rejects_mask_count_mismatch():
    with pytest.raises(UserError, match="masks: got 1 masks for 2 styles"):
        AF.masked_adain(feats(1, 6, 4, 4), list(_two_styles()), torch.ones(1, 1, 4, 4))


# --- gram ----------------------------------------------------------------------------------

def test_gram_equals_f_ft_over_positions():
    x = feats(2, 3, 4, 5, seed=1)
    g = AF.gram(x)
    assert g.shape == (2, 3, 3)
    for n in range(2):
        flat = x[n].reshape(3, 20)
        expected = torch.tensor([[float((flat[i] * flat[j]).sum()) / 20 for j in range(3)] for i in range(3)])
        torch.testing.assert_close(g[n], expected)
    torch.testing.assert_close(g, g.transpose(1, 2))


# --- colour --------------------------------------------------------------------------------

def _mean_cov(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = image.double()[0].reshape(3, -1)
    mean = pixels.mean(1)
    centred = pixels - mean[:, None]
    return mean, centred @ centred.T / pixels.shape[1]


def _coloured_image(seed: int, h: int = 20, w: int = 24) -> torch.Tensor:
    """Correlated colour channels with distinct means, so the covariance is a full 3×3."""
    generator = torch.Generator().manual_seed(seed)
    mix = torch.rand(3, 3, generator=generator, dtype=torch.float64) + torch.eye(3, dtype=torch.float64)
    base = torch.rand(1, 3, h, w, generator=generator, dtype=torch.float64)
    return torch.einsum("ij,njhw->nihw", mix, base) * 0.3 + torch.rand(1, 3, 1, 1, dtype=torch.float64, generator=generator)


def test_match_color_gives_source_the_target_mean_and_covariance():
    source, target = _coloured_image(1), _coloured_image(2, 16, 12)
    matched = AF.match_color(source, target)
    assert matched.shape == source.shape and matched.dtype == torch.float64
    mean_m, cov_m = _mean_cov(matched)
    mean_t, cov_t = _mean_cov(target)
    torch.testing.assert_close(mean_m, mean_t, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(cov_m, cov_t, atol=1e-8, rtol=1e-7)


def test_rgb_yiq_round_trip():
    rgb = torch.rand(2, 3, 5, 6, generator=torch.Generator().manual_seed(0))
    yiq = AF.rgb_to_yiq(rgb)
    torch.testing.assert_close(AF.yiq_to_rgb(yiq), rgb, atol=1e-5, rtol=1e-5)
    # Y is the BT.601 luma.
    torch.testing.assert_close(yiq[:, 0], 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2])
    # Grey has no chroma.
    grey = AF.rgb_to_yiq(torch.full((1, 3, 2, 2), 0.4))
    torch.testing.assert_close(grey[:, 1:], torch.zeros(1, 2, 2, 2), atol=1e-6, rtol=0)


def test_combine_luminance_keeps_content_chroma_and_stylised_luma():
    generator = torch.Generator().manual_seed(0)
    stylised, content = torch.rand(1, 3, 6, 7, generator=generator), torch.rand(1, 3, 6, 7, generator=generator)
    combined = AF.rgb_to_yiq(AF.combine_luminance(stylised, content))
    torch.testing.assert_close(combined[:, 0], AF.rgb_to_yiq(stylised)[:, 0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(combined[:, 1:], AF.rgb_to_yiq(content)[:, 1:], atol=1e-5, rtol=1e-5)


def test_match_luminance_gives_content_luminance_mean_and_std():
    style_luma = feats(1, 1, 10, 12, seed=1, scale=0.2, shift=0.3)
    content_luma = feats(1, 1, 8, 8, seed=2, scale=0.1, shift=0.6)
    matched = AF.match_luminance(style_luma, content_luma)
    assert matched.shape == style_luma.shape
    got, want = AF.mean_std(matched, eps=0), AF.mean_std(content_luma, eps=0)
    torch.testing.assert_close(got.mean, want.mean, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got.std, want.std, atol=1e-5, rtol=1e-5)


def test_the_std_floor_bounds_the_gain_the_same_in_every_form_of_adain():
    """A channel silent in the content but for a few pixels gets a gain of at most
    σ(s) / (STD_FLOOR_RATIO · median σ(c)) in plain, masked and folded (skip input) AdaIN alike."""
    from adain.nn.skip_inputs import adain_affine

    g = torch.Generator().manual_seed(0)
    content = torch.randn(1, 16, 12, 12, generator=g) * 40 + 100
    content[:, 3] = 0.0
    content[:, 3, 5, 5] = 2.0  # std ~0.17 against ~40 elsewhere: an unfloored gain of ~300
    style = AF.FeatureStats(torch.full((1, 16, 1, 1), 10.0), torch.full((1, 16, 1, 1), 50.0))
    plain = AF.adain(content, style)
    stats = AF.mean_std(content)
    floor = AF.STD_FLOOR_RATIO * stats.std.median()
    assert AF.normalising_std(stats)[0, 3, 0, 0] == pytest.approx(floor.item(), rel=1e-6)
    gain = (plain[0, 3, 5, 5] - plain[0, 3, 0, 0]) / 2.0
    assert gain.item() == pytest.approx(50.0 / floor.item(), rel=1e-4)
    torch.testing.assert_close(plain[:, :3], ((content[:, :3] - stats.mean[:, :3]) / stats.std[:, :3]) * 50 + 10)
    masked = AF.masked_adain(content, [style], torch.ones(1, 1, 12, 12))
    torch.testing.assert_close(masked, plain, rtol=1e-5, atol=1e-3)
    scale, shift = adain_affine(stats, style)
    torch.testing.assert_close(scale * content + shift, plain, rtol=1e-5, atol=1e-3)
    assert AF.normalising_std(stats, floor_ratio=0)[0, 3, 0, 0] < floor / 10  # 0: the plain std
