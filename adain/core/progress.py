"""Progress for every command: a tqdm bar on a terminal, plain lines in a log.

Into a file or a pipe a tqdm bar writes one carriage-return update per step (training at ~1 s a
step fills a log with them).  `progress_bar` gives the bar only where stderr is a terminal;
elsewhere a `LineProgress` that writes one plain line every `every` seconds (and one at the end):

    adain stylize: 12/40 images (30 %), 1:05 elapsed, 5.42 s/image, 2:31 left, out_3.jpg

The interval is $ADAIN_PROGRESS_EVERY seconds (default 30).  Both take the tqdm calls the
commands use: update, set_postfix, set_postfix_str, close.
"""

from __future__ import annotations

import os
import sys
import time

DEFAULT_EVERY = 30.0


def is_terminal(stream) -> bool:
    return bool(getattr(stream, "isatty", None)) and stream.isatty()


def progress_bar(total: int | None, desc: str, unit: str = "it", initial: int = 0, disable: bool = False,
                 stream=None, every: float | None = None, **tqdm_options):
    """A tqdm bar on a terminal, else a LineProgress (see the module docstring)."""
    stream = stream or sys.stderr
    if is_terminal(stream) or disable:
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, initial=initial, disable=disable, file=stream, **tqdm_options)
    if every is None:
        every = float(os.environ.get("ADAIN_PROGRESS_EVERY", DEFAULT_EVERY))
    return LineProgress(total, desc, unit, initial, stream, every)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class LineProgress:
    """One plain line every `every` seconds of progress, and one when closed."""

    def __init__(self, total: int | None, desc: str, unit: str = "it", initial: int = 0, stream=None,
                 every: float = DEFAULT_EVERY):
        self.total, self.desc, self.unit, self.every = total, desc, unit, every
        self.n = self.initial = initial
        self.stream = stream or sys.stderr
        self.start = self.last = time.monotonic()
        self.postfix = ""
        self.closed = False

    def update(self, count: int = 1) -> None:
        self.n += count
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._write(now)

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **values) -> None:
        values = {**(ordered_dict or {}), **values}
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        self.postfix = str(text)

    def line(self, now: float | None = None) -> str:
        elapsed = (now if now is not None else time.monotonic()) - self.start
        done = self.n - self.initial
        text = f"{self.desc}: {self.n}"
        if self.total:
            text += f"/{self.total} {self.unit}s ({100 * self.n // self.total} %)"
        else:
            text += f" {self.unit}s"
        text += f", {_clock(elapsed)} elapsed"
        if done > 0:
            per = elapsed / done
            text += f", {per:.2f} s/{self.unit}" if per >= 1 else f", {1 / per:.2f} {self.unit}s/s"
            if self.total:
                text += f", {_clock(per * (self.total - self.n))} left"
        return text + (f", {self.postfix}" if self.postfix else "")

    def _write(self, now: float | None = None) -> None:
        print(self.line(now), file=self.stream, flush=True)

    def close(self) -> None:
        if not self.closed and self.n > self.initial:
            self._write()
        self.closed = True
