"""The evaluation config schema (`EvalConfig`) and its loading with list-index overrides.

YAML under configs/eval/ holds only what differs from these defaults; `key=value` overrides
come last and may index lists: `methods.0.options.alpha=0.5`, `size=256`.

A method entry = registry name + load-time `settings` + per-image `options`:

    methods:
      - name: adain                       # adain.methods.METHODS, or "magenta"
        settings: {decoder: adain/weights/decoder-vgg16-hed.safetensors}   # load_method(**settings)
        options: {alpha: 1.0}             # stylize(..., **options)
        sweep: {options.alpha: [0.25, 0.5, 0.75, 1.0]}   # one variant per value (grid product)
      - name: johnson                     # a per-style network: pair it with its one style only
        settings: {model: adain/weights/johnson-vangogh.safetensors}
        styles: [gordic_vg_self]                  # file stems (or names) of the style set to pair with
        optional: true                    # missing weights/module → skipped with a note, not an error
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from adain.core.errors import UserError
from adain.train.config import WandbConfig, load_config


@dataclass
class MethodEntry:
    name: str = "adain"
    label: Optional[str] = None  # shown in tables; default: name + the swept/option values
    settings: dict[str, Any] = field(default_factory=dict)  # load_method(name, **settings)
    options: dict[str, Any] = field(default_factory=dict)  # stylize(..., **options)
    # "options.alpha" / "settings.decoder" → values: one variant per combination (grid product)
    sweep: dict[str, list[Any]] = field(default_factory=dict)
    styles: list[str] = field(default_factory=list)  # only these styles (stems/file names); empty: all
    preserve_color: str = "none"  # none | histogram | luminance
    optional: bool = False  # a method that cannot be loaded is skipped with a note (exit status 0)


@dataclass
class MetricsConfig:
    effnet: bool = True  # EfficientNet-Lite0 content/style distances and FD-EfficientNet-Lite0
    standard: bool = True  # FID / LPIPS / ArtFID when their weights are present locally (else noted)
    timing_repeats: int = 0  # extra timed stylisations of the first pair per variant (warm median)
    reconstruction: bool = True  # PSNR/SSIM of decode(encode(content)) per AdaIN decoder


@dataclass
class EvalConfig:
    content: str = "../shared/data/content/val"  # folder (recursive) or .txt/.csv manifest
    style: str = "../shared/data/style/val"
    max_contents: int = 0  # first N (sorted) contents; 0: all
    max_styles: int = 0
    size: int = 384  # content: centre square crop resized to size² (design.md protocol)
    style_size: Optional[int] = None  # style: shorter side; None: same as size
    seed: int = 0  # torch.manual_seed before every stylisation (Gatys' noise init, …)
    device: str = "auto"  # where the metrics run; methods take their own `device` setting
    threads: int = 0  # torch CPU threads (0: torch's default); 1 is faster on an oversubscribed CPU
    methods: list[MethodEntry] = field(default_factory=lambda: [MethodEntry()])
    # root-level grid over any key ("size", "methods.0.settings.decoder", …), expanded locally
    sweep: dict[str, list[Any]] = field(default_factory=dict)
    run_dir: str = "runs/eval"
    cache_dir: Optional[str] = None  # None: <run_dir>/cache; share one between runs to reuse work
    grid_tile: int = 160  # pixels per image in the grids
    grid_rows: int = 8  # pairs per grid file
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    wandb: WandbConfig = field(default_factory=lambda: WandbConfig(project="adain-eval"))


_MISSING = object()  # OmegaConf.select's default: tells "absent" from a None value


def parse_value(text: str) -> Any:
    """An override value as YAML would read it ("0.5" → 0.5, "[1, 2]" → list, "null" → None)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def set_key(cfg, key: str, value: Any, where: str = "override") -> None:
    """Set a dotted key (list indices allowed) in a structured config; UserError when it is bad."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        if OmegaConf.select(cfg, key, throw_on_missing=False, default=_MISSING) is _MISSING:
            parent, _, leaf = key.rpartition(".")
            container = OmegaConf.select(cfg, parent) if parent else cfg
            # dict-typed fields (settings, options) accept new keys; dataclass fields do not
            if container is None or OmegaConf.is_list(container) or OmegaConf.get_type(container) is not dict:
                raise UserError(f"{where} {key!r}: no such key")
        OmegaConf.update(cfg, key, value, merge=True)
    except OmegaConfBaseException as exc:
        raise UserError(f"{where} {key!r}: {str(exc).splitlines()[0]}") from None


def load_eval_config(path: str | Path | None, overrides: Sequence[str] = ()):
    """Defaults ← YAML ← `key=value` overrides (list indices allowed), validated against EvalConfig."""
    cfg = load_config(path, (), schema=EvalConfig)
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep or not key:
            raise UserError(f"override {override!r}: expected key=value")
        set_key(cfg, key.strip(), parse_value(text))
    return cfg
