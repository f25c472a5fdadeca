"""Ctrl-C or SIGTERM stops a single-process training run the way its time limit does: the step in
progress finishes, the run validates and writes its checkpoint at that step, and `--resume`
continues from there — instead of losing every step since the last periodic checkpoint.

    with StopOnSignal() as stop:
        for step in ...:
            ...
            if stop.requested: break          # after the checkpoint

A second signal interrupts at once (KeyboardInterrupt), for a run that must die now.  Handlers are
installed only in the main thread of the process that enters (a DataLoader worker forked inside
ignores the signals it inherits; the main process decides).  Not under DDP: torchrun forwards its
own signals to every rank and kills them after a timeout, so there the time limit is the clean stop.
"""

from __future__ import annotations

import os
import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignal:
    def __init__(self, who: str = "train.py", enabled: bool = True):
        self.who = who
        self.enabled = enabled
        self.requested: str | None = None  # the name of the first signal received, e.g. "SIGINT"
        self._previous: dict = {}
        self._pid: int | None = None

    def __enter__(self) -> "StopOnSignal":
        if self.enabled and threading.current_thread() is threading.main_thread():
            self._pid = os.getpid()
            self._previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
            for sig in STOP_SIGNALS:
                signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        self._restore()

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            if handler is not None:  # None: a handler not set from Python, which cannot be put back
                signal.signal(sig, handler)
        self._previous = {}

    def _handle(self, signum: int, frame) -> None:
        if os.getpid() != self._pid:  # a forked DataLoader worker: the main process stops the run
            return
        if self.requested is not None:  # the second one: stop now
            self._restore()
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        # os.write, not print: the signal may land inside a buffered write to stderr (re-entrant print raises)
        os.write(2, f"{self.who}: {self.requested}: stopping after this step with a checkpoint "
                    f"(send it again to stop at once)\n".encode())
