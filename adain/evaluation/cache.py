"""A content-addressed cache of stylised outputs and their metric rows, so re-running an
evaluation only computes what changed, and an interrupted run resumes where it stopped.

Key = sha256 of (method name, settings, options, colour mode; content file and style file, each
as size + sha256 of its bytes; content size, style size).  Per key, in
<cache_dir>/<key[:2]>/:

    <key>.png                 the stylised output (uint8, what every metric is computed on)
    <key>.json                how it was made: stylisation time, peak memory, warm/cold
    <key>.metrics-v<N>.json   the metric row; N = METRICS_VERSION, bumped when a metric changes
    <key>.pooled-v<N>.pt      the output's EfficientNet-Lite0 pooled features (1280,), for FD
    <key>.effstats-v<N>.pt    its EfficientNet-Lite0 stage1…4 mean/std, for style identity

Each file is written to a temporary name and renamed, and the output's .json is written after
its .png, so a crash leaves either a complete item or nothing that counts.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import torch

from adain.core.io import load_image, save_image

METRICS_VERSION = 1


def file_fingerprint(path: str | os.PathLike) -> dict:
    """Size and sha256 of the file's bytes: changes whenever the contents change, and only then
    (a copied or re-mounted image pack gets new mtimes and paths; its outputs stay cached)."""
    path = Path(path).resolve()
    stat = path.stat()
    return {"bytes": stat.st_size, "sha256": _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)}


@functools.lru_cache(maxsize=4096)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """Memoised per (path, size, mtime): each file is read once per process, not once per pair."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def item_key(identity: dict, content: Path, style: Path, size: int, style_size: int) -> str:
    payload = {"method": identity, "content": file_fingerprint(content), "style": file_fingerprint(style),
               "size": size, "style_size": style_size}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def style_key(style: Path, style_size: int) -> str:
    """Key of a style image's own cached features (its pooled EfficientNet vector)."""
    payload = {"style_features": file_fingerprint(style), "style_size": style_size}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def write_json_atomic(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=1, default=str))
    os.replace(tmp, path)


class ResultCache:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _base(self, key: str) -> Path:
        return self.root / key[:2] / key

    def output_path(self, key: str) -> Path:
        return self._base(key).with_suffix(".png")

    def load_output(self, key: str) -> tuple[torch.Tensor, dict] | None:
        """(1, 3, H, W) output in [0, 1] and its timing record, or None if not (completely) cached."""
        record = self._base(key).with_suffix(".json")
        if not record.is_file():
            return None
        return load_image(self.output_path(key)), json.loads(record.read_text())

    def store_output(self, key: str, output: torch.Tensor, record: dict) -> torch.Tensor:
        """Save the output as PNG, then its record; return the output as saved (uint8-rounded)."""
        save_image(output, self.output_path(key))
        write_json_atomic(self._base(key).with_suffix(".json"), record)
        return load_image(self.output_path(key))

    def _metrics_path(self, key: str) -> Path:
        return self._base(key).with_suffix(f".metrics-v{METRICS_VERSION}.json")

    def load_metrics(self, key: str, required: set[str]) -> dict | None:
        """The cached metric row if it holds every `required` metric, else None."""
        path = self._metrics_path(key)
        if not path.is_file():
            return None
        row = json.loads(path.read_text())
        return row if required <= set(row) else None

    def store_metrics(self, key: str, row: dict, pooled: torch.Tensor | None = None) -> None:
        """Write the pooled features (if any) first, the metric row last: the row marks completion."""
        if pooled is not None:
            self.store_pooled(key, pooled)
        write_json_atomic(self._metrics_path(key), row)

    def store_pooled(self, key: str, pooled: torch.Tensor) -> None:
        path = self._base(key).with_suffix(f".pooled-v{METRICS_VERSION}.pt")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(pooled.clone(), tmp)
        os.replace(tmp, path)

    def load_pooled(self, key: str) -> torch.Tensor | None:
        path = self._base(key).with_suffix(f".pooled-v{METRICS_VERSION}.pt")
        return torch.load(path, weights_only=True) if path.is_file() else None

    def _stats_path(self, key: str) -> Path:
        return self._base(key).with_suffix(f".effstats-v{METRICS_VERSION}.pt")

    def store_stats(self, key: str, stats: dict) -> None:
        """{tap: FeatureStats} (per-channel mean/std of one image) → <key>.effstats-v<N>.pt."""
        path = self._stats_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        flat = {f"{tap}.{part}": getattr(value, part).detach().cpu().clone()
                for tap, value in stats.items() for part in ("mean", "std")}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(flat, tmp)
        os.replace(tmp, path)

    def load_stats(self, key: str) -> dict | None:
        from adain.nn.functional import FeatureStats

        path = self._stats_path(key)
        if not path.is_file():
            return None
        flat = torch.load(path, weights_only=True)
        taps = dict.fromkeys(name.rsplit(".", 1)[0] for name in flat)
        return {tap: FeatureStats(flat[f"{tap}.mean"], flat[f"{tap}.std"]) for tap in taps}
