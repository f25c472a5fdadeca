"""Where the halos come from: a decoder's reconstructions (α = 0, no style at all), scored by the
halo measure at ×1 and supersampled ×2.

    .venv/bin/python experiments/eval/artefacts/halo_scale.py --photos runs/outside_images/photos \
        --decoders shipped runs/candidates/decoder-distil-styled.safetensors \
        --out experiments/eval/artefacts/halo_scale.json

Each photo's centre square at 384 px is decoded from its own features (`alpha=0`):
  x1            the plain reconstruction;
  x2            supersampled: the 384-px square enlarged ×2 bicubic, reconstructed, reduced;
  x2 own pixels the same at 768 px made from the photo's own pixels (no enlargement), reduced;
  enlarge only  the enlargement and reduction without the network (the control: must be ~0).
A rim that the network adds at a fixed width in its own pixels is thin enough for the measure's
band (adain.evaluation.flaws.HALO_BAND) only once reduced; a rim of the enlargement would show in
the control.  Takes ~1 min per decoder on a 2-core CPU.
"""

import argparse
import json
from pathlib import Path

import torch

from adain import load
from adain.core.io import open_image, pil_to_tensor
from adain.evaluation.flaws import halo
from adain.inference.supersample import enlarge, reduce_to
from adain.train.data import center_square, list_images

SIDE = 384


def photo_square(path: Path, side: int) -> torch.Tensor:
    """(1, 3, side, side) float in [0, 1]: the photo's centre square, as eval.py scores contents."""
    return pil_to_tensor(center_square(open_image(path), side))


def reconstruction_halos(decoder: str | None, photos: list[Path]) -> dict[str, list[float]]:
    stylizer = load(decoder)

    def reconstruct(image: torch.Tensor, supersample: int) -> torch.Tensor:
        return stylizer.stylize(image, image, content_size=0, style_size=0, alpha=0.0, supersample=supersample).float()

    scores: dict[str, list[float]] = {"x1": [], "x2": [], "x2 own pixels": [], "enlarge only": []}
    for path in photos:
        content = photo_square(path, SIDE)
        scores["x1"].append(float(halo(reconstruct(content, 1), content)))
        scores["x2"].append(float(halo(reconstruct(content, 2), content)))
        own = reconstruct(photo_square(path, 2 * SIDE), 1)
        scores["x2 own pixels"].append(float(halo(reduce_to(own, (SIDE, SIDE)), content)))
        scores["enlarge only"].append(float(halo(reduce_to(enlarge(content, 2), (SIDE, SIDE)), content)))
        print(f"{path.stem}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in scores.items()), flush=True)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, required=True, help="a folder of photos")
    parser.add_argument("--decoders", nargs="+", default=["shipped"], help='"shipped" or decoder files')
    parser.add_argument("--out", type=Path, required=True, help="JSON: per decoder, each variant's scores and mean")
    args = parser.parse_args()
    photos = list_images(args.photos)
    results = {}
    for decoder in args.decoders:
        scores = reconstruction_halos(None if decoder == "shipped" else decoder, photos)
        results[decoder] = {name: {"mean": sum(v) / len(v), "per_photo": v} for name, v in scores.items()}
        print(decoder, {name: round(r["mean"], 3) for name, r in results[decoder].items()}, flush=True)
    args.out.write_text(json.dumps({"photos": [p.name for p in photos], "side": SIDE, "halo": results}, indent=1))


if __name__ == "__main__":
    main()
