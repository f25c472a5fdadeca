"""Training checkpoints: full state, written atomically, loaded without pickle.

A checkpoint holds the decoder, optimiser, LR schedule, step, RNG states, the resolved config
and the code version, so a run resumes bit-exactly and any decoder can be traced to its recipe.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path

import torch

from adain.core.errors import UserError

CHECKPOINT_DIR = "checkpoints"
# The trained network's key in a checkpoint, per method: AdaIN's decoder, Johnson's transformer.
NETWORK_KEYS = ("decoder", "transformer")


def git_commit() -> str:
    """The commit of the code (with '+dirty' for uncommitted changes), or 'unknown'."""
    root = Path(__file__).resolve().parents[2]  # the project folder
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit + ("+dirty" if dirty else "")) if commit else "unknown"


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The plain module under DDP and torch.compile wrappers, so saved keys stay clean."""
    while True:
        if hasattr(module, "module"):  # DistributedDataParallel
            module = module.module
        elif hasattr(module, "_orig_mod"):  # torch.compile
            module = module._orig_mod
        else:
            return module


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_torch_save(obj: dict, path: Path) -> None:
    """torch.save through a temporary file and a rename: `path` is the old file or the new one,
    never half of one (a kill or a full disk mid-write leaves the previous checkpoint).  A failed
    write is an OSError (torch reports a full disk as a RuntimeError of its stream writer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except RuntimeError as exc:
        if "write" not in str(exc).lower():
            raise
        raise OSError(errno.EIO, f"{path}: {str(exc).splitlines()[0]}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the half-written `.<name>.<pid>.tmp` files of processes killed mid-write (the
    checkpoint they were replacing is intact); those of a live process are left alone."""
    for tmp in folder.glob(".*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def save_checkpoint(run_dir: Path, state: dict, step: int, keep: int, every: int, best: bool = False) -> Path:
    """Write latest.pt (always), step_XXXXXXX.pt every `every` steps (keeping the newest `keep`),
    and best.pt when `best`.  Returns the path of latest.pt."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    latest = folder / "latest.pt"
    if folder.is_dir():
        remove_stale_temporaries(folder)
    atomic_torch_save(state, latest)
    if every and step % every == 0:
        atomic_torch_save(state, folder / f"step_{step:07d}.pt")
        numbered = sorted(folder.glob("step_*.pt"))
        for old in numbered[:-keep] if keep > 0 else []:
            old.unlink()
    if best:
        atomic_torch_save(state, folder / "best.pt")
    return latest


def load_checkpoint(path: str | Path) -> dict:
    from adain.nn.weights import load_torch_file

    path = Path(path)
    state = load_torch_file(path, "checkpoint")
    missing = {"scheduler", "step", "config"} - set(state)  # "optimizer" may be slimmed away
    if not any(key in state for key in NETWORK_KEYS):
        missing.add(" or ".join(NETWORK_KEYS))
    if missing:
        raise UserError(f"{path}: checkpoint lacks {sorted(missing)}")
    return state


def find_resume(run_dir: Path, resume: str | None) -> Path | None:
    """`resume` may be a path, or "auto": the run's latest.pt if it exists."""
    if not resume:
        return None
    if resume == "auto":
        latest = Path(run_dir) / CHECKPOINT_DIR / "latest.pt"
        return latest if latest.is_file() else None
    return Path(resume)


def write_slim_checkpoint(source: str | Path, target: str | Path) -> Path:
    """Copy a checkpoint without its optimiser state and with the network in fp16 (a sixth of the
    size: 5.9 MB for the vgg16 decoder), for carrying a run between machines whose transfers are
    size-limited.  Resuming from it restarts Adam's moments and rounds the weights to fp16 once
    (what a shipped decoder holds anyway); schedule, step, RNG and config carry over exactly."""
    state = load_checkpoint(source)
    state.pop("optimizer", None)
    for key in NETWORK_KEYS:
        if key in state:
            state[key] = {name: t.half() if t.is_floating_point() else t for name, t in state[key].items()}
    target = Path(target)
    atomic_torch_save(state, target)
    return target
