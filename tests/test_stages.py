"""The staged recipe (configs/train/default.yaml, adain.train.stages): every stage runs, resumes, exports."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from adain.core.errors import UserError
from adain.nn.decoder import load_decoder
from adain.train.checkpoint import load_checkpoint, write_slim_checkpoint
from adain.train.config import load_config, portable
from adain.train.stages import changed_keys, check_averaging, run_stages, stage_configs
from test_training import image_folders  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "configs" / "train" / "default.yaml"
TINY = ["precision=fp32", "wandb.mode=disabled", "data.load_size=72", "data.crop_size=64", "optim.batch_size=2",
        "val_pairs=1", "val_size=64", "val_every=2", "image_every=0", "log_every=1", "checkpoint_every=1"]


def _recipe(run_dir: Path, folders: dict, *extra: str, steps: int = 2):
    """The real default recipe with every stage cut to `steps` steps of tiny images (a stage's own
    crop and load sizes are dropped as well)."""
    cfg = load_config(RECIPE, [f"{k}={v}" for k, v in folders.items()] + [f"run_dir={run_dir}", *TINY, *extra])
    for stage in cfg.stages:
        stage.steps = steps
        stage.overrides = [o for o in stage.overrides if not o.startswith(("data.", "optim.batch_size"))]
    return cfg


def test_stage_configs_apply_each_stage_alone():
    cfg = load_config(RECIPE, ["optim.style_weight=7"])
    stages = stage_configs(cfg)
    assert [s.stage for s in stages] == ["reconstruct", "stylise", "skips", "distil"]
    reconstruct, stylise, skips, distil = stages
    assert reconstruct.optim.style_weight == 0 and reconstruct.optim.lr == 2e-4
    assert stylise.optim.style_weight == 7 and stylise.optim.lr == cfg.optim.lr  # the command line reaches it
    assert list(skips.model.decoder_skips) == ["relu3_1", "relu2_1", "relu1_1"]
    assert skips.optim.sw_weight == 0 and distil.optim.sw_weight > 0 and stylise.data.crop_size == 128
    assert stylise.init_decoder.endswith("1-reconstruct/checkpoints/latest.pt") and reconstruct.init_decoder is None
    # the teacher of the last stage is skips' decoder (its start), on crops of the stylise stage's size
    assert distil.optim.distil_weight > 0 and distil.optim.distil_teacher is None and skips.optim.distil_weight == 0
    assert distil.init_decoder.endswith("3-skips/checkpoints/latest.pt") and distil.data.crop_size == 128
    assert all(s.stages == [] for s in stages)


def test_a_misspelt_stage_override_names_the_stage():
    cfg = load_config(RECIPE)
    cfg.stages[2].overrides = ["optim.sw_wieght=3"]
    with pytest.raises(UserError, match="stage 'skips'.*sw_wieght"):
        stage_configs(cfg)


@pytest.mark.parametrize("config", ["default.yaml", "finetune.yaml"])
def test_the_shipped_recipes_keep_the_checkpoints_they_average(config):
    cfg = load_config(ROOT / "configs" / "train" / config)
    check_averaging(cfg, stage_configs(cfg)[-1])


def test_averaging_more_checkpoints_than_the_last_stage_keeps_is_refused_before_training(tmp_path):
    """200 steps at checkpoint_every 100 leave one numbered checkpoint before the final one: a mean
    of three cannot be made, and the run says so before its first step, not after hours of training."""
    cfg = load_config(RECIPE, [f"run_dir={tmp_path}", "average_last=3", "checkpoint_every=100"])
    cfg.stages[-1].steps = 200
    with pytest.raises(UserError, match="average_last 3: stage 'distil'.*keeps 1 numbered"):
        run_stages(cfg)
    assert not any(tmp_path.iterdir())  # nothing trained
    cfg.stages[-1].steps = 250  # 100 and 200 kept before the final step 250
    check_averaging(cfg, stage_configs(cfg)[-1])
    cfg.keep_checkpoints = 1
    with pytest.raises(UserError, match="keeps 1 numbered"):
        check_averaging(cfg, stage_configs(cfg)[-1])
    cfg.keep_checkpoints = 0  # save_checkpoint keeps every numbered checkpoint
    check_averaging(cfg, stage_configs(cfg)[-1])


@pytest.mark.slow
def test_the_whole_recipe_runs_resumes_and_exports(tmp_path, image_folders):  # noqa: F811
    run_dir = tmp_path / "recipe"
    first = _recipe(run_dir, image_folders, steps=3)  # the first stage alone, as if the run had stopped
    first.stages = first.stages[:1]
    run_stages(first)
    assert load_checkpoint(run_dir / "1-reconstruct" / "checkpoints" / "latest.pt")["step"] == 3

    with pytest.raises(UserError, match="already holds this recipe's checkpoints"):
        run_stages(_recipe(run_dir, image_folders, steps=3))  # nothing is overwritten without --resume

    result = run_stages(_recipe(run_dir, image_folders, "resume=auto", steps=3))  # continues with stage 2
    decoder_path = Path(result["decoder"])
    assert decoder_path == run_dir / "decoder.safetensors"
    for index, name in enumerate(["reconstruct", "stylise", "skips", "distil"], start=1):
        state = load_checkpoint(run_dir / f"{index}-{name}" / "checkpoints" / "latest.pt")
        assert state["step"] == 3 and state["config"]["stage"] == name

    decoder, metadata = load_decoder(decoder_path)
    assert decoder.skip_taps == ("relu3_1", "relu2_1", "relu1_1") and decoder.palette_head is not None
    distil = load_checkpoint(run_dir / "4-distil" / "checkpoints" / "latest.pt")["config"]["optim"]
    assert distil["distil_weight"] > 0 and distil["sw_weight"] > 0
    assert metadata["stage"] == "distil" and metadata["averaged_with_steps"] == [2]  # average_last: 2
    recipe = json.loads(decoder_path.with_suffix(".json").read_text())["recipe"]
    assert [s["name"] for s in recipe["stages"]] == ["reconstruct", "stylise", "skips", "distil"]
    assert not any(value.startswith("/") for value in _strings(recipe))  # no path of one machine

    # One thing changed in the late stages: the early stages' final checkpoints copied into a new run
    # are taken as done (docs/training.md, changing one thing), and the change reaches the rest.
    variant = tmp_path / "variant"
    for name in ["1-reconstruct", "2-stylise", "3-skips"]:
        (variant / name / "checkpoints").mkdir(parents=True)
        shutil.copy(run_dir / name / "checkpoints" / "latest.pt", variant / name / "checkpoints" / "latest.pt")
    result = run_stages(_recipe(variant, image_folders, "resume=auto", "optim.content_luma=true", steps=3))
    assert Path(result["decoder"]) == variant / "decoder.safetensors"
    for name in ["1-reconstruct", "2-stylise", "3-skips"]:
        assert not (variant / name / "metrics.jsonl").exists(), name  # not trained again
    assert load_checkpoint(variant / "4-distil" / "checkpoints" / "latest.pt")["config"]["optim"]["content_luma"] is True


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


@pytest.mark.slow
def test_a_slim_checkpoint_resumes_its_own_stage_on_another_machine(tmp_path, image_folders):  # noqa: F811
    here = tmp_path / "here"
    cfg = _recipe(here, image_folders, "average_last=1")
    cfg.stages = cfg.stages[:2]
    run_stages(cfg)
    slim = write_slim_checkpoint(here / "2-stylise" / "checkpoints" / "latest.pt", tmp_path / "resume.pt")

    there = tmp_path / "there"  # a fresh machine: no stage folders at all
    cfg = _recipe(there, image_folders, f"resume={slim}", "average_last=1", steps=3)
    cfg.stages = cfg.stages[:2]
    result = run_stages(cfg)
    assert result["stage"] == "stylise" and result["step"] == 3
    assert not (there / "1-reconstruct").exists()  # the finished stage is not re-run
    assert load_checkpoint(there / "2-stylise" / "checkpoints" / "latest.pt")["step"] == 3

    # The next chunk there, with --resume alone, goes on from the last stage it holds, not from stage 1.
    cfg = _recipe(there, image_folders, "resume=auto", "average_last=1", steps=3)
    cfg.stages = cfg.stages[:3]
    result = run_stages(cfg)
    assert result["stage"] == "skips" and result["step"] == 3 and not (there / "1-reconstruct").exists()

    # A finished stage's slim checkpoint is a starting point too: the next stage trains from it.
    finished = write_slim_checkpoint(there / "2-stylise" / "checkpoints" / "latest.pt", tmp_path / "stylised.pt")
    elsewhere = tmp_path / "elsewhere"
    cfg = _recipe(elsewhere, image_folders, f"resume={finished}", "average_last=1", steps=3)
    cfg.stages = cfg.stages[:3]
    result = run_stages(cfg)
    assert result["stage"] == "skips" and result["step"] == 3 and not (elsewhere / "1-reconstruct").exists()
    assert load_checkpoint(elsewhere / "2-stylise" / "checkpoints" / "latest.pt")["step"] == 3
    assert load_checkpoint(elsewhere / "3-skips" / "checkpoints" / "latest.pt")["step"] == 3
    # ... but not into a run directory whose later stages would go on from their own checkpoints
    with pytest.raises(UserError, match=r"already holds checkpoints of the later stage\(s\) \['skips'\]"):
        run_stages(cfg)


def test_train_py_refuses_a_bad_stage_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - name: a\n    steps: 0\n")
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "--config", str(bad)], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["train.py: error: stage 'a': steps 0; expected at least 1"]


def test_a_stage_set_by_index_is_a_one_line_error():
    with pytest.raises(UserError, match="set whole in the YAML"):
        load_config(RECIPE, ["stages.0.steps=2"])


def test_portable_drops_machine_paths():
    value = {"data": {"content": "/work/pack384/content/train", "style": "../shared/data/style/train"},
             "list": [str(ROOT / "configs" / "x.yaml")]}
    assert portable(value, ROOT) == {"data": {"content": "…/content/train", "style": "../shared/data/style/train"},
                                     "list": ["configs/x.yaml"]}


def test_stages_share_one_adain_floor():
    """The recipe trains with the same AdaIN as inference: a near-silent content channel's gain is
    bounded by the std floor (adain.nn.functional.normalising_std)."""
    from adain.nn import functional as AF

    content = torch.randn(1, 8, 16, 16) * 50
    content[:, 0] = 0.0
    content[:, 0, 0, 0] = 1.0  # a channel silent but for one pixel: std ~0.06 against ~50
    style = AF.FeatureStats(torch.zeros(1, 8, 1, 1), torch.full((1, 8, 1, 1), 50.0))
    out = AF.adain(content, style)
    assert out[:, 0].abs().max() < 50 * 0.1 * 16  # unfloored, that one pixel would be ~800× its std


def test_one_stage_is_changed_from_the_command_line_by_its_name():
    cfg = load_config(RECIPE, ["stages.distil.optim.content_weight=1.0", "stages.skips.optim.content_weight=0.75"])
    by_name = {stage.stage: stage for stage in stage_configs(cfg)}
    default = {stage.stage: stage for stage in stage_configs(load_config(RECIPE))}
    assert default["distil"].optim.content_weight == 1.5  # the YAML's own override, which the command line beats
    assert by_name["distil"].optim.content_weight == 1.0 and by_name["skips"].optim.content_weight == 0.75
    assert by_name["stylise"].optim.content_weight == default["stylise"].optim.content_weight
    assert by_name["distil"].optim.sw_weight == default["distil"].optim.sw_weight  # the stage's other keys stay
    shorter = {stage.stage: stage for stage in stage_configs(load_config(RECIPE, ["stages.distil.steps=50"]))}
    assert shorter["distil"].steps == 50 and shorter["skips"].steps == default["skips"].steps


def test_a_stage_override_names_an_unknown_stage_or_key_in_one_line():
    with pytest.raises(UserError, match=r"no stage 'distl'; expected one of .*'distil'"):
        load_config(RECIPE, ["stages.distl.optim.content_weight=1.0"])
    with pytest.raises(UserError, match="stages.distil.steps=many.*whole number"):
        load_config(RECIPE, ["stages.distil.steps=many"])
    with pytest.raises(UserError, match="stages.distil.steps=².*whole number"):
        load_config(RECIPE, ["stages.distil.steps=²"])
    with pytest.raises(UserError, match="this config has no stages"):
        load_config(None, ["stages.distil.optim.lr=1e-4"])


def test_a_stage_override_is_recorded_in_that_stage_of_the_recipe():
    from adain.train.config import to_dict

    cfg = load_config(RECIPE, ["stages.distil.data.content=/a=b/c.d"])
    distil = next(stage for stage in to_dict(cfg)["stages"] if stage["name"] == "distil")
    assert distil["overrides"][-1] == "data.content=/a=b/c.d"  # a value holding '=' and '.' is kept whole
    assert {s.stage: s for s in stage_configs(cfg)}["distil"].data.content == "/a=b/c.d"


def test_train_py_prints_a_bad_stage_override_in_one_line():
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "--config", str(RECIPE),
                           "stages.distl.optim.lr=1e-4"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "no stage 'distl'" in proc.stderr
    cfg = load_config(RECIPE, ["stages.distil.optim.content_wieght=1.0"])
    with pytest.raises(UserError, match="stage 'distil'.*content_wieght"):
        stage_configs(cfg)


def test_resuming_a_stage_with_other_settings_names_the_keys():
    from adain.train.config import to_dict

    distil = {s.stage: s for s in stage_configs(load_config(RECIPE))}["distil"]
    saved = to_dict(distil)
    assert changed_keys(saved, distil) == []
    saved["optim"]["content_weight"] = 1.0
    saved["data"]["content"] = "/elsewhere/content"  # another machine's path is not a change of recipe
    assert changed_keys(saved, distil) == ["optim.content_weight: 1.0 → 1.5"]
    # an option added after the checkpoint was written: no change at its default, a change off it
    del saved["optim"]["content_luma"]
    assert changed_keys(saved, distil) == ["optim.content_weight: 1.0 → 1.5"]
    distil.optim.content_luma = True
    assert changed_keys(saved, distil) == ["optim.content_luma: False → True", "optim.content_weight: 1.0 → 1.5"]
