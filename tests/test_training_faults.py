"""Training under faults: a resumed run keeps its W&B run and says when optim.lr changes; a full
disk is one line with the last checkpoint intact; SIGKILL mid-step, mid-validation and mid-way
through a checkpoint write loses at most one checkpoint interval, and the resumed run ends
bit-exactly where an uninterrupted one does.

Tiny seeded images (test_training's), the smoke config, fp32 on the CPU."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from adain.train.checkpoint import atomic_torch_save, load_checkpoint
from test_training import ROOT, SMOKE, _config, _train, _write_images


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("fault_data")
    return {
        "data.content": str(_write_images(root / "content", 4, seed=1)),
        "data.style": str(_write_images(root / "style", 3, seed=2)),
        "data.val_content": str(_write_images(root / "val_content", 2, seed=3)),
        "data.val_style": str(_write_images(root / "val_style", 2, seed=4)),
    }


@pytest.mark.slow
def test_resuming_with_a_new_learning_rate_applies_it_and_says_so(tmp_path, folders, capsys):
    run_dir = tmp_path / "run"
    _train(_config(run_dir, folders, "steps=2", "optim.lr=1e-4"))
    capsys.readouterr()
    _train(_config(run_dir, folders, "steps=4", "optim.lr=3e-4", "resume=auto"))
    lines = [line for line in capsys.readouterr().err.splitlines() if "optim.lr" in line]
    assert lines == [f"{run_dir}/checkpoints/latest.pt: optim.lr=0.0003 replaces the checkpoint's base rate 0.0001; "
                     f"the schedule continues from step 2 at the new rate"]
    state = load_checkpoint(run_dir / "checkpoints" / "latest.pt")
    assert state["scheduler"]["base_lrs"] == [3e-4]
    rows = map(json.loads, (run_dir / "metrics.jsonl").open())
    logged = {row["step"]: row["train/lr"] for row in rows if "train/lr" in row}
    decay = state["config"]["optim"]["lr_decay"]
    assert logged[2] == pytest.approx(1e-4 / (1 + decay * 2))
    assert logged[3] == pytest.approx(3e-4 / (1 + decay * 3))
    # the same rate again: silent, and the run continues exactly
    capsys.readouterr()
    _train(_config(run_dir, folders, "steps=5", "optim.lr=3e-4", "resume=auto"))
    assert "optim.lr" not in capsys.readouterr().err


@pytest.mark.slow
def test_a_resumed_chunk_continues_the_same_wandb_run(tmp_path, folders):
    """Offline W&B: each chunk writes a run folder; all carry the run id kept in the checkpoint."""
    pytest.importorskip("wandb")
    run_dir = tmp_path / "run"
    _train(_config(run_dir, folders, "steps=2", "wandb.mode=offline"))
    first = load_checkpoint(run_dir / "checkpoints" / "latest.pt")["wandb_run_id"]
    assert first
    _train(_config(run_dir, folders, "steps=4", "wandb.mode=offline", "resume=auto"))
    assert load_checkpoint(run_dir / "checkpoints" / "latest.pt")["wandb_run_id"] == first
    folders_written = sorted((run_dir / "wandb").glob("offline-run-*"))
    # offline-run-<time>-<id>, and W&B appends -1 when both chunks start within the same second
    assert len(folders_written) == 2
    assert all(re.fullmatch(rf"offline-run-\d{{8}}_\d{{6}}-{first}(-\d+)?", folder.name) for folder in folders_written)
    for folder in folders_written:  # real W&B run files, each with its records
        assert (folder / f"run-{first}.wandb").stat().st_size > 0
    # a checkpoint from before the id was kept still resumes (as a new W&B run)
    state = load_checkpoint(run_dir / "checkpoints" / "latest.pt")
    del state["wandb_run_id"]
    atomic_torch_save(state, run_dir / "checkpoints" / "latest.pt")
    _train(_config(run_dir, folders, "steps=5", "wandb.mode=offline", "resume=auto"))
    second = load_checkpoint(run_dir / "checkpoints" / "latest.pt")["wandb_run_id"]
    assert second and second != first


def test_a_full_disk_is_one_line_and_the_last_checkpoint_survives(tmp_path, folders, monkeypatch, capsys):
    import adain.train.checkpoint

    sys.path.insert(0, str(ROOT))
    import train

    real_save, calls = torch.save, []

    def save(obj, path, *args, **kwargs):  # the writer fails from the second checkpoint on
        calls.append(path)
        if len(calls) > 1:
            Path(path).write_bytes(b"half a checkpoint")  # what a full disk leaves behind
            raise RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing "
                               "file data/3: file write failed\nframe #0: c10::Error")
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(adain.train.checkpoint.torch, "save", save)
    run_dir = tmp_path / "run"
    overrides = [f"{k}={v}" for k, v in folders.items()] + [f"run_dir={run_dir}", "precision=fp32", "steps=4"]
    assert train.main(["--config", str(SMOKE), *overrides]) == 2
    output = capsys.readouterr().err
    assert "\r" not in output  # stderr is not a terminal: plain progress lines, no bar updates
    err = [line for line in output.splitlines() if "error" in line]
    assert len(err) == 1 and err[0].startswith(f"train.py: error: {run_dir}: cannot write")
    assert f"{run_dir}/checkpoints/latest.pt (step 2) is intact" in err[0]
    monkeypatch.setattr(adain.train.checkpoint.torch, "save", real_save)
    assert load_checkpoint(run_dir / "checkpoints" / "latest.pt")["step"] == 2
    assert not list((run_dir / "checkpoints").glob(".*tmp"))  # no half-written file left
    assert train.main(["--config", str(SMOKE), *overrides, "--resume"]) == 0  # and it resumes
    assert load_checkpoint(run_dir / "checkpoints" / "latest.pt")["step"] == 4


def _logged_steps(run_dir: Path) -> list[int]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [row["step"] for row in map(json.loads, path.read_text().splitlines()) if "train/loss" in row]


def _kill_when_paused(command: list[str], point: str, step: int, env: dict, log: Path) -> str:
    """Run train.py through tests/paused_train.py until it reports that it stopped at `point` of
    `step`, then SIGKILL it; returns the line it reported, or its stderr if it ended without
    pausing."""
    read_end, write_end = os.pipe()
    with log.open("w") as stderr:
        process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("paused_train.py")), point,
                                    str(step), str(write_end), *command], cwd=ROOT, env=env, pass_fds=(write_end,),
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    os.close(write_end)
    with os.fdopen(read_end) as reports:
        line = reports.readline()  # blocks until the run pauses, or exits (end of file)
        process.kill()
        process.wait()
    return line or log.read_text()[-2000:]


# (where the run stops, at which step, the step of the last complete checkpoint then): with
# checkpoint_every=2 and val_every=3 the run checkpoints at steps 2, 3 (first validation, an
# improvement), 4, 6 and 8.
KILLS = [("checkpoint_write", 4, 3),  # half of latest.pt written: the rename never happens
         ("validation", 6, 4),  # after a resume from step 3
         ("optimizer_step", 7, 6)]  # gradients computed, weights not yet updated


@pytest.mark.slow
def test_sigkill_at_three_moments_then_resume_is_bit_exact(tmp_path, folders, hed_encoder):
    """A real train.py killed with SIGKILL in the middle of a checkpoint write, during a
    validation and inside a training step, resumed after each, ends with the weights of an
    uninterrupted run bit for bit; each kill leaves the last complete checkpoint readable and
    loses at most one checkpoint interval.  The run stops at each moment and waits to be killed
    (tests/paused_train.py), so the moments do not depend on the machine's speed."""
    steps, every = 8, 2
    extra = [f"steps={steps}", f"checkpoint_every={every}", "val_every=3", "image_every=3", "log_every=1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def train_args(run_dir: Path) -> list[str]:
        overrides = [f"{k}={v}" for k, v in folders.items()] + [f"run_dir={run_dir}", "precision=fp32", *extra]
        return ["--config", str(SMOKE), *overrides, "--resume"]

    # The reference runs in a fresh process too: in this pytest process an earlier test may have
    # changed torch's thread count, and oneDNN's threaded reductions then round Adam's moments
    # differently in the last bits (seen in the full suite).
    straight = subprocess.run([sys.executable, str(ROOT / "train.py"), *train_args(tmp_path / "straight")], cwd=ROOT,
                              env=env, capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr[-2000:]

    run_dir = tmp_path / "killed"
    latest = run_dir / "checkpoints" / "latest.pt"
    for point, step, kept in KILLS:
        reported = _kill_when_paused(train_args(run_dir), point, step, env, tmp_path / f"{point}.log")
        assert reported == f"paused at {point} of step {step}\n"  # killed mid-run, where intended
        assert load_checkpoint(latest)["step"] == kept  # complete and readable
        assert max(_logged_steps(run_dir)) - kept <= every
        if point == "checkpoint_write":  # the killed write left its temporary, not a torn latest.pt
            half_written = list((run_dir / "checkpoints").glob(".latest.pt.*.tmp"))
            assert len(half_written) == 1 and 0 < half_written[0].stat().st_size < latest.stat().st_size
    finished = subprocess.run([sys.executable, str(ROOT / "train.py"), *train_args(run_dir)], cwd=ROOT, env=env,
                              capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))  # the killed write's leftovers are gone

    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    b = load_checkpoint(latest)
    assert a["step"] == b["step"] == steps
    for key in a["decoder"]:
        assert torch.equal(a["decoder"][key], b["decoder"][key]), key
    for index, moments in a["optimizer"]["state"].items():
        for name in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(moments[name], b["optimizer"]["state"][index][name])


def test_stale_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    from adain.train.checkpoint import remove_stale_temporaries

    dead = tmp_path / f".latest.pt.{_exited_pid()}.tmp"
    live = tmp_path / f".latest.pt.{os.getpid()}.tmp"
    kept = tmp_path / "latest.pt"
    for path in (dead, live, kept):
        path.write_bytes(b"x")
    remove_stale_temporaries(tmp_path)
    assert not dead.exists() and live.exists() and kept.exists()


def _exited_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
