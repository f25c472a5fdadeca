"""What moves the EfficientNet content distance?

For each method's saved outputs of an evaluation run, design.md's relative content distance at
EfficientNet-Lite0 stage4 (the evaluation's `effnet_content`) of
    raw          the output as saved
    sharpened    the output plus k·(output − blur(output)), an unsharp mask (k = 0.5, 1)
and the raw distance taken apart, with o, c the (112, HW) stage4 features and every part over ‖c‖²:
    d = HW·Σ_c (μ_c(o) − μ_c(c))²  +  HW·Σ_c σ_c(o)²  +  HW·Σ_c σ_c(c)²  −  2·HW·Σ_c cov_c(o, c)
        "mean"                       "var o"            "var c"             "2 cov"
and ρ = Σ_c cov_c / Σ_c σ_c(o)·σ_c(c), the layout agreement.  A lower d comes from a higher ρ (the
content's layout kept) or from a lower "var o" (blander features): the measure cannot tell which.

    .venv/bin/python tools/effnet_content.py runs/eval/pairing_b
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from adain.core.io import open_image, pil_to_tensor
from adain.evaluation.features import CONTENT_STAGE, load_efficientnet_lite0
from adain.nn.losses.distances import relative_content
from adain.train.data import center_square


def _contents_by_stem(run_dir: Path) -> dict[str, Path]:
    from omegaconf import OmegaConf

    listing = Path(OmegaConf.load(run_dir / "config.yaml").content)
    return {Path(line).stem: (listing.parent / line).resolve() for line in listing.read_text().split() if line}


def _blur(image: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) → the same through a 5×5 binomial filter, reflection-padded."""
    taps = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    kernel = (taps[:, None] * taps[None, :] / 256.0).expand(3, 1, 5, 5)
    return F.conv2d(F.pad(image, (2, 2, 2, 2), mode="reflect"), kernel, groups=3)


@torch.inference_mode()
def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="an eval.py run folder with outputs/ and config.yaml")
    parser.add_argument("--size", type=int, default=384)
    args = parser.parse_args(argv)
    contents = _contents_by_stem(args.run_dir)
    net = load_efficientnet_lite0().eval()

    def stage4(image: torch.Tensor) -> torch.Tensor:
        return net(image, taps=(CONTENT_STAGE,))[CONTENT_STAGE].float()

    content_feats: dict[str, torch.Tensor] = {}
    print(f"{'method':24s} {'raw':>7s} {'sharp0.5':>9s} {'sharp1':>7s} {'mean':>7s} {'var o':>7s} {'var c':>7s}"
          f" {'2 cov':>7s} {'rho':>7s}")
    for method_dir in sorted(p for p in (args.run_dir / "outputs").iterdir() if p.is_dir()):
        rows = []
        for output_path in sorted(method_dir.glob("*.png")):
            stem = output_path.stem.split("__")[0]
            if stem not in content_feats:
                content_feats[stem] = stage4(pil_to_tensor(center_square(open_image(contents[stem]), args.size)))
            reference = content_feats[stem]  # (1, 112, S/16, S/16)
            output = pil_to_tensor(open_image(output_path))
            detail = output - _blur(output)
            out_feat = stage4(output)
            energy, pixels = reference.square().sum(), reference[0, 0].numel()
            o, c = out_feat[0].flatten(1), reference[0].flatten(1)  # (112, HW)
            o_centred, c_centred = o - o.mean(1, keepdim=True), c - c.mean(1, keepdim=True)
            std_o, std_c = o_centred.square().mean(1).sqrt(), c_centred.square().mean(1).sqrt()  # (112,)
            covariance = (o_centred * c_centred).mean(1)
            rows.append([relative_content(out_feat, reference).item(),
                         relative_content(stage4((output + 0.5 * detail).clamp(0, 1)), reference).item(),
                         relative_content(stage4((output + detail).clamp(0, 1)), reference).item(),
                         (pixels * (o.mean(1) - c.mean(1)).square().sum() / energy).item(),
                         (pixels * std_o.square().sum() / energy).item(),
                         (pixels * std_c.square().sum() / energy).item(),
                         (2 * pixels * covariance.sum() / energy).item(),
                         (covariance.sum() / (std_o * std_c).sum()).item()])
        means = torch.tensor(rows).mean(0).tolist()
        print(f"{method_dir.name:24s} {means[0]:7.3f} {means[1]:9.3f} {means[2]:7.3f} "
              + " ".join(f"{value:7.3f}" for value in means[3:]))


if __name__ == "__main__":
    torch.set_num_threads(1)  # beside a training run
    main(sys.argv[1:])
