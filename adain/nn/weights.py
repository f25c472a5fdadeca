"""Weight files, whatever network they hold: reading safetensors and PyTorch files with one-line
errors, atomic writing with the sha256 of the tensors, the download/conversion cache folder, and
the shipped format (safetensors with its JSON description in the header and beside it).

What the tensors mean is the business of the network's own module: `adain.nn.pretrained` for
encoders, `adain.nn.decoder` for decoders, `adain.methods.johnson.stylizer` for Johnson networks.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import torch

from adain.core.errors import UserError

# The weight files that ship inside the package (adain/weights/).
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "weights"


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

def numbered_convs(state: dict[str, torch.Tensor], prefix: str = "") -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) of every 4-D `{prefix}{index}.weight` in an nn.Sequential state dict, in index order."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)\.weight$")
    indices = sorted(int(m.group(1)) for key in state if (m := pattern.match(key)) and state[key].dim() == 4)
    return [(state[f"{prefix}{i}.weight"], state[f"{prefix}{i}.bias"]) for i in indices]


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
