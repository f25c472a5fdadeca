"""Test clips written with PyAV (its bundled FFmpeg), and what a plain PyAV decode loop reads back.

`write_clip` writes a short panning photo (each frame a known, distinct picture) with any video
codec, optional B-frames, and a 440 Hz tone in any audio codec.  `packed=True` stores the B-frames
the way DivX/Xvid AVI files do ("packed bitstream"): each reference frame and the B-frame after it
in one chunk, then a 2-byte not-coded frame as a placeholder; FFmpeg's guessed timestamps for such
a file come out shuffled (1, 3, 2, 5, 4, …).  `damage` truncates a file or breaks a packet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# the user data DivX writes into its stream header; the trailing "p" tells decoders "packed"
DIVX_PACKED_USER_DATA = b"\x00\x00\x01\xb2DivX503b1393p"
VOP_START = b"\x00\x00\x01\xb6"


def not_coded_vop(fps: int) -> bytes:
    """A not-coded P-VOP, the placeholder chunk after a packed pair: coding type 01, modulo time
    0, marker, time increment 0 (as many bits as FFmpeg's encoder gives a resolution of `fps`),
    marker, vop_coded 0, then stuffing (0 and 1s) to the byte boundary."""
    bits = "01" + "0" + "1" + "0" * max(1, (fps - 1).bit_length()) + "1" + "0"
    bits += "0" + "1" * (-(len(bits) + 1) % 8)
    return VOP_START + int(bits, 2).to_bytes(len(bits) // 8, "big")


def source_frames(count: int, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """A photo seen through a window that pans 3 px right per frame: every frame differs."""
    from PIL import Image
    from skimage import data

    photo = np.asarray(Image.fromarray(data.astronaut()).resize((width + 3 * count, height + 40), Image.BICUBIC))
    return [np.ascontiguousarray(photo[20:20 + height, 3 * t:3 * t + width]) for t in range(count)]


def encoders_available(*names: str) -> bool:
    for name in names:
        try:
            av.codec.Codec(name, "w")
        except Exception:  # noqa: BLE001 - av raises UnknownCodecError or ValueError by version
            return False
    return True


def _encode_audio(container, codec: str, rate: int, seconds: float):
    stream = container.add_stream(codec, rate=rate)
    stream.layout = "stereo" if codec in ("ac3", "eac3", "mp2", "vorbis") else "mono"
    if codec == "vorbis":
        stream.codec_context.options = {"strict": "experimental"}
    return stream


def _audio_frames(stream, rate: int, seconds: float):
    channels = 2 if stream.layout.name == "stereo" else 1
    samples = int(round(rate * seconds))
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / rate)).astype(np.float32)
    planar = np.repeat(tone[None], channels, axis=0)
    chunk = stream.codec_context.frame_size or 1024
    for start in range(0, samples, chunk):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar[:, start:start + chunk]), format="fltp",
                                           layout=stream.layout.name)
        frame.sample_rate, frame.pts = rate, start
        yield frame


@dataclass
class ClipSpec:
    """One input clip: codecs, container suffix, B-frames."""

    video: str
    suffix: str
    audio: str | None = None
    b_frames: int = 0
    packed: bool = False
    audio_rate: int = 48000
    options: dict = field(default_factory=dict)  # the video encoder's
    muxer_options: dict = field(default_factory=dict)  # e.g. {"movflags": "faststart"}: the index first

    @property
    def name(self) -> str:
        b = f"-b{self.b_frames}" + ("packed" if self.packed else "") if self.b_frames else ""
        return f"{self.video}{b}+{self.audio or 'silent'}{self.suffix}"


def write_clip(path: Path, spec: ClipSpec, count: int = 12, fps: int = 12, width: int = 64, height: int = 48) -> Path:
    frames = source_frames(count, width, height)
    container = av.open(str(path), "w", options=spec.muxer_options)
    video = container.add_stream(spec.video, rate=fps)
    video.width, video.height = width, height
    formats = [f.name for f in av.codec.Codec(spec.video, "w").video_formats or []]
    video.pix_fmt = next((f for f in ("yuvj420p", "yuv420p", "yuv422p10le", "bgr0", "rgb24") if f in formats),
                         formats[0] if formats else "yuv420p")
    if spec.b_frames:
        video.codec_context.max_b_frames = spec.b_frames
        video.codec_context.gop_size = 6
    elif spec.video == "libx264":
        video.options = {"bframes": "0"}
    video.options = {**video.options, **spec.options}
    audio = _encode_audio(container, spec.audio, spec.audio_rate, count / fps) if spec.audio else None
    packets = []
    for i, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = i
        packets += video.encode(frame)
    packets += video.encode(None)
    if spec.packed:
        packets = _pack_b_frames(packets, video)
    container.mux(packets)
    if audio is not None:
        for frame in _audio_frames(audio, spec.audio_rate, count / fps):
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    container.close()
    return path


def _pack_b_frames(packets, stream):
    """MPEG-4 Part 2 packets in decoding order (I P B P B …) → DivX packed chunks: [I] [P B] [N] …,
    one chunk per frame, chunk k at time k (AVI stores one time per chunk)."""
    placeholder = not_coded_vop(round(1 / stream.codec_context.time_base))
    kinds = []
    for packet in packets:
        data = bytes(packet)
        kinds.append("IPBS"[data[data.find(VOP_START) + 4] >> 6])
    chunks, i = [], 0
    while i < len(packets):
        data = bytes(packets[i])
        if i == 0:  # announce packing in the header, as DivX does
            start = data.find(VOP_START)
            data = data[:start] + DIVX_PACKED_USER_DATA + data[start:]
        if kinds[i] in "IP" and i + 1 < len(packets) and kinds[i + 1] == "B":
            chunks += [(data + bytes(packets[i + 1]), kinds[i] == "I"), (placeholder, False)]
            i += 2
        else:
            chunks.append((data, kinds[i] == "I"))
            i += 1
    out = []
    for k, (data, key) in enumerate(chunks):
        packet = av.Packet(data)
        packet.stream, packet.pts, packet.dts = stream, k, k
        packet.time_base, packet.is_keyframe = packets[0].time_base, key
        out.append(packet)
    return out


def truncate(path: Path, to: Path, fraction: float) -> Path:
    to.write_bytes(path.read_bytes()[: int(path.stat().st_size * fraction)])
    return to


def break_packet(path: Path, to: Path) -> Path:
    """Overwrite the payload of the largest video packet in the middle half of the clip with 0xFF
    bytes, leaving the container's structure intact: its decoder refuses that packet (a damaged
    packet whose header survives is often concealed instead)."""
    with av.open(str(path)) as container:
        packets = [(p.size, bytes(p)) for p in container.demux(container.streams.video[0]) if p.size]
    _, payload = max(packets[len(packets) // 4: 3 * len(packets) // 4])
    data = path.read_bytes()
    start = data.find(payload)
    assert start >= 0 and data.find(payload, start + 1) < 0, "the payload is not stored in one piece, once"
    to.write_bytes(data[:start] + b"\xff" * len(payload) + data[start + len(payload):])
    return to


@dataclass
class Decoded:
    """What a plain PyAV decode loop reads from a file (damaged packets skipped)."""

    frames: list[np.ndarray]
    pts: list[int]
    time_base: Fraction
    rate: Fraction
    audio: list[tuple[str, int]]  # (codec, sample rate) per audio stream
    audio_seconds: list[float]  # decoded samples / rate, per audio stream
    audio_frame_seconds: list[float]  # the longest decoded audio frame, per stream: codec padding
    audio_start: list[float]  # the first decoded audio frame's time, per stream
    first_audio: np.ndarray | None  # the first audio stream's samples, first channel

    @property
    def video_start(self) -> float:
        return float(min(self.pts) * self.time_base)

    @property
    def video_seconds(self) -> float:
        """From the first frame's start to the last frame's end, by the sorted timestamps."""
        ordered = sorted(self.pts)
        return float((ordered[-1] - ordered[0]) * self.time_base + 1 / self.rate)


def decode(path: Path) -> Decoded:
    frames, pts = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        audio = [(a.codec_context.name, a.rate) for a in container.streams.audio]
        for packet in container.demux(stream):
            try:
                for frame in packet.decode():
                    frames.append(frame.to_ndarray(format="rgb24"))
                    pts.append(frame.pts)
            except av.error.FFmpegError:
                pass
        rate, time_base = Fraction(stream.average_rate or stream.guessed_rate), stream.time_base
    audio_seconds, frame_seconds, audio_start, first_audio = [], [], [], None
    for index in range(len(audio)):
        with av.open(str(path)) as container:
            stream = container.streams.audio[index]
            chunks, start = [], None
            for packet in container.demux(stream):
                try:
                    for frame in packet.decode():
                        chunks.append(frame.to_ndarray().reshape(len(frame.layout.channels), -1)[0].astype(np.float64))
                        start = frame.time if start is None else start
                except av.error.FFmpegError:
                    pass
            audio_start.append(start)
            samples = np.concatenate(chunks) if chunks else np.zeros(0)
            audio_seconds.append(len(samples) / stream.rate)
            frame_seconds.append(max((len(c) for c in chunks), default=0) / stream.rate)
            if index == 0:
                first_audio = samples
    return Decoded(frames, pts, time_base, rate, audio, audio_seconds, frame_seconds, audio_start, first_audio)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """The strongest frequency in `samples`, Hz (the test tone is 440 Hz)."""
    spectrum = np.abs(np.fft.rfft((samples - samples.mean()) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def nearest_source(frame: np.ndarray, sources: list[np.ndarray]) -> int:
    """Index of the source frame `frame` (decoded, lossy) is closest to."""
    errors = [np.mean((frame.astype(np.float32) - s.astype(np.float32)) ** 2) for s in sources]
    return int(np.argmin(errors))
