"""The structure term (adain.nn.losses.training.structure_loss, optim.structure_weight)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch

from adain.core.errors import UserError
from adain.nn import functional as AF
from adain.nn.decoder import Decoder
from adain.nn.losses.training import structure_loss
from adain.nn.model import AdaINModel
from adain.nn.pretrained import build_encoder
from adain.train.config import load_config
from adain.train.objectives import AdaINObjective, train_step

ROOT = Path(__file__).resolve().parents[1]


def test_structure_ignores_the_statistics_the_style_loss_sets_and_prices_a_moved_layout():
    torch.manual_seed(0)
    content = {"relu2_1": torch.randn(2, 8, 12, 12), "relu3_1": torch.randn(2, 16, 6, 6)}
    style_stats = {tap: AF.mean_std(torch.randn(2, f.shape[1], 5, 5) * 3 + 1) for tap, f in content.items()}
    restyled = {tap: AF.adain(f, style_stats[tap]) for tap, f in content.items()}  # any per-channel σ·x + μ
    assert structure_loss(restyled, content, ("relu2_1", "relu3_1")).item() < 1e-6
    shifted = {tap: f.roll(shifts=3, dims=-1) for tap, f in content.items()}
    moved = structure_loss(shifted, content, ("relu2_1", "relu3_1")).item()
    assert 1.0 < moved < 6.0  # two taps of uncorrelated unit-variance features: ≈ 2 each
    assert structure_loss(shifted, content, ("relu3_1",)).item() < moved


def test_structure_term_joins_the_losses_and_encodes_its_taps():
    cfg = load_config(ROOT / "configs" / "train" / "default.yaml", ["init_decoder=null"])
    torch.manual_seed(0)
    model = AdaINModel(build_encoder("vgg16-hed"), Decoder("vgg16"))
    content, style = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    without = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext())
    assert "loss_structure" not in without
    cfg.optim.structure_weight = 0.5
    cfg.optim.identity_weight = 0.0  # the content is then encoded for the structure taps alone
    cfg.optim.structure_taps = ["relu1_1", "relu3_1"]
    with_structure = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext())
    cfg.optim.structure_weight = 0.0
    plain = train_step(model, model.decoder, content, style, cfg, contextlib.nullcontext())
    assert with_structure["loss_structure"] > 0.1
    torch.testing.assert_close(with_structure["loss"], plain["loss"] + 0.5 * with_structure["loss_structure"])


def test_an_unknown_structure_tap_is_refused_by_name():
    cfg = load_config(ROOT / "configs" / "train" / "default.yaml",
                      ["init_decoder=null", "optim.structure_weight=1", "optim.structure_taps=[relu3_1,relu9_9]"])
    with pytest.raises(UserError, match=r"optim.structure_taps: \['relu9_9'\] not in the vgg16-hed encoder"):
        AdaINObjective(cfg, build_encoder("vgg16-hed"))
