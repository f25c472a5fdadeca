"""`adain serve` that says when it is ready, and whose first stylisation may wait at a gate the
test opens (for tests/test_serve_load and tests/test_serve_browser).

    python tests/gated_serve.py REPORT_FD GATE_FD|none serve-arguments...

Writes "ready <url>" to REPORT_FD once the server answers, so a test starts when the server
does, however long that takes.  With a GATE_FD, it writes "running <content file name>" when
the first request reaches the backend; that request then waits until a line arrives on GATE_FD.
While it waits, the requests sent with it must wait in the queue behind it, however fast the
machine is; the test checks that the queue says so, then opens the gate.  Everything else is
`python -m adain serve` unchanged: the same page, queue, backend and settings.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    report_fd, gate_fd, serve_args = int(argv[0]), None if argv[1] == "none" else int(argv[1]), argv[2:]
    from adain.cli import serve
    from adain.cli.main import main as adain_main
    from adain.cli.serve_jobs import DemoBackend

    run, first = DemoBackend.run, threading.Lock()

    def gated_run(self, job, progress=None):
        if first.acquire(blocking=False):  # the first request only; the lock is never released
            os.write(report_fd, f"running {Path(job.content).name}\n".encode())
            with os.fdopen(gate_fd, closefd=False) as gate:
                gate.readline()
        return run(self, job, progress)

    if gate_fd is not None:
        DemoBackend.run = gated_run
    launch = serve.launch

    def launch_and_report(app, host="127.0.0.1", port=7860, *args, block=True, **kwargs):
        launch(app, host, port, *args, block=False, **kwargs)  # returns once the server answers
        os.write(report_fd, f"ready http://{host}:{port}/\n".encode())
        if block:
            app.block_thread()

    serve.launch = launch_and_report
    return adain_main(["serve", *serve_args])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatedServer:
    """This script in a subprocess, for a test, on a free port: its reports arrive on a pipe, its
    gate (if `gated`) is another; its output goes to `log`."""

    def __init__(self, log: Path, gated: bool, *serve_args: str):
        report_read, report_write = os.pipe()
        gate_read, self._gate = os.pipe() if gated else (None, None)
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GRADIO_TEMP_DIR": str(log.parent / "gradio"), "PYTHONPATH": str(ROOT)}
        with log.open("w") as output:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), str(report_write), str(gate_read) if gated else "none",
                 "--port", str(free_port()), *serve_args],
                cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                pass_fds=(report_write, gate_read) if gated else (report_write,))
        os.close(report_write)
        if gated:
            os.close(gate_read)
        self._reports = os.fdopen(report_read)
        self.log = log

    def report(self, hang_guard_s: float = 1800) -> str:
        """The server's next report; waits until it comes (or the server ends: its log then).
        `hang_guard_s` only ends a wait that would otherwise never end (a request refused before
        it reached the gate sends no report); it decides nothing about speed."""
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(self._reports.readline()), daemon=True)
        reader.start()
        reader.join(hang_guard_s)
        assert lines, f"no report from the server in {hang_guard_s:.0f} s:\n{self.log.read_text()[-3000:]}"
        assert lines[0], f"the server ended:\n{self.log.read_text()[-3000:]}"
        return lines[0].strip()

    def open_gate(self) -> None:
        os.write(self._gate, b"go\n")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self._reports.close()
        if self._gate is not None:
            os.close(self._gate)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
