"""Which training loss pays for each flaw?  Each term's slope along the flaw, at the decoder's output.

    .venv/bin/python experiments/eval/artefacts/flaw_gradients.py --photos runs/outside_images/photos \
        --styles runs/outside_images/styles --out experiments/eval/artefacts/flaw_gradients.json

A decoder learns a flaw when some term of its loss falls as the flaw grows.  For every photo ×
style pair the decoder's own output y (and its reconstruction r, α = 0, for the identity terms)
is scored by each term L of the training loss (adain.train.objectives.train_step, the weights of the
recipe's last stage: those of the `refine` stage it had when the slopes were measured), and the
slope dL/dε of L(y + ε·D) at ε = 0 is taken with autograd along directions D that grow a flaw the
blind judges named (each zero-mean, RMS 1/255 over the image):

  halo: ridge            a light line on the photo's strong edges (the edge map blurred 1.5 px);
  halo: overshoot        the photo's own unsharp mask (luma minus its 3-px blur) near those edges;
  halo: own overshoot    the same of the output's own luma: its rims made stronger;
  blotch: own coarse     the output's own 4–16 px variation (blur 2 px minus blur 8 px, per RGB
                         channel) in the photo's flattest fifth: its patches made stronger;
  blotch: own fine       the output's own finest variation (minus its 1-px blur) there: the even
                         texture the judges preferred, for comparison;
  muddiness: own sharpen the output's finest variation everywhere;
  leak: photo's colours  the output moved towards the photo's colours at each pixel, a shift of
                         chroma (the difference's mean over R, G, B removed, lightness about kept);
  brighten               the whole image lighter, for scale (not zero-mean).

A negative weighted slope means the term pays the decoder for more of that.  Runs in ~3 min on a
2-core CPU (fp32, 384² outputs).
"""

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from adain import load
from adain.core.io import open_image, pil_to_tensor
from adain.evaluation.flaws import HALO_BAND, _blur, _luma, flattest, strong_edges
from adain.nn import functional as AF
from adain.nn.encoders import STYLE_TAPS
from adain.nn.losses.training import (colour_stats_loss, relative_content_loss, relative_feature_loss,
                                      relative_style_stats_loss, sliced_wasserstein_loss)
from adain.train.config import load_config
from adain.train.data import center_square, list_images
from adain.train.stages import stage_configs

ROOT = Path(__file__).resolve().parents[3]

SIDE = 384
# the loss weights of the recipe's last stage (its distillation term aside), as configs/train/default.yaml
# resolves them: those of the `refine` stage the recipe had when these slopes were measured
LAST = stage_configs(load_config(ROOT / "configs" / "train" / "default.yaml"))[-1].optim
WEIGHTS = {"content": LAST.content_weight, "style": LAST.style_weight, "colour": LAST.colour_weight,
           "sw": LAST.sw_weight, "identity": LAST.identity_weight, "identity_pixel": LAST.identity_pixel_weight}
SW_TAPS = ("rgb", *STYLE_TAPS)


def flaw_directions(content: torch.Tensor, output: torch.Tensor) -> dict[str, torch.Tensor]:
    """(1, 3, S, S) photo and output → {name: (1, 3, S, S) direction of RMS 1/255}."""
    luma, out_luma = _luma(content), _luma(output)
    edges = strong_edges(luma)[0]  # the halo measure's edges and band, the blotch measure's flat regions
    near = (F.max_pool2d(edges, 2 * HALO_BAND + 1, stride=1, padding=HALO_BAND) > 0).float()
    flat = flattest(luma).float()
    towards_photo = content - output
    directions = {
        "halo: ridge": _blur(edges, 1.5),
        "halo: overshoot": (luma - _blur(luma, 3.0)) * near,
        "halo: own overshoot": (out_luma - _blur(out_luma, 3.0)) * near,
        "blotch: own coarse": (_blur(output, 2.0) - _blur(output, 8.0)) * flat,
        "blotch: own fine": (output - _blur(output, 1.0)) * flat,
        "muddiness: own sharpen": output - _blur(output, 1.0),
        "leak: photo's colours": towards_photo - towards_photo.mean(dim=1, keepdim=True),
    }
    # zero-mean per channel: the flaw, not a brightening or tint of the whole image
    directions = {name: (d - d.mean(dim=(2, 3), keepdim=True)).expand(-1, 3, -1, -1)
                  for name, d in directions.items()}
    directions["brighten"] = torch.ones_like(output)
    return {name: d / d.square().mean().sqrt() / 255 for name, d in directions.items()}


