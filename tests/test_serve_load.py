"""The web demo under load: five requests at once to a real `adain serve` (shipped decoder, CPU,
--max-memory 2G) through Gradio's own client, as five browser tabs would send them: four AdaIN
jobs of mixed sizes, one of them a 40 MP upload, and one upload that is not an image.

Checks that the queue reports the others waiting behind a running job, that every request gets
its own answer (the stylised image of the right size, equal to the same job run directly through
adain.cli.serve_jobs; the bad upload its one-line message), and that the server's peak RSS stays
within --max-memory.  The first job waits at a gate until the others are seen waiting
(tests/gated_serve.py), so what is checked does not depend on the machine's speed.

Prints each request's latency (-s shows it); docs/serve.md quotes the figures.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import random_rgb
from gated_serve import GatedServer

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("gradio_client") is None,
                                 reason="gradio_client not installed (bash scripts/setup_env.sh)"),
              pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads peak RSS from Linux's /proc")]

MAX_MEMORY = 2 << 30  # the server's --max-memory: its peak RSS must stay under this
# A hang guard only: the whole load takes about 1 min on a busy 2-core CPU.
HANG_GUARD_S = 1800


@dataclass
class Request:
    name: str  # the uploaded content's file name (distinct per request)
    size: tuple[int, int]  # the upload's (W, H)
    output_side: int  # the page's "Output size": the output's shorter side; 0 keeps the upload's size
    styles: tuple[tuple[str, float], ...] = (("style-a.png", 1.0),)


REQUESTS = [
    Request("photo-40mp.jpg", (8000, 5000), 1024),  # 40.0 MP, the default --max-pixels
    Request("small.png", (300, 200), 128),
    Request("medium.jpg", (1200, 800), 512, (("style-a.png", 0.7), ("style-b.jpg", 0.3))),
    Request("portrait.png", (480, 640), 0),  # full resolution
]
BAD_UPLOAD = "notes.png"  # a text file


def write_uploads(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number, request in enumerate(REQUESTS):
        width, height = request.size
        # The 40 MP photo: a seeded small image upscaled (a 40 MP random_rgb would need 1 GB of float64).
        small = random_rgb(min(width, 800), min(height, 800 * height // width), seed=number)
        small.resize((width, height), Image.Resampling.BICUBIC).save(folder / request.name, quality=90)
    random_rgb(256, 256, seed=10).save(folder / "style-a.png")
    random_rgb(320, 240, seed=11).save(folder / "style-b.jpg", quality=90)
    (folder / BAD_UPLOAD).write_text("a text file, not a picture")


def read_status(pid: int, field: str) -> int:
    """A memory figure of process `pid` in bytes (VmRSS: now; VmHWM: its peak so far)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"/proc/{pid}/status has no {field}")


def stylise_arguments(folder: Path, content: str, output_side: int, styles) -> list:
    """The /stylise endpoint's inputs (adain.cli.serve.build_app's run.click): content, method, α,
    stroke size, Gatys iterations, colour, output size, super-resolution, mask, three style slots, three weights."""
    from gradio_client import handle_file

    slots = [handle_file(str(folder / name)) for name, _ in styles] + [None] * (3 - len(styles))
    weights = [weight for _, weight in styles] + [1.0] * (3 - len(styles))
    return [handle_file(str(folder / content)), "adain", 1.0, 1.0, 100, "none", output_side, 1, None, *slots, *weights]


def references(folder: Path, results: Path) -> dict[str, Image.Image]:
    """Each request's job run directly through adain.cli.serve_jobs, in this process (whose memory
    use is not the server's: the default budget, so that an earlier test's leftovers cannot
    make --max-memory too small here)."""
    from adain.cli.serve_jobs import DemoBackend, Job, ServeSettings

    backend = DemoBackend(ServeSettings(device="cpu", results_dir=results))
    return {r.name: backend.run(Job(str(folder / r.name), [(str(folder / s), w) for s, w in r.styles],
                                    content_size=r.output_side)).image for r in REQUESTS}


