"""Which measures agree with the blind judges?  Over archived forced-choice sets, trial by trial.

    .venv/bin/python tools/judge_agreement.py experiments/eval/artefacts/forced_choice_pairing_c \
        experiments/eval/artefacts/forced_choice_pairing_d [--markdown OUT.md]

Every folder named holds judged sets as `forced_choice.py archive` keeps them (judgeN-NAME/ with
key.json and answers.csv); each key names the eval.py run its outputs came from, whose metrics.csv
has every measure per variant, content and style.  For each trial a judge decided (L or R, not =)
and each measure both sides have and differ on, the judge *agrees* with the measure when the side
they chose is the better one by it.  Per measure: the share of agreeing decisions, over all trials
and split into comparisons between two of our decoders ("ours vs ours") and against Magenta, with a
95 % Wilson interval.  50 % is a coin: the measure says nothing about what the judges chose; under 50 %
the judges went against it.  A measure can agree because it moves with what judges see or because
it moves with something else the compared variants differ by: trials are not independent (the same
pairs recur across judges and sets), so read the intervals as a lower bound on the uncertainty.

A set whose run directory (its metrics.csv) is not on this machine is left out, and so is a trial
whose variants or pair that metrics.csv lacks; both are counted.  A cell counts only the trials in
which both sides have the measure and differ on it (two zeros of a flaw are not counted), so a row
can count fewer trials than its group has.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adain.core.errors import UserError  # noqa: E402
from adain.evaluation.forced_choice import read_answers, wilson_interval  # noqa: E402
from adain.evaluation.scoring import METRIC_INFO  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired_measures import PER_RUN  # noqa: E402  (the measures scored once per run, not per pair)

GROUPS = ("ours vs ours", "vs Magenta", "all")


def load_metrics(run_dir: Path) -> dict[tuple[str, str, str], dict]:
    """metrics.csv → {(variant, content, style): row}."""
    with open(run_dir / "metrics.csv", newline="") as handle:
        return {(row["variant"], row["content"], row["style"]): row for row in csv.DictReader(handle)}


def decisions(folders: list[Path], root: Path) -> tuple[list[dict], list[tuple[str, str]]]:
    """Every decided trial of every judged set under `folders`: {group, chosen row, other row}; and
    what was left out: ("absent", set) for a set whose run is not here, ("unmatched", set) for a set
    with trials its run's metrics.csv lacks."""
    cache: dict[Path, dict] = {}
    found, skipped = [], []
    for folder in folders:
        keys = sorted(folder.glob("judge*/key.json"))
        if not keys:
            raise UserError(f"{folder}: no judge*/key.json; expected a folder of archived forced-choice sets")
        for key_path in keys:
            try:
                key = json.loads(key_path.read_text())
                labels, trials = (key["a"], key["b"]), key["trials"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise UserError(f"{key_path}: not a forced-choice key; expected JSON with a, b, run_dir and trials")
            run_dir = root / key.get("run_dir", "")
            if not (run_dir / "metrics.csv").is_file():
                skipped.append(("absent", f"{key_path.parent.name}: {key.get('run_dir')} not here"))
                continue
            if run_dir not in cache:
                cache[run_dir] = load_metrics(run_dir)
            metrics = cache[run_dir]
            answers = read_answers(key_path.parent / "answers.csv")
            group = "vs Magenta" if "magenta" in labels else "ours vs ours"
            unmatched = 0
            for trial in trials:
                choice = answers.get(trial["trial"])
                if choice not in ("left", "right"):
                    continue
                chosen, other = (trial["left"], trial["right"]) if choice == "left" else (trial["right"], trial["left"])
                rows = [metrics.get((variant, trial["content"], trial["style"])) for variant in (chosen, other)]
                if None in rows:
                    unmatched += 1
                    continue
                found.append({"group": group, "chosen": rows[0], "other": rows[1]})
            if unmatched:
                skipped.append(("unmatched", f"{key_path.parent.name}: {unmatched} trials not in {key.get('run_dir')}'s "
                                              f"metrics.csv"))
    return found, skipped


def agreement(found: list[dict]) -> list[dict]:
    """Per measure of METRIC_INFO (per-pair ones): agreeing and counted decisions per group."""
    table = []
    for measure, (direction, _) in METRIC_INFO.items():
        if measure in PER_RUN:
            continue
        counts = defaultdict(lambda: [0, 0])  # group → [agree, counted]
        for d in found:
            try:
                chosen, other = float(d["chosen"][measure]), float(d["other"][measure])
            except (KeyError, ValueError):  # not computed by that run
                continue
            if chosen == other or not (math.isfinite(chosen) and math.isfinite(other)):
                continue
            agrees = chosen < other if direction == "lower" else chosen > other
            for group in (d["group"], "all"):
                counts[group][0] += agrees
                counts[group][1] += 1
        if counts["all"][1]:
            table.append({"measure": measure, "direction": direction, **{g: tuple(counts[g]) for g in GROUPS}})
    return table


def cell(agree: int, counted: int) -> str:
    if not counted:
        return "–"
    low, high = wilson_interval(agree, counted)
    return f"{100 * agree / counted:.0f} % ({100 * low:.0f}–{100 * high:.0f}; {counted})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="+", help="folders of archived sets (judgeN-NAME/)")
    parser.add_argument("--root", type=Path, default=ROOT, help="what the keys' run_dir paths are relative to")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    try:
        found, skipped = decisions(args.folders, args.root)
    except (UserError, OSError) as exc:
        print(f"judge_agreement: error: {exc}", file=sys.stderr)
        return 2
    if not found:
        print(f"judge_agreement: error: no decided trial has its run's metrics here (sets left out: {len(skipped)}"
              f"); expected the eval.py runs the keys name", file=sys.stderr)
        return 2
    absent = sum(kind == "absent" for kind, _ in skipped)
    lines = [f"{len(found)} decided trials ({sum(d['group'] == 'ours vs ours' for d in found)} ours vs ours); "
             f"left out: {absent} sets whose run is not here, {len(skipped) - absent} sets with trials their "
             f"run's metrics.csv lacks", "",
             "| measure | better | ours vs ours | vs Magenta | all |", "|---|---|---:|---:|---:|"]
    rows = sorted(agreement(found), key=lambda r: -r["ours vs ours"][0] / max(1, r["ours vs ours"][1]))
    for r in rows:
        lines.append(f"| {r['measure']} | {r['direction']} | " + " | ".join(cell(*r[g]) for g in GROUPS) + " |")
    lines += ["", "Each cell: the share of decided trials in which the judge chose the side this measure calls "
              "better (95 % Wilson interval; trials counted: those in which both sides have the measure and "
              "differ on it). 50 %: the measure says nothing about the choice."]
    text = "\n".join(lines)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
