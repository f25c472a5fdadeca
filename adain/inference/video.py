"""Stylise a video, frame by frame, with temporal stability: `stylize_video`.

    import adain
    result = adain.load().stylize_video("clip.mp4", "art.jpg", "clip_art.mp4", alpha=0.8,
                                        ema=0.9, flow_blend=0.5)

Decoding and encoding are PyAV (its wheels bundle FFmpeg): any container and codec FFmpeg
reads (adain.inference.video_read), written to .mp4/.m4v/.mov/.mkv (H.264), .webm (VP9) or .avi (MPEG-4
Part 2) (adain.inference.video_write).  The output keeps the input's frames in display order with strictly
increasing timestamps (the input's, put back in order where the container shuffled them, or made
from the frame rate where it has none), so its frame rate and duration, its size, and its audio
streams (copied where the output container takes the codec, else re-encoded; one that cannot be
carried is left out with a warning, never stopping the video).  A truncated or damaged clip gives
every frame that decodes and a warning naming how many are missing (`strict=True`: a UserError).
Frames stream through one at a time (a batch of them on CUDA), so memory does not
grow with the clip; large frames take the Stylizer's tiled path (4K, 8K).  The style is encoded
once per clip.  Temporal stability without retraining, both off by default:

  ema         the content statistics AdaIN normalises with are an exponential moving average
              over frames, μ_t = m·μ_t−1 + (1 − m)·μ(frame t) (the same for σ): the global
              tone of the stylisation stops pumping with small content changes (AdaIN only);
  flow_blend  the previous *output* frame, warped onto the current one by the optical flow of
              the *input* frames (adain.inference.flow: DIS, forward–backward occlusion check), is mixed
              in with weight w where the flow is reliable: O_t ← (1 − w·M)·O_t + w·M·Ô_t−1.

Colour preservation recolours the style once, to the first frame's colours (per-frame
recolouring would re-encode the style for every frame and make the palette flicker).  The other way
round, `content_colors="style"`: one colour transform, from the first frame's colour mean and
covariance to the style's, is fixed and applied to every frame before it is stylised (a transform
fitted to each frame would let the whole picture's colours pump as the frame's content changes);
frames too flat to fit to (a black opening, a fade) pass unchanged until the first that is not.
A bad input — not a video, no video stream, no frame that decodes — or an output that cannot be
written ends with a one-line UserError naming the stream and the operation that failed, and no
partial output is left behind.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from adain.core.errors import UserError
from adain.inference.content_colors import check_content_colors, style_color_statistics
from adain.inference.video_read import VideoReader, open_video, reason, stream_label
from adain.inference.video_write import CONTAINERS, OutputFormat, VideoWriter
from adain.nn import functional as AF

@dataclass
class VideoResult:
    """What `stylize_video` wrote: the file, its frame count, frame rate, size, audio streams and
    speed; `expected_frames` is what the input should have held (more than `frames` for a
    truncated or damaged clip) and `warnings` are one-line notes (frames missing, audio left out)."""

    output: Path
    frames: int
    fps: float
    width: int
    height: int
    audio_streams: int
    seconds: float
    expected_frames: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


class StatsEMA:
    """A content_stats_hook (AdaINModel.forward) that returns the exponential moving average of
    the statistics it has seen: m·previous + (1 − m)·current, per region, for μ and σ."""

    def __init__(self, momentum: float):
        if not 0.0 <= momentum < 1.0:
            raise UserError(f"ema: {momentum}; expected a momentum in [0, 1)")
        self.momentum = momentum
        self.state: list[AF.FeatureStats] | None = None

    def __call__(self, stats: list[AF.FeatureStats]) -> list[AF.FeatureStats]:
        m = self.momentum
        if self.state is None or len(self.state) != len(stats):
            self.state = list(stats)
        else:
            # blend_stats is exactly m·old + (1 − m)·new, for a skip decoder's shallow taps as well
            self.state = [AF.blend_stats([old, new], [m, 1 - m]) for old, new in zip(self.state, stats)]
        return self.state


def default_output(input_path: Path, styles: Sequence, folder: str | os.PathLike = "outputs") -> Path:
    names = "+".join(Path(s).stem if isinstance(s, (str, os.PathLike)) else "style" for s in styles) or "style"
    return Path(folder) / f"{input_path.stem}_stylized_{names}.mp4"


def _check_output(output: Path, input_path: Path, overwrite: bool) -> OutputFormat:
    if output.suffix.lower() not in CONTAINERS:
        raise UserError(f"{output}: unknown video format {output.suffix!r}; expected one of "
                        f"{', '.join(CONTAINERS)}")
    if output.resolve() == input_path.resolve():
        raise UserError(f"{output}: would overwrite the input video; choose another --output")
    if output.exists() and not overwrite:
        raise UserError(f"{output}: exists already; pass --overwrite (API: overwrite=True) to replace it")
    return CONTAINERS[output.suffix.lower()]


def _temporary_path(output: Path) -> Path:
    """A writable file beside `output` (so the final rename is atomic); UserError if there is none."""
    temporary = output.with_name(f".{output.stem}.part{os.getpid()}{output.suffix}")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb"):
            pass
    except OSError as exc:
        raise UserError(f"{output}: cannot write the output ({reason(exc)})") from None
    return temporary


def _load_masks(masks, size: tuple[int, int]) -> torch.Tensor | None:
    """Masks (paths, PIL images or a tensor) → (1, K, H, W) at the frame's (W, H), loaded once."""
    if masks is None or isinstance(masks, torch.Tensor):
        return masks
    from adain.core.io import load_mask, pil_to_tensor

    loaded = []
    for mask in masks:
        if isinstance(mask, (str, os.PathLike)):
            loaded.append(load_mask(mask, size))
        else:
            if mask.size != size:
                raise UserError(f"mask: size {mask.size}; expected the video's frame size {size}")
            loaded.append(pil_to_tensor(mask.convert("L")))
    return torch.cat(loaded, dim=1)


