"""The blind forced-choice kit on a fake eval run: randomised sides, no method named where the
judge looks, and scoring that recovers a judge's known preference."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from adain.core.errors import UserError
from adain.evaluation.forced_choice import binomial_two_sided_p, prepare, score, wilson_interval
from conftest import load_script, write_image



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
    _answer(out, lambda t, i: "=")  # a judge who sees no difference anywhere: no share, valid JSON
    tied = score(out / "key.json", out / "answers.csv")
    assert tied["share_a"] is None and tied["share_a_95ci"] == [0.0, 1.0] and tied["p_value"] == 1.0
    json.loads(json.dumps(tied, allow_nan=False))
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
    cli = load_script("experiments/eval/forced_choice.py")
    out = tmp_path / "fc"
    assert cli.main(["prepare", str(fake_run), "adain[alpha=1]", "magenta", str(out), "--max-trials", "4"]) == 0
    _answer(out, lambda t, i: "L")
    assert cli.main(["score", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["answered"] == 4 and result["wins_a"] + result["wins_b"] == 4
    assert cli.main(["score", str(tmp_path / "nowhere")]) == 2
    assert "forced_choice: error:" in capsys.readouterr().err


def test_a_panel_shows_judges_no_method_and_pools_their_answers(fake_run, tmp_path, capsys):
    cli = load_script("experiments/eval/forced_choice.py")
    panel = tmp_path / "panel"
    assert cli.main(["panel", str(fake_run), str(panel), "--compare", "adain[alpha=1]", "magenta",
                     "--compare", "magenta", "adain[alpha=1]", "--judges", "2", "--seed", "3", "--max-trials", "6"]) == 0
    for judge in ("judge1", "judge2"):
        given = sorted(str(p.relative_to(panel / judge)) for p in (panel / judge).rglob("*") if p.is_file())
        assert given == ["instructions.md", *[f"set{k}/{f}" for k in (1, 2) for f in
                                               ["answers.csv", *[f"trials/{t:03d}.png" for t in range(1, 7)]]]]
        text = "\n".join(p.read_text() for p in (panel / judge).rglob("*.csv")) + (panel / judge / "instructions.md").read_text()
        assert "adain" not in text and "magenta" not in text  # nothing the judge is given names a method
        assert str((panel / judge).resolve()) in (panel / judge / "instructions.md").read_text()
        assert "2 sets, `set1/` and `set2/`" in (panel / judge / "instructions.md").read_text()
    keys = {p.name: json.loads(p.read_text()) for p in (panel / "keys").glob("*.json")}
    assert sorted(keys) == ["judge1-set1.json", "judge1-set2.json", "judge2-set1.json", "judge2-set2.json"]
    # each judge and set has its own draw of sides and order
    assert keys["judge1-set1.json"]["trials"] != keys["judge2-set1.json"]["trials"]
    # judge 1 always picks adain, judge 2 always magenta, one tie each in set 1
    for judge, favourite in (("judge1", "adain[alpha=1]"), ("judge2", "magenta")):
        for number in (1, 2):
            key = keys[f"{judge}-set{number}.json"]
            trials = {t["trial"]: t for t in key["trials"]}
            with (panel / judge / f"set{number}" / "answers.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["trial", "choice"])
                for i, name in enumerate(sorted(trials)):
                    pick = "=" if number == 1 and i == 0 else ("L" if trials[name]["left"] == favourite else "R")
                    writer.writerow([name, pick])
    assert cli.main(["pool", str(panel)]) == 0
    pooled = {(r["a"], r["b"]): r for r in json.loads((panel / "pooled.json").read_text())}
    first = pooled[("adain[alpha=1]", "magenta")]
    assert (first["wins_a"], first["wins_b"], first["ties"]) == (5, 5, 2)
    assert first["judges"]["judge1"]["share_a"] == 1.0 and first["judges"]["judge2"]["share_a"] == 0.0
    second = pooled[("magenta", "adain[alpha=1]")]
    assert (second["wins_a"], second["wins_b"], second["ties"]) == (6, 6, 0) and second["p_value"] == 1.0
    assert "| adain[alpha=1] vs magenta | 5 | 5 | 2 | 50.0 % (100, 0) |" in capsys.readouterr().out
    # a judge who saw no difference in a set (every trial '=') has no share: '–', null in the JSON
    for judge in ("judge1", "judge2"):
        answers = panel / judge / "set1" / "answers.csv"
        rows = [line.split(",")[0] for line in answers.read_text().splitlines()[1:]]
        answers.write_text("trial,choice\n" + "".join(f"{row},=\n" for row in rows))
        assert cli.main(["pool", str(panel)]) == 0
    out = capsys.readouterr().out
    assert "| adain[alpha=1] vs magenta | 0 | 5 | 7 | 0.0 % (–, 0) |" in out  # judge 1 tied all
    assert "| adain[alpha=1] vs magenta | 0 | 0 | 12 | – (–, –) |" in out  # then judge 2 too
    tied = json.loads((panel / "pooled.json").read_text(), parse_constant=lambda name: pytest.fail(name))
    assert tied[0]["share_a"] is None and tied[0]["judges"]["judge1"]["share_a"] is None
    # a panel is never written over an existing one; a folder that is not a panel is named
    assert cli.main(["panel", str(fake_run), str(panel), "--compare", "adain[alpha=1]", "magenta"]) == 2
    assert cli.main(["pool", str(tmp_path)]) == 2
    # a wrong label in the second comparison, a repeated comparison, a negative count, a variant
    # against itself: one line each, and nothing written
    for bad in (["--compare", "adain[alpha=1]", "magenta", "--compare", "adain[alpha=1]", "magneta"],
                ["--compare", "adain[alpha=1]", "magenta", "--compare", "adain[alpha=1]", "magenta"],
                ["--compare", "adain[alpha=1]", "magenta", "--max-trials", "-2"],
                ["--compare", "magenta", "magenta"]):
        assert cli.main(["panel", str(fake_run), str(tmp_path / "other"), *bad]) == 2
        assert not (tmp_path / "other").exists() and not (tmp_path / "other.partial").exists()
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 6 and all(line.startswith("forced_choice: error:") for line in errors)
    assert "'magneta'" in errors[2] and "repeats" in errors[3] and "-2" in errors[4] and "itself" in errors[5]


def test_archive_keeps_each_judges_answers_key_and_result_and_never_overwrites(fake_run, tmp_path, capsys):
    cli = load_script("experiments/eval/forced_choice.py")
    panel, dest = tmp_path / "panel", tmp_path / "artefacts"
    assert cli.main(["panel", str(fake_run), str(panel), "--compare", "adain[alpha=1]", "magenta",
                     "--judges", "2", "--seed", "5", "--max-trials", "5"]) == 0
    answers = {judge: panel / judge / "set1" / "answers.csv" for judge in ("judge1", "judge2")}
    rows = {judge: [line.split(",")[0] for line in path.read_text().splitlines()[1:]] for judge, path in answers.items()}
    answers["judge1"].write_text("trial,choice\n" + "".join(f"{row},L\n" for row in rows["judge1"]))
    answers["judge2"].write_text("trial,choice\n" + "".join(f"{row},R\n" for row in rows["judge2"][:-1]) + f"{rows['judge2'][-1]},\n")
    capsys.readouterr()
    # a set not fully answered is refused, naming it; then a bad folder name
    assert cli.main(["archive", str(panel), str(dest), "--name", "probe", "--first-judge", "58", "--sets", "x"]) == 2
    assert cli.main(["archive", str(panel), str(dest), "--name", "../up", "--first-judge", "58", "--sets", "x"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert "judge2: 1 of 5 trials of adain[alpha=1] vs magenta unanswered" in errors[0]
    assert "'../up': expected one folder name" in errors[1] and not dest.exists()
    answers["judge2"].write_text("trial,choice\n" + "".join(f"{row},R\n" for row in rows["judge2"]))
    assert cli.main(["archive", str(panel), str(dest), "--name", "probe", "--first-judge", "58",
                     "--sets", "probe-vs-magenta"]) == 0
    assert "set1 (adain[alpha=1] vs magenta) →" in capsys.readouterr().out
    assert sorted(p.name for p in dest.iterdir()) == ["judge58-probe-vs-magenta", "judge59-probe-vs-magenta",
                                                     "pooled_probe.json"]
    for judge, number in (("judge1", 58), ("judge2", 59)):
        kept = dest / f"judge{number}-probe-vs-magenta"
        assert (kept / "answers.csv").read_text() == answers[judge].read_text()
        key = json.loads((kept / "key.json").read_text())
        assert key == json.loads((panel / "keys" / f"{judge}-set1.json").read_text())
        result = json.loads((kept / "result.json").read_text())
        lefts = sum(t["left"] == "adain[alpha=1]" for t in key["trials"])  # L always: the wins of whatever was left
        expected = lefts if judge == "judge1" else 5 - lefts
        assert (result["a"], result["answered"], result["wins_a"]) == ("adain[alpha=1]", 5, expected)
    pooled = json.loads((dest / "pooled_probe.json").read_text())
    assert pooled[0]["trials"] == 10 and sorted(pooled[0]["judges"]) == ["judge58", "judge59"]  # project numbers
    # nothing is overwritten: a judge number already archived (under any set name), set names that
    # do not match the sets one to one
    before = {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert cli.main(["archive", str(panel), str(dest), "--name", "other", "--first-judge", "59",
                     "--sets", "another-name"]) == 2
    assert cli.main(["archive", str(panel), str(dest), "--name", "other", "--first-judge", "70",
                     "--sets", "a", "b"]) == 2
    assert {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()} == before
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and "judge 59 is archived there already; expected --first-judge 60" in errors[0]
    assert "one per set" in errors[1]
