"""Score one stylised image against its content and style: every per-pair metric in one dict.

Each image is encoded once per network; content and style features are memoised by key because
every method variant meets the same contents and styles again.

    scorer = PairScorer(effnet=True)
    row = scorer.score(output, content, style, content_key="a.jpg", style_key="b.jpg")
"""

from __future__ import annotations

import torch

from adain.evaluation import metrics as M
from adain.evaluation.artefacts import frame_score, grid_score
from adain.evaluation.edges import SIDE_TAPS, edge_f_score, load_hed
from adain.evaluation.features import CONTENT_STAGE, POOLED, STYLE_STAGES, load_efficientnet_lite0
from adain.evaluation.flaws import flaw_scores
from adain.nn.encoders import CONTENT_TAP, STYLE_TAPS
from adain.nn.functional import mean_std
from adain.nn.losses import distances as D
from adain.nn.pretrained import build_encoder

# name → (direction, one line); the report and summary.json print these
METRIC_INFO = {
    "frame": ("lower", "frame score: factor by which the 8-px border band is busier or calmer than the band "
                       "inside it, output against content (1 = no frame)"),
    "grid": ("lower", "grid score: luminance spectrum at the 2/4/8-px lattice over its neighbours, output over content (1 = none)"),
    "edge_f": ("higher", "edge preservation: best-threshold F-score of thinned HED edges, output vs content"),
    "rel_content": ("lower", "design.md relative content loss, vgg16-hed relu4_1"),
    "rel_style": ("lower", "design.md relative style loss, vgg16-hed relu1_1…relu4_1 mean/std"),
    "content_loss": ("lower", "MSE of vgg16-hed relu4_1 features, output vs content"),
    "ssim": ("higher", "SSIM of luminance, output vs content"),
    "style_mean_std": ("lower", "Σ_l MSE(μ) + MSE(σ), vgg16-hed relu1_1…relu4_1, output vs style"),
    "style_gram": ("lower", "Σ_l MSE of Gram matrices G=FFᵀ/HW, vgg16-hed relu1_1…relu4_1"),
    "color_w1": ("lower", "per-channel 1-D Wasserstein-1 of RGB values, output vs style (0–1 units)"),
    "stray_colour": ("lower", "% of the output in coherent patches of a colour in neither the style nor the photo "
                              "(ΔE > 20 from both palettes)"),
    "halo": ("lower", "light rims: lightness excess (% of full scale) along the photo's strong edges over the "
                      "output's own levels 9 px across, beyond the photo's own"),
    "blotch": ("lower", "% of the output's variation in the photo's flattest fifth that lies at coarse scales "
                        "(patches) rather than fine ones (an even texture)"),
    "muddiness": ("lower", "% by which the output's contrast-free sharpness falls short of the style's"),
    "colour_leak": ("lower", "% of the output whose chroma is far from every style colour and nearer the photo's "
                             "at the same place"),
    "effnet_content": ("lower", "relative content distance, EfficientNet-Lite0 stage4 (/16, 112 ch)"),
    "effnet_layout": ("higher", "layout correlation ρ of output and content, EfficientNet-Lite0 stage4: the part "
                                "of effnet_content that blander output features cannot lower (1 = the content's)"),
    "effnet_style_mean_std": ("lower", "relative mean/std style distance, EfficientNet-Lite0 stage1…stage4"),
    "effnet_style_gram": ("lower", "relative Gram distance ‖ΔG‖²/‖G‖², EfficientNet-Lite0 stage1…stage4"),
}
EFFNET_METRICS = ("effnet_content", "effnet_layout", "effnet_style_mean_std", "effnet_style_gram")
# the network a measure is computed with (absent: pixels only); the report flags a method
# trained or optimised on the same network beside it (adain.evaluation.provenance)
METRIC_NETWORK = {"edge_f": "vgg16-hed", "rel_content": "vgg16-hed", "rel_style": "vgg16-hed",
                  "content_loss": "vgg16-hed", "style_mean_std": "vgg16-hed", "style_gram": "vgg16-hed",
                  **{name: "efficientnet-lite0" for name in EFFNET_METRICS}}


