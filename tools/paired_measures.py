"""Is variant A worse than variant B on any measure beyond noise?  Paired over an eval run's pairs.

    .venv/bin/python tools/paired_measures.py runs/eval/pairing_c_recipe "recipe-x1[supersample=1]" \
        "shipped-x2[supersample=2]"

For each measure of metrics.csv: both means, the mean of the per-pair differences A − B with a 95 %
bootstrap interval (2,000 resamples of the pairs, seeded), on how many pairs A is the better one,
and a verdict: "A better" or "A worse" when the interval excludes 0, else "noise".  Pairing the
outputs of one content × style removes most of what the pairs themselves vary by, so a difference
of a few per cent can be real where the means' own spreads overlap.
"""

import argparse
import csv
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adain.evaluation.scoring import METRIC_INFO  # noqa: E402  (each measure's direction)

PER_RUN = {"style_top1", "style_rank", "recon_psnr", "recon_ssim", "ms_per_image", "peak_mb"}  # not per pair


class PairedError(Exception):
    """Bad input: one line for the user."""


def bootstrap_interval(values: list[float], rng: random.Random, resamples: int = 2000) -> tuple[float, float]:
    means = sorted(sum(rng.choice(values) for _ in values) / len(values) for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def compare(metrics_csv: Path, a: str, b: str, seed: int = 0) -> list[dict]:
    """One row per measure that both variants have on every shared pair, in METRIC_INFO's order."""
    by_variant: dict[str, dict] = {}
    try:
        with open(metrics_csv, newline="") as f:
            for row in csv.DictReader(f):
                by_variant.setdefault(row["variant"], {})[(row["content"], row["style"])] = row
    except OSError as exc:
        raise PairedError(f"{metrics_csv}: {exc.strerror}; expected an eval.py run's metrics.csv") from None
    except KeyError as exc:
        raise PairedError(f"{metrics_csv}: no column {exc}; expected an eval.py run's metrics.csv") from None
    missing = [name for name in (a, b) if name not in by_variant]
    if missing:
        raise PairedError(f"{metrics_csv}: no variant {missing[0]!r}; expected one of {sorted(by_variant)}")
    pairs = sorted(set(by_variant[a]) & set(by_variant[b]))
    if not pairs:
        raise PairedError(f"{metrics_csv}: {a!r} and {b!r} share no content × style pair")
    rows = []
    for measure, (direction, _) in METRIC_INFO.items():
        if measure in PER_RUN:
            continue
        try:
            values_a = [float(by_variant[a][p][measure]) for p in pairs]
            values_b = [float(by_variant[b][p][measure]) for p in pairs]
        except (KeyError, ValueError):  # not computed by this run, or not for every pair
            continue
        diffs = [x - y for x, y in zip(values_a, values_b)]
        low, high = bootstrap_interval(diffs, random.Random(f"{seed}:{measure}"))  # independent of the other columns
        sign = -1 if direction == "lower" else 1  # sign · diff > 0: A better
        better_low, better_high = sorted((sign * low, sign * high))
        rows.append({"measure": measure, "a": sum(values_a) / len(pairs), "b": sum(values_b) / len(pairs),
                     "diff": sum(diffs) / len(pairs), "low": low, "high": high,
                     "a_better_pairs": sum(sign * d > 0 for d in diffs), "pairs": len(pairs),
                     "verdict": "A better" if better_low > 0 else "A worse" if better_high < 0 else "noise"})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="an eval.py run dir (its metrics.csv)")
    parser.add_argument("a", help="variant label as in metrics.csv")
    parser.add_argument("b", help="the variant to compare with")
    args = parser.parse_args()
    try:
        rows = compare(args.run_dir / "metrics.csv", args.a, args.b)
    except PairedError as exc:
        print(f"paired_measures: error: {exc}", file=sys.stderr)
        return 2
    print(f"A = {args.a}, B = {args.b}, {rows[0]['pairs'] if rows else 0} pairs\n")
    print("| measure | A | B | A − B [95 %] | A better on | verdict |")
    print("|---|---:|---:|---|---:|---|")
    for r in rows:
        print(f"| {r['measure']} | {r['a']:.4g} | {r['b']:.4g} | {r['diff']:+.3g} [{r['low']:+.3g}, {r['high']:+.3g}] "
              f"| {r['a_better_pairs']}/{r['pairs']} | {r['verdict']} |")
    print("\nWith ~16 measures at 95 % each, about one comparison in three of two equal variants shows one "
          "verdict other than noise by chance: weigh a lone one by its size and its pair count.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
