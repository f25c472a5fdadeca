"""The AdaIN network: encode → transfer statistics → decode.

    model = AdaINModel(encoder, decoder)
    style = model.style_stats(style_rgb)               # once per style, reused for any content
    out = model(content_rgb, [style], alpha=0.8)       # (N, 3, H, W), same size as the content

Every caller that decodes (this forward pass, adain.inference.tiling, the training objective,
the reconstruction measure) builds the decoder's inputs with `AdaINModel.decoder_inputs`.

Inputs are RGB in [0, 1].  Images of any size are reflection-padded to a multiple of 8 (the
encoder's total stride at relu4_1) and the output is cropped back, so it has the content's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from adain.core.errors import UserError
from adain.nn import functional as AF
from adain.nn.decoder import DECODER_TOP_TAP, Decoder
from adain.nn.encoders import VGGEncoder
from adain.nn.skip_inputs import RECOMPUTED_TAP, AffineSkip, RecomputedSkip, adain_affine

STRIDE = 8  # relu4_1 is three poolings deep


@dataclass
class DecoderInputs:
    """What the decoder takes for a batch of N images whose relu4_1 map is (h, w)."""

    target: torch.Tensor  # (N, 512, h, w) float32: the AdaIN target at relu4_1
    palette: torch.Tensor | None = None  # palette decoders: (N, 6, 1, 1), or (N, 6, h, w) under masks
    # skip decoders: {tap: (N, C, 2^k·h, 2^k·w) target map, or its folded AffineSkip/RecomputedSkip}
    skips: dict[str, torch.Tensor | AffineSkip | RecomputedSkip] | None = None


def pad_to_multiple(image: torch.Tensor, multiple: int = STRIDE) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflection-pad (N, C, H, W) on the bottom/right to multiples of `multiple`; also return (H, W)."""
    height, width = image.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h or pad_w:
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        image = F.pad(image, (0, pad_w, 0, pad_h), mode=mode)
    return image, (height, width)


