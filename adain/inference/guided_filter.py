"""Edge-aware smoothing with the content as guide: the guided filter, and the photo mode built on it.

He, Sun & Tang, "Guided Image Filtering", TPAMI 2013 (ECCV 2010): in every window ω_k of radius
r the output is an affine function of the guide I, q_i = a_kᵀ I_i + b_k, fitted by ridge
regression to the input p; each pixel averages the coefficients of the windows that contain it.
With a colour guide (section 3.5 of the paper):

    a_k = (Σ_k + ε U)⁻¹ (mean_ω(I p) − μ_k p̄_k)      Σ_k: 3×3 covariance of I in ω_k
    b_k = p̄_k − a_kᵀ μ_k
    q_i = mean_{k ∋ i}(a_k)ᵀ I_i + mean_{k ∋ i}(b_k)

So the output's edges are the guide's edges: texture and warps that the stylisation added
inside flat regions of the content are smoothed away while the new colours stay.  This is the
fast post-processing of FastPhotoStyle (Li et al., "A Closed-form Solution to Photorealistic
Image Stylization", ECCV 2018: `photo_gif.GIFSmoothing`, OpenCV's guidedFilter with the content
as guide, r = 35, ε = 0.001), written in torch here so that it needs no OpenCV contrib build and
runs on the model's device.  Box means use cumulative sums (cost independent of r); windows are
cut at the image border and averaged over the pixels they hold.
"""

from __future__ import annotations

import numpy as np
import torch

#: FastPhotoStyle's radius at its working size; `photo_radius` scales it with the image
REFERENCE_RADIUS, REFERENCE_SIDE = 35, 512
DEFAULT_EPS = 1e-3  # on intensities in [0, 1]


def default_radius(height: int, width: int) -> int:
    """r = 35 px at a 512-px shorter side, proportionally at other sizes (at least 1)."""
    return max(1, round(REFERENCE_RADIUS * min(height, width) / REFERENCE_SIDE))


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2r+1)² window around each pixel, windows cut at the border.

    x: (N, C, H, W) → (N, C, H, W), float32 (sums in float64, so large images stay exact).
    """
    out = x.double()
    for dim in (-2, -1):
        size = out.shape[dim]
        csum = torch.nn.functional.pad(out.cumsum(dim).movedim(dim, -1), (1, 0)).movedim(-1, dim)
        index = torch.arange(size, device=x.device)
        high = (index + radius + 1).clamp(max=size)
        low = (index - radius).clamp(min=0)
        count = (high - low).double()
        shape = [1] * out.dim()
        shape[dim] = size
        out = (csum.index_select(dim, high) - csum.index_select(dim, low)) / count.view(shape)
    return out.float()


def guided_filter(guide: torch.Tensor, source: torch.Tensor, radius: int, eps: float = DEFAULT_EPS) -> torch.Tensor:
    """Colour-guided filter of He et al. (2013), section 3.5.

    Args:
        guide: (N, 3, H, W) guide image I in [0, 1] (here: the content).
        source: (N, C, H, W) image p to filter (here: the stylised result).
        radius: window radius r in pixels.
        eps: ε, the ridge on the guide's covariance (larger: smoother, fewer guide edges kept).

    Returns:
        (N, C, H, W) float32 q.
    """
    if guide.shape[1] != 3:
        raise ValueError(f"guide: expected 3 channels, got {guide.shape[1]}")
    I, p = guide.float(), source.float()
    n, _, h, w = I.shape
    mean_I = box_mean(I, radius)  # (N, 3, H, W)
    # Σ_k: the 6 distinct entries of the 3×3 covariance of I over each window
    pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    products = torch.cat([I[:, i:i + 1] * I[:, j:j + 1] for i, j in pairs], dim=1)
    cov_entries = box_mean(products, radius) - torch.cat([mean_I[:, i:i + 1] * mean_I[:, j:j + 1]
                                                          for i, j in pairs], dim=1)
    sigma = torch.empty(n, h, w, 3, 3, device=I.device)
    for k, (i, j) in enumerate(pairs):
        sigma[..., i, j] = sigma[..., j, i] = cov_entries[:, k]
    sigma = sigma + eps * torch.eye(3, device=I.device)
    inverse = torch.linalg.inv(sigma.double()).float()  # (N, H, W, 3, 3), symmetric positive definite
    del sigma, cov_entries, products
    channels = []
    for c in range(p.shape[1]):
        pc = p[:, c:c + 1]
        mean_p = box_mean(pc, radius)  # (N, 1, H, W)
        cov_Ip = box_mean(I * pc, radius) - mean_I * mean_p  # (N, 3, H, W)
        a = torch.einsum("nhwij,njhw->nihw", inverse, cov_Ip)  # (N, 3, H, W)
        b = mean_p - (a * mean_I).sum(dim=1, keepdim=True)
        channels.append((box_mean(a, radius) * I).sum(dim=1, keepdim=True) + box_mean(b, radius))
    return torch.cat(channels, dim=1)


def photo_smooth(stylised: torch.Tensor, content: torch.Tensor, radius: int = 0,
                 eps: float = DEFAULT_EPS) -> torch.Tensor:
    """Photo mode's post-processing: the stylised (N, 3, H, W) filtered with the content (same
    size) as guide, clamped to [0, 1].  radius 0: `default_radius` for the image's size."""
    radius = radius or default_radius(*content.shape[-2:])
    return guided_filter(content, stylised, radius, eps).clamp(0, 1)


def photo_smooth_bands(stylised: np.ndarray, content: np.ndarray, radius: int = 0, eps: float = DEFAULT_EPS,
                       rows: int = 512) -> None:
    """`photo_smooth` for large images held as (H, W, 3) uint8 arrays, in place, band by band.

    A pixel's output depends on the windows that contain it, and those on pixels up to r
    further: a band read with a 2r halo above and below gives exactly the whole-image result,
    at the memory cost of one band (the tiled 4K/8K path uses this).
    """
    height, width = content.shape[:2]
    radius = radius or default_radius(height, width)
    halo = 2 * radius

    def as_tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)

    pending: list[tuple[int, np.ndarray]] = []  # filtered bands some later band's halo still reads
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        lo, hi = max(0, top - halo), min(height, bottom + halo)
        while pending and pending[0][0] + len(pending[0][1]) <= lo:  # no longer read: write it
            done_top, done = pending.pop(0)
            stylised[done_top:done_top + len(done)] = done
        band = photo_smooth(as_tensor(stylised[lo:hi]), as_tensor(content[lo:hi]), radius, eps)
        band = band[0, :, top - lo:bottom - lo].mul(255).round().byte().permute(1, 2, 0).numpy()
        pending.append((top, band))
    for done_top, done in pending:
        stylised[done_top:done_top + len(done)] = done
