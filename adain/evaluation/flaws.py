"""Measures of the five flaws that blind judges named in stylised outputs, on pixels alone.

No network is involved, so no method can have been trained on them.  All take RGB in [0, 1]:
output and content (1, 3, H, W) of the same size, style (1, 3, h, w) of any size, and return a
(1,) tensor; LOWER IS BETTER for every one.  Images are first brought to a fixed working size
(`WORK_SIDE` on the shorter side), so a figure does not depend on the resolution scored.

    stray_colour   share of the output (%) covered by coherent patches of a colour that is in
                   neither the style nor the photo (a green or red smudge);
    halo           mean luminance excess (% of full scale) of the pixels along the photo's strong
                   edges over the output's own levels a few pixels away, beyond the photo's own;
    blotch         share (%) of the output's variation in the photo's flattest regions that lies
                   at coarse scales (large patches) rather than fine ones (an even brush texture);
    muddiness      how far the output's contrast-free sharpness falls short of the style's (%; 0:
                   at least as sharp);
    colour_leak    share of the output (%) whose chroma is far from every style colour but
                   close to the photo's at the same place (the photo's colours coming through).

The thresholds are in CIELAB units (ΔE ≈ 2.3 is a just-noticeable difference).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

WORK_SIDE = 384  # px: the shorter side at which outputs are judged
PALETTE_SIDE = 128  # px: the shorter side of the images whose colours form a palette
STRAY_DELTA_E = 20.0  # farther than this from every colour of the style and of the photo
PATCH = 5  # px at WORK_SIDE: a stray colour counts where it fills most of a PATCH × PATCH window
LEAK_CHROMA = 12.0  # a/b distance to every style colour beyond which a chroma is not the style's
EDGE_QUANTILE = 0.95  # the photo's strongest 5 % of luminance gradients are its edges
HALO_BAND = 4  # px from those edges in which a rim is looked for
HALO_RING = 9  # px: the distance at which the output's own levels are read on either side


# --- colour space ---------------------------------------------------------------------------------

def rgb_to_lab(image: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] (N, 3, H, W) → CIELAB (N, 3, H, W) under D65: L in [0, 100], a/b ~[-128, 127]."""
    rgb = image.float().clamp(0, 1)
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    matrix = torch.tensor([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]],
                          device=rgb.device)
    xyz = torch.einsum("ij,njhw->nihw", matrix, linear)
    white = torch.tensor([0.95047, 1.0, 1.08883], device=rgb.device).view(1, 3, 1, 1)
    t = xyz / white
    delta = 6 / 29
    f = torch.where(t > delta ** 3, t.clamp_min(1e-12) ** (1 / 3), t / (3 * delta ** 2) + 4 / 29)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)


