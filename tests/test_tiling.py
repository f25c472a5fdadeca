"""Tiled stylisation (adain.inference.tiling): equal to the untiled run, no seams, bounded memory, clear errors.

Everything runs in fp32 on tiny seeded images with the real vgg16-hed encoder and a seeded
stand-in decoder; one test measures peak RSS in subprocesses on a 1024×768 image.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from adain.cli.main import main
from adain.core.errors import UserError
from adain.core.runtime import process_memory
from adain.inference import tiling
from adain.nn.model import AdaINModel, DecoderInputs
from conftest import REPO_ROOT, make_decoder, random_rgb, write_image

TILE = 64  # px: 90×70 content → 2×2 tiles, each with halos reaching into its neighbours


@pytest.fixture(scope="module")
def model(hed_encoder) -> AdaINModel:
    torch.manual_seed(0)
    model = AdaINModel(hed_encoder, make_decoder()).eval()
    model.memory_format = torch.contiguous_format
    return model


@pytest.fixture(scope="module")
def content() -> torch.Tensor:
    """(1, 3, 70, 90): neither side a multiple of 8 or of the tile."""
    array = np.asarray(random_rgb(90, 70, seed=1))
    return torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0).float().div(255)


def style_image(seed: int) -> torch.Tensor:
    return torch.from_numpy(np.asarray(random_rgb(64, 64, seed=seed)).copy()).permute(2, 0, 1)[None].float() / 255


# --- the halo is the receptive field ------------------------------------------------------

def test_halo_sizes_follow_the_architectures():
    assert tiling.encoder_halo_cells("vgg16") == 4  # 26 px field radius → 4 cells of 8 px
    assert tiling.encoder_halo_cells("vgg19") == 4  # 30 px
    assert tiling.decoder_halo_cells("vgg16") == tiling.decoder_halo_cells("vgg19") == 4
    assert tiling.decoder_halo_cells("vgg16", "bilinear") == tiling.decoder_halo_cells("vgg19", "bilinear") == 5


def test_encoder_receptive_field_is_26_pixels(model):
    """Changing one pixel changes exactly the relu4_1 cells whose 60-px field covers it."""
    image = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    changed = image.clone()
    changed[..., 64, 64] = 1 - changed[..., 64, 64]
    with torch.inference_mode():
        diff = (model.encode(changed) - model.encode(image)).abs().amax(dim=(0, 1))  # (16, 16)
    rows = torch.nonzero(diff.amax(dim=1) > 0).flatten().tolist()
    # cell i sees pixels 8i − 26 … 8i + 33: pixel 64 lies in the fields of cells 4 … 11
    assert rows == list(range(4, 12))


@pytest.mark.parametrize("upsample, reach", [("nearest", 4), ("bilinear", 5)])
def test_decoder_reach_is_its_halo(model, upsample, reach):
    """Changing one relu4_1 cell changes output pixels within `decoder_halo_cells` of it (4 cells
    = 32 px with nearest upsampling, 5 with bilinear), no further."""
    model.decoder.upsample = upsample
    try:
        feat = torch.rand(1, 512, 16, 16, generator=torch.Generator().manual_seed(0))
        changed = feat.clone()
        changed[..., 8, 8] += 5
        with torch.inference_mode():
            diff = (model.decode(DecoderInputs(changed)) - model.decode(DecoderInputs(feat))).abs().amax(dim=(0, 1))  # (128, 128)
    finally:
        model.decoder.upsample = "nearest"
    rows = torch.nonzero(diff.amax(dim=1) > 0).flatten()
    assert rows.min().item() // 8 == 8 - reach and rows.max().item() // 8 == 8 + reach
    assert reach == tiling.decoder_halo_cells("vgg16", upsample)


# --- equal to the untiled run -------------------------------------------------------------

@pytest.mark.parametrize("options", [
    {"alpha": 0.6},
    {"style_weights": [0.7, 0.3]},
    {"masks": "left-right"},
    {"masks": "gradient"},
    {"preserve_color": "luminance"},
    {"preserve_color": "histogram", "alpha": 0.8},
], ids=["alpha", "two-styles-weighted", "masks", "soft-mask", "luminance", "histogram"])
def test_tiled_equals_untiled(model, content, options):
    from adain.methods.adain import AdaINStylizer

    stylizer = AdaINStylizer(model)
    options = dict(options)
    styles = [style_image(2), style_image(3)] if "style_weights" in options or "masks" in options else style_image(2)
    if options.get("masks") == "left-right":  # soft left/right split at the content's size
        ramp = torch.linspace(0, 1, content.shape[-1]).clamp(0.3, 0.7).sub(0.3).div(0.4)
        options["masks"] = torch.stack([1 - ramp, ramp]).view(1, 2, 1, -1).expand(1, 2, content.shape[-2], -1)
    if options.get("masks") == "gradient":  # one style, m from 0 to 1: m·style + (1 − m)·content
        options["masks"] = torch.linspace(0, 1, content.shape[-1]).view(1, 1, 1, -1).expand(1, 1, content.shape[-2], -1)
    common = dict(content_size=0, style_size=0, **options)
    untiled = stylizer.stylize(content, styles, tile=0, **common)
    tiled = stylizer.stylize(content, styles, tile=TILE, **common)
    assert tiled.shape == untiled.shape == content.shape
    assert untiled.std() > 0.02  # a real image, not a constant the comparison would trivially pass
    torch.testing.assert_close(tiled, untiled, atol=2e-5, rtol=0)


def test_tiled_equals_untiled_with_a_bilinear_decoder(model, content):
    """Bilinear upsampling reaches one cell further (its halo is 5 cells): still no difference."""
    from adain.methods.adain import AdaINStylizer

    model.decoder.upsample = "bilinear"
    try:
        stylizer = AdaINStylizer(model)
        untiled = stylizer.stylize(content, style_image(2), content_size=0, style_size=0, tile=0)
        tiled = stylizer.stylize(content, style_image(2), content_size=0, style_size=0, tile=TILE)
    finally:
        model.decoder.upsample = "nearest"
    assert untiled.std() > 0.02
    torch.testing.assert_close(tiled, untiled, atol=2e-5, rtol=0)


def test_tiled_pil_output_equals_untiled_within_one_level(model, tmp_path):
    """Files and PIL images go through the uint8 buffers: the same pixels, ±1 for rounding."""
    from adain.methods.adain import AdaINStylizer

    stylizer = AdaINStylizer(model)
    path = write_image(tmp_path / "content.png", 90, 70, seed=4)
    untiled = stylizer.stylize(path, style_image(2), content_size=0, style_size=0, tile=0)
    tiled = stylizer.stylize(path, style_image(2), content_size=0, style_size=0, tile=TILE)
    assert isinstance(tiled, Image.Image) and tiled.size == untiled.size == (90, 70)
    difference = np.abs(np.asarray(tiled, dtype=int) - np.asarray(untiled, dtype=int))
    assert difference.max() <= 1 and difference.mean() < 0.01


def test_statistics_are_global_not_per_tile(model, content):
    """Pass 1 gives the untiled feature map's mean/std (also per soft mask region) and the map."""
    from adain.nn import functional as AF

    with torch.inference_mode():
        feat = model.encode(content[..., :64, :88])  # a multiple of 8: no padding involved
        image = tiling.TiledImage(content[..., :64, :88])
        expected = AF.mean_std(feat)
        (got,), kept = tiling.content_statistics(model, image, TILE, keep_features=True)
        torch.testing.assert_close(kept, feat, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(got.mean, expected.mean, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(got.std, expected.std, atol=1e-4, rtol=1e-5)
        masks = torch.rand(1, 2, 8, 11, generator=torch.Generator().manual_seed(0))
        region_stats, none_kept = tiling.content_statistics(model, image, TILE, masks)
        assert none_kept is None
        for k, stats in enumerate(region_stats):
            expected = AF.mean_std(feat, weight=masks[:, k:k + 1])
            torch.testing.assert_close(stats.mean, expected.mean, atol=1e-4, rtol=1e-5)
            torch.testing.assert_close(stats.std, expected.std, atol=1e-4, rtol=1e-5)


def test_pass_two_re_encoding_equals_kept_features(model, content):
    """The low-memory variant (re-encode each tile with both halos) gives the same image."""
    image = tiling.TiledImage(content)
    style = model.style_stats(style_image(2))
    with torch.inference_mode():
        stats, features = tiling.content_statistics(model, image, TILE, keep_features=True)
        kept = tiling.stylize_tiled(model, image, [style], stats, TILE, alpha=0.9, as_tensor=True, features=features)
        re_encoded = tiling.stylize_tiled(model, image, [style], stats, TILE, alpha=0.9, as_tensor=True)
    torch.testing.assert_close(re_encoded.data, kept.data, atol=2e-5, rtol=0)


# --- no seams -----------------------------------------------------------------------------

def border_to_interior_ratio(image: torch.Tensor, tile: int) -> float:
    """Mean |horizontal step| across the vertical tile borders over that of all other columns."""
    steps = (image[..., :, 1:] - image[..., :, :-1]).abs().mean(dim=(0, 1, 2))  # (W − 1,) step x−1 → x
    borders = torch.arange(tile, image.shape[-1], tile) - 1
    interior = torch.ones_like(steps, dtype=torch.bool)
    interior[borders] = False
    return (steps[borders].mean() / steps[interior].mean()).item()


def test_no_seam_at_tile_borders(model, monkeypatch):
    from adain.methods.adain import AdaINStylizer

    stylizer = AdaINStylizer(model)
    content = torch.from_numpy(np.asarray(random_rgb(256, 48, seed=5)).copy()).permute(2, 0, 1)[None].float() / 255
    tiled = stylizer.stylize(content, style_image(2), content_size=0, style_size=0, tile=TILE)
    assert border_to_interior_ratio(tiled, TILE) < 1.25
    # the same measure sees the seams of naive tiling (no halos): it can fail
    monkeypatch.setattr(tiling.passes, "encoder_halo_cells", lambda arch: 0)
    monkeypatch.setattr(tiling.passes, "decoder_halo_cells", lambda arch, upsample="nearest": 0)
    naive = stylizer.stylize(content, style_image(2), content_size=0, style_size=0, tile=TILE)
    assert border_to_interior_ratio(naive, TILE) > 1.5


# --- bounded memory -----------------------------------------------------------------------

MEMORY_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np, torch
    from PIL import Image
    sys.path.insert(0, {tests!r})
    from conftest import make_decoder
    from adain.inference import tiling
    from adain.nn.pretrained import build_encoder
    from adain.methods.adain import AdaINStylizer
    from adain.nn.model import AdaINModel
    from adain.core.runtime import prepare_for_inference, process_memory

    def high_water():  # VmHWM of /proc/self/status, bytes
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

    mode = sys.argv[1]
    model = prepare_for_inference(AdaINModel(build_encoder("vgg16-hed"), make_decoder()), torch.device("cpu"),
                                  torch.bfloat16)
    stylizer = AdaINStylizer(model)
    style = stylizer.encode_style(torch.rand(1, 3, 128, 128))
    content = Image.fromarray(np.random.default_rng(0).integers(0, 256, ({height}, {width}, 3), dtype=np.uint8))
    in_use = process_memory() or 0
    # building the encoder may have converted its weights (a fresh $ADAIN_CACHE), which peaks
    # far above the stylisation; reset the high-water mark so only the stylisation is measured
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    peak_before = high_water()
    budget = in_use + ({budget_mib} << 20)  # on top of libraries, weights and the style
    options = dict(tile=0) if mode == "untiled" else dict(max_memory=budget)
    plan = tiling.choose_tile(model, {height}, {width}, None, budget)
    out = stylizer.stylize(content, style, content_size=0, **options)
    peak = high_water()
    print(json.dumps({{"peak": peak, "peak_before": peak_before, "budget": budget, "in_use": in_use,
                      "tile": plan and plan.tile, "keep_features": plan and plan.keep_features,
                      "size": out.size}}))
""")


# The untiled run of this image in bf16 needs ~430 MiB above its base, over twice the tiled run's
# budget, so the test keeps its margin on CPUs whose kernels need less workspace.
MEMORY_HEIGHT, MEMORY_WIDTH, MEMORY_BUDGET_MIB = 960, 1280, 200


def measure(mode: str) -> dict:
    script = MEMORY_SCRIPT.format(tests=str(REPO_ROOT / "tests"), budget_mib=MEMORY_BUDGET_MIB,
                                  height=MEMORY_HEIGHT, width=MEMORY_WIDTH)
    result = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB and /proc are Linux's")
def test_tiled_peak_memory_stays_under_the_budget():
    tiled = measure("tiled")
    assert tiled["tile"] is not None and tiled["size"] == [MEMORY_WIDTH, MEMORY_HEIGHT]
    assert tiled["peak"] <= tiled["budget"]
    untiled = measure("untiled")
    # the untiled run of the same image needs clearly more than the budget the tiled one kept
    assert untiled["peak"] - untiled["in_use"] > 1.5 * (tiled["budget"] - tiled["in_use"])


# --- bad values ---------------------------------------------------------------------------

@pytest.mark.parametrize("tile, message", [(100, "multiple of 8"), (32, "too small")])
def test_bad_tile_sizes_are_one_line_errors(model, tile, message):
    with pytest.raises(UserError, match=message) as error:
        tiling.choose_tile(model, 4000, 3000, tile=tile)
    assert "\n" not in str(error.value)


def test_budget_too_small_for_any_tile_is_a_one_line_error(model):
    with pytest.raises(UserError, match="--max-memory .* too small for a 3840x2160 image") as error:
        tiling.choose_tile(model, 2160, 3840, max_memory=600 << 20, in_use=500 << 20)
    assert "\n" not in str(error.value)


def test_small_images_stay_untiled_by_default_and_large_ones_tile(model):
    assert tiling.choose_tile(model, 512, 512, in_use=500 << 20) is None
    plan = tiling.choose_tile(model, 2160, 3840, in_use=500 << 20)
    assert plan.tile % 8 == 0 and plan.tile >= tiling.MIN_CACHED_TILE and plan.keep_features
    bigger = tiling.choose_tile(model, 2160, 3840, max_memory=4 << 30, in_use=500 << 20)
    assert bigger.tile > plan.tile  # a larger budget gives larger tiles
    # a budget too tight for the 8K feature map in fp32 (1 GiB) keeps it in fp16 (0.5 GiB) ...
    half = tiling.choose_tile(model, 4320, 7680, max_memory=1800 << 20, in_use=500 << 20)
    assert half.keep_features and half.feature_dtype == torch.float16 and half.tile >= tiling.MIN_CACHED_TILE
    # ... and one too tight for that still runs, re-encoding in pass 2
    tight = tiling.choose_tile(model, 4320, 7680, max_memory=1400 << 20, in_use=500 << 20)
    assert not tight.keep_features and tight.tile >= tiling.MIN_TILE
    # an exact (fp32) map while its tiles stay large
    roomy = tiling.choose_tile(model, 4320, 7680, max_memory=6 << 30, in_use=500 << 20)
    assert roomy.keep_features and roomy.feature_dtype is None and roomy.tile >= tiling.LARGE_CACHED_TILE


def test_a_map_kept_in_half_precision_gives_the_image_within_its_rounding(model, content):
    """fp16 keeps 11 bits: each feature within 2⁻¹¹ of itself (scaled by 2⁻⁸ first, so values far
    beyond float16's 65,504 survive), and the stylised tile within a small fraction of a level."""
    big = torch.tensor([[1e5, 12000.0, 3.0, 1e-3]])
    back = tiling.kept_features(tiling.keep_half(big, torch.float16), torch.float32)
    assert torch.isfinite(back).all() and ((back - big).abs() <= big.abs() * 2 ** -11 + 1e-5).all()
    image = tiling.TiledImage(content)
    style = model.style_stats(style_image(2))
    with torch.inference_mode():
        stats, exact = tiling.content_statistics(model, image, TILE, keep_features=True)
        stats_half, half = tiling.content_statistics(model, image, TILE, keep_features=True,
                                                     feature_dtype=torch.float16)
        assert half.dtype == torch.float16 and exact.dtype == torch.float32
        out_exact = tiling.stylize_tiled(model, image, [style], stats, TILE, as_tensor=True, features=exact)
        out_half = tiling.stylize_tiled(model, image, [style], stats_half, TILE, as_tensor=True, features=half)
    difference = (out_half.data - out_exact.data).abs()
    assert difference.max() < 0.5 / 255 and difference.max() > 0  # not the same map: rounded, and only a little


# --- the command line, end to end ---------------------------------------------------------

def test_cli_stylizes_at_full_size_with_tiles(tmp_path, decoder_file):
    content = write_image(tmp_path / "content.png", 90, 70, seed=6)
    style = write_image(tmp_path / "style.png", 64, 64, seed=7)
    output = tmp_path / "out" / "result.png"
    assert main(["stylize", "--content", str(content), "--style", str(style), "--output", str(output),
                 "--decoder", str(decoder_file), "--device", "cpu", "--precision", "fp32",
                 "--content-size", "0", "--tile", "64", "--alpha", "0.8", "--no-progress"]) == 0
    with Image.open(output) as result:
        assert result.size == (90, 70)
    assert not list(output.parent.glob(".*tmp*"))  # written through a temporary file, renamed


def test_cli_reports_a_bad_tile_on_one_line(tmp_path, decoder_file, capsys):
    content = write_image(tmp_path / "content.png", 90, 70, seed=6)
    style = write_image(tmp_path / "style.png", 64, 64, seed=7)
    status = main(["stylize", "--content", str(content), "--style", str(style), "--output", str(tmp_path / "o.png"),
                   "--decoder", str(decoder_file), "--device", "cpu", "--content-size", "0", "--tile", "60",
                   "--no-progress"])
    assert status == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("adain: error")]
    assert len(errors) >= 1 and "multiple of 8" in errors[0]
