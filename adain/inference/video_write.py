"""Writing a stylised video: `VideoWriter`, the output container with its video stream and the
input's audio streams.

Audio policy: each audio stream is copied packet for packet where the output container takes its
codec, else decoded and re-encoded to the container's audio codec; which one is decided by FFmpeg
itself, by writing a header with that stream into memory first.  An audio problem never stops the
video: a stream that can be neither copied nor re-encoded is left out, and one that fails part way
is cut there, each with one line in `VideoWriter.notes`.  A failure of the video stream is a
UserError that names the stream and the operation (encode, mux).
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

from adain.core.errors import UserError
from adain.inference.video_read import av_module, frame_rate, reason, stream_label


class OutputFormat(NamedTuple):
    container: str  # FFmpeg's muxer name
    video_codec: str
    audio_codec: str  # what an audio stream the container does not take is re-encoded to


CONTAINERS = {
    ".mp4": OutputFormat("mp4", "libx264", "aac"),
    ".m4v": OutputFormat("mp4", "libx264", "aac"),
    ".mov": OutputFormat("mov", "libx264", "aac"),
    ".mkv": OutputFormat("matroska", "libx264", "aac"),
    ".webm": OutputFormat("webm", "libvpx-vp9", "libopus"),
    ".avi": OutputFormat("avi", "mpeg4", "mp3"),
}


def _header_accepts(container_format: str, add_stream: Callable[[Any], Any]) -> bool:
    """Whether FFmpeg writes a `container_format` header with the stream `add_stream` adds
    (its encoder opened, for a re-encoded one): tried in memory, nothing touches the disk."""
    av = av_module()
    try:
        with av.open(io.BytesIO(), "w", format=container_format) as probe:
            add_stream(probe)
            probe.start_encoding()
    except (av.error.FFmpegError, ValueError, TypeError):
        return False
    return True


def _add_encoder(container, codec: str, stream_in, layout: str):
    """An audio stream encoding to `codec`, at the input's sample rate where the codec has it,
    else the nearest it has (higher first); PyAV converts sample format, layout and rate."""
    av = av_module()
    rates = av.codec.Codec(codec, "w").audio_rates
    rate = stream_in.rate or 48000
    if rates and rate not in rates:
        rate = min(rates, key=lambda r: (r < rate, abs(r - rate)))
    out = container.add_stream(codec, rate=rate)
    out.layout = layout
    return out


def _audio_plan(output_format: OutputFormat, stream_in) -> tuple[str, str | None]:
    """('copy', None), ('encode', layout) or ('', None) when the stream cannot be carried."""
    fmt = output_format.container
    if _header_accepts(fmt, lambda c: c.add_stream_from_template(stream_in)):
        return "copy", None
    layouts = [stream_in.layout.name] if stream_in.layout else []
    for layout in layouts + ["stereo"]:  # codecs without surround take a downmix
        if _header_accepts(fmt, lambda c: _add_encoder(c, output_format.audio_codec, stream_in, layout)):
            return "encode", layout
    return "", None


class _AudioFailure(Exception):
    def __init__(self, operation: str, exc: Exception):
        super().__init__(f"{operation} failed: {reason(exc)}")


class _AudioTrack:
    """One input audio stream in the output: packets copied, or decoded and re-encoded.

    Times are moved by `-origin` seconds, as the video's are, so the streams keep their offset.
    With `zero_start` (AVI, which has no start times) they are moved on to start at 0: a muxer
    would otherwise shift every stream by the earliest negative audio time (codec priming),
    which rounds up to a whole video frame."""

    def __init__(self, container, stream_in, out, reencode: bool, origin: Fraction, zero_start: bool):
        self.container, self.out, self.reencode = container, out, reencode
        self.origin, self.zero_start = origin, zero_start
        self.label = stream_label(stream_in)
        self.encoded_offset: int | None = None  # a re-encoding's first time, encoder ticks
        self.avi_shift: int | None = None
        self.last_dts: int | None = None  # of the last packet copied, and its duration, input ticks
        self.last_duration = 0
        self.seconds = 0.0  # how far it has been written, for the messages
        self.skipped = 0  # damaged packets left out of a re-encoding
        self.failure: str | None = None  # set once the stream is cut

    def write(self, packet) -> None:
        av = av_module()
        if packet.pts is not None and packet.time_base is not None:
            self.seconds = float(packet.pts * packet.time_base)
        if not self.reencode:
            if not packet.size:  # the demuxer's end-of-stream packet
                return
            self._follow_on(packet)
            _shift(packet, -round(self.origin / packet.time_base))
            packet.stream = self.out
            self._mux([packet])
            return
        try:
            frames = packet.decode()
        except av.error.FFmpegError:  # one damaged packet: a short gap in the sound, not the end of it
            self.skipped += 1
            return
        for frame in frames:
            if self.encoded_offset is None:  # the encoder numbers samples from 0: start where the input does
                start = frame.pts * frame.time_base if frame.pts is not None and frame.time_base else self.origin
                self.encoded_offset = round((start - self.origin) * self.out.rate)
            frame.pts = None
            self._mux(self._encode(frame))

    def _follow_on(self, packet) -> None:
        """Audio packets come in playing order; where the container's timestamps do not follow
        on (none, or earlier than the previous packet's end: AVI files that store audio as a
        byte stream read back several packets at one time), the previous end is the time."""
        follows = None if self.last_dts is None else self.last_dts + max(self.last_duration, 1)
        if packet.dts is None or (follows is not None and packet.dts < follows):
            lead = None if packet.dts is None or packet.pts is None else packet.pts - packet.dts
            packet.dts = follows if follows is not None else 0
            packet.pts = packet.dts + (lead or 0)
        self.last_dts, self.last_duration = packet.dts, packet.duration or 0

    def finish(self) -> None:
        if self.reencode:
            self._mux(self._encode(None))

    def _encode(self, frame):
        av = av_module()
        try:
            packets = self.out.encode(frame)
        except av.error.FFmpegError as exc:
            raise _AudioFailure("encode", exc) from None
        for packet in packets:
            _shift(packet, self.encoded_offset or 0)
        return packets

    def _mux(self, packets) -> None:
        av = av_module()
        for packet in packets:
            if self.zero_start and packet.dts is not None:
                if self.avi_shift is None:
                    self.avi_shift = max(0, -packet.dts)
                _shift(packet, self.avi_shift)
        try:
            self.container.mux(packets)
        except av.error.FFmpegError as exc:
            raise _AudioFailure("mux", exc) from None


def _shift(packet, ticks: int) -> None:
    if ticks:
        packet.dts = None if packet.dts is None else packet.dts + ticks
        packet.pts = None if packet.pts is None else packet.pts + ticks


class VideoWriter:
    """The output file: frames go in through `write_frame`, audio packets through `write_audio`;
    `close` finishes it.  `notes` collects one line per audio stream left out or cut short.
    Messages name the file as `shown_as` (the final name of a file written under a temporary one)."""

    def __init__(self, path: Path, output_format: OutputFormat, video_in, audio_in, width: int, height: int,
                 origin: Fraction = Fraction(0), shown_as: Path | None = None):
        """`origin`: the input's start time, seconds; every stream's times are moved by −origin, so
        the output starts at 0 (an MPEG-TS clip starts anywhere) with the streams' offsets kept."""
        av = av_module()
        self.origin = origin
        self.path, self.notes = shown_as or path, []
        suffix = path.suffix.lower()
        plans = {stream.index: _audio_plan(output_format, stream) for stream in audio_in}
        self.container = av.open(str(path), mode="w", format=output_format.container)
        rate = frame_rate(video_in)
        codec = output_format.video_codec
        self.video = self.container.add_stream(codec, rate=rate)
        self.video.width, self.video.height = width, height
        # 4:2:0 needs even sides; odd ones keep full chroma (H.264 High 4:4:4)
        even = width % 2 == 0 and height % 2 == 0
        self.video.pix_fmt = "yuv420p" if even or codec != "libx264" else "yuv444p"
        # constant quality, so that it holds at any frame size (the encoders' default bit rates
        # are for small frames): about 35 dB PSNR on a photo for each
        if codec == "libx264":
            self.video.options = {"crf": "18", "preset": "medium"}
        elif codec == "libvpx-vp9":
            self.video.options = {"crf": "30", "b": "0"}
        elif codec == "mpeg4":
            self.video.codec_context.qscale = 3
        # AVI counts frames, not time: one tick per frame (finer ticks would be written as
        # empty frames), at most 1/65535 s (MPEG-4 Part 2's finest); elsewhere the input's own
        # ticks, so timestamps go through unchanged
        if output_format.container == "avi":
            time_base = 1 / rate if (1 / rate).denominator <= 65535 else 1 / Fraction(round(rate * 1000), 1000)
        else:
            time_base = video_in.time_base or 1 / rate
        self.video.codec_context.time_base = self.video.time_base = time_base
        self.frame_ticks = max(1, round(1 / (rate * time_base)))
        # AVI has no start time: a first frame after 0 would be written after an empty chunk,
        # which readers drop, so its frames are counted from 0
        self.start_pts = None if output_format.container == "avi" else 0
        self.codec, self.frames, self.last_pts = codec, 0, None
        self.audio: dict[int, _AudioTrack] = {}
        for stream in audio_in:
            mode, layout = plans[stream.index]
            if mode == "copy":
                out = self.container.add_stream_from_template(stream)
            elif mode == "encode":
                out = _add_encoder(self.container, output_format.audio_codec, stream, layout)
            else:
                self.notes.append(f"{stream_label(stream)}: {suffix} takes neither the codec nor a re-encoding "
                                  f"to {output_format.audio_codec}; the video is written without it")
                continue
            self.audio[stream.index] = _AudioTrack(self.container, stream, out, mode == "encode", origin,
                                                   zero_start=output_format.container == "avi")

    def write_frame(self, rgb: np.ndarray, pts: int, time_base: Fraction) -> None:
        """One (H, W, 3) uint8 frame at `pts` ticks of `time_base` (strictly increasing)."""
        av = av_module()
        out_pts = round((pts * time_base - self.origin) / self.video.time_base)
        if self.start_pts is None:
            self.start_pts = out_pts
        out_pts -= self.start_pts
        if self.last_pts is not None and out_pts <= self.last_pts:  # two input times in one AVI tick
            out_pts = self.last_pts + 1
        self.last_pts = out_pts
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts, frame.time_base, frame.duration = out_pts, self.video.time_base, self.frame_ticks
        self.frames += 1
        self._mux_video(self._encode_video(frame))

    def write_audio(self, packet) -> None:
        track = self.audio.get(packet.stream.index)
        if track is None or track.failure:
            return
        try:
            track.write(packet)
        except _AudioFailure as failure:
            self._cut(track, str(failure))

    def close(self) -> None:
        """Flush the encoders and write the trailer; a UserError names what failed."""
        self._mux_video(self._encode_video(None))
        for track in self.audio.values():
            if not track.failure:
                try:
                    track.finish()
                except _AudioFailure as failure:
                    self._cut(track, str(failure))
            if track.skipped and not track.failure:
                self.notes.append(f"{track.label}: {track.skipped} damaged packet(s) left out")
        av = av_module()
        try:
            self.container.close()
        except av.error.FFmpegError as exc:
            raise UserError(f"{self.path}: could not finish the file (mux failed: {reason(exc)})") from None

    def abandon(self) -> None:
        """Close after a failure, ignoring what else fails (the file is deleted)."""
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - already failing; the partial file goes
            pass

    def _cut(self, track: _AudioTrack, failure: str) -> None:
        track.failure = failure
        self.notes.append(f"{track.label}: {failure} at {track.seconds:.2f} s; the rest of it is left out")

    def _encode_video(self, frame):
        av = av_module()
        try:
            return self.video.encode(frame)
        except av.error.FFmpegError as exc:
            where = f"frame {self.frames}" if frame is not None else "the end"
            raise UserError(f"{self.path}: video stream ({self.codec}): encode failed at {where} "
                            f"({reason(exc)})") from None

    def _mux_video(self, packets) -> None:
        av = av_module()
        try:
            self.container.mux(packets)
        except av.error.FFmpegError as exc:
            raise UserError(f"{self.path}: video stream ({self.codec}): mux failed at frame {self.frames} "
                            f"({reason(exc)})") from None
