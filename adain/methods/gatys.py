"""Gatys et al. (2016) style transfer by optimisation, behind the Stylizer interface.

Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016:
the output image itself is optimised so that its content-layer features match the content
image's and its Gram matrices match the style image's (losses in `gatys_losses`).

    stylizer = load_gatys(iterations=300)
    image = stylizer.stylize("photo.jpg", "painting.jpg", style_weight=1e3, optimizer="adam")

What runs, per content image:
  - coarse-to-fine: the image is optimised at 1/2^(S−1) of the working size, upsampled ×2,
    refined, … up to full size (S scales; `scales=0`: as many as bring the longer side to
    ≤ 512 px at the coarsest).  Every scale gets `iterations` iterations; the coarser ones
    together cost less than a third of the finest.  One iteration = one forward + backward
    pass = one optimiser step (L-BFGS without line search, or Adam).
  - fast path: encoder weights in bf16, channels_last, forward under bf16 autocast where
    `resolve_dtype` picks bf16; the image being optimised and every loss stay float32.
  - the style Gram matrices are computed once per style (`_style_features`); the content
    features once per scale.
"""

from __future__ import annotations

import math
import os
from typing import Sequence

import torch
import torch.nn.functional as F

from adain.core.errors import UserError
from adain.core.runtime import autocast_context, prepare_for_inference, resolve_device, resolve_dtype
from adain.methods.base import StyleCode, Stylizer
from adain.methods.gatys_options import AUTO_COARSEST_SIDE, DEFAULT_POOLING, MIN_SIDE, GatysOptions
from adain.nn.encoders import DEFAULT_ENCODER, VGGEncoder
from adain.nn.functional import gram, normalise_weights
from adain.nn.losses.gatys import content_loss, style_loss, total_variation
from adain.nn.pretrained import build_encoder


def scale_sizes(height: int, width: int, scales: int = 0) -> list[tuple[int, int]]:
    """(H, W) of each scale, coarsest first, factor 2 apart, the last one (H, W) itself.

    scales=0: 1 + ⌈log2(longer side / 512)⌉ (2048 px → 3 scales: 512, 1024, 2048).  Scales
    whose shorter side would fall below 32 px are dropped.
    """
    if scales == 0:
        scales = 1 + max(0, math.ceil(math.log2(max(height, width) / AUTO_COARSEST_SIDE)))
    sizes = [(round(height / 2**k), round(width / 2**k)) for k in reversed(range(scales))]
    return [size for size in sizes if min(size) >= MIN_SIDE] or [(height, width)]


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) → (N, C, *size), bicubic (antialiased when shrinking), float32."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image.float()
    shrinking = size[0] < image.shape[-2]
    return F.interpolate(image.float(), size=size, mode="bicubic", antialias=shrinking, align_corners=False)


def load_gatys(
    encoder: str | None = None,
    pooling: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    encoder_weights: str | os.PathLike | None = None,
    **option_defaults,
) -> "GatysStylizer":
    """Build a Gatys Stylizer.

    Args:
        encoder: any registered encoder (default vgg16-hed).
        pooling: "avg" (default, the paper's) or "max".
        device / precision: as for AdaIN ("auto": bf16 + channels_last where fast).
        encoder_weights: a local copy of the encoder's original weight file.
        **option_defaults: defaults for `GatysOptions` (iterations, style_weight, …); each
            can still be overridden per call of `stylize`.
    """
    options = GatysOptions().updated(**option_defaults)  # bad options fail before loading weights
    name = encoder or DEFAULT_ENCODER
    module = build_encoder(name, pooling=pooling or DEFAULT_POOLING, weights_path=encoder_weights)
    target_device = resolve_device(device)
    dtype = resolve_dtype(precision, target_device)
    return GatysStylizer(prepare_for_inference(module, target_device, dtype), dtype, options)


