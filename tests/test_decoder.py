"""adain.nn.decoder / adain.nn.weights decoder files: the port's decoder.pth, shipped safetensors, errors."""

from __future__ import annotations

import json
import re

import pytest
import torch
import torch.nn as nn

from adain.core.errors import UserError
from adain.nn.decoder import Decoder, decoder_layers
from adain.nn.decoder import load_decoder, save_decoder
from adain.nn.weights import tensors_sha256

from conftest import make_decoder


def port_decoder() -> nn.Sequential:
    """The `decoder` of the widely used PyTorch AdaIN port (net.py), layer for layer."""

    def conv(c_in: int, c_out: int, relu: bool = True) -> list[nn.Module]:
        return [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(c_in, c_out, (3, 3))] + ([nn.ReLU()] if relu else [])

    def up() -> list[nn.Module]:
        return [nn.Upsample(scale_factor=2, mode="nearest")]

    return nn.Sequential(
        *conv(512, 256), *up(),
        *conv(256, 256), *conv(256, 256), *conv(256, 256), *conv(256, 128), *up(),
        *conv(128, 128), *conv(128, 64), *up(),
        *conv(64, 64), *conv(64, 3, relu=False),
    )


def relu4_1_like(height: int = 5, width: int = 6, batch: int = 1) -> torch.Tensor:
    return torch.rand(batch, 512, height, width, generator=torch.Generator().manual_seed(7)) * 3


def test_decoder_layers_mirror_the_encoder():
    assert decoder_layers("vgg19") == [
        ("dec4_1", 512, 256), ("dec3_4", 256, 256), ("dec3_3", 256, 256), ("dec3_2", 256, 256),
        ("dec3_1", 256, 128), ("dec2_2", 128, 128), ("dec2_1", 128, 64), ("dec1_2", 64, 64), ("dec1_1", 64, 3),
    ]
    assert [name for name, _, _ in decoder_layers("vgg16")] == [
        "dec4_1", "dec3_3", "dec3_2", "dec3_1", "dec2_2", "dec2_1", "dec1_2", "dec1_1"]


def test_decoder_upsamples_by_eight():
    out = make_decoder("vgg16")(relu4_1_like(3, 5, batch=2))
    assert out.shape == (2, 3, 24, 40)


def test_port_decoder_pth_loads_unchanged(tmp_path):
    torch.manual_seed(0)
    port = port_decoder().eval()
    path = tmp_path / "decoder.pth"
    torch.save(port.state_dict(), path)

    decoder, metadata = load_decoder(path)
    assert decoder.arch == "vgg19" and decoder.padding == "reflect"
    assert metadata["encoder"] == "vgg19-normalised"
    x = relu4_1_like()
    with torch.no_grad():
        expected = port(x)
        got = decoder(x)
    assert got.shape == expected.shape == (1, 3, 40, 48)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_save_load_round_trip_keeps_outputs_and_metadata(tmp_path):
    decoder = make_decoder("vgg16", seed=3)
    path = tmp_path / "decoder-vgg16.safetensors"
    save_decoder(decoder, path, {"encoder": "vgg16-hed", "step": 123})

    loaded, metadata = load_decoder(path)
    assert loaded.arch == "vgg16"
    assert metadata == {"encoder": "vgg16-hed", "step": 123, "decoder": {"arch": "vgg16", "padding": "reflect"}}
    assert tensors_sha256(loaded.state_dict()) == tensors_sha256(decoder.state_dict())
    x = relu4_1_like()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), decoder(x), atol=0, rtol=0)
    # The human-readable sidecar carries the same description.
    sidecar = path.with_suffix(".json")
    assert json.loads(sidecar.read_text()) == metadata
    # Written through a temporary file: nothing else is left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decoder-vgg16.json", "decoder-vgg16.safetensors"]


def test_wrong_shaped_layer_names_file_and_layer(tmp_path):
    state = Decoder("vgg16").state_dict()
    state["convs.dec2_2.weight"] = torch.zeros(128, 64, 3, 3)  # expected (128, 128, 3, 3)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(UserError, match=re.escape(f"{path}: layer dec2_2 has weights of shape (128, 64, 3, 3); "
                                                  "expected (128, 128, 3, 3)")):
        load_decoder(path)


