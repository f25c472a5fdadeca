"""Johnson et al. (2016) per-style networks: the network, training through the shared loop
(falling losses, exact resume, run directory), export, the Stylizer and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adain.core.errors import UserError
from adain.methods.johnson.network import InstanceNorm, TransformerNet, reflect_pad
from adain.train.checkpoint import load_checkpoint
from adain.train.config import load_config

from conftest import write_image
from test_training import SMOKE, _write_images

JOHNSON_SMOKE = ["method=johnson", "precision=fp32", "johnson.style_size=64"]


@pytest.fixture(scope="module")
def johnson_data(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("johnson_data")
    style = write_image(root / "painting.png", 80, 64, seed=9)
    return {
        "data.content": str(_write_images(root / "content", 4, seed=1)),
        "data.val_content": str(_write_images(root / "val_content", 2, seed=3)),
        "style": str(style),
    }


def _config(run_dir: Path, data: dict[str, str], *extra: str):
    overrides = [f"{k}={v}" for k, v in data.items()] + [f"run_dir={run_dir}", *JOHNSON_SMOKE, *extra]
    return load_config(SMOKE, overrides)


def _train(cfg):
    from adain.train.loop import run

    return run(cfg)


@pytest.fixture(scope="module")
def johnson_run(tmp_path_factory, johnson_data) -> Path:
    """A 4-step Johnson run (64² crops, batch 2) with offline W&B: its run directory."""
    run_dir = tmp_path_factory.mktemp("johnson_run") / "run"
    _train(_config(run_dir, johnson_data, "wandb.mode=offline"))
    return run_dir


# --- the network ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 21, 30), (1, 3, 64, 64)])
def test_output_shape_equals_input_shape(shape):
    torch.manual_seed(0)
    out = TransformerNet(residual_blocks=1)(torch.rand(shape))
    assert out.shape == shape and 0 <= out.min() and out.max() <= 1


def test_instance_norm_matches_torch():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 9, 11) * 3 + 1
    ours, reference = InstanceNorm(8), torch.nn.InstanceNorm2d(8, affine=True)
    with torch.no_grad():
        for module in (ours, reference):
            module.weight.copy_(torch.linspace(0.5, 2, 8))
            module.bias.copy_(torch.linspace(-1, 1, 8))
    torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-5)
    assert ours(x.contiguous(memory_format=torch.channels_last)).is_contiguous(memory_format=torch.channels_last)


def test_reflect_pad_matches_torch():
    x = torch.rand(1, 4, 7, 9).contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(reflect_pad(x, 4), torch.nn.functional.pad(x, (4, 4, 4, 4), mode="reflect"))


# --- training through the shared loop -------------------------------------------------------

def test_johnson_config_without_style_is_one_line_error(tmp_path, johnson_data):
    data = {k: v for k, v in johnson_data.items() if k != "style"}
    with pytest.raises(UserError, match="style=PATH") as info:
        _train(_config(tmp_path / "run", data))
    assert "\n" not in str(info.value)


def test_shipped_johnson_config_composes():
    cfg = load_config(Path(SMOKE).parent / "johnson.yaml", ["style=x.jpg"])
    assert cfg.method == "johnson" and cfg.johnson.content_tap == "relu2_2"


def test_losses_fall(tmp_path, johnson_data):
    cfg = _config(tmp_path / "run", johnson_data, "steps=8", "optim.lr=1e-2", "log_every=1", "val_every=0",
                  "image_every=0", "checkpoint_every=0")
    _train(cfg)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    assert len(losses) == 8 and {"train/loss_style", "train/loss_tv"} <= set(rows[0])
    assert np.mean(losses[-2:]) < 0.5 * np.mean(losses[:2])


@pytest.mark.slow
def test_resume_is_bit_exact(tmp_path, johnson_data):
    _train(_config(tmp_path / "straight", johnson_data, "steps=4"))
    _train(_config(tmp_path / "halves", johnson_data, "steps=2"))
    _train(_config(tmp_path / "halves", johnson_data, "steps=4", "resume=auto"))
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    b = load_checkpoint(tmp_path / "halves" / "checkpoints" / "latest.pt")
    assert a["step"] == b["step"] == 4 and "decoder" not in a
    for key in a["transformer"]:
        assert torch.equal(a["transformer"][key], b["transformer"][key]), key


def test_run_directory_contents(johnson_run):
    assert load_config(johnson_run / "config.yaml").method == "johnson"
    checkpoints = {p.name for p in (johnson_run / "checkpoints").glob("*.pt")}
    assert {"latest.pt", "best.pt", "step_0000002.pt", "step_0000004.pt"} <= checkpoints
    rows = [json.loads(line) for line in (johnson_run / "metrics.jsonl").read_text().splitlines()]
    scores = [r for r in rows if "val/rel_style" in r]
    assert scores and all(np.isfinite(r["val/rel_content"]) and np.isfinite(r["val/rel_style"]) for r in scores)
    assert sorted((johnson_run / "samples").rglob("*.png"))
    assert list((johnson_run / "wandb").glob("offline-run-*/run-*.wandb")), "no W&B offline run file"
    state = load_checkpoint(johnson_run / "checkpoints" / "latest.pt")
    assert state["style"]["name"] == "painting" and state["transformer_config"]["arch"] == "johnson2016"


def test_adain_checkpoint_cannot_resume_a_johnson_run(tmp_path, johnson_data, johnson_run):
    cfg = _config(tmp_path / "run", johnson_data, "method=adain", "data.style=" + johnson_data["data.content"],
                  "data.val_style=" + johnson_data["data.content"],
                  f"resume={johnson_run / 'checkpoints' / 'latest.pt'}")
    with pytest.raises(UserError, match="not a adain checkpoint"):
        _train(cfg)


# --- export, loading, stylising -------------------------------------------------------------

@pytest.fixture(scope="module")
def exported(johnson_run, tmp_path_factory) -> Path:
    from adain.train.export import export_johnson

    out = tmp_path_factory.mktemp("johnson_export") / "johnson-painting.safetensors"
    return export_johnson(johnson_run / "checkpoints" / "best.pt", out, dtype="float32")


def test_export_metadata_and_no_pickle(exported):
    from safetensors import safe_open

    description = json.loads(exported.with_suffix(".json").read_text())
    assert description["method"] == "johnson" and description["style"]["name"] == "painting"
    assert description["steps"] >= 2 and description["commit"] and description["losses"]["content_tap"] == "relu2_2"
    with safe_open(str(exported), framework="pt") as handle:  # a plain safetensors file
        assert "output.conv.weight" in handle.keys()


def test_export_round_trip_gives_equal_outputs(johnson_run, exported):
    from adain.methods import load_method

    content = torch.rand(1, 3, 45, 38, generator=torch.Generator().manual_seed(1))
    from_checkpoint = load_method("johnson", model=johnson_run / "checkpoints" / "best.pt", device="cpu",
                                  precision="fp32")
    from_export = load_method("johnson", model=exported, device="cpu", precision="fp32")
    a = from_checkpoint.stylize(content, None, content_size=0)
    b = from_export.stylize(content, None, content_size=0)
    assert a.shape == content.shape and torch.equal(a, b)


def test_fp16_export_loads_back_close(johnson_run, tmp_path):
    from adain.train.export import export_johnson
    from adain.methods.johnson.stylizer import load_johnson

    out = export_johnson(johnson_run / "checkpoints" / "best.pt", tmp_path / "half.safetensors")
    content = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    full = load_johnson(johnson_run / "checkpoints" / "best.pt", "cpu", "fp32").stylize(content, content_size=0)
    half = load_johnson(out, "cpu", "fp32").stylize(content, content_size=0)
    assert (full - half).abs().max() < 1e-2


def test_style_is_ignored(exported):
    from adain.methods import load_method

    stylizer = load_method("johnson", model=exported, device="cpu", precision="fp32")
    content = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    other_style = torch.rand(1, 3, 32, 32)
    assert torch.equal(stylizer.stylize(content, None, content_size=0),
                       stylizer.stylize(content, other_style, content_size=0))
    assert stylizer.style_name == "painting" and not stylizer.recolours_style
    with pytest.raises(UserError, match="one style"):
        stylizer.stylize(content, [other_style, other_style])


def test_bf16_fast_path(exported):
    from adain.methods.johnson.stylizer import load_johnson

    stylizer = load_johnson(exported, "cpu", "bf16")
    assert stylizer.dtype == torch.bfloat16
    content = torch.rand(1, 3, 33, 31, generator=torch.Generator().manual_seed(4))
    reference = load_johnson(exported, "cpu", "fp32").stylize(content, content_size=0)
    assert (stylizer.stylize(content, content_size=0) - reference).abs().mean() < 0.05


def test_cli_stylize(exported, tmp_path):
    from adain.cli.main import main

    content = write_image(tmp_path / "photo.png", 50, 41, seed=5)
    output = tmp_path / "out.png"
    code = main(["stylize", "--method", "johnson", "--johnson-model", str(exported), "--content", str(content),
                 "--output", str(output), "--content-size", "0", "--device", "cpu",
                 "--precision", "fp32", "--no-progress"])
    assert code == 0
    from PIL import Image

    assert Image.open(output).size == (50, 41)


def test_cli_without_a_style_makes_one_output_per_content(exported, tmp_path):
    from adain.cli.main import main

    contents = [write_image(tmp_path / f"photo{i}.png", 40, 32, seed=i) for i in range(2)]
    code = main(["stylize", "--method", "johnson", "--johnson-model", str(exported), "--content", *map(str, contents),
                 "--output", str(tmp_path / "out"), "--content-size", "0", "--device", "cpu", "--no-progress"])
    assert code == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"photo{i}_stylized_{Path(exported).stem}.jpg" for i in range(2)]


def test_cli_without_model_uses_the_shipped_network(tmp_path, capsys):
    from adain.cli.main import main
    from adain.methods.johnson.stylizer import SHIPPED_JOHNSON, load_johnson

    content = write_image(tmp_path / "photo.png", 32, 32, seed=5)
    code = main(["stylize", "--method", "johnson", "--content", str(content), "--output", str(tmp_path / "out"),
                 "--content-size", "0", "--device", "cpu", "--precision", "fp32", "--ext", "png", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    written = tmp_path / "out" / "photo_stylized_johnson-vangogh.png"
    expected = load_johnson(SHIPPED_JOHNSON, "cpu", "fp32").stylize(str(content), content_size=0)
    assert np.array_equal(np.asarray(Image.open(written)), np.asarray(expected))


def test_cli_style_under_johnson_is_exit_2_one_line(tmp_path, capsys):
    """A johnson network renders one style: a style folder used to give N identical files, each
    named after a style it did not use."""
    from adain.cli.main import main

    content = write_image(tmp_path / "photo.png", 32, 32, seed=5)
    styles = tmp_path / "styles"
    styles.mkdir()
    for i in range(2):
        write_image(styles / f"s{i}.png", 32, 32, seed=i)
    code = main(["stylize", "--method", "johnson", "--content", str(content), "--style", str(styles),
                 "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.splitlines() == [err] and err.startswith("adain: error: --style does not apply")
    assert not (tmp_path / "o").exists()


def test_cli_export_of_a_johnson_checkpoint(johnson_run, tmp_path):
    from adain.cli.main import main

    out = tmp_path / "j.safetensors"
    assert main(["export", str(johnson_run / "checkpoints" / "latest.pt"), str(out)]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["method"] == "johnson"


def test_bench_johnson_against_adain(exported, tmp_path):
    from adain.cli.main import main
    from adain.methods.adain import SHIPPED_DECODER

    if not SHIPPED_DECODER.is_file():
        pytest.skip("no shipped AdaIN decoder to compare with")
    out = tmp_path / "bench.json"
    assert main(["bench", "--method", "johnson", "--size", "32", "--repeat", "1", "--device", "cpu",
                 "--johnson-model", str(exported), "--json", str(out)]) == 0
    row = json.loads(out.read_text())[0]
    assert row["size"] == 32 and row["johnson_s"] > 0 and row["adain_s"] > 0
