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
                  style_size=args.style_size, max_pixels=args.max_pixels, **method_options)
    if getattr(args, "photo", False):  # structure-preserving photo mode (adain.guided_filter)
        common.update(photo=True, photo_radius=args.photo_radius, photo_eps=args.photo_eps)
    failures = 0
    progress = tqdm(total=len(jobs), unit="image", disable=args.no_progress or len(jobs) <= 3, file=sys.stderr)

    def finished(job: Job, result=None, error: UserError | None = None) -> None:
        nonlocal failures
        progress.update(1)
        if error is not None:
            failures += 1
            tqdm.write(f"adain: error: {error}", file=sys.stderr)
            return
        save_image(result, job.output)
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


def check_output(job: Job, inputs: set[Path]) -> None:
    if job.output.resolve() in inputs:
        raise UserError(f"{job.output}: would overwrite an input image; choose another --output")


def run_batch(stylizer, group: list[Job], codes_for, inputs: set[Path], args: Namespace, common: dict,
              finished) -> None:
    """Load each content (a bad one fails alone), stack those of equal working size into
    (N, 3, H, W), stylise each stack in one call and save every image."""
    from adain.io import tensor_to_pil

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
