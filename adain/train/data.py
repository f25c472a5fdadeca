"""Training data: image lists, in-memory decoded images, deterministic random crops.

A batch is a pure function of (seed, step): which images (an endless stream of per-epoch
shuffles, without replacement inside an epoch), which crop, which flip.  So resuming at step k
sees exactly the batches a straight run would, whatever the number of DataLoader workers, and
DDP ranks take disjoint slices of the same stream.
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from adain.core.errors import UserError
from adain.core.io import IMAGE_SUFFIXES, open_image, resize_shorter

TRAIN_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def list_images(source: str | Path) -> list[Path]:
    """A folder (searched recursively) or a manifest file (.txt: one path per line; .csv: a
    `file` column), paths relative to the manifest's folder."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in TRAIN_SUFFIXES and p.is_file())
    elif source.is_file() and source.suffix in (".txt", ".csv"):
        if source.suffix == ".csv":
            with source.open(newline="") as handle:
                names = [row["file"] for row in csv.DictReader(handle)]
        else:
            names = [line.strip() for line in source.read_text().splitlines() if line.strip() and not line.startswith("#")]
        files = [(source.parent / name) for name in names]
    else:
        raise UserError(f"{source}: not a folder of images or a .txt/.csv manifest")
    if not files:
        raise UserError(f"{source}: no images found ({', '.join(IMAGE_SUFFIXES)})")
    return files


class ImagePool:
    """Images of one kind (content or style), decoded and resized to `load_size` shorter side.

    With `cache=True` every image is decoded once, up front, and kept as uint8 (about 0.75 MB per
    512-px image); unreadable files are skipped with a warning and counted in `skipped`.
    """

    def __init__(self, files: list[Path], load_size: int, cache: bool = True, min_side: int = 0):
        self.load_size = load_size
        self.min_side = min_side
        self.skipped: list[str] = []
        self.files: list[Path] = []
        self.images: list[np.ndarray] = []
        for path in files:
            try:
                image = self._decode(path) if cache else None
            except UserError as exc:
                self.skipped.append(str(exc))
                warnings.warn(f"skipping {exc}")
                continue
            self.files.append(path)
            if cache:
                self.images.append(image)
        self.cached = cache
        if not self.files:
            raise UserError(f"no readable images among {len(files)} files")

    def _decode(self, path: Path) -> np.ndarray:
        image = resize_shorter(open_image(path), self.load_size)
        if min(image.size) < self.min_side:  # too small to crop: upscale
            image = resize_shorter(image, self.min_side)
        return np.asarray(image, dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.files)

    def get(self, index: int) -> np.ndarray | None:
        if self.cached:
            return self.images[index]
        try:
            return self._decode(self.files[index])
        except UserError as exc:
            warnings.warn(f"skipping {exc}")
            return None


@dataclass
class StreamPosition:
    """Where sample k of an endless, per-epoch-shuffled stream over n items lands."""

    seed: int
    n: int

    def index(self, k: int) -> int:
        epoch, offset = divmod(k, self.n)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return int(torch.randperm(self.n, generator=generator)[offset])


def random_crop(image: np.ndarray, size: int, generator: torch.Generator, hflip: bool) -> torch.Tensor:
    """(H, W, 3) uint8 → (3, size, size) uint8, a random square crop (+ flip).

    Batches stay uint8 until they reach the training device (`to_unit_float`): a quarter of the
    bytes through worker shared memory, pinned buffers and the host-to-GPU copy.
    """
    height, width = image.shape[:2]
    if min(height, width) < size:
        scale = size / min(height, width)
        pil = Image.fromarray(image).resize((max(size, round(width * scale)), max(size, round(height * scale))),
                                            Image.Resampling.BICUBIC)
        image = np.asarray(pil)
        height, width = image.shape[:2]
    top = int(torch.randint(0, height - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - size + 1, (1,), generator=generator))
    crop = torch.from_numpy(np.ascontiguousarray(image[top: top + size, left: left + size])).permute(2, 0, 1)
    if hflip and bool(torch.randint(0, 2, (1,), generator=generator)):
        crop = crop.flip(-1)
    return crop.contiguous()


def to_unit_float(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """(B, 3, S, S) uint8 batch → float32 in [0, 1] on `device`, channels_last."""
    batch = batch.to(device, non_blocking=True).float().div_(255.0)
    return batch.contiguous(memory_format=torch.channels_last)


class PairBatches(torch.utils.data.Dataset):
    """Item `step` is the whole batch of that step: (content (B,3,S,S), style (B,3,S,S)), uint8.

    Without a style pool (per-style methods such as Johnson's, whose style is fixed) the style
    item is None and the content crops are the same as with one.
    """

    def __init__(self, content: ImagePool, style: ImagePool | None, batch_size: int, crop_size: int, seed: int,
                 hflip: bool = True, rank: int = 0, world_size: int = 1):
        self.content, self.style = content, style
        self.batch_size, self.crop_size, self.seed, self.hflip = batch_size, crop_size, seed, hflip
        self.rank, self.world_size = rank, world_size
        self.content_stream = StreamPosition(seed, len(content))
        self.style_stream = StreamPosition(seed + 1, len(style)) if style is not None else None

    def __len__(self) -> int:  # endless in principle; the sampler decides which steps
        return 2**62

    def _sample(self, pool: ImagePool, stream: StreamPosition, k: int, generator: torch.Generator) -> torch.Tensor:
        for attempt in range(len(pool)):  # an unreadable file (uncached pools) is replaced by the next one
            image = pool.get(stream.index(k + attempt * 7919))
            if image is not None:
                return random_crop(image, self.crop_size, generator, self.hflip)
        raise UserError("no readable images left in the pool")

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        generator = torch.Generator().manual_seed(self.seed * 7_919 + step * self.world_size + self.rank)
        base = (step * self.world_size + self.rank) * self.batch_size
        content = torch.stack([self._sample(self.content, self.content_stream, base + j, generator)
                               for j in range(self.batch_size)])
        if self.style is None:
            return content, None
        style = torch.stack([self._sample(self.style, self.style_stream, base + j, generator)
                             for j in range(self.batch_size)])
        return content, style


def center_square(image: Image.Image, size: int) -> Image.Image:
    """Centre square crop resized to size² (how the validation numbers treat content images)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
