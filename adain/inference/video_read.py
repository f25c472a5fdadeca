"""Reading a video to stylise it: `open_video`, `Timeline` and `VideoReader`.

Decoders hand frames out in display order, but the timestamps on them come from the container
and may be out of order or missing.  AVI stores no presentation times, so FFmpeg guesses them,
and for DivX/Xvid "packed" B-frames (a P- and a B-frame in one chunk, then an empty chunk) the
guess comes out 1,2,3,5,4,6,8,7,…  The pictures are in the right order; only their labels are
shuffled.  An encoder refuses timestamps that do not increase, so `Timeline` sorts the labels over
a short window (never the frames) and, where a label is missing or would not increase, gives the
previous one plus one frame interval.

A damaged or truncated file is read as far as it goes: a packet that does not decode is skipped
and counted, a demuxer that stops early ends the clip, and `VideoReader.shortfall` says how many
frames the file should have held.  Audio packets are handed on as they are demuxed.
"""

from __future__ import annotations

import heapq
import os
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from adain.core.errors import UserError, require

# frames held back while their timestamps are sorted: more than any B-frame reordering FFmpeg's
# guesses shuffle (one place for packed B-frames); decoded frames live in FFmpeg's buffers
REORDER_WINDOW = 8


def av_module():
    return require("av", "video")


def reason(exc: Exception) -> str:
    """FFmpeg's message for an error, without the errno and file name PyAV adds."""
    return str(getattr(exc, "strerror", None) or exc).strip().rstrip(".") or type(exc).__name__


def stream_label(stream) -> str:
    """'video stream #0 (mpeg4)': names the stream in messages."""
    return f"{stream.type} stream #{stream.index} ({stream.codec_context.name})"


def open_video(path: str | os.PathLike):
    """PyAV input container and its first video stream; a one-line UserError for a missing
    file, a file FFmpeg cannot read, or one without a video stream."""
    av = av_module()
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: video file not found")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: not a video file FFmpeg can read ({reason(exc)})") from None
    if not container.streams.video:
        container.close()
        raise UserError(f"{path}: no video stream (expected a video file)")
    return container, container.streams.video[0]


def frame_rate(stream) -> Fraction:
    """The stream's frame rate, 25 where the container says nothing."""
    return Fraction(stream.average_rate or stream.guessed_rate or 25)


class Timeline:
    """Strictly increasing timestamps for items (frames) that arrive in display order.

    `window` items are held back; each one leaves with the smallest timestamp seen and not yet
    given out, so a label shuffled by up to `window` places goes back to its frame.  An item
    without a label, or whose label would not increase, gets the previous one plus
    `frame_ticks`; the first such item gets 0."""

    def __init__(self, frame_ticks: int, window: int = REORDER_WINDOW):
        self.frame_ticks = max(1, int(frame_ticks))
        self.window = window
        self.items: deque[tuple[Any, bool]] = deque()  # (item, came with a timestamp)
        self.stamps: list[int] = []  # min-heap of the timestamps not given out yet
        self.last: int | None = None
        self.derived = 0  # labels made up from the frame interval

    def push(self, item, pts: int | None) -> list[tuple[Any, int]]:
        """Take one item; return those that leave, as (item, timestamp)."""
        self.items.append((item, pts is not None))
        if pts is not None:
            heapq.heappush(self.stamps, int(pts))
        leaving = []
        while len(self.items) > self.window:
            leaving.append(self._next())
        return leaving

    def flush(self) -> list[tuple[Any, int]]:
        return [self._next() for _ in range(len(self.items))]

    def _next(self) -> tuple[Any, int]:
        item, labelled = self.items.popleft()
        pts = heapq.heappop(self.stamps) if labelled and self.stamps else None
        if pts is None or (self.last is not None and pts <= self.last):
            pts = 0 if self.last is None else self.last + self.frame_ticks
            self.derived += 1
        self.last = pts
        return item, pts


@dataclass
class Shortfall:
    """How far the decoded frames fall short of what the file should hold."""

    decoded: int
    expected: int
    estimated: bool  # `expected` comes from how long a gap lasts, not from counting
    cause: str

    @property
    def missing(self) -> int:
        return self.expected - self.decoded

    def message(self, path) -> str:
        about = "about " if self.estimated else ""
        return (f"{path}: {self.decoded} of {about}{self.expected} frames decoded; {about}{self.missing} missing "
                f"({self.cause})")