def stylize_video(
    stylizer,
    input: str | os.PathLike,
    style,
    output: str | os.PathLike | None = None,
    *,
    style_weights: Sequence[float] | None = None,
    masks=None,
    preserve_color: str = "none",
    content_size: int = 0,
    style_size: int = 512,
    style_scale=None,
    max_size: int = 0,
    ema: float = 0.0,
    flow_blend: float = 0.0,
    flow_size: int = 512,
    batch: int = 0,
    overwrite: bool = False,
    strict: bool = False,
    progress: bool = True,
    on_frame=None,
    **options,
) -> VideoResult:
    """Stylise every frame of `input` into `output` (see the module docstring).

    Args:
        stylizer: a Stylizer (`adain.load()`, `adain.load_method(...)`).
        input: a video file.
        style / style_weights / masks / preserve_color / style_size / style_scale / max_size:
            as `Stylizer.stylize`; masks are at the frame's size and hold for the whole clip.
        output: .mp4 (H.264), .mov, .mkv, .webm (VP9) or .avi; default
            outputs/<input>_stylized_<style>.mp4.
        content_size: shorter side the frames are stylised at (0: their own size); the output
            always has the input's size.
        ema: momentum of the moving average of content statistics (0: off; 0.9 is smooth).
        flow_blend: weight of the flow-warped previous output frame (0: off; 0.5 is strong).
        flow_size: longer side at which optical flow is computed.
        batch: frames per forward pass (0: 8 on CUDA, 1 on the CPU; 1 whenever ema, flow_blend,
            masks or colour preservation make frames depend on each other or on per-frame state).
        overwrite: replace an existing output file.
        strict: refuse (UserError) a clip whose frames do not all decode, instead of writing
            those that do with a warning in `VideoResult.warnings`.
        progress: frames/s and time left on stderr.
        on_frame: called as on_frame(index, input_rgb, output_rgb) with (H, W, 3) uint8 arrays
            (the experiment measures flicker with it).
        content_colors: "keep", or "style": every frame first takes the style's colours, by one
            transform fitted to the first frame that has colours (module docstring).
        **options: the method's own (AdaIN: alpha, tile, max_memory, photo, …).

    Returns:
        VideoResult; its `warnings` (frames missing, audio left out) are for the caller to show.
    """
    input_path = Path(input)
    styles = [] if style is None else list(style) if isinstance(style, (list, tuple)) else [style]
    output = Path(output) if output is not None else default_output(input_path, styles)
    if not 0.0 <= flow_blend <= 1.0:
        raise UserError(f"flow blend: {flow_blend}; expected a weight in [0, 1]")
    if ema and stylizer.name != "adain":
        raise UserError(f"ema: smooths AdaIN's content statistics; {stylizer.name} has none")
    content_colors = options.pop("content_colors", "keep")
    check_content_colors(content_colors, preserve_color, masks, stylizer)
    stats_hook = StatsEMA(ema) if ema else None
    output_format = _check_output(output, input_path, overwrite)
    container, video_in = open_video(input_path)
    temporary = writer = None
    try:
        width, height = video_in.codec_context.width, video_in.codec_context.height
        if not width or not height:
            raise UserError(f"{input_path}: {stream_label(video_in)} has no frame size (damaged file?)")
        mask_tensor = _load_masks(masks, (width, height))
        codes = [stylizer.encode_style(s, style_size, max_size, style_scale=style_scale) for s in styles]
        temporary = _temporary_path(output)
        audio_in = list(container.streams.audio)
        origin = Fraction(container.start_time or 0, 1_000_000)  # microseconds
        writer = VideoWriter(temporary, output_format, video_in, audio_in, width, height, origin, shown_as=output)
        reader = VideoReader(container, video_in, audio_in, on_audio=writer.write_audio)
        sequential = bool(ema or flow_blend or masks is not None or preserve_color != "none")
        batch = 1 if sequential else (batch or (8 if str(getattr(stylizer, "device", "cpu")).startswith("cuda") else 1))
        frame_options = dict(style_weights=style_weights, masks=mask_tensor, preserve_color=preserve_color,
                             content_size=content_size, max_size=max_size, **options)
        if stats_hook is not None:
            frame_options["content_stats_hook"] = stats_hook
        from adain.core.progress import progress_bar  # a tqdm bar on a terminal, plain lines elsewhere

        counter = progress_bar(video_in.frames or None, "adain video", unit="frame", disable=not progress)
        state = {"previous": None, "index": 0, "recoloured": False, "frame_colors": None}
        pending: list[tuple[np.ndarray, int, Fraction]] = []
        start = time.monotonic()

        # the colours every frame takes under content_colors="style" (colour preservation, which
        # would change `codes`, is refused with it)
        color_target = style_color_statistics(codes, style_weights) if content_colors == "style" else None

        def recolour_frame(rgb: np.ndarray) -> np.ndarray:
            """A frame through the clip's colour transform; frames before the first one it can be
            fitted to (black, a fade) pass unchanged."""
            if state["frame_colors"] is None:
                state["frame_colors"] = FrameRecolour.fit(rgb, color_target)
            return rgb if state["frame_colors"] is None else state["frame_colors"](rgb)

        def run(frames: list[tuple[np.ndarray, int, Fraction]]) -> None:
            nonlocal codes
            if preserve_color != "none" and not state["recoloured"]:  # the style recoloured once, to frame 1
                first = torch.from_numpy(frames[0][0]).permute(2, 0, 1).unsqueeze(0).float() / 255
                codes = [replace(stylizer.style_in_content_colors(code, preserve_color, first), recoloured=True)
                         for code in codes]
                state["recoloured"] = True
            inputs = [rgb for rgb, _, _ in frames]
            if content_colors == "style":  # one transform for the clip, fitted to its first frame with colours
                inputs = [recolour_frame(rgb) for rgb in inputs]
            outputs = _stylize_frames(stylizer, inputs, codes, frame_options)
            for (rgb, pts, time_base), out in zip(frames, outputs):
                if flow_blend > 0:
                    out = _blend_previous(out, rgb, state["previous"], flow_blend, flow_size)
                    state["previous"] = (rgb, out)
                writer.write_frame(out, pts, time_base)
                if on_frame is not None:
                    on_frame(state["index"], rgb, out)
                state["index"] += 1
                counter.update()

        try:
            for item in reader.frames():
                pending.append(item)
                if len(pending) >= batch:
                    run(pending)
                    pending = []
            if pending:
                run(pending)
        finally:
            counter.close()
        if state["index"] == 0:
            why = f"; {reader.last_error}" if reader.last_error else ""
            raise UserError(f"{input_path}: {stream_label(video_in)}: no frame could be decoded{why}")
        shortfall = reader.shortfall()
        if shortfall is not None and strict:
            raise UserError(f"{shortfall.message(input_path)}; --strict refuses an incomplete clip")
        writer.close()
        notes = ([shortfall.message(input_path)] if shortfall else []) + writer.notes
        seconds = time.monotonic() - start
        os.replace(temporary, output)
        temporary = None
        return VideoResult(output, state["index"], float(reader.rate), width, height, len(writer.audio), seconds,
                           expected_frames=shortfall.expected if shortfall else state["index"],
                           warnings=tuple(notes))
    finally:
        if temporary is not None:  # a failure: nothing half-written is left
            if writer is not None:
                writer.abandon()
            try:
                temporary.unlink()
            except FileNotFoundError:
                pass
        container.close()


