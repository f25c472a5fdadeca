"""tools/judge_agreement.py: a judge who always picks the side with the lower blotch agrees with
blotch in every decided trial and with a measure unrelated to the choice about half the time."""

import csv
import json
import random
from pathlib import Path

from conftest import load_script



def write_run_and_sets(tmp_path: Path) -> Path:
    """An eval run with two variants × 40 pairs (blotch and halo per pair) and one archived set in
    which the judge picks the lower blotch in every trial, ties the last one."""
    rng = random.Random(0)
    run = tmp_path / "runs" / "eval" / "fake"
    run.mkdir(parents=True)
    pairs = [(f"c{i}.png", f"s{i % 5}.jpg") for i in range(40)]
    metrics = {}
    with open(run / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["variant", "content", "style", "blotch", "halo"])
        writer.writeheader()
        for variant in ("new", "old"):
            for content, style in pairs:
                row = {"variant": variant, "content": content, "style": style,
                       "blotch": rng.uniform(40, 90), "halo": rng.uniform(0, 1)}
                metrics[(variant, content, style)] = row
                writer.writerow(row)
    folder = tmp_path / "artefacts"
    judged = folder / "judge7-new-vs-old"
    judged.mkdir(parents=True)
    trials, answers = [], ["trial,choice"]
    for number, (content, style) in enumerate(pairs, start=1):
        left, right = ("new", "old") if number % 2 else ("old", "new")
        trials.append({"trial": f"{number:03d}", "left": left, "right": right, "content": content, "style": style})
        lower = left if metrics[(left, content, style)]["blotch"] < metrics[(right, content, style)]["blotch"] else right
        answers.append(f"{number:03d},{'=' if number == 40 else 'L' if lower == left else 'R'}")
    (judged / "key.json").write_text(json.dumps({"a": "new", "b": "old", "run_dir": "runs/eval/fake", "trials": trials}))
    (judged / "answers.csv").write_text("\n".join(answers) + "\n")
    return folder


def test_a_measure_the_judge_followed_agrees_always_and_another_about_half(tmp_path, capsys):
    tool = load_script("tools/judge_agreement.py")
    folder = write_run_and_sets(tmp_path)
    found, skipped = tool.decisions([folder], tmp_path)
    assert len(found) == 39 and not skipped  # the tie is not a decision
    table = {row["measure"]: row for row in tool.agreement(found)}
    assert table["blotch"]["all"] == (39, 39) and table["blotch"]["ours vs ours"] == (39, 39)
    assert table["blotch"]["vs Magenta"] == (0, 0)
    agree, counted = table["halo"]["all"]
    assert counted == 39 and 8 <= agree <= 31  # unrelated to the choice
    assert "effnet_content" not in table  # not in that run's metrics
    out = tmp_path / "agreement.md"
    assert tool.main([str(folder), "--root", str(tmp_path), "--markdown", str(out)]) == 0
    assert "| blotch | lower | 100 % (91–100; 39) | – | 100 % (91–100; 39) |" in out.read_text()


def test_sets_whose_run_is_absent_are_counted_and_nothing_usable_is_an_error(tmp_path, capsys):
    tool = load_script("tools/judge_agreement.py")
    folder = write_run_and_sets(tmp_path)
    assert tool.main([str(folder), "--root", str(tmp_path / "elsewhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("judge_agreement: error: no decided trial") and "sets left out: 1" in err[0]
    assert tool.main([str(tmp_path / "empty")]) == 2
    assert "expected a folder of archived forced-choice sets" in capsys.readouterr().err


def test_a_malformed_key_is_named_and_a_trial_missing_from_the_run_is_counted(tmp_path, capsys):
    tool = load_script("tools/judge_agreement.py")
    folder = write_run_and_sets(tmp_path)
    key_path = folder / "judge7-new-vs-old" / "key.json"
    key = json.loads(key_path.read_text())
    key["trials"][0]["content"] = "renamed.png"
    key_path.write_text(json.dumps(key))
    found, skipped = tool.decisions([folder], tmp_path)
    assert len(found) == 38 and skipped == [("unmatched", "judge7-new-vs-old: 1 trials not in runs/eval/fake's metrics.csv")]
    key_path.write_text("{not json")
    assert tool.main([str(folder), "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{key_path}: not a forced-choice key" in err[0]
