"""What each method trains, and how: the method-specific half of `adain.train.loop.run`.

The training loop (data, optimiser, schedule, checkpoints, resume, tracking, validation, DDP) is
the same for every method; an objective supplies the rest:

    network            the nn.Module that gets gradients (saved under `network_key`)
    losses(...)        {"loss": total, "loss_<term>": detached term, ...} of one batch
    output(...)        one stylised validation image (scored against its style by the loop)
    sample_rows(...)   the rows of the training sample grid
    checkpoint_extras  what else a checkpoint stores to rebuild the network

    AdaINObjective    Huang & Belongie (2017): a decoder for every style, content/style batches.
    JohnsonObjective  Johnson et al. (2016), in adain.methods.johnson.objective: one transformation
                      network for one style, content batches only, Gram style loss.

Selected by `cfg.method` through `build_objective`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from adain.core.errors import UserError
from adain.inference.supersample import SUPERSAMPLE_FACTORS
from adain.methods.johnson.objective import JohnsonObjective
from adain.nn import functional as AF
from adain.nn.decoder import UPSAMPLE_MODES, Decoder, decoder_from_checkpoint, load_decoder
from adain.nn.encoders import CONTENT_TAP, STYLE_TAPS, VGGEncoder
from adain.nn.losses.training import (colour_stats_loss, content_loss, relative_content_loss,
                                      relative_feature_loss, relative_style_stats_loss, sliced_wasserstein_loss,
                                      structure_loss, style_stats_loss, texture_floor_loss)
from adain.nn.model import AdaINModel
from adain.nn.weights import load_torch_file
from adain.train.config import TrainConfig
from adain.train.data import list_images


def train_step(model: AdaINModel, decoder, content: torch.Tensor, style: torch.Tensor,
               cfg: TrainConfig, autocast, teacher: AdaINModel | None = None) -> dict[str, torch.Tensor]:
    """AdaIN losses of one batch; `decoder` is the (possibly DDP/compiled) module that gets gradients.

        t = AdaIN(φ₄(c), φ₄(s))                      (B, 512, S/8, S/8)
        loss = w_c·‖φ₄(g(t)) − t‖² + λ·Σ_l ‖μ,σ(φ_l(g(t))) − μ,σ(φ_l(s))‖²  [+ w_id · identity]
                                                                 [+ w_col · ‖μ,σ(g(t)) − μ,σ(s)‖²]
                                                                 [+ w_st · Σ_l ‖n(φ_l(g(t))) − n(φ_l(c))‖²]
                                                                 [+ w_sw · Σ_l SW₂²(φ_l(g(t)), φ_l(s)) / E[φ_l(s)²]]
                                                                 [+ w_tf · texture floor(φ_l(g(t)), φ_l(s))]
                                                                 [+ w_d · distillation(g(t), teacher)]

    each term divided by its target's energy when cfg.optim.loss_scale is "relative"; g(t) clamped
    to [0, 1] before it is scored when cfg.optim.clamp_output.  The identity term (OptimConfig)
    decodes the content's own features; with w_c = λ = 0 it is the only term and no style is encoded.
    With optim.content_luma the content term compares lightness only: ‖φ₄(grey(g(t))) − AdaIN(φ₄(grey(c)),
    φ₄(grey(s)))‖², so that the photo's colours are no target.
    n is instance normalisation (adain.nn.losses.training.structure_loss) at optim.structure_taps; SW₂ the
    sliced Wasserstein distance at optim.sw_taps ("rgb": the pixels themselves); the texture floor
    (`texture_floor_loss`) the style's texture energy in every window at optim.texture_floor_taps; the distillation
    term (`distillation_loss`) needs `teacher`, the frozen model whose supersampled output g(t) must match.
    """
    optim = cfg.optim
    relative = optim.loss_scale == "relative"
    stylise = optim.content_weight > 0 or optim.style_weight > 0 or optim.distil_weight > 0
    encoder = model.encoder
    structure_taps = tuple(optim.structure_taps) if optim.structure_weight > 0 else ()
    sw_taps = tuple(tap for tap in optim.sw_taps if tap != "rgb") if optim.sw_weight > 0 else ()
    floor_taps = tuple(optim.texture_floor_taps) if optim.texture_floor_weight > 0 else ()
    zero = torch.zeros((), device=content.device)
    losses: dict[str, torch.Tensor] = {}
    total = zero
    with autocast:
        with torch.no_grad():
            content_taps = STYLE_TAPS if optim.identity_weight > 0 else (CONTENT_TAP,)
            content_feats = encoder(content, taps=tuple(dict.fromkeys([*content_taps, *structure_taps,
                                                                       *model.skip_taps])))
        if stylise:
            with torch.no_grad():
                style_feats = encoder(style, taps=tuple(dict.fromkeys([*STYLE_TAPS, *sw_taps, *floor_taps])))
                style_stats = {tap: AF.mean_std(style_feats[tap]) for tap in STYLE_TAPS}
                # each content with its own style (batches are pairs): one FeatureStats of N styles
                styles = [AF.FeatureStats(style_stats[CONTENT_TAP].mean, style_stats[CONTENT_TAP].std,
                                          AF.mean_std(style.float()),
                                          {tap: style_stats[tap] for tap in model.skip_taps} or None)]
                # target (B, 512, S/8, S/8) fp32; a skip decoder's shallow targets at each skip tap
                inputs = model.decoder_inputs(dict(content_feats), styles)
                target = inputs.target
            output = model.decode(inputs, network=decoder)
            if optim.clamp_output:  # as delivered; a saturated pixel gets no gradient
                output = output.clamp(0, 1)
            output_feats = encoder(output, taps=tuple(dict.fromkeys([*STYLE_TAPS, *structure_taps, *sw_taps,
                                                                   *floor_taps])))
            loss_c = content_term(encoder, output, output_feats, target, content, style, optim)
            loss_s = (relative_style_stats_loss if relative else style_stats_loss)(output_feats, style_stats)
            total = total + optim.content_weight * loss_c + optim.style_weight * loss_s
            losses.update(loss_content=loss_c.detach(), loss_style=loss_s.detach())
            if optim.colour_weight > 0:
                loss_colour = colour_stats_loss(output, style, optim.colour_std_weight)
                total = total + optim.colour_weight * loss_colour
                losses.update(loss_colour=loss_colour.detach())
            if optim.structure_weight > 0:
                loss_structure = structure_loss(output_feats, content_feats, structure_taps)
                total = total + optim.structure_weight * loss_structure
                losses.update(loss_structure=loss_structure.detach())
            if optim.sw_weight > 0:
                pairs = [(output, style) if tap == "rgb" else (output_feats[tap], style_feats[tap]) for tap in optim.sw_taps]
                loss_sw = sum(sliced_wasserstein_loss(out, ref, optim.sw_projections) for out, ref in pairs)
                total = total + optim.sw_weight * loss_sw
                losses.update(loss_sw=loss_sw.detach())
            if optim.texture_floor_weight > 0:
                loss_floor = texture_floor_loss(output_feats, style_feats, optim.texture_floor_taps,
                                                optim.texture_floor_window, optim.texture_floor_quantile,
                                                output.shape[-1])
                total = total + optim.texture_floor_weight * loss_floor
                losses.update(loss_texture_floor=loss_floor.detach())
            if optim.distil_weight > 0:
                loss_distil = distillation_loss(output, output_feats, teacher, content, styles, optim.distil_factor,
                                                optim.distil_pixel_weight)
                total = total + optim.distil_weight * loss_distil
                losses.update(loss_distil=loss_distil.detach())
        if optim.identity_weight > 0:  # the content's own features, skips and palette
            inputs = model.decoder_inputs(dict(content_feats), None, content_palette=AF.mean_std(content.float()))
            reconstruction = model.decode(inputs, network=decoder)  # (B, 3, S, S)
            loss_feat = relative_feature_loss(encoder(reconstruction, taps=STYLE_TAPS), content_feats)
            loss_pixel = (reconstruction.float() - content.float()).abs().mean()
            total = total + optim.identity_weight * (loss_feat + optim.identity_pixel_weight * loss_pixel)
            losses.update(loss_identity_feature=loss_feat.detach(), loss_identity_pixel=loss_pixel.detach())
    losses.setdefault("loss_content", zero)
    losses.setdefault("loss_style", zero)
    return {"loss": total, **losses}


def content_term(encoder: VGGEncoder, output: torch.Tensor, output_feats: dict[str, torch.Tensor],
                 target: torch.Tensor, content: torch.Tensor, style: torch.Tensor, optim) -> torch.Tensor:
    """The content term of `train_step`: φ₄(g(t)) (in `output_feats`) against the AdaIN target t
    (B, 512, S/8, S/8); with optim.content_luma, lightness only — φ₄ of the grey output against
    AdaIN of the grey photo's relu4_1 with the grey style's statistics, so that the photo's colours
    are no target.  Relative or raw MSE as optim.loss_scale says."""
    measure = relative_content_loss if optim.loss_scale == "relative" else content_loss
    if not optim.content_luma:
        return measure(output_feats, target)
    with torch.no_grad():
        grey_content = encoder(to_grey(content), taps=(CONTENT_TAP,))[CONTENT_TAP]
        grey_style = AF.mean_std(encoder(to_grey(style), taps=(CONTENT_TAP,))[CONTENT_TAP])
        grey_target = AF.adain(grey_content, grey_style)  # (B, 512, S/8, S/8)
    return measure(encoder(to_grey(output), taps=(CONTENT_TAP,)), grey_target)


def to_grey(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB → (N, 3, H, W) float32, its luminance Y (adain.nn.functional.luminance) in all
    three channels."""
    return AF.luminance(rgb).expand(-1, 3, -1, -1)


