"""`adain export`: a training checkpoint → shipped weights (safetensors + JSON), per method.

AdaIN checkpoints give a decoder, Johnson checkpoints a per-style network (`cfg.method` in the
checkpoint decides).  The JSON description records what a user needs to trust the weights:
method, encoder, architecture, style (Johnson), training config, steps, data, commit, losses and
the validation numbers.
"""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import Sequence

import torch

from adain.core.errors import UserError
from adain.nn.decoder import load_decoder, save_decoder
from adain.train.checkpoint import load_checkpoint
from adain.train.config import portable


@torch.no_grad()
def average_weights(network: torch.nn.Module, others: Sequence[torch.nn.Module], sources: Sequence[str]) -> None:
    """network ← the mean of its own and the others' weights (checkpoint averaging, as in SWA).

    Why: at a constant learning rate consecutive checkpoints of one run wander along the
    content/style trade-off (the CPU decoder's held-out relative content loss moved between 0.76
    and 0.86 from one 250-step checkpoint to the next); their mean sits in the middle and scores
    more like the run's trend than any single checkpoint.  `sources` names the others for errors.
    """
    params = network.state_dict()
    other_params = [other.state_dict() for other in others]
    for other, source in zip(other_params, sources):
        for name, value in other.items():
            if name not in params or params[name].shape != value.shape:
                raise UserError(f"{source}: tensor {name} does not match {tuple(params.get(name, value).shape)} of the "
                                f"first checkpoint; expected checkpoints of the same network")
    for name, value in params.items():
        if value.is_floating_point():
            total = value.float() + sum(other[name].float() for other in other_params)
            value.copy_(total / (1 + len(others)))


def export_decoder(checkpoint: str | Path, output: str | Path, dtype: str = "float16", extra: dict | None = None,
                   average_with: Sequence[str | Path] = ()) -> Path:
    """An AdaIN training checkpoint → `output` (.safetensors) + `output`.json; with `average_with`,
    the decoder is the mean of this checkpoint's and theirs (see average_weights)."""
    state = load_checkpoint(checkpoint)
    decoder, _ = load_decoder(checkpoint)
    if average_with:
        average_weights(decoder, [load_decoder(path)[0] for path in average_with], [str(p) for p in average_with])
        extra = {**(extra or {}), "averaged_with_steps": [int(load_checkpoint(path).get("step", -1))
                                                          for path in average_with]}
    config = portable(state["config"])
    metadata = {
        "encoder": state.get("encoder") or config["model"]["encoder"],
        "steps": int(state["step"]),
        "batch_size": config["optim"]["batch_size"],
        "crop_size": config["data"]["crop_size"],
        "data": {"content": config["data"]["content"], "style": config["data"]["style"]},
        # The code the checkpoint was trained with ("+dirty": with uncommitted changes).
        "commit": state.get("commit", "unknown"),
        # The run's best validation score up to this checkpoint: not a score of this export (an
        # average of checkpoints, or a later step than the best, was never validated as such).
        "run_best_val_score": state.get("best_score"),
        "training_config": config,
        "dtype": dtype,
        **(extra or {}),
    }
    if "recipe" in state:  # a staged recipe (adain.train.stages): every stage, as one config
        metadata["stage"] = config.get("stage")
        metadata["recipe"] = portable(state["recipe"])
    save_decoder(decoder, output, metadata)
    return Path(output)


def export_johnson(checkpoint: str | Path, output: str | Path, dtype: str = "float16", extra: dict | None = None) -> Path:
    """A Johnson training checkpoint → `output` (.safetensors) + `output`.json."""
    from adain.methods.johnson.stylizer import load_transformer, save_transformer

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
        "run_best_val_score": state.get("best_score"),  # the run's, as for decoders
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
    if method == "johnson":
        if args.average_with:
            raise UserError("--average-with: averaging is implemented for AdaIN decoders only")
        path = export_johnson(args.checkpoint, args.output, args.dtype, extra)
    else:
        path = export_decoder(args.checkpoint, args.output, args.dtype, extra, args.average_with or ())
    print(path)
    return 0
