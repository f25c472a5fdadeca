"""Reconstruction fidelity of a decoder: how much of a photo survives decode(encode(x)).

A decoder can only paint what it learnt to invert; if it cannot give a photo back from the
photo's own features, its stylisations lose shapes and colours too, whatever the style numbers
say.  Per AdaIN decoder of a run (one row per distinct decoder, whatever α), on the run's
content images at the run's size (content centre square resized to size²):

    recon_psnr   PSNR (dB) of clamp(decode(encode(x)), 0, 1) against x, RGB   (higher is better)
    recon_ssim   SSIM of their luminances (Wang et al. 2004, as the `ssim` column) (higher)

encode = the decoder's own encoder to relu4_1.  Outputs are cached per (decoder file, content,
size) and written to <run_dir>/reconstruction/<decoder>/<content>.png.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path

import torch

from adain.core.errors import UserError
from adain.evaluation.cache import file_fingerprint
from adain.evaluation.metrics import psnr, ssim_luminance

RECON_INFO = {
    "recon_psnr": ("higher", "reconstruction fidelity: PSNR (dB) of decode(encode(content)) vs content, RGB"),
    "recon_ssim": ("higher", "reconstruction fidelity: SSIM of luminance of decode(encode(content)) vs content"),
}


@torch.inference_mode()
def reconstruct(model, content: torch.Tensor) -> torch.Tensor:
    """decode(encode(x)) of an AdaINModel, (N, 3, H, W) in [0, 1] → same shape, clamped.  A palette
    decoder is given the content's own palette (what α = 0 gives it, adain.nn.functional.palette_map), a
    skip decoder the content's own features at its skip taps."""
    from adain.nn import functional as AF
    from adain.nn.model import pad_to_multiple

    content = content.to(model.device)
    padded, (height, width) = pad_to_multiple(content)
    inputs = model.decoder_inputs(model.encode_all(padded), None, content_palette=AF.mean_std(content.float()))
    return model.decode(inputs)[..., :height, :width].float().clamp(0, 1).cpu()


def reconstruction_scores(reconstruction: torch.Tensor, content: torch.Tensor) -> dict[str, float]:
    return {"recon_psnr": float(psnr(reconstruction, content)[0]),
            "recon_ssim": float(ssim_luminance(reconstruction, content)[0])}


def decoder_label(settings: dict) -> str:
    from adain.methods.adain import SHIPPED_DECODER

    decoder = settings.get("decoder")
    return Path(decoder).stem if decoder else f"{SHIPPED_DECODER.stem} (default)"


def add_reconstruction(evaluation, results, summaries: list[dict]) -> list[dict]:
    """One row per distinct AdaIN decoder (its mean PSNR/SSIM over the contents); the same means
    are added to the summary of every variant that uses that decoder."""
    from adain.evaluation.stylizers import build_stylizer
    from adain.evaluation.sweep import slug
    from adain.evaluation.pairs import pairs_for

    groups: dict[str, list[int]] = {}
    for i, result in enumerate(results):
        if result.variant.name == "adain" and result.rows:
            key = json.dumps([result.variant.identity()["settings"], result.variant.size], sort_keys=True, default=str)
            groups.setdefault(key, []).append(i)
    table = []
    for members in groups.values():
        variant = results[members[0]].variant
        contents = list(dict.fromkeys(pair.content for pair in pairs_for(variant)))
        folder = evaluation.run_dir / "reconstruction" / slug(decoder_label(variant.settings).split(" ")[0])
        model, scores = None, []
        for content_path in contents:
            key = hashlib.sha256(json.dumps({"reconstruction": variant.identity()["settings"],
                                             "content": file_fingerprint(content_path), "size": variant.size},
                                            sort_keys=True, default=str).encode()).hexdigest()
            row = evaluation.cache.load_metrics(key, set(RECON_INFO))
            if row is None:
                try:
                    model = model or build_stylizer("adain", variant.settings).model
                except UserError as exc:
                    evaluation.error(f"reconstruction of {decoder_label(variant.settings)}: {exc}")
                    break
                content = evaluation.images.content(content_path, variant.size)
                output = evaluation.cache.store_output(key, reconstruct(model, content), {"reconstruction": True})
                row = reconstruction_scores(output, content)
                evaluation.cache.store_metrics(key, row)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{content_path.stem}.png").write_bytes(evaluation.cache.output_path(key).read_bytes())
            scores.append(row)
        if not scores:
            continue
        means = {name: statistics.fmean(s[name] for s in scores) for name in RECON_INFO}
        for i in members:
            summaries[i].update(means)
        table.append({"decoder": decoder_label(variant.settings), "encoder": evaluation.encoders.get(variant.label),
                      "size": variant.size, "contents": len(scores), **means,
                      "outputs": str(folder.relative_to(evaluation.run_dir))})
    return table