@dataclass
class FrameRecolour:
    """x' = A·x + b on a frame's RGB in [0, 1]: the colour transform of AF.recolor, fitted once (to the
    first frame of a clip that has colours to fit) and applied as it is to every frame, on uint8
    (H, W, 3) arrays, a band of rows at a time so that an 8K frame needs no full-size float copy."""

    matrix: torch.Tensor  # (3, 3) float32, on the CPU
    offset: torch.Tensor  # (3,) float32

    # A frame whose colours vary less than this (std over all three channels, on [0, 1]) is black, a
    # fade or a title card: fitted to it, A = Σ_t^½ Σ_s^−½ would be a gain of 100× or more, locked in
    # for the whole clip.  The source covariance's eigenvalues are floored too, so that a frame
    # with no chroma (greyscale) gets a bounded gain in the directions it lacks.
    MIN_STD = 0.03
    EIGENVALUE_FLOOR = 1e-4  # a std of 0.01 in any colour direction

    @classmethod
    def fit(cls, rgb: np.ndarray, target: tuple[torch.Tensor, torch.Tensor]) -> "FrameRecolour | None":
        """The transform taking `rgb`'s colour mean and covariance to `target`'s ((1, 3, 1), (1, 3, 3),
        any device); None for a frame too flat to fit to (MIN_STD)."""
        frame = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)  # (1, 3, H, W) uint8, a view
        mean, covariance = AF.color_statistics(frame)  # on 0…255, banded: no float copy of the frame
        covariance = covariance / 255 ** 2
        if float(torch.diagonal(covariance, dim1=1, dim2=2).sum()) < cls.MIN_STD ** 2:
            return None
        matrix, offset = AF.color_transform((mean / 255, covariance), target, cls.EIGENVALUE_FLOOR, device="cpu")
        return cls(matrix[0].float(), offset[0, :, 0].float())

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        out = np.empty_like(rgb)
        for top in range(0, rgb.shape[0], 256):
            band = torch.from_numpy(rgb[top:top + 256]).float().div_(255)  # (h, W, 3)
            mapped = band @ self.matrix.T + self.offset
            out[top:top + 256] = mapped.clamp_(0, 1).mul_(255).round_().byte().numpy()
        return out


