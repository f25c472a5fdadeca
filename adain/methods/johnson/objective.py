"""The training objective of a Johnson network (`method: johnson` in a training config); the
training loop (adain.train.loop) supplies data, optimiser, checkpoints and tracking."""

from __future__ import annotations

from pathlib import Path

import torch

from adain.core.errors import UserError
from adain.core.io import open_image, pil_to_tensor, resize_shorter
from adain.methods.johnson.network import TransformerNet
from adain.nn import functional as AF
from adain.nn.encoders import VGGEncoder
from adain.nn.losses.training import feature_loss, gram_style_loss, total_variation_loss


class JohnsonObjective:
    """Johnson, Alahi & Fei-Fei (2016), "Perceptual losses for real-time style transfer", §3–4.

    A transformation network f_W learns one style y_s from content photos y_c alone:
        ŷ = f_W(y_c)
        loss = w_c·‖φ_relu2_2(ŷ) − φ_relu2_2(y_c)‖²
             + w_s·Σ_{j ∈ relu1_2, relu2_2, relu3_3, relu4_3} ‖G_j(ŷ) − G_j(y_s)‖²_F
             + w_tv·TV(ŷ)
    with φ the frozen encoder (here vgg16-hed, the paper's VGG-16 architecture) and the style's
    Gram matrices G_j(y_s) computed once, in fp32, from the style at `johnson.style_size`.
    Deviation: each style layer's term is divided by the mean square of G_j(y_s) (constant per
    layer, `johnson.normalise_style_layers`), see adain.nn.losses.training.gram_style_loss.
    """

    name = "johnson"
    network_key = "transformer"
    uses_style_batches = False
    sample_caption = "content | output"

    def __init__(self, cfg, encoder: VGGEncoder):
        """`cfg`: an adain.train.config.TrainConfig with `method: johnson` (its `style`, `johnson` and
        `model.encoder` are read)."""
        if not cfg.style:
            raise UserError("johnson training: no style image; add style=PATH (the one style the network learns)")
        self.cfg, self.settings = cfg, cfg.johnson
        unknown = set(self.settings.style_taps) | {self.settings.content_tap}
        unknown -= set(encoder.tap_names)
        if unknown:
            raise UserError(f"johnson taps: {sorted(unknown)} not in the {encoder.spec.name} encoder "
                            f"(expected names from {encoder.tap_names})")
        self.style_path = Path(cfg.style)
        self.style_image = pil_to_tensor(resize_shorter(open_image(self.style_path), self.settings.style_size))
        self.encoder = encoder
        self.network = TransformerNet(self.settings.residual_blocks)
        with torch.no_grad():  # (1, C, C) per tap, fp32: the fixed target of the style loss
            feats = encoder(self.style_image, taps=self.settings.style_taps)
            self.style_grams = {tap: AF.gram(feat) for tap, feat in feats.items()}
        self.layer_weights = ({tap: 1.0 / g.square().mean().item() for tap, g in self.style_grams.items()}
                              if self.settings.normalise_style_layers else None)

    def to(self, device: torch.device) -> "JohnsonObjective":
        self.encoder.to(device, memory_format=torch.channels_last)
        self.network.to(device, memory_format=torch.channels_last)
        self.style_grams = {tap: g.to(device) for tap, g in self.style_grams.items()}
        return self

    def validation_styles(self) -> list[Path]:
        return [self.style_path]  # every validation content is scored against the network's style

    def losses(self, trained, content: torch.Tensor, style: None, autocast) -> dict[str, torch.Tensor]:
        taps = tuple(dict.fromkeys([*self.settings.style_taps, self.settings.content_tap]))
        with autocast:
            with torch.no_grad():
                content_feats = self.encoder(content, taps=(self.settings.content_tap,))
            output = trained(content)  # (B, 3, S, S) in [0, 1]
            output_feats = self.encoder(output, taps=taps)
            loss_c = feature_loss(output_feats, content_feats, self.settings.content_tap)
            loss_s = gram_style_loss(output_feats, self.style_grams, self.settings.style_taps, self.layer_weights)
            loss_tv = total_variation_loss(output)
        total = (self.settings.content_weight * loss_c + self.settings.style_weight * loss_s
                 + self.settings.tv_weight * loss_tv)
        return {"loss": total, "loss_content": loss_c.detach(), "loss_style": loss_s.detach(),
                "loss_tv": loss_tv.detach()}

    def output(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.network(content)  # the style is built in

    def sample_rows(self, content: torch.Tensor, style: None) -> list[torch.Tensor]:
        return [content, self.network(content)]

    def checkpoint_extras(self) -> dict:
        return {"encoder": self.cfg.model.encoder, "transformer_config": self.network.config(),
                "style": {"name": self.style_path.stem, "path": str(self.style_path)}}
