"""The evaluation loop: every method variant on its content × style pairs → stylised outputs,
metric rows, set-level numbers, then the report (report.py) and W&B (tracking.py).

    from adain.evaluation import run
    status = run(load_eval_config("configs/eval/default.yaml"))   # 0, or 2 if any item failed

Work is cached per item (cache.py), so a second run only computes what changed, and stylisers
are built only when an item misses the cache.  A bad item (missing image, unknown method,
unloadable weights) prints one line on stderr and is skipped; the rest of the run completes.
"""

from __future__ import annotations

import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from adain.core.errors import UserError
from adain.evaluation.cache import ResultCache, item_key, style_key
from adain.evaluation.identity import IDENTITY_INFO, add_style_identity
from adain.evaluation.measure import Measure
from adain.evaluation.pairs import ImageStore, Pair, pairs_for
from adain.evaluation.scoring import EFFNET_METRICS, METRIC_INFO, PairScorer
from adain.evaluation.stylizers import build_stylizer, check_options, stylizer_device
from adain.evaluation.sweep import Variant, expand, slug


@dataclass
class VariantResult:
    variant: Variant
    rows: list[dict] = field(default_factory=list)
    pooled: list[torch.Tensor] = field(default_factory=list)  # (1280,) per output, for FD
    style_pooled: dict[str, torch.Tensor] = field(default_factory=dict)  # style path → (1280,)
    stats: list[dict] = field(default_factory=list)  # EfficientNet {stage: FeatureStats} per row
    timings: list[tuple[float, bool]] = field(default_factory=list)  # (ms, warm)
    peak_mb: list[float] = field(default_factory=list)
    note: str = ""  # why it was skipped, if it was
    stylize_calls: int = 0  # this process; 0 when everything came from the cache


