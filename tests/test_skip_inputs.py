"""A skip decoder's inputs in folded form (adain.nn.skip_inputs): the same output as the AdaIN targets
they replace, with relu1_1 recomputed band by band from the image exactly as the encoder computes
it, and the encoder and the tile statistics reducing maps without holding them."""

from __future__ import annotations

import pytest
import torch

from adain.inference.tiling.passes import _RegionMoments
from adain.nn import functional as AF
from adain.nn.encoders import get_spec, VGGEncoder
from adain.nn.model import AdaINModel, DecoderInputs, pad_to_multiple
from adain.nn.skip_inputs import AffineSkip, RecomputedSkip, adain_affine, add_projection_
from conftest import random_rgb_tensor as image
from test_skips import skip_decoder


def reference_output(model: AdaINModel, content, styles, weights, alpha):
    """The skip decoder's output from its AdaIN target maps (`skip_targets`), as it was computed
    before the folded inputs."""
    padded, (height, width) = pad_to_multiple(content)
    feats = model.encoder(model.network_input(padded), taps=(*model.skip_taps, "relu4_1"))
    target = model.transfer(feats["relu4_1"], styles, weights, None, alpha)
    skips = model.skip_targets(feats, styles, weights, None, alpha)
    content_palette = AF.mean_std(content) if AF.palette_needs_content(None, alpha) else None
    palette = model.palette(styles, content_palette, target.shape[-2:], weights, None, alpha)
    return model.decode(DecoderInputs(target, palette, skips))[..., :height, :width]


@pytest.mark.parametrize("memory_format", [torch.channels_last, torch.contiguous_format],
                         ids=["channels_last", "contiguous"])
def test_folded_inputs_give_the_output_of_the_targets(hed_encoder, memory_format):
    decoder = skip_decoder(seed=4)
    decoder.add_palette_head()
    with torch.no_grad():
        decoder.palette_head[2].weight.normal_(0, 0.1)
    model = AdaINModel(hed_encoder, decoder).eval()
    model.memory_format = memory_format
    # two contents of a size that is no multiple of 8 (reflection-padded), two styles
    content = torch.cat([image(45, 38, seed=1), image(45, 38, seed=2)])
    styles = [model.style_stats(image(32, 32, seed=3)), model.style_stats(image(40, 24, seed=5))]
    with torch.inference_mode():
        for used, weights, alpha in [(styles[:1], None, 1.0), (styles, [0.3, 0.7], 0.6), (styles[1:], None, 0.0)]:
            folded = model(content, used, weights, alpha=alpha)
            expected = reference_output(model, content, used, weights, alpha)
            assert (expected[0] - expected[1]).abs().mean() > 1e-2  # the two samples differ
            torch.testing.assert_close(folded, expected, atol=2e-5, rtol=1e-5)


