"""The standard perceptual metrics, used only when their weights are already on disk.

Nothing here downloads: each metric is available only if every file it would fetch is present
locally, otherwise it is skipped and the report says why (never replaced silently by another
network).

- LPIPS (Zhang et al. 2018), content distance, AlexNet: torchmetrics' bundled linear layers
  plus torchvision's AlexNet ImageNet weights in the torch hub cache.
- FID (Heusel et al. 2017), stylised set vs style set, Inception-v3: the `torch-fidelity`
  package plus its Inception weights in the torch hub cache.
- ArtFID (Wright & Ommer 2022) = (1 + LPIPS) · (1 + FID_art), FID_art on an Inception network
  trained on art: the `art_fid` package and its weights.  Never computed here (the art Inception
  weights cannot be had offline); reported as skipped unless the package is installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

FID_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"


def _hub_file(name: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def availability() -> dict[str, str]:
    """metric → "" if it can run offline, else a one-line reason it is skipped."""
    notes = {}
    if importlib.util.find_spec("torchvision") is None:
        notes["lpips"] = "skipped: torchvision not installed"
    else:
        from torchvision.models import AlexNet_Weights

        alexnet = _hub_file(Path(AlexNet_Weights.IMAGENET1K_V1.url).name)
        notes["lpips"] = "" if alexnet.is_file() else f"skipped: AlexNet weights not found at {alexnet} (no downloads)"
    if importlib.util.find_spec("torch_fidelity") is None:
        notes["fid"] = "skipped: torch-fidelity (Inception-v3 FID network) not installed"
    else:
        inception = _hub_file(FID_WEIGHTS)
        notes["fid"] = "" if inception.is_file() else f"skipped: Inception weights not found at {inception} (no downloads)"
    notes["artfid"] = ("skipped: needs the art-trained Inception of the art_fid package, not available offline"
                       if importlib.util.find_spec("art_fid") is None or notes["lpips"]
                       else "skipped: art_fid is installed but not wired in; run its own CLI on run_dir/outputs")
    return notes


class StandardMetrics:
    """LPIPS per pair and FID per set, for whichever of them `availability` allows."""

    def __init__(self, device: torch.device):
        notes = availability()
        self.device = device
        self.lpips = None
        if not notes["lpips"]:
            from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

            self.lpips = LearnedPerceptualImagePatchSimilarity(net_type="alex", normalize=True).to(device)
        self.fid_available = not notes["fid"]

    @torch.inference_mode()
    def pair(self, output: torch.Tensor, content: torch.Tensor) -> dict[str, float]:
        if self.lpips is None:
            return {}
        return {"lpips_content": float(self.lpips(output.to(self.device), content.to(self.device)))}

    @torch.inference_mode()
    def fid(self, outputs: list[torch.Tensor], styles: list[torch.Tensor]) -> float:
        if not self.fid_available or len(outputs) < 2 or len(styles) < 2:
            return float("nan")
        from torchmetrics.image.fid import FrechetInceptionDistance

        metric = FrechetInceptionDistance(normalize=True).to(self.device)
        for image in styles:
            metric.update(image.to(self.device), real=True)
        for image in outputs:
            metric.update(image.to(self.device), real=False)
        return float(metric.compute())
