"""Image files in and out.

`load_image` turns any image file a user is likely to have into RGB float in [0, 1],
(1, 3, H, W): EXIF orientation applied; L, LA, P, RGBA, CMYK and 16-bit inputs converted;
transparency flattened onto white; a pixel-count guard against decompression bombs.  Every
failure is a one-line UserError that names the file.  `save_image` writes atomically.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from adain.core.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
DEFAULT_MAX_PIXELS = 16384 * 16384  # 268 MP: well above 8K (33 MP), far below a bomb


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode → RGB: 16-bit scaled down, transparency flattened onto white."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        scale = 65535.0 if (image.mode.startswith("I;16") or values.max(initial=0) > 255) else 255.0
        if image.mode == "F" and values.max(initial=0) <= 1.0:
            scale = 1.0
        gray = np.clip(values / scale * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def open_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS, mode: str = "RGB") -> Image.Image:
    """Decode an image file fully into memory, as RGB (or "L" for masks), upright."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found")
    if path.is_dir():
        raise UserError(f"{path}: is a folder; expected an image file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file (0 bytes); expected an image")
    # Pillow's own bomb guard (an error at 2 × Image.MAX_IMAGE_PIXELS, ~179 MP by default) would
    # fire in Image.open, before ours, and name a flag that cannot lift it.  Ours runs on the
    # header too, before any pixel is decoded, so it is the one guard while the file opens.
    pillow_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise UserError(
                        f"{path}: {width}x{height} is {width * height:,} pixels, over the limit of "
                        f"{max_pixels:,}; raise --max-pixels if this is intended"
                    )
                if width == 0 or height == 0:
                    raise UserError(f"{path}: image has zero size ({width}x{height})")
                image.load()
                image = ImageOps.exif_transpose(image)
                return to_rgb(image) if mode == "RGB" else to_rgb(image).convert("L")
    except UserError:
        raise
    except UnidentifiedImageError:
        raise UserError(f"{path}: not an image file; expected JPEG, PNG, WebP, BMP or TIFF") from None
    except Image.DecompressionBombError:  # a plugin's own check (not reached with the limit off)
        raise UserError(f"{path}: too many pixels, over the limit of {max_pixels:,}; "
                        f"raise --max-pixels if this is intended") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"{path}: truncated or corrupt image data ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit


def scaled_size(width: int, height: int, size: int = 0, max_size: int = 0) -> tuple[int, int] | None:
    """(width, height) with the shorter side `size` (0: keep) and the longer side capped at
    `max_size` (0: no cap), aspect ratio kept; None when nothing changes."""
    scale = size / min(width, height) if size else 1.0
    if max_size and max(width, height) * scale > max_size:
        scale = max_size / max(width, height)
    if scale == 1.0:
        return None
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_shorter(image: Image.Image, size: int = 0, max_size: int = 0) -> Image.Image:
    """Resize a PIL image as `scaled_size` says; Lanczos resampling."""
    new_size = scaled_size(*image.size, size, max_size)
    return image if new_size is None else image.resize(new_size, Image.Resampling.LANCZOS)


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB or L → (1, C, H, W) float32 in [0, 1]."""
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) float in [0, 1] (clamped here) → PIL RGB."""
    if image.dim() == 4:
        if image.shape[0] != 1:
            raise ValueError(f"expected one image, got a batch of {image.shape[0]}")
        image = image[0]
    array = image.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array, mode="RGB")


def load_image(path: str | os.PathLike, size: int = 0, max_size: int = 0,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """Image file → (1, 3, H, W) RGB float32 in [0, 1], shorter side `size` (0: as is)."""
    return pil_to_tensor(resize_shorter(open_image(path, max_pixels), size, max_size))


def load_mask(path: str | os.PathLike, expected_size: tuple[int, int], max_pixels: int = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """A greyscale mask whose size must equal `expected_size` (width, height) of the content
    image it belongs to → (1, 1, H, W) float32 in [0, 1] (white = this style's region)."""
    mask = open_image(path, max_pixels, mode="L")
    if mask.size != tuple(expected_size):
        raise UserError(
            f"{path}: mask is {mask.size[0]}x{mask.size[1]}; expected the content image's size "
            f"{expected_size[0]}x{expected_size[1]}"
        )
    return pil_to_tensor(mask)


def save_image(image: torch.Tensor | Image.Image, path: str | os.PathLike, quality: int = 95) -> Path:
    """Write through a temporary file and a rename, so a failed write leaves nothing behind."""
    path = Path(path)
    pil = image if isinstance(image, Image.Image) else tensor_to_pil(image)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        options = {"quality": quality} if path.suffix.lower() in (".jpg", ".jpeg", ".webp") else {}
        pil.save(tmp, **options)
        os.replace(tmp, path)
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{path}: cannot write image ({exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def expand_image_paths(paths: Iterable[str | os.PathLike], what: str) -> list[Path]:
    """Files as given, folders expanded to their image files (sorted, recursive).

    A path that does not exist is kept, so that loading it reports the error in its turn and the
    rest of a batch still runs; an empty folder is an error here.
    """
    result: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise UserError(f"{path}: {what} folder has no images ({', '.join(IMAGE_SUFFIXES)})")
            result.extend(found)
        else:
            result.append(path)
    return result


def masks_to_tensor(masks: Sequence[str | os.PathLike | Image.Image] | torch.Tensor, original_size: tuple[int, int],
                    size: tuple[int, int], n_styles: int) -> torch.Tensor:
    """Masks at the content's original (W, H) → (1, K, H', W') at the working (W', H').

    K styles take K masks, or K − 1 masks with the last style taking what they leave.
    """
    if isinstance(masks, torch.Tensor):
        stack = masks.float() if masks.dim() == 4 else masks.float().unsqueeze(0)
    else:
        loaded = []
        for mask in masks:
            if isinstance(mask, (str, os.PathLike)):
                loaded.append(load_mask(mask, original_size))
            else:
                if mask.size != original_size:
                    raise UserError(f"mask: size {mask.size}; expected the content's size {original_size}")
                loaded.append(pil_to_tensor(mask.convert("L")))
        stack = torch.cat(loaded, dim=1) if loaded else torch.zeros(1, 0, *original_size[::-1])
    if stack.shape[1] == n_styles - 1:
        stack = torch.cat([stack, (1 - stack.sum(dim=1, keepdim=True)).clamp_min(0)], dim=1)
    if stack.shape[1] != n_styles:
        raise UserError(f"masks: got {stack.shape[1]} for {n_styles} styles; expected {n_styles} or {n_styles - 1}")
    return F.interpolate(stack, size=size[::-1], mode="bilinear", align_corners=False).clamp(0, 1)
