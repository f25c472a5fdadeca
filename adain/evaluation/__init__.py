"""Evaluation harness: every method on the same content × style pairs, scored, cached, reported.

    python eval.py --config configs/eval/default.yaml [key=value ...]

    from adain.evaluation import run, load_eval_config
    status = run(load_eval_config("configs/eval/smoke.yaml", ["run_dir=runs/eval-smoke"]))

Modules: config (schema), sweep (variants), pairs (images at protocol size), harness (the loop),
scoring + metrics (per-pair numbers), features (EfficientNet-Lite0), magenta (reference method),
cache, measure (time, memory), standard (FID/LPIPS when weights exist), report + plot (files, W&B).
"""

from adain.evaluation.config import EvalConfig, MethodEntry, load_eval_config


def run(cfg, log=print) -> int:
    """Run an evaluation config; returns the exit status (0, or 2 when any item failed)."""
    from adain.evaluation.harness import run as run_harness

    return run_harness(cfg, log=log)


__all__ = ["EvalConfig", "MethodEntry", "load_eval_config", "run"]