class GatysStylizer(Stylizer):
    """Optimise each output image from scratch (hundreds of encoder passes per image).

    Options of `stylize`: any field of `GatysOptions`.  Several styles are blended by their
    weights (a weighted sum of per-style Gram losses) or placed by masks (each style's Gram
    loss over its own region).
    """

    name = "gatys"

    def __init__(self, encoder: VGGEncoder, dtype: torch.dtype = torch.float32,
                 options: GatysOptions | None = None,
                 memory_format: torch.memory_format = torch.channels_last):
        self.encoder = encoder.requires_grad_(False).eval()  # gradients flow to the image only
        self.dtype = dtype
        self.memory_format = memory_format
        self.options = options or GatysOptions()
        self.device = next(encoder.parameters()).device
        self.metadata = {"encoder": encoder.spec.name, "pooling": encoder.spec.pooling,
                         "dtype": str(dtype).replace("torch.", "")}

    # --- encoder --------------------------------------------------------------------------

    def encode(self, image: torch.Tensor, taps: Sequence[str]) -> dict[str, torch.Tensor]:
        """(N, 3, H, W) in [0, 1] → {tap: (N, C, h, w)}, in bf16 on the fast path."""
        with autocast_context(self.device, self.dtype):
            return self.encoder(image.to(self.device).contiguous(memory_format=self.memory_format), taps)

    def style_grams(self, image: torch.Tensor, taps: Sequence[str]) -> dict[str, torch.Tensor]:
        """Style image (1, 3, H, W) → {tap: Gram (1, C, C)}, float32 (computed outside autocast)."""
        return {tap: gram(feat) for tap, feat in self.encode(image, taps).items()}

    def _style_features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        # Called under inference_mode by the base class: plain tensors, cloned before use.
        return self.style_grams(image, self.options.style_layers)

    # --- optimisation ---------------------------------------------------------------------

    def _stylize(self, content: torch.Tensor, styles: list[StyleCode], weights: Sequence[float] | None,
                 masks: torch.Tensor | None, **options) -> torch.Tensor:
        opts = self.options.updated(**options)
        # The base class does not disable autograd, but a caller may have (inference_mode,
        # no_grad); the optimisation needs it, and inference tensors cannot be saved for backward.
        with torch.inference_mode(False), torch.enable_grad():
            targets = [self._grams_for(code, opts.style_layers) for code in styles]
            style_weights = normalise_weights(weights, len(styles)) if styles else []
            masks = None if masks is None else masks.clone().to(self.device)
            content = content.clone().float()
            sizes = scale_sizes(*content.shape[-2:], opts.scales)
            generator = torch.Generator().manual_seed(opts.seed)
            progress = _progress_bar(opts, sizes, content.shape[0])
            image, step = None, 0
            try:
                for size in sizes:
                    scaled_content = resize(content, size).clamp(0, 1)
                    image = (self._initial_image(scaled_content, styles, opts.init, generator) if image is None
                             else resize(image, size).clamp(0, 1))
                    image, step = self._optimise(image, scaled_content, targets, style_weights, masks, opts,
                                                 step, progress)
            finally:
                progress.close()
        return image.detach().contiguous().cpu()

    def _grams_for(self, code: StyleCode, taps: Sequence[str]) -> dict[str, torch.Tensor]:
        grams = code.features if isinstance(code.features, dict) else {}
        if not set(taps) <= set(grams):  # per-call style_layers beyond the precomputed ones
            with torch.no_grad():
                grams = self.style_grams(code.image, taps)
        return {tap: grams[tap].clone().to(self.device) for tap in taps}

    def _initial_image(self, content: torch.Tensor, styles: list[StyleCode], init: str,
                       generator: torch.Generator) -> torch.Tensor:
        """(N, 3, h, w) start image at the coarsest scale."""
        if init == "noise":
            return torch.rand(content.shape, generator=generator)
        if init == "style":
            if not styles:
                raise UserError("gatys init 'style': no style image given")
            return resize(styles[0].image, tuple(content.shape[-2:])).clamp(0, 1).expand_as(content).clone()
        return content.clone()

    def _optimise(self, start: torch.Tensor, content: torch.Tensor, style_targets: list[dict[str, torch.Tensor]],
                  style_weights: list[float], masks: torch.Tensor | None, opts: GatysOptions,
                  step: int, progress) -> tuple[torch.Tensor, int]:
        """Run `opts.iterations` steps at one scale; returns the image (N, 3, h, w) and the step count."""
        with torch.no_grad():
            content_target = self.encode(content, [opts.content_layer])[opts.content_layer].float()
        # The image stays NCHW-contiguous (L-BFGS flattens it with .view); `encode` hands the
        # encoder a channels_last copy, a 3-channel copy that costs nothing next to the convs.
        image = start.to(self.device).contiguous().requires_grad_(True)
        layer_weights = opts.style_layer_weights()
        taps = list(dict.fromkeys([*layer_weights, opts.content_layer]))
        if opts.optimizer == "lbfgs":
            # max_iter=1: one closure call (forward + backward) per step(); the curvature
            # history lives in the optimiser state and carries over between calls.
            optimizer = torch.optim.LBFGS([image], lr=opts.learning_rate or 1.0, max_iter=1,
                                          history_size=opts.lbfgs_history)
        else:
            optimizer = torch.optim.Adam([image], lr=opts.learning_rate or 0.02)
        losses: dict[str, torch.Tensor] = {}

        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            features = self.encode(image, taps)  # bf16 on the fast path; losses below in fp32
            losses["content"] = content_loss(features[opts.content_layer], content_target)
            losses["style"] = (style_loss(features, style_targets, style_weights, layer_weights, masks)
                               if style_targets else torch.zeros((), device=image.device))
            losses["tv"] = total_variation(image)
            losses["total"] = (opts.content_weight * losses["content"] + opts.style_weight * losses["style"]
                               + opts.tv_weight * losses["tv"])
            losses["total"].backward()
            return losses["total"]

        for _ in range(opts.iterations):
            optimizer.step(closure)
            with torch.no_grad():
                image.clamp_(0, 1)  # stay a valid image; the optimisers otherwise drift outside [0, 1]
            values = {name: float(value.detach()) for name, value in losses.items()}
            progress.update(1)
            progress.set_postfix({name: f"{value:.4g}" for name, value in values.items()}, refresh=False)
            if opts.callback is not None:
                opts.callback(step, values, image.detach())
            step += 1
        return image.detach().float(), step


def _progress_bar(opts: GatysOptions, sizes: list[tuple[int, int]], batch: int):
    from adain.core.progress import progress_bar

    label = " → ".join(f"{w}×{h}" for h, w in sizes)
    return progress_bar(opts.iterations * len(sizes), f"gatys {label}" + (f" ×{batch}" if batch > 1 else ""),
                        unit="it", disable=not opts.progress, leave=False)


CLI_OPTIONS = ("iterations", "optimizer", "content_weight", "style_weight", "tv_weight", "init", "scales", "seed")


def from_cli(args) -> tuple[GatysStylizer, dict]:
    """`adain stylize --method gatys`: the Stylizer and its per-image options from parsed flags."""
    options = {name: getattr(args, name) for name in CLI_OPTIONS if getattr(args, name, None) is not None}
    options["progress"] = not getattr(args, "no_progress", False)
    GatysOptions().updated(**options)  # a bad flag fails before the encoder loads
    stylizer = load_gatys(args.encoder, getattr(args, "pooling", None), args.device, args.precision,
                          getattr(args, "encoder_weights", None))
    return stylizer, options