class Evaluation:
    """State of one run: config, cache, scorer, results; `run()` drives it."""

    def __init__(self, cfg, log=print, error_stream=None):
        from adain.core.runtime import resolve_device

        self.cfg = cfg
        self.run_dir = Path(cfg.run_dir)
        self.cache = ResultCache(cfg.cache_dir or self.run_dir / "cache")
        self.device = resolve_device(cfg.device)
        self.images = ImageStore()
        self.log, self.error_stream = log, error_stream
        self.errors: list[str] = []
        self.notes: list[str] = []
        self._scorer: PairScorer | None = None
        self._stylizers: dict[str, object] = {}  # variants differing only in options share one
        self._standard = None
        self.encoders: dict[str, str | None] = {}  # variant label → the network it was trained on

    # --- pieces built on first use ----------------------------------------------------------

    @property
    def scorer(self) -> PairScorer:
        if self._scorer is None:
            self._scorer = PairScorer(effnet=self.cfg.metrics.effnet, device=self.device)
        return self._scorer

    def required_metrics(self) -> set[str]:
        names = set(METRIC_INFO)
        return names if self.cfg.metrics.effnet else names - set(EFFNET_METRICS)

    def error(self, message: str) -> None:
        self.errors.append(message)
        print(f"eval.py: error: {message}", file=self.error_stream or sys.stderr, flush=True)

    # --- the loop ---------------------------------------------------------------------------

    def run_variant(self, variant: Variant) -> VariantResult:
        result = VariantResult(variant)
        try:
            pairs = pairs_for(variant)
        except UserError as exc:
            self.error(str(exc))
            result.note = f"skipped: {exc}"
            return result
        if not pairs:  # e.g. a Johnson network whose style is outside max_styles
            result.note = f"skipped: its styles {variant.styles} are not among the styles evaluated"
            self.notes.append(f"{variant.label}: {result.note}")
            return result
        stylizer = None
        for pair in pairs:
            try:
                key = item_key(variant.identity(), pair.content, pair.style, variant.size, variant.style_size)
            except OSError as exc:  # the file vanished or cannot be read
                self.error(f"{variant.label} {pair.name}: {exc.filename or exc}: file not found or unreadable")
                continue
            cached = self.cache.load_output(key)
            if cached is None:
                if stylizer is None:
                    stylizer = self._load(variant, result)
                    if stylizer is None:
                        return result  # the note or error says why
                try:
                    output, record = self._stylize(stylizer, variant, pair, result)
                except UserError as exc:
                    self.error(f"{variant.label} {pair.name}: {exc}")
                    continue
                output = self.cache.store_output(key, output, record)
            else:
                output, record = cached
            try:
                row, extras = self._score(key, variant, pair, output)
            except UserError as exc:
                self.error(f"{variant.label} {pair.name}: {exc}")
                continue
            result.rows.append(self._row(variant, pair, key, record, row, cached is not None))
            result.timings += [(record["ms"], record["warm"])] + [(ms, True) for ms in record.get("repeat_ms", [])]
            result.peak_mb.append(record["peak_mb"])
            if extras:
                result.pooled.append(extras["pooled"])
                result.stats.append(extras["style_stats"])
                result.style_pooled[str(pair.style)] = self._style_pooled(pair.style, variant.style_size)
        return result

    def _load(self, variant: Variant, result: VariantResult):
        import json

        shared_key = json.dumps([variant.name, variant.settings], sort_keys=True, default=str)
        try:
            if shared_key not in self._stylizers:
                self.log(f"loading {variant.label}")
                self._stylizers[shared_key] = build_stylizer(variant.name, variant.settings)
            stylizer = self._stylizers[shared_key]
            check_options(stylizer, variant.options)
            return stylizer
        except (UserError, ImportError) as exc:
            message = f"{variant.label}: cannot load method {variant.name!r}: {str(exc).splitlines()[0]}"
            if isinstance(exc, UserError) and str(exc).startswith(f"method {variant.name!r}: unknown"):
                message = f"{variant.label}: {exc}"
            if variant.optional:
                result.note = f"skipped (optional): {message}"
                self.notes.append(result.note)
                self.log(result.note)
            else:
                result.note = f"error: {message}"
                self.error(message)
            return None

    def _stylize(self, stylizer, variant: Variant, pair: Pair, result: VariantResult) -> tuple[torch.Tensor, dict]:
        content = self.images.content(pair.content, variant.size)  # (1, 3, S, S)
        style = self.images.style(pair.style, variant.style_size)  # (1, 3, h, w), shorter side style_size

        def once() -> tuple[torch.Tensor, Measure]:
            torch.manual_seed(self.cfg.seed)  # same noise/init for every pair, cached or not
            with Measure(stylizer_device(stylizer, self.device)) as measure:
                # supersample pinned to 1 unless a variant sets it: a method is scored at the size
                # scored (the cache keys on the options, so an "auto" default must not hide in them)
                out = stylizer.stylize(content, style, preserve_color=variant.preserve_color,
                                       content_size=0, style_size=0, **{"supersample": 1, **variant.options})
            result.stylize_calls += 1
            return out, measure

        warm = result.stylize_calls > 0  # the first call of a variant pays for lazy set-up
        output, measure = once()
        record = {"ms": measure.ms, "peak_mb": measure.peak_mb, "warm": warm, "memory": measure.memory_kind,
                  "label": variant.label, "pair": pair.name}
        if not warm and self.cfg.metrics.timing_repeats:
            record["repeat_ms"] = [once()[1].ms for _ in range(self.cfg.metrics.timing_repeats)]
        self.log(f"{variant.label} {pair.name}: {measure.ms:.0f} ms")
        return output.float().clamp(0, 1), record

    def _score(self, key: str, variant: Variant, pair: Pair, output: torch.Tensor) -> tuple[dict, dict]:
        """The metric row of one output and, with EfficientNet, its extras (pooled features and
        stage statistics, see PairScorer.score), from the cache if there."""
        row = self.cache.load_metrics(key, self.required_metrics())
        extras = {}
        if self.cfg.metrics.effnet:
            extras = {"pooled": self.cache.load_pooled(key), "style_stats": self.cache.load_stats(key)}
        if row is None or any(value is None for value in extras.values()):
            content = self.images.content(pair.content, variant.size)
            style = self.images.style(pair.style, variant.style_size)
            row, extras = self.scorer.score(output, content, style, f"{pair.content}@{variant.size}",
                                            f"{pair.style}@{variant.style_size}")
            if self.standard is not None:
                row.update(self.standard.pair(output, content))
            if extras:
                self.cache.store_stats(key, extras["style_stats"])
            self.cache.store_metrics(key, row, extras.get("pooled"))
        return row, extras

    def style_stats(self, style: Path, style_size: int) -> dict:
        """EfficientNet-Lite0 stage statistics of a style image, cached like the outputs'."""
        key = style_key(style, style_size)
        stats = self.cache.load_stats(key)
        if stats is None:
            stats = self.scorer.style_stats(self.images.style(style, style_size), f"{style}@{style_size}")
            self.cache.store_stats(key, stats)
        return stats

    def _style_pooled(self, style: Path, style_size: int) -> torch.Tensor:
        """(1280,) pooled EfficientNet features of a style image, cached like the outputs'."""
        key = style_key(style, style_size)
        pooled = self.cache.load_pooled(key)
        if pooled is None:
            pooled = self.scorer.pooled(self.images.style(style, style_size), f"{style}@{style_size}")
            self.cache.store_pooled(key, pooled)
        return pooled

    @property
    def standard(self):
        if self._standard is None and self.cfg.metrics.standard:
            from adain.evaluation.standard import StandardMetrics

            self._standard = StandardMetrics(self.device)
        return self._standard

    def _row(self, variant: Variant, pair: Pair, key: str, record: dict, metrics: dict, cached: bool) -> dict:
        output_file = self.run_dir / "outputs" / slug(variant.label) / f"{pair.name}.png"
        output_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.cache.output_path(key), output_file)
        return {"variant": variant.label, "method": variant.name, "entry": variant.entry_index,
                "content": pair.content.name, "style": pair.style.name, "size": variant.size,
                "style_size": variant.style_size, **{f"swept.{k}": v for k, v in variant.swept.items()},
                **metrics, "stylize_ms": record["ms"], "warm": record["warm"], "peak_mb": record["peak_mb"],
                "cached": cached, "output": str(output_file.relative_to(self.run_dir)), "key": key,
                "content_path": str(pair.content), "style_path": str(pair.style)}