def distillation_loss(output: torch.Tensor, output_feats: dict[str, torch.Tensor], teacher: AdaINModel,
                      content: torch.Tensor, styles: list[AF.FeatureStats], factor: int,
                      pixel_weight: float = 1.0) -> torch.Tensor:
    """How far the output (B, 3, S, S) is from the teacher's supersampled stylisation T of the same
    content and styles: the content enlarged `factor`× (bicubic), stylised by `teacher`, reduced to
    S × S (bilinear, antialiased) — adain.inference.supersample's arithmetic.  Relative feature
    distance at relu1_1…relu4_1 plus `pixel_weight` × the mean absolute pixel difference; T
    carries no gradient."""
    from adain.inference.supersample import enlarge, reduce_to

    with torch.no_grad():
        big = enlarge(content, factor)
        feats = teacher.encoder(big.contiguous(memory_format=torch.channels_last),
                                taps=(CONTENT_TAP, *teacher.skip_taps))
        target = teacher.decode(teacher.decoder_inputs(feats, styles)).clamp(0, 1)  # (B, 3, fS, fS)
        target = reduce_to(target, output.shape[-2:])
        target_feats = teacher.encoder(target.contiguous(memory_format=torch.channels_last), taps=STYLE_TAPS)
    loss = relative_feature_loss(output_feats, target_feats)
    if pixel_weight:
        loss = loss + pixel_weight * (output.float() - target).abs().mean()
    return loss


