"""`adain video`: stylise a video file (adain.inference.video.stylize_video) from the command line.

    adain video --input clip.mp4 --style art.jpg --ema 0.9 --flow-blend 0.5 --output out.mp4

A bad input or output ends with one line and exit status 2 (cli.main), leaving no partial file.
A truncated or damaged clip gives the frames that decode and one warning line on stderr naming how
many are missing (exit 0); --strict refuses it instead (exit 2).  An audio stream the output
cannot carry is left out with one warning line.
"""

from __future__ import annotations

import sys
from argparse import Namespace
from pathlib import Path

from adain.cli.options import (add_content_colors_option, add_look_options, add_runtime_options, add_tiling_options,
                               add_upscale_option, check_content_colors_flags, non_negative_int, positive_int)
from adain.core.errors import UserError

VIDEO_METHODS = ("adain", "johnson")  # feed-forward methods; Gatys would optimise every frame


def add_video_parser(commands) -> None:
    p = commands.add_parser(
        "video", help="stylise a video (frame rate, frame count, size and audio kept)",
        description="Stylise every frame of a video with one style (or a blend / masks), with optional "
                    "temporal stability: a moving average of content statistics (--ema) and blending of the "
                    "previous output warped by the input's optical flow (--flow-blend).",
    )
    p.add_argument("--input", required=True, metavar="VIDEO", help="a video file (any container/codec FFmpeg reads)")
    p.add_argument("--style", nargs="+", default=None, metavar="PATH",
                   help="style image(s) (johnson: not needed)")
    p.add_argument("--method", choices=VIDEO_METHODS, default="adain")
    p.add_argument("--style-weights", nargs="+", type=float, metavar="W", help="blend the styles with these weights")
    p.add_argument("--mask", nargs="+", metavar="PATH",
                   help="one greyscale mask per style (or one fewer), the frame's size, for the whole clip")
    p.add_argument("--alpha", type=float, default=1.0, help="content–style trade-off in [0, 1] (default 1)")
    p.add_argument("--preserve-color", default="none", choices=("none", "histogram", "luminance"),
                   help="keep the content's colours (the style is recoloured once, to the first frame)")
    add_content_colors_option(p)
    p.add_argument("--content-size", type=non_negative_int, default=0, metavar="N",
                   help="stylise frames at this shorter side (0, default: their own size); the output keeps the "
                        "input's size")
    p.add_argument("--style-size", type=non_negative_int, default=512, metavar="N")
    add_upscale_option(p)
    add_look_options(p)
    p.add_argument("--ema", type=float, default=0.0, metavar="M",
                   help="smooth AdaIN's content statistics across frames with this momentum (0: off; e.g. 0.9)")
    p.add_argument("--flow-blend", type=float, default=0.0, metavar="W",
                   help="blend in the previous output frame warped by the input's optical flow (DIS), with "
                        "weight W where the flow is reliable (0: off; e.g. 0.5)")
    p.add_argument("--flow-size", type=positive_int, default=512, metavar="N",
                   help="longer side at which optical flow is computed (default 512)")
    p.add_argument("--batch", type=non_negative_int, default=0, metavar="N",
                   help="frames per forward pass (0: 8 on CUDA, 1 on the CPU; 1 with --ema/--flow-blend/--mask)")
    p.add_argument("--output", metavar="FILE",
                   help=".mp4 (H.264), .mov, .mkv, .webm (VP9) or .avi (default: outputs/<input>_stylized_<style>.mp4)")
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    p.add_argument("--strict", action="store_true",
                   help="refuse a truncated or damaged clip (exit 2) instead of stylising the frames that decode "
                        "with a warning")
    p.add_argument("--no-progress", action="store_true", help="no progress bar / progress lines")
    p.add_argument("--encoder", default=None, help="default: the encoder the decoder was trained with")
    p.add_argument("--encoder-weights", metavar="PATH", help="local copy of the encoder's original weight file")
    p.add_argument("--decoder", metavar="PATH", help="decoder weights (default: the shipped decoder)")
    p.add_argument("--johnson-model", metavar="PATH", help="johnson: the network (default: the shipped one)")
    add_runtime_options(p)
    add_tiling_options(p)


def _validate(args: Namespace) -> None:
    from adain.inference.superres.factors import check_upscale

    args.upscale = check_upscale(args.upscale, "--upscale")
    if not 0.0 <= args.alpha <= 1.0:
        raise UserError(f"--alpha {args.alpha}: expected a value in [0, 1]")
    if not 0.0 <= args.ema < 1.0:
        raise UserError(f"--ema {args.ema}: expected a momentum in [0, 1)")
    if not 0.0 <= args.flow_blend <= 1.0:
        raise UserError(f"--flow-blend {args.flow_blend}: expected a weight in [0, 1]")
    if args.style_weights is not None and args.mask is not None:
        raise UserError("--style-weights and --mask: give one or the other")
    if args.method == "adain" and not args.style:
        raise UserError("--style: adain needs at least one style image")
    check_content_colors_flags(args)
    if args.content_colors == "style" and args.method != "adain":
        raise UserError(f"--content-colors does not apply to --method {args.method} (it reads no style image); "
                        f"drop it")
    if args.method != "adain" and args.ema:
        raise UserError("--ema smooths AdaIN's content statistics; use it with --method adain")
    if not Path(args.input).is_file():
        raise UserError(f"{args.input}: video file not found")


def run_video(args: Namespace) -> int:
    _validate(args)  # before torch loads
    from adain.methods import from_cli

    args.compile = False
    stylizer, method_options = from_cli(args)
    if args.method != "adain":
        method_options = {}
    photo = dict(photo=True, photo_radius=args.photo_radius, photo_eps=args.photo_eps) if args.photo else {}
    if args.upscale != 1:  # each frame stylised at 1/N and super-resolved ×N (adain.inference.superres)
        method_options["upscale"] = args.upscale
    result = stylizer.stylize_video(
        args.input, args.style or None, args.output, style_weights=args.style_weights, masks=args.mask,
        preserve_color=args.preserve_color, content_colors=args.content_colors,
        content_size=args.content_size, style_size=args.style_size, style_scale=args.style_scale, ema=args.ema,
        flow_blend=args.flow_blend, flow_size=args.flow_size, batch=args.batch, overwrite=args.overwrite,
        strict=args.strict, progress=not args.no_progress, **photo, **method_options)
    for warning in result.warnings:
        print(f"adain: warning: {warning}", file=sys.stderr)
    print(f"{result.output}: {result.frames} frames at {result.fps:.3g} fps, {result.width}×{result.height}, "
          f"{result.audio_streams} audio stream(s); {result.frames_per_second:.2f} frames/s")
    return 0
