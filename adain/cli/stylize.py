"""`adain stylize`: batch stylisation with per-item errors.

Every content × style pair gets its own output (or one blended output per content with
--style-weights or --mask).  A bad item is reported on one line and skipped; the others are still
written; the exit status is 2 if anything failed.  Outputs are written atomically and never over
an input file.  Output names are unique within a run (a content found in a sub-folder of a
--content folder keeps that sub-folder; a clash left after that gets a numbered suffix), and a
file from an earlier run is kept unless --overwrite (one line says what was skipped).
"""

from __future__ import annotations

import argparse
import sys
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path

from adain.cli.options import (ENCODER_NAMES, METHOD_NAMES, add_content_colors_option, add_gatys_options,
                               add_johnson_options, add_look_options, add_runtime_options, add_supersample_option,
                               add_tiling_options, add_upscale_option, check_content_colors_flags, non_negative_int,
                               positive_int)
from adain.core.errors import UserError


@dataclass
class Job:
    content: Path
    styles: list[Path]
    output: Path


# methods whose network carries its style: without --style they make one output per content
BUILT_IN_STYLE_METHODS = ("johnson",)


def output_name(content: Path, styles: list[Path], ext: str, style_label: str = "") -> str:
    """`<content>_stylized_<style>.<ext>`, styles joined by '+' for a blend (the port's convention);
    `style_label` names a built-in style (a Johnson model's file stem) when no style is given."""
    return f"{content.stem}_stylized_{'+'.join(s.stem for s in styles) or style_label}.{ext}"


def plan_jobs(contents: list[Path], styles: list[Path], blend: bool, output: Path, ext: str,
              style_label: str = "", subfolders: dict[Path, Path] | None = None) -> list[Job]:
    """One Job per content × style group; `subfolders` maps a content to the sub-folder (relative
    to the --content folder it was found in) its outputs go to.  Names are unique: a clash left
    after the sub-folders (`x.jpg` and `x.png` side by side) gets `_2`, `_3`, … in job order."""
    from adain.core.io import IMAGE_SUFFIXES

    groups = [styles] if blend else [[s] for s in styles]
    pairs = [(c, g) for c in contents for g in groups]
    if output.suffix.lower() in IMAGE_SUFFIXES:
        if len(pairs) != 1:
            raise UserError(f"--output {output}: a file name takes exactly one result, but there are {len(pairs)}; give a folder")
        return [Job(pairs[0][0], pairs[0][1], output)]
    jobs, taken = [], set()
    for content, group in pairs:
        path = output / (subfolders or {}).get(content, Path()) / output_name(content, group, ext, style_label)
        candidate, number = path, 1
        while str(candidate).lower() in taken:  # lower: a case-insensitive file system clashes too
            number += 1
            candidate = path.with_name(f"{path.stem}_{number}{path.suffix}")
        taken.add(str(candidate).lower())
        jobs.append(Job(content, group, candidate))
    return jobs


def content_subfolders(raw: list[str]) -> dict[Path, Path]:
    """Each content image found inside a --content folder → its folder relative to that one."""
    from adain.core.io import expand_image_paths

    found: dict[Path, Path] = {}
    for item in raw:
        root = Path(item)
        if root.is_dir():
            for path in expand_image_paths([root], "content"):
                found.setdefault(path, path.parent.relative_to(root))
    return found


# Flags that only some methods read: given to another method they would be silently ignored,
# so they are refused (one line, before anything loads).  Compared with the parser's defaults.
METHOD_FLAGS = {
    "alpha": ("adain",), "tile": ("adain",), "max_memory": ("adain",), "batch": ("adain",),
    "compile": ("adain",), "decoder": ("adain",),
    "encoder": ("adain", "gatys"), "encoder_weights": ("adain", "gatys"), "style_size": ("adain", "gatys"),
    "iterations": ("gatys",), "optimizer": ("gatys",), "content_weight": ("gatys",),
    "style_weight": ("gatys",), "tv_weight": ("gatys",), "init": ("gatys",), "pooling": ("gatys",),
    "scales": ("gatys",), "seed": ("gatys",),
    "johnson_model": ("johnson",), "style_weights": ("adain", "gatys"), "mask": ("adain", "gatys"),
    "content_colors": ("adain", "gatys"),
}


def check_method_flags(args: Namespace) -> None:
    defaults = argparse.ArgumentParser()
    add_stylize_arguments(defaults)
    defaults = defaults.parse_args([])
    for name, methods in METHOD_FLAGS.items():
        if args.method not in methods and hasattr(args, name) and getattr(args, name) != getattr(defaults, name, None):
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} does not apply to --method {args.method} (only to {' and '.join(methods)}); "
                            f"drop it")
    if args.method in BUILT_IN_STYLE_METHODS and args.style is not None:
        raise UserError(f"--style does not apply to --method {args.method}: the network renders the one style it "
                        f"was trained on (choose it with --johnson-model); drop --style")