def test_concurrent_requests_wait_in_the_queue_and_each_gets_its_own_answer(tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from gradio_client.utils import Status

    uploads = tmp_path / "uploads"
    write_uploads(uploads)
    server = GatedServer(tmp_path / "server" / "serve.log", True, "--device", "cpu",
                         "--max-memory", str(MAX_MEMORY))
    try:
        ready = server.report()
        assert ready.startswith("ready http://"), ready
        idle_rss = read_status(server.process.pid, "VmRSS")
        client = Client(ready.split()[1], verbose=False, download_files=str(tmp_path / "downloads"))

        jobs, sent, answered = {}, {}, {}
        for request in [*REQUESTS, Request(BAD_UPLOAD, (0, 0), 128)]:
            sent[request.name] = time.perf_counter()
            job = client.submit(*stylise_arguments(uploads, request.name, request.output_side, request.styles),
                                api_name="/stylise")
            job.add_done_callback(lambda _, name=request.name: answered.setdefault(name, time.perf_counter()))
            jobs[request.name] = job

        running = server.report().removeprefix("running ")
        assert running in jobs
        waiting = {name: job for name, job in jobs.items() if name != running}
        while not all(job.status().code == Status.IN_QUEUE for job in waiting.values()):
            finished = [name for name, job in waiting.items() if job.done()]
            assert not finished, f"{finished} answered while the gate held {running}: not queued behind it"
            time.sleep(0.05)  # waiting for the uploads and the queue's reports, not deciding anything
        # The queue's own report, as the page shows it ("queue: 3/4"): places 0…3 behind the running job.
        assert jobs[running].status().code in (Status.PROCESSING, Status.PROGRESS)
        assert sorted(job.status().rank for job in waiting.values()) == list(range(len(waiting)))
        gate_opened = time.perf_counter()
        server.open_gate()

        outputs = {}
        for name, job in jobs.items():
            if name == BAD_UPLOAD:
                with pytest.raises(AppError, match=f"content {BAD_UPLOAD}: not an image file"):
                    job.result(timeout=HANG_GUARD_S)
            else:
                image_path, _, note = job.result(timeout=HANG_GUARD_S)  # the output image, the download button
                with Image.open(image_path) as image:
                    outputs[name] = (image.convert("RGB"), note)
        peak_rss = read_status(server.process.pid, "VmHWM")
    finally:
        server.stop()

    expected = references(uploads, tmp_path / "reference")
    rows = []
    for request in REQUESTS:
        image, note = outputs[request.name]
        reference = expected[request.name]
        width, height = request.size
        side = request.output_side or min(width, height)
        assert image.size == reference.size and min(image.size) == side
        assert abs(image.width / image.height - width / height) < 2 / side  # the upload's aspect ratio
        assert note.startswith(f"AdaIN: {image.width}×{image.height} px")
        got, want = (np.asarray(x, np.float64) for x in (image, reference))
        # Tiles differ from the reference's (other budgets, another process's RSS): ~0.3 levels.
        difference = np.abs(got - want).mean()
        assert difference < 2.0, request.name
        content = Image.open(uploads / request.name).convert("RGB").resize(image.size, Image.Resampling.BILINEAR)
        assert np.abs(want - np.asarray(content, np.float64)).mean() > 10  # stylised, not the photo back
        rows.append((request, image.size, answered[request.name] - sent[request.name], note, difference))
    assert peak_rss <= MAX_MEMORY, f"server peak RSS {peak_rss / 2**30:.2f} GiB over --max-memory"

    print(f"\nserver RSS idle {idle_rss / 2**30:.2f} GiB, peak {peak_rss / 2**30:.2f} GiB "
          f"(--max-memory {MAX_MEMORY / 2**30:.1f} GiB); gate opened {gate_opened - min(sent.values()):.1f} s "
          f"after the first request was sent")
    for request, size, latency, note, difference in sorted(rows, key=lambda row: row[2]):
        print(f"{request.name:>15} {request.size[0]}×{request.size[1]} → {size[0]}×{size[1]}: "
              f"answered after {latency:.1f} s ({note}){'; ran first' if request.name == running else ''}; "
              f"mean |Δ| to the direct run {difference:.2f} levels")
