"""Training sweeps (adain.evaluation.training_sweep, `adain sweep`): the W&B sweep file is valid
for train.py, the local grid trains and scores every point, resumes, and refuses bad input in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adain.cli.main import main
from adain.core.errors import UserError
from adain.evaluation import training_sweep as TS
from adain.evaluation.training_sweep import runner, table
from test_training import image_folders  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "configs" / "sweep" / "train.yaml"
SMOKE = ROOT / "configs" / "train" / "smoke.yaml"


def _sweep_file(path: Path, parameters: str, fixed: list[str] = (), base: Path = SMOKE) -> Path:
    command = "\n".join(f"  - {item}" for item in ["${env}", "${interpreter}", "${program}", "--config", str(base),
                                                  "wandb.mode=online", *fixed, "${args_no_hyphens}"])
    path.write_text(f"program: train.py\nmethod: grid\nmetric: {{name: val/score, goal: minimize}}\n"
                    f"parameters:\n{parameters}\ncommand:\n{command}\n")
    return path


# --- the checked-in sweep file -----------------------------------------------------------------------

def test_the_checked_in_sweep_file_sweeps_real_train_config_keys():
    spec = TS.load_sweep(SWEEP)
    TS.check_keys(spec)
    assert spec.raw["program"] == "train.py" and spec.raw["method"] == "grid"
    assert {"optim.lr", "optim.style_weight", "data.crop_size"} <= set(spec.parameters)
    assert spec.base_config == "configs/train/finetune.yaml" and (ROOT / spec.base_config).is_file()
    grid = TS.points(spec)
    assert len(grid) == 2 * 3 * 2 and len({p.slug for p in grid}) == len(grid)
    from adain.train.config import load_config

    for point in grid:  # every point composes with the base config (types included)
        cfg = load_config(ROOT / spec.base_config, [*spec.fixed, *point.overrides])
        for key, value in point.values.items():
            section, name = key.split(".")
            assert getattr(getattr(cfg, section), name) == value


def test_the_w_and_b_agent_s_command_is_a_valid_train_py_command(monkeypatch):
    """The argv a W&B agent builds from the file (its own macro code, as wandb_agent does) parses
    in train.py and composes, with the point's values set and a run_dir per W&B run."""
    utils = pytest.importorskip("wandb.sdk.launch.sweeps.utils")
    import importlib.util

    import yaml

    loader = importlib.util.spec_from_file_location("train_py", ROOT / "train.py")
    train = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(train)
    raw = yaml.safe_load(SWEEP.read_text())
    spec = TS.load_sweep(SWEEP)
    point = TS.points(spec)[-1]
    sweep_vars = utils.create_sweep_command_args({"args": {k: {"value": v} for k, v in point.values.items()}})
    sweep_vars.update(interpreter=["python"], program=[raw["program"]], env=["/usr/bin/env"])
    argv = []
    for item in raw["command"]:
        item = str(item)
        argv += (sweep_vars.get(item[2:-1]) or []) if item.startswith("${") and item.endswith("}") else [item]
    assert argv[:3] == ["/usr/bin/env", "python", "train.py"]
    seen = {}
    monkeypatch.setattr("adain.train.stages.train", lambda cfg: seen.setdefault("cfg", cfg) and {})
    monkeypatch.setenv("WANDB_RUN_ID", "abc123")
    monkeypatch.chdir(ROOT)
    assert train.main(argv[3:]) == 0
    cfg = seen["cfg"]
    assert (cfg.optim.lr, cfg.optim.style_weight, cfg.data.crop_size) == (0.0004, 30.0, 256)
    assert cfg.wandb.mode == "online" and cfg.run_dir == "runs/sweep/train/abc123"


