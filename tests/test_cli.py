"""`python -m adain …` end to end, in subprocesses: outputs, names, sizes, per-item errors."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adain import SHIPPED_DECODER
from adain.nn.decoder import Decoder

from conftest import REPO_ROOT, write_image, write_truncated_jpeg

SHIPPED = SHIPPED_DECODER.is_file()


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("adain: error:")]

    def error_naming(self, name: str) -> str:
        """The one error line that names `name`; fails the test if there is none."""
        lines = [line for line in self.error_lines() if f"{name}:" in line]
        assert lines, f"no 'adain: error:' line names {name!r}; stderr was:\n{self.stderr}"
        return lines[0]


def adain_cli(*args, cwd: Path) -> Result:
    """Run `python -m adain ARGS` from this checkout, with the test session's weight cache."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "ADAIN_CACHE": os.environ["ADAIN_CACHE"]}
    proc = subprocess.run(
        [sys.executable, "-m", "adain", *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_clean_failure(result: Result) -> None:
    """A user error: exit status 2, one-line messages, no traceback."""
    assert result.returncode == 2, result.stderr
    assert result.error_lines(), result.stderr
    assert "Traceback" not in result.stderr


def stylize_args(decoder: Path, output: str | Path = "out") -> list:
    # Sizes 0: keep the small synthetic images' own sizes (the default 512 would upscale them).
    return ["stylize", "--decoder", decoder, "--content-size", "0", "--style-size", "0",
            "--output", output, "--no-progress"]


def image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Inputs shared by the CLI tests: contents a.jpg (64×48) and b.png (40×56), two styles."""
    root = tmp_path_factory.mktemp("cli")
    write_image(root / "a.jpg", 64, 48, seed=1)
    write_image(root / "b.png", 40, 56, seed=2)
    write_image(root / "styles" / "s1.png", 48, 48, seed=3)
    write_image(root / "styles" / "s2.jpg", 40, 32, seed=4)
    mask = Image.new("L", (64, 48), 0)
    mask.paste(255, (0, 0, 32, 48))  # left half: the first style
    mask.save(root / "mask-a.png")
    return root


def fresh_output(workdir: Path, name: str) -> Path:
    out = workdir / name
    assert not out.exists()
    return out


# --- help ----------------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [(["--help"], "stylize"), (["stylize", "--help"], "--style-weights")])
def test_help_exits_zero(tmp_path, args, expected):
    result = adain_cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: adain") and expected in result.stdout


@pytest.mark.parametrize("argv", [["--help"], ["stylize", "--help"], ["bench", "--help"]])
def test_help_does_not_import_torch(tmp_path, argv):
    code = (
        "import sys\n"
        "from adain.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print('torch' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"


# --- end to end ----------------------------------------------------------------------------

def test_every_content_with_every_style(workdir, decoder_file):
    out = fresh_output(workdir, "out-pairs")
    result = adain_cli(*stylize_args(decoder_file, out.name), "--content", "a.jpg", "b.png", "--style", "styles",
                       cwd=workdir)
    assert result.returncode == 0, result.stderr
    expected = {"a_stylized_s1.jpg": (64, 48), "a_stylized_s2.jpg": (64, 48),
                "b_stylized_s1.jpg": (40, 56), "b_stylized_s2.jpg": (40, 56)}
    assert {p.name: image_size(p) for p in out.iterdir()} == expected
    assert sorted(Path(line).name for line in result.stdout.split()) == sorted(expected)
    # Two different styles really give two different images.
    with Image.open(out / "a_stylized_s1.jpg") as one, Image.open(out / "a_stylized_s2.jpg") as two:
        assert one.tobytes() != two.tobytes()


def test_style_weights_blend_into_one_output_per_content(workdir, decoder_file):
    out = fresh_output(workdir, "out-blend")
    result = adain_cli(*stylize_args(decoder_file, out.name), "--content", "a.jpg", "b.png",
                       "--style", "styles/s1.png", "styles/s2.jpg", "--style-weights", "1", "1", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert {p.name: image_size(p) for p in out.iterdir()} == {
        "a_stylized_s1+s2.jpg": (64, 48), "b_stylized_s1+s2.jpg": (40, 56)}


def test_mask_places_styles(workdir, decoder_file):
    out = fresh_output(workdir, "out-mask")
    result = adain_cli(*stylize_args(decoder_file, out.name), "--content", "a.jpg",
                       "--style", "styles/s1.png", "styles/s2.jpg", "--mask", "mask-a.png", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert {p.name: image_size(p) for p in out.iterdir()} == {"a_stylized_s1+s2.jpg": (64, 48)}


def test_output_file_name_for_a_single_pair(workdir, decoder_file):
    result = adain_cli(*stylize_args(decoder_file, "single/result.png"), "--content", "b.png",
                       "--style", "styles/s1.png", cwd=workdir)
    assert result.returncode == 0, result.stderr
    written = workdir / "single" / "result.png"
    assert [p.name for p in written.parent.iterdir()] == ["result.png"]
    with Image.open(written) as image:
        assert (image.format, image.size) == ("PNG", (40, 56))


def test_output_file_name_with_several_results_is_an_error(workdir, decoder_file):
    result = adain_cli(*stylize_args(decoder_file, "many.png"), "--content", "a.jpg", "b.png",
                       "--style", "styles/s1.png", cwd=workdir)
    assert_clean_failure(result)
    assert "a file name takes exactly one result, but there are 2" in result.error_naming("many.png")
    assert not (workdir / "many.png").exists()


# --- bad inputs: exit 2, one line naming the file, the rest of the batch still written ----

@pytest.fixture(scope="module")
def bad_content_batch(workdir, decoder_file) -> tuple[Result, Path]:
    """One batch mixing good contents with every kind of unreadable content file."""
    bad = workdir / "bad"
    bad.mkdir()
    (bad / "empty.jpg").touch()
    (bad / "notes.jpg").write_text("these are not pixels\n" * 20)
    write_truncated_jpeg(bad / "cut.jpg")
    out = workdir / "out-bad"
    result = adain_cli(*stylize_args(decoder_file, out.name), "--content", "a.jpg", "bad/missing.jpg",
                       "bad/empty.jpg", "bad/notes.jpg", "bad/cut.jpg", "b.png",
                       "--style", "styles/s1.png", cwd=workdir)
    return result, out


@pytest.mark.parametrize(
    "name, message",
    [
        ("bad/missing.jpg", "file not found"),
        ("bad/empty.jpg", "empty file (0 bytes)"),
        ("bad/notes.jpg", "not an image file"),
        ("bad/cut.jpg", "truncated or corrupt image data"),
    ],
    ids=["missing", "zero-byte", "text-as-jpg", "truncated-jpeg"],
)
def test_bad_content_file_fails_alone(bad_content_batch, name, message):
    result, out = bad_content_batch
    assert_clean_failure(result)
    assert message in result.error_naming(name)
    # The good contents before and after the bad ones were still written.
    assert sorted(p.name for p in out.iterdir()) == ["a_stylized_s1.jpg", "b_stylized_s1.jpg"]
    assert "4 of 6 outputs failed" in result.stderr


def test_bad_style_file_fails_its_pairs_only(workdir, decoder_file):
    (workdir / "bad-style.png").write_bytes(b"")
    out = fresh_output(workdir, "out-bad-style")
    result = adain_cli(*stylize_args(decoder_file, out.name), "--content", "a.jpg", "b.png",
                       "--style", "bad-style.png", "styles/s1.png", cwd=workdir)
    assert_clean_failure(result)
    assert len([line for line in result.error_lines() if "bad-style.png:" in line]) == 2  # once per content
    assert sorted(p.name for p in out.iterdir()) == ["a_stylized_s1.jpg", "b_stylized_s1.jpg"]


def test_mask_of_the_wrong_size(workdir, decoder_file):
    # mask-a.png fits a.jpg (64×48) but not b.png (40×56).
    out = fresh_output(workdir, "out-mask-size")
    result = adain_cli(*stylize_args(decoder_file, out.name), "--content", "a.jpg", "b.png",
                       "--style", "styles/s1.png", "styles/s2.jpg", "--mask", "mask-a.png", cwd=workdir)
    assert_clean_failure(result)
    line = result.error_naming("mask-a.png")
    assert "mask is 64x48; expected the content image's size 40x56" in line
    assert [p.name for p in out.iterdir()] == ["a_stylized_s1+s2.jpg"]


def test_decoder_with_wrong_shaped_weights(workdir):
    state = Decoder("vgg16").state_dict()
    state["convs.dec3_1.weight"] = torch.zeros(128, 128, 3, 3)  # expected (128, 256, 3, 3)
    torch.save(state, workdir / "wrong-decoder.pth")
    out = workdir / "out-wrong-decoder"
    result = adain_cli(*stylize_args(workdir / "wrong-decoder.pth", out.name), "--content", "a.jpg",
                       "--style", "styles/s1.png", cwd=workdir)
    assert_clean_failure(result)
    assert "layer dec3_1 has weights of shape (128, 128, 3, 3)" in result.error_naming("wrong-decoder.pth")
    assert not out.exists()


def test_alpha_out_of_range(workdir, decoder_file):
    out = workdir / "out-alpha"
    result = adain_cli(*stylize_args(decoder_file, out.name), "--content", "a.jpg", "--style", "styles/s1.png",
                       "--alpha", "1.5", cwd=workdir)
    assert_clean_failure(result)
    assert result.error_lines() == ["adain: error: --alpha 1.5: expected a value in [0, 1]"]
    assert not out.exists()


def test_output_that_is_an_input_is_refused(workdir, decoder_file):
    before = (workdir / "b.png").read_bytes()
    result = adain_cli(*stylize_args(decoder_file, "b.png"), "--content", "b.png", "--style", "styles/s1.png",
                       cwd=workdir)
    assert_clean_failure(result)
    assert "would overwrite an input image" in result.error_naming("b.png")
    assert (workdir / "b.png").read_bytes() == before


@pytest.mark.skipif(not SHIPPED, reason="no decoder ships with this checkout")
def test_demo_runs_on_built_in_defaults(tmp_path):
    """The README's demo: no content, style or decoder given → built-in examples, shipped decoder."""
    result = adain_cli("stylize", "--content-size", "96", "--style-size", "96", "--output", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["chelsea_stylized_ink_waves.jpg", "chelsea_stylized_stained_glass.jpg",
                       "coffee_stylized_ink_waves.jpg", "coffee_stylized_stained_glass.jpg"]
    with Image.open(tmp_path / "out" / written[0]) as image:
        assert min(image.size) == 96


@pytest.mark.skipif(SHIPPED, reason="a decoder ships with this checkout")
def test_no_decoder_and_none_shipped(workdir):
    result = adain_cli("stylize", "--content", "a.jpg", "--style", "styles/s1.png", "--output", "out-none",
                       cwd=workdir)
    assert_clean_failure(result)
    assert "--decoder" in result.error_lines()[0]
    assert not (workdir / "out-none").exists()


# --- real images ---------------------------------------------------------------------------

def test_real_images(shared_data, decoder_file, tmp_path):
    content = sorted((shared_data / "content" / "val").glob("*.jpg"))[:1]
    style = sorted((shared_data / "style" / "val").glob("*.jpg"))[:1]
    if not content or not style:
        pytest.skip("shared image pack has no val images")
    result = adain_cli("stylize", "--decoder", decoder_file, "--content", *content, "--style", *style,
                       "--content-size", "128", "--style-size", "128", "--output", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = list((tmp_path / "out").iterdir())
    assert [p.name for p in written] == [f"{content[0].stem}_stylized_{style[0].stem}.jpg"]
    assert min(image_size(written[0])) == 128


def test_batched_outputs_equal_one_at_a_time(tmp_path, decoder_file):
    """--batch stacks same-size contents into one forward pass; a bad content still fails alone,
    and a content of another size runs in its own stack."""
    from adain.cli.main import main

    contents = [write_image(tmp_path / f"c{i}.png", 40, 32, seed=i) for i in range(3)]
    contents.append(write_image(tmp_path / "wide.png", 48, 32, seed=7))
    (tmp_path / "broken.png").write_bytes(b"not an image")
    style = write_image(tmp_path / "s.png", 32, 32, seed=9)
    common = ["stylize", "--decoder", str(decoder_file), "--content-size", "0", "--style-size", "0",
              "--style", str(style), "--device", "cpu", "--precision", "fp32", "--no-progress", "--ext", "png"]
    assert main([*common, "--content", *map(str, contents), "--output", str(tmp_path / "single")]) == 0
    code = main([*common, "--content", *map(str, contents), str(tmp_path / "broken.png"),
                 "--output", str(tmp_path / "batched"), "--batch", "4"])
    assert code == 2  # the broken file; every other output is written
    for content in contents:
        name = f"{content.stem}_stylized_s.png"
        single = torch.from_numpy(np.array(Image.open(tmp_path / "single" / name))).float()
        batched = torch.from_numpy(np.array(Image.open(tmp_path / "batched" / name))).float()
        assert (single - batched).abs().max() <= 1  # equal up to one 8-bit level


def test_compile_falls_back_to_eager_with_one_line(monkeypatch, capsys, hed_encoder):
    from adain.core.runtime import compile_with_fallback

    def broken_compile(fn, **kwargs):
        def compiled(*args, **kw):
            raise RuntimeError("no C++ compiler found\nlong backtrace")
        return compiled

    monkeypatch.setattr(torch, "compile", broken_compile)
    layer = torch.nn.Conv2d(3, 4, 3)
    expected = layer(torch.ones(1, 3, 8, 8))
    compile_with_fallback(layer, "decoder")
    torch.testing.assert_close(layer(torch.ones(1, 3, 8, 8)), expected)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["adain: torch.compile failed for the decoder (RuntimeError: no C++ compiler found); running eagerly"]
    layer(torch.ones(1, 3, 8, 8))  # later calls stay eager, silently
    assert capsys.readouterr().err == ""