# A distilling run's checkpoints carry their teacher under this key, so that a run resumed from one
# (on another machine, from a slim copy) keeps the teacher it started with.
DISTIL_TEACHER_KEY = "distil_teacher"


def load_distil_teacher(source: str) -> tuple[Decoder, str | None]:
    """The distillation teacher, frozen, its weights rounded to fp16 (as its run's checkpoints keep
    it, so that a resumed run has the very same teacher), and the encoder it was trained behind:
    a decoder file (optim.distil_teacher or the run's init_decoder) or, for a resumed run, the
    teacher stored in its checkpoint under DISTIL_TEACHER_KEY (encoder None: the run checked it
    when it started)."""
    teacher, teacher_encoder = None, None
    if Path(source).suffix == ".pt" and Path(source).is_file():
        state = load_torch_file(Path(source), "checkpoint")
        if isinstance(state.get(DISTIL_TEACHER_KEY), dict):
            teacher = decoder_from_checkpoint(state[DISTIL_TEACHER_KEY], f"{source} ({DISTIL_TEACHER_KEY})")[0]
    if teacher is None:
        teacher, metadata = load_decoder(source)
        teacher_encoder = metadata.get("encoder")
    with torch.no_grad():
        for tensor in teacher.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half())
    return teacher.eval().requires_grad_(False), teacher_encoder


