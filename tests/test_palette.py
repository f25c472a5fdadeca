"""Palette decoders: the style's RGB mean/std as a second decoder input, FiLM on the last
hidden layer.  Zero-initialised head = the plain decoder; tiled = untiled; saved = loaded; masks,
weights and α build the palette the way they build the AdaIN target; training reaches the head."""

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


def palette_decoder(seed: int = 0) -> Decoder:
    """A seeded decoder whose palette head is *not* at zero, so that the palette changes pixels."""
    torch.manual_seed(seed)
    decoder = Decoder("vgg16", palette=True)
    with torch.no_grad():
        for param in decoder.palette_head[2].parameters():
            param.normal_(0, 0.3)
    return decoder


@pytest.fixture(scope="module")
def model(hed_encoder) -> AdaINModel:
    model = AdaINModel(hed_encoder, palette_decoder()).eval()
    model.memory_format = torch.contiguous_format
    return model


def test_a_fresh_head_leaves_the_decoder_as_it_was():
    torch.manual_seed(0)
    plain = Decoder("vgg16", upsample="bilinear")
    with_head = Decoder("vgg16", upsample="bilinear")
    with_head.load_state_dict(plain.state_dict())
    with_head.add_palette_head()
    feat = torch.rand(2, 512, 6, 5)
    palette = torch.rand(2, 6, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(with_head(feat, palette=palette), plain(feat), atol=0, rtol=0)
    assert with_head.config()["palette"] is True and "palette" not in plain.config()


def test_the_palette_changes_the_output_and_is_required():
    decoder = palette_decoder()
    feat = torch.rand(1, 512, 4, 4)
    warm, cool = torch.tensor([0.7, 0.5, 0.3, 0.2, 0.2, 0.2]), torch.tensor([0.3, 0.4, 0.7, 0.1, 0.1, 0.2])
    with torch.no_grad():
        a = decoder(feat, palette=warm.view(1, 6, 1, 1))
        b = decoder(feat, palette=cool.view(1, 6, 1, 1))
        again = decoder(feat, palette=warm.view(1, 6, 1, 1))
    assert (a - b).abs().mean() > 1e-3
    torch.testing.assert_close(a, again, atol=0, rtol=0)
    with pytest.raises(ValueError, match="palette input"):
        decoder(feat)


def test_saved_palette_decoders_load_with_their_head(tmp_path):
    decoder = palette_decoder(seed=3)
    path = tmp_path / "palette.safetensors"
    save_decoder(decoder, path, {"encoder": "vgg16-hed"})
    loaded, metadata = load_decoder(path)
    assert metadata["decoder"]["palette"] is True and loaded.palette_head is not None
    feat, palette = torch.rand(1, 512, 3, 4), torch.rand(1, 6, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(loaded(feat, palette=palette), decoder(feat, palette=palette))


def test_a_description_that_disagrees_with_the_palette_tensors_is_refused(tmp_path):
    from adain.nn.weights import DECODER_METADATA_KEY, read_safetensors
    from safetensors.torch import save_file

    path = tmp_path / "palette.safetensors"
    save_decoder(palette_decoder(seed=3), path, {"encoder": "vgg16-hed"})
    state, header = read_safetensors(path)
    headless = {key: value for key, value in state.items() if not key.startswith("palette_head.")}
    save_file(headless, tmp_path / "headless.safetensors", {DECODER_METADATA_KEY: header[DECODER_METADATA_KEY]})
    with pytest.raises(UserError, match="says palette true but the file has no palette head tensors"):
        load_decoder(tmp_path / "headless.safetensors")
    plain = json.loads(header[DECODER_METADATA_KEY])
    plain["decoder"]["palette"] = False
    save_file(state, tmp_path / "plain.safetensors", {DECODER_METADATA_KEY: json.dumps(plain)})
    with pytest.raises(UserError, match="says palette false but the file has palette head tensors"):
        load_decoder(tmp_path / "plain.safetensors")


def test_style_stats_carry_the_images_rgb_statistics(model):
    style = image(40, 32, seed=5)
    stats = model.style_stats(style)
    torch.testing.assert_close(stats.palette.mean, style.mean(dim=(2, 3), keepdim=True))
    torch.testing.assert_close(stats.palette.std, (style.var(dim=(2, 3), unbiased=False, keepdim=True) + AF.EPS).sqrt())
    blended = AF.blend_stats([stats, model.style_stats(image(40, 32, seed=6))], [0.25, 0.75])
    assert blended.palette is not None and blended.palette.mean.shape == (1, 3, 1, 1)


def test_palette_maps_follow_weights_masks_and_alpha():
    def stats(*values):
        return AF.FeatureStats(torch.zeros(1, 4, 1, 1), torch.ones(1, 4, 1, 1),
                               AF.FeatureStats(torch.tensor(values[:3]).view(1, 3, 1, 1),
                                               torch.tensor(values[3:]).view(1, 3, 1, 1)))
    red, blue = stats(0.9, 0.1, 0.1, 0.2, 0.1, 0.1), stats(0.1, 0.1, 0.9, 0.1, 0.1, 0.2)
    content = stats(0.5, 0.5, 0.5, 0.3, 0.3, 0.3).palette
    vector = AF.palette_map([red, blue], content, (2, 2), weights=[3, 1])
    torch.testing.assert_close(vector.flatten(), torch.tensor([0.7, 0.1, 0.3, 0.175, 0.1, 0.125]))
    half = AF.palette_map([red], content, (1, 1), alpha=0.5).flatten()
    torch.testing.assert_close(half, torch.tensor([0.7, 0.3, 0.3, 0.25, 0.2, 0.2]))
    masks = torch.zeros(1, 2, 2, 4)  # left half red, right column blue, third column nothing
    masks[:, 0, :, :2] = 1
    masks[:, 1, :, 3] = 1
    masked = AF.palette_map([red, blue], content, (2, 4), masks=masks)
    assert masked.shape == (1, 6, 2, 4)
    torch.testing.assert_close(masked[0, :, 0, 0], torch.tensor([0.9, 0.1, 0.1, 0.2, 0.1, 0.1]))
    torch.testing.assert_close(masked[0, :, 1, 2], torch.tensor([0.5, 0.5, 0.5, 0.3, 0.3, 0.3]))
    torch.testing.assert_close(masked[0, :, 1, 3], torch.tensor([0.1, 0.1, 0.9, 0.1, 0.1, 0.2]))


@pytest.mark.parametrize("options", TILING_OPTIONS, ids=TILING_OPTION_IDS)
def test_tiled_equals_untiled_with_a_palette_decoder(model, options):
    """The palette is global (or a map at relu4_1 cells under masks), the content's palette is the
    whole image's in both runs: the tiles add nothing the untiled run does not have."""
    from adain.methods.adain import AdaINStylizer

    assert_tiled_equals_untiled(AdaINStylizer(model), options)


def test_training_reaches_the_palette_head(hed_encoder):
    from adain.train.config import load_config
    from adain.train.objectives import train_step

    cfg = load_config(ROOT / "configs" / "train" / "default.yaml",
                      ["init_decoder=null", "model.decoder_palette=true", "optim.colour_weight=50"])
    torch.manual_seed(0)
    decoder = Decoder("vgg16", palette=True)
    model = AdaINModel(hed_encoder, decoder)
    content, style = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64) * 0.5
    losses = train_step(model, decoder, content, style, cfg, contextlib.nullcontext())
    losses["loss"].backward()
    head_grad = decoder.palette_head[2].weight.grad
    assert head_grad is not None and head_grad.abs().sum() > 0


def test_a_warm_start_gets_a_zero_head(tmp_path, decoder_file, hed_encoder):
    from adain.train.config import load_config
    from adain.train.objectives import AdaINObjective

    cfg = load_config(ROOT / "configs" / "train" / "smoke.yaml",
                      [f"init_decoder={decoder_file}", "model.decoder_palette=true", "model.encoder=vgg16-hed"])
    objective = AdaINObjective(cfg, hed_encoder)
    head = objective.network.palette_head
    assert head is not None and head[2].weight.abs().sum() == 0
    assert objective.checkpoint_extras()["decoder_config"]["palette"] is True


def test_reconstruction_gives_a_palette_decoder_the_contents_own_palette(model):
    """decode(encode(x)) of the evaluation = stylising with α = 0, where the palette is the content's."""
    from adain.evaluation.reconstruction import reconstruct

    content = image(48, 40, seed=7)
    with torch.inference_mode():
        alpha_zero = model(content, [model.style_stats(image(32, 32, seed=8))], alpha=0.0).clamp(0, 1)
    torch.testing.assert_close(reconstruct(model, content), alpha_zero, atol=1e-6, rtol=0)


def test_the_palette_head_can_learn_faster_than_the_decoder(decoder_file, hed_encoder):
    from adain.train.config import load_config
    from adain.train.objectives import AdaINObjective

    overrides = [f"init_decoder={decoder_file}", "model.decoder_palette=true", "model.encoder=vgg16-hed"]
    fast = AdaINObjective(load_config(ROOT / "configs" / "train" / "smoke.yaml",
                                      [*overrides, "optim.palette_lr_scale=20", "optim.lr=1e-4"]), hed_encoder)
    rest, head = fast.parameter_groups(1e-4)
    assert head["lr"] == pytest.approx(2e-3) and rest["lr"] == 1e-4
    assert len(head["params"]) == 4 and len(rest["params"]) + 4 == len(list(fast.network.parameters()))
    plain = AdaINObjective(load_config(ROOT / "configs" / "train" / "smoke.yaml", overrides), hed_encoder)
    assert len(plain.parameter_groups(1e-4)) == 1
