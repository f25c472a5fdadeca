"""Skip decoders: the AdaIN targets of relu3_1 / relu2_1 / relu1_1 as extra decoder
inputs.  Zero-initialised projections = the plain decoder; saved = loaded; the targets follow
weights, masks and α as relu4_1's do; decode(encode(x)) is α = 0; tiled = untiled; video smoothing
keeps them; training reaches them; unknown taps are one-line errors; pass 2 beside a kept relu4_1
map re-encodes only the shallow maps."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import torch

from adain.core.errors import UserError
from adain.nn import functional as AF
from adain.nn.decoder import Decoder
from adain.nn.decoder import load_decoder, save_decoder
from adain.nn.model import AdaINModel
from conftest import TILING_OPTION_IDS, TILING_OPTIONS, assert_tiled_equals_untiled
from conftest import random_rgb_tensor as image

ROOT = Path(__file__).resolve().parents[1]
TAPS = ("relu3_1", "relu2_1", "relu1_1")


def skip_decoder(seed: int = 0) -> Decoder:
    """A seeded skip decoder whose projections are *not* at zero, so that the skips change pixels."""
    torch.manual_seed(seed)
    decoder = Decoder("vgg16", upsample="bilinear", skips=TAPS)
    with torch.no_grad():
        for proj in decoder.skip_proj.values():
            proj.weight.normal_(0, 0.2)
    return decoder


def skip_inputs(height: int, width: int, batch: int = 1) -> dict[str, torch.Tensor]:
    """Random skip inputs for relu4_1 features of (height, width), at the taps' usual scale."""
    return {"relu3_1": torch.rand(batch, 256, 2 * height, 2 * width) * 1000,
            "relu2_1": torch.rand(batch, 128, 4 * height, 4 * width) * 500,
            "relu1_1": torch.rand(batch, 64, 8 * height, 8 * width) * 60}


@pytest.fixture(scope="module")
def model(hed_encoder) -> AdaINModel:
    model = AdaINModel(hed_encoder, skip_decoder()).eval()
    model.memory_format = torch.contiguous_format
    return model


def test_fresh_skips_leave_the_decoder_as_it_was_and_are_then_required():
    torch.manual_seed(0)
    plain = Decoder("vgg16", upsample="bilinear")
    with_skips = Decoder("vgg16", upsample="bilinear")
    with_skips.load_state_dict(plain.state_dict())
    with_skips.add_skips(["relu1_1", "relu3_1"])
    feat = torch.rand(2, 512, 3, 4)
    with torch.no_grad():
        torch.testing.assert_close(with_skips(feat, skips=skip_inputs(3, 4, batch=2)), plain(feat), atol=0, rtol=0)
    assert with_skips.skip_taps == ("relu3_1", "relu1_1") and with_skips.config()["skips"] == ["relu3_1", "relu1_1"]
    assert "skips" not in plain.config()
    with pytest.raises(ValueError, match=r"skip inputs: pass skips= with \['relu3_1', 'relu1_1'\]"):
        with_skips(feat)
    with pytest.raises(ValueError, match="expected taps from"):
        with_skips.add_skips(["relu4_1"])


def test_the_skips_change_the_output():
    decoder = skip_decoder()
    feat = torch.rand(1, 512, 3, 3)
    first, second = skip_inputs(3, 3), skip_inputs(3, 3)
    with torch.no_grad():
        a, b, again = decoder(feat, skips=first), decoder(feat, skips=second), decoder(feat, skips=first)
    assert (a - b).abs().mean() > 1e-3
    torch.testing.assert_close(a, again, atol=0, rtol=0)


def test_saved_skip_decoders_load_with_their_projections_and_a_disagreeing_description_is_refused(tmp_path):
    from safetensors.torch import save_file

    from adain.nn.weights import DECODER_METADATA_KEY, read_safetensors

    decoder = skip_decoder(seed=3)
    path = tmp_path / "skips.safetensors"
    save_decoder(decoder, path, {"encoder": "vgg16-hed"})
    loaded, metadata = load_decoder(path)
    assert metadata["decoder"]["skips"] == list(TAPS) and loaded.skip_taps == TAPS
    feat, skips = torch.rand(1, 512, 2, 3), skip_inputs(2, 3)
    with torch.no_grad():
        torch.testing.assert_close(loaded(feat, skips=skips), decoder(feat, skips=skips))

    state, header = read_safetensors(path)
    partial = {key: value for key, value in state.items() if not key.startswith("skip_proj.relu1_1.")}
    save_file(partial, tmp_path / "partial.safetensors", {DECODER_METADATA_KEY: header[DECODER_METADATA_KEY]})
    with pytest.raises(UserError, match=r"says skips \['relu1_1', 'relu2_1', 'relu3_1'\] but the file has skip "
                                        r"tensors for \['relu2_1', 'relu3_1'\]"):
        load_decoder(tmp_path / "partial.safetensors")
    # the same parameter order as the network that was saved, whatever order the taps were given
    # in: Adam's state in a full checkpoint is matched by it on --resume
    reordered = Decoder("vgg16", upsample="bilinear", skips=("relu1_1", "relu3_1", "relu2_1"))
    assert [name for name, _ in reordered.named_parameters()] == [name for name, _ in loaded.named_parameters()]
    assert [name for name, _ in loaded.named_parameters()] == [name for name, _ in decoder.named_parameters()]
    plain = json.loads(header[DECODER_METADATA_KEY])
    del plain["decoder"]["skips"]
    save_file(state, tmp_path / "undescribed.safetensors", {DECODER_METADATA_KEY: json.dumps(plain)})
    assert load_decoder(tmp_path / "undescribed.safetensors")[0].skip_taps == TAPS  # older descriptions say nothing


