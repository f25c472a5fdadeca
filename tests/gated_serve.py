"""`adain serve` whose first stylisation waits at a gate the test opens (for tests/test_serve_load).

    python tests/gated_serve.py REPORT_FD GATE_FD serve-arguments...

Writes "ready <url>" to REPORT_FD once the server answers, and "running <content file name>"
when the first request reaches the backend; that request then waits until a line arrives on
GATE_FD.  While it waits, the requests sent with it must wait in the queue behind it, however
fast the machine is; the test checks the queue says so, then opens the gate.  Everything else
is `python -m adain serve` unchanged: the same page, queue, backend and settings.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path


def main(argv: list[str]) -> int:
    report_fd, gate_fd, serve_args = int(argv[0]), int(argv[1]), argv[2:]
    from adain import serve
    from adain.cli import main as adain_main
    from adain.serve_jobs import DemoBackend

    run, first = DemoBackend.run, threading.Lock()

    def gated_run(self, job, progress=None):
        if first.acquire(blocking=False):  # the first request only; the lock is never released
            os.write(report_fd, f"running {Path(job.content).name}\n".encode())
            with os.fdopen(gate_fd, closefd=False) as gate:
                gate.readline()
        return run(self, job, progress)

    DemoBackend.run = gated_run
    launch = serve.launch

    def launch_and_report(app, host="127.0.0.1", port=7860, *args, block=True, **kwargs):
        launch(app, host, port, *args, block=False, **kwargs)  # returns once the server answers
        os.write(report_fd, f"ready http://{host}:{port}/\n".encode())
        if block:
            app.block_thread()

    serve.launch = launch_and_report
    return adain_main(["serve", *serve_args])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