def test_wrong_shaped_port_layer_names_file_and_layer(tmp_path):
    state = port_decoder().state_dict()
    state["1.weight"] = torch.zeros(256, 256, 3, 3)  # dec4_1 takes 512 channels
    path = tmp_path / "decoder.pth"
    torch.save(state, path)
    with pytest.raises(UserError, match=re.escape(f"{path}: layer dec4_1 has weights of shape (256, 256, 3, 3)")):
        load_decoder(path)


def test_wrong_number_of_layers_is_a_user_error(tmp_path):
    state = {f"{i}.{kind}": t for i, conv in enumerate([nn.Conv2d(512, 256, 3)] * 3)
             for kind, t in conv.state_dict().items()}
    path = tmp_path / "short.pth"
    torch.save(state, path)
    with pytest.raises(UserError, match=re.escape(f"{path}: found 3 convolutions; expected 9 (VGG-19) or 8 (VGG-16)")):
        load_decoder(path)


def test_text_file_named_pth_is_a_user_error(tmp_path):
    path = tmp_path / "decoder.pth"
    path.write_text("this is not a weights file\n")
    with pytest.raises(UserError, match=re.escape(f"{path}: not a readable PyTorch weights file")):
        load_decoder(path)


def test_garbage_safetensors_is_a_user_error(tmp_path):
    path = tmp_path / "decoder.safetensors"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UserError, match=re.escape(f"{path}: not a readable safetensors file")):
        load_decoder(path)


def test_missing_decoder_file_is_a_user_error(tmp_path):
    path = tmp_path / "absent.safetensors"
    with pytest.raises(UserError, match=re.escape(f"{path}: decoder file not found")):
        load_decoder(path)


def test_fresh_decoder_starts_in_the_image_range():
    """The output layer's init keeps a fresh decoder's output near mid-grey, not at ±10."""
    import torch

    from adain.nn.decoder import Decoder

    torch.manual_seed(0)
    out = Decoder("vgg16")(torch.rand(1, 512, 4, 4) * 10)
    assert 0.3 < out.mean().item() < 0.7
    assert ((out >= 0) & (out <= 1)).float().mean().item() > 0.9


