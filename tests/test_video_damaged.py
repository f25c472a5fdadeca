"""`adain video` on truncated and damaged clips: every frame that decodes is stylised, timestamps
kept, one warning line names how many frames are missing, exit 0; `--strict` refuses (exit 2);
a clip with no decodable frame is an error.  And `Timeline`, which orders the timestamps."""

from __future__ import annotations

import io
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from adain.core.errors import UserError  # noqa: E402
from adain.inference.video_read import Timeline  # noqa: E402

from video_clips import ClipSpec, break_packet, decode, truncate, write_clip  # noqa: E402

COUNT = 16  # long enough that half a file holds several whole frames


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("damaged")
    avi = write_clip(folder / "divx.avi", ClipSpec("mpeg4", ".avi", "ac3", b_frames=1, packed=True), count=COUNT)
    mp4 = write_clip(folder / "h264.mp4", ClipSpec("libx264", ".mp4", "aac", b_frames=2,
                                                   muxer_options={"movflags": "faststart"}), count=COUNT)
    mkv = write_clip(folder / "h264.mkv", ClipSpec("libx264", ".mkv", "flac", b_frames=2), count=COUNT)
    mjpeg = write_clip(folder / "mjpeg.avi", ClipSpec("mjpeg", ".avi", "pcm_s16le"), count=COUNT)
    return {
        "truncated avi": truncate(avi, folder / "truncated.avi", 0.5),
        "truncated mp4": truncate(mp4, folder / "truncated.mp4", 0.5),  # index first: it still opens
        "truncated mkv": truncate(mkv, folder / "truncated.mkv", 0.5),
        "broken avi": break_packet(avi, folder / "broken.avi"),
        "broken mp4": break_packet(mp4, folder / "broken.mp4"),
        "broken mkv": break_packet(mkv, folder / "broken.mkv"),
        "broken mjpeg": break_packet(mjpeg, folder / "broken_mjpeg.avi"),
    }


def _check_partial(result, clip: Path, expected_count: int, phrase: str) -> None:
    """The output holds every frame a plain decode loop gets from `clip`, at their times, with
    the audio, and the warning says how many are missing."""
    reference, written = decode(clip), decode(result.output)
    assert 0 < result.frames == len(written.frames) == len(reference.frames) < COUNT
    # the frames keep their times (relative to the first), gaps where frames are missing
    times = np.array(written.pts, dtype=np.float64) * float(written.time_base)
    reference_times = np.sort(np.array(reference.pts, dtype=np.float64)) * float(reference.time_base)
    assert np.all(np.diff(times) > 0)
    np.testing.assert_allclose(times - times[0], reference_times - reference_times[0], atol=0.002)
    assert written.audio_seconds == pytest.approx(reference.audio_seconds, abs=0.05)
    assert len(result.warnings) == 1
    if "about" in result.warnings[0]:
        # no frame count in the file (Matroska): the total is estimated from the declared length
        assert abs(result.expected_frames - expected_count) <= 2, result.warnings
        expected_count = result.expected_frames
    else:
        assert result.expected_frames == expected_count
    missing = expected_count - result.frames
    assert f"{result.frames} of " in result.warnings[0] and f"{expected_count} frames decoded; " in result.warnings[0]
    assert f"{missing} missing" in result.warnings[0] and phrase in result.warnings[0], result.warnings


@pytest.mark.parametrize("name, expected_count, phrase", [
    ("truncated avi", COUNT, "truncated"),  # the header's count: the index is lost with the tail
    ("truncated mp4", COUNT, "truncated"),
    ("truncated mkv", COUNT, "truncated"),  # no count in the header: estimated from the duration
    ("broken avi", COUNT, "did not decode"),
    ("broken mp4", COUNT, "did not decode"),
    ("broken mkv", COUNT, "did not decode"),
    ("broken mjpeg", COUNT, "did not decode"),
])
def test_damaged_clip_gives_every_frame_that_decodes(stylizer_fp32, clips, tmp_path, name, expected_count, phrase):
    result = stylizer_fp32.stylize_video(clips[name], _style(), tmp_path / "out.mp4",
                                         style_size=64, progress=False)
    _check_partial(result, clips[name], expected_count, phrase)


