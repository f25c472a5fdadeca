"""Ctrl-C or a scheduler's SIGTERM stops a training run the way its time limit does: the step in
progress finishes, the run validates and writes its checkpoint, and `--resume` continues from
that very step — instead of losing every step since the last periodic checkpoint.

    with StopOnSignal() as stop:
        for step in ...:
            ...
            if stop.requested: break          # after the checkpoint

A second signal interrupts at once (KeyboardInterrupt), for a run that must die now.  Handlers can
be installed only in the main thread; elsewhere (a run started from a worker thread) the signals
keep their usual effect.
"""

from __future__ import annotations

import signal
import sys
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignal:
    def __init__(self, who: str = "train.py"):
        self.who = who
        self.requested: str | None = None  # the name of the first signal received, e.g. "SIGINT"
        self._previous: dict = {}

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
            for sig in STOP_SIGNALS:
                signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        self._restore()

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _handle(self, signum: int, frame) -> None:
        if self.requested is not None:  # the second one: stop now
            self._restore()
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        print(f"{self.who}: {self.requested}: stopping after this step with a checkpoint "
              f"(send it again to stop at once)", file=sys.stderr, flush=True)
