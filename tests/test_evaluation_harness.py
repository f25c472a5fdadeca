"""The evaluation harness end to end on CPU: config and sweeps, every output file, the cache,
and per-item errors.  Images are 32 px and the AdaIN decoder is a seeded stand-in."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from adain.core.errors import UserError
from adain.evaluation.config import load_eval_config
from adain.methods.base import Stylizer
from conftest import write_image

CALLS = {"load": 0, "stylize": 0}


class TintStylizer(Stylizer):
    """A second method for the tests: the content blended with the style's mean colour."""

    name = "tint"

    def __init__(self, amount: float = 0.5):
        self.amount, self.metadata = amount, {}

    def _style_features(self, image):
        return image.mean(dim=(2, 3), keepdim=True)  # (1, 3, 1, 1)

    def _stylize(self, content, styles, weights, masks, strength: float = 1.0):
        CALLS["stylize"] += 1
        return content * (1 - self.amount * strength) + styles[0].features * self.amount * strength


def load_tint(**settings) -> TintStylizer:
    CALLS["load"] += 1
    return TintStylizer(**settings)


@pytest.fixture
def tint_method(monkeypatch):
    from adain import methods

    monkeypatch.setitem(methods.METHODS, "tint", f"{__name__}:load_tint")
    CALLS.update(load=0, stylize=0)
    return CALLS


