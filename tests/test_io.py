"""adain.core.io: decoding every image mode to RGB in [0, 1], clear errors, resizing, atomic saving."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adain.core import io
from adain.core.errors import UserError

from conftest import random_rgb, write_image, write_truncated_jpeg


def assert_rgb_tensor(tensor: torch.Tensor, height: int, width: int) -> None:
    assert tensor.shape == (1, 3, height, width)
    assert tensor.dtype == torch.float32
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0


def pixel(tensor: torch.Tensor, x: int, y: int) -> list[float]:
    return [round(v * 255) for v in tensor[0, :, y, x].tolist()]


# --- decoding ------------------------------------------------------------------------------

def test_exif_orientation_is_applied(tmp_path):
    # Stored 40 wide × 24 high, red block in the stored top-left corner.  Orientation 6 means
    # "rotate 90° clockwise to display": upright it is 24 wide × 40 high, block top-right.
    array = np.zeros((24, 40, 3), dtype=np.uint8)
    array[:8, :8] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(array).save(path, exif=exif, quality=100)

    tensor = io.load_image(path)
    assert_rgb_tensor(tensor, height=40, width=24)
    red = tensor[0, 0] > 0.5
    assert red[:8, -8:].float().mean() > 0.9
    assert red[:, :16].float().mean() < 0.01


def _save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def test_mode_L(tmp_path):
    path = _save(Image.fromarray(np.array([[0, 128], [200, 255]], dtype=np.uint8), mode="L"), tmp_path / "l.png")
    tensor = io.load_image(path)
    assert_rgb_tensor(tensor, 2, 2)
    assert pixel(tensor, 1, 0) == [128, 128, 128]
    assert pixel(tensor, 0, 1) == [200, 200, 200]


def test_mode_LA_flattens_onto_white(tmp_path):
    array = np.array([[[50, 255], [50, 0]]], dtype=np.uint8)  # (1, 2, 2): opaque grey, transparent grey
    path = _save(Image.fromarray(array, mode="LA"), tmp_path / "la.png")
    tensor = io.load_image(path)
    assert_rgb_tensor(tensor, 1, 2)
    assert pixel(tensor, 0, 0) == [50, 50, 50]
    assert pixel(tensor, 1, 0) == [255, 255, 255]


def test_mode_P(tmp_path):
    image = Image.new("P", (2, 1))
    image.putpalette([10, 20, 30, 200, 100, 0] + [0] * (256 * 3 - 6))
    image.putdata([0, 1])
    tensor = io.load_image(_save(image, tmp_path / "p.png"))
    assert_rgb_tensor(tensor, 1, 2)
    assert pixel(tensor, 0, 0) == [10, 20, 30]
    assert pixel(tensor, 1, 0) == [200, 100, 0]


def test_mode_P_with_transparency_flattens_onto_white(tmp_path):
    image = Image.new("P", (2, 1))
    image.putpalette([10, 20, 30, 200, 100, 0] + [0] * (256 * 3 - 6))
    image.putdata([0, 1])
    path = _save(image, tmp_path / "pt.png", transparency=1)  # palette index 1 is transparent
    assert Image.open(path).mode == "P" and "transparency" in Image.open(path).info
    tensor = io.load_image(path)
    assert pixel(tensor, 0, 0) == [10, 20, 30]
    assert pixel(tensor, 1, 0) == [255, 255, 255]


def test_mode_RGBA_transparent_pixel_becomes_white(tmp_path):
    array = np.array([[[10, 200, 30, 255], [10, 200, 30, 0], [0, 0, 0, 128]]], dtype=np.uint8)
    tensor = io.load_image(_save(Image.fromarray(array, mode="RGBA"), tmp_path / "rgba.png"))
    assert_rgb_tensor(tensor, 1, 3)
    assert pixel(tensor, 0, 0) == [10, 200, 30]
    assert pixel(tensor, 1, 0) == [255, 255, 255]
    assert all(abs(v - 127) <= 1 for v in pixel(tensor, 2, 0))  # half black over white


def test_mode_CMYK(tmp_path):
    image = Image.new("CMYK", (2, 1))
    image.putdata([(255, 0, 0, 0), (0, 0, 0, 0)])  # pure cyan, no ink
    path = _save(image, tmp_path / "cmyk.tif")
    assert Image.open(path).mode == "CMYK"
    tensor = io.load_image(path)
    assert_rgb_tensor(tensor, 1, 2)
    assert pixel(tensor, 0, 0) == [0, 255, 255]
    assert pixel(tensor, 1, 0) == [255, 255, 255]


def test_mode_I16_scales_full_range(tmp_path):
    array = np.array([[0, 65535, 32768]], dtype=np.uint16)
    path = _save(Image.fromarray(array), tmp_path / "deep.png")
    assert Image.open(path).mode.startswith("I")
    tensor = io.load_image(path)
    assert_rgb_tensor(tensor, 1, 3)
    assert tensor[0, :, 0, 0].tolist() == [0.0, 0.0, 0.0]
    assert tensor[0, :, 0, 1].tolist() == [1.0, 1.0, 1.0]
    assert pixel(tensor, 2, 0) == [128, 128, 128]


def test_rgb_png_round_trips_exactly(tmp_path):
    image = random_rgb(9, 7, seed=3)
    tensor = io.load_image(_save(image, tmp_path / "rgb.png"))
    assert_rgb_tensor(tensor, 7, 9)
    assert np.array_equal(np.asarray(io.tensor_to_pil(tensor)), np.asarray(image))


# --- errors: one line, naming the file ---------------------------------------------------

def _expect_user_error(path: Path, message: str, **kwargs) -> None:
    with pytest.raises(UserError) as info:
        io.load_image(path, **kwargs)
    text = str(info.value)
    assert text.startswith(f"{path}: "), text
    assert message in text
    assert "\n" not in text


def test_missing_file(tmp_path):
    _expect_user_error(tmp_path / "missing.jpg", "file not found")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.png"
    path.touch()
    _expect_user_error(path, "empty file (0 bytes); expected an image")


def test_text_file(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("definitely not a JPEG\n" * 10)
    _expect_user_error(path, "not an image file; expected JPEG, PNG, WebP, BMP or TIFF")


def test_truncated_jpeg(tmp_path):
    path = write_truncated_jpeg(tmp_path / "cut.jpg")
    _expect_user_error(path, "truncated or corrupt image data")


def test_folder_instead_of_file(tmp_path):
    _expect_user_error(tmp_path, "is a folder; expected an image file")


def test_too_many_pixels(tmp_path):
    path = write_image(tmp_path / "big.png", 64, 48)
    _expect_user_error(path, "64x48 is 3,072 pixels, over the limit of 1,000", max_pixels=1000)
    assert io.load_image(path, max_pixels=64 * 48).shape == (1, 3, 48, 64)  # the limit is inclusive


# --- resizing ------------------------------------------------------------------------------

def test_resize_shorter_zero_keeps_size():
    image = random_rgb(64, 48)
    assert io.resize_shorter(image, 0).size == (64, 48)


@pytest.mark.parametrize(
    "size, max_size, expected",
    [(24, 0, (32, 24)), (96, 0, (128, 96)), (0, 32, (32, 24)), (96, 100, (100, 75)), (24, 100, (32, 24))],
)
def test_resize_shorter(size, max_size, expected):
    assert io.resize_shorter(random_rgb(64, 48), size, max_size).size == expected


def test_resize_shorter_portrait():
    assert io.resize_shorter(random_rgb(30, 60), 15).size == (15, 30)


def test_load_image_with_size(tmp_path):
    path = write_image(tmp_path / "a.png", 64, 48)
    assert io.load_image(path, size=24).shape == (1, 3, 24, 32)


# --- masks ---------------------------------------------------------------------------------

def test_load_mask_values_and_shape(tmp_path):
    array = np.zeros((48, 64), dtype=np.uint8)
    array[:, 32:] = 255
    path = _save(Image.fromarray(array, mode="L"), tmp_path / "mask.png")
    mask = io.load_mask(path, (64, 48))
    assert mask.shape == (1, 1, 48, 64)
    assert mask[..., :32].max() == 0 and mask[..., 32:].min() == 1


def test_load_mask_wrong_size_names_expected_size(tmp_path):
    path = write_image(tmp_path / "mask.png", 30, 20)
    with pytest.raises(UserError, match=re.escape(f"{path}: mask is 30x20; expected the content image's size 64x48")):
        io.load_mask(path, (64, 48))


# --- saving --------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_save_image_is_readable_and_leaves_no_temp_files(tmp_path, suffix):
    # Smooth colour gradients quantised to 8 bits: lossy codecs keep them close, PNG exactly.
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 20), torch.linspace(0, 1, 30), indexing="ij")
    image = (torch.stack([xs, ys, (xs + ys) / 2])[None] * 255).round() / 255
    out = io.save_image(image, tmp_path / "sub" / f"result{suffix}")
    assert out == tmp_path / "sub" / f"result{suffix}"
    assert [p.name for p in out.parent.iterdir()] == [f"result{suffix}"]
    loaded = io.load_image(out)
    assert loaded.shape == (1, 3, 20, 30)
    if suffix == ".png":  # lossless: the 8-bit quantised values come back
        torch.testing.assert_close(loaded, image, atol=0, rtol=0)
    else:
        assert (loaded - image).abs().mean() < 0.02


def test_save_image_failure_is_a_user_error_and_leaves_nothing(tmp_path):
    path = tmp_path / "out.unknownformat"
    with pytest.raises(UserError, match=re.escape(f"{path}: cannot write image")):
        io.save_image(torch.rand(1, 3, 4, 4), path)
    assert list(tmp_path.iterdir()) == []


# --- batch paths ---------------------------------------------------------------------------

def test_expand_image_paths_recurses_sorted_and_keeps_missing_files(tmp_path):
    folder = tmp_path / "styles"
    for name in ("b.jpg", "a.png", "nested/c.JPEG", "nested/deeper/d.webp"):
        write_image(folder / name, 8, 8)
    (folder / "readme.txt").write_text("not an image")
    single = write_image(tmp_path / "single.png", 8, 8)
    missing = tmp_path / "missing.jpg"

    result = io.expand_image_paths([single, folder, missing], "style")
    assert result == [
        single,
        folder / "a.png", folder / "b.jpg", folder / "nested" / "c.JPEG", folder / "nested" / "deeper" / "d.webp",
        missing,
    ]


def test_expand_image_paths_empty_folder_is_an_error(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("no images here")
    with pytest.raises(UserError, match=re.escape(f"{folder}: content folder has no images")):
        io.expand_image_paths([folder], "content")
