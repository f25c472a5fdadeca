"""Optical flow between video frames, warping by it, and where it can be trusted.

    backward = dis_flow(frame_t, frame_prev)       # frame_t(x) ≈ frame_prev(x + backward(x))
    forward = dis_flow(frame_prev, frame_t)
    reliable = consistent(backward, forward)       # (H, W) bool: not occluded, inside the frame
    warped = warp(stylised_prev, backward)         # stylised_prev moved onto frame t

Flow is OpenCV's DIS (Kroeger et al., "Fast Optical Flow using Dense Inverse Search", ECCV 2016,
`opencv-python-headless`), computed on the luminance of the *input* frames, at most `max_side`
pixels on the longer side and scaled up.  Occlusions are found with the forward–backward check
of Sundaram et al. (ECCV 2010), as Ruder et al. ("Artistic style transfer for videos", GCPR
2016) use it: a position is unreliable where following the backward flow and then the forward
flow does not come back, |b + f̃|² > 0.01 (|b|² + |f̃|²) + 0.5 px², or where the backward flow
leaves the frame.  Frames are (H, W, 3) uint8 or float arrays (numpy, as decoded).
"""

from __future__ import annotations

import numpy as np

from adain.core.errors import require

DEFAULT_MAX_SIDE = 512


def _cv2():
    return require("cv2", "optical flow", "opencv-python-headless")


def gray(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB (uint8, or float in [0, 1]) → (H, W) uint8 luminance."""
    rgb = frame.astype(np.float32) * (255.0 if frame.dtype != np.uint8 else 1.0)
    luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(luma + 0.5, 0, 255).astype(np.uint8)


def dis_flow(source: np.ndarray, target: np.ndarray, max_side: int = DEFAULT_MAX_SIDE) -> np.ndarray:
    """Flow from `source` to `target`, (H, W, 2) float32 (x, y) in pixels of the given frames:
    source(p) ≈ target(p + flow(p)).  Frames: (H, W, 3) RGB or (H, W) grey."""
    cv2 = _cv2()
    a = gray(source) if source.ndim == 3 else source
    b = gray(target) if target.ndim == 3 else target
    height, width = a.shape
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(a, b, None)
    if scale < 1.0:
        small_h, small_w = a.shape
        flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= width / small_w
        flow[..., 1] *= height / small_h
    return flow.astype(np.float32)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """image(p + flow(p)) for every p, bilinear, (H, W, C) float32; positions outside the frame
    take the nearest edge pixel (`consistent` marks them unreliable)."""
    cv2 = _cv2()
    height, width = flow.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return cv2.remap(image.astype(np.float32), xs + flow[..., 0], ys + flow[..., 1],
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistent(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """(H, W) bool: where the backward flow (t → t−1) is trusted (forward–backward check, and
    the position it points to lies inside the frame)."""
    height, width = backward.shape[:2]
    forward_there = warp(forward, backward)  # f̃(p) = forward(p + backward(p))
    total = backward + forward_there
    ok = np.square(total).sum(-1) <= 0.01 * (np.square(backward).sum(-1) + np.square(forward_there).sum(-1)) + 0.5
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    x, y = xs + backward[..., 0], ys + backward[..., 1]
    return ok & (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
