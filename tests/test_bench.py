"""`adain bench`: runs both paths and reports consistent numbers (no assertions on speed itself):
latency, throughput, FLOP rate against the peak, peak memory of fresh processes, skipped references."""

from __future__ import annotations

import json

import pytest

from adain.cli.main import main


def run_bench(tmp_path, *args: str) -> list[dict]:
    out = tmp_path / "bench.json"
    assert main(["bench", "--repeat", "1", "--json", str(out), *args]) == 0
    return json.loads(out.read_text())


def check_row(row: dict, size: int) -> None:
    assert row["size"] == size
    assert row["reference_s"] > 0 and row["fast_s"] > 0 and row["fast_style_reused_s"] > 0
    assert row["speedup"] == pytest.approx(row["reference_s"] / row["fast_s"], rel=1e-12)
    assert row["encoder"] == "vgg16-imagenet"  # the shipped decoder's encoder


def test_bench_writes_one_row_per_size(tmp_path, capsys):
    rows = run_bench(tmp_path, "--size", "32")
    assert len(rows) == 1
    check_row(rows[0], 32)
    table = capsys.readouterr().out.splitlines()
    assert table[-1].split()[0] == "32"  # the printed table ends with the row for size 32


def test_bench_with_a_decoder_file_and_two_sizes(tmp_path, decoder_file):
    rows = run_bench(tmp_path, "--size", "32", "24", "--device", "cpu", "--precision", "fp32",
                     "--decoder", str(decoder_file))
    assert [row["size"] for row in rows] == [32, 24]
    for row, size in zip(rows, (32, 24)):
        check_row(row, size)
        assert (row["dtype"], row["device"]) == ("torch.float32", "cpu")


# Multiply-accumulates per pixel of a VGG-16 (vgg16-imagenet, vgg16-hed) up to relu4_1 (the RGB preprocessing 1×1 conv, then
# conv1_x at full size, conv2_x at 1/4 of the pixels, conv3_x at 1/16, conv4_1 at 1/64); the
# mirrored decoder has the same convolutions without the preprocessing.
ENCODER_MACS_PER_PIXEL = 9 + (3 * 64 + 64 * 64) * 9 + (64 * 128 + 128 * 128) * 9 // 4 \
    + (128 * 256 + 2 * 256 * 256) * 9 // 16 + 256 * 512 * 9 // 64
DECODER_MACS_PER_PIXEL = ENCODER_MACS_PER_PIXEL - 9


@pytest.mark.slow
def test_bench_reports_throughput_flops_and_peak_memory(tmp_path):
    rows = run_bench(tmp_path, "--size", "32", "--device", "cpu", "--memory")
    row = rows[0]
    check_row(row, 32)
    assert (row["width"], row["height"], row["megapixels"]) == (32, 32, 32 * 32 / 1e6)
    # content and style (both 32², under the 512² style cap) encoded, content decoded; 2 FLOP per MAC
    expected_gflop = 2 * 32 * 32 * (2 * ENCODER_MACS_PER_PIXEL + DECODER_MACS_PER_PIXEL) / 1e9
    assert row["gflop"] == pytest.approx(expected_gflop, rel=1e-9)
    assert row["fast_gflop_per_s"] == pytest.approx(row["gflop"] / row["fast_s"])
    assert row["fast_megapixels_per_s"] == pytest.approx(row["megapixels"] / row["fast_s"])
    assert row["reference_megapixels_per_s"] == pytest.approx(row["megapixels"] / row["reference_s"])
    peak = row["peak_gflop_per_s"]
    if peak["fp32"] is not None:  # a Linux CPU: clock × FLOP/cycle × cores
        assert peak["bf16"] >= peak["fp32"] > 0 and "FLOP/cycle/core" in row["peak_assumption"]
        assert 0 < row["fast_fraction_of_peak"] < 1
    # peak RSS of fresh processes: torch and the weights are in, a 32² image adds little
    for key in ("reference_peak_rss_bytes", "fast_peak_rss_bytes"):
        assert 100 << 20 < row[key] < 4 << 30
    assert row["memory_ratio"] == pytest.approx(row["reference_peak_rss_bytes"] / row["fast_peak_rss_bytes"])
    assert row["fast_tile"] is None  # a small image stays untiled