def test_points_are_a_stable_labelled_product(tmp_path):
    spec = TS.load_sweep(_sweep_file(tmp_path / "s.yaml", "  optim.lr: {values: [0.0001, 0.0002]}\n"
                                                         "  optim.style_weight: {values: [5.0, 20.0]}\n"
                                                         "  optim.batch_size: {value: 2}"))
    assert [p.slug for p in TS.points(spec)] == ["lr-0.0001_style_weight-5", "lr-0.0001_style_weight-20",
                                                 "lr-0.0002_style_weight-5", "lr-0.0002_style_weight-20"]
    assert TS.points(spec)[1].overrides == ["optim.lr=0.0001", "optim.style_weight=20.0", "optim.batch_size=2"]
    assert spec.fixed == []  # wandb.mode (the agent's) is the runner's own
    narrowed, rest = TS.split_overrides(spec, ["optim.style_weight=5.0", "steps=3"])
    assert [p.slug for p in TS.points(narrowed)] == ["lr-0.0001", "lr-0.0002"] and rest == ["steps=3"]
    assert TS.pair_layout(8) == (4, 2) and TS.pair_layout(9) == (3, 3) and TS.pair_layout(2) == (2, 1)


# --- bad input: one line, exit status 2, before anything trains -----------------------------------------

