"""Argument types and the option groups that several sub-commands share (argparse only: building a
parser must not import torch, so that `--help` answers at once)."""

from __future__ import annotations

import argparse

from adain.core.errors import UserError


ENCODER_NAMES = ("vgg16-hed", "vgg16-imagenet", "vgg19-normalised", "vgg19-torchvision")  # see adain.nn.encoders.ENCODERS
METHOD_NAMES = ("adain", "gatys", "johnson")  # see adain.methods.METHODS


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; expected 0 or more")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is less than 1; expected 1 or more")
    return value


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"),
                        help="auto: bf16 where the hardware is fast at it (AMX/AVX512-BF16 CPUs, CUDA), else fp32")


def add_upscale_option(p: argparse.ArgumentParser) -> None:
    """--upscale N, shared by `stylize` and `video` (checked by adain.inference.superres.factors)."""
    p.add_argument("--upscale", default=None, metavar="N",
                   help="stylise at 1/N of the output size and enlarge ×N with a super-resolution network "
                        "(2, 3 or 4; docs/superres.md): faster at 4K and 8K, brush strokes N× larger")


def add_supersample_option(p: argparse.ArgumentParser) -> None:
    """--supersample N|auto (checked by adain.inference.supersample)."""
    p.add_argument("--supersample", default="auto", metavar="N",
                   help="stylise at N× the output size and reduce (1, 2, 3 or 4): finer texture and sharper "
                        "outlines for N² the time; auto (default): 2 where the output's shorter side is at "
                        "most 512 px (adain), else 1")


def add_look_options(p: argparse.ArgumentParser) -> None:
    """Stroke size and photo mode, shared by `stylize` and `video`."""
    p.add_argument("--style-scale", type=float, nargs="+", default=None, metavar="S",
                   help="stroke size: encode the style at S × its size (>1: larger strokes); several S "
                        "average their statistics (adain, gatys)")
    p.add_argument("--photo", action="store_true",
                   help="photo mode: smooth the result edge-aware with the content as guide (guided filter, "
                        "as FastPhotoStyle's post-processing); for photographic styles")
    p.add_argument("--photo-radius", type=non_negative_int, default=0, metavar="R",
                   help="guided-filter radius in px (0: 35 px per 512 px of the shorter side)")
    p.add_argument("--photo-eps", type=float, default=1e-3, metavar="E",
                   help="guided-filter ε on [0, 1] intensities (larger: smoother; default 1e-3)")


def add_content_colors_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--content-colors", default="keep", choices=("keep", "style"),
                   help="style: the photo first takes the style's colours (for styles whose palette is far "
                        "from the photo's: mosaics, ink, flat colour)")


def check_content_colors_flags(args: argparse.Namespace) -> None:
    """--content-colors style's conflicts, checked before torch is imported
    (adain.inference.content_colors checks the same for API callers)."""
    if args.content_colors == "style" and args.preserve_color != "none":
        raise UserError(f"--content-colors style and --preserve-color {args.preserve_color}: give one or the other "
                        f"(one gives the content the style's colours, the other keeps its own)")
    if args.content_colors == "style" and args.mask is not None:
        raise UserError("--content-colors style and --mask: expected one style or styles blended by --style-weights")


def memory_size(text: str) -> int:
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


def add_tiling_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("high resolution (adain)", "tiled stylisation with global AdaIN statistics")
    group.add_argument("--tile", type=non_negative_int, default=None, metavar="N",
                       help="tile side in pixels (0: never tile; default: automatic from --max-memory)")
    group.add_argument("--max-memory", type=memory_size, default=None, metavar="SIZE",
                       help="memory budget for one stylisation, e.g. 1.5G; the tile size is chosen to fit it")


def add_gatys_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("gatys", "optimisation-based transfer (Gatys et al. 2016)")
    group.add_argument("--iterations", type=non_negative_int, default=None, metavar="N",
                       help="optimiser iterations per scale (default: the method's, 300)")
    group.add_argument("--optimizer", choices=("lbfgs", "adam"), default=None)
    group.add_argument("--content-weight", type=float, default=None, metavar="A", help="α of the paper")
    group.add_argument("--style-weight", type=float, default=None, metavar="B", help="β of the paper")
    group.add_argument("--tv-weight", type=float, default=None, metavar="W", help="total-variation weight")
    group.add_argument("--init", choices=("content", "noise", "style"), default=None, help="start image")
    group.add_argument("--pooling", choices=("max", "avg"), default=None, help="encoder pooling (the paper: avg)")
    group.add_argument("--scales", type=non_negative_int, default=None, metavar="N",
                       help="coarse-to-fine scales (0: automatic from the size)")
    group.add_argument("--seed", type=int, default=0, help="random seed (noise init)")


def add_johnson_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("johnson", "per-style feed-forward networks (Johnson et al. 2016)")
    group.add_argument("--johnson-model", metavar="PATH",
                       help="a network trained by `train.py --config configs/train/johnson.yaml` (.safetensors or "
                            "checkpoint; default: the shipped Van Gogh network)")


def bench_size(text: str) -> int | str:
    """'512' → 512 (square); '4k', '8k' and 'WxH' are kept as text (see adain.cli.bench.image_dims)."""
    value = text.strip().lower()
    if value.isdigit() and int(value) > 0:
        return int(value)
    width, _, height = value.partition("x")
    if value in ("4k", "8k") or (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        return value
    raise argparse.ArgumentTypeError(f"{text!r}: expected N, WxH, 4k or 8k")
