"""What the web demo (`adain serve`, adain.cli.serve) does with a request, without any web code:
check the uploads, load and cache the methods, turn a painted mask into a region mask, stylise
through the library's `Stylizer`s, and write the full-resolution result.

Every problem with an upload (not an image, truncated, too many pixels) is a one-line
`UserError` that names the upload by its file name; the page shows it and keeps serving.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from adain.core.errors import UserError
from adain.core.io import open_image, save_image, scaled_size
from adain.inference.superres.factors import check_upscale
from adain.nn.weights import SHIPPED_DIR

SHIPPED_JOHNSON = SHIPPED_DIR / "johnson-vangogh.safetensors"
METHOD_LABELS = {"adain": "AdaIN", "johnson": "Johnson", "gatys": "Gatys"}
#: per-request progress: (done, total, text)
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ServeSettings:
    """Server-wide settings (`adain serve` flags).

    Attributes:
        max_pixels: the size cap: uploads with more pixels are refused with a message (8K,
            7680×4320, is 33.2 MP; larger content images go through the tiled path).
        max_memory: memory budget of one AdaIN stylisation in bytes; larger images are tiled
            to fit (None: adain.inference.tiling's default, what this image may add on top of current use).
        gatys_max_size: Gatys optimises for minutes; its longer side is capped at this.
        keep_results: how many result files to keep on disk (oldest deleted first).
    """

    decoder: str | None = None
    device: str = "auto"
    precision: str = "auto"
    johnson_model: str = str(SHIPPED_JOHNSON)
    max_pixels: int = 40_000_000
    max_memory: int | None = None
    style_size: int = 512
    gatys_max_size: int = 768
    results_dir: Path | None = None
    keep_results: int = 64


@dataclass
class Job:
    """One press of the Stylise button.

    `styles` are (path, weight) pairs; `mask` (greyscale, any size: resized to the content) puts
    the first style where it is white and the second elsewhere; `content_size` is the output's
    shorter side (0: the upload's own size, tiled when large).
    """

    content: str
    styles: list[tuple[str, float]] = field(default_factory=list)
    method: str = "adain"
    alpha: float = 1.0
    preserve_color: str = "none"
    content_colors: str = "keep"  # "style": the photo first takes the style's colours (AdaIN, Gatys)
    content_size: int = 512
    style_scale: float = 1.0
    mask: Image.Image | None = None
    iterations: int = 100
    upscale: int = 1  # N > 1: stylise at 1/N of the output size, super-resolve ×N (docs/superres.md)


@dataclass
class Result:
    image: Image.Image
    path: Path
    seconds: float
    note: str


def mask_from_layers(layers: Sequence[Image.Image | None], size: tuple[int, int]) -> Image.Image | None:
    """Painted editor layers (RGBA, paint where alpha > 0) → greyscale mask at `size` (W, H),
    white where painted; None when nothing was painted."""
    alpha = None
    for layer in layers:
        if layer is None:
            continue
        array = np.asarray(layer.convert("RGBA"))[..., 3]
        alpha = array if alpha is None else np.maximum(alpha, array)
    if alpha is None or not alpha.any():
        return None
    return Image.fromarray(alpha, mode="L").resize(size, Image.Resampling.BILINEAR)


class DemoBackend:
    """Loads each method once (AdaIN at start, so that a bad --decoder fails at once) and runs
    jobs one at a time (the page's queue serialises them; the lock guards direct callers)."""

    def __init__(self, settings: ServeSettings = ServeSettings()):
        import tempfile

        self.settings = settings
        self.results_dir = Path(settings.results_dir or tempfile.mkdtemp(prefix="adain-serve-"))
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self._stylizers: dict = {}
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self.stylizer("adain")

    def stylizer(self, method: str):
        if method not in METHOD_LABELS:
            raise UserError(f"method {method!r}: unknown; expected one of {', '.join(METHOD_LABELS)}")
        if method not in self._stylizers:
            import adain

            s = self.settings
            if method == "adain":
                self._stylizers[method] = adain.load(s.decoder, device=s.device, precision=s.precision)
            elif method == "johnson":
                self._stylizers[method] = adain.load_method("johnson", model=s.johnson_model, device=s.device,
                                                            precision=s.precision)
            else:
                self._stylizers[method] = adain.load_method("gatys", device=s.device, precision=s.precision,
                                                            progress=False)
        return self._stylizers[method]

    # --- uploads --------------------------------------------------------------------------

    def open_upload(self, path: str | Path, what: str) -> Image.Image:
        """Decode an upload (RGB, upright) or raise a UserError that names it by file name."""
        path = Path(path)
        try:
            return open_image(path, self.settings.max_pixels)
        except UserError as exc:
            message = str(exc).replace(str(path), path.name).replace("; raise --max-pixels if this is intended",
                                                                     " (this server's --max-pixels)")
            raise UserError(f"{what} {message}") from None

    def describe(self, path: str | Path | None) -> str:
        """One line about a content upload: its size and what the output will be."""
        if not path:
            return ""
        image = self.open_upload(path, "content")
        width, height = image.size
        return f"content: {Path(path).name}, {width}×{height} px ({width * height / 1e6:.1f} MP)"

    # --- a job ----------------------------------------------------------------------------

    def run(self, job: Job, progress: Progress | None = None) -> Result:
        start = time.perf_counter()
        with self._lock:
            image, note = self._stylize(job, progress)
        path = self._save(image, Path(job.content).stem, job.method)
        seconds = time.perf_counter() - start
        label = METHOD_LABELS[job.method]
        return Result(image, path, seconds, f"{label}: {image.width}×{image.height} px in {seconds:.1f} s{note}")

    def _stylize(self, job: Job, progress: Progress | None) -> tuple[Image.Image, str]:
        if not job.content:
            raise UserError("content: no image; upload one or pick a built-in example")
        content = self.open_upload(job.content, "content")
        stylizer = self.stylizer(job.method)
        styles = [(path, float(weight)) for path, weight in job.styles if path]
        if job.method != "johnson" and not styles:
            raise UserError("styles: none chosen; pick a built-in style or upload one")
        if any(weight < 0 for _, weight in styles) or (styles and sum(w for _, w in styles) <= 0):
            raise UserError("style weights: expected values ≥ 0 that are not all 0")
        note = ""
        mask = None
        if job.mask is not None and job.method != "johnson":
            if job.content_colors == "style":
                raise UserError("colours: the style's colours need one style or a blend, not a painted mask; "
                                "clear the mask or choose other colours")
            if len(styles) < 2:
                raise UserError("mask: it places two styles (style 1 where painted, style 2 elsewhere); "
                                "choose a second style or clear the mask")
            if len(styles) > 2:
                note += f"; mask: styles 3–{len(styles)} left out"
            styles = styles[:2]
            mask = job.mask.convert("L").resize(content.size, Image.Resampling.BILINEAR)
        elif job.mask is not None:
            note += "; mask ignored: the Johnson network renders one style"

        options: dict = {"preserve_color": job.preserve_color, "content_size": job.content_size,
                         "style_size": self.settings.style_size, "max_pixels": self.settings.max_pixels}
        if job.content_colors != "keep" and job.method == "johnson":
            note += "; the style's colours not applied: the Johnson network reads no style image"
        elif job.content_colors != "keep":
            options["content_colors"] = job.content_colors
        upscale = check_upscale(job.upscale, "super-resolution")
        if upscale != 1:
            options["upscale"] = upscale
        if job.method == "adain":
            options.update(alpha=job.alpha, max_memory=self.settings.max_memory)
        elif job.method == "gatys":
            options["max_size"] = self.settings.gatys_max_size
            options.update(self._gatys_options(job, content.size, progress))
        codes = None
        if job.method != "johnson":
            codes = [self._encode_style(stylizer, path, job.style_scale) for path, _ in styles]
        weights = [weight for _, weight in styles] if len(styles) > 1 and mask is None else None
        if job.method == "johnson" and styles:
            note += "; the network's own style (Van Gogh) is used, the chosen styles are not"
        if progress is not None and job.method != "gatys":
            progress(0, 1, f"{METHOD_LABELS[job.method]}…")
        try:
            out = stylizer.stylize(content, codes, style_weights=weights,
                                   masks=None if mask is None else [mask], **options)
        except MemoryError:
            raise UserError("out of memory: choose a smaller output size") from None
        return out, note

    def _encode_style(self, stylizer, path: str, style_scale: float):
        image = self.open_upload(path, "style")
        code = stylizer.encode_style(image, self.settings.style_size, style_scale=style_scale)
        code.name = Path(path).stem
        return code

    def _gatys_options(self, job: Job, size: tuple[int, int], progress: Progress | None) -> dict:
        """Iterations and a callback that reports every step over all coarse-to-fine scales."""
        from adain.methods.gatys import scale_sizes

        iterations = int(job.iterations)
        if iterations < 1:
            raise UserError(f"gatys iterations: {iterations}; expected 1 or more")
        width, height = scaled_size(*size, job.content_size, self.settings.gatys_max_size) or size
        total = iterations * len(scale_sizes(height, width))

        def callback(step: int, losses, image) -> None:
            if progress is not None:
                progress(step + 1, total, f"Gatys: iteration {step + 1}/{total}, loss {losses['total']:.4g}")

        return {"iterations": iterations, "callback": callback}

    def _save(self, image: Image.Image, stem: str, method: str) -> Path:
        """Full-resolution PNG in the results folder; only the newest `keep_results` are kept."""
        path = self.results_dir / f"{stem}_{method}_{next(self._counter):04d}.png"
        save_image(image, path)
        old = sorted(self.results_dir.glob("*.png"), key=lambda p: p.stat().st_mtime)[:-self.settings.keep_results]
        for stale in old:
            stale.unlink(missing_ok=True)
        return path