def _stylize_frames(stylizer, frames: list[np.ndarray], codes, options: dict) -> list[np.ndarray]:
    """(H, W, 3) uint8 frames → stylised frames of the same size, uint8.  One frame goes as a PIL
    image (so a large one takes the tiled path on uint8 buffers), several as one tensor batch."""
    height, width = frames[0].shape[:2]
    options = {"supersample": 1, **options}  # not "auto": N² the time per frame, unmeasured for flicker
    if len(frames) == 1:
        out = stylizer.stylize(Image.fromarray(frames[0]), codes, **options)
        outs = [out if out.size == (width, height) else out.resize((width, height), Image.BICUBIC)]
        return [np.asarray(o.convert("RGB")) for o in outs]
    batch = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div_(255)
    out = stylizer.stylize(batch, codes, **options)
    if out.shape[-2:] != (height, width):
        out = torch.nn.functional.interpolate(out, size=(height, width), mode="bicubic", antialias=True)
    return list(out.clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).numpy())


def _blend_previous(out: np.ndarray, rgb: np.ndarray, previous, weight: float, flow_size: int) -> np.ndarray:
    """Mix the previous output, warped by the input frames' flow, into `out` where reliable."""
    if previous is None:
        return out
    from adain.inference import flow as flowlib

    previous_rgb, previous_out = previous
    backward = flowlib.dis_flow(rgb, previous_rgb, flow_size)
    forward = flowlib.dis_flow(previous_rgb, rgb, flow_size)
    reliable = flowlib.consistent(backward, forward).astype(np.float32)[..., None] * weight
    warped = flowlib.warp(previous_out, backward)
    mixed = (1 - reliable) * out.astype(np.float32) + reliable * warped
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