def test_input_scale_is_a_fixed_factor_that_travels_with_the_weights(tmp_path):
    """A decoder for vgg16-imagenet scales its relu4_1 input by a constant; the factor is part of
    the architecture: saved in shipped weights and checkpoints, honoured on load."""
    from adain.train.checkpoint import atomic_torch_save

    torch.manual_seed(0)
    scaled = Decoder("vgg16", "reflect", input_scale=1 / 256)
    plain = Decoder("vgg16", "reflect")
    plain.load_state_dict(scaled.state_dict())
    feat = 300 * torch.rand(1, 512, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(scaled(feat), plain(feat / 256))
    assert scaled.config() == {"arch": "vgg16", "padding": "reflect", "input_scale": 1 / 256}
    assert plain.config() == {"arch": "vgg16", "padding": "reflect"}  # descriptions of older decoders unchanged

    save_decoder(scaled, tmp_path / "d.safetensors", {"encoder": "vgg16-imagenet"})
    shipped, metadata = load_decoder(tmp_path / "d.safetensors")
    checkpoint = tmp_path / "c.pt"
    atomic_torch_save({"decoder": scaled.state_dict(), "decoder_config": scaled.config(), "step": 1,
                       "config": {"model": {"encoder": "vgg16-imagenet"}}}, checkpoint)
    trained, _ = load_decoder(checkpoint)
    with torch.no_grad():
        for loaded in (shipped, trained):
            assert loaded.input_scale == 1 / 256
            torch.testing.assert_close(loaded(feat), scaled(feat), atol=2e-3, rtol=1e-3)  # fp16 on disk
    assert metadata["decoder"]["input_scale"] == 1 / 256
    with pytest.raises(ValueError, match="input_scale must be positive"):
        Decoder("vgg16", input_scale=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("shape", [(2, 5, 7, 9), (1, 3, 2, 2), (1, 64, 33, 17)])
def test_reflect_pad1_equals_torch_reflection_and_keeps_the_memory_format(shape, channels_last, dtype):
    """The CPU fast path of reflection padding (one preallocated copy) gives exactly what
    F.pad(mode="reflect") gives, corners included, in the input's memory format."""
    import torch.nn.functional as F

    from adain.nn.layers import reflect_pad1

    x = torch.randn(shape).to(dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    padded = reflect_pad1(x)
    assert torch.equal(padded, F.pad(x.float(), (1, 1, 1, 1), mode="reflect").to(dtype))
    assert padded.dtype == dtype
    assert padded.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("shape", [(1, 16, 40, 56), (2, 3, 3, 5), (1, 8, 9, 2), (1, 4, 130, 131)])
def test_conv_without_the_padded_copy_equals_the_reflection_padded_conv(shape, channels_last):
    """The CPU inference path of Conv3x3 on large maps (zero-padded conv, border lines redone
    with reflection) gives the reflection-padded convolution, borders and corners included."""
    import torch.nn.functional as F

    from adain.nn.layers import Conv3x3, reflect_conv_without_copy

    torch.manual_seed(0)
    conv = Conv3x3(shape[1], 16, "reflect")
    x = torch.randn(shape)
    if channels_last:
        x, conv = x.contiguous(memory_format=torch.channels_last), conv.to(memory_format=torch.channels_last)
    expected = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), conv.weight, conv.bias)
    with torch.inference_mode():
        got = reflect_conv_without_copy(x, conv.weight, conv.bias)
        through_the_layer = conv(x)  # takes this path only on maps of NO_COPY_MIN_SIDE² and more
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(through_the_layer, expected, atol=1e-5, rtol=1e-5)
    assert (got[..., 0, :] - F.conv2d(x, conv.weight, conv.bias, padding=1)[..., 0, :]).abs().max() > 1e-3  # the lines mattered


def test_bilinear_upsampling_travels_with_the_weights(tmp_path):
    """The ×2 resize is part of the architecture (no weights): a bilinear decoder differs from a
    nearest one with the same weights, says so in its description and checkpoint, and loads as
    bilinear; decoders without the key stay nearest; an unknown mode is a one-line error."""
    from adain.train.checkpoint import atomic_torch_save

    torch.manual_seed(0)
    bilinear = Decoder("vgg16", "reflect", input_scale=1 / 256, upsample="bilinear")
    nearest = Decoder("vgg16", "reflect", input_scale=1 / 256)
    nearest.load_state_dict(bilinear.state_dict())
    feat = 300 * torch.rand(1, 512, 6, 6)
    with torch.no_grad():
        out_bilinear, out_nearest = bilinear(feat), nearest(feat)
    assert out_bilinear.shape == out_nearest.shape == (1, 3, 48, 48)
    assert (out_bilinear - out_nearest).abs().max() > 1e-3
    assert bilinear.config() == {"arch": "vgg16", "padding": "reflect", "input_scale": 1 / 256, "upsample": "bilinear"}
    assert "upsample" not in nearest.config()

    save_decoder(bilinear, tmp_path / "d.safetensors", {"encoder": "vgg16-imagenet"})
    atomic_torch_save({"decoder": bilinear.state_dict(), "decoder_config": bilinear.config(), "step": 1,
                       "config": {"model": {"encoder": "vgg16-imagenet"}}}, tmp_path / "c.pt")
    for path in (tmp_path / "d.safetensors", tmp_path / "c.pt"):
        loaded, metadata = load_decoder(path)
        assert loaded.upsample == "bilinear" and metadata["decoder"]["upsample"] == "bilinear"
        with torch.no_grad():
            torch.testing.assert_close(loaded(feat), out_bilinear)
    save_decoder(nearest, tmp_path / "n.safetensors", {"encoder": "vgg16-imagenet"})
    assert load_decoder(tmp_path / "n.safetensors")[0].upsample == "nearest"

    atomic_torch_save({"decoder": bilinear.state_dict(), "step": 1, "decoder_config": {**bilinear.config(), "upsample": "cubic"},
                       "config": {"model": {"encoder": "vgg16-imagenet"}}}, tmp_path / "bad.pt")
    with pytest.raises(UserError, match=r"bad.pt: decoder upsample 'cubic'; expected one of nearest, bilinear"):
        load_decoder(tmp_path / "bad.pt")
