"""adain.methods: the registry and the shared parts of the Stylizer interface, on a toy method."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from adain.core.errors import UserError
from adain.methods import METHODS, load_method
from adain.methods.base import StyleCode, Stylizer
from adain.nn import functional as AF


class ChannelShift(Stylizer):
    """A toy method: adds the style's mean colour minus the content's, weighted over styles.

    Records what it was given so the tests can check what the base class passes on.
    """

    name = "shift"

    def __init__(self, recolours_style: bool = True):
        self.recolours_style = recolours_style
        self.calls: list[dict] = []
        self.metadata = {}

    def _style_features(self, image):
        return image.mean(dim=(2, 3), keepdim=True)  # (1, 3, 1, 1)

    def _stylize(self, content, styles, weights, masks, gain: float = 1.0):
        self.calls.append({"content": content, "styles": styles, "weights": weights, "masks": masks, "gain": gain})
        weights = AF.normalise_weights(weights, len(styles)) if styles else []
        target = sum(w * code.features for w, code in zip(weights, styles)) if styles else content.mean((2, 3), True)
        return content + gain * (target - content.mean(dim=(2, 3), keepdim=True))


def _image(seed: int, size=(24, 16)) -> torch.Tensor:
    return torch.rand(1, 3, size[1], size[0], generator=torch.Generator().manual_seed(seed))


def test_registry_names_the_three_methods():
    assert set(METHODS) == {"adain", "gatys", "johnson"}


def test_unknown_method_is_a_one_line_user_error():
    with pytest.raises(UserError, match=r"method 'strokes': unknown; expected one of adain, gatys, johnson"):
        load_method("strokes")


def test_options_reach_the_method_and_tensors_stay_tensors():
    method = ChannelShift()
    content, style = _image(0), _image(1)
    out = method.stylize(content, style, content_size=0, style_size=0, gain=0.5)
    assert isinstance(out, torch.Tensor) and out.shape == content.shape
    assert method.calls[0]["gain"] == 0.5
    expected = content + 0.5 * (style.mean((2, 3), True) - content.mean((2, 3), True))
    torch.testing.assert_close(out, expected.clamp(0, 1))


def test_pil_content_gives_pil_output_and_style_is_encoded_once():
    method = ChannelShift()
    code = method.encode_style(_image(1), size=0)
    assert isinstance(code, StyleCode) and code.features.shape == (1, 3, 1, 1)
    content = Image.new("RGB", (20, 12), (10, 200, 30))
    out = method.stylize(content, code, content_size=0)
    assert isinstance(out, Image.Image) and out.size == (20, 12)
    assert method.calls[0]["styles"][0] is code  # no colour preservation: the code is reused as is


def test_histogram_preservation_recolours_the_style_to_the_content():
    method = ChannelShift()
    content, style = _image(0) * 0.3, _image(1) * 0.5 + 0.5
    method.stylize(content, style, content_size=0, style_size=0, preserve_color="histogram")
    recoloured = method.calls[0]["styles"][0].image
    torch.testing.assert_close(recoloured.mean((2, 3)), content.mean((2, 3)), atol=2e-3, rtol=0)


def test_fixed_style_methods_match_the_output_colours_instead():
    method = ChannelShift(recolours_style=False)
    content, style = _image(0) * 0.3, _image(1) * 0.5 + 0.5
    out = method.stylize(content, style, content_size=0, style_size=0, preserve_color="histogram")
    assert method.calls[0]["styles"][0].image is not None
    torch.testing.assert_close(out.mean((2, 3)), content.mean((2, 3)), atol=2e-3, rtol=0)


def test_luminance_preservation_keeps_the_content_chroma():
    method = ChannelShift()
    content, style = _image(0), _image(1)
    out = method.stylize(content, style, content_size=0, style_size=0, preserve_color="luminance")
    network_input = method.calls[0]["content"]
    assert torch.equal(network_input[:, 0], network_input[:, 1])  # the method saw a grey image
    out_chroma = AF.rgb_to_yiq(out)[:, 1:]
    content_chroma = AF.rgb_to_yiq(content)[:, 1:]
    inside = (out > 0.01).all(1, keepdim=True) & (out < 0.99).all(1, keepdim=True)  # unclamped pixels
    torch.testing.assert_close(out_chroma * inside, content_chroma * inside, atol=1e-4, rtol=0)


def test_masks_arrive_at_the_working_size_with_the_remainder_added():
    method = ChannelShift()
    content = _image(0, (32, 16))
    half = torch.zeros(1, 1, 16, 32)
    half[..., :16] = 1
    method.stylize(content, [_image(1), _image(2)], masks=half, content_size=8, style_size=0)
    masks = method.calls[0]["masks"]
    assert masks.shape == (1, 2, 8, 16)
    torch.testing.assert_close(masks.sum(1), torch.ones(1, 8, 16))


def test_bad_preserve_color_and_too_many_styles_are_user_errors():
    method = ChannelShift()
    with pytest.raises(UserError, match="preserve-color: 'sepia'; expected one of none, histogram, luminance"):
        method.stylize(_image(0), _image(1), preserve_color="sepia")
    method.supports_multiple_styles = False
    with pytest.raises(UserError, match="shift: one style at a time; got 2"):
        method.stylize(_image(0), [_image(1), _image(2)])


def test_a_method_with_a_built_in_style_accepts_none():
    method = ChannelShift()
    out = method.stylize(_image(0), None, content_size=0)
    torch.testing.assert_close(out, _image(0))


def test_a_batch_with_colour_preservation_uses_each_contents_own_colours():
    method = ChannelShift()
    dark, light = _image(0) * 0.3, _image(1) * 0.3 + 0.6
    style = _image(2)
    batch = method.stylize(torch.cat([dark, light]), style, content_size=0, style_size=0, preserve_color="histogram")
    one_by_one = torch.cat([method.stylize(c, style, content_size=0, style_size=0, preserve_color="histogram")
                            for c in (dark, light)])
    torch.testing.assert_close(batch, one_by_one)
