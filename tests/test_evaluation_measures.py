"""The evaluation's measures on images with a known defect: each must move the right way when the
defect is added and stay put when it is not.  Natural photos come from scikit-image's bundled
`skimage.data` (no download); everything is at most 128 px."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from adain.evaluation import metrics as M
from adain.evaluation.artefacts import border_ratio, frame_score, grid_score, lattice_ratio
from adain.evaluation.edges import edge_f_score
from adain.nn.losses import distances as D

skimage_data = pytest.importorskip("skimage.data")


def _photo(name: str = "astronaut", size: int = 128, top: int = 40, left: int = 60) -> torch.Tensor:
    """A crop of a bundled photo, area-resized so that `size` px cover a 2× larger patch."""
    image = torch.from_numpy(getattr(skimage_data, name)()).permute(2, 0, 1)[None].float() / 255.0
    crop = image[..., top: top + 2 * size, left: left + 2 * size]
    return F.interpolate(crop, size=(size, size), mode="area")


def _framed(image: torch.Tensor, width: int = 3, value: float = 1.0) -> torch.Tensor:
    framed = image.clone()
    framed[..., :width, :] = value
    framed[..., -width:, :] = value
    framed[..., :, :width] = value
    framed[..., :, -width:] = value
    return framed


def _checkerboard(size: int, period: int = 8, amplitude: float = 0.015) -> torch.Tensor:
    """±amplitude checkerboard whose pattern repeats every `period` px along both axes."""
    index = torch.arange(size) // (period // 2)
    return amplitude * ((index[:, None] + index[None, :]) % 2 * 2.0 - 1.0)


def _tint(image: torch.Tensor) -> torch.Tensor:
    """A global colour change, as a style might make: no structure added or removed."""
    return (0.8 * image + torch.tensor([0.12, 0.02, 0.06]).view(1, 3, 1, 1)).clamp(0, 1)


def _noisy(image: torch.Tensor, sigma: float = 0.02) -> torch.Tensor:
    return (image + sigma * torch.randn(image.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)


CROPS = ((10, 10), (80, 30), (30, 120), (90, 20))


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee"])
def test_frame_score_sees_a_drawn_frame_and_not_a_photo_crop(name):
    content = _photo(name)
    # a crop of a natural photo has no reason to change at its border: its ratio is about 1
    assert all(0.6 < border_ratio(_photo(name, top=top, left=left)).item() < 1.7 for top, left in CROPS)
    # no frame added: about 1 (1 exactly for an affine colour change, which scales all gradients)
    assert frame_score(content, content).item() == pytest.approx(1.0, abs=1e-5)
    assert frame_score(_tint(content), content).item() == pytest.approx(1.0, abs=1e-3)
    assert frame_score(_noisy(content), content).item() < 1.3
    # a drawn 3-px frame, white or dark: several-fold
    assert frame_score(_framed(content), content).item() > 3.0
    assert frame_score(_framed(content, value=0.0), content).item() > 3.0
    # a smooth 4-px strip along the border (as a zero-padded decoder paints) counts too
    blurred = F.avg_pool2d(F.pad(content, (4, 4, 4, 4), mode="replicate"), 9, stride=1)
    border = torch.ones(128, 128, dtype=torch.bool)
    border[4:-4, 4:-4] = False
    strip = content.clone()
    strip[..., border] = blurred[..., border]
    assert frame_score(strip, content).item() > 1.3


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee"])
def test_grid_score_sees_a_faint_8px_checkerboard_and_not_a_clean_image(name):
    content = _photo(name)
    # a clean photo has no peaks on the 8-px lattice of frequencies
    assert all(0.6 < lattice_ratio(_photo(name, top=top, left=left)).item() < 1.5 for top, left in CROPS)
    assert grid_score(content, content).item() == pytest.approx(1.0, abs=1e-5)
    assert grid_score(_tint(content), content).item() == pytest.approx(1.0, abs=1e-3)
    assert 0.8 < grid_score(_noisy(content), content).item() < 1.2
    board = (content + _checkerboard(128, amplitude=0.03)).clamp(0, 1)  # ±3 % of the range, 8-px period
    assert grid_score(board, content).item() > 3.0
    lines = content.clone()
    lines[..., ::4, :] += 0.05  # a faint line every 4 px, one axis only
    assert grid_score(lines.clamp(0, 1), content).item() > 1.7


def test_edge_f_score_on_known_edge_maps():
    edges = torch.zeros(1, 1, 64, 64)
    edges[..., 20, 8:56] = 0.9  # a horizontal edge
    edges[..., 8:56, 40] = 0.6  # a weaker vertical one
    assert edge_f_score(edges, edges).item() == pytest.approx(1.0)
    assert edge_f_score(torch.roll(edges, 1, dims=2), edges).item() == pytest.approx(1.0)  # within tolerance
    moved = edge_f_score(torch.roll(edges, (12, 12), dims=(2, 3)), edges).item()
    assert moved < 0.2
    # the output keeps the weak edge and loses the strong one: at t < 0.6 precision 1, recall ~1/2
    # (F ~ 2/3); at t ≥ 0.6 the content's strong edge is missing altogether (F 0)
    strong_lost = edges.clone()
    strong_lost[..., 20, 8:56] = 0.0
    assert edge_f_score(strong_lost, edges).item() == pytest.approx(2 / 3, abs=0.04)
    # losing the weak edge only is forgiven by the best threshold (t ≥ 0.6 sees the strong one alone)
    weak_lost = edges.clone()
    weak_lost[..., 8:56, 40] = 0.0
    assert edge_f_score(weak_lost, edges).item() == pytest.approx(1.0)
    assert edge_f_score(torch.zeros_like(edges), edges).item() == 0.0
    assert math.isnan(edge_f_score(edges, torch.zeros_like(edges)).item())  # content without edges


@pytest.fixture(scope="module")
def hed(hed_encoder):
    from adain.evaluation.edges import load_hed

    return load_hed(encoder=hed_encoder)


def test_hed_side_outputs_mark_the_outline_of_a_square(hed):
    image = torch.full((1, 3, 64, 64), 0.2)
    image[..., 16:48, 16:48] = 0.8
    with torch.inference_mode():
        edges = hed(image)
    assert edges.shape == (1, 1, 64, 64) and 0 <= edges.min() and edges.max() <= 1
    on_outline = edges[..., 15:17, 20:44].mean().item()
    inside, outside = edges[..., 28:36, 28:36].mean().item(), edges[..., 0:6, 40:60].mean().item()
    assert on_outline > 0.5 and inside < 0.1 and outside < 0.1


def test_edge_preservation_drops_with_smeared_or_moved_shapes_not_with_colour(hed):
    content = _photo("astronaut", size=96)
    smeared = F.avg_pool2d(F.pad(content, (3, 3, 3, 3), mode="replicate"), 7, stride=1)  # a 7-px box blur
    moved = torch.roll(content, (5, 5), dims=(2, 3))
    with torch.inference_mode():
        reference = hed(content)
        scores = {name: edge_f_score(hed(image), reference).item()
                  for name, image in {"same": content, "tint": _tint(content), "smeared": smeared,
                                      "moved": moved}.items()}
    assert scores["same"] == pytest.approx(1.0)
    assert scores["tint"] > 0.85
    assert scores["smeared"] < scores["tint"] - 0.1
    assert scores["moved"] < scores["tint"] - 0.2


def test_style_ranks_top1_and_mean_rank():
    distances = torch.tensor([[0.1, 0.5, 0.9],    # own style 0: nearest → rank 1
                              [0.2, 0.3, 0.1],    # own style 1: two are nearer → rank 3
                              [0.4, 0.4, 0.9]])   # own style 1, tied with style 0 → rank 1
    ranks = M.style_ranks(distances, torch.tensor([0, 1, 1]))
    assert ranks.tolist() == [1.0, 3.0, 1.0]
    assert (ranks == 1).float().mean().item() == pytest.approx(2 / 3)


def test_style_identity_in_efficientnet_space_tells_styles_apart():
    from adain.core.errors import UserError
    from adain.evaluation.features import STYLE_STAGES, load_efficientnet_lite0
    from adain.nn.functional import mean_std

    try:
        net = load_efficientnet_lite0()
    except UserError as exc:
        pytest.skip(str(exc))
    styles = [_photo(name, size=64) for name in ("coffee", "chelsea", "rocket")]
    content = _photo("astronaut", size=64)

    def stats(image):
        with torch.inference_mode():
            return {tap: mean_std(f) for tap, f in net(image, taps=STYLE_STAGES).items()}

    style_stats = [stats(s) for s in styles]
    # outputs that carry their style (the style itself, lightly mixed with the content) are
    # recognised; the content returned unchanged is not recognised as any particular style
    outputs = [0.85 * s + 0.15 * content for s in styles] + [content]
    distances = torch.stack([torch.cat([D.relative_style_stats(stats(o), s, STYLE_STAGES) for s in style_stats])
                             for o in outputs])
    ranks = M.style_ranks(distances, torch.tensor([0, 1, 2, 0]))
    assert ranks[:3].tolist() == [1.0, 1.0, 1.0]


def test_psnr_of_a_known_error_and_reconstruction_of_a_stand_in_decoder(hed_encoder):
    from adain.evaluation.reconstruction import reconstruct, reconstruction_scores
    from adain.nn.model import AdaINModel
    from conftest import make_decoder

    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert M.psnr(image, image).item() == pytest.approx(100.0)
    assert M.psnr((image + 0.1).clamp(max=2), image).item() == pytest.approx(20.0, abs=1e-3)  # MSE 0.01
    model = AdaINModel(hed_encoder, make_decoder("vgg16")).eval()
    content = _photo("coffee", size=40)  # not a multiple of 8: padded and cropped back
    output = reconstruct(model, content)
    assert output.shape == content.shape and 0 <= output.min() and output.max() <= 1
    scores = reconstruction_scores(output, content)
    assert set(scores) == {"recon_psnr", "recon_ssim"} and scores["recon_psnr"] < 30  # untrained decoder
    assert reconstruction_scores(content, content)["recon_ssim"] == pytest.approx(1.0, abs=1e-4)


def test_trained_encoder_comes_from_the_method_s_own_description(decoder_file):
    from adain.evaluation.provenance import trained_encoder

    assert trained_encoder("adain", {"decoder": str(decoder_file)}) == "vgg16-hed"
    assert trained_encoder("adain", {"decoder": str(decoder_file), "encoder": "vgg16-imagenet"}) == "vgg16-imagenet"
    assert trained_encoder("gatys", {}) == "vgg16-hed"
    assert trained_encoder("gatys", {"encoder": "vgg16-imagenet"}) == "vgg16-imagenet"
    assert trained_encoder("magenta", {}) is None
    assert trained_encoder("adain", {"decoder": "/nonexistent/decoder.safetensors"}) is None


def test_leading_table_marks_the_best_and_flags_a_measure_s_own_network():
    from adain.evaluation.leaderboard import best_variants, leading_table

    summaries = [{"variant": "a", "pairs": 2, "trained_on": "vgg16-hed", "rel_content": 0.5, "edge_f": 0.4,
                  "frame": 1.3, "effnet_content": 1.2},
                 {"variant": "b", "pairs": 2, "trained_on": None, "rel_content": 0.7, "edge_f": 0.6,
                  "frame": 1.1, "effnet_content": 0.9}]
    assert best_variants(summaries, "rel_content") == {0} and best_variants(summaries, "edge_f") == {1}
    assert best_variants(summaries, "frame") == {1}
    lines = leading_table(summaries)
    header = lines[0]
    assert header.index("frame") < header.index("edge_f") < header.index("effnet_content") < header.index("rel_content")
    row_a, row_b = lines[2], lines[3]
    assert "**0.5** †" in row_a and "0.4 †" in row_a  # best but flagged: trained on vgg16-hed
    assert "**0.6**" in row_b and "†" not in row_b and "**0.9**" in row_b
