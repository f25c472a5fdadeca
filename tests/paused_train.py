"""train.py that stops at a chosen moment and waits there to be killed (for tests/test_training_faults).

    python tests/paused_train.py POINT STEP FD train.py-arguments...

POINT is where step STEP of the run stops:

    optimizer_step    after the backward pass, before Adam updates the weights;
    validation        inside the validation that follows the step;
    checkpoint_write  half-way through writing latest.pt: half its bytes are on disk.

On getting there it writes one line, "paused at POINT of step STEP", to the file descriptor FD
(a pipe the test reads) and blocks until the process is killed.  So the test kills at a moment
defined by what the run has done, whatever the machine's speed.  The hooks only watch: a run
that never reaches the point trains exactly as train.py does.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from pathlib import Path

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

ROOT = Path(__file__).resolve().parents[1]
POINTS = ("optimizer_step", "validation", "checkpoint_write")


def main(argv: list[str]) -> int:
    point, step, fd, train_args = argv[0], int(argv[1]), int(argv[2]), argv[3:]
    if point not in POINTS:
        raise SystemExit(f"paused_train.py: point {point!r}: expected one of {', '.join(POINTS)}")

    def pause() -> None:
        os.write(fd, f"paused at {point} of step {step}\n".encode())
        threading.Event().wait()  # until SIGKILL

    # Adam counts its own steps (restored from the checkpoint on resume): the run's step so far.
    completed = {"step": 0}

    def after_optimizer_step(optimizer, args, kwargs) -> None:
        state = next(iter(optimizer.state.values()))
        completed["step"] = int(state["step"])

    register_optimizer_step_post_hook(after_optimizer_step)

    if point == "optimizer_step":
        def before_optimizer_step(optimizer, args, kwargs) -> None:
            state = next(iter(optimizer.state.values()), None)
            if (int(state["step"]) if state else 0) + 1 == step:
                pause()

        register_optimizer_step_pre_hook(before_optimizer_step)
    elif point == "validation":
        from adain.train.loop import ValidationSet

        score = ValidationSet.score

        def paused_score(self, *args, **kwargs):
            if completed["step"] == step:
                pause()
            return score(self, *args, **kwargs)

        ValidationSet.score = paused_score
    else:
        save = torch.save

        def half_save(obj, path, *args, **kwargs):
            # adain.train.checkpoint.atomic_torch_save writes latest.pt through ".latest.pt.<pid>.tmp"
            if isinstance(obj, dict) and obj.get("step") == step and Path(path).name.startswith(".latest.pt."):
                buffer = io.BytesIO()
                save(obj, buffer, *args, **kwargs)
                data = buffer.getvalue()
                with open(path, "wb") as handle:
                    handle.write(data[: len(data) // 2])
                    handle.flush()
                    os.fsync(handle.fileno())
                pause()
            return save(obj, path, *args, **kwargs)

        torch.save = half_save

    sys.path.insert(0, str(ROOT))
    import train

    return train.main(train_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
