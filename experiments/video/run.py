"""Video stylisation on a real clip: per frame vs. style cached vs. each stability option.

    .venv/bin/python experiments/video/prepare_clip.py          # → experiments/video/runs/bbb_256.mp4
    .venv/bin/python experiments/video/run.py                   # → results.json, table.md, strip.jpg

Rows: the input clip itself (the flicker measure's floor); "per frame" (the style image decoded
and encoded again for every frame, as a loop over `stylize(frame, "style.jpg")` would);
`stylize_video` with the style encoded once; + EMA of content statistics; + flow blending;
+ both.  Columns: the flicker measure (adain.evaluation.flicker: masked warping error with DIS
flow of the input frames, mean over consecutive pairs, lower is steadier), design.md's relative
content and style losses (vgg16-hed, mean over every 5th frame), and frames/s of the whole run
(decode + stylise + encode; the per-frame row has no encode).  Shipped decoder, CPU.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

import adain
from adain.core.io import load_image
from adain.evaluation.flicker import flicker
from adain.nn.losses.distances import measure_relative_content, measure_relative_style
from adain.nn.pretrained import build_encoder

HERE = Path(__file__).resolve().parent
DEFAULT_STYLE = HERE.parents[2] / "shared" / "data" / "style" / "val" / "gordic_vg_self.jpg"
CONFIGS = {  # label → stylize_video options
    "style cached": {},
    "+ EMA 0.9": {"ema": 0.9},
    "+ flow blend 0.5": {"flow_blend": 0.5},
    "+ EMA 0.9 + flow blend 0.5": {"ema": 0.9, "flow_blend": 0.5},
}


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def per_frame(model, clip: Path, style: Path, style_size: int) -> tuple[list[np.ndarray], float]:
    start, outs = time.monotonic(), []
    with av.open(str(clip)) as container:
        for frame in container.decode(video=0):
            out = model.stylize(frame.to_image(), str(style), content_size=0, style_size=style_size, supersample=1)
            outs.append(np.asarray(out))
    return outs, len(outs) / (time.monotonic() - start)


def style_measures(encoder, inputs: list[np.ndarray], outputs: list[np.ndarray], style: torch.Tensor,
                   every: int = 5) -> tuple[float, float]:
    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).unsqueeze(0).float() / 255

    content, styled = [], []
    for i in range(0, len(inputs), every):
        content.append(float(measure_relative_content(encoder, t(outputs[i]), t(inputs[i]))))
        styled.append(float(measure_relative_style(encoder, t(outputs[i]), style)))
    return float(np.mean(content)), float(np.mean(styled))


def strip(rows: dict[str, list[np.ndarray]], indices: list[int], path: Path) -> None:
    h, w = next(iter(rows.values()))[0].shape[:2]
    sheet = Image.new("RGB", (w * len(indices), h * len(rows)), "white")
    for r, frames in enumerate(rows.values()):
        for c, i in enumerate(indices):
            sheet.paste(Image.fromarray(frames[i]), (c * w, r * h))
    sheet.save(path, quality=88)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=HERE / "runs" / "bbb_256.mp4")
    parser.add_argument("--style", type=Path, default=DEFAULT_STYLE)
    parser.add_argument("--style-size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = adain.load(device="cpu")
    encoder = build_encoder("vgg16-hed")
    style_tensor = load_image(args.style, args.style_size)
    inputs = decode(args.clip)
    results, frames = [], {"input": inputs}
    results.append({"run": "input clip (reference)", "flicker": flicker(inputs, inputs)})
    outs, fps = per_frame(model, args.clip, args.style, args.style_size)
    frames["per frame"] = outs
    results.append({"run": "per frame (style re-encoded each frame)", "frames_per_s": fps,
                    "flicker": flicker(inputs, outs)})
    for label, options in CONFIGS.items():
        seen: list[np.ndarray] = []
        result = model.stylize_video(args.clip, args.style, args.out / "runs" / f"{label.strip('+ ').replace(' ', '_')}.mp4",
                                     style_size=args.style_size, overwrite=True, progress=False,
                                     on_frame=lambda i, rgb, out: seen.append(out), **options)
        frames[label] = seen
        results.append({"run": label, "frames_per_s": result.frames_per_second, "flicker": flicker(inputs, seen),
                        "frames": result.frames, "fps": result.fps, "audio_streams": result.audio_streams})
    for row in results[1:]:
        key = "per frame" if row["run"].startswith("per frame") else row["run"]
        row["rel_content"], row["rel_style"] = style_measures(encoder, inputs, frames[key], style_tensor)
    (args.out / "results.json").write_text(json.dumps({"clip": str(args.clip.name), "style": args.style.name,
                                                       "style_size": args.style_size, "rows": results}, indent=2))
    lines = ["| run | flicker (E_warp ×10³) ↓ | rel content | rel style | frames/s |", "|---|---:|---:|---:|---:|"]
    for row in results:
        lines.append(f"| {row['run']} | {1e3 * row['flicker']:.2f} | {row.get('rel_content', float('nan')):.3f} | "
                     f"{row.get('rel_style', float('nan')):.3f} | {row.get('frames_per_s', float('nan')):.2f} |")
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    n = len(inputs)
    strip({k: frames[k] for k in ("input", "style cached", "+ EMA 0.9 + flow blend 0.5")},
          [0, n // 4, n // 2, 3 * n // 4, n - 1], args.out / "strip.jpg")


if __name__ == "__main__":
    main()