def term_losses(model, output: torch.Tensor, reconstruction: torch.Tensor, content_feats, style: torch.Tensor,
                style_feats, target: torch.Tensor, content: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each training term, unweighted, of a stylised output and a reconstruction (both (1, 3, S, S))."""
    feats = model.encoder(output, taps=STYLE_TAPS)
    style_stats = {tap: AF.mean_std(style_feats[tap]) for tap in STYLE_TAPS}
    terms = {"content": relative_content_loss(feats, target)}
    for tap in STYLE_TAPS:
        terms[f"style {tap}"] = relative_style_stats_loss(feats, style_stats, taps=(tap,))
    terms["colour"] = colour_stats_loss(output, style)
    torch.manual_seed(0)  # the same random projections on every run of the script
    for tap in SW_TAPS:
        pair = (output, style) if tap == "rgb" else (feats[tap], style_feats[tap])
        terms[f"sw {tap}"] = sliced_wasserstein_loss(*pair, 256)  # 4× training's 64: a steadier slope
    recon_feats = model.encoder(reconstruction, taps=STYLE_TAPS)
    terms["identity features"] = relative_feature_loss(recon_feats, content_feats)
    terms["identity pixels"] = (reconstruction - content).abs().mean()
    return terms


def weighted(name: str) -> float:
    if name.startswith("style"):
        return WEIGHTS["style"]
    if name.startswith("sw"):
        return WEIGHTS["sw"]
    if name == "identity features":
        return WEIGHTS["identity"]
    if name == "identity pixels":
        return WEIGHTS["identity"] * WEIGHTS["identity_pixel"]
    return WEIGHTS[name]


def pair_slopes(stylizer, content: torch.Tensor, style: torch.Tensor) -> dict[str, dict[str, float]]:
    """{direction: {term: weighted slope dL/dε}} for one photo × style pair."""
    model = stylizer.model
    with torch.no_grad():
        output = stylizer.stylize(content, style, content_size=0, style_size=0, supersample=1).float()
        reconstruction = stylizer.stylize(content, content, content_size=0, style_size=0, alpha=0.0,
                                          supersample=1).float()
        content_feats = model.encoder(content, taps=STYLE_TAPS)
        style_feats = model.encoder(style, taps=STYLE_TAPS)
        styles = [model.style_stats(style)]
        target = model.decoder_inputs(dict(content_feats), styles).target
    output = output.clone().requires_grad_(True)  # stylize() returns inference-mode tensors
    reconstruction = reconstruction.clone().requires_grad_(True)
    terms = term_losses(model, output, reconstruction, content_feats, style, style_feats, target, content)
    # the identity terms score the reconstruction: an "own" direction is then the reconstruction's
    of_output = flaw_directions(content, output.detach())
    of_reconstruction = flaw_directions(content, reconstruction.detach())
    slopes: dict[str, dict[str, float]] = {name: {} for name in of_output}
    for term, loss in terms.items():
        rgb, directions = (reconstruction, of_reconstruction) if term.startswith("identity") else (output, of_output)
        (grad,) = torch.autograd.grad(loss, rgb, retain_graph=True)
        for name, direction in directions.items():
            slopes[name][term] = weighted(term) * float((grad * direction).sum())
    for name in slopes:
        slopes[name]["total"] = sum(slopes[name].values())
    return slopes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--styles", type=Path, required=True)
    parser.add_argument("--decoder", default=None, help="a decoder file; default: the shipped one")
    parser.add_argument("--pairs", type=int, default=8, help="photo i with style i (cycling)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_grad_enabled(True)
    stylizer = load(args.decoder, precision="fp32", device="cpu")
    photos, styles = list_images(args.photos), list_images(args.styles)
    per_pair = []
    for i in range(args.pairs):
        photo, painting = photos[i % len(photos)], styles[i % len(styles)]
        content = pil_to_tensor(center_square(open_image(photo), SIDE))
        style = pil_to_tensor(center_square(open_image(painting), SIDE))
        slopes = pair_slopes(stylizer, content, style)
        per_pair.append({"photo": photo.name, "style": painting.name, "slopes": slopes})
        print(f"{photo.stem} × {painting.stem}: " + "  ".join(
            f"{name} {s['total']:+.4f}" for name, s in slopes.items()), flush=True)
    mean = {name: {term: sum(p["slopes"][name][term] for p in per_pair) / len(per_pair)
                   for term in per_pair[0]["slopes"][name]} for name in per_pair[0]["slopes"]}
    names = list(mean)
    print(f"\nweighted slope, mean of {len(per_pair)} pairs (< 0: the term pays for more of it)")
    print(f"{'term':20s}" + "".join(f"{name.split(': ')[-1][:13]:>14s}" for name in names))
    for term in mean[names[0]]:
        print(f"{term:20s}" + "".join(f"{mean[name][term]:>+14.5f}" for name in names))
    args.out.write_text(json.dumps({"decoder": args.decoder or "shipped", "side": SIDE, "weights": WEIGHTS,
                                    "mean": mean, "pairs": per_pair}, indent=1))


if __name__ == "__main__":
    main()
