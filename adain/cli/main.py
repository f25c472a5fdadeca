"""`python -m adain …` / `adain …`: the command line.

Building the parser imports nothing heavy, so `--help` answers at once; each sub-command
imports torch and its own module only when it runs.  A UserError anywhere ends the command with
one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from adain.cli.options import (ENCODER_NAMES, METHOD_NAMES, add_johnson_options, add_runtime_options, bench_size,
                               memory_size, positive_int)
from adain.cli.stylize import add_stylize_parser
from adain.core.errors import UserError
from adain.inference.supersample import SUPERSAMPLE_FACTORS


def _add_bench(commands) -> None:
    p = commands.add_parser(
        "bench", help="time a stylisation: the fast path against a plain fp32 reference",
        description="Warm median latency of one stylisation (content and style encoding + decoding) "
                    "with this project's fast path and with a plain fp32 NCHW eager run of the same network.",
    )
    p.add_argument("--method", choices=METHOD_NAMES, default="adain",
                   help="adain: one stylisation; gatys: seconds per optimiser iteration; johnson: inference vs adain")
    p.add_argument("--size", type=bench_size, nargs="+", default=[512],
                   help="image sizes: N (N×N), WxH, 4k (3840×2160) or 8k (7680×4320) (default 512)")
    p.add_argument("--memory", action="store_true",
                   help="run each path × size in a fresh process and report its peak RSS (slower)")
    p.add_argument("--reference-max-memory", type=memory_size, default=6 << 30, metavar="SIZE",
                   help="skip the fp32 reference where it would need more than this (default 6G)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per setting (median reported)")
    p.add_argument("--decoder", metavar="PATH", help="decoder weights (the speed depends on its architecture — encoder, upsampling — not on the values)")
    p.add_argument("--against", metavar="PATH",
                   help="a second decoder (e.g. a candidate or a fine-tune) timed on the fast path in the same run, "
                        "interleaved with --decoder; the table adds its time and the ratio")
    p.add_argument("--supersample", type=int, choices=SUPERSAMPLE_FACTORS, default=1, metavar="N",
                   help="also time the whole stylize() call at ×1 and supersampled ×N (2: what \"auto\" does "
                        "at ≤ 512 px), in alternating rounds, and report the ratio (default 1: not timed)")
    p.add_argument("--encoder", choices=ENCODER_NAMES, default="vgg16-imagenet",
                   help="default: the shipped decoder's (vgg16-imagenet; reflection padding)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--train", action="store_true",
                   help="time training steps (images/s) instead of a stylisation; use with --size 256 --batch 8")
    p.add_argument("--batch", type=int, default=8, help="batch size for --train (default 8)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    add_runtime_options(p)
    add_johnson_options(p)


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
    p.add_argument("--port", type=positive_int, default=7860, help="port (default 7860)")
    p.add_argument("--decoder", metavar="PATH", help="decoder weights (default: the shipped decoder)")
    p.add_argument("--max-pixels", type=positive_int, default=40_000_000, metavar="N",
                   help="size cap: refuse uploads with more pixels than this (default 40,000,000; 8K is 33.2 MP)")
    p.add_argument("--max-memory", type=memory_size, default=None, metavar="SIZE",
                   help="memory budget of one AdaIN stylisation (e.g. 1.5G); larger images are tiled to fit")
    add_runtime_options(p)
    add_johnson_options(p)


def _add_sweep(commands) -> None:
    p = commands.add_parser("sweep", help="train and score a grid of training settings (a W&B sweep file, run locally)",
                            description="Run a W&B sweep file for train.py (configs/sweep/train.yaml) as a local grid: "
                                        "each point trains into RUN_DIR/<point>/, its decoder is scored by the evaluation "
                                        "harness on fixed val pairs, and RUN_DIR/sweep.csv, sweep.md and sweep.png hold one "
                                        "row per point.  Run the same command again to resume.  docs/training.md#sweeps")
    p.add_argument("--config", required=True, metavar="SWEEP", help="a W&B sweep file (method: grid) for train.py")
    p.add_argument("--run-dir", required=True, metavar="DIR", help="where the points, the tables and the plot go")
    p.add_argument("--pairs", type=positive_int, default=8, metavar="N",
                   help="val content x style pairs each point is scored on: the first C contents x S styles, C*S = N "
                        "(default 8)")
    p.add_argument("--size", type=positive_int, default=256, help="evaluation size: content centre square, style shorter side (default 256)")
    p.add_argument("--threads", type=int, default=0, help="torch threads of the evaluation (0: torch's default)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="train-config overrides for every point, after the sweep's fixed arguments; one for a swept key "
                        "keeps that single value (e.g. data.crop_size=128)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adain", description="Arbitrary neural style transfer (AdaIN) and baselines.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_stylize_parser(commands)
    _add_bench(commands)
    _add_export(commands)
    _add_serve(commands)
    _add_video(commands)
    _add_sweep(commands)
    return parser


def _add_video(commands) -> None:
    from adain.cli.video import add_video_parser  # light: argparse only

    add_video_parser(commands)


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
            from adain.cli.stylize import run_stylize

            return run_stylize(args)
        if args.command == "export":
            from adain.train.export import run_export

            return run_export(args)
        if args.command == "bench":
            from adain.cli.bench import run_bench

            return run_bench(args)
        if args.command == "video":
            from adain.cli.video import run_video

            return run_video(args)
        if args.command == "serve":
            from adain.cli.serve import run_serve

            return run_serve(args)
        if args.command == "sweep":
            from adain.evaluation.training_sweep import run_sweep_command

            return run_sweep_command(args)
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
