"""The AdaIN decoder: the mirror image of the encoder up to relu4_1.

Each encoder conv `conv{b}_{i}` (c_in → c_out) gets a decoder conv `dec{b}_{i}` (c_out → c_in),
in reverse order, with ×2 upsampling where the encoder pooled.  For VGG-19 with nearest-neighbour
upsampling that is exactly the decoder of Huang & Belongie (2017) and of the widely used PyTorch
port:

    dec4_1 512→256, up, dec3_4 256→256, dec3_3, dec3_2, dec3_1 256→128, up,
    dec2_2 128→128, dec2_1 128→64, up, dec1_2 64→64, dec1_1 64→3 (no ReLU on the last)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from adain.core.errors import UserError
from adain.nn.encoders import ARCHITECTURES, BLOCK_CHANNELS, layer_names
from adain.nn.layers import PADDING_MODES, Conv3x3
from adain.nn.skip_inputs import AffineSkip, RecomputedSkip, add_projection_
from adain.nn.weights import DECODER_METADATA_KEY, load_torch_file, numbered_convs, read_safetensors, save_shipped_weights

DECODER_TOP_TAP = "relu4_1"
# "nearest": the AdaIN release's decoder and the older decoders here.
# "bilinear": resize-convolution with a smooth resize (Odena, Dumoulin & Olah, "Deconvolution and
# checkerboard artifacts", Distill 2016): nearest ×2 copies each value into a 2×2 block, which the
# 3×3 convs that follow turn into patterns of period 2, 4 and 8 px (the grid score,
# adain.evaluation.artefacts); a bilinear resize has no such blocks.  Same weights, same size.
UPSAMPLE_MODES = ("nearest", "bilinear")
# The palette input: the AdaIN target t carries nothing of the style but its relu4_1
# channel statistics, and those predict the style image's RGB mean only to ~0.05 RMS (a
# cross-validated linear probe, docs/history.md), too coarse to pin the output's palette.
# A palette decoder is also given the style's RGB mean and std
# (6 numbers, or a map of them under masks) and modulates its last hidden layer with them.
PALETTE_INPUTS = 6
PALETTE_HIDDEN = 64
# Skip inputs: the decoder is also given the AdaIN targets of the shallower taps —
# the content's relu3_1 / relu2_1 / relu1_1 features normalised and given the style's statistics
# there — each added, through a 1×1 convolution that starts at zero, to the hidden map of the
# same resolution and width right after the upsampling that reaches it (relu{b}_1 has the width
# of dec{b+1}_1's output).  relu4_1 statistics alone blur the style's palette and leave the
# decoder to re-invent the content's edges from 1/8 resolution; the shallow targets carry both.
# Fixed input factors bring each tap to unit scale (vgg16-imagenet RMS on photos and paintings
# at 256 px: relu1_1 ~25–75, relu2_1 ~140–560, relu3_1 ~210–960).  At inference without masks the
# targets are never built: the AdaIN is folded into the projection and relu1_1 recomputed from the
# image (adain.nn.skip_inputs), so a skip decoder costs the plain decoder's memory.
SKIP_TAPS = ("relu3_1", "relu2_1", "relu1_1")  # in the order the decoder reaches them
SKIP_INPUT_SCALES = {"relu3_1": 1 / 1024, "relu2_1": 1 / 512, "relu1_1": 1 / 64}


def decoder_layers(arch: str) -> list[tuple[str, int, int]]:
    """[(name, in_channels, out_channels)] of the decoder for an encoder architecture."""
    encoder_convs = [name for name in layer_names(arch) if int(name[4]) <= 4]
    encoder_convs = encoder_convs[: encoder_convs.index("conv4_1") + 1]
    layers = []
    in_channels = {}
    channels = 3
    for name in encoder_convs:
        in_channels[name] = channels
        channels = BLOCK_CHANNELS[int(name[4]) - 1]
    for name in reversed(encoder_convs):
        out = BLOCK_CHANNELS[int(name[4]) - 1]
        layers.append((name.replace("conv", "dec"), out, in_channels[name]))
    return layers


class Decoder(nn.Module):
    """relu4_1 features (N, 512, h, w) → RGB image (N, 3, 8h, 8w), unclamped."""

    def __init__(self, arch: str = "vgg16", padding: str = "reflect", input_scale: float = 1.0,
                 upsample: str = "nearest", palette: bool = False, skips: tuple[str, ...] = ()):
        """`input_scale` multiplies the relu4_1 features on the way in (a fixed constant, not
        learned).  Kaiming initialisation assumes inputs of unit scale, and encoders differ by
        30×: relu4_1 of photos has an RMS of ~7–26 with vgg16-hed but ~240–750 with
        vgg16-imagenet, where a fresh decoder's activations start ~300× too large and training
        from scratch stalls at a flat grey image.  1/256 brings the ImageNet encoder's features to
        the scale the initialisation expects; 1 (the default) is every decoder trained before.
        `upsample`: one of UPSAMPLE_MODES; it has no weights, so a decoder trained with one mode
        can be fine-tuned with the other.
        `palette`: add the palette head (`add_palette_head`); forward then needs a palette.
        `skips`: taps of SKIP_TAPS to take as skip inputs (`add_skips`); forward then needs them."""
        super().__init__()
        if arch not in ARCHITECTURES:
            raise ValueError(f"decoder arch must be one of {list(ARCHITECTURES)}, got {arch!r}")
        if not input_scale > 0:
            raise ValueError(f"decoder input_scale must be positive, got {input_scale!r}")
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f"decoder upsample must be one of {UPSAMPLE_MODES}, got {upsample!r}")
        self.arch = arch
        self.padding = padding
        self.input_scale = float(input_scale)
        self.upsample = upsample
        self.convs = nn.ModuleDict(
            {name: Conv3x3(c_in, c_out, padding) for name, c_in, c_out in decoder_layers(arch)}
        )
        # Start the output near mid-grey.  With Kaiming init throughout, a fresh decoder puts out
        # values of ±10, which the encoder's 0–255 input scaling turns into losses ~100× their
        # trained size: the first hundreds of steps would only learn the output range.
        output_layer = self.convs[list(self.convs)[-1]]
        with torch.no_grad():
            output_layer.weight.mul_(0.02)
            output_layer.bias.fill_(0.5)
        self.palette_head: nn.Sequential | None = None
        if palette:
            self.add_palette_head()
        self.skip_proj = nn.ModuleDict()
        if skips:
            self.add_skips(skips)

    @property
    def skip_taps(self) -> tuple[str, ...]:
        """The taps this decoder takes as skip inputs, in SKIP_TAPS order (empty for most)."""
        return tuple(tap for tap in SKIP_TAPS if tap in self.skip_proj)

    def add_skips(self, taps) -> None:
        """Zero-initialised 1×1 projections (C → C) of the skip targets at `taps`: a trained
        decoder given them is unchanged until they learn."""
        unknown = sorted(set(taps) - set(SKIP_TAPS))
        if unknown:
            raise ValueError(f"decoder skips {unknown}: expected taps from {SKIP_TAPS}")
        first = next(self.parameters())
        projections = dict(self.skip_proj.items())
        for tap in taps:
            if tap not in projections:
                channels = BLOCK_CHANNELS[int(tap[4]) - 1]
                proj = nn.Conv2d(channels, channels, 1)
                nn.init.zeros_(proj.weight)
                nn.init.zeros_(proj.bias)
                projections[tap] = proj.to(first.device, first.dtype)
        # always in SKIP_TAPS order, whatever order `taps` came in: the parameter order is what
        # Adam's saved state is matched by on --resume (a checkpoint loads its taps sorted)
        self.skip_proj = nn.ModuleDict({tap: projections[tap] for tap in SKIP_TAPS if tap in projections})

    def add_palette_head(self) -> None:
        """FiLM (Perez et al. 2018) of the last hidden layer h (N, 64, H, W) by the palette p:
        h ← h·(1 + γ(p)) + β(p), with γ, β from a two-layer 1×1-conv net of p (N, 6, h', w').
        Its last layer starts at zero, so a trained decoder given a head is unchanged until the
        head learns: fine-tuning starts from the decoder's own outputs."""
        hidden = decoder_layers(self.arch)[-1][1]  # the output conv's input channels (64)
        head = nn.Sequential(nn.Conv2d(PALETTE_INPUTS, PALETTE_HIDDEN, 1), nn.ReLU(),
                             nn.Conv2d(PALETTE_HIDDEN, 2 * hidden, 1))
        nn.init.zeros_(head[2].weight)
        nn.init.zeros_(head[2].bias)
        first = next(self.parameters())
        self.palette_head = head.to(first.device, first.dtype)

    def forward(self, feat: torch.Tensor, palette: torch.Tensor | None = None,
                skips: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """`palette`: (N|1, 6, 1, 1) or a map (N, 6, h, w) at the features' resolution
        (adain.nn.functional.palette_map); needed by a decoder with a palette head, ignored otherwise.
        `skips`: {tap: (N, C, 8h/2^k, 8w/2^k)} AdaIN targets at this decoder's skip taps (relu3_1
        at 2× the relu4_1 size, relu2_1 at 4×, relu1_1 at 8×), or at inference the same in folded
        form (adain.nn.skip_inputs: AffineSkip, RecomputedSkip), which is taken out of the dict once
        added, so that its map is freed before the next resolution; ignored by a decoder without
        skips."""
        if self.palette_head is not None and palette is None:
            raise ValueError("this decoder has a palette input: pass palette= (adain.nn.functional.palette_map)")
        missing = [tap for tap in self.skip_taps if skips is None or tap not in skips]
        if missing:
            raise ValueError(f"this decoder has skip inputs: pass skips= with {missing}")
        x = feat * self.input_scale if self.input_scale != 1.0 else feat
        names = list(self.convs)
        for name in names:
            if name == names[-1] and self.palette_head is not None:
                film = self.palette_head(palette.to(x.dtype))  # (N|1, 128, h', w'): γ, β
                if self._can_fold(film):
                    return self._modulated_output(x, film)
                x = self._modulate(x, film)
            x = self.convs[name](x)
            if name == names[-1]:
                break  # the output layer has no ReLU
            x = x.relu_()  # in place on the conv's fresh output: one full-size map less at the peak
            block, index = int(name[3]), int(name[5])
            if index == 1 and block > 1:  # the encoder pooled before conv{block}_1
                x = upsample2x(x, self.upsample)
                tap = f"relu{block - 1}_1"  # the encoder's last tap at the resolution just reached
                if tap in self.skip_proj:
                    if isinstance(skips[tap], (AffineSkip, RecomputedSkip)):
                        x = add_projection_(x, self.skip_proj[tap], skips.pop(tap), SKIP_INPUT_SCALES[tap])
                    else:
                        x = x + self.skip_proj[tap](skips[tap].to(x.dtype) * SKIP_INPUT_SCALES[tap])
        return x

    def _can_fold(self, film: torch.Tensor) -> bool:
        """Whether the FiLM can be folded into the output convolution (`_modulated_output`): at
        inference, with one γ, β per image (no masks), and reflection padding — which pads h·(1 + γ)
        + β with the same per-channel map, so the fold is exact (zero padding would not be)."""
        return film.shape[-2:] == (1, 1) and not torch.is_grad_enabled() and self.padding == "reflect"

    def _modulated_output(self, hidden: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        """The output convolution of the FiLM-ed hidden map, (N, 64, H, W) → (N, 3, H, W), without
        the FiLM-ed map: W ∗ (h·(1 + γ) + β) = (W·diag(1 + γ)) ∗ h + (b + Σ W·β) per image — two
        full-resolution passes and a 64-channel temporary less."""
        output = self.convs[list(self.convs)[-1]]
        gamma, beta = film.float().flatten(1).chunk(2, dim=1)  # (N|1, 64) each
        weight, bias = output.weight.float(), output.bias.float()  # (3, 64, 3, 3), (3,)
        images = []
        for sample in range(hidden.shape[0]):
            k = sample if film.shape[0] > 1 else 0
            folded_weight = (weight * (1 + gamma[k]).view(1, -1, 1, 1)).to(hidden.dtype)
            folded_bias = (bias + weight.sum(dim=(2, 3)) @ beta[k]).to(hidden.dtype)
            images.append(output.with_weights(hidden[sample:sample + 1], folded_weight, folded_bias))
        return torch.cat(images) if len(images) > 1 else images[0]

    def _modulate(self, hidden: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        """(N, 64, H, W) → the same, FiLM-ed by the palette head's output `film` (N|1, 128, h', w').
        A map's γ, β are resized bilinearly to (H, W): each output pixel mixes the cells within one
        of its own, inside the tiling halo."""
        if film.shape[-2:] != (1, 1):
            film = F.interpolate(film, size=hidden.shape[-2:], mode="bilinear", align_corners=False)
        gamma, beta = film.chunk(2, dim=1)
        return hidden * (1 + gamma) + beta

    def config(self) -> dict:
        config = {"arch": self.arch, "padding": self.padding}
        if self.input_scale != 1.0:  # the description keeps only what differs from the defaults
            config["input_scale"] = self.input_scale
        if self.upsample != "nearest":  # likewise
            config["upsample"] = self.upsample
        if self.palette_head is not None:
            config["palette"] = True
        if self.skip_taps:
            config["skips"] = list(self.skip_taps)
        return config


def upsample2x(x: torch.Tensor, mode: str) -> torch.Tensor:
    """(N, C, h, w) → (N, C, 2h, 2w).  Bilinear uses half-pixel centres (align_corners=False):
    output pixel p samples input position (p + ½) / 2 − ½, so it mixes inputs ⌊(p − 1) / 2⌋ and
    ⌊(p + 1) / 2⌋ and the edges are clamped (adain.inference.tiling's halo counts this)."""
    if mode == "nearest":
        return F.interpolate(x, scale_factor=2, mode="nearest")
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def save_decoder(decoder, path: str | os.PathLike, metadata: dict) -> None:
    """Ship a decoder (see save_shipped_weights); the description records its architecture."""
    save_shipped_weights(decoder, path, {**metadata, "decoder": decoder.config()})


def _decoder_from_state(state: dict[str, torch.Tensor], source: str, arch: str | None, padding: str,
                        input_scale: float = 1.0, upsample: str = "nearest", palette: bool | None = None,
                        skips: list[str] | None = None):
    """`palette`, `skips`: what the description says (None: it says nothing, as before palette
    and skip decoders existed); a description and tensors that disagree are refused rather than
    loaded as a different network."""
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
        convs = numbered_convs(state)
    if arch is None:
        arch = {len(decoder_layers("vgg19")): "vgg19", len(decoder_layers("vgg16")): "vgg16"}.get(len(convs))
    if arch is None:
        raise UserError(f"{source}: found {len(convs)} convolutions; expected 9 (VGG-19) or 8 (VGG-16) decoder layers")
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
    if head:  # a palette decoder (adain.nn.decoder.Decoder.add_palette_head)
        decoder.add_palette_head()
        expected = {key: tuple(value.shape) for key, value in decoder.palette_head.state_dict().items()}
        if {key: tuple(value.shape) for key, value in head.items()} != expected:
            raise UserError(f"{source}: palette head tensors {sorted(head)} do not match {expected}")
        decoder.palette_head.load_state_dict({key: value.float() for key, value in head.items()})
    if skip_taps:  # a skip decoder (adain.nn.decoder.Decoder.add_skips)
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
            return decoder_from_checkpoint(state, str(path))
    return _decoder_with_metadata(state, metadata, str(path))


def decoder_from_checkpoint(state: dict, name: str):
    """(Decoder, metadata) from a loaded training checkpoint — or any dict of the same form: the
    tensors under "decoder", the architecture under "decoder_config" (written by the training
    objective; older checkpoints: the run's "config")."""
    model_config = state.get("config", {}).get("model", {})
    # the architecture as trained (checkpoint_extras), else the run's padding setting
    spec = state.get("decoder_config") or {"padding": model_config.get("decoder_padding", "reflect"),
                                           "input_scale": model_config.get("decoder_input_scale", 1.0),
                                           "upsample": model_config.get("decoder_upsample") or "nearest"}
    metadata = {"encoder": model_config.get("encoder"), "step": state.get("step"), "decoder": dict(spec)}
    metadata = {k: v for k, v in metadata.items() if v is not None}
    return _decoder_with_metadata(state["decoder"], metadata, name)


def _decoder_with_metadata(state: dict, metadata: dict, name: str):
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{name}: no decoder tensors found")
    spec = metadata.get("decoder", {})
    decoder = _decoder_from_state(state, name, spec.get("arch"), spec.get("padding", "reflect"),
                                  spec.get("input_scale", 1.0), spec.get("upsample", "nearest"),
                                  spec.get("palette"), spec.get("skips"))
    metadata.setdefault("encoder", "vgg19-normalised" if decoder.arch == "vgg19" else "vgg16-hed")
    return decoder, metadata