def summarise_variant(result: VariantResult) -> dict:
    """Means of every metric, FD-EfficientNet-Lite0, speed (warm median) and peak memory."""
    from adain.evaluation.metrics import frechet_distance

    rows = result.rows
    summary = {"variant": result.variant.label, "method": result.variant.name,
               "settings": result.variant.settings, "options": result.variant.options,
               "swept": result.variant.swept, "size": result.variant.size, "pairs": len(rows),
               "note": result.note}
    if not rows:
        return summary
    metric_names = [k for k in rows[0] if k in METRIC_INFO or k in IDENTITY_INFO or k == "lpips_content"]
    for name in metric_names:
        summary[name] = statistics.fmean(r[name] for r in rows)
    if result.pooled:
        summary["fd_effnet_lite0"] = frechet_distance(torch.stack(result.pooled),
                                                      torch.stack(list(result.style_pooled.values())))
    warm = [ms for ms, is_warm in result.timings if is_warm]
    summary["ms_per_image"] = statistics.median(warm or [ms for ms, _ in result.timings])
    summary["timing"] = f"warm median of {len(warm)}" if warm else "cold (no warm sample: set metrics.timing_repeats)"
    summary["peak_mb"] = max(result.peak_mb)
    return summary


def standard_fid(evaluation: Evaluation, result: VariantResult) -> float:
    """Inception FID of a variant's outputs vs its styles, when its weights are on disk (else NaN)."""
    standard = evaluation.standard
    if standard is None or not standard.fid_available or not result.rows:
        return float("nan")
    from adain.core.io import load_image

    outputs = [load_image(evaluation.run_dir / row["output"]) for row in result.rows]
    styles = [evaluation.images.style(Path(p), result.variant.style_size)
              for p in dict.fromkeys(row["style_path"] for row in result.rows)]
    return standard.fid(outputs, styles)


def run(cfg, log=print) -> int:
    """Run the whole evaluation; returns the exit status (0, or 2 if any item failed).
    `cfg.threads` applies for the run only."""
    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _run(cfg, log)
    finally:  # a caller in the same process (a notebook, a test) gets its own setting back
        torch.set_num_threads(threads_before)


def _run(cfg, log) -> int:
    from adain.train.config import to_dict
    from adain.evaluation import report
    from adain.evaluation.provenance import trained_encoder
    from adain.evaluation.reconstruction import add_reconstruction
    from adain.evaluation.standard import availability

    evaluation = Evaluation(cfg, log=log)
    evaluation.run_dir.mkdir(parents=True, exist_ok=True)
    variants = expand(cfg)
    evaluation.encoders = {v.label: trained_encoder(v.name, v.settings) for v in variants}
    results = [evaluation.run_variant(variant) for variant in variants]
    if cfg.metrics.effnet:
        add_style_identity(evaluation, results)
    summaries = [summarise_variant(r) for r in results]
    for summary in summaries:
        summary["trained_on"] = evaluation.encoders.get(summary["variant"])
    reconstruction = add_reconstruction(evaluation, results, summaries) if cfg.metrics.reconstruction else []
    for summary, result in zip(summaries, results):
        fid = standard_fid(evaluation, result)
        if fid == fid:  # not NaN: the Inception weights were there
            summary["fid"] = fid
    if cfg.metrics.standard:
        evaluation.notes += [f"{name}: {why}" for name, why in availability().items() if why]
    else:
        evaluation.notes.append("standard metrics (FID, LPIPS, ArtFID): not requested (metrics.standard=false)")
    if cfg.metrics.effnet:
        evaluation.notes.append("fd_effnet_lite0 is a Fréchet distance in EfficientNet-Lite0 pooled features "
                                "(stylised set vs style set): NOT FID, not comparable with published FID values")
    report.write_all(evaluation, to_dict(cfg), results, summaries, reconstruction=reconstruction)
    return 2 if evaluation.errors else 0
