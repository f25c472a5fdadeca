"""`python -m adain …` / `adain …`: the command line.

Building the parser imports nothing heavy, so `--help` answers at once; each sub-command
imports torch and its own module only when it runs.  A UserError anywhere ends the command with
one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from adain.errors import UserError

ENCODER_NAMES = ("vgg16-hed", "vgg16-imagenet", "vgg19-normalised", "vgg19-torchvision")  # see adain.encoders.ENCODERS
METHOD_NAMES = ("adain", "gatys", "johnson")  # see adain.methods.METHODS


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; expected 0 or more")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is less than 1; expected 1 or more")
    return value


def _add_runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"),
                        help="auto: bf16 where the hardware is fast at it (AMX/AVX512-BF16 CPUs, CUDA), else fp32")


def _add_stylize(commands) -> None:
    p = commands.add_parser(
        "stylize", help="stylise content images with style images",
        description="Stylise every content × style pair (or, with --style-weights or --mask, one "
                    "blended output per content). Sizes are shorter-side lengths; 0 keeps the image's own size.",
    )
    p.add_argument("--method", choices=METHOD_NAMES, default="adain",
                   help="adain (one forward pass, any style), gatys (optimisation), johnson (a per-style network)")
    p.add_argument("--content", nargs="+", default=None, metavar="PATH|DIR",
                   help="content images or folders (default: built-in example images)")
    p.add_argument("--style", nargs="+", default=None, metavar="PATH|DIR",
                   help="style images or folders (default: built-in example images)")
    p.add_argument("--style-weights", nargs="+", type=float, metavar="W",
                   help="blend all styles with these weights (normalised) into one output per content")
    p.add_argument("--mask", nargs="+", metavar="PATH",
                   help="one greyscale mask per style (or one fewer), the content's size: spatial control")
    p.add_argument("--alpha", type=float, default=1.0, help="content–style trade-off in [0, 1] (default 1)")
    p.add_argument("--preserve-color", default="none", choices=("none", "histogram", "luminance"))
    p.add_argument("--content-size", type=_non_negative_int, default=512, metavar="N")
    p.add_argument("--style-size", type=_non_negative_int, default=512, metavar="N")
    p.add_argument("--upscale", default=None, metavar="N",
                   help="stylise at 1/N of the output size and enlarge ×N with a super-resolution network "
                        "(2, 3 or 4; docs/superres.md): faster at 4K and 8K, brush strokes N× larger")
    add_look_options(p)
    p.add_argument("--max-size", type=_non_negative_int, default=0, metavar="N", help="cap on the longer side (0: none)")
    p.add_argument("--max-pixels", type=_non_negative_int, default=16384 * 16384, metavar="N",
                   help="refuse input images with more pixels than this (decompression-bomb guard)")
    p.add_argument("--encoder", choices=ENCODER_NAMES, default=None,
                   help="default: the encoder the decoder was trained with")
    p.add_argument("--encoder-weights", metavar="PATH", help="local copy of the encoder's original weight file")
    p.add_argument("--decoder", metavar="PATH", help="decoder weights (default: the shipped decoder)")
    p.add_argument("--output", default="outputs", metavar="DIR|FILE",
                   help="folder for the results, or a file name when there is one result (default: outputs)")
    p.add_argument("--ext", default="jpg", choices=("jpg", "png", "webp"), help="output format in a folder")
    p.add_argument("--overwrite", action="store_true",
                   help="replace outputs that exist already (default: keep them and say which were skipped)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--batch", type=_positive_int, default=1, metavar="N",
                   help="stylise up to N same-size contents per forward pass (adain without masks or colour "
                        "preservation; pays off on a GPU)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the networks (adain; falls back to eager where it fails)")
    _add_runtime_options(p)
    _add_tiling_options(p)
    _add_gatys_options(p)
    _add_johnson_options(p)


def add_look_options(p: argparse.ArgumentParser) -> None:
    """Stroke size and photo mode (issue 16), shared by `stylize` and `video`."""
    p.add_argument("--style-scale", type=float, nargs="+", default=None, metavar="S",
                   help="stroke size: encode the style at S × its size (>1: larger strokes); several S "
                        "average their statistics (adain, gatys)")
    p.add_argument("--photo", action="store_true",
                   help="photo mode: smooth the result edge-aware with the content as guide (guided filter, "
                        "as FastPhotoStyle's post-processing); for photographic styles")
    p.add_argument("--photo-radius", type=_non_negative_int, default=0, metavar="R",
                   help="guided-filter radius in px (0: 35 px per 512 px of the shorter side)")
    p.add_argument("--photo-eps", type=float, default=1e-3, metavar="E",
                   help="guided-filter ε on [0, 1] intensities (larger: smoother; default 1e-3)")


def _memory_size(text: str) -> int:
    """'1.5G', '800M', '2GB' or a byte count → bytes."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    number = text.strip().upper().removesuffix("B").removesuffix("I")
    suffix = number[-1:] if number[-1:] in units else ""
    try:
        value = float(number[: len(number) - len(suffix)]) * units[suffix]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a size such as 1.5G or 800M") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive size")
    return int(value)


