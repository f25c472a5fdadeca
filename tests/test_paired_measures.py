"""tools/paired_measures.py: a verdict per measure from per-pair differences."""

import csv
import importlib.util
import random
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("paired_measures", ROOT / "tools" / "paired_measures.py")
paired_measures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(paired_measures)


def _metrics(path: Path) -> Path:
    """24 pairs; A lower on effnet_content by 0.05 everywhere (better), higher on halo by 0.1
    (worse), edge_f higher (better), and color_w1 differing by seeded ±0.01 coin flips (noise)."""
    rng = random.Random(1)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, ["variant", "content", "style", "effnet_content", "halo", "edge_f", "color_w1"])
        writer.writeheader()
        for i in range(24):
            base = 0.5 + 0.3 * rng.random()  # the pairs themselves vary far more than A and B differ
            flip = rng.choice([-0.01, 0.01])
            for variant, shift in (("A", 1), ("B", 0)):
                writer.writerow({"variant": variant, "content": f"c{i % 6}", "style": f"s{i // 6}",
                                 "effnet_content": base - 0.05 * shift, "halo": base + 0.1 * shift,
                                 "edge_f": base + 0.02 * shift, "color_w1": base + flip * shift})
    return path


def test_each_measure_gets_the_verdict_its_paired_differences_give(tmp_path):
    rows = {r["measure"]: r for r in paired_measures.compare(_metrics(tmp_path / "metrics.csv"), "A", "B")}
    assert set(rows) == {"effnet_content", "halo", "edge_f", "color_w1"}  # measures absent from the CSV skipped
    assert rows["effnet_content"]["verdict"] == "A better" and rows["effnet_content"]["a_better_pairs"] == 24
    assert rows["halo"]["verdict"] == "A worse" and rows["halo"]["a_better_pairs"] == 0
    assert rows["edge_f"]["verdict"] == "A better"  # higher is better
    assert rows["color_w1"]["verdict"] == "noise"
    # a constant difference: its mean and both ends of its interval are that difference
    assert [rows["halo"][key] for key in ("diff", "low", "high")] == pytest.approx([0.1, 0.1, 0.1])


def test_bad_input_is_one_line_and_exit_status_2(tmp_path, monkeypatch, capsys):
    with pytest.raises(paired_measures.PairedError, match=r"no variant 'C'; expected one of \['A', 'B'\]"):
        paired_measures.compare(_metrics(tmp_path / "metrics.csv"), "A", "C")
    with pytest.raises(paired_measures.PairedError, match="no column 'variant'"):
        (tmp_path / "odd.csv").write_text("name,halo\nA,1\n")
        paired_measures.compare(tmp_path / "odd.csv", "A", "B")
    monkeypatch.setattr("sys.argv", ["paired_measures.py", str(tmp_path / "absent"), "A", "B"])
    assert paired_measures.main() == 2
    err = capsys.readouterr().err
    assert err.startswith("paired_measures: error: ") and "metrics.csv" in err and err.count("\n") == 1