def _resize_shorter(image: torch.Tensor, side: int) -> torch.Tensor:
    """(N, C, H, W) → shorter side `side` (area average down, bilinear up)."""
    height, width = image.shape[-2:]
    scale = side / min(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    mode = "area" if scale < 1 else "bilinear"
    return F.interpolate(image.float(), size=size, mode=mode, **({} if mode == "area" else {"align_corners": False}))


def _palette(lab: torch.Tensor, count: int = 2048) -> torch.Tensor:
    """(1, 3, H, W) Lab → (count, 3): a fixed, evenly strided sample of its pixels' colours."""
    pixels = lab[0].flatten(1).T  # (H·W, 3)
    step = max(1, pixels.shape[0] // count)
    return pixels[::step][:count]


def _nearest_distance(points: torch.Tensor, palette: torch.Tensor, chunk: int = 16384) -> torch.Tensor:
    """(P, D), (K, D) → (P,) Euclidean distance from each point to its nearest palette entry."""
    return torch.cat([torch.cdist(points[i:i + chunk], palette).amin(dim=1) for i in range(0, len(points), chunk)])


def _prepare(output: torch.Tensor, content: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if output.shape[-2:] != content.shape[-2:]:
        raise ValueError(f"output {tuple(output.shape[-2:])} and content {tuple(content.shape[-2:])} differ in size")
    return _resize_shorter(output, WORK_SIDE), _resize_shorter(content, WORK_SIDE)


# --- the five measures ----------------------------------------------------------------------------

def stray_colour(output: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """% of the output in coherent patches whose colour is > STRAY_DELTA_E from every colour of
    the style and of the photo (palettes: their pixels at PALETTE_SIDE)."""
    output, content = _prepare(output, content)
    lab = rgb_to_lab(output)  # (1, 3, H, W)
    palette = torch.cat([_palette(rgb_to_lab(_resize_shorter(style, PALETTE_SIDE))),
                         _palette(rgb_to_lab(_resize_shorter(content, PALETTE_SIDE)))])
    distance = _nearest_distance(lab[0].flatten(1).T, palette).view(1, 1, *lab.shape[-2:])
    stray = (distance > STRAY_DELTA_E).float()
    # a patch, not a speck: most of a PATCH × PATCH window stray, the whole window counted
    coherent = (F.avg_pool2d(stray, PATCH, stride=1, padding=PATCH // 2, count_include_pad=False) > 0.6).float()
    covered = F.max_pool2d(coherent, PATCH, stride=1, padding=PATCH // 2) * stray
    return 100 * covered.mean(dim=(1, 2, 3))


def colour_leak(output: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """% of the output whose a/b chroma is > LEAK_CHROMA from every style colour's and nearer to
    the photo's chroma at the same pixel than to any style colour."""
    output, content = _prepare(output, content)
    out_ab = rgb_to_lab(output)[0, 1:].flatten(1).T  # (P, 2)
    content_ab = rgb_to_lab(content)[0, 1:].flatten(1).T
    style_ab = _palette(rgb_to_lab(_resize_shorter(style, PALETTE_SIDE)))[:, 1:]
    to_style = _nearest_distance(out_ab, style_ab)
    to_photo = (out_ab - content_ab).norm(dim=1)
    leaked = (to_style > LEAK_CHROMA) & (to_photo < to_style)
    return 100 * leaked.float().mean().reshape(1)


def _luma(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) → (N, 1, H, W) L/100 of CIELAB: a perceptual lightness in [0, 1]."""
    return rgb_to_lab(image)[:, :1] / 100


def _blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), reflection at the borders."""
    radius = max(1, int(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=image.device)
    kernel = torch.exp(-x.square() / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    channels = image.shape[1]
    padded = F.pad(image, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def _sobel(luma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, H, W) → Sobel derivatives (d/dx, d/dy), each (N, 1, H, W)."""
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=luma.device) / 8
    padded = F.pad(luma, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, sobel.view(1, 1, 3, 3)), F.conv2d(padded, sobel.T.reshape(1, 1, 3, 3))


def _gradient(luma: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) → (N, 1, H, W) Sobel gradient magnitude."""
    gx, gy = _sobel(luma)
    return (gx.square() + gy.square()).sqrt()


def strong_edges(luma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, 1, H, W) lightness → where its Sobel gradient (after a 2-px blur) is above the image's
    EDGE_QUANTILE, as a (N, 1, H, W) float 0/1 map, and the derivatives (d/dx, d/dy) it came from."""
    gx, gy = _sobel(_blur(luma, 2.0))
    strength = (gx.square() + gy.square()).sqrt()
    threshold = torch.quantile(strength.flatten(1), EDGE_QUANTILE, dim=1).view(-1, 1, 1, 1)
    return (strength >= threshold.clamp_min(0.01)).float(), gx, gy


def flattest(luma: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) lightness → (N, 1, H, W) bool: its flattest fifth by local variance over ~15 px."""
    local_var = _blur(luma.square(), 5.0) - _blur(luma, 5.0).square()
    return local_var <= torch.quantile(local_var.flatten(1), 0.2, dim=1).view(-1, 1, 1, 1)


def _rim_excess(luma: torch.Tensor, normal: torch.Tensor, band: torch.Tensor, ring: int) -> torch.Tensor:
    """How far the lightly smoothed luma exceeds the brighter of its two values `ring` px away
    across the edge (along `normal`, (N, 2, H, W) unit x/y), on average inside `band` (N, 1, H, W
    bool) beyond the average outside it.  The excess is > 0 only on a ridge brighter than both
    sides of the edge, 0 on either side of a clean step; a texture's own bright specks raise both
    averages alike.  → (N,)."""
    smooth = _blur(luma, 1.0)
    height, width = smooth.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(height, device=luma.device, dtype=torch.float32),
                            torch.arange(width, device=luma.device, dtype=torch.float32), indexing="ij")
    sides = []
    for sign in (-1.0, 1.0):
        x = xs + sign * ring * normal[:, 0]  # (N, H, W) px
        y = ys + sign * ring * normal[:, 1]
        grid = torch.stack([2 * x / (width - 1) - 1, 2 * y / (height - 1) - 1], dim=-1)  # (N, H, W, 2)
        sides.append(F.grid_sample(smooth, grid, mode="bilinear", padding_mode="border", align_corners=True))
    excess = (smooth - torch.maximum(*sides)).clamp_min(0)
    inside, outside = band.float(), (~band).float()
    mean_in = (excess * inside).sum(dim=(1, 2, 3)) / inside.sum(dim=(1, 2, 3)).clamp_min(1)
    mean_out = (excess * outside).sum(dim=(1, 2, 3)) / outside.sum(dim=(1, 2, 3)).clamp_min(1)
    return mean_in - mean_out


def halo(output: torch.Tensor, content: torch.Tensor, band: int = HALO_BAND, ring: int = HALO_RING) -> torch.Tensor:
    """Luminance excess (% of full scale) of the output's pixels within `band` px of the photo's
    strong edges over the output's own levels `ring` px away on both sides of the edge (beyond
    what its texture gives elsewhere), minus the same of the photo (its own thin bright lines are
    not halos); 0 when the output adds no light rim along the edges.  The widths are at WORK_SIDE;
    eval.py reports the defaults (experiments/eval/artefacts/halo_widths.py scores wider ones)."""
    output, content = _prepare(output, content)
    content_luma = _luma(content)
    edges, gx, gy = strong_edges(content_luma)
    near_edges = F.max_pool2d(edges, 2 * band + 1, stride=1, padding=band) > 0
    # the edge's normal, carried into the band from the nearby edge by a wide blur of the gradient
    gx, gy = _blur(gx, 3.0), _blur(gy, 3.0)
    normal = torch.cat([gx, gy], dim=1) / (gx.square() + gy.square()).sqrt().clamp_min(1e-6)
    return 100 * (_rim_excess(_luma(output), normal, near_edges, ring)
                  - _rim_excess(content_luma, normal, near_edges, ring)).clamp_min(0)


def blotch(output: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """% of the output's variation in the photo's flattest fifth (by local luminance std over
    15 px) that is coarse (Lab band 4–16 px) rather than fine (below 2 px): large patches score
    high, an even fine texture or a plain smooth area low."""
    output, content = _prepare(output, content)
    flat = flattest(_luma(content))
    lab = rgb_to_lab(output)
    fine = (lab - _blur(lab, 1.0)).square().sum(dim=1, keepdim=True)
    coarse = (_blur(lab, 2.0) - _blur(lab, 8.0)).square().sum(dim=1, keepdim=True)
    fine_energy = (fine * flat).sum(dim=(1, 2, 3))
    coarse_energy = (coarse * flat).sum(dim=(1, 2, 3))
    floor = flat.sum(dim=(1, 2, 3)) * 1.0  # a ΔE of 1 per pixel: a flat, even area is not a blotch
    return 100 * coarse_energy / (coarse_energy + fine_energy + floor)


def sharpness(image: torch.Tensor) -> torch.Tensor:
    """RMS Sobel gradient of the lightness over its spread, (N, 3, H, W) → (N,): contrast-free,
    so a dark, low-contrast painting is as sharp as a bright one with the same edges.  The RMS,
    not the mean: blurring an edge spreads the same total gradient over more pixels, which lowers
    the sum of its squares but not its sum."""
    luma = _luma(image)
    return _gradient(luma).square().mean(dim=(1, 2, 3)).sqrt() / (luma.std(dim=(1, 2, 3)) + 0.02)


def muddiness(output: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """% by which the output's sharpness falls short of the style's, both at WORK_SIDE; 0 when
    the output is at least as sharp.  Blurred, smeared outputs score high."""
    output, _ = _prepare(output, content)
    ratio = sharpness(output) / sharpness(_resize_shorter(style, WORK_SIDE)).clamp_min(1e-6)
    return 100 * (1 - ratio).clamp_min(0)


FLAW_MEASURES = {
    "stray_colour": lambda out, content, style: stray_colour(out, content, style),
    "halo": lambda out, content, style: halo(out, content),
    "blotch": lambda out, content, style: blotch(out, content),
    "muddiness": lambda out, content, style: muddiness(out, content, style),
    "colour_leak": lambda out, content, style: colour_leak(out, content, style),
}


def flaw_scores(output: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> dict[str, float]:
    """Every flaw measure of one (1, 3, H, W) output → {name: value}."""
    return {name: float(measure(output, content, style)[0]) for name, measure in FLAW_MEASURES.items()}