@pytest.fixture(scope="module")
def image_sets(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("eval-images")
    for i in range(2):
        write_image(root / "content" / f"c{i}.png", 48, 40, seed=i)
        write_image(root / "style" / f"s{i}.jpg", 40, 56, seed=10 + i)
    return root / "content", root / "style"


def _config(tmp_path, image_sets, decoder_file, *extra):
    content, style = image_sets
    yaml = tmp_path / "eval.yaml"
    yaml.write_text(f"""
content: {content}
style: {style}
size: 32
threads: 1
run_dir: {tmp_path / 'run'}
grid_tile: 32
methods:
  - name: adain
    settings: {{decoder: {decoder_file}, device: cpu}}
    sweep: {{options.alpha: [0.5, 1.0]}}
  - name: tint
    settings: {{amount: 0.5}}
""")
    return load_eval_config(yaml, list(extra))


def _rows(run_dir: Path) -> list[dict]:
    with (run_dir / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_overrides_index_lists_and_reject_unknown_keys():
    cfg = load_eval_config(None, ["methods.0.options.alpha=0.25", "size=64", "methods.0.settings.decoder=d.pth"])
    assert cfg.methods[0].options["alpha"] == 0.25 and cfg.size == 64
    assert cfg.methods[0].settings["decoder"] == "d.pth"
    for bad in ("sizee=3", "methods.0.alpha=1", "methods.4.options.alpha=1", "size=big", "size"):
        with pytest.raises(UserError):
            load_eval_config(None, [bad])


def test_sweeps_expand_to_labelled_variants():
    from adain.evaluation.sweep import expand

    cfg = load_eval_config(None, ["methods.0.sweep={options.alpha: [0.25, 1.0]}"])
    cfg.sweep = {"size": [32, 64]}
    labels = [v.label for v in expand(cfg)]
    assert labels == ["adain[alpha=0.25,size=32]", "adain[alpha=1,size=32]",
                      "adain[alpha=0.25,size=64]", "adain[alpha=1,size=64]"]
    with pytest.raises(UserError):
        expand(load_eval_config(None, ["sweep={bogus: [1]}"]))


def test_the_cache_identity_follows_a_weights_file_s_contents(tmp_path):
    import os

    from adain.evaluation.sweep import expand

    weights = tmp_path / "decoder.safetensors"
    weights.write_bytes(b"first")
    cfg = load_eval_config(None, [f"methods.0.settings={{decoder: {weights}}}"])
    before = expand(cfg)[0].identity()
    assert before == expand(cfg)[0].identity()  # stable while the file is unchanged
    os.utime(weights, ns=(1, 1))
    assert expand(cfg)[0].identity() == before  # touched or copied (new mtime), same bytes: same outputs
    weights.write_bytes(b"second, retrained")
    os.utime(weights, ns=(1, 1))  # even with the old mtime, new bytes are a new identity
    assert expand(cfg)[0].identity() != before


def test_default_configs_load():
    root = Path(__file__).resolve().parents[1] / "configs" / "eval"
    for name in ("default.yaml", "smoke.yaml"):
        cfg = load_eval_config(root / name)
        assert cfg.methods[0].name == "adain"
    default = load_eval_config(root / "default.yaml")
    assert [m.name for m in default.methods] == ["adain", "gatys", "johnson", "magenta"]


def test_every_checked_in_eval_config_loads_and_names_files_that_exist():
    """configs/eval and every experiment's eval config: they load, and the manifests and weight
    files they name are in the repository (images and run outputs are not checked)."""
    root = Path(__file__).resolve().parents[1]
    configs = sorted((root / "configs" / "eval").glob("*.yaml")) + sorted(  # an eval config has methods:
        p for p in (root / "experiments").rglob("*.yaml") if "\nmethods:" in p.read_text())
    assert len(configs) >= 8
    for path in configs:
        cfg = load_eval_config(path)
        for source in (cfg.content, cfg.style):
            if source.endswith((".txt", ".csv")):
                assert (root / source).is_file(), (path, source)
        for method in cfg.methods:
            for key in ("decoder", "model"):
                named = method.settings.get(key)
                if named and not named.startswith("runs/"):
                    assert (root / named).is_file(), (path, named)


@pytest.mark.slow
def test_two_by_two_writes_every_file_and_reruns_from_the_cache(tmp_path, image_sets, decoder_file, tint_method):
    from adain.evaluation import run

    cfg = _config(tmp_path, image_sets, decoder_file, "wandb.mode=offline")
    assert run(cfg, log=lambda *_: None) == 0
    run_dir = tmp_path / "run"
    rows = _rows(run_dir)
    assert len(rows) == 3 * 4  # adain α=0.5, α=1, tint × 2 contents × 2 styles
    assert {r["variant"] for r in rows} == {"adain[alpha=0.5]", "adain[alpha=1]", "tint"}
    for name in ("rel_content", "rel_style", "content_loss", "ssim", "style_mean_std", "style_gram",
                 "color_w1", "effnet_content", "effnet_layout", "effnet_style_mean_std", "effnet_style_gram", "stylize_ms", "peak_mb"):
        assert all(float(r[name]) == float(r[name]) for r in rows), name  # present, not NaN
    assert all((run_dir / r["output"]).is_file() for r in rows)
    for name in ("frame", "grid", "edge_f", "style_rank", "style_top1"):  # the frame, grid, edge and identity measures
        assert all(float(r[name]) == float(r[name]) for r in rows), name
    assert all(float(r["frame"]) >= 1.0 and float(r["style_rank"]) in (1.0, 2.0) for r in rows)
    summary = json.loads((run_dir / "summary.json").read_text())
    # one reconstruction row per decoder (both α share it), its means on both AdaIN variants
    assert [(r["decoder"], r["encoder"], r["contents"]) for r in summary["reconstruction"]] == [
        ("decoder-test", "vgg16-hed", 2)]
    assert len(list((run_dir / "reconstruction" / "decoder-test").glob("*.png"))) == 2
    recon = {s["variant"]: s.get("recon_psnr") for s in summary["variants"]}
    assert recon["adain[alpha=0.5]"] == recon["adain[alpha=1]"] > 0 and recon["tint"] is None
    assert {s["variant"]: s["trained_on"] for s in summary["variants"]} == {
        "adain[alpha=0.5]": "vgg16-hed", "adain[alpha=1]": "vgg16-hed", "tint": None}
    report = (run_dir / "report.md").read_text()
    table = report.split("\n\n")[2]  # the report leads with every variant on every measure
    assert table.startswith("| variant | trained on |") and "frame" in table and "recon_psnr" in table
    lines = {line.split(" | ")[0][2:]: line for line in table.splitlines()[2:]}
    assert "†" in lines["adain[alpha=1]"] and "†" not in lines["tint"]  # trained on vgg16-hed: flagged
    assert "**" in table  # the best of each column is marked
    from PIL import Image

    with Image.open(run_dir / "contact_sheet.jpg") as sheet:  # full-size 32-px tiles, 4 pairs
        assert sheet.size == (32 * 5, 16 + 32 * 4)
    by_variant = {s["variant"]: s for s in summary["variants"]}
    assert by_variant["tint"]["pairs"] == 4 and by_variant["tint"]["fd_effnet_lite0"] > 0
    assert by_variant["adain[alpha=1]"]["ms_per_image"] > 0
    assert any("NOT FID" in note for note in summary["notes"])
    assert any(note.startswith("lpips") for note in summary["notes"])  # skipped (no weights) or not
    for name in ("report.md", "tradeoff.png", "grids/grid_000.png", "config.yaml"):
        assert (run_dir / name).is_file(), name
    assert "python" in (run_dir / "report.md").read_text()
    assert list((run_dir / "wandb").glob("offline-run-*/run-*.wandb")), "no W&B offline run file"
    assert tint_method == {"load": 1, "stylize": 4}

    # second run: everything from the cache, no method built or called, same numbers
    tint_method.update(load=0, stylize=0)
    cfg = _config(tmp_path, image_sets, decoder_file, "wandb.mode=disabled")
    assert run(cfg, log=lambda *_: None) == 0
    assert tint_method == {"load": 0, "stylize": 0}
    again = _rows(run_dir)
    assert all(r["cached"] == "True" for r in again)
    assert [r["rel_style"] for r in again] == [r["rel_style"] for r in rows]

    # an interrupted run leaves items without their record: only those are computed again
    tint_row = next(r for r in again if r["variant"] == "tint")
    record = next((tmp_path / "run" / "cache").rglob(f"{tint_row['key']}.json"))
    record.unlink()
    assert run(cfg, log=lambda *_: None) == 0
    assert tint_method == {"load": 1, "stylize": 1}
    assert len(_rows(run_dir)) == 12


@pytest.mark.slow
def test_missing_image_and_unknown_method_are_one_line_errors(tmp_path, image_sets, decoder_file, tint_method, capsys):
    import eval as eval_cli

    content, style = image_sets
    manifest = tmp_path / "contents.txt"
    manifest.write_text(f"{content / 'c0.png'}\n{tmp_path / 'missing.png'}\n")
    cfg_file = tmp_path / "eval.yaml"
    cfg_file.write_text(f"""
content: {manifest}
style: {style}
size: 32
threads: 1
run_dir: {tmp_path / 'run'}
metrics: {{effnet: false}}
wandb: {{mode: disabled}}
methods:
  - name: tint
  - name: no_such_method
  - name: tint
    label: tint-bad-option
    options: {{bogus: 1}}
""")
    status = eval_cli.main(["--config", str(cfg_file)])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert status == 2
    assert len(errors) == 4, errors  # missing.png × 2 styles, the unknown method, the bad option
    assert sum("missing.png" in e and "not found" in e for e in errors) == 2
    assert sum("no_such_method" in e and "unknown" in e for e in errors) == 1
    assert sum("tint-bad-option" in e and "'bogus'" in e for e in errors) == 1
    rows = _rows(tmp_path / "run")
    assert [(r["variant"], r["content"]) for r in rows] == [("tint", "c0.png")] * 2
    report = (tmp_path / "run" / "report.md").read_text()
    assert "no_such_method" in report


def test_bad_config_key_is_a_one_line_error_and_exit_2(capsys):
    import eval as eval_cli

    assert eval_cli.main(["size=12", "no_such_key=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no_such_key" in err


@pytest.mark.slow
def test_optional_method_that_cannot_load_is_a_note(tmp_path, image_sets, tint_method):
    from adain.evaluation import run

    content, style = image_sets
    cfg = load_eval_config(None, [f"content={content}", f"style={style}", "size=32", "threads=1",
                                  f"run_dir={tmp_path / 'run'}", "metrics.effnet=false", "wandb.mode=disabled",
                                  "methods=[{name: tint}, {name: johnson, optional: true, "
                                  "settings: {model: /nonexistent/johnson.safetensors}, styles: [s1]}]"])
    assert run(cfg, log=lambda *_: None) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    johnson = next(s for s in summary["variants"] if s["method"] == "johnson")
    assert johnson["pairs"] == 0 and johnson["note"].startswith("skipped (optional)")


@pytest.mark.slow
def test_the_thread_setting_applies_to_the_run_only(tmp_path, image_sets, tint_method):
    """`threads` is set for the evaluation and given back afterwards: a caller in the same process
    (a notebook, the SIGKILL test's reference run) keeps its own setting."""
    import torch

    from adain.evaluation import run

    content, style = image_sets
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    seen = []
    cfg = load_eval_config(None, [f"content={content}", f"style={style}", "size=32", f"threads={wanted}",
                                  f"run_dir={tmp_path / 'run'}", "metrics.effnet=false", "wandb.mode=disabled",
                                  "metrics.reconstruction=false", "methods=[{name: tint}]"])
    assert run(cfg, log=lambda *_: seen.append(torch.get_num_threads())) == 0
    assert seen and set(seen) == {wanted}  # during the run
    assert torch.get_num_threads() == before


def test_the_contact_sheet_spreads_its_pairs_over_contents_and_styles():
    from adain.evaluation.report import spread_pairs

    pairs = [(f"c{i}", f"s{j}") for i in range(8) for j in range(6)]
    chosen = spread_pairs(pairs, 16)
    assert len(chosen) == len(set(chosen)) == 16
    assert {c for c, _ in chosen} == {f"c{i}" for i in range(8)}  # every content, twice
    assert {s for _, s in chosen} == {f"s{j}" for j in range(6)}  # every style
    assert spread_pairs(pairs[:3], 16) == pairs[:3]  # fewer than asked: all of them