class VideoReader:
    """The frames of `stream` as (H, W, 3) uint8 RGB at the stream's size, in display order, with
    strictly increasing timestamps in `time_base` ticks.  Audio packets of `audio_streams` go
    to `on_audio` as they are demuxed, in file order."""

    def __init__(self, container, stream, audio_streams, on_audio: Callable[[Any], None]):
        self.container, self.stream = container, stream
        self.audio_streams, self.on_audio = list(audio_streams), on_audio
        self.rate = frame_rate(stream)
        self.time_base = stream.time_base or 1 / self.rate
        self.width, self.height = stream.codec_context.width, stream.codec_context.height
        self.timeline = Timeline(round(1 / (self.rate * self.time_base)))
        self.decoded = 0
        self.video_packets = 0  # read from the file, not empty, meant to be shown
        self.failed_packets = 0  # video packets that did not decode (skipped)
        self.interlaced = False  # fields may come in packets of their own, two to a frame
        self.last_error: str | None = None  # the last decode or demux failure, for the messages
        self.stopped_early = False  # the demuxer failed before the end of the file
        self.ends = {"video": float("-inf"), "any": float("-inf")}  # where the packets read end, seconds
        self.video_start = float("inf")  # the earliest video packet time, seconds

    def frames(self) -> Iterator[tuple[np.ndarray, int, Fraction]]:
        """Yield (rgb, pts, time_base) for every frame that decodes."""
        for frame in self._decoded():
            for ready, pts in self.timeline.push(frame, frame.pts):
                yield self._rgb(ready), pts, self.time_base
        for ready, pts in self.timeline.flush():
            yield self._rgb(ready), pts, self.time_base

    def _rgb(self, frame) -> np.ndarray:
        self.decoded += 1
        self.interlaced = self.interlaced or frame.interlaced_frame
        # at the stream's size, should the size change inside the clip: the encoder's is fixed
        return frame.to_ndarray(format="rgb24", width=self.width, height=self.height)

    def _decoded(self):
        av = av_module()
        packets = self.container.demux(self.stream, *self.audio_streams)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:  # the container cannot be read further
                self.stopped_early, self.last_error = True, f"demux failed: {reason(exc)}"
                break
            if packet.pts is not None and packet.time_base is not None:
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                self.ends["any"] = max(self.ends["any"], end)
                if packet.stream.type == "video":
                    self.ends["video"] = max(self.ends["video"], end)
                    self.video_start = min(self.video_start, float(packet.pts * packet.time_base))
            if packet.stream.type == "audio":
                self.on_audio(packet)
                continue
            # a packet an edit list cuts is decoded for its references but gives no frame by design
            self.video_packets += packet.size > 0 and not packet.is_discard
            try:
                yield from packet.decode()
            except av.error.FFmpegError as exc:  # a damaged packet: skip it, keep the rest of the clip
                if packet.size:
                    self.failed_packets += 1
                self.last_error = f"decode failed: {reason(exc)}"
        try:  # frames the decoder still holds where the demuxer stopped before its end-of-stream packet
            yield from self.stream.codec_context.decode(None)
        except av.error.FFmpegError:  # already drained (EOFError) or failing: nothing more to get
            pass

    def declared_end(self) -> tuple[float, str]:
        """The declared end, seconds, and which packets to hold it against: the video stream's
        (AVI, MP4, MOV), else the file's (Matroska, WebM: no stream durations), against the
        packets of any stream (audio may outlast the video)."""
        stream = self.stream
        if stream.duration and stream.time_base:
            return float(((stream.start_time or 0) + stream.duration) * stream.time_base), "video"
        if self.container.duration:
            return ((self.container.start_time or 0) + self.container.duration) / 1e6, "any"
        return float("-inf"), "any"

    def declared_frames(self) -> int:
        """The header's frame count (AVI, MP4, MOV; Matroska files from mkvmerge carry it as a
        tag), 0 where there is none."""
        if self.stream.frames:
            return self.stream.frames
        tag = self.stream.metadata.get("NUMBER_OF_FRAMES", "")
        return int(tag) if tag.isdigit() else 0

    def shortfall(self) -> Shortfall | None:
        """What is missing once `frames` is exhausted, or None for a complete clip.

        Missing are the frames no packet was read for — by time (the declared length against
        the last packet's end) or by count (the header's frame count against the packets read:
        a truncated AVI loses its index, and with it the declared length) — and the packets read
        that gave no picture (the decoder refused them, or dropped them silently, as it does
        with the frames after a lost reference)."""
        frame_seconds = 1 / float(self.rate)
        end, held_against = self.declared_end()
        # lengths are rounded (a file's, with no stream length: Matroska, WebM, to audio packets)
        by_time = end - self.ends[held_against] > 1.5 * frame_seconds + (0.1 if held_against == "any" else 0.0)
        declared = self.declared_frames()
        by_count = declared - self.video_packets > 1  # 1: AVI counts a leading empty chunk
        # the packets read cover one frame each from the first (the last one's time runs ahead of
        # them by the B-frame delay): the rest of the declared length is unread
        covered = self.video_start + self.video_packets * frame_seconds if self.video_packets else self.ends["any"]
        unread = max(max(0, round((end - covered) / frame_seconds)) if by_time else 0,
                     declared - self.video_packets if by_count else 0)
        # progressive video has one packet per picture in every common container
        no_picture = max(self.failed_packets, 0 if self.interlaced else self.video_packets - self.decoded)
        if not unread + no_picture:
            return None
        # a count from the time a gap lasts is an estimate, unless the header's count confirms it
        expected, estimated = self.decoded + unread + no_picture, by_time
        if by_time and declared > self.decoded and abs(declared - expected) <= 2:
            expected, estimated = declared, False
        label = stream_label(self.stream)
        causes = []
        if by_count and not by_time:
            causes.append(f"the file holds {self.video_packets} of the {declared} frames its header declares: "
                          "truncated")
        elif unread:
            causes.append(f"no data after {max(self.ends[held_against], 0):.2f} s of the declared {end:.2f} s: "
                          "truncated or damaged")
        if self.stopped_early:
            causes.append(self.last_error)
        if self.failed_packets:
            causes.append(f"{self.failed_packets} packet(s) did not decode ({self.last_error})")
        if no_picture > self.failed_packets:
            causes.append(f"{no_picture - self.failed_packets} packet(s) gave no picture")
        return Shortfall(self.decoded, expected, estimated, f"{label}: " + "; ".join(causes))
