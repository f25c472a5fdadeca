"""Built-in example images for the demo: content photos that scikit-image ships, and two style
images this module paints from a fixed seed (no artwork has to travel with the code).

Files are written once to `cache_dir()/examples/` and reused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from adain.core.io import save_image
from adain.nn.weights import cache_dir

CONTENT_NAMES = ("chelsea", "coffee")  # scikit-image's data module: a cat, a cup of coffee


def _examples_dir() -> Path:
    return cache_dir() / "examples"


def example_contents() -> list[Path]:
    """PNG copies of scikit-image's photos (RGB, as shipped)."""
    from skimage import data

    paths = []
    for name in CONTENT_NAMES:
        path = _examples_dir() / f"{name}.png"
        if not path.is_file():
            save_image(Image.fromarray(getattr(data, name)()).convert("RGB"), path)
        paths.append(path)
    return paths


def stained_glass(size: int = 512, cells: int = 90, seed: int = 0) -> Image.Image:
    """Voronoi cells in saturated colours separated by dark lead lines."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, size, (cells, 2))
    palette = np.array([[200, 30, 40], [240, 180, 20], [30, 80, 190], [20, 140, 80],
                        [120, 40, 150], [230, 110, 30], [60, 170, 200], [250, 230, 200]], dtype=np.float64)
    colours = palette[rng.integers(0, len(palette), cells)] * rng.uniform(0.75, 1.0, (cells, 1))
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    dist = (xs[..., None] - points[:, 0]) ** 2 + (ys[..., None] - points[:, 1]) ** 2  # (H, W, cells)
    order = np.argsort(dist, axis=-1)[..., :2]
    nearest = np.take_along_axis(dist, order, axis=-1)
    image = colours[order[..., 0]]
    edge = (np.sqrt(nearest[..., 1]) - np.sqrt(nearest[..., 0])) < 3.0
    image[edge] = (25, 20, 20)
    image += rng.normal(0, 8, image.shape)  # glass texture
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).filter(ImageFilter.SMOOTH)


def ink_waves(size: int = 512, seed: int = 1) -> Image.Image:
    """Swirling bands of blues and cream, like a woodblock print of waves."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64) / size
    field = np.zeros_like(xs)
    for _ in range(6):
        fx, fy, phase = rng.uniform(2, 9), rng.uniform(2, 9), rng.uniform(0, 2 * np.pi)
        field += np.sin(2 * np.pi * (fx * xs + 0.3 * np.sin(2 * np.pi * fy * ys)) + phase)
    bands = (np.floor((field - field.min()) / np.ptp(field) * 7) % 4).astype(int)
    palette = np.array([[18, 38, 88], [40, 92, 160], [120, 170, 210], [238, 228, 200]], dtype=np.float64)
    image = palette[bands] + rng.normal(0, 6, (size, size, 3))
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def example_styles() -> list[Path]:
    paths = []
    for name, paint in (("stained_glass", stained_glass), ("ink_waves", ink_waves)):
        path = _examples_dir() / f"{name}.png"
        if not path.is_file():
            save_image(paint(), path)
        paths.append(path)
    return paths
