"""Reliability: no silent overwrites, flags that mean what they say, limits that hold.

Tiny seeded images, the real vgg16-hed encoder and a seeded stand-in decoder, on the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from adain.cli.main import main
from adain.core.errors import UserError, require
from adain.nn import functional as AF
from conftest import make_decoder, write_image


def stylize(decoder_file, *args) -> list[str]:
    return ["stylize", "--decoder", str(decoder_file), "--content-size", "0", "--style-size", "0",
            "--device", "cpu", "--precision", "fp32", "--no-progress", *map(str, args)]


# --- outputs: unique names, nothing overwritten unless asked --------------------------------

def test_same_stem_in_two_subfolders_gives_two_outputs(tmp_path, decoder_file, capsys):
    """in/a/x.jpg and in/b/x.png used to be written to one out/x_stylized_s.jpg, the first lost."""
    write_image(tmp_path / "in" / "a" / "x.jpg", 40, 32, seed=1)
    write_image(tmp_path / "in" / "b" / "x.png", 40, 32, seed=2)
    write_image(tmp_path / "in" / "c" / "y.jpg", 40, 32, seed=3)
    write_image(tmp_path / "in" / "c" / "y.png", 40, 32, seed=4)  # same folder, same stem: a suffix
    style = write_image(tmp_path / "s.png", 32, 32, seed=9)
    out = tmp_path / "out"
    assert main(stylize(decoder_file, "--content", tmp_path / "in", "--style", style, "--output", out)) == 0
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.jpg"))
    assert written == ["a/x_stylized_s.jpg", "b/x_stylized_s.jpg", "c/y_stylized_s.jpg", "c/y_stylized_s_2.jpg"]
    pixels = {name: np.asarray(Image.open(out / name)) for name in written}
    assert not np.array_equal(pixels["a/x_stylized_s.jpg"], pixels["b/x_stylized_s.jpg"])
    assert not np.array_equal(pixels["c/y_stylized_s.jpg"], pixels["c/y_stylized_s_2.jpg"])


def test_existing_outputs_are_kept_unless_overwrite(tmp_path, decoder_file, capsys):
    contents = [write_image(tmp_path / f"c{i}.png", 40, 32, seed=i) for i in range(2)]
    style = write_image(tmp_path / "s.png", 32, 32, seed=9)
    out = tmp_path / "out"
    out.mkdir()
    earlier = out / "c0_stylized_s.png"
    earlier.write_bytes(b"an earlier run's result")
    args = stylize(decoder_file, "--content", *contents, "--style", style, "--output", out, "--ext", "png")
    assert main(args) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"adain: skipped 1 of 2 outputs that exist already ({earlier}); pass --overwrite to replace them"]
    assert earlier.read_bytes() == b"an earlier run's result"
    assert Image.open(out / "c1_stylized_s.png").size == (40, 32)
    assert main(args + ["--overwrite"]) == 0
    assert Image.open(earlier).size == (40, 32)


def test_a_write_failure_in_a_batch_spares_the_others(tmp_path, decoder_file, monkeypatch, capsys):
    """--batch used to abort the whole command at the first failed write."""
    import adain.core.io

    contents = [write_image(tmp_path / f"c{i}.png", 40, 32, seed=i) for i in range(3)]
    style = write_image(tmp_path / "s.png", 32, 32, seed=9)
    real_save = adain.core.io.save_image

    def save_image(image, path, **kwargs):
        if "c0_" in str(path):
            raise UserError(f"{path}: cannot write image ([Errno 28] No space left on device)")
        return real_save(image, path, **kwargs)

    monkeypatch.setattr(adain.core.io, "save_image", save_image)
    out = tmp_path / "out"
    code = main(stylize(decoder_file, "--content", *contents, "--style", style, "--output", out, "--batch", "3"))
    err = capsys.readouterr().err
    assert code == 2
    assert "No space left on device" in err and "1 of 3 outputs failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["c1_stylized_s.jpg", "c2_stylized_s.jpg"]


# --- flags that do not apply to the method are refused, in one line -------------------------

@pytest.mark.parametrize("method, flag", [
    ("gatys", ["--alpha", "0.5"]),
    ("gatys", ["--tile", "512"]),
    ("gatys", ["--max-memory", "1G"]),
    ("adain", ["--style-weight", "1e5"]),
    ("adain", ["--iterations", "10"]),
    ("johnson", ["--alpha", "0.3"]),
], ids=lambda value: value if isinstance(value, str) else value[0])
def test_a_flag_of_another_method_is_a_one_line_error(tmp_path, capsys, method, flag):
    content = write_image(tmp_path / "c.png", 32, 32, seed=1)
    style = [] if method == "johnson" else ["--style", str(write_image(tmp_path / "s.png", 32, 32, seed=2))]
    code = main(["stylize", "--method", method, "--content", str(content), *style, *flag,
                 "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.splitlines() == [err]
    assert err.startswith(f"adain: error: {flag[0]} does not apply to --method {method}")
    assert not (tmp_path / "out").exists()


# --- a missing optional package is one line ---------------------------------------------------

def test_a_missing_optional_package_is_one_line_naming_it(monkeypatch):
    import importlib
    import json

    assert require("json", "reading settings") is json
    real_import = importlib.import_module

    def no_cv2(name, *args):
        if name == "cv2":
            raise ImportError("No module named 'cv2'")
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_cv2)
    with pytest.raises(UserError) as caught:
        require("cv2", "optical flow", "opencv-python-headless")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("optical flow needs the package opencv-python-headless")
    assert "pip install -r requirements.txt" in message
    from adain.inference import flow

    with pytest.raises(UserError, match="opencv-python-headless"):
        flow.dis_flow(np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16, 3), np.uint8))


# --- limits: Pillow's bomb guard follows --max-pixels ----------------------------------------

def test_max_pixels_decides_not_pillows_guard(tmp_path, monkeypatch):
    """Pillow refuses images over 2 × Image.MAX_IMAGE_PIXELS (~179 MP) before our check runs, and
    its error told the user to raise --max-pixels, which could not help.  Scaled down here: a
    Pillow limit of 5,000 pixels and a 120×100 image (12,000 pixels)."""
    from adain.core.io import load_image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5_000)
    path = write_image(tmp_path / "big.png", 120, 100, seed=1)
    assert load_image(path, max_pixels=20_000).shape == (1, 3, 100, 120)  # ours allows it: it loads
    with pytest.raises(UserError, match=r"120x100 is 12,000 pixels, over the limit of 10,000; raise --max-pixels"):
        load_image(path, max_pixels=10_000)
    with pytest.raises(UserError, match=r"120x100 is 12,000 pixels, over the limit of 1,000; raise --max-pixels"):
        load_image(path, max_pixels=1_000)  # over twice ours and Pillow's: still our check and message
    assert Image.MAX_IMAGE_PIXELS == 5_000  # Pillow's global is restored


# --- soft masks blend ------------------------------------------------------------------------

def test_a_gradient_mask_blends_style_and_content_in_feature_space():
    """m · stylised + (1 − m) · content: a grey of 0.05 used to give the full style."""
    generator = torch.Generator().manual_seed(0)
    content = torch.rand(1, 8, 6, 10, generator=generator) * 3
    style = AF.mean_std(torch.rand(1, 8, 5, 5, generator=generator) * 5 + 2)
    ramp = torch.linspace(0, 1, 10).view(1, 1, 1, 10).expand(1, 1, 6, 10)  # 0 … 1 left to right
    out = AF.masked_adain(content, [style], ramp)
    region = AF.mean_std(content, weight=ramp)
    stylised = (content - region.mean) / region.std * style.std + style.mean
    torch.testing.assert_close(out, ramp * stylised + (1 - ramp) * content)
    torch.testing.assert_close(out[..., 0], content[..., 0])  # m = 0: the content
    torch.testing.assert_close(out[..., -1], stylised[..., -1])  # m = 1: the style
    grey = AF.masked_adain(content, [style], torch.full((1, 1, 6, 10), 0.05))
    full = AF.masked_adain(content, [style], torch.ones(1, 1, 6, 10))
    torch.testing.assert_close(grey - content, 0.05 * (full - content))


def test_overlapping_masks_still_average_their_styles():
    generator = torch.Generator().manual_seed(1)
    content = torch.rand(1, 4, 4, 4, generator=generator)
    a, b = (AF.mean_std(torch.rand(1, 4, 3, 3, generator=generator) + k) for k in (1, 4))
    both = AF.masked_adain(content, [a, b], torch.ones(1, 2, 4, 4))
    torch.testing.assert_close(both, (AF.adain(content, a) + AF.adain(content, b)) / 2)


# --- the decoder's padding travels with its weights -------------------------------------------

def test_zero_padded_decoder_survives_export_and_reload(tmp_path):
    """A decoder trained with model.decoder_padding=zero used to come back reflect-padded."""
    from adain.train.checkpoint import atomic_torch_save
    from adain.train.config import TrainConfig, to_dict
    from adain.nn.decoder import Decoder
    from adain.train.export import export_decoder
    from adain.nn.decoder import load_decoder
    from omegaconf import OmegaConf

    torch.manual_seed(0)
    decoder = Decoder("vgg16", "zero")
    config = to_dict(OmegaConf.merge(OmegaConf.structured(TrainConfig), {"model": {"decoder_padding": "zero"}}))
    state = {"decoder": decoder.state_dict(), "scheduler": {}, "step": 3, "config": config,
             "decoder_config": decoder.config()}
    atomic_torch_save(state, tmp_path / "latest.pt")
    from_checkpoint, _ = load_decoder(tmp_path / "latest.pt")
    assert from_checkpoint.padding == "zero"
    export_decoder(tmp_path / "latest.pt", tmp_path / "d.safetensors", dtype="float32")
    reloaded, metadata = load_decoder(tmp_path / "d.safetensors")
    assert reloaded.padding == metadata["decoder"]["padding"] == "zero"
    feat = torch.rand(1, 512, 4, 5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(reloaded(feat), decoder(feat))
    # a checkpoint from before checkpoint_extras recorded the architecture: the config decides
    del state["decoder_config"]
    atomic_torch_save(state, tmp_path / "old.pt")
    assert load_decoder(tmp_path / "old.pt")[0].padding == "zero"


# --- the default tiling budget: this image's needs on top of current use ----------------------

@pytest.fixture(scope="module")
def model(hed_encoder):
    from adain.nn.model import AdaINModel

    return AdaINModel(hed_encoder, make_decoder()).eval()


def test_default_budget_is_on_top_of_what_the_process_holds(model):
    """The default used to be 3 GiB for the whole process: a notebook or the eval process holding
    3 GiB already was refused a 512² image, with an error naming --max-memory, never passed."""
    from adain.inference import tiling

    assert tiling.choose_tile(model, 512, 512, in_use=5 << 30) is None
    for size in ((2160, 3840), (4320, 7680)):
        light, heavy = (tiling.choose_tile(model, *size, in_use=in_use) for in_use in (300 << 20, 6 << 30))
        assert light == heavy and light is not None  # the same plan whatever is resident already
    # what one image may add: 4K under 0.75 GB, 8K under 1.25 GB, so that beside torch and the
    # networks (~0.65 GB) 4K peaks within 1.5 GB and 8K within 2 GB (experiments/bench)
    assert tiling.default_headroom(2160, 3840) < 0.75e9 and tiling.default_headroom(4320, 7680) < 1.25e9
    with pytest.raises(UserError, match=r"--max-memory 3.00G: too small") as error:  # a flag given: named
        tiling.choose_tile(model, 2160, 3840, max_memory=3 << 30, in_use=3 << 30)
    assert "\n" not in str(error.value)


def test_on_cuda_the_default_budget_is_the_free_gpu_memory(model):
    from adain.inference import tiling

    assert tiling.choose_tile(model, 2160, 3840, gpu_free=40 << 30) is None  # fits untiled on the GPU
    plan = tiling.choose_tile(model, 2160, 3840, gpu_free=2 << 30)
    assert plan is not None and plan.keep_features
    assert tiling.choose_tile(model, 2160, 3840, gpu_free=1 << 30).tile < plan.tile
    with pytest.raises(UserError, match=r"^GPU: .* available, too little for a 3840x2160 image"):
        tiling.choose_tile(model, 2160, 3840, gpu_free=100 << 20)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_free_bytes_reads_the_device(model):
    from adain.inference import tiling

    free, total = torch.cuda.mem_get_info()
    assert 0 < tiling.gpu_free_bytes(torch.device("cuda")) <= total


# --- progress into a log: plain lines every N seconds, no carriage returns ---------------------

def test_line_progress_writes_one_line_per_interval(monkeypatch):
    import io

    from adain.core import progress as P

    clock = iter(range(0, 1000, 5))  # each call 5 s later
    monkeypatch.setattr(P.time, "monotonic", lambda: next(clock))
    stream = io.StringIO()
    bar = P.progress_bar(12, "train.py", unit="step", stream=stream, every=30)
    assert isinstance(bar, P.LineProgress)
    for step in range(12):
        bar.update(1)
        bar.set_postfix(loss=f"{1 / (step + 1):.3f}")
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 3  # at 30 s and 60 s of 60 s, then the final line
    assert lines[-1] == "train.py: 12/12 steps (100 %), 1:05 elapsed, 5.42 s/step, 0:00 left, loss=0.083"


@pytest.mark.slow
def test_stylize_and_gatys_log_plain_lines_when_stderr_is_not_a_terminal(tmp_path, decoder_file, capfd,
                                                                         monkeypatch):
    monkeypatch.setenv("ADAIN_PROGRESS_EVERY", "0")  # a line at every update
    contents = [write_image(tmp_path / f"c{i}.png", 32, 32, seed=i) for i in range(4)]
    style = write_image(tmp_path / "s.png", 32, 32, seed=9)
    assert main(["stylize", "--decoder", str(decoder_file), "--content", *map(str, contents), "--style", str(style),
                 "--device", "cpu", "--precision", "fp32", "--output", str(tmp_path / "out")]) == 0
    err = capfd.readouterr().err
    assert "\r" not in err
    assert "adain stylize: 4/4 images (100 %)" in err.splitlines()[-1]
    assert main(["stylize", "--method", "gatys", "--iterations", "2", "--scales", "1", "--content", str(contents[0]),
                 "--style", str(style), "--content-size", "32", "--style-size", "32", "--device", "cpu",
                 "--output", str(tmp_path / "g.png")]) == 0
    err = capfd.readouterr().err
    assert "\r" not in err and "gatys 32×32: 2/2 its (100 %)" in err


# --- one error style across the tools ---------------------------------------------------------

def test_error_lines_name_the_tool_the_same_way(tmp_path, capsys):
    import importlib.util
    import io

    from adain.evaluation import load_eval_config
    from adain.evaluation.harness import Evaluation
    from conftest import REPO_ROOT

    stream = io.StringIO()
    Evaluation(load_eval_config(None, [f"run_dir={tmp_path / 'eval'}"]), error_stream=stream).error("c.png: missing")
    assert stream.getvalue() == "eval.py: error: c.png: missing\n"  # was "eval: error:"
    for tool, args in (("train.py", ["steps=oops"]), ("eval.py", ["size=oops"])):
        spec = importlib.util.spec_from_file_location(tool.replace(".", "_"), REPO_ROOT / tool)
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        assert script.main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"{tool}: error: ") and err.count("\n") == 1
    assert main(["stylize", "--content", str(tmp_path / "missing.png"), "--alpha", "2"]) == 2
    assert capsys.readouterr().err == "adain: error: --alpha 2.0: expected a value in [0, 1]\n"