BAD = {
    "missing": (None, "sweep file not found"),
    "not-a-key": ("  optim.lrr: {values: [0.1]}", "parameter 'optim.lrr' is not a train-config key"),
    "section": ("  optim: {values: [1]}", "parameter 'optim' is a section"),
    "empty": ("  optim.lr: {values: []}", "parameter 'optim.lr': `values` must be a non-empty list"),
    "wrong-type": ("  optim.lr: {values: [fast]}", "optim.lr"),
    "no-values": ("  optim.lr: {min: 0.1, max: 1}", "expected `values: [...]`"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_before_anything_trains(tmp_path, capsys, case):
    parameters, message = BAD[case]
    path = tmp_path / "missing.yaml" if parameters is None else _sweep_file(tmp_path / "s.yaml", parameters)
    run_dir = tmp_path / "run"
    assert main(["sweep", "--config", str(path), "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("adain: error: ") and message in err[0], err
    assert not run_dir.exists()


def test_bad_input_exits_2_from_the_console(tmp_path):
    bad = _sweep_file(tmp_path / "s.yaml", "  optim.lr: {values: []}")
    proc = subprocess.run([sys.executable, "-m", "adain", "sweep", "--config", str(bad), "--run-dir", str(tmp_path / "r")],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"adain: error: {bad}: parameter 'optim.lr': `values` must be a "
                                                f"non-empty list"]


def test_a_swept_run_dir_or_a_random_search_is_refused(tmp_path):
    with pytest.raises(UserError, match="set by the runner"):
        TS.check_keys(TS.load_sweep(_sweep_file(tmp_path / "a.yaml", "  run_dir: {values: [a, b]}")))
    path = _sweep_file(tmp_path / "b.yaml", "  optim.lr: {values: [0.1]}")
    path.write_text(path.read_text().replace("method: grid", "method: random"))
    with pytest.raises(UserError, match="grids only"):
        TS.load_sweep(path)
    with pytest.raises(UserError, match="use --run-dir"):
        TS.split_overrides(TS.load_sweep(_sweep_file(tmp_path / "c.yaml", "  optim.lr: {values: [0.1]}")),
                           ["run_dir=x"])


# --- a real grid, end to end ----------------------------------------------------------------------------

@pytest.mark.slow
def test_a_two_point_grid_trains_scores_resumes_and_skips(tmp_path, image_folders, decoder_file, monkeypatch):  # noqa: F811
    """Two points of two steps on 64² crops, scored on 1 val pair at 32²; point 1 starts half
    trained (it continues from its checkpoint), point 2 is interrupted, then finished by a re-run;
    a third run trains and evaluates nothing."""
    import csv

    from adain.train.checkpoint import load_checkpoint
    from adain.train.loop import run as train_loop

    fixed = [f"{k}={v}" for k, v in image_folders.items()] + [
        "steps=2", "precision=fp32", "val_pairs=1", "val_size=32", "image_every=0", f"init_decoder={decoder_file}"]
    sweep = _sweep_file(tmp_path / "sweep.yaml", "  optim.lr: {values: [0.0001, 0.001]}", fixed)
    run_dir = tmp_path / "sweep"
    spec = TS.load_sweep(sweep)
    first, second = TS.points(spec)
    args = dict(overrides=["wandb.mode=disabled"], pairs=1, size=32, threads=1)

    full = TS.point_config(spec, first, args["overrides"], run_dir / first.slug)
    half = full.copy()
    half.steps = 1
    train_loop(half)  # as if the sweep had stopped after step 1 of point 1
    runner._claim(run_dir / first.slug, first, full)

    real_train = runner.train_point

    def interrupt_second(cfg, folder, log):
        if folder.name == second.slug:
            raise KeyboardInterrupt
        return real_train(cfg, folder, log)

    monkeypatch.setattr(runner, "train_point", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        TS.run_sweep(sweep, run_dir, log=lambda m: None, **args)
    steps = [int(line.split(",")[0][9:]) for line in (run_dir / first.slug / "metrics.jsonl").read_text().splitlines()
             if line.startswith('{"step": ') and '"train/loss"' in line]
    assert steps == [1, 2]  # continued from its own checkpoint, not restarted
    rows = TS.read_csv(run_dir / "sweep.csv")  # written on the way out
    assert [r["point"] for r in rows] == ["reference: decoder-test", first.slug, second.slug]
    assert rows[1]["effnet_content"] and not rows[2]["effnet_content"] and rows[2]["trained"] == "False"

    monkeypatch.setattr(runner, "train_point", real_train)
    decoder_one = run_dir / first.slug / TS.DECODER_FILE
    stamp = decoder_one.stat().st_mtime_ns
    logs: list[str] = []
    TS.run_sweep(sweep, run_dir, log=logs.append, **args)
    assert any(m.endswith(f"{first.slug}: trained and evaluated already; skipped") for m in logs), logs
    assert any(m.endswith(f"{second.slug}: training optim.lr=0.001") for m in logs), logs
    assert decoder_one.stat().st_mtime_ns == stamp
    for point in (first, second):
        assert load_checkpoint(run_dir / point.slug / "checkpoints" / "latest.pt")["step"] == 2
    with (run_dir / "sweep.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 and [r["optim.lr"] for r in rows] == ["", "0.0001", "0.001"]
    measures = ["effnet_content", "effnet_style_mean_std", "color_w1", "rel_content", "rel_style", "stray_colour",
                "halo", "blotch", "muddiness", "colour_leak", "frame", "grid"]
    for row in rows:
        for name in measures:
            assert float(row[name]) == float(row[name]), (row["point"], name)  # filled, not NaN
        assert row["pairs"] == "1"
    for row in rows[1:]:
        assert row["steps"] == "2" and float(row["train_loss"]) > 0 and row["trained"] == "True"
    table = (run_dir / "sweep.md").read_text()
    assert table.count(f"| {first.slug} |") == 2 and "effnet_content ↓" in table  # the training and the measures table
    from PIL import Image

    with Image.open(run_dir / "sweep.png") as plot:
        assert plot.size[0] > 300

    def must_not_train(*_):
        raise AssertionError("a finished point was trained again")

    monkeypatch.setattr(runner, "train_point", must_not_train)
    monkeypatch.setattr(runner, "evaluate", must_not_train)
    logs.clear()
    TS.run_sweep(sweep, run_dir, log=logs.append, **args)
    assert sum("skipped" in m for m in logs) == 2

    # the same folder with other settings is refused, not continued
    other = _sweep_file(tmp_path / "other.yaml", "  optim.lr: {values: [0.0001, 0.001]}", [*fixed, "optim.style_weight=3"])
    with pytest.raises(UserError, match="trained with other settings"):
        TS.run_sweep(other, run_dir, log=lambda m: None, **args)


def test_sweep_help_does_not_import_torch(tmp_path):
    code = ("import sys\nfrom adain.cli.main import main\ntry:\n    main(['sweep', '--help'])\n"
            "except SystemExit as exc:\n    assert exc.code == 0\nprint('torch' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert "--run-dir" in proc.stdout and proc.stdout.strip().splitlines()[-1] == "False"


def test_near_coincident_points_share_one_label_on_the_plot():
    series = {"lr=0.1": [(1.0, 0.5, "sw=3"), (1.001, 0.5002, "sw=10"), (2.0, 1.0, "sw=30")]}
    assert table._merge_close_labels(series) == {"lr=0.1": [(1.0, 0.5, "sw=3 / sw=10"), (1.001, 0.5002, ""),
                                                            (2.0, 1.0, "sw=30")]}
    assert TS.sweep_plot([], ["optim.lr"]).size[0] > 300  # no finite point: an empty plot, no error
