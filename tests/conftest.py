"""Shared fixtures: an isolated weight cache, the real vgg16-hed encoder, a stand-in decoder,
and seeded synthetic images.  Everything is small and on the CPU."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def adain_cache(tmp_path_factory) -> Path:
    """Point the weight/example cache at a temporary folder, so no test writes to ~/.cache.

    Set in os.environ (not monkeypatch) so that it holds for the whole session and is inherited
    by the CLI subprocesses."""
    path = tmp_path_factory.mktemp("adain-cache")
    previous = os.environ.get("ADAIN_CACHE")
    os.environ["ADAIN_CACHE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("ADAIN_CACHE", None)
    else:
        os.environ["ADAIN_CACHE"] = previous


@pytest.fixture(scope="session")
def hed_encoder(adain_cache):
    """The fp32 vgg16-hed encoder with its real (converted, cached) weights."""
    from adain.nn.pretrained import build_encoder

    return build_encoder("vgg16-hed")


@pytest.fixture(scope="session")
def imagenet_encoder(adain_cache):
    """The fp32 vgg16-imagenet encoder with its real (converted, cached) weights."""
    from adain.nn.pretrained import build_encoder

    return build_encoder("vgg16-imagenet")


def make_decoder(arch: str = "vgg16", seed: int = 0):
    """A seeded untrained decoder.  Its output layer starts near mid-grey (Decoder's own init),
    so most outputs lie inside [0, 1], as a trained decoder's do, and value comparisons do not
    see only the clamp."""
    import torch

    from adain.nn.decoder import Decoder

    torch.manual_seed(seed)
    return Decoder(arch)


@pytest.fixture(scope="session")
def decoder_file(tmp_path_factory) -> Path:
    """A vgg16 decoder saved the way shipped decoders are (safetensors + JSON metadata)."""
    from adain.nn.decoder import save_decoder

    path = tmp_path_factory.mktemp("decoder") / "decoder-test.safetensors"
    save_decoder(make_decoder("vgg16"), path, {"encoder": "vgg16-hed"})
    return path


@pytest.fixture(scope="session")
def stylizer_fp32(decoder_file):
    import adain

    return adain.load(decoder=decoder_file, precision="fp32", device="cpu")


def random_rgb(width: int, height: int, seed: int = 0) -> Image.Image:
    """Seeded smooth-ish RGB image: a colour gradient plus noise, so it has structure and
    colour covariance rather than flat white noise."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack(
        [xs / max(width - 1, 1), ys / max(height - 1, 1), 0.5 + 0.5 * np.sin(xs / 5 + ys / 7)], axis=-1
    ) * rng.uniform(120, 220, 3)
    noise = rng.normal(0, 25, (height, width, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), mode="RGB")


def random_rgb_tensor(width: int, height: int, seed: int) -> "torch.Tensor":
    """`random_rgb` as a (1, 3, H, W) float tensor in [0, 1]."""
    import torch

    array = np.asarray(random_rgb(width, height, seed=seed)).copy()
    return torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255


# Stylizer options every tiled = untiled test of a decoder variant covers (tests/test_palette.py,
# tests/test_skips.py); "masks": "left-right" becomes `left_right_masks` of the content.
TILING_OPTIONS = [{}, {"alpha": 0.6}, {"style_weights": [0.7, 0.3]}, {"masks": "left-right"},
                  {"preserve_color": "luminance", "alpha": 0.7}, {"preserve_color": "histogram", "alpha": 0.8},
                  {"content_colors": "style", "alpha": 0.7}, {"content_colors": "style", "style_weights": [0.7, 0.3]}]
TILING_OPTION_IDS = ["plain", "alpha", "two-styles-weighted", "masks", "luminance", "histogram", "content-colors",
                     "content-colors-weighted"]


def assert_tiled_equals_untiled(stylizer, options: dict) -> None:
    """Stylise a 90×70 content untiled and in 64-px tiles with `options` (one of TILING_OPTIONS):
    the outputs must agree within 2e-5.  Two styles where weights or masks need them; masks that
    ramp from the first style on the left to the second on the right."""
    import torch

    content = random_rgb_tensor(90, 70, seed=1)
    options = dict(options)
    two_styles = "style_weights" in options or "masks" in options
    styles = [random_rgb_tensor(64, 64, seed=2), random_rgb_tensor(64, 64, seed=3)] if two_styles \
        else random_rgb_tensor(64, 64, seed=2)
    if options.get("masks") == "left-right":
        ramp = torch.linspace(0, 1, content.shape[-1]).clamp(0.3, 0.7).sub(0.3).div(0.4)
        options["masks"] = torch.stack([1 - ramp, ramp]).view(1, 2, 1, -1).expand(1, 2, content.shape[-2], -1)
    common = dict(content_size=0, style_size=0, **options)
    untiled = stylizer.stylize(content, styles, tile=0, **common)
    tiled = stylizer.stylize(content, styles, tile=64, **common)
    assert untiled.std() > 0.02
    torch.testing.assert_close(tiled, untiled, atol=2e-5, rtol=0)


def write_image(path: Path, width: int = 64, height: int = 48, seed: int = 0, **save_options) -> Path:
    """Write a seeded synthetic RGB image; the format follows the suffix (.png, .jpg, ...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    random_rgb(width, height, seed).save(path, **save_options)
    return path


def write_truncated_jpeg(path: Path, width: int = 64, height: int = 48, seed: int = 0) -> Path:
    """A valid JPEG cut to half its bytes: the header parses, the pixel data ends early."""
    write_image(path, width, height, seed, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The project's shared image pack (read in place, never copied into the repo)."""
    path = REPO_ROOT.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"shared image pack not found at {path}")
    return path


def load_script(relative: str):
    """A script of the repository that is not a package module (tools/, experiments/), imported
    by path as a module, so that its functions can be called: load_script("tools/judge_agreement.py")."""
    import importlib.util

    path = REPO_ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
