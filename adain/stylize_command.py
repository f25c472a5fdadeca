"""`adain stylize`: batch stylisation with per-item errors.

Every content × style pair gets its own output (or one blended output per content with
--style-weights or --mask).  A bad item is reported on one line and skipped; the others are still
written; the exit status is 2 if anything failed.  Outputs are written atomically and never over
an input file.
"""

from __future__ import annotations

import sys
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path

from adain.errors import UserError


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
              style_label: str = "") -> list[Job]:
    from adain.io import IMAGE_SUFFIXES

    groups = [styles] if blend else [[s] for s in styles]
    pairs = [(c, g) for c in contents for g in groups]
    if output.suffix.lower() in IMAGE_SUFFIXES:
        if len(pairs) != 1:
            raise UserError(f"--output {output}: a file name takes exactly one result, but there are {len(pairs)}; give a folder")
        return [Job(pairs[0][0], pairs[0][1], output)]
    return [Job(c, g, output / output_name(c, g, ext, style_label)) for c, g in pairs]


def _validate(args: Namespace) -> None:
    if not 0.0 <= args.alpha <= 1.0:
        raise UserError(f"--alpha {args.alpha}: expected a value in [0, 1]")
    if args.style_weights is not None and args.mask is not None:
        raise UserError("--style-weights and --mask: give one or the other (masks place styles, weights blend them)")


def run_stylize(args: Namespace) -> int:
    _validate(args)  # before any heavy import, so a bad option fails at once
    from adain.io import expand_image_paths, save_image

    built_in_style = args.method in BUILT_IN_STYLE_METHODS and args.style is None
    if args.content is None or (args.style is None and not built_in_style):
        from adain.examples import example_contents, example_styles

        args.content = args.content or [str(p) for p in example_contents()]
        args.style = args.style or [str(p) for p in example_styles()]
    contents = expand_image_paths(args.content, "content")
    styles = [] if built_in_style else expand_image_paths(args.style, "style")
    blend = args.style_weights is not None or args.mask is not None or built_in_style
    style_label = Path(args.johnson_model).stem if built_in_style and args.johnson_model else args.method
    if args.style_weights is not None:
        from adain.functional import normalise_weights

        normalise_weights(args.style_weights, len(styles))  # fail before loading anything
    jobs = plan_jobs(contents, styles, blend, Path(args.output), args.ext, style_label)
    inputs = {p.resolve() for p in contents + styles + [Path(m) for m in (args.mask or [])]}

    from tqdm import tqdm  # heavy imports from here on

    from adain.methods import from_cli

    stylizer, method_options = from_cli(args)
    style_codes: dict[Path, object] = {}
    style_errors: dict[Path, str] = {}
    failures = 0
    progress = tqdm(jobs, unit="image", disable=args.no_progress or len(jobs) <= 3, file=sys.stderr)
    for job in progress:
        try:
            if job.output.resolve() in inputs:
                raise UserError(f"{job.output}: would overwrite an input image; choose another --output")
            for style in job.styles:  # each style is encoded once for the whole batch
                if style in style_errors:
                    raise UserError(style_errors[style])
                if style not in style_codes:
                    try:
                        style_codes[style] = stylizer.encode_style(style, args.style_size, args.max_size, args.max_pixels)
                    except UserError as exc:
                        style_errors[style] = str(exc)
                        raise
            result = stylizer.stylize(
                job.content, [style_codes[s] for s in job.styles],
                style_weights=args.style_weights, masks=args.mask,
                preserve_color=args.preserve_color, content_size=args.content_size,
                style_size=args.style_size, max_size=args.max_size, max_pixels=args.max_pixels,
                **method_options,
            )
            save_image(result, job.output)
            progress.set_postfix_str(job.output.name)
            if len(jobs) <= 3 or args.no_progress:
                print(job.output)
        except UserError as exc:
            failures += 1
            tqdm.write(f"adain: error: {exc}", file=sys.stderr)
    if failures:
        tqdm.write(f"adain: {failures} of {len(jobs)} outputs failed; the others were written", file=sys.stderr)
        return UserError.exit_code
    return 0
