"""Does the distance between the photo's and the style's colours say when the judges want the photo
recoloured to the style's colours first?  Reads the archived recolour panels (judges 64–69: the
recoloured output against the plain one, pairings C and D) and, for every pair they judged, the
2-Wasserstein distance between the photo's and the style's colour distributions taken as Gaussians
(mean and covariance in RGB on [0, 1], images at 256 px on their longer side):

    W2² = |μ_p − μ_s|² + tr(Σ_p + Σ_s − 2 (Σ_s^½ Σ_p Σ_s^½)^½)

Writes markdown: per trial (each decided choice one observation, so that a pair judged six times
weighs six times one judged once) the correlation between W2 and the choice of the recoloured output
within each pairing, and pooled within pairings (each pairing's own baseline taken out), with a
permutation p-value (outcomes shuffled within each pairing, 20,000 times, seeded); then the tallies
per style, per photo and per pair.

    .venv/bin/python experiments/eval/pairing_c/get_images.py                 # runs/outside_images
    .venv/bin/python experiments/eval/pairing_c/get_images.py --csv experiments/eval/pairing_d/images.csv \
        --out runs/outside_images_d
    .venv/bin/python experiments/eval/artefacts/recolour_palette_distance.py \
        > experiments/eval/artefacts/recolour_palette_distance.md
"""

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

import adain.nn.functional as AF  # noqa: E402

ARTEFACTS = ROOT / "experiments/eval/artefacts"
PAIRINGS = {"C": (ARTEFACTS / "forced_choice_pairing_c", ROOT / "runs/outside_images"),
            "D": (ARTEFACTS / "forced_choice_pairing_d", ROOT / "runs/outside_images_d")}
PANELS = "judge6[4-9]-*recolour*"  # the recolour panels: judges 64–66 on D, 67–69 on C
SIDE = 256


def load(path: Path) -> torch.Tensor:
    image = Image.open(path).convert("RGB")
    image.thumbnail((SIDE, SIDE))
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).unsqueeze(0).double() / 255  # (1, 3, h, w)


def gaussian_w2(a: torch.Tensor, b: torch.Tensor) -> float:
    (mean_a, cov_a), (mean_b, cov_b) = AF.color_statistics(a), AF.color_statistics(b)
    root_b = AF.sym_power(cov_b, 0.5, 1e-12)
    cross = AF.sym_power(root_b @ cov_a @ root_b, 0.5, 1e-12)
    squared = ((mean_a - mean_b) ** 2).sum() + torch.diagonal(cov_a + cov_b - 2 * cross, dim1=1, dim2=2).sum()
    return float(squared.clamp_min(0)) ** 0.5


def judged_trials() -> list[tuple[str, str, str, bool]]:
    """(pairing, content, style, whether the recoloured output was chosen) for every decided trial."""
    trials = []
    for pairing, (folder, _) in PAIRINGS.items():
        for panel in sorted(folder.glob(PANELS)):
            key = json.loads((panel / "key.json").read_text())
            lines = (panel / "answers.csv").read_text().splitlines()[1:]
            answers = dict(line.strip().split(",") for line in lines if "," in line)
            for trial in key["trials"]:
                choice = answers.get(trial["trial"])
                if choice in ("L", "R"):
                    chosen = trial["left"] if choice == "L" else trial["right"]
                    trials.append((pairing, trial["content"], trial["style"], "recolour" in chosen))
    return trials


def within_correlation(x: np.ndarray, y: np.ndarray, groups: np.ndarray, permutations: int = 20_000,
                       seed: int = 0) -> tuple[float, float]:
    """Pearson r of x and y after each group's own means are taken out of both, and the two-sided
    p-value of |r| under y shuffled within each group."""
    def centred(values: np.ndarray) -> np.ndarray:
        out = values.astype(np.float64).copy()
        for group in np.unique(groups):
            out[groups == group] -= out[groups == group].mean()
        return out

    xc, yc = centred(x), centred(y)

    def r_of(outcome: np.ndarray) -> float:
        return float(xc @ outcome / np.sqrt((xc @ xc) * (outcome @ outcome)))

    observed = r_of(yc)
    rng = np.random.default_rng(seed)
    shuffled = yc.copy()
    extreme = 0
    for _ in range(permutations):
        for group in np.unique(groups):
            index = np.flatnonzero(groups == group)
            shuffled[index] = yc[rng.permutation(index)]
        extreme += abs(r_of(shuffled)) >= abs(observed) - 1e-12
    return observed, (extreme + 1) / (permutations + 1)


def main() -> int:
    trials = judged_trials()
    if not trials:
        print("no recolour panels found under experiments/eval/artefacts", file=sys.stderr)
        return 2
    votes: dict[tuple[str, str, str], list[bool]] = defaultdict(list)
    for pairing, content, style, recoloured in trials:
        votes[(pairing, content, style)].append(recoloured)
    rows = []
    for (pairing, content, style), chosen in votes.items():
        images = PAIRINGS[pairing][1]
        for path in (images / "photos" / content, images / "styles" / style):
            if not path.is_file():
                print(f"{path}: missing; fetch the pairing's images first (see the docstring)", file=sys.stderr)
                return 2
        distance = gaussian_w2(load(images / "photos" / content), load(images / "styles" / style))
        rows.append((pairing, content, style, distance, sum(chosen), len(chosen)))
    rows.sort(key=lambda row: row[3])

    print("# Recolouring preference against the photo–style colour distance\n")
    print(f"{len(trials)} decided trials over {len(rows)} pairs (judges 64–69). Correlation, per trial, between "
          "the Gaussian W2 colour distance of the pair and the choice of the recoloured output (1) or the plain "
          "one (0), within each pairing and pooled within pairings; p: two-sided, outcomes permuted within "
          "pairings:\n")
    distance_of = {(r[0], r[1], r[2]): r[3] for r in rows}
    x = np.array([distance_of[(p, c, s)] for p, c, s, _ in trials])
    y = np.array([float(chosen) for *_, chosen in trials])
    groups = np.array([p for p, *_ in trials])
    print("| trials | r | p |\n|---|---:|---:|")
    for name, selected in (("C", groups == "C"), ("D", groups == "D"), ("C + D, within pairings", groups == groups)):
        r, p_value = within_correlation(x[selected], y[selected], groups[selected])
        print(f"| {name} ({int(selected.sum())}) | {r:+.2f} | {p_value:.2f} |")
    median = float(np.median([r[3] for r in rows]))
    for label, selected in (("W2 ≤ median", [r for r in rows if r[3] <= median]),
                            ("W2 > median", [r for r in rows if r[3] > median])):
        won, total = sum(r[4] for r in selected), sum(r[5] for r in selected)
        print(f"\n{label} ({median:.3f}, pairs): recoloured chosen {won} of {total} ({won / total:.0%})", end="")
    print("\n")
    for title, index in (("style", 2), ("photo", 1)):
        tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for row in rows:
            tally[(row[0], row[index])][0] += row[4]
            tally[(row[0], row[index])][1] += row[5]
        print(f"\n| pairing | {title} | recoloured chosen |\n|---|---|---:|")
        for (pairing, name), (won, total) in sorted(tally.items(), key=lambda kv: kv[1][0] / kv[1][1]):
            print(f"| {pairing} | {name} | {won} / {total} ({won / total:.0%}) |")
    print("\n| pairing | photo | style | W2 | recoloured chosen |\n|---|---|---|---:|---:|")
    for pairing, content, style, distance, won, total in rows:
        print(f"| {pairing} | {content} | {style} | {distance:.3f} | {won} / {total} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
