"""tools/frame_sources.py --pair: the trimmed frame score of two variants, paired over the pairs."""

import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import load_script



def fake_run(tmp_path: Path) -> Path:
    """Four 64² photos; variant 'clean' outputs each photo itself, 'framed' paints a flat 6-px band
    along its border (a decoder's frame: it outlasts a 3-px trim)."""
    run = tmp_path / "run"
    rows = []
    for i in range(4):
        rng = np.random.default_rng(i)
        photo = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
        content = tmp_path / f"c{i}.png"
        Image.fromarray(photo).save(content)
        framed = photo.copy()
        framed[:6], framed[-6:], framed[:, :6], framed[:, -6:] = 128, 128, 128, 128
        for variant, image in (("clean", photo), ("framed", framed)):
            output = f"outputs/{variant}/c{i}.png"
            (run / output).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(run / output)
            rows.append({"variant": variant, "content": f"c{i}.png", "style": "s.png", "size": 64, "frame": 1.0,
                         "content_path": str(content), "output": output})
    with open(run / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return run


def test_pair_gives_the_trimmed_difference_and_names_an_unknown_variant(tmp_path, monkeypatch, capsys):
    tool = load_script("tools/frame_sources.py")
    run = fake_run(tmp_path)
    monkeypatch.setattr(sys, "argv", ["frame_sources.py", str(run), "--pair", "clean", "framed"])
    tool.main()
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("trimmed 3 px, clean − framed: -") and last.endswith("A lower on 4/4 pairs")
    monkeypatch.setattr(sys, "argv", ["frame_sources.py", str(run), "--pair", "clean", "nope"])
    try:
        tool.main()
    except SystemExit as exit_:
        assert exit_.code == 2
    else:
        raise AssertionError("an unknown variant must end with status 2")
    assert "'nope': no such variant" in capsys.readouterr().err