class AdaINObjective:
    """Huang & Belongie (2017), §6.2: train the decoder g behind a frozen encoder and AdaIN."""

    name = "adain"
    network_key = "decoder"  # the key of the trained network in AdaIN checkpoints
    uses_style_batches = True
    sample_caption = "content | style | output"

    def __init__(self, cfg: TrainConfig, encoder: VGGEncoder):
        if cfg.optim.loss_scale not in ("raw", "relative"):
            raise UserError(f"optim.loss_scale {cfg.optim.loss_scale!r}: expected raw or relative")
        if max(cfg.optim.content_weight, cfg.optim.style_weight, cfg.optim.identity_weight,
               cfg.optim.distil_weight) <= 0:
            raise UserError("optim: content_weight, style_weight, identity_weight and distil_weight are all 0; "
                            "nothing to train")
        unknown = set(cfg.optim.structure_taps) - set(encoder.tap_names) if cfg.optim.structure_weight > 0 else set()
        if unknown:
            raise UserError(f"optim.structure_taps: {sorted(unknown)} not in the {encoder.spec.name} encoder "
                            f"(expected names from {encoder.tap_names})")
        unknown = set(cfg.optim.sw_taps) - {"rgb", *encoder.tap_names} if cfg.optim.sw_weight > 0 else set()
        if unknown:
            raise UserError(f"optim.sw_taps: {sorted(unknown)} not in the {encoder.spec.name} encoder "
                            f"(expected rgb or names from {encoder.tap_names})")
        unknown = set(cfg.optim.texture_floor_taps) - set(encoder.tap_names) if cfg.optim.texture_floor_weight > 0 else set()
        if unknown:
            raise UserError(f"optim.texture_floor_taps: {sorted(unknown)} not in the {encoder.spec.name} encoder "
                            f"(expected names from {encoder.tap_names})")
        if cfg.optim.texture_floor_weight > 0 and not (cfg.optim.texture_floor_window >= 2
                                                        and 0 <= cfg.optim.texture_floor_quantile <= 1):
            raise UserError(f"optim.texture_floor_window {cfg.optim.texture_floor_window} / texture_floor_quantile "
                            f"{cfg.optim.texture_floor_quantile}: expected a window of at least 2 px and a quantile in [0, 1]")
        if cfg.optim.sw_weight > 0 and cfg.optim.sw_projections < 1:
            raise UserError(f"optim.sw_projections {cfg.optim.sw_projections}: expected at least 1")
        from adain.nn.decoder import SKIP_TAPS

        unknown = sorted(set(cfg.model.decoder_skips) - set(SKIP_TAPS))
        if unknown:
            raise UserError(f"model.decoder_skips: {unknown}; expected taps from {list(SKIP_TAPS)}")
        self.cfg = cfg
        upsample = cfg.model.decoder_upsample
        if upsample is not None and upsample not in UPSAMPLE_MODES:
            raise UserError(f"model.decoder_upsample {upsample!r}: expected one of {', '.join(UPSAMPLE_MODES)}")
        if cfg.init_decoder:
            decoder = load_decoder(cfg.init_decoder)[0]
            if upsample is not None:
                decoder.upsample = upsample
            if cfg.model.decoder_palette and decoder.palette_head is None:
                decoder.add_palette_head()
            if cfg.model.decoder_skips:
                decoder.add_skips(cfg.model.decoder_skips)
        else:
            decoder = Decoder(encoder.spec.arch, cfg.model.decoder_padding, cfg.model.decoder_input_scale,
                              upsample or "nearest", palette=cfg.model.decoder_palette,
                              skips=tuple(cfg.model.decoder_skips))
        self.model = AdaINModel(encoder, decoder)
        self.encoder = encoder
        self.network = decoder
        self.teacher = None
        if cfg.optim.distil_weight > 0:
            source = cfg.optim.distil_teacher or cfg.init_decoder
            if not source:
                raise UserError("optim.distil_weight > 0 needs a teacher: set optim.distil_teacher or init_decoder")
            if cfg.optim.distil_factor not in SUPERSAMPLE_FACTORS[1:]:
                raise UserError(f"optim.distil_factor {cfg.optim.distil_factor}: expected 2, 3 or 4")
            if cfg.optim.distil_pixel_weight < 0:
                raise UserError(f"optim.distil_pixel_weight {cfg.optim.distil_pixel_weight}: expected ≥ 0")
            teacher, teacher_encoder = load_distil_teacher(source)
            # a teacher decoding another encoder's features would paint a meaningless target
            if teacher_encoder is not None and teacher_encoder != encoder.spec.name:
                raise UserError(f"optim.distil_teacher {source}: trained behind the {teacher_encoder} encoder, "
                                f"not this run's {encoder.spec.name}")
            if teacher.skip_taps != decoder.skip_taps:
                raise UserError(f"optim.distil_teacher {source}: its skip inputs {list(teacher.skip_taps)} differ "
                                f"from the trained decoder's {list(decoder.skip_taps)}")
            self.teacher = AdaINModel(encoder, teacher)

    def to(self, device: torch.device) -> "AdaINObjective":
        self.model.to(device, memory_format=torch.channels_last)
        if self.teacher is not None:
            self.teacher.to(device, memory_format=torch.channels_last)
        return self

    def parameter_groups(self, lr: float) -> list[dict]:
        """Adam's parameter groups: the palette head (if any) at lr · optim.palette_lr_scale, the
        skip projections (if any) at lr · optim.skip_lr_scale, the rest at lr."""
        added = [(self.network.palette_head, self.cfg.optim.palette_lr_scale),
                 (self.network.skip_proj if self.network.skip_taps else None, self.cfg.optim.skip_lr_scale)]
        added = [(module, scale) for module, scale in added if module is not None and scale != 1.0]
        own = {id(p) for module, _ in added for p in module.parameters()}
        groups = [{"params": [p for p in self.network.parameters() if id(p) not in own], "lr": lr}]
        return groups + [{"params": list(module.parameters()), "lr": lr * scale} for module, scale in added]

    def validation_styles(self) -> list[Path]:
        return list_images(self.cfg.data.val_style)

    def losses(self, trained, content: torch.Tensor, style: torch.Tensor, autocast) -> dict[str, torch.Tensor]:
        return train_step(self.model, trained, content, style, self.cfg, autocast, self.teacher)

    def output(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """(1, 3, S, S) content, (1, 3, h, w) style → (1, 3, S, S) at α = 1 (call under autocast)."""
        return self.model(content, [self.model.style_stats(style)])

    def sample_rows(self, content: torch.Tensor, style: torch.Tensor) -> list[torch.Tensor]:
        return [content, style, self.output(content, style)]  # content i with style i, as AdaIN pairs batches

    def checkpoint_extras(self) -> dict:
        extras = {"encoder": self.cfg.model.encoder, "decoder_config": self.network.config()}
        if self.teacher is not None:  # frozen: fp16, as shipped decoders hold their weights
            teacher = self.teacher.decoder
            extras[DISTIL_TEACHER_KEY] = {"decoder": {k: v.detach().half() if v.is_floating_point() else v
                                                      for k, v in teacher.state_dict().items()},
                                          "decoder_config": teacher.config()}
        return extras


OBJECTIVES = {"adain": AdaINObjective, "johnson": JohnsonObjective}


def build_objective(cfg: TrainConfig, encoder: VGGEncoder):
    if cfg.method not in OBJECTIVES:
        raise UserError(f"method {cfg.method!r}: cannot be trained; expected one of {', '.join(OBJECTIVES)}")
    return OBJECTIVES[cfg.method](cfg, encoder)
