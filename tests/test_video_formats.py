"""`adain video` across formats: every video codec × audio codec × container this PyAV writes,
as input and as output, with and without B-frames — frames out in display order, strictly
increasing timestamps one frame apart, the input's video duration, every audio stream carried
(copied where the output takes its codec, else re-encoded) with its duration and its tone.

The clips are written by the tests (tests/video_clips.py): 12 frames of 64×48 at 12 fps, a 440 Hz
tone; stylised by the cheap test stylizer (real vgg16-hed encoder, seeded untrained decoder).
The DivX-style AVI (MPEG-4 Part 2 with packed B-frames, AC-3 audio) is the file whose shuffled
timestamps used to stop the encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

import adain.inference.video as video_module  # noqa: E402
from adain.inference.video_write import CONTAINERS, OutputFormat, _audio_plan  # noqa: E402

from video_clips import (ClipSpec, decode, dominant_frequency, encoders_available, nearest_source,  # noqa: E402
                         source_frames, write_clip)

COUNT = 12
PACKED_AVI = ClipSpec("mpeg4", ".avi", "ac3", b_frames=1, packed=True)
INPUTS = [
    PACKED_AVI,
    ClipSpec("mpeg4", ".avi", "mp3", b_frames=2),
    ClipSpec("mpeg4", ".avi", "pcm_s16le"),
    ClipSpec("msmpeg4v2", ".avi", "mp2"),
    ClipSpec("mjpeg", ".avi", "pcm_u8", audio_rate=16000),
    ClipSpec("huffyuv", ".avi", "pcm_s16le"),
    ClipSpec("libx264", ".mp4", "aac", b_frames=2),
    ClipSpec("libx264", ".mp4", "aac"),
    ClipSpec("libx264", ".mp4", "ac3", b_frames=2),
    ClipSpec("mpeg4", ".mp4", "mp3", b_frames=2),
    ClipSpec("libx265", ".mp4", "aac", b_frames=2, options={"x265-params": "log-level=none"}),
    ClipSpec("libsvtav1", ".mp4", "libopus"),
    ClipSpec("libvpx-vp9", ".mp4", "libopus"),
    ClipSpec("libx264", ".mov", "alac", b_frames=3),
    ClipSpec("libx264", ".mov", "pcm_s16le"),
    ClipSpec("prores", ".mov", "pcm_s24le"),
    ClipSpec("mjpeg", ".mov", "pcm_mulaw", audio_rate=8000),
    ClipSpec("libx264", ".mkv", "flac", b_frames=2),
    ClipSpec("libx264", ".mkv", "pcm_s16le", b_frames=2),
    ClipSpec("libx265", ".mkv", "eac3", options={"x265-params": "log-level=none"}),
    ClipSpec("libvpx-vp9", ".mkv", "vorbis"),
    ClipSpec("libsvtav1", ".mkv", "flac"),
    ClipSpec("ffv1", ".mkv", "wavpack"),
    ClipSpec("libvpx-vp9", ".webm", "libopus"),
    ClipSpec("libvpx", ".webm", "vorbis"),
    ClipSpec("mpeg2video", ".mpg", "mp2", b_frames=2),
    ClipSpec("mpeg2video", ".ts", "ac3", b_frames=2),
    ClipSpec("libx264", ".ts", "aac", b_frames=2),
    ClipSpec("flv", ".flv", "mp3"),
    ClipSpec("libx264", ".mp4", None, b_frames=2),
]
OUTPUTS = list(CONTAINERS)  # .mp4 .m4v .mov .mkv .webm .avi
# a fast, representative part: every output container, B-frames in and out, audio copied and
# re-encoded (mp4 takes Opus, webm takes no AAC, AVI takes FLAC, mp4 takes no Vorbis)
FAST = [
    (ClipSpec("libx264", ".mp4", "aac", b_frames=2), ".webm"),
    (ClipSpec("libvpx-vp9", ".webm", "libopus"), ".mp4"),
    (ClipSpec("mjpeg", ".avi", "pcm_u8", audio_rate=16000), ".mov"),
    (ClipSpec("mpeg4", ".avi", "mp3", b_frames=2), ".m4v"),
    (ClipSpec("libx264", ".mkv", "flac", b_frames=2), ".avi"),
    (ClipSpec("libvpx", ".webm", "vorbis"), ".mkv"),
]


def _available(spec: ClipSpec) -> bool:
    return encoders_available(spec.video, *([spec.audio] if spec.audio else []))


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="module")
def style_code(stylizer_fp32):
    from adain.cli.examples import stained_glass

    return stylizer_fp32.encode_style(stained_glass(96), 64)


def _clip(folder: Path, spec: ClipSpec) -> Path:
    if not _available(spec):
        pytest.skip(f"this PyAV cannot encode {spec.name}")
    path = folder / spec.name.replace("+", "_")
    return path if path.exists() else write_clip(path, spec, count=COUNT)


def _codec_family(name: str) -> str:
    """A codec's name as a demuxer reports it, whichever encoder or decoder named it: libmp3lame and
    mp3float are mp3; MPEG-1 audio layers 2 and 3 are one object type in MP4/MOV (read back as mp3)."""
    name = name.replace("float", "").removeprefix("lib")
    name = {"mp3lame": "mp3", "mp2": "mp3"}.get(name, name)
    return name


def stylise_and_check(stylizer, code, clip: Path, output: Path):
    """Stylise `clip` into `output` and check everything the output must keep; returns both decodes."""
    reference = decode(clip)
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    result = stylizer.stylize_video(clip, code, output, progress=False,
                                    on_frame=lambda index, rgb, out: seen.append((rgb, out)))
    written = decode(output)
    assert result.warnings == ()
    assert result.frames == len(written.frames) == len(reference.frames) == COUNT

    # display order: the stylizer got the source frames in order, and each written frame is the
    # stylised frame of its position (ties allowed: neighbouring stylised frames can be alike)
    sources = source_frames(COUNT)
    assert [nearest_source(rgb, sources) for rgb, _ in seen] == list(range(COUNT))
    for index, frame in enumerate(written.frames):
        errors = [np.mean(np.abs(frame.astype(np.float32) - out.astype(np.float32))) for _, out in seen]
        assert errors[index] <= min(errors) + 0.5, (index, errors)

    # timestamps: strictly increasing, one frame apart, the input's duration
    frame_seconds = 1 / float(reference.rate)
    gaps = np.diff(np.array(written.pts, dtype=np.float64)) * float(written.time_base)
    assert (gaps > 0).all(), written.pts
    assert np.abs(gaps - frame_seconds).max() < 0.002, written.pts
    assert written.video_seconds == pytest.approx(reference.video_seconds, abs=0.002)

    # audio: every stream, copied or re-encoded to the container's codec, as long as the input's
    assert result.audio_streams == len(written.audio) == len(reference.audio)
    output_format = CONTAINERS[output.suffix]
    with av.open(str(clip)) as container:
        plans = [_audio_plan(output_format, stream)[0] for stream in container.streams.audio]
    for plan, (codec_in, _), (codec_out, _) in zip(plans, reference.audio, written.audio):
        expected = codec_in if plan == "copy" else av.codec.Codec(output_format.audio_codec, "w").name
        assert _codec_family(codec_out) == _codec_family(expected), (plan, codec_in, codec_out)
    for seconds_in, seconds_out, frame_in, frame_out in zip(reference.audio_seconds, written.audio_seconds,
                                                            reference.audio_frame_seconds,
                                                            written.audio_frame_seconds):
        # codecs pad to whole frames and prime their decoders: up to two frames either way
        assert seconds_out == pytest.approx(seconds_in, abs=2 * max(frame_in, frame_out) + 0.01)
    if written.audio:
        assert dominant_frequency(written.first_audio, written.audio[0][1]) == pytest.approx(440, abs=5)
        # in sync: the audio starts where it did relative to the video (AVI has no start times:
        # up to a frame off), and the file starts at 0 (an MPEG-TS clip starts anywhere)
        slack = max(reference.audio_frame_seconds[0], written.audio_frame_seconds[0]) + 0.002
        slack += frame_seconds if output.suffix == ".avi" else 0
        offset_in = reference.video_start - reference.audio_start[0]
        assert written.video_start - written.audio_start[0] == pytest.approx(offset_in, abs=slack)
        assert min(written.video_start, written.audio_start[0]) == pytest.approx(0, abs=slack)
    return reference, written


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi"])
def test_divx_avi_with_packed_b_frames_and_ac3(stylizer_fp32, style_code, clip_folder, tmp_path, suffix):
    """MPEG-4 Part 2 with packed B-frames and AC-3 in AVI: FFmpeg's timestamps come out shuffled;
    all frames come out in display order, timed one frame apart, with the AC-3 stream copied."""
    clip = _clip(clip_folder, PACKED_AVI)
    reference, written = stylise_and_check(stylizer_fp32, style_code, clip, tmp_path / f"out{suffix}")
    assert reference.pts != sorted(reference.pts)  # the input's timestamps are shuffled indeed
    assert reference.audio == written.audio == [("ac3", 48000)]


@pytest.mark.parametrize("spec, suffix", FAST, ids=[f"{spec.name}->{suffix}" for spec, suffix in FAST])
def test_formats_fast(stylizer_fp32, style_code, clip_folder, tmp_path, spec, suffix):
    stylise_and_check(stylizer_fp32, style_code, _clip(clip_folder, spec), tmp_path / f"out{suffix}")


@pytest.mark.slow
@pytest.mark.parametrize("suffix", OUTPUTS)
@pytest.mark.parametrize("spec", INPUTS, ids=[spec.name for spec in INPUTS])
def test_formats_matrix(stylizer_fp32, style_code, clip_folder, tmp_path, spec, suffix):
    stylise_and_check(stylizer_fp32, style_code, _clip(clip_folder, spec), tmp_path / f"out{suffix}")


def test_audio_that_cannot_be_carried_is_left_out_with_a_note(stylizer_fp32, style_code, clip_folder, tmp_path,
                                                              monkeypatch):
    """WebM takes no AC-3; with no encoder to re-encode it to (as in an FFmpeg built without
    one), the video is still written, without that stream, and one line says so."""
    monkeypatch.setitem(CONTAINERS, ".webm", OutputFormat("webm", "libvpx-vp9", "no-such-encoder"))
    assert video_module.CONTAINERS is CONTAINERS
    clip = _clip(clip_folder, PACKED_AVI)
    result = stylizer_fp32.stylize_video(clip, style_code, tmp_path / "out.webm", progress=False)
    written = decode(result.output)
    assert result.frames == len(written.frames) == COUNT and written.audio == [] and result.audio_streams == 0
    assert len(result.warnings) == 1
    assert "audio stream #1 (ac3)" in result.warnings[0] and "without it" in result.warnings[0]