class PairScorer:
    """The VGG (fp32 vgg16-hed) and, optionally, EfficientNet-Lite0 metrics of output images."""

    def __init__(self, effnet: bool = True, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.vgg = build_encoder("vgg16-hed").to(self.device).eval()
        self.hed = load_hed(encoder=self.vgg).to(self.device)  # HED's backbone is this encoder
        self.effnet = load_efficientnet_lite0().to(self.device) if effnet else None
        self._memo: dict[tuple, dict] = {}  # (network, role, key) → features

    def _vgg(self, image: torch.Tensor, taps, memo_key=None) -> dict:
        return self._encode("vgg", self.vgg, image, taps, memo_key)

    def _eff(self, image: torch.Tensor, taps, memo_key=None) -> dict:
        return self._encode("effnet", self.effnet, image, taps, memo_key)

    @torch.inference_mode()
    def _encode(self, network: str, module, image: torch.Tensor, taps, memo_key) -> dict:
        key = (network, tuple(taps), memo_key)
        if memo_key is not None and key in self._memo:
            return self._memo[key]
        feats = {tap: value.float() for tap, value in module(image.to(self.device), taps=taps).items()}
        if memo_key is not None:
            self._memo[key] = feats
        return feats


    @torch.inference_mode()
    def score(self, output: torch.Tensor, content: torch.Tensor, style: torch.Tensor,
              content_key: str | None = None, style_key: str | None = None
              ) -> tuple[dict[str, float], torch.Tensor | None]:
        """(1, 3, S, S) output and content, (1, 3, h, w) style, all in [0, 1] →
        ({metric: value}, extras): extras["pooled"] the output's (1280,) pooled EfficientNet
        features and extras["style_stats"] its {stage: FeatureStats} (for style identity), or {}
        without EfficientNet."""
        output = output.float().clamp(0, 1)
        content = content.to(output.device)
        # one vgg16-hed pass per image serves design.md's taps and HED's side outputs
        out_v = self._vgg(output, (*STYLE_TAPS, *SIDE_TAPS))  # relu4_1 is among the style taps
        content_v = self._vgg(content, (CONTENT_TAP, *SIDE_TAPS), content_key)
        style_v = self._vgg(style, STYLE_TAPS, style_key)
        row = {
            "rel_content": D.relative_content(out_v[CONTENT_TAP], content_v[CONTENT_TAP]),
            "rel_style": D.relative_style(out_v, style_v, STYLE_TAPS),
            "content_loss": D.content_mse(out_v[CONTENT_TAP], content_v[CONTENT_TAP]),
            "ssim": M.ssim_luminance(output, content.to(output.device)),
            "style_mean_std": D.style_mean_std_loss(out_v, style_v, STYLE_TAPS),
            "style_gram": D.gram_loss(out_v, style_v, STYLE_TAPS),
            "color_w1": M.color_wasserstein(output, style.to(output.device)),
            "frame": frame_score(output, content),
            "grid": grid_score(output, content),
            "edge_f": edge_f_score(self.hed.from_features(out_v, output.shape[-2:]),
                                   self.hed.from_features(content_v, content.shape[-2:])),
            **{name: torch.tensor([value]) for name, value in flaw_scores(output, content, style.to(output.device)).items()},
        }
        if self.effnet is not None:
            out_e = self._eff(output, (*STYLE_STAGES, CONTENT_STAGE, POOLED))
            content_e = self._eff(content, (CONTENT_STAGE,), content_key)
            style_e = self._eff(style, STYLE_STAGES, style_key)
            row["effnet_content"] = D.relative_content(out_e[CONTENT_STAGE], content_e[CONTENT_STAGE])
            row["effnet_layout"] = M.layout_correlation(out_e[CONTENT_STAGE], content_e[CONTENT_STAGE])
            row["effnet_style_mean_std"] = D.relative_style(out_e, style_e, STYLE_STAGES)
            row["effnet_style_gram"] = D.relative_gram_loss(out_e, style_e, STYLE_STAGES)
        extras = {}
        if self.effnet is not None:
            extras = {"pooled": out_e[POOLED][0].cpu(),
                      "style_stats": {tap: mean_std(out_e[tap]).to("cpu") for tap in STYLE_STAGES}}
        return {name: float(value.reshape(-1)[0]) for name, value in row.items()}, extras

    @torch.inference_mode()
    def style_stats(self, image: torch.Tensor, memo_key: str | None = None) -> dict:
        """(1, 3, H, W) → {stage: FeatureStats} EfficientNet-Lite0 stage1…stage4 statistics."""
        return {tap: mean_std(f).to("cpu") for tap, f in self._eff(image, STYLE_STAGES, memo_key).items()}

    @torch.inference_mode()
    def pooled(self, image: torch.Tensor, memo_key: str | None = None) -> torch.Tensor:
        """(1, 3, H, W) → (1280,) EfficientNet-Lite0 pooled features (the FD feature)."""
        return self._eff(image, (POOLED,), memo_key)[POOLED][0].cpu()
