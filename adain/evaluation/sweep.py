"""Expand one evaluation config into method variants: the root `sweep` grid (any config key)
times each method entry's own `sweep` grid.  Each variant is one method with fixed settings,
options and image size; the harness runs every variant on its pairs.

    sweep: {size: [256, 384]}                          # root: any key, list indices allowed
    methods:
      - name: adain
        sweep: {options.alpha: [0.25, 1.0], settings.decoder: [a.safetensors, b.safetensors]}

gives 2 × 2 × 2 = 8 variants.  The same grid runs as a W&B sweep (experiments/eval/*.yaml), one
run per combination, because a sweep key is also a valid `key=value` override.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adain.core.errors import UserError
from adain.evaluation.config import set_key


@dataclass
class Variant:
    """One method with everything that decides its outputs fixed."""

    index: int  # position in the expanded list (stable order for tables)
    entry_index: int  # which `methods` entry it came from
    name: str
    label: str
    settings: dict[str, Any]
    options: dict[str, Any]
    preserve_color: str
    styles: list[str]
    optional: bool
    content: str
    style: str
    max_contents: int
    max_styles: int
    size: int
    style_size: int
    swept: dict[str, Any] = field(default_factory=dict)  # swept key → value, for table columns

    def fingerprint(self) -> str:
        """Everything that decides this variant's rows (identity, sizes, image sets)."""
        import json

        return json.dumps([self.identity(), self.styles, self.content, self.style, self.max_contents,
                           self.max_styles, self.size, self.style_size], sort_keys=True, default=str)

    def identity(self) -> dict:
        """What decides a stylised output, besides the images and their size (the cache key).

        A setting naming a file (a decoder, a Johnson model) stands for the file's contents, so
        it is keyed by the file's fingerprint too: retraining into the same path invalidates.
        """
        settings = {key: _fingerprinted(value) for key, value in _plain(self.settings).items()}
        return {"name": self.name, "settings": settings, "options": _plain(self.options),
                "preserve_color": self.preserve_color}


def _fingerprinted(value: Any) -> Any:
    from adain.evaluation.cache import file_fingerprint

    if isinstance(value, str) and value and Path(value).is_file():
        return {"value": value, "file": file_fingerprint(value)}
    return value


def _plain(value: Any) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else copy.deepcopy(value)


def grid(sweep: dict[str, list]) -> list[dict[str, Any]]:
    """{key: [values]} → every combination as {key: value}; {} → [{}]."""
    keys = list(sweep)
    for key in keys:
        if not isinstance(sweep[key], (list, tuple)) or not sweep[key]:
            raise UserError(f"sweep {key!r}: expected a non-empty list of values")
    return [dict(zip(keys, values)) for values in itertools.product(*(sweep[k] for k in keys))]


def short(value: Any) -> str:
    """A value for a label: file paths by their stem, floats without trailing noise."""
    if isinstance(value, str) and ("/" in value or Path(value).suffix in (".safetensors", ".pth", ".pt")):
        return Path(value).stem
    return f"{value:g}" if isinstance(value, float) else str(value)


def expand(cfg) -> list[Variant]:
    """All variants of a config (root grid × entry grids), labels made unique."""
    variants: list[Variant] = []
    for root_combo in grid(_plain(cfg.sweep)):
        point = copy.deepcopy(cfg)
        for key, value in root_combo.items():
            set_key(point, key, value, where="sweep")
        for entry_index, entry in enumerate(point.methods):
            for entry_combo in grid(_plain(entry.sweep)):
                local = copy.deepcopy(entry)
                for key, value in entry_combo.items():
                    if not key.startswith(("settings.", "options.")) and key not in ("preserve_color",):
                        raise UserError(f"methods.{entry_index}.sweep {key!r}: expected settings.<key>, "
                                        "options.<key> or preserve_color")
                    set_key(local, key, value, where=f"methods.{entry_index}.sweep")
                swept = _swept_for_entry(root_combo, entry_index)
                swept.update({_display_key(k): v for k, v in entry_combo.items()})
                options = _plain(local.options)
                shown = {**options, **{k: v for k, v in swept.items() if k not in options}}
                label = local.label or local.name
                if shown:
                    label += "[" + ",".join(f"{k}={short(v)}" for k, v in shown.items()) + "]"
                variant = Variant(
                    index=len(variants), entry_index=entry_index, name=local.name, label=label,
                    settings=_plain(local.settings), options=options, preserve_color=local.preserve_color,
                    styles=list(local.styles), optional=local.optional, content=point.content,
                    style=point.style, max_contents=point.max_contents, max_styles=point.max_styles,
                    size=point.size, style_size=point.style_size or point.size, swept=swept)
                # a root grid over one entry's key repeats the other entries unchanged: keep one
                if variant.fingerprint() not in {v.fingerprint() for v in variants}:
                    variants.append(variant)
    seen: dict[str, int] = {}
    for variant in variants:  # two entries with the same label (e.g. a sweep of an unshown key)
        seen[variant.label] = seen.get(variant.label, 0) + 1
        if seen[variant.label] > 1:
            variant.label += f"#{seen[variant.label]}"
    return variants


def _display_key(key: str) -> str:
    """"options.alpha" → "alpha", "settings.decoder" → "decoder", "size" → "size"."""
    return key.split(".", 1)[1] if key.startswith(("options.", "settings.")) else key


def _swept_for_entry(root_combo: dict[str, Any], entry_index: int) -> dict[str, Any]:
    """The root-grid keys that concern method entry `entry_index`: its own (prefix stripped)
    and the global ones (size, content, …), not other entries'."""
    own = f"methods.{entry_index}."
    swept = {}
    for key, value in root_combo.items():
        if key.startswith(own):
            swept[_display_key(key[len(own):])] = value
        elif not key.startswith("methods."):
            swept[key] = value
    return swept


def slug(label: str) -> str:
    """A label as a folder name: adain[alpha=0.5] → adain_alpha-0.5."""
    keep = "".join(c if c.isalnum() or c in ".-_" else "_" if c in "[,#" else "-" if c == "=" else "" for c in label)
    return keep.strip("_")
