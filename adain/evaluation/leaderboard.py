"""The table report.md leads with: every method variant on every measure, the best per column
in bold, and a dagger where a method was trained or optimised on the network the measure uses.

Columns run from the measures a decoder cannot game (pixels, edges, an independent network) to
design.md's two numbers and the other `vgg16-hed` measures, then cost.
"""

from __future__ import annotations

import math

from adain.evaluation.identity import IDENTITY_INFO
from adain.evaluation.reconstruction import RECON_INFO
from adain.evaluation.scoring import METRIC_INFO, METRIC_NETWORK

SET_METRICS = {"fd_effnet_lite0": ("lower", "FD-EfficientNet-Lite0: Fréchet distance of pooled features, "
                                            "stylised set vs style set (NOT FID)"),
               "fid": ("lower", "FID (Inception-v3 of torch-fidelity), stylised set vs style set"),
               "lpips_content": ("lower", "LPIPS (AlexNet), output vs content"),
               "ms_per_image": ("lower", "stylisation time per image, warm median"),
               "peak_mb": ("lower", "peak memory of one stylisation above its start (MiB)")}
ALL_INFO = {**METRIC_INFO, **IDENTITY_INFO, **RECON_INFO, **SET_METRICS}
NETWORK = {**METRIC_NETWORK, "style_top1": "efficientnet-lite0", "style_rank": "efficientnet-lite0",
           "fd_effnet_lite0": "efficientnet-lite0", "lpips_content": "alexnet", "fid": "inception-v3"}
ORDER = ("frame", "grid", "stray_colour", "halo", "blotch", "muddiness", "colour_leak", "edge_f", "style_top1", "style_rank", "recon_psnr", "recon_ssim",
         "effnet_content", "effnet_layout", "effnet_style_mean_std", "effnet_style_gram", "fd_effnet_lite0", "ssim",
         "color_w1", "lpips_content", "fid", "rel_content", "rel_style", "content_loss", "style_mean_std",
         "style_gram", "ms_per_image", "peak_mb")
ARROW = {"lower": "↓", "higher": "↑"}


def columns(summaries: list[dict]) -> list[str]:
    present = [m for m in ORDER if any(_finite(s.get(m)) for s in summaries)]
    return present + [m for m in ALL_INFO if m not in present and any(_finite(s.get(m)) for s in summaries)]


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def badness(value: float, direction: str) -> float:
    """A number to minimise: the value, or its negative when higher is better."""
    return -value if direction == "higher" else value


def best_variants(summaries: list[dict], metric: str) -> set[int]:
    """Indices of the summaries with the best value of `metric` (ties: all of them)."""
    direction = ALL_INFO[metric][0]
    scored = [(badness(s[metric], direction), i) for i, s in enumerate(summaries) if _finite(s.get(metric))]
    if not scored:
        return set()
    best = min(b for b, _ in scored)
    return {i for b, i in scored if b <= best + 1e-12 * max(1.0, abs(best))}


def trained_on_measure(summary: dict, metric: str) -> bool:
    network = NETWORK.get(metric)
    return network is not None and summary.get("trained_on") == network


def _cell(value, bold: bool, dagger: bool) -> str:
    if not _finite(value):
        return "n/a" if isinstance(value, float) else "–"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    text = f"**{text}**" if bold else text
    return text + (" †" if dagger else "")


def header(metric: str) -> str:
    network = NETWORK.get(metric)
    tag = {"vgg16-hed": " (vgg16-hed)", "efficientnet-lite0": " (EffNet)"}.get(network, "")
    return f"{metric}{tag} {ARROW.get(ALL_INFO[metric][0], '')}"


def leading_table(summaries: list[dict]) -> list[str]:
    """Markdown lines: the table, then a line on the marks."""
    shown = [s for s in summaries if s.get("pairs")]
    metrics = columns(shown)
    best = {m: best_variants(shown, m) for m in metrics}
    lines = ["| variant | trained on | pairs | " + " | ".join(header(m) for m in metrics) + " |",
             "|---|---|---|" + "---:|" * len(metrics)]
    for i, s in enumerate(shown):
        cells = [_cell(s.get(m), i in best[m], trained_on_measure(s, m)) for m in metrics]
        lines.append(f"| {s['variant']} | {s.get('trained_on') or '–'} | {s['pairs']} | " + " | ".join(cells) + " |")
    lines += ["", "Bold: best in its column (↓ lower, ↑ higher is better). "
              "†: the method was trained or optimised on the network that computes this measure "
              "(its `trained on` column), so the measure flatters it; judge it by the other columns."]
    return lines


def measures_table(summaries: list[dict]) -> list[str]:
    """Markdown lines: each measure, its direction, its network and who was trained on that network."""
    lines = ["| measure | better | computed with | trained on the same network | what |", "|---|---|---|---|---|"]
    for metric in columns(summaries):
        network = NETWORK.get(metric)
        same = sorted({s["variant"] for s in summaries if trained_on_measure(s, metric)})
        lines.append(f"| {metric} | {ALL_INFO[metric][0]} | {network or ('–' if metric in ('ms_per_image', 'peak_mb') else 'pixels')} | "
                     f"{', '.join(same) if same else '–'} | {ALL_INFO[metric][1]} |")
    return lines
