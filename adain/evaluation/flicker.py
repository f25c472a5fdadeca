"""Temporal stability of a stylised video: the masked warping error between consecutive frames.

    meter = FlickerMeter()
    for original, stylised in frames:       # (H, W, 3) uint8 or float arrays, in order
        meter.update(original, stylised)
    meter.value                              # mean over consecutive pairs; 0 for a still video

The measure of Lai et al., "Learning Blind Video Temporal Consistency" (ECCV 2018), also used
by ReReVST (Wang et al., "Consistent Video Style Transfer via Relaxation and Regularization",
TIP 2020):

    E_warp(O_t, O_t−1) = Σ_p M_t(p) ‖O_t(p) − Ô_t−1(p)‖² / Σ_p M_t(p)

where Ô_t−1 is the previous stylised frame warped onto frame t by the optical flow of the
*input* frames and M_t masks out occlusions, so that only change the input's motion cannot
explain counts.  Deviations, stated: the flow is OpenCV's DIS (`adain.inference.flow`) rather than the
learned FlowNet2/PWC-Net flow of those papers, and the occlusion mask is the forward–backward
check of Sundaram et al. (2010); ‖·‖² is the mean over the three RGB channels of values in
[0, 1].  The input clip itself scores near 0 (only the flow's and the interpolation's error);
flicker raises it.  Memory is one previous frame, whatever the clip's length.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from adain.inference import flow as flowlib


def _unit(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) / 255.0 if frame.dtype == np.uint8 else frame.astype(np.float32)


def warping_error(original_prev: np.ndarray, original: np.ndarray, stylised_prev: np.ndarray,
                  stylised: np.ndarray, max_side: int = flowlib.DEFAULT_MAX_SIDE) -> float:
    """E_warp for one pair of consecutive frames: (H, W, 3) arrays (uint8, or float in [0, 1]);
    the stylised frames are compared at the input frames' size."""
    backward = flowlib.dis_flow(original, original_prev, max_side)
    forward = flowlib.dis_flow(original_prev, original, max_side)
    mask = flowlib.consistent(backward, forward)
    warped = flowlib.warp(_unit(stylised_prev), backward)
    error = np.square(_unit(stylised) - warped).mean(-1)  # (H, W)
    return float((error * mask).sum() / max(mask.sum(), 1))


class FlickerMeter:
    """Accumulates `warping_error` over a clip, one frame at a time (keeps one frame)."""

    def __init__(self, max_side: int = flowlib.DEFAULT_MAX_SIDE):
        self.max_side = max_side
        self.errors: list[float] = []
        self._previous: tuple[np.ndarray, np.ndarray] | None = None

    def update(self, original: np.ndarray, stylised: np.ndarray) -> None:
        if self._previous is not None:
            self.errors.append(warping_error(*self._previous[:1], original, self._previous[1], stylised,
                                             self.max_side))
        self._previous = (original, stylised)

    @property
    def value(self) -> float:
        """Mean E_warp over the consecutive pairs seen (nan before the second frame)."""
        return float(np.mean(self.errors)) if self.errors else float("nan")


def flicker(originals: Iterable[np.ndarray], stylised: Iterable[np.ndarray],
            max_side: int = flowlib.DEFAULT_MAX_SIDE) -> float:
    """Mean E_warp of a whole clip given as two sequences of frames in order."""
    meter = FlickerMeter(max_side)
    for original, out in zip(originals, stylised):
        meter.update(original, out)
    return meter.value