def _validate(args: Namespace) -> None:
    from adain.inference.superres.factors import check_upscale
    from adain.inference.supersample import check_supersample_with_upscale

    check_method_flags(args)
    args.upscale = check_upscale(getattr(args, "upscale", None), "--upscale")
    args.supersample = check_supersample_with_upscale(getattr(args, "supersample", None), args.upscale,
                                                      ("--supersample", "--upscale"))
    if not 0.0 <= args.alpha <= 1.0:
        raise UserError(f"--alpha {args.alpha}: expected a value in [0, 1]")
    if args.style_weights is not None and args.mask is not None:
        raise UserError("--style-weights and --mask: give one or the other (masks place styles, weights blend them)")
    check_content_colors_flags(args)


def run_stylize(args: Namespace) -> int:
    _validate(args)  # before any heavy import, so a bad option fails at once
    from adain.core.io import expand_image_paths, save_image

    built_in_style = args.method in BUILT_IN_STYLE_METHODS and args.style is None
    if args.content is None or (args.style is None and not built_in_style):
        from adain.cli.examples import example_contents, example_styles

        args.content = args.content or [str(p) for p in example_contents()]
        args.style = args.style or [str(p) for p in example_styles()]
    contents = expand_image_paths(args.content, "content")
    styles = [] if built_in_style else expand_image_paths(args.style, "style")
    blend = args.style_weights is not None or args.mask is not None or built_in_style
    style_label = args.method
    if built_in_style:
        from adain.methods.johnson.stylizer import SHIPPED_JOHNSON

        style_label = Path(args.johnson_model or SHIPPED_JOHNSON).stem
    if args.style_weights is not None:
        from adain.nn.functional import normalise_weights

        normalise_weights(args.style_weights, len(styles))  # fail before loading anything
    jobs = plan_jobs(contents, styles, blend, Path(args.output), args.ext, style_label,
                     content_subfolders(args.content))
    inputs = {p.resolve() for p in contents + styles + [Path(m) for m in (args.mask or [])]}
    jobs = skip_existing(jobs, getattr(args, "overwrite", False), inputs)
    if not jobs:
        return 0

    from tqdm import tqdm  # heavy imports from here on

    from adain.methods import from_cli

    stylizer, method_options = from_cli(args)
    style_codes: dict[Path, object] = {}
    style_errors: dict[Path, str] = {}

    def codes_for(job: Job) -> list:
        """The job's styles, each encoded once for the whole run (a bad style fails every job using it)."""
        for style in job.styles:
            if style in style_errors:
                raise UserError(style_errors[style])
            if style not in style_codes:
                try:
                    style_codes[style] = stylizer.encode_style(style, args.style_size, args.max_size, args.max_pixels,
                                                               getattr(args, "style_scale", None))
                except UserError as exc:
                    style_errors[style] = str(exc)
                    raise
        return [style_codes[s] for s in job.styles]

    common = dict(style_weights=args.style_weights, masks=args.mask, preserve_color=args.preserve_color,
                  content_colors=args.content_colors, style_size=args.style_size, max_pixels=args.max_pixels,
                  **method_options)
    if args.upscale != 1:  # stylise at 1/N, super-resolve ×N (adain.inference.superres)
        common["upscale"] = args.upscale
    else:  # stylise at N× and reduce (adain.inference.supersample)
        common["supersample"] = args.supersample
    if getattr(args, "photo", False):  # structure-preserving photo mode (adain.inference.guided_filter)
        common.update(photo=True, photo_radius=args.photo_radius, photo_eps=args.photo_eps)
    failures = 0
    from adain.core.progress import progress_bar

    progress = progress_bar(len(jobs), "adain stylize", unit="image", disable=args.no_progress or len(jobs) <= 3)

    def finished(job: Job, result=None, error: UserError | None = None) -> None:
        nonlocal failures
        progress.update(1)
        if error is None:
            try:
                save_image(result, job.output)
            except UserError as exc:  # a full disk or a read-only folder fails this output only
                error = exc
        if error is not None:
            failures += 1
            tqdm.write(f"adain: error: {error}", file=sys.stderr)
            return
        progress.set_postfix_str(job.output.name)
        if len(jobs) <= 3 or args.no_progress:
            print(job.output)

    for group in batch_groups(jobs, args.batch if can_batch(args) else 1):
        if len(group) == 1:
            job = group[0]
            try:
                check_output(job, inputs)
                result = stylizer.stylize(job.content, codes_for(job), content_size=args.content_size,
                                          max_size=args.max_size, **common)
                finished(job, result)
            except UserError as exc:
                finished(job, error=exc)
            continue
        run_batch(stylizer, group, codes_for, inputs, args, common, finished)
    progress.close()
    if failures:
        tqdm.write(f"adain: {failures} of {len(jobs)} outputs failed; the others were written", file=sys.stderr)
        return UserError.exit_code
    return 0