def test_skip_targets_follow_weights_masks_and_alpha(model):
    content = image(48, 40, seed=1)
    first, second = model.style_stats(image(32, 32, seed=2)), model.style_stats(image(32, 32, seed=3))
    assert set(first.skips) == set(TAPS) and first.skips["relu1_1"].mean.shape == (1, 64, 1, 1)
    with torch.no_grad():
        feats = model.encode_all(content)
        # α = 0 gives the content's own features at every tap
        for tap, target in model.skip_targets(feats, [first], alpha=0.0).items():
            torch.testing.assert_close(target, feats[tap].float())
        # weights: AdaIN with the blended statistics, as at relu4_1
        blended = model.skip_targets(feats, [first, second], weights=[3, 1])
        blend = AF.blend_stats([first, second], [0.75, 0.25])
        torch.testing.assert_close(blended["relu2_1"], AF.adain(feats["relu2_1"], blend.skips["relu2_1"]))
        # masks: a mask that gives everything to the first style is the first style alone
        masks = torch.zeros(1, 2, 40, 48)
        masks[:, 0] = 1
        torch.testing.assert_close(model.skip_targets(feats, [first, second], masks=masks)["relu1_1"],
                                   model.skip_targets(feats, [first])["relu1_1"], atol=1e-4, rtol=1e-5)
    with pytest.raises(UserError, match="carry no skip statistics"):
        model.skip_targets(feats, [AF.FeatureStats(first.mean, first.std, first.palette)])


def test_reconstruction_gives_a_skip_decoder_the_contents_own_features(model):
    from adain.evaluation.reconstruction import reconstruct

    content = image(48, 40, seed=7)
    with torch.inference_mode():
        alpha_zero = model(content, [model.style_stats(image(32, 32, seed=8))], alpha=0.0).clamp(0, 1)
    torch.testing.assert_close(reconstruct(model, content), alpha_zero, atol=1e-5, rtol=0)


def test_training_reaches_the_skips_at_their_own_rate(decoder_file, hed_encoder):
    from adain.train.config import load_config
    from adain.train.objectives import AdaINObjective, train_step

    overrides = [f"init_decoder={decoder_file}", "model.encoder=vgg16-hed", "model.decoder_skips=[relu2_1,relu1_1]",
                 "optim.skip_lr_scale=20", "optim.lr=1e-4", "optim.identity_weight=0.5"]
    objective = AdaINObjective(load_config(ROOT / "configs" / "train" / "smoke.yaml", overrides), hed_encoder)
    decoder = objective.network
    assert decoder.skip_taps == ("relu2_1", "relu1_1") and all(p.abs().sum() == 0 for p in decoder.skip_proj.parameters())
    rest, skips = objective.parameter_groups(1e-4)
    assert skips["lr"] == pytest.approx(2e-3) and len(skips["params"]) == 4
    assert len(rest["params"]) + 4 == len(list(decoder.parameters()))
    assert objective.checkpoint_extras()["decoder_config"]["skips"] == ["relu2_1", "relu1_1"]

    torch.manual_seed(0)
    content, style = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64) * 0.5
    losses = train_step(objective.model, decoder, content, style, objective.cfg, contextlib.nullcontext())
    losses["loss"].backward()
    assert all(decoder.skip_proj[tap].weight.grad.abs().sum() > 0 for tap in ("relu2_1", "relu1_1"))

    with pytest.raises(UserError, match=r"model.decoder_skips: \['relu4_1'\]; expected taps from"):
        AdaINObjective(load_config(ROOT / "configs" / "train" / "smoke.yaml",
                                   [*overrides[:2], "model.decoder_skips=[relu4_1]"]), hed_encoder)


@pytest.mark.parametrize("options", TILING_OPTIONS, ids=TILING_OPTION_IDS)
def test_tiled_equals_untiled_with_a_skip_decoder(hed_encoder, options):
    """Pass 1 accumulates the whole image's statistics at every skip tap (per mask region, with
    the masks at each tap's size), pass 2 re-encodes each tile for its shallow maps: the tiles add
    nothing the untiled run does not have.  A palette head beside the skips, as the CPU run has."""
    from adain.methods.adain import AdaINStylizer

    decoder = skip_decoder(seed=4)
    decoder.add_palette_head()
    with torch.no_grad():
        for param in decoder.palette_head[2].parameters():
            param.normal_(0, 0.3)
    model = AdaINModel(hed_encoder, decoder).eval()
    model.memory_format = torch.contiguous_format
    assert_tiled_equals_untiled(AdaINStylizer(model), options)