def test_bench_skips_the_reference_where_it_needs_too_much_memory(tmp_path):
    rows = run_bench(tmp_path, "--size", "40x24", "--device", "cpu", "--reference-max-memory", "1M")
    row = rows[0]
    assert (row["size"], row["width"], row["height"]) == ("40x24", 40, 24)
    assert row["reference_s"] is None and row["speedup"] is None and row["reference_gflop_per_s"] is None
    assert row["reference_skipped"].startswith("needs ") and row["reference_skipped"].endswith(" GB")
    assert row["fast_s"] > 0


def test_bench_size_names():
    from adain.cli.timing import image_dims
    from adain.cli.main import build_parser

    args = build_parser().parse_args(["bench", "--size", "512", "4k", "8K", "640x480"])
    assert [image_dims(size) for size in args.size] == [(512, 512), (3840, 2160), (7680, 4320), (640, 480)]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "--size", "4q"])


def test_bench_times_a_second_decoder_in_the_same_run(tmp_path, capsys):
    from adain.nn.decoder import Decoder
    from adain.nn.decoder import save_decoder

    nearest, bilinear = tmp_path / "nearest.safetensors", tmp_path / "bilinear.safetensors"
    save_decoder(Decoder("vgg16", upsample="nearest"), nearest, {"encoder": "vgg16-imagenet"})
    save_decoder(Decoder("vgg16", upsample="bilinear"), bilinear, {"encoder": "vgg16-imagenet"})
    rows = run_bench(tmp_path, "--size", "32", "--device", "cpu", "--decoder", str(bilinear), "--against", str(nearest))
    row = rows[0]
    check_row(row, 32)
    assert row["against"] == str(nearest) and row["fast_s_same_round"] > 0 and row["against_fast_s"] > 0
    assert row["against_ratio"] == pytest.approx(row["fast_s_same_round"] / row["against_fast_s"], rel=1e-12)
    assert f"{row['against_ratio']:.3f}×" in capsys.readouterr().out
    assert "against" not in run_bench(tmp_path, "--size", "32", "--device", "cpu")[0]


def test_bench_times_stylize_supersampled_against_itself(tmp_path, capsys, monkeypatch):
    from adain.inference import supersample

    enlarged = []
    original = supersample.enlarge
    monkeypatch.setattr(supersample, "enlarge", lambda image, factor: enlarged.append(
        (tuple(image.shape), factor)) or original(image, factor))
    rows = run_bench(tmp_path, "--size", "32", "--device", "cpu", "--supersample", "2")
    row = rows[0]
    check_row(row, 32)
    # the ×2 rounds (warm-up + 1 timed, twice) enlarged the 32×32 content; the ×1 rounds did not
    assert len(enlarged) == 4 and set(enlarged) == {((1, 3, 32, 32), 2)}
    assert row["supersample"] == 2 and row["stylize_s"] > 0 and row["stylize_supersampled_s"] > 0
    assert row["supersample_ratio"] == pytest.approx(row["stylize_supersampled_s"] / row["stylize_s"], rel=1e-12)
    assert f"at ×2: {row['supersample_ratio']:.2f}×" in capsys.readouterr().out
    assert "supersample_ratio" not in run_bench(tmp_path, "--size", "32", "--device", "cpu")[0]
    for other in (["--train"], ["--method", "johnson"]):  # it times adain's stylize() only: said, not ignored
        assert main(["bench", "--size", "32", "--supersample", "2", *other]) == 2
        assert "--supersample 2: times the adain method" in capsys.readouterr().err