# --- batching: many contents, one style, one forward pass (pays off on a GPU) ------------------

def can_batch(args: Namespace) -> bool:
    """Batches need one working size and per-content-free settings: AdaIN, no masks (each content
    has its own), no colour preservation (it recolours the style per content), untiled."""
    return (getattr(args, "batch", 1) > 1 and args.method == "adain" and args.mask is None
            and args.preserve_color == "none")


def batch_groups(jobs: list[Job], batch_size: int) -> list[list[Job]]:
    """Jobs in order, chunked into groups of up to `batch_size` that share their styles."""
    if batch_size <= 1:
        return [[job] for job in jobs]
    by_styles: dict[tuple, list[Job]] = {}
    for job in jobs:
        by_styles.setdefault(tuple(job.styles), []).append(job)
    return [same[i: i + batch_size] for same in by_styles.values() for i in range(0, len(same), batch_size)]


def skip_existing(jobs: list[Job], overwrite: bool, inputs: set[Path]) -> list[Job]:
    """The jobs whose output does not exist yet (all with `overwrite`); one line names the rest.
    An output that is an input stays in, to be refused by check_output."""
    if overwrite:
        return jobs
    existing = {id(job) for job in jobs if job.output.exists() and job.output.resolve() not in inputs}
    if existing:
        names = [str(job.output) for job in jobs if id(job) in existing]
        shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
        print(f"adain: skipped {len(names)} of {len(jobs)} outputs that exist already ({shown}); "
              f"pass --overwrite to replace them", file=sys.stderr)
    return [job for job in jobs if id(job) not in existing]


def check_output(job: Job, inputs: set[Path]) -> None:
    if job.output.resolve() in inputs:
        raise UserError(f"{job.output}: would overwrite an input image; choose another --output")


def run_batch(stylizer, group: list[Job], codes_for, inputs: set[Path], args: Namespace, common: dict,
              finished) -> None:
    """Load each content (a bad one fails alone), stack those of equal working size into
    (N, 3, H, W), stylise each stack in one call and save every image."""
    from adain.core.io import tensor_to_pil

    by_size: dict[tuple[int, int], list[tuple[Job, object]]] = {}
    for job in group:
        try:
            check_output(job, inputs)
            tensor = stylizer.to_tensor(job.content, args.content_size, args.max_size, args.max_pixels)
            by_size.setdefault(tuple(tensor.shape[-2:]), []).append((job, tensor))
        except UserError as exc:
            finished(job, error=exc)
    for members in by_size.values():
        batch_jobs = [job for job, _ in members]
        try:
            import torch

            stack = torch.cat([tensor for _, tensor in members])  # (N, 3, H, W)
            out = stylizer.stylize(stack, codes_for(batch_jobs[0]), content_size=0, max_size=0, **common)
        except UserError as exc:
            for job in batch_jobs:
                finished(job, error=exc)
            continue
        for index, job in enumerate(batch_jobs):
            finished(job, tensor_to_pil(out[index: index + 1]))


def add_stylize_parser(commands) -> None:
    p = commands.add_parser(
        "stylize", help="stylise content images with style images",
        description="Stylise every content × style pair (or, with --style-weights or --mask, one "
                    "blended output per content). Sizes are shorter-side lengths; 0 keeps the image's own size.",
    )
    add_stylize_arguments(p)


def add_stylize_arguments(p) -> None:
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
    add_content_colors_option(p)
    p.add_argument("--content-size", type=non_negative_int, default=512, metavar="N")
    p.add_argument("--style-size", type=non_negative_int, default=512, metavar="N")
    add_upscale_option(p)
    add_supersample_option(p)
    add_look_options(p)
    p.add_argument("--max-size", type=non_negative_int, default=0, metavar="N", help="cap on the longer side (0: none)")
    p.add_argument("--max-pixels", type=non_negative_int, default=16384 * 16384, metavar="N",
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
    p.add_argument("--batch", type=positive_int, default=1, metavar="N",
                   help="stylise up to N same-size contents per forward pass (adain without masks or colour "
                        "preservation; pays off on a GPU)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the networks (adain; falls back to eager where it fails)")
    add_runtime_options(p)
    add_tiling_options(p)
    add_gatys_options(p)
    add_johnson_options(p)
