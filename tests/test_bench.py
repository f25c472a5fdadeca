"""`adain bench`: runs both paths and reports consistent numbers (no assertions on speed itself)."""

from __future__ import annotations

import json

import pytest

from adain.cli import main


def run_bench(tmp_path, *args: str) -> list[dict]:
    out = tmp_path / "bench.json"
    assert main(["bench", "--repeat", "1", "--json", str(out), *args]) == 0
    return json.loads(out.read_text())


def check_row(row: dict, size: int) -> None:
    assert row["size"] == size
    assert row["reference_s"] > 0 and row["fast_s"] > 0 and row["fast_style_reused_s"] > 0
    assert row["speedup"] == pytest.approx(row["reference_s"] / row["fast_s"], rel=1e-12)
    assert row["encoder"] == "vgg16-hed"


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
