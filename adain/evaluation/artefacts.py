"""Artefact measures of a stylised image on its pixels alone (no network, so no method can have
been trained on them): a frame along the border, and a grid at the decoder's upsampling periods.

Both compare the output with its own content image, so what the photo itself has (a sharp
horizon at the bottom edge, JPEG's 8×8 blocks) cancels out: about 1 means "no more than the
content has".  Images are (N, 3, H, W) RGB in [0, 1]; output and content have the same size.
"""

from __future__ import annotations

import torch

from adain.nn.functional import luminance

FRAME_BAND = 8  # px: the deepest ×2 upsampling of a VGG decoder (relu4_1 → /8) spans 8 output px
GRID_PERIOD = 8  # px: three nearest ×2 upsamplings repeat every 2, 4 and 8 px


def gradient_energy(image: torch.Tensor) -> torch.Tensor:
    """|∇Y|² of the luminance with forward differences, (N, 3, H, W) → (N, H−1, W−1):
    (Y[i+1, j] − Y[i, j])² + (Y[i, j+1] − Y[i, j])²."""
    y = luminance(image.float())[:, 0]  # (N, H, W)
    dy = y[:, 1:, :-1] - y[:, :-1, :-1]
    dx = y[:, :-1, 1:] - y[:, :-1, :-1]
    return dy.square() + dx.square()


def border_ratio(image: torch.Tensor, band: int = FRAME_BAND) -> torch.Tensor:
    """Mean gradient energy in the outer band (the `band` px along all four borders) over the mean
    gradient energy in the next band inwards (the ring from `band` to 2·`band` px).  (N,).
    Images under 4·`band` px a side use a band of a quarter of their side.

    A photo crop has no reason to change at its border: about 1 (a few tenths either way).  A
    frame painted by a decoder (zero-padding features at the border, a bright or dark line)
    puts edges into the outer band: well above 1."""
    energy = gradient_energy(image)  # (N, h, w), h = H − 1
    h, w = energy.shape[-2:]
    band = max(1, min(band, (min(h, w) - 1) // 4))  # a tiny image (tests) gets a narrower band
    distance = _distance_to_border(h, w, energy.device)  # (h, w) px to the nearest edge
    outer, inner = distance < band, (distance >= band) & (distance < 2 * band)
    return energy[:, outer].mean(dim=1) / energy[:, inner].mean(dim=1).clamp(min=1e-12)


def _distance_to_border(h: int, w: int, device) -> torch.Tensor:
    rows = torch.arange(h, device=device)
    cols = torch.arange(w, device=device)
    # the gradient map lost the last row/column: its own last row is 0 px from the image border
    to_row = torch.minimum(rows, h - 1 - rows)[:, None]
    to_col = torch.minimum(cols, w - 1 - cols)[None, :]
    return torch.minimum(to_row, to_col)


def frame_score(output: torch.Tensor, content: torch.Tensor, band: int = FRAME_BAND) -> torch.Tensor:
    """Frame score = exp |log(border_ratio(output) / border_ratio(content))|, the factor by which
    the output's border band is busier *or calmer*, relative to its inside, than the content's.
    (N, 3, H, W) each → (N,) ≥ 1.  LOWER IS BETTER; about 1 = no frame.

    Both directions are frames: a line drawn along the border (a 3-px frame: several-fold) puts
    edges into the outer band; a flat strip along it (what this project's vgg16-hed decoder paints:
    ~4 px of smooth colour at 0.4–0.6 of the inside's gradient energy, then a line ~8 px in)
    takes them out.  Our own measure (no published form) of the border artefact that zero-padded
    encoders and decoders leave (design.md, "Encoders and weights").
    """
    ratio = border_ratio(output, band) / border_ratio(content, band).clamp(min=1e-12)
    return torch.exp(torch.log(ratio.clamp(min=1e-12)).abs())


def lattice_ratio(image: torch.Tensor, period: int = GRID_PERIOD, ring: tuple[int, int] = (2, 4)) -> torch.Tensor:
    """Spectral energy at the frequencies of a `period`-px periodic pattern over the energy of
    their neighbouring frequencies, of the luminance.  (N, 3, H, W) → (N,).

    Let P = |DFT₂(w · (Y − mean Y))|² with w a 2-D Hann window, on the image cropped to a
    multiple of `period`.  Any pattern that repeats every `period` px along both axes (a grid
    of lines, a checkerboard, dashes; periods 2 and 4 are included, as divisors of 8) has all its
    energy on the lattice L = {(a·H/p, b·W/p)} ∖ {0} of frequency bins.  Per lattice point f:
    peak(f) = Σ of P over the 3×3 bins around f (the window spreads a line over ±1 bin),
    background(f) = 9 × mean of P over the bins at Chebyshev distance ring[0]…ring[1] from f.
    Ratio = Σ_f peak(f) / Σ_f background(f): about 1 for an image without periodic structure
    (its spectrum is smooth), larger with a grid.
    """
    y = luminance(image.float())[:, 0]
    h, w = (y.shape[-2] // period) * period, (y.shape[-1] // period) * period
    top, left = (y.shape[-2] - h) // 2, (y.shape[-1] - w) // 2
    y = y[:, top: top + h, left: left + w]
    y = y - y.mean(dim=(1, 2), keepdim=True)
    window = torch.hann_window(h, periodic=False, device=y.device)[:, None] * torch.hann_window(
        w, periodic=False, device=y.device)[None, :]
    power = torch.fft.fft2(y * window).abs().square()  # (N, h, w)
    rows = torch.arange(period, device=y.device) * (h // period)
    cols = torch.arange(period, device=y.device) * (w // period)
    offsets = torch.arange(-ring[1], ring[1] + 1, device=y.device)
    dr, dc = torch.meshgrid(offsets, offsets, indexing="ij")
    chebyshev = torch.maximum(dr.abs(), dc.abs())
    near, far = chebyshev <= 1, (chebyshev >= ring[0]) & (chebyshev <= ring[1])
    peak = torch.zeros(y.shape[0], device=y.device)
    background = torch.zeros(y.shape[0], device=y.device)
    for a in range(period):
        for b in range(period):
            if a == 0 and b == 0:
                continue
            r = (rows[a] + dr) % h  # (K, K) bins around the lattice point, wrapping
            c = (cols[b] + dc) % w
            block = power[:, r, c]  # (N, K, K)
            peak += block[:, near].sum(dim=1)
            background += 9.0 * block[:, far].mean(dim=1)
    return peak / background.clamp(min=1e-20)


def grid_score(output: torch.Tensor, content: torch.Tensor, period: int = GRID_PERIOD) -> torch.Tensor:
    """Grid score = lattice_ratio(output) / lattice_ratio(content).  (N, 3, H, W) each → (N,).

    About 1 = no more periodic energy at the decoder's upsampling periods (2, 4, 8 px, both axes,
    and their combinations such as a checkerboard) than the content has; a checkerboard or grid
    texture raises it.  LOWER IS BETTER (below 1: the output is smoother at those frequencies than
    the content, e.g. the content's JPEG blocks are gone).  The artefact is the checkerboard of
    Odena, Dumoulin & Olah, "Deconvolution and checkerboard artifacts", Distill 2016; measuring
    it as the spectral peak over its neighbourhood is our own form.
    """
    return lattice_ratio(output, period) / lattice_ratio(content, period).clamp(min=1e-20)