def test_projection_bands_add_up_to_the_whole(hed_encoder):
    proj = torch.nn.Conv2d(64, 64, 1)
    torch.manual_seed(0)
    hidden = torch.rand(2, 64, 13, 11)
    feat = torch.rand(2, 64, 13, 11) * 50
    skip = AffineSkip(feat, scale=torch.rand(2, 64, 1, 1) + 0.5, shift=torch.randn(1, 64, 1, 1))
    with torch.no_grad():
        expected = hidden + proj((feat * skip.scale + skip.shift) / 64)
        one_band = add_projection_(hidden.clone(), proj, skip, 1 / 64)
        row_bands = add_projection_(hidden.clone(), proj, skip, 1 / 64, band_pixels=11 * 4)  # 4 rows, then 1
    torch.testing.assert_close(one_band, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(row_bands, one_band, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("padding", ["reflect", "zero"])
def test_recomputed_relu1_1_is_the_encoders_at_the_border_and_inside_a_crop(adain_cache, padding):
    spec = get_spec("vgg16-hed", padding=padding)
    encoder = VGGEncoder(spec, last_tap="relu1_1")
    torch.manual_seed(1)
    with torch.no_grad():
        encoder.convs["conv1_1"].weight.normal_(0, 0.1)
        encoder.convs["conv1_1"].bias.normal_(0, 0.1)
    rgb = image(30, 21, seed=6)
    relu1_1 = encoder(rgb, taps=("relu1_1",))["relu1_1"]  # (1, 64, 21, 30)
    ones, zeros = torch.ones(1, 64, 1, 1), torch.zeros(1, 64, 1, 1)
    whole = RecomputedSkip.of_image(encoder, rgb, ones, zeros)
    torch.testing.assert_close(torch.cat([whole.rows(0, top, min(top + 4, 21), 30) for top in range(0, 21, 4)], 2),
                               relu1_1, atol=1e-5, rtol=1e-5)
    window = RecomputedSkip.of_image(encoder, rgb, ones, zeros, top=5, left=7)
    torch.testing.assert_close(window.rows(0, 2, 9, 16), relu1_1[..., 7:14, 7:23], atol=1e-5, rtol=1e-5)


def test_adain_affine_is_adain_mixed_with_the_content():
    feat = torch.rand(2, 8, 5, 6) * 10
    content, style = AF.mean_std(feat), AF.FeatureStats(torch.rand(1, 8, 1, 1), torch.rand(1, 8, 1, 1) + 0.1)
    scale, shift = adain_affine(content, style, alpha=0.3)
    torch.testing.assert_close(feat * scale + shift, AF.mix_content(AF.adain(feat, style), feat, 0.3))


def test_the_encoder_hands_summarised_maps_over_and_keeps_going(hed_encoder):
    rgb = image(24, 16, seed=2)
    seen = []
    out = hed_encoder(rgb, taps=("relu2_1",), summarise={"relu1_1": lambda feat: seen.append(feat.shape) or "stats"})
    assert out["relu1_1"] == "stats" and seen == [torch.Size([1, 64, 16, 24])]
    torch.testing.assert_close(out["relu2_1"], hed_encoder(rgb, taps=("relu2_1",))["relu2_1"])


def test_unweighted_tile_moments_equal_the_weighted_ones():
    feat = torch.rand(64, 9, 7) * 100
    weighted, unweighted = _RegionMoments(1), _RegionMoments(1)
    for valid in feat.split(4, dim=1):  # three "tiles" of rows
        weighted.add(valid, torch.ones(1, *valid.shape[1:], dtype=torch.float64))
        unweighted.add_unweighted(valid)
    (a,), (b,) = weighted.stats(AF.EPS), unweighted.stats(AF.EPS)
    torch.testing.assert_close(b.mean, a.mean)
    torch.testing.assert_close(b.std, a.std)
    torch.testing.assert_close(b.std, AF.mean_std(feat[None]).std)


@pytest.mark.parametrize("batch_palettes", [1, 2])
def test_the_palette_film_folded_into_the_output_layer_is_the_film(batch_palettes):
    """At inference a palette decoder folds γ, β into its output convolution (exact under
    reflection padding); with autograd on it applies them to the hidden map: the same image."""
    decoder = skip_decoder(seed=2)
    decoder.add_palette_head()
    with torch.no_grad():
        decoder.palette_head[2].weight.normal_(0, 0.2)
        decoder.palette_head[2].bias.normal_(0, 0.2)
    feat, skips = torch.rand(2, 512, 5, 4) * 50, {"relu3_1": torch.rand(2, 256, 10, 8) * 900,
                                                   "relu2_1": torch.rand(2, 128, 20, 16) * 400,
                                                   "relu1_1": torch.rand(2, 64, 40, 32) * 50}
    palette = torch.rand(batch_palettes, 6, 1, 1)
    with torch.no_grad():
        folded = decoder(feat, palette=palette, skips=dict(skips))
    with torch.enable_grad():
        plain = decoder(feat, palette=palette, skips=dict(skips)).detach()
    assert decoder._can_fold(torch.zeros(1, 128, 1, 1)) is False  # autograd on here: not folded
    torch.testing.assert_close(folded, plain, atol=1e-5, rtol=1e-5)
