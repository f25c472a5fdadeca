"""`adain export`: a training checkpoint → shipped weights (safetensors + JSON), per method.

AdaIN checkpoints give a decoder, Johnson checkpoints a per-style network (`cfg.method` in the
checkpoint decides).  The JSON description records what a user needs to trust the weights:
method, encoder, architecture, style (Johnson), training config, steps, data, commit, losses and
the validation numbers.
"""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

from adain.checkpoint import load_checkpoint
from adain.weights import load_decoder, save_decoder


def export_decoder(checkpoint: str | Path, output: str | Path, dtype: str = "float16", extra: dict | None = None) -> Path:
    state = load_checkpoint(checkpoint)
    decoder, _ = load_decoder(checkpoint)
    config = state["config"]
    metadata = {
        "encoder": state.get("encoder") or config["model"]["encoder"],
        "steps": int(state["step"]),
        "batch_size": config["optim"]["batch_size"],
        "crop_size": config["data"]["crop_size"],
        "data": {"content": config["data"]["content"], "style": config["data"]["style"]},
        "commit": state.get("commit", "unknown"),
        "val_score": state.get("best_score"),
        "training_config": config,
        "dtype": dtype,
        **(extra or {}),
    }
    save_decoder(decoder, output, metadata)
    return Path(output)


def export_johnson(checkpoint: str | Path, output: str | Path, dtype: str = "float16", extra: dict | None = None) -> Path:
    """A Johnson training checkpoint → `output` (.safetensors) + `output`.json."""
    from adain.methods.johnson import load_transformer, save_transformer

    state = load_checkpoint(checkpoint)
    network, _ = load_transformer(checkpoint)
    config = state["config"]
    metadata = {
        "method": "johnson",
        "style": state.get("style", {"name": Path(config["style"]).stem, "path": config["style"]}),
        "encoder": state.get("encoder") or config["model"]["encoder"],
        "steps": int(state["step"]),
        "batch_size": config["optim"]["batch_size"],
        "crop_size": config["data"]["crop_size"],
        "losses": {key: config["johnson"][key] for key in
                   ("content_weight", "style_weight", "tv_weight", "style_taps", "content_tap",
                    "normalise_style_layers", "style_size")},
        "data": {"content": config["data"]["content"]},
        "commit": state.get("commit", "unknown"),
        "val_score": state.get("best_score"),
        "training_config": config,
        "dtype": dtype,
        **(extra or {}),
    }
    return save_transformer(network, output, metadata)


def run_export(args: Namespace) -> int:
    extra = {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        extra[key] = value
    method = load_checkpoint(args.checkpoint)["config"].get("method", "adain")
    export = export_johnson if method == "johnson" else export_decoder
    path = export(args.checkpoint, args.output, args.dtype, extra)
    print(path)
    return 0
