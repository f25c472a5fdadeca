"""The blind forced-choice kit on a fake eval run: randomised sides, no method named where the
judge looks, and scoring that recovers a judge's known preference."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from adain.core.errors import UserError
from adain.evaluation.forced_choice import binomial_two_sided_p, prepare, score, wilson_interval
from conftest import write_image

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake_run(tmp_path) -> Path:
    """An eval run dir with 12 pairs and two variants (only its metrics.csv and images)."""
    run = tmp_path / "run"
    rows = []
    for i in range(12):
        content = write_image(tmp_path / "content" / f"c{i}.png", 40, 32, seed=i)
        style = write_image(tmp_path / "style" / f"s{i % 3}.png", 36, 48, seed=100 + i % 3)
        for variant, seed in (("adain[alpha=1]", 200), ("magenta", 300)):
            output = f"outputs/{variant[:5]}/c{i}__s{i % 3}.png"
            write_image(run / output, 32, 32, seed=seed + i)
            rows.append({"variant": variant, "content_path": str(content), "style_path": str(style), "output": output})
    rows.append({"variant": "adain[alpha=1]", "content_path": "only-a.png", "style_path": "x.png", "output": "none.png"})
    with (run / "metrics.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return run


def _answer(out: Path, pick) -> None:
    key = {t["trial"]: t for t in json.loads((out / "key.json").read_text())["trials"]}
    with (out / "answers.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with (out / "answers.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["trial", "choice"])
        writer.writerows([[r["trial"], pick(key[r["trial"]], i)] for i, r in enumerate(rows)])


def test_prepare_randomises_sides_and_hides_the_methods(fake_run, tmp_path):
    out = tmp_path / "fc"
    trials = prepare(fake_run, "adain[alpha=1]", "magenta", out, seed=1)
    assert len(trials) == 12  # the pair only one variant has is left out
    lefts = [t["left"] for t in trials]
    assert 2 <= lefts.count("magenta") <= 10  # sides drawn per trial, not fixed
    assert sorted(p.name for p in (out / "trials").glob("*.png")) == [f"{i:03d}.png" for i in range(1, 13)]
    answers = (out / "answers.csv").read_text()
    assert "magenta" not in answers and "adain" not in answers
    from PIL import Image

    with Image.open(out / "trials" / "001.png") as image:
        assert image.size == (4 * 32, 32 + 16)  # content | style | left | right at the output size
    again = prepare(fake_run, "adain[alpha=1]", "magenta", tmp_path / "fc2", seed=1)
    assert again == trials  # seeded: reproducible
    with pytest.raises(UserError, match="no rows of variant 'gatys'"):
        prepare(fake_run, "adain[alpha=1]", "gatys", tmp_path / "fc3")


def test_score_recovers_a_judge_s_preference(fake_run, tmp_path):
    out = tmp_path / "fc"
    prepare(fake_run, "adain[alpha=1]", "magenta", out, seed=2)
    # a judge who always prefers magenta, except one tie and one unanswered trial
    _answer(out, lambda t, i: "=" if i == 0 else "" if i == 1 else ("L" if t["left"] == "magenta" else "r"))
    result = score(out / "key.json", out / "answers.csv")
    assert (result["wins_a"], result["wins_b"], result["ties"], result["answered"]) == (0, 10, 1, 11)
    assert result["share_a"] == 0.0 and result["share_a_95ci"][1] < 0.35
    assert result["p_value"] == pytest.approx(2 / 2 ** 10)
    _answer(out, lambda t, i: "X")
    with pytest.raises(UserError, match="expected L, R or ="):
        score(out / "key.json", out / "answers.csv")


def test_statistics_of_known_cases():
    assert binomial_two_sided_p(5, 10) == pytest.approx(1.0)
    assert binomial_two_sided_p(9, 10) == pytest.approx(22 / 1024)  # k ∈ {0, 1, 9, 10}
    assert binomial_two_sided_p(0, 0) == 1.0
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-3) and high == pytest.approx(0.7634, abs=1e-3)


def test_the_script_runs_end_to_end(fake_run, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("forced_choice_cli", REPO / "experiments" / "eval" / "forced_choice.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = tmp_path / "fc"
    assert cli.main(["prepare", str(fake_run), "adain[alpha=1]", "magenta", str(out), "--max-trials", "4"]) == 0
    _answer(out, lambda t, i: "L")
    assert cli.main(["score", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["answered"] == 4 and result["wins_a"] + result["wins_b"] == 4
    assert cli.main(["score", str(tmp_path / "nowhere")]) == 2
    assert "forced_choice: error:" in capsys.readouterr().err
