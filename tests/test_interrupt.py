"""Ctrl-C / SIGTERM stop a training run after its step, with a checkpoint (adain.train.interrupt)."""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from adain.train.checkpoint import load_checkpoint
from adain.train.config import load_config
from adain.train.interrupt import StopOnSignal
from test_training import image_folders  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "train" / "smoke.yaml"


def _wait_for(condition, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        time.sleep(0.01)
    return condition()


def _pump(stream, lines: queue.Queue) -> None:
    """Every line of `stream` into `lines`, then None at its end (read in a thread, so that the test
    can wait with a deadline)."""
    for line in stream:
        lines.put(line)
    lines.put(None)


def test_the_first_signal_asks_to_stop_the_second_interrupts_and_handlers_come_back():
    before = signal.getsignal(signal.SIGTERM)
    with StopOnSignal() as stop:
        assert stop.requested is None
        os.kill(os.getpid(), signal.SIGTERM)
        assert _wait_for(lambda: stop.requested is not None)
        assert stop.requested == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            _wait_for(lambda: False, seconds=10.0)  # the handler raises in here
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.slow
def test_ctrl_c_stops_a_run_after_its_step_with_a_checkpoint_and_resume_continues(tmp_path, image_folders):  # noqa: F811
    """train.py gets SIGINT mid-run (no periodic checkpoint for 1,000 steps): it finishes the step,
    writes a checkpoint at exactly that step, exits 130 without a traceback; --resume continues there."""
    from adain.train.loop import run

    run_dir = tmp_path / "run"
    common = [f"{k}={v}" for k, v in image_folders.items()] + [
        f"run_dir={run_dir}", "precision=fp32", "checkpoint_every=1000", "val_every=0", "image_every=0", "log_every=1000"]
    overrides = [*common, "steps=100000"]
    env = {**os.environ, "ADAIN_PROGRESS_EVERY": "0", "OMP_NUM_THREADS": "1"}  # a progress line every step
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--config", str(SMOKE), *overrides],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc.stderr, lines), daemon=True)
    reader.start()
    seen = []
    try:
        while True:  # until it has trained a step: a signal before the loop is not ours to handle
            line = lines.get(timeout=600)  # a hang guard only
            assert line is not None, "".join(seen)[-2000:]  # train.py ended before its first step
            seen.append(line)
            if re.search(r"train\.py: [1-9]\d*/100000 steps", line):
                break
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=600)  # a hang guard only
        reader.join(timeout=60)
    finally:
        proc.kill()
    while not lines.empty():
        line = lines.get_nowait()
        if line is not None:
            seen.append(line)
    rest = "".join(seen)
    assert proc.returncode == 128 + signal.SIGINT, rest[-2000:]  # stopped, not finished
    assert "Traceback" not in rest
    stopped = re.search(r"SIGINT received: stopped at step (\d+) with a checkpoint", rest)
    assert stopped, rest[-2000:]
    step = int(stopped.group(1))
    assert 1 <= step < 100000
    assert load_checkpoint(run_dir / "checkpoints" / "latest.pt")["step"] == step
    resumed = run(load_config(SMOKE, [*common, f"steps={step + 1}", "resume=auto"]))
    assert resumed["step"] == step + 1 and "stopped_by" not in resumed
    assert load_checkpoint(run_dir / "checkpoints" / "latest.pt")["step"] == step + 1


def test_a_stage_stopped_by_a_signal_on_its_last_step_does_not_start_the_next(tmp_path, monkeypatch):
    """run_stages stops after a stage that reports `stopped_by`, even with all its steps done:
    neither the next stage nor the export runs."""
    import adain.train.loop
    from adain.train.stages import run_stages

    cfg = load_config(ROOT / "configs" / "train" / "default.yaml", [f"run_dir={tmp_path / 'recipe'}"])
    ran = []

    def fake_run(stage, extras=None):
        ran.append(stage.stage)
        return {"step": stage.steps, "run_dir": stage.run_dir, "stopped_by": "SIGTERM"}

    monkeypatch.setattr(adain.train.loop, "run", fake_run)
    result = run_stages(cfg)
    assert ran == ["reconstruct"] and result["stopped_by"] == "SIGTERM" and "decoder" not in result
