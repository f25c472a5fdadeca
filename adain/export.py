"""`adain export`: a training checkpoint → shipped decoder weights (safetensors + JSON).

The JSON description records what a user needs to trust the weights: encoder, decoder
architecture, training config, steps, data, commit, and the validation numbers.
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


def run_export(args: Namespace) -> int:
    extra = {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        extra[key] = value
    path = export_decoder(args.checkpoint, args.output, args.dtype, extra)
    print(path)
    return 0
