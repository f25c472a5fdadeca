"""The five flaw measures (adain.evaluation.flaws): each rises on its planted flaw and stays low
on the others and on a clean stylisation; real photos and paintings where shared data exists."""

import pytest
import torch

from adain.evaluation.flaws import (blotch, colour_leak, flaw_scores, halo, muddiness, rgb_to_lab, sharpness,
                                    stray_colour)
from adain.evaluation.flaws import _blur as blur

SIZE = 384  # the measures' working size: the planted flaws keep their pixel sizes
SKY, GROUND = torch.tensor([0.55, 0.7, 0.9]), torch.tensor([0.25, 0.2, 0.15])
ORANGE = torch.tensor([0.5, 0.3, 0.1])


def _fill(colour: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return colour.view(1, 3, 1, 1).expand(1, 3, height, width).clone()


@pytest.fixture(scope="module")
def scene():
    """A photo (sky over ground, an edge at row 200), a warm textured painting, and a clean
    stylisation: the painting's palette, an even fine texture, the photo's layout."""
    g = torch.Generator().manual_seed(0)
    content = torch.cat([_fill(SKY, 200, SIZE), _fill(GROUND, SIZE - 200, SIZE)], dim=2)
    content = (content + 0.01 * torch.randn(content.shape, generator=g)).clamp(0, 1)
    style = (blur(torch.rand(1, 3, 128, 128, generator=g), 1.5) * 0.6 + ORANGE.view(1, 3, 1, 1) * 0.7).clamp(0, 1)
    clean = (0.3 * content + ORANGE.view(1, 3, 1, 1) + 0.08 * torch.rand(1, 3, SIZE, SIZE, generator=g)).clamp(0, 1)
    return content, style, clean


def test_lab_matches_reference_values():
    rgb = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]).T.reshape(1, 3, 3, 1)
    lab = rgb_to_lab(rgb)[0, :, :, 0].T
    torch.testing.assert_close(lab[0], torch.tensor([100.0, 0.0, 0.0]), atol=0.05, rtol=0)
    torch.testing.assert_close(lab[1], torch.tensor([0.0, 0.0, 0.0]), atol=0.05, rtol=0)
    torch.testing.assert_close(lab[2], torch.tensor([53.24, 80.09, 67.20]), atol=0.1, rtol=0)  # sRGB red


def test_a_clean_stylisation_scores_low_on_every_flaw(scene):
    content, style, clean = scene
    scores = flaw_scores(clean, content, style)
    assert scores["stray_colour"] == 0 and scores["halo"] < 0.2 and scores["colour_leak"] < 1
    assert scores["blotch"] < 10


def test_a_planted_blob_is_a_stray_colour(scene):
    content, style, clean = scene
    blob = clean.clone()
    blob[:, :, 30:60, 30:70] = torch.tensor([0.1, 0.8, 0.2]).view(1, 3, 1, 1)  # green: in neither image
    area = 30 * 40 / SIZE ** 2 * 100
    assert stray_colour(blob, content, style).item() == pytest.approx(area, rel=0.15)
    specks = clean.clone()
    specks[:, :, ::16, ::16] = torch.tensor([0.1, 0.8, 0.2]).view(1, 3, 1, 1)  # isolated pixels: not a patch
    assert stray_colour(specks, content, style).item() < 0.05
    own = clean.clone()
    own[:, :, 30:60, 30:70] = SKY.view(1, 3, 1, 1)  # the photo's own colour: not stray
    assert stray_colour(own, content, style).item() == 0


def test_a_planted_rim_along_the_edge_is_a_halo(scene):
    content, _, clean = scene
    rim = clean.clone()
    rim[:, :, 196:200] += 0.3  # a light line on the sky's side of the horizon
    assert halo(rim.clamp(0, 1), content).item() > 2
    assert halo(clean, content).item() < 0.2
    lined = content.clone()
    lined[:, :, 196:200] += 0.3  # the photo's own bright line, kept: not a halo
    assert halo(lined.clamp(0, 1), lined.clamp(0, 1)).item() < 0.2


def test_coarse_patches_in_a_flat_sky_are_blotches(scene):
    content, _, clean = scene
    ys, xs = torch.meshgrid(torch.arange(200.0), torch.arange(float(SIZE)), indexing="ij")
    patches = ((torch.sin(xs / 9) * torch.sin(ys / 7)) > 0.3).float()  # ~30-px camouflage
    blotched = clean.clone()
    blotched[:, :, :200] = (ORANGE.view(1, 3, 1, 1) + 0.25 * patches).clamp(0, 1)
    assert blotch(blotched, content).item() > 50 > 10 > blotch(clean, content).item()


def test_a_blurred_output_is_muddy(scene):
    content, style, clean = scene
    sharp = style.new_zeros(1, 3, SIZE, SIZE) + (torch.arange(SIZE) // 8 % 2).float().view(1, 1, 1, -1) * 0.2
    assert sharpness(blur(sharp, 3.0)) < 0.7 * sharpness(sharp)
    assert muddiness(blur(clean, 3.0), content, style).item() > muddiness(clean, content, style).item() + 20
    resized_style = torch.nn.functional.interpolate(style, size=(SIZE, SIZE), mode="bilinear")
    assert muddiness(resized_style, content, style).item() < 15  # the painting itself is as sharp as it


def test_the_photos_colours_kept_are_a_leak(scene):
    content, style, clean = scene
    # the photo itself: its blue sky (52 % of it) leaks; its brown ground is near the painting's oranges
    assert colour_leak(content, content, style).item() == pytest.approx(52, abs=2)
    assert colour_leak(clean, content, style).item() < 1
    half = clean.clone()
    half[:, :, :200] = content[:, :, :200]  # the sky keeps the photo's blue, far from the painting's oranges
    assert colour_leak(half, content, style).item() > 45


@pytest.mark.slow
def test_outputs_of_any_size_score_at_the_working_size(scene):
    content, style, clean = scene
    big = torch.nn.functional.interpolate(clean, scale_factor=2, mode="bilinear")
    big_content = torch.nn.functional.interpolate(content, scale_factor=2, mode="bilinear")
    small, large = flaw_scores(clean, content, style), flaw_scores(big, big_content, style)
    for name in ("stray_colour", "colour_leak", "blotch"):
        assert large[name] == pytest.approx(small[name], abs=5), name
    with pytest.raises(ValueError, match="differ in size"):
        halo(clean, content[..., :-8])


@pytest.mark.slow
def test_real_photo_scores_where_the_flaws_are_and_are_not(shared_data):
    """A real photo against itself has no stray colour and no halo; its colours leak where the
    painting's do not; a blur of it is muddier than the photo."""
    from adain.core.io import load_image

    photo = load_image(sorted((shared_data / "content" / "val").glob("*.jpg"))[0], size=384)
    painting = load_image(sorted((shared_data / "style" / "val").glob("*.jpg"))[0], size=256)
    assert stray_colour(photo, photo, painting).item() == 0
    assert halo(photo, photo).item() == 0
    as_painting = torch.nn.functional.interpolate(painting, size=photo.shape[-2:], mode="bilinear")
    assert colour_leak(as_painting, photo, painting).item() < 1 < colour_leak(photo, photo, painting).item()
    assert muddiness(blur(photo, 2.0), photo, painting).item() > muddiness(photo, photo, painting).item()