class AdaINModel(nn.Module):
    """Frozen encoder + AdaIN + decoder.  Only the decoder has trainable parameters."""

    def __init__(self, encoder: VGGEncoder, decoder: Decoder):
        super().__init__()
        if encoder.spec.arch != decoder.arch:
            raise UserError(
                f"decoder was built for a {decoder.arch} encoder, but the encoder {encoder.spec.name!r} is {encoder.spec.arch}"
            )
        self.encoder = encoder
        self.decoder = decoder
        # NHWC is what oneDNN (AMX) and cuDNN are fast with; the benchmark's plain reference
        # turns it off.
        self.memory_format = torch.channels_last

    @property
    def dtype(self) -> torch.dtype:
        return next(self.decoder.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.decoder.parameters()).device

    def network_input(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB on the model's device, in its dtype and memory format; a no-op on a tensor that is
        already there (a caller converting once can hand it to both the encoder and `skip_inputs`)."""
        if self.device.type == "cuda" and rgb.device.type == "cpu":
            rgb = rgb.pin_memory()  # page-locked, so the copy below is asynchronous
        return rgb.to(self.device, self.dtype, non_blocking=True).contiguous(memory_format=self.memory_format)

    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) RGB → relu4_1 features (N, 512, H/8, W/8) in the model's dtype."""
        return self.encoder(self.network_input(rgb), taps=(DECODER_TOP_TAP,))[DECODER_TOP_TAP]

    @property
    def skip_taps(self) -> tuple[str, ...]:
        """The shallower taps the decoder takes as skip inputs (adain.nn.decoder.Decoder.add_skips)."""
        return tuple(getattr(self.decoder, "skip_taps", ()))

    def encode_all(self, rgb: torch.Tensor, summarise: dict[str, Callable] | None = None,
                   with_top: bool = True) -> dict:
        """(N, 3, H, W) RGB → {relu4_1: (N, 512, H/8, W/8), skip tap: (N, C, H/2^k, W/2^k)}; the
        taps in `summarise` give what its function returns of their map instead (VGGEncoder.forward),
        their maps freed at once.  `with_top=False`: the skip taps only, the encoder stopping at
        the deepest of them (a tile whose relu4_1 cells pass 1 kept: adain.inference.tiling)."""
        taps = (*self.skip_taps, DECODER_TOP_TAP) if with_top else self.skip_taps
        return self.encoder(self.network_input(rgb), taps=taps, summarise=summarise)

    def folded_skip_taps(self, masks: torch.Tensor | None) -> tuple[str, ...]:
        """The skip taps whose content map the encoder need not keep (`skip_inputs` recomputes it):
        relu1_1 where the inputs can be folded (no masks), none otherwise."""
        return (RECOMPUTED_TAP,) if masks is None and RECOMPUTED_TAP in self.skip_taps else ()

    def style_stats(self, style_rgb: torch.Tensor) -> AF.FeatureStats:
        """(N, 3, H, W) style image(s) → relu4_1 mean/std, each (N, 512, 1, 1) float32, with the
        image's RGB mean/std as `palette` (each (N, 3, 1, 1)) for palette decoders and the
        statistics at the skip taps as `skips` for skip decoders."""
        feats = self.encode_all(style_rgb)
        stats = AF.mean_std(feats[DECODER_TOP_TAP])
        palette = AF.mean_std(style_rgb.to(stats.mean.device, torch.float32))
        skips = {tap: AF.mean_std(feats[tap]) for tap in self.skip_taps} or None
        return AF.FeatureStats(stats.mean, stats.std, palette, skips)

    @property
    def takes_palette(self) -> bool:
        """Whether the decoder has a palette input (adain.nn.decoder.Decoder.add_palette_head)."""
        return getattr(self.decoder, "palette_head", None) is not None

    def palette(self, styles: Sequence[AF.FeatureStats], content_palette: AF.FeatureStats | None,
                size: tuple[int, int], weights: Sequence[float] | None = None, masks: torch.Tensor | None = None,
                alpha: float = 1.0) -> torch.Tensor | None:
        """The decoder's palette input for features of `size` (adain.nn.functional.palette_map), or
        None for a decoder without one.  `content_palette`: the content's RGB mean/std."""
        if not self.takes_palette:
            return None
        return AF.palette_map(styles, content_palette, size, weights, masks, alpha)

    def transfer(
        self,
        content_feat: torch.Tensor,
        styles: Sequence[AF.FeatureStats],
        weights: Sequence[float] | None = None,
        masks: torch.Tensor | None = None,
        alpha: float = 1.0,
        content_stats: Sequence[AF.FeatureStats] | None = None,
    ) -> torch.Tensor:
        """AdaIN target t in feature space, float32 (N, 512, h, w).

        One style: plain AdaIN.  Several styles with `masks` (N, K, H, W): each region its own
        style.  Several styles without masks: interpolation with `weights` (normalised).
        `content_stats`: the content statistics to normalise with (one per mask region, or one
        without masks) when `content_feat` is a tile of a larger image (adain.inference.tiling).
        """
        if not styles:
            raise UserError("styles: at least one style is needed")
        if masks is not None:
            target = AF.masked_adain(content_feat, styles, masks, region_stats=content_stats)
        else:
            weights = AF.normalise_weights(weights, len(styles))
            target = AF.adain(content_feat, AF.blend_stats(styles, weights) if len(styles) > 1 else styles[0],
                              content_stats=content_stats[0] if content_stats is not None else None)
        return AF.mix_content(target, content_feat, alpha)

    def skip_targets(self, content_feats: dict[str, torch.Tensor], styles: Sequence[AF.FeatureStats],
                     weights: Sequence[float] | None = None, masks: torch.Tensor | None = None,
                     alpha: float = 1.0, content_stats: Sequence[AF.FeatureStats] | None = None,
                     tap_masks: dict[str, torch.Tensor] | None = None,
                     consume: bool = False) -> dict[str, torch.Tensor] | None:
        """The skip decoder's inputs: at each skip tap, the AdaIN target built as `transfer`
        builds relu4_1's (weights, masks area-averaged to the tap's size, α), float32; None for a
        decoder without skips.  `content_stats`: as `transfer`'s, their `skips` holding each
        tap's (a tile of a larger image, smoothed video statistics); `tap_masks`: the masks
        already at each tap's size (a tile's crop of them), instead of `masks`.  `consume`: the
        caller hands over `content_feats`' skip maps (removed from the dict), so that each is
        freed once its target is built.  Without masks `skip_inputs` costs less."""
        if not self.skip_taps:
            return None
        if any(s.skips is None for s in styles):
            raise UserError("skip decoder: a style's statistics carry no skip statistics; compute them with "
                            "AdaINModel.style_stats")
        targets = {}
        for tap in self.skip_taps:
            region_stats = [stats.skips[tap] for stats in content_stats] if content_stats is not None else None
            tap_mask = tap_masks[tap] if tap_masks is not None else masks
            style_stats = [s.skips[tap] for s in styles]
            targets[tap] = self.transfer(content_feats[tap], style_stats, weights, tap_mask, alpha, region_stats)
            if consume:
                del content_feats[tap]
        return targets

    def skip_inputs(self, content_feats: dict[str, torch.Tensor | AF.FeatureStats], image: torch.Tensor,
                    styles: Sequence[AF.FeatureStats], weights: Sequence[float] | None = None,
                    alpha: float = 1.0, content_stats: Sequence[AF.FeatureStats] | None = None,
                    offset: tuple[int, int] = (0, 0)) -> dict[str, AffineSkip | RecomputedSkip] | None:
        """`skip_targets` without masks, in the folded form that costs no target maps
        (adain.nn.skip_inputs): the same decoder output, within float rounding.

        `content_feats`: as `encode_all` gave them, relu1_1 as its map or its statistics
        (`folded_skip_taps` summarised by `encode_all`); the maps are taken out of the dict.
        `image`: (N, 3, H, W) RGB the encoder was given (relu1_1 is recomputed from it; pass it
        through `network_input` once for both); `offset`: (top, left) in it of the pixels the
        decoder produces (a tile's decoded cells inside its crop).  `content_stats`: as
        `skip_targets`'."""
        if not self.skip_taps:
            return None
        if any(s.skips is None for s in styles):
            raise UserError("skip decoder: a style's statistics carry no skip statistics; compute them with "
                            "AdaINModel.style_stats")
        normalised = AF.normalise_weights(weights, len(styles))
        inputs = {}
        for tap in self.skip_taps:
            feat = content_feats.pop(tap, None)  # a tile's relu1_1 need not be there at all
            if content_stats is not None:
                own = content_stats[0].skips[tap]
            else:
                own = feat if isinstance(feat, AF.FeatureStats) else AF.mean_std(feat)
            style_stats = [s.skips[tap] for s in styles]
            target = AF.blend_stats(style_stats, normalised) if len(styles) > 1 else style_stats[0]
            scale, shift = adain_affine(own, target, alpha)
            if tap == RECOMPUTED_TAP:
                inputs[tap] = RecomputedSkip.of_image(self.encoder, self.network_input(image), scale, shift, *offset)
            else:
                inputs[tap] = AffineSkip(feat, scale, shift)
        return inputs

    def decoder_inputs(
        self,
        content_feats: dict[str, torch.Tensor | AF.FeatureStats],
        styles: Sequence[AF.FeatureStats] | None,
        weights: Sequence[float] | None = None,
        masks: torch.Tensor | None = None,
        alpha: float = 1.0,
        content_stats: Sequence[AF.FeatureStats] | None = None,
        content_palette: AF.FeatureStats | None = None,
        image: torch.Tensor | None = None,
        offset: tuple[int, int] = (0, 0),
        tap_masks: dict[str, torch.Tensor] | None = None,
    ) -> DecoderInputs:
        """The decoder's inputs for content features and styles: the one place they are built.

        `content_feats`: `encode_all`'s dict, relu4_1 and the skip taps (maps, or the statistics
        of the taps `folded_skip_taps` names); its maps are taken out of it, so that each can be
        freed once used.  `styles`: `style_stats` of each style (its palette and skip statistics
        included), with `weights` / `masks` / `alpha` / `content_stats` as `transfer` takes them;
        None for a reconstruction: the content's own features and palette (AdaIN of the content
        to itself gives the content back).  `content_palette`: the content's RGB statistics (the
        palette where α < 1, under masks, and for a reconstruction).  `image` (N, 3, H, W), the
        encoder's input, lets skip inputs fold without masks (`skip_inputs`; `offset` as there);
        `tap_masks`: masks already at each skip tap's size (a tile's crop of them).
        """
        feat = content_feats.pop(DECODER_TOP_TAP)
        if styles is None:
            skips = {tap: content_feats.pop(tap) for tap in self.skip_taps} or None
            palette = AF.palette_vector(content_palette) if self.takes_palette else None
            return DecoderInputs(feat, palette, skips)
        target = self.transfer(feat, styles, weights, masks, alpha, content_stats)
        del feat
        if masks is None and tap_masks is None and image is not None:
            skips = self.skip_inputs(content_feats, image, styles, weights, alpha, content_stats, offset)
        else:
            skips = self.skip_targets(content_feats, styles, weights, masks, alpha, content_stats, tap_masks,
                                      consume=True)
        palette = self.palette(styles, content_palette, target.shape[-2:], weights, masks, alpha)
        return DecoderInputs(target, palette, skips)

    def decode(self, inputs: DecoderInputs, network: nn.Module | None = None) -> torch.Tensor:
        """DecoderInputs (relu4_1 map (N, 512, h, w)) → (N, 3, 8h, 8w) RGB, unclamped, float32.
        `network`: the module to run instead of `self.decoder` (training's DDP/compiled wrapper
        of it).  The skip maps are taken out of `inputs`: the decoder frees each once added."""
        feat = inputs.target.to(self.dtype).contiguous(memory_format=self.memory_format)
        extra = {}
        if inputs.palette is not None:
            extra["palette"] = inputs.palette.to(feat.device)
        if inputs.skips is not None:
            extra["skips"] = {tap: x.to(self.dtype).contiguous(memory_format=self.memory_format)
                              if isinstance(x, torch.Tensor) else x for tap, x in inputs.skips.items()}
            inputs.skips.clear()
        return (network or self.decoder)(feat, **extra).float()

    def forward(
        self,
        content_rgb: torch.Tensor,
        styles: Sequence[AF.FeatureStats],
        weights: Sequence[float] | None = None,
        masks: torch.Tensor | None = None,
        alpha: float = 1.0,
        content_stats_hook: Callable[[list[AF.FeatureStats]], list[AF.FeatureStats]] | None = None,
    ) -> torch.Tensor:
        """Stylise (N, 3, H, W) content with precomputed style statistics → (N, 3, H, W), unclamped.

        `masks`, if given, is (N, K, H, W) at the content's resolution.  `content_stats_hook`
        receives the content statistics (`content_stats`) and returns those to normalise with
        (video: smoothed across frames, adain.inference.video).
        """
        padded, (height, width) = pad_to_multiple(content_rgb)
        if masks is not None:
            masks, _ = pad_to_multiple(masks.to(padded.device))
        padded = self.network_input(padded)  # once: the encoder and relu1_1's recomputation both read it
        content_feats = self.encode_all(padded, {tap: AF.mean_std for tap in self.folded_skip_taps(masks)})
        content_stats = None
        if content_stats_hook is not None:
            content_stats = content_stats_hook(self.content_stats(content_feats[DECODER_TOP_TAP], masks, content_feats))
        content_palette = None  # the content's own colours: of the image, not its reflected padding
        if self.takes_palette and AF.palette_needs_content(masks, alpha):
            content_palette = AF.mean_std(content_rgb.to(padded.device, torch.float32))
        inputs = self.decoder_inputs(content_feats, styles, weights, masks, alpha, content_stats, content_palette,
                                     image=padded)
        return self.decode(inputs)[..., :height, :width]

    def content_stats(self, content_feat: torch.Tensor, masks: torch.Tensor | None = None,
                      content_feats: dict[str, torch.Tensor] | None = None) -> list[AF.FeatureStats]:
        """The statistics `transfer` normalises with: one FeatureStats (N, C, 1, 1) without masks,
        one per mask region (weighted by the mask at the features' size) with them; for a skip
        decoder each also holds the statistics at its skip taps (`skips`), from `content_feats`
        (their maps, or the statistics `encode_all` gave instead of a map)."""
        stats = region_stats(content_feat, masks)
        if not self.skip_taps or content_feats is None:
            return stats
        at_taps = {tap: [content_feats[tap]] if isinstance(content_feats[tap], AF.FeatureStats)
                   else region_stats(content_feats[tap], masks) for tap in self.skip_taps}
        return [AF.FeatureStats(s.mean, s.std, s.palette, {tap: at_taps[tap][k] for tap in self.skip_taps})
                for k, s in enumerate(stats)]


def region_stats(feat: torch.Tensor, masks: torch.Tensor | None = None) -> list[AF.FeatureStats]:
    """[mean_std of `feat`] without masks; one per region of masks (N, K, H, W), weighted by the
    mask area-averaged to the features' size, with them."""
    if masks is None:
        return [AF.mean_std(feat)]
    cells = F.interpolate(masks.float(), size=feat.shape[-2:], mode="area")
    return [AF.mean_std(feat, weight=cells[:, k:k + 1]) for k in range(cells.shape[1])]