def _add_tiling_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("high resolution (adain)", "tiled stylisation with global AdaIN statistics")
    group.add_argument("--tile", type=_non_negative_int, default=None, metavar="N",
                       help="tile side in pixels (0: never tile; default: automatic from --max-memory)")
    group.add_argument("--max-memory", type=_memory_size, default=None, metavar="SIZE",
                       help="memory budget for one stylisation, e.g. 1.5G; the tile size is chosen to fit it")


def _add_gatys_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("gatys", "optimisation-based transfer (Gatys et al. 2016)")
    group.add_argument("--iterations", type=_non_negative_int, default=None, metavar="N",
                       help="optimiser iterations per scale (default: the method's, 300)")
    group.add_argument("--optimizer", choices=("lbfgs", "adam"), default=None)
    group.add_argument("--content-weight", type=float, default=None, metavar="A", help="α of the paper")
    group.add_argument("--style-weight", type=float, default=None, metavar="B", help="β of the paper")
    group.add_argument("--tv-weight", type=float, default=None, metavar="W", help="total-variation weight")
    group.add_argument("--init", choices=("content", "noise", "style"), default=None, help="start image")
    group.add_argument("--pooling", choices=("max", "avg"), default=None, help="encoder pooling (the paper: avg)")
    group.add_argument("--scales", type=_non_negative_int, default=None, metavar="N",
                       help="coarse-to-fine scales (0: automatic from the size)")
    group.add_argument("--seed", type=int, default=0, help="random seed (noise init)")


def _add_johnson_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("johnson", "per-style feed-forward networks (Johnson et al. 2016)")
    group.add_argument("--johnson-model", metavar="PATH",
                       help="a network trained by `train.py --config configs/train/johnson.yaml` (.safetensors or "
                            "checkpoint; default: the shipped Van Gogh network)")


