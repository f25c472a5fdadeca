"""A blind two-alternative forced-choice comparison of two methods on the pairs of an eval run,
the way stylisations are judged in user studies: a person sees content | style | left | right,
picks the better stylisation, and never learns which method is which until the answers are
scored.  The CLI is experiments/eval/forced_choice.py.

    prepare(run_dir, "adain[alpha=1]", "magenta", out_dir)   # trials/*.png, answers.csv, key.json
    score(out_dir / "key.json", out_dir / "answers.csv")      # wins, share, 95 % interval, p-value

A panel of several judges, each shown one set per comparison and nothing else:

    prepare_panel(run_dir, [("new", "current"), ("new", "magenta")], panel_dir, judges=3, seed=20)
    # give panel_dir/judge1/ … judge3/ (instructions.md, set1/, set2/) to three independent judges
    pool(panel_dir)                                           # per judge and pooled, per comparison
    archive(panel_dir, "experiments/eval/artefacts/…", "new", 58, ["new-vs-current", "new-vs-magenta"])

Left/right is drawn per trial with a seeded RNG and the trial order is shuffled, so position and
order carry no information; trial images and answers.csv name no method, key.json does (keep it
away from the judge).  Answers: L, R, or = (no preference; counted apart, not as half a win).
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
import shutil
from pathlib import Path

from adain.core.errors import UserError

CHOICES = {"l": "left", "r": "right", "=": "tie"}


def _rows_by_pair(run_dir: Path, variant: str) -> dict[tuple[str, str], dict]:
    with (run_dir / "metrics.csv").open(newline="") as handle:
        return {(r["content_path"], r["style_path"]): r for r in csv.DictReader(handle) if r["variant"] == variant}


def _shared_pairs(run_dir: Path, method_a: str, method_b: str, max_trials: int):
    """(rows of a, rows of b, the pairs both have) of an eval run, or a one-line UserError."""
    if not (run_dir / "metrics.csv").is_file():
        raise UserError(f"{run_dir}: no metrics.csv; expected the run dir of an eval.py run")
    if method_a == method_b:
        raise UserError(f"{method_a!r} against itself: expected two different variants")
    if max_trials < 0:
        raise UserError(f"max trials {max_trials}: expected 0 (every shared pair) or a positive count")
    rows_a, rows_b = _rows_by_pair(run_dir, method_a), _rows_by_pair(run_dir, method_b)
    for name, rows in ((method_a, rows_a), (method_b, rows_b)):
        if not rows:
            raise UserError(f"{run_dir}/metrics.csv: no rows of variant {name!r}")
    pairs = [pair for pair in rows_a if pair in rows_b]
    if not pairs:
        raise UserError(f"{method_a!r} and {method_b!r} share no content × style pair in {run_dir}")
    return rows_a, rows_b, pairs


def prepare(run_dir: str | Path, method_a: str, method_b: str, out_dir: str | Path, seed: int = 0,
            max_trials: int = 0) -> list[dict]:
    """Write out_dir/trials/NNN.png, out_dir/answers.csv (blank) and out_dir/key.json for every
    pair on which both variants of an eval run have an output.  Returns the key's trials."""
    from PIL import Image, ImageDraw, ImageFont

    from adain.train.data import center_square
    from adain.core.io import open_image, resize_shorter, save_image

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    rows_a, rows_b, pairs = _shared_pairs(run_dir, method_a, method_b, max_trials)
    rng = random.Random(seed)
    rng.shuffle(pairs)
    if max_trials:
        pairs = pairs[:max_trials]
    font = ImageFont.load_default()
    trials = []
    for index, (content_path, style_path) in enumerate(pairs):
        row_a, row_b = rows_a[(content_path, style_path)], rows_b[(content_path, style_path)]
        a_left = rng.random() < 0.5
        left, right = (row_a, row_b) if a_left else (row_b, row_a)
        images = [Image.open(run_dir / left["output"]).convert("RGB"), Image.open(run_dir / right["output"]).convert("RGB")]
        size = images[0].size
        content = center_square(open_image(Path(content_path)), size[1]).resize(size)
        style = center_square(resize_shorter(open_image(Path(style_path)), size[1]), size[1]).resize(size)
        sheet = Image.new("RGB", (4 * size[0], size[1] + 16), "white")
        draw = ImageDraw.Draw(sheet)
        for col, (label, image) in enumerate(zip(("content", "style", "LEFT", "RIGHT"), [content, style, *images])):
            sheet.paste(image, (col * size[0], 16))
            draw.text((col * size[0] + 4, 2), label, fill="black", font=font)
        name = f"{index + 1:03d}"
        save_image(sheet, out_dir / "trials" / f"{name}.png")
        trials.append({"trial": name, "left": left["variant"], "right": right["variant"],
                       "content": Path(content_path).name, "style": Path(style_path).name})
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "key.json").write_text(json.dumps({"a": method_a, "b": method_b, "seed": seed, "run_dir": str(run_dir),
                                                  "trials": trials}, indent=1))
    with (out_dir / "answers.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["trial", "choice"])
        writer.writerows([[t["trial"], ""] for t in trials])
    return trials


INSTRUCTIONS = """\
You are an independent judge in a blind comparison of image stylisations (neural style transfer).
Work only with the files named here; do not open or list any other folder on this machine, and do not
run any program other than what viewing the images needs.

Your folder: {folder}. It holds {sets}. Each set has `trials/001.png`,
`trials/002.png`, … and a blank `answers.csv` (columns: trial, choice).

Each trial image shows four panels side by side, labelled at the top: the content photo, the style
(a painting), then two stylisations of that photo in that painting's style: LEFT and RIGHT. They come
from two different methods; which is which is hidden and changes from trial to trial.

For every trial, open the image (the image viewer of your file tool shows PNG files; look at each at
full size) and decide which stylisation is better, as a person who wants this photo rendered in this
painting's style would choose: does it look like the painting (its colours, brushwork, textures), can
the photo's content still be recognised, and is it free of defects — stray blobs of colour that are
in neither image, light or dark halos along edges, blotches or camouflage patches in flat regions
such as sky, muddy or washed-out colours, the photo's own colours showing through where the painting
has none of them, grid or lattice patterns. Weigh the whole picture; do not count pixels.

Write your choice for each trial into that set's `answers.csv`: `L` for LEFT, `R` for RIGHT, or `=`
only when you truly cannot prefer one. Keep the header and the trial column as they are; fill every
row. Decide each trial on its own; do not try to guess which method is which.

When {every_set} filled, reply with: how many trials you answered in each set, and two or three
sentences per set on what, in general, made you prefer one side (the defects or qualities you saw
most often). Nothing else.
"""


def prepare_panel(run_dir: str | Path, comparisons: list[tuple[str, str]], panel_dir: str | Path, judges: int = 3,
                  seed: int = 0, max_trials: int = 32) -> Path:
    """A blind panel: panel_dir/judgeJ/ holds what judge J is given and nothing else —
    instructions.md (INSTRUCTIONS with its folder filled in) and setK/{trials/*.png, answers.csv},
    set K being comparisons[K-1] = (a, b); the keys are kept apart in panel_dir/keys/judgeJ-setK.json.
    Every judge and set draws its own pairs' order and sides (seed 1000·seed + 10·J + K).  Returns
    panel_dir."""
    panel_dir = Path(panel_dir)
    if not 1 <= judges <= 99 or not 1 <= len(comparisons) <= 9:  # the seeds below stay distinct
        raise UserError(f"a panel of {judges} judges and {len(comparisons)} comparisons: expected 1–99 judges "
                        f"and 1–9 comparisons")
    if len(set(comparisons)) != len(comparisons):
        raise UserError(f"comparisons {comparisons}: one repeats; expected each pair of variants once")
    if panel_dir.exists() and any(panel_dir.iterdir()):
        raise UserError(f"{panel_dir}: not empty; a panel is written into a new folder")
    for a, b in comparisons:  # every label checked before anything is written
        _shared_pairs(Path(run_dir), a, b, max_trials)
    # written beside its place and moved there whole: a failure leaves no half panel (nor a key
    # inside a judge's folder)
    partial = panel_dir.with_name(panel_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        (partial / "keys").mkdir(parents=True)
        for judge in range(1, judges + 1):
            folder = partial / f"judge{judge}"
            for number, (a, b) in enumerate(comparisons, start=1):
                set_dir = folder / f"set{number}"
                prepare(run_dir, a, b, set_dir, seed=1000 * seed + 10 * judge + number, max_trials=max_trials)
                (set_dir / "key.json").replace(partial / "keys" / f"judge{judge}-set{number}.json")
            names = [f"`set{k}/`" for k in range(1, len(comparisons) + 1)]
            sets = (f"one set, {names[0]}" if len(names) == 1 else
                    f"{len(names)} sets, " + ", ".join(names[:-1]) + f" and {names[-1]}")
            (folder / "instructions.md").write_text(INSTRUCTIONS.format(
                folder=(panel_dir / folder.name).resolve(), sets=sets,
                every_set="the set is" if len(names) == 1 else "every set is"))
        if panel_dir.exists():
            panel_dir.rmdir()  # empty (checked above)
        partial.rename(panel_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return panel_dir


def pool(panel_dir: str | Path) -> list[dict]:
    """Score every judge's sets of a `prepare_panel` folder and pool them per comparison: for each
    (a, b), the judges' own results (`score`) and the sums — wins, ties, a's share of decided
    trials, its 95 % Wilson interval and the sign-test p-value.  A set with blank rows is scored on
    what was answered (its `answered` says so)."""
    panel_dir = Path(panel_dir)
    keys = sorted((panel_dir / "keys").glob("judge*-set*.json"))
    if not keys:
        raise UserError(f"{panel_dir}: no keys/judgeJ-setK.json; expected a folder written by prepare_panel")
    comparisons: dict[tuple[str, str], dict] = {}
    for key_path in keys:
        judge, set_name = key_path.stem.split("-")
        result = score(key_path, panel_dir / judge / set_name / "answers.csv")
        entry = comparisons.setdefault((result["a"], result["b"]), {"a": result["a"], "b": result["b"], "judges": {}})
        entry["judges"][judge] = result  # one set per comparison and judge (prepare_panel)
    pooled = []
    for entry in comparisons.values():
        results = entry["judges"].values()
        wins_a, wins_b = sum(r["wins_a"] for r in results), sum(r["wins_b"] for r in results)
        decided = wins_a + wins_b
        entry.update({"wins_a": wins_a, "wins_b": wins_b, "ties": sum(r["ties"] for r in results),
                      "answered": sum(r["answered"] for r in results), "trials": sum(r["trials"] for r in results),
                      "share_a": wins_a / decided if decided else None,  # None: every trial a tie
                      "share_a_95ci": list(wilson_interval(wins_a, decided)),
                      "p_value": binomial_two_sided_p(wins_a, decided)})
        pooled.append(entry)
    return pooled


# An archived folder or pooled file name: one plain path component.
ARCHIVE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def archive(panel_dir: str | Path, dest_dir: str | Path, name: str, first_judge: int,
            set_names: list[str]) -> list[dict]:
    """Keep a judged panel where its verdict is cited.  Judges are numbered on across panels, so
    that every judge of a project keeps one number: the panel's judge J is judge first_judge + J − 1.
    For judge J and set K, dest_dir / f"judge{N}-{set_names[K-1]}/" gets answers.csv, key.json and
    result.json (that judge's score), and dest_dir / f"pooled_{name}.json" gets `pool`'s results
    with each judge under its project number.  Refused before anything is written: a name that is
    not one plain folder name, a set not fully answered, a judge number already archived in
    dest_dir (any judgeN-* folder), an existing pooled file.  Returns, per judge and set,
    {"set": K, "a": …, "b": …, "folder": Path}."""
    panel_dir, dest_dir = Path(panel_dir), Path(dest_dir)
    for label in (name, *set_names):
        if not ARCHIVE_NAME.fullmatch(label):
            raise UserError(f"name {label!r}: expected one folder name of letters, digits, '.', '_' or '-'")
    if first_judge < 1:
        raise UserError(f"first judge {first_judge}: expected a number ≥ 1")
    pooled = pool(panel_dir)
    keys = {(int(p.stem.split("-set")[0].removeprefix("judge")), int(p.stem.split("-set")[1])): p
            for p in (panel_dir / "keys").glob("judge*-set*.json")}
    judges, sets = sorted({j for j, _ in keys}), sorted({k for _, k in keys})
    if len(set_names) != len(sets) or len(set(set_names)) != len(set_names):
        raise UserError(f"set names {set_names}: expected {len(sets)} distinct names, one per set of {panel_dir}")
    for entry in pooled:
        for judge, result in entry["judges"].items():
            if result["answered"] < result["trials"]:
                raise UserError(f"{panel_dir / judge}: {result['trials'] - result['answered']} of {result['trials']} "
                                f"trials of {entry['a']} vs {entry['b']} unanswered; expected every set answered")
    numbers = {judge: first_judge + judge - 1 for judge in judges}
    archived = [int(m.group(1)) for p in dest_dir.glob("judge*-*") if (m := re.match(r"judge(\d+)-", p.name))]
    taken = sorted(set(archived) & set(numbers.values()))
    if taken:
        raise UserError(f"{dest_dir}: judge {taken[0]} is archived there already; expected --first-judge "
                        f"{max(archived) + 1} (the next free number)")
    pooled_path = dest_dir / f"pooled_{name}.json"
    if pooled_path.exists():
        raise UserError(f"{pooled_path}: exists; expected a new pooled name")
    for entry in pooled:
        entry["judges"] = {f"judge{numbers[int(judge.removeprefix('judge'))]}": result
                           for judge, result in entry["judges"].items()}
    written = []
    for (judge, number), key_path in sorted(keys.items()):
        key = json.loads(key_path.read_text())
        entry = next(e for e in pooled if (e["a"], e["b"]) == (key["a"], key["b"]))
        folder = dest_dir / f"judge{numbers[judge]}-{set_names[number - 1]}"
        folder.mkdir(parents=True)
        shutil.copyfile(panel_dir / f"judge{judge}" / f"set{number}" / "answers.csv", folder / "answers.csv")
        shutil.copyfile(key_path, folder / "key.json")
        (folder / "result.json").write_text(json.dumps(entry["judges"][f"judge{numbers[judge]}"], indent=1) + "\n")
        written.append({"set": number, "a": key["a"], "b": key["b"], "folder": folder})
    pooled_path.write_text(json.dumps(pooled, indent=1) + "\n")
    return written


def read_answers(path: str | Path) -> dict[str, str]:
    """answers.csv (trial, choice) → {trial: "left" | "right" | "tie"}; blank choices are skipped."""
    answers = {}
    with Path(path).open(newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            choice = (row.get("choice") or "").strip().lower()
            if not choice:
                continue
            if choice not in CHOICES:
                raise UserError(f"{path}:{line}: choice {row.get('choice')!r}; expected L, R or =")
            answers[str(row["trial"]).strip().zfill(3)] = CHOICES[choice]
    return answers


def binomial_two_sided_p(wins: int, n: int) -> float:
    """Exact two-sided sign test against no preference (p = 1/2): P(|X − n/2| ≥ |wins − n/2|)."""
    if n == 0:
        return 1.0
    extreme = abs(wins - n / 2)
    return min(1.0, sum(math.comb(n, k) for k in range(n + 1) if abs(k - n / 2) >= extreme - 1e-9) / 2 ** n)


def wilson_interval(wins: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (Wilson 1927)."""
    if n == 0:
        return (0.0, 1.0)
    p = wins / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def score(key_path: str | Path, answers_path: str | Path) -> dict:
    """Unblind: wins of each method, ties, unanswered, A's share of decided trials with its 95 %
    interval, and the two-sided sign-test p-value of 'no preference'."""
    key = json.loads(Path(key_path).read_text())
    answers = read_answers(answers_path)
    trials = {t["trial"]: t for t in key["trials"]}
    unknown = sorted(set(answers) - set(trials))
    if unknown:
        raise UserError(f"{answers_path}: trial {unknown[0]} is not in {key_path}")
    wins = {key["a"]: 0, key["b"]: 0}
    ties = 0
    for trial, choice in answers.items():
        if choice == "tie":
            ties += 1
        else:
            wins[trials[trial][choice]] += 1
    decided = wins[key["a"]] + wins[key["b"]]
    low, high = wilson_interval(wins[key["a"]], decided)
    return {"a": key["a"], "b": key["b"], "trials": len(trials), "answered": len(answers),
            "wins_a": wins[key["a"]], "wins_b": wins[key["b"]], "ties": ties,
            "share_a": wins[key["a"]] / decided if decided else None, "share_a_95ci": [low, high],
            "p_value": binomial_two_sided_p(wins[key["a"]], decided)}