def test_smoothed_video_statistics_carry_the_skip_taps(model):
    from adain.inference.video import StatsEMA

    ema = StatsEMA(0.5)
    first, second = (model.content_stats(feats["relu4_1"], None, feats)
                     for feats in (model.encode_all(image(40, 32, seed=s)) for s in (1, 2)))
    ema(first)
    smoothed = ema(second)[0]
    expected = 0.5 * first[0].skips["relu1_1"].mean + 0.5 * second[0].skips["relu1_1"].mean
    torch.testing.assert_close(smoothed.skips["relu1_1"].mean, expected)


def test_tile_plans_keep_the_relu4_1_map_and_budget_for_the_shallow_maps(model, hed_encoder):
    """A skip decoder keeps pass 1's relu4_1 map like any decoder (pass 2 re-encodes only up to
    relu3_1), its tiles paying for the shallow maps they hold: smaller than a plain decoder's."""
    from adain.inference import tiling

    plain = AdaINModel(hed_encoder, Decoder("vgg16", upsample="bilinear")).eval()
    budget = dict(max_memory=2 << 30, in_use=700 << 20)
    with_skips, without = tiling.choose_tile(model, 2160, 3840, **budget), tiling.choose_tile(plain, 2160, 3840, **budget)
    assert with_skips.keep_features and without.keep_features
    assert with_skips.tile < without.tile
    side = with_skips.tile + 2 * tiling.kept_map_halo(model)
    per_pixel = tiling.TILE_BYTES_PER_PIXEL[torch.float32] + tiling.SKIP_KEPT_TILE_BYTES_PER_PIXEL[torch.float32]
    available = ((2 << 30) - (700 << 20) - tiling.IMAGE_BYTES_PER_PIXEL * 2160 * 3840
                 - tiling.feature_map_bytes(model, 2160, 3840, with_skips.feature_dtype))
    assert tiling.TILE_FIXED_BYTES + side ** 2 * per_pixel <= available < tiling.TILE_FIXED_BYTES + (side + 16) ** 2 * per_pixel
    # relu3_1's field (10 px) is 2 cells; bilinear decoder 5: 7 cells, not the 9 of re-encoding to relu4_1
    assert tiling.kept_map_halo(model) == 56 < tiling.total_halo(model) == 72
    assert tiling.choose_tile(model, 2160, 3840, tile=512, **budget).keep_features
    tight = dict(max_memory=(700 << 20) + (600 << 20), in_use=700 << 20)  # no room for the map: re-encode
    assert tiling.choose_tile(model, 2160, 3840, tile=512, **tight).keep_features is False
    # with masks the shallow targets are built and held: smaller tiles; without, 512² runs untiled
    assert tiling.choose_tile(model, 2160, 3840, masked=True, **budget).tile < with_skips.tile
    assert tiling.choose_tile(model, 512, 512, max_memory=(700 << 20) + (512 << 20), in_use=700 << 20) is None


@pytest.mark.parametrize("masked", [False, True], ids=["folded", "masks"])
def test_pass_two_with_the_kept_map_equals_re_encoding_with_a_skip_decoder(model, masked):
    """Pass 2 given pass 1's relu4_1 map re-encodes the tile only up to relu3_1, with that tap's
    smaller halo: the same image as re-encoding everything (and as untiled: the test above)."""
    from adain.inference import tiling

    content = image(90, 70, seed=1)
    tile_image = tiling.TiledImage(content)
    styles = [model.style_stats(image(64, 64, seed=s)) for s in (2, 3)]
    masks = masks_at_taps = None
    if masked:
        height, width = content.shape[-2:]
        ramp = torch.linspace(0, 1, width).view(1, 1, 1, -1).expand(1, 1, height, -1)
        full = torch.cat([1 - ramp, ramp], dim=1)
        masks, masks_at_taps = tiling.mask_cells(full), tiling.tap_masks(full, model.skip_taps)
    use = styles if masked else styles[:1]
    conv4_1_runs = []  # pass 2 beside the kept map must not reach relu4_1
    hook = model.encoder.convs["conv4_1"].register_forward_hook(lambda *args: conv4_1_runs.append(1))
    try:
        with torch.inference_mode():
            stats, features = tiling.content_statistics(model, tile_image, 64, masks, keep_features=True,
                                                        masks_at_taps=masks_at_taps)
            conv4_1_runs.clear()
            kept = tiling.stylize_tiled(model, tile_image, use, stats, 64, masks=masks, alpha=0.8, as_tensor=True,
                                        features=features, masks_at_taps=masks_at_taps)
            kept_runs = len(conv4_1_runs)
            re_encoded = tiling.stylize_tiled(model, tile_image, use, stats, 64, masks=masks, alpha=0.8,
                                              as_tensor=True, masks_at_taps=masks_at_taps)
    finally:
        hook.remove()
    assert kept_runs == 0 and len(conv4_1_runs) == len(tiling.tile_grid(tile_image.cells, 64)) > 1
    assert kept.data.std() > 0.02
    torch.testing.assert_close(kept.data, re_encoded.data, atol=2e-5, rtol=0)