def _bench_size(text: str) -> int | str:
    """'512' → 512 (square); '4k', '8k' and 'WxH' are kept as text (see adain.bench.image_dims)."""
    value = text.strip().lower()
    if value.isdigit() and int(value) > 0:
        return int(value)
    width, _, height = value.partition("x")
    if value in ("4k", "8k") or (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        return value
    raise argparse.ArgumentTypeError(f"{text!r}: expected N, WxH, 4k or 8k")


def _add_bench(commands) -> None:
    p = commands.add_parser(
        "bench", help="time a stylisation: the fast path against a plain fp32 reference",
        description="Warm median latency of one stylisation (content and style encoding + decoding) "
                    "with this project's fast path and with a plain fp32 NCHW eager run of the same network.",
    )
    p.add_argument("--method", choices=METHOD_NAMES, default="adain",
                   help="adain: one stylisation; gatys: seconds per optimiser iteration; johnson: inference vs adain")
    p.add_argument("--size", type=_bench_size, nargs="+", default=[512],
                   help="image sizes: N (N×N), WxH, 4k (3840×2160) or 8k (7680×4320) (default 512)")
    p.add_argument("--memory", action="store_true",
                   help="run each path × size in a fresh process and report its peak RSS (slower)")
    p.add_argument("--reference-max-memory", type=_memory_size, default=6 << 30, metavar="SIZE",
                   help="skip the fp32 reference where it would need more than this (default 6G)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per setting (median reported)")
    p.add_argument("--decoder", metavar="PATH", help="decoder weights (the speed depends on its architecture — encoder, upsampling — not on the values)")
    p.add_argument("--against", metavar="PATH",
                   help="a second decoder (e.g. the previous default) timed on the fast path in the same run, "
                        "interleaved with --decoder; the table adds its time and the ratio")
    p.add_argument("--encoder", choices=ENCODER_NAMES, default="vgg16-imagenet",
                   help="default: the shipped decoder's (vgg16-imagenet; reflection padding)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--train", action="store_true",
                   help="time training steps (images/s) instead of a stylisation; use with --size 256 --batch 8")
    p.add_argument("--batch", type=int, default=8, help="batch size for --train (default 8)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    _add_runtime_options(p)
    _add_johnson_options(p)


def _add_export(commands) -> None:
    p = commands.add_parser("export", help="turn a training checkpoint into shippable decoder weights",
                            description="Write safetensors decoder weights with a JSON description from a train.py checkpoint.")
    p.add_argument("checkpoint", help="a checkpoint written by train.py (e.g. runs/x/checkpoints/best.pt)")
    p.add_argument("output", help="output .safetensors path (a .json description is written beside it)")
    p.add_argument("--dtype", default="float16", choices=("float16", "float32"))
    p.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="extra metadata, e.g. hardware=...")
    p.add_argument("--average-with", nargs="+", metavar="CHECKPOINT",
                   help="ship the mean of the decoder weights of CHECKPOINT and these (other checkpoints of the "
                        "same run); the description lists them")


def _add_serve(commands) -> None:
    p = commands.add_parser("serve", help="a web page to stylise in the browser (Gradio)",
                            description="Serve a Gradio page on the shipped model: content and styles by upload or "
                                        "built-in examples, weights, α, colour, stroke size, a painted mask, and the "
                                        "AdaIN, Johnson and Gatys methods.  Binds to localhost unless --host says otherwise.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_positive_int, default=7860, help="port (default 7860)")
    p.add_argument("--decoder", metavar="PATH", help="decoder weights (default: the shipped decoder)")
    p.add_argument("--max-pixels", type=_positive_int, default=40_000_000, metavar="N",
                   help="size cap: refuse uploads with more pixels than this (default 40,000,000; 8K is 33.2 MP)")
    p.add_argument("--max-memory", type=_memory_size, default=None, metavar="SIZE",
                   help="memory budget of one AdaIN stylisation (e.g. 1.5G); larger images are tiled to fit")
    _add_runtime_options(p)
    _add_johnson_options(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adain", description="Arbitrary neural style transfer (AdaIN) and baselines.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_stylize(commands)
    _add_bench(commands)
    _add_export(commands)
    _add_serve(commands)
    _add_video(commands)
    return parser


def _add_video(commands) -> None:
    from adain.video_command import add_video_parser  # light: argparse only

    add_video_parser(commands, _add_runtime_options, add_look_options, _add_tiling_options, _non_negative_int,
                     _positive_int)


def _version() -> str:
    from adain import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "stylize":
            from adain.stylize_command import run_stylize

            return run_stylize(args)
        if args.command == "export":
            from adain.export import run_export

            return run_export(args)
        if args.command == "bench":
            from adain.bench import run_bench

            return run_bench(args)
        if args.command == "video":
            from adain.video_command import run_video

            return run_video(args)
        if args.command == "serve":
            from adain.serve import run_serve

            return run_serve(args)
    except UserError as exc:
        print(f"adain: error: {exc}", file=sys.stderr)
        return UserError.exit_code
    except KeyboardInterrupt:
        print("adain: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2


def console_main() -> None:
    """Entry point of the `adain` console script."""
    sys.exit(main())
