"""Settings of Gatys et al. (2016) optimisation: one validated dataclass, defaults beside it.

Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016.
Every field can be given to `load_gatys` (as a default) or to `stylize` (for one call); a wrong
name or value is a one-line UserError.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Callable, Mapping

import torch

from adain.core.errors import UserError

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style")
DEFAULT_POOLING = "avg"  # the paper: average pooling "yields slightly more appealing results" (§2)
AUTO_COARSEST_SIDE = 512  # scales=0: halve until the longer side is at most this
MIN_SIDE = 32  # no scale smaller than this (VGG pools 4 times before relu5_1)

#: callback(step, losses, image): step counts iterations over all scales from 0; losses are
#: floats {"total", "content", "style", "tv"} before the step; image is (N, 3, h, w) after it.
Callback = Callable[[int, Mapping[str, float], torch.Tensor], None]


@dataclass(frozen=True)
class GatysOptions:
    """Per-image settings of the optimisation; every field can be passed to `stylize`.

    Attributes:
        iterations: iterations at every scale (the finest included).
        optimizer: "lbfgs" (the paper's) or "adam".
        content_weight: α of the paper (eq. 7), on the relative content loss.
        style_weight: β of the paper, on the relative style loss (see `gatys_losses`).  The
            default 1e3 gives a painterly result that keeps the photo's objects (vgg16-hed,
            256–512 px); 10 stays closer to the photo, 1e4 stylises a little more.
        tv_weight: total-variation weight (0: off).
        init: start image: "content", "noise" (uniform, seeded) or "style" (resized).
        scales: coarse-to-fine scales, factor 2 apart; 0 chooses from the size.
        seed: seeds the noise init.
        learning_rate: None: 1 for L-BFGS (its step is scaled by the curvature estimate),
            0.02 for Adam (pixels in [0, 1]).
        lbfgs_history: L-BFGS memory; costs 2 image-sized float32 vectors per entry
            (20 entries at 2048² ≈ 2 GB).
        content_layer / style_layers / layer_weights: encoder taps; layer weights default to
            equal (1/L each, as in the paper).
        progress: tqdm bar on stderr with the losses.
        callback: called after every iteration, see `Callback`.
    """

    iterations: int = 300
    optimizer: str = "lbfgs"
    content_weight: float = 1.0
    style_weight: float = 1e3
    tv_weight: float = 0.0
    init: str = "content"
    scales: int = 0
    seed: int = 0
    learning_rate: float | None = None
    lbfgs_history: int = 20
    content_layer: str = CONTENT_LAYER
    style_layers: tuple[str, ...] = STYLE_LAYERS
    layer_weights: tuple[float, ...] | None = None
    progress: bool = True
    callback: Callback | None = None

    def updated(self, **changes) -> "GatysOptions":
        """A validated copy with `changes`; an unknown name or a bad value is a UserError."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise UserError(f"gatys: unknown option(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
        if "style_layers" in changes:
            changes["style_layers"] = tuple(changes["style_layers"])
        if changes.get("layer_weights") is not None:
            changes["layer_weights"] = tuple(float(w) for w in changes["layer_weights"])
        options = replace(self, **changes)
        options.validate()
        return options

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise UserError(f"gatys optimizer: {self.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
        if self.init not in INITS:
            raise UserError(f"gatys init: {self.init!r}; expected one of {', '.join(INITS)}")
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise UserError(f"gatys iterations: {self.iterations!r}; expected an integer of 1 or more")
        if not isinstance(self.scales, int) or self.scales < 0:
            raise UserError(f"gatys scales: {self.scales!r}; expected 0 (automatic) or a positive integer")
        for name in ("content_weight", "style_weight", "tv_weight"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise UserError(f"gatys {name.replace('_', '-')}: {value}; expected a finite value ≥ 0")
        if self.content_weight == self.style_weight == self.tv_weight == 0:
            raise UserError("gatys weights: content, style and tv weights are all 0; expected at least one > 0")
        if self.learning_rate is not None and not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise UserError(f"gatys learning_rate: {self.learning_rate}; expected a positive number")
        if self.lbfgs_history < 1:
            raise UserError(f"gatys lbfgs_history: {self.lbfgs_history}; expected 1 or more")
        if not self.style_layers:
            raise UserError("gatys style_layers: empty; expected at least one encoder tap")
        if self.layer_weights is not None and (len(self.layer_weights) != len(self.style_layers)
                                               or any(not math.isfinite(w) or w < 0 for w in self.layer_weights)):
            raise UserError(f"gatys layer_weights: {self.layer_weights}; expected {len(self.style_layers)} "
                            "finite values ≥ 0, one per style layer")

    def style_layer_weights(self) -> dict[str, float]:
        weights = self.layer_weights or (1.0 / len(self.style_layers),) * len(self.style_layers)
        return dict(zip(self.style_layers, weights))