def _style():
    from adain.cli.examples import stained_glass

    return stained_glass(96)


def _cli(args: list[str]) -> tuple[int, str]:
    from adain.cli.main import main

    err = io.StringIO()
    with redirect_stderr(err):
        code = main(args)
    return code, err.getvalue()


def test_cli_truncated_clip_warns_once_and_strict_refuses(clips, decoder_file, tmp_path):
    style = tmp_path / "style.png"
    _style().save(style)
    clip = clips["truncated avi"]
    common = ["video", "--input", str(clip), "--style", str(style), "--style-size", "64", "--no-progress",
              "--decoder", str(decoder_file), "--precision", "fp32", "--device", "cpu"]
    out = tmp_path / "out.mkv"
    code, err = _cli(common + ["--output", str(out)])
    assert code == 0, err
    lines = err.strip().splitlines()
    decoded = len(decode(clip).frames)
    assert len(lines) == 1 and lines[0].startswith("adain: warning: "), err
    assert f"{decoded} of {COUNT} frames decoded; {COUNT - decoded} missing" in lines[0]
    assert len(decode(out).frames) == decoded

    strict = tmp_path / "strict.mkv"
    code, err = _cli(common + ["--output", str(strict), "--strict"])
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("adain: error: "), err
    assert f"{decoded} of {COUNT} frames decoded" in err and "--strict" in err
    assert not strict.exists() and not list(tmp_path.glob(".*part*"))


def test_clip_with_no_decodable_frame_is_an_error(stylizer_fp32, tmp_path):
    """Every video packet overwritten: nothing to stylise, a one-line error, no output."""
    clip = write_clip(tmp_path / "clip.avi", ClipSpec("mjpeg", ".avi", "pcm_s16le"), count=4)
    data = clip.read_bytes()
    with av.open(str(clip)) as container:
        payloads = [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]
    for payload in payloads:
        data = data.replace(payload, b"\xff" * len(payload))
    broken = tmp_path / "broken.avi"
    broken.write_bytes(data)
    with pytest.raises(UserError, match=r"video stream #0 \(mjpeg\): no frame could be decoded; decode failed"):
        stylizer_fp32.stylize_video(broken, _style(), tmp_path / "out.mp4", style_size=64, progress=False)
    assert not (tmp_path / "out.mp4").exists()


# --- Timeline: the order of timestamps --------------------------------------------------------

def _run(timeline: Timeline, stamps) -> list[tuple[int, int]]:
    out = []
    for index, pts in enumerate(stamps):
        out += timeline.push(index, pts)
    return out + timeline.flush()


def test_timeline_puts_shuffled_labels_back_without_moving_frames():
    packed = [1, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12]  # FFmpeg's guesses for packed B-frames in AVI
    out = _run(Timeline(frame_ticks=1, window=4), packed)
    assert [item for item, _ in out] == list(range(12))  # frames stay in the decoder's (display) order
    assert [pts for _, pts in out] == list(range(1, 13))


def test_timeline_derives_missing_and_repeated_labels_from_the_frame_interval():
    out = _run(Timeline(frame_ticks=1000), [None, None, None])
    assert [pts for _, pts in out] == [0, 1000, 2000]
    out = _run(Timeline(frame_ticks=10), [0, 10, None, 30, 30, 50])  # one missing, one repeated
    assert [pts for _, pts in out] == [0, 10, 20, 30, 40, 50]
    varying = [0, 7, 30, 31, 90]  # variable frame rate: increasing labels pass through unchanged
    assert [pts for _, pts in _run(Timeline(frame_ticks=10), varying)] == varying
